// scheme://host[:port][/path] - the broker, hub and webhook addresses in settings files and flags.
// One parser for all of them, so they accept and refuse the same things (IPv6 in brackets, no
// user:password@, a port in 1..65535).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace kiosk::net {

struct Url {
  std::string scheme;  // lower case as written; "" when the text has no "scheme://"
  std::string host;    // without the brackets of an IPv6 literal
  std::string port;    // digits, or "" when the text names none (the caller knows the default)
  std::string path;    // from the first '/', or ""
};

// nullopt with `error` set (when given) to what is wrong, in words for a settings error message.
std::optional<Url> parse_url(std::string_view text, std::string* error = nullptr);

// What is wrong with `text` as an MQTT broker address for a terminal (tcp://, ssl://, mqtt:// or
// mqtts://, a host, an optional port in 1..65535), in words; nullopt when it is usable.
std::optional<std::string> broker_url_problem(std::string_view text);

}  // namespace kiosk::net
