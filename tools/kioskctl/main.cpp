// kioskctl: provision, place, test, rotate and retire kiosk terminals through the hub's API.
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli.hpp"
#include "commands.hpp"
#include "settings.hpp"

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  // An empty variable counts as unset.
  return v && *v ? std::optional<std::string>(v) : std::nullopt;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kiosk::ctl;
  auto inv = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  switch (inv.kind) {
    case Invocation::Kind::help:
      std::cout << inv.text;
      return 0;
    case Invocation::Kind::version:
      std::cout << "kioskctl " << KIOSK_VERSION << "\n";
      return 0;
    case Invocation::Kind::usage_error:
      if (inv.command) {
        std::string path;
        for (const auto& word : inv.command->path) path += word + " ";
        std::cerr << "kioskctl: " << inv.text << "; see 'kioskctl " << path << "--help'\n";
      } else {
        std::cerr << "kioskctl: " << inv.text << "; see 'kioskctl --help'\n";
      }
      return 2;
    case Invocation::Kind::run:
      break;
  }
  auto settings = resolve_settings(inv.globals, Environment{env("KIOSK_TOKEN"), env("KIOSKCTL_CONFIG"), env("HOME"), env("KIOSK_TOKEN_FILE")}, read_file);
  if (auto* error = std::get_if<std::string>(&settings)) {
    std::cerr << "kioskctl: " << *error << "\n";
    return 1;
  }
  return run_command(inv, std::get<Settings>(settings), std::cout, std::cerr);
}
