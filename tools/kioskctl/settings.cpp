// Settings resolution: a flag beats the environment, which beats the config file, which beats the default.
// The token: --token, --token-file, $KIOSK_TOKEN_FILE, $KIOSK_TOKEN, then the config file's token_file,
// then its api_token (a manager's settings file from `manager add` is a config file); a config file
// named with --config comes before the environment.
#include "settings.hpp"

#include <boost/json.hpp>

namespace kiosk::ctl {
namespace json = boost::json;

namespace {

std::string first_line(const std::string& text) {
  auto line = text.substr(0, text.find('\n'));
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t')) line.pop_back();
  return line;
}

std::optional<std::string> string_at(const json::object& o, std::string_view key, std::string& error,
                                     const std::string& path) {
  const auto* v = o.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string() || v->get_string().empty()) {
    error = path + ": \"" + std::string(key) + "\" must be a non-empty string; fix the config file";
    return std::nullopt;
  }
  return std::string(v->get_string());
}

}  // namespace

std::variant<Settings, std::string> resolve_settings(const GlobalOptions& globals, const Environment& env,
                                                     const ReadFile& read_file) {
  Settings s;
  // The config file: named explicitly (must exist) or the default place (may be absent).
  std::optional<std::string> config_path = globals.config ? globals.config : env.kioskctl_config;
  bool explicit_config = config_path.has_value();
  if (!config_path && env.home) config_path = *env.home + "/.config/kioskctl.json";
  std::optional<std::string> config_token_file;
  std::optional<std::string> config_token;
  if (config_path) {
    auto text = read_file(*config_path);
    if (!text && explicit_config) return "cannot read config file " + *config_path + "; check the path (--config or $KIOSKCTL_CONFIG)";
    if (text) {
      json::error_code ec;
      auto v = json::parse(*text, ec);
      if (ec || !v.is_object()) return *config_path + " is not a JSON object; write {\"hub\": URL, \"token_file\": F, \"broker\": URL}";
      std::string error;
      const auto& o = v.get_object();
      auto hub = string_at(o, "hub", error, *config_path);
      config_token_file = string_at(o, "token_file", error, *config_path);
      config_token = string_at(o, "api_token", error, *config_path);
      s.broker = string_at(o, "broker", error, *config_path);
      if (!error.empty()) return error;
      if (hub) s.hub = *hub;
    }
  }
  if (globals.hub) s.hub = *globals.hub;

  auto token_from_file = [&](const std::string& path) -> std::optional<std::string> {
    auto text = read_file(path);
    if (!text) return std::nullopt;
    if (!text->empty() && text->front() == '{') {  // a manager's settings file: its api_token
      json::error_code ec;
      auto v = json::parse(*text, ec);
      const auto* t = !ec && v.is_object() ? v.get_object().if_contains("api_token") : nullptr;
      if (!t || !t->is_string() || t->get_string().empty()) return std::nullopt;
      return std::string(t->get_string());
    }
    auto token = first_line(*text);
    if (token.empty()) return std::nullopt;
    return token;
  };
  // The config file's own token: its token_file, else its api_token (a manager's file).
  auto config_file_token = [&]() -> std::variant<std::optional<std::string>, std::string> {
    if (config_token_file) {
      auto t = token_from_file(*config_token_file);
      if (!t) return "cannot read a token from " + *config_token_file + " (token_file in " + *config_path + "); check the path and that you may read it";
      return t;
    }
    return config_token;
  };
  // A config file named with --config is a flag: its token beats the environment's (a manager's
  // file on a technician's machine that has $KIOSK_TOKEN_FILE set acks as the manager).
  const bool config_is_flag = globals.config.has_value() && (config_token_file || config_token);
  if (globals.token) {
    s.token = globals.token;
  } else if (globals.token_file) {
    s.token = token_from_file(*globals.token_file);
    if (!s.token) return "cannot read a token from " + *globals.token_file + "; check the path and that you may read it";
  } else if (!config_is_flag && env.kiosk_token_file && !env.kiosk_token_file->empty()) {
    // A file named in the environment beats a token in it, as the flag --token-file would.
    s.token = token_from_file(*env.kiosk_token_file);
    if (!s.token) return "cannot read a token from " + *env.kiosk_token_file + " ($KIOSK_TOKEN_FILE); check the path and that you may read it";
  } else if (!config_is_flag && env.kiosk_token && !env.kiosk_token->empty()) {
    s.token = env.kiosk_token;
  } else {
    auto t = config_file_token();
    if (auto* error = std::get_if<std::string>(&t)) return *error;
    s.token = std::get<std::optional<std::string>>(t);
  }
  return s;
}

}  // namespace kiosk::ctl
