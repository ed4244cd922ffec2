// kioskctl's command line: the command table, argument parsing and help texts (pure, no I/O).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kiosk::ctl {

struct OptionSpec {
  std::string name;        // without the leading "--"
  std::string value_name;  // empty: a flag without a value
  std::string help;
};

struct CommandSpec {
  std::vector<std::string> path;         // e.g. {"device", "add"}
  std::vector<std::string> positionals;  // required, in order, e.g. {"id"}
  std::vector<OptionSpec> options;
  std::vector<std::string> required;     // option names that must be given
  std::string summary;
  std::string details;                   // extra help paragraph (may be empty)
  bool writes = false;                   // needs the API token
};

// Every command kioskctl knows, in help order.
const std::vector<CommandSpec>& commands();

// Options valid with every command.
struct GlobalOptions {
  std::optional<std::string> hub;         // --hub URL
  std::optional<std::string> token;       // --token T
  std::optional<std::string> token_file;  // --token-file F
  std::optional<std::string> config;      // --config F
  bool json = false;                      // --json
};

struct Invocation {
  enum class Kind { run, help, version, usage_error };
  Kind kind = Kind::usage_error;
  std::string text;  // help text, or the usage error
  const CommandSpec* command = nullptr;
  std::vector<std::string> args;                 // positionals
  std::map<std::string, std::string> options;    // name -> value ("" for flags)
  GlobalOptions globals;

  bool has(const std::string& option) const { return options.count(option) != 0; }
  std::string option_or(const std::string& option, const std::string& fallback) const {
    auto it = options.find(option);
    return it == options.end() ? fallback : it->second;
  }
};

// Parses argv after the program name. Global options may appear before or after the command.
Invocation parse_command_line(const std::vector<std::string>& argv);

std::string top_help();
std::string command_help(const CommandSpec& command);

}  // namespace kiosk::ctl
