// Where kioskctl finds the hub, its API token and the devices' broker URL: flags, environment, config file.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <variant>

#include "cli.hpp"

namespace kiosk::ctl {

inline constexpr const char* kDefaultHub = "http://127.0.0.1:8080";

struct Environment {
  std::optional<std::string> kiosk_token;      // $KIOSK_TOKEN
  std::optional<std::string> kioskctl_config;  // $KIOSKCTL_CONFIG
  std::optional<std::string> home;             // $HOME
  std::optional<std::string> kiosk_token_file;  // $KIOSK_TOKEN_FILE
};

// Reads a whole file; nullopt when it does not exist or cannot be read.
using ReadFile = std::function<std::optional<std::string>(const std::string& path)>;

struct Settings {
  std::string hub = kDefaultHub;
  std::optional<std::string> token;
  std::optional<std::string> broker;  // from the config file; device add may override
};

// Settings, or an error line in kioskctl's style ("<what>; <what to do>").
std::variant<Settings, std::string> resolve_settings(const GlobalOptions& globals, const Environment& env,
                                                     const ReadFile& read_file);

}  // namespace kiosk::ctl
