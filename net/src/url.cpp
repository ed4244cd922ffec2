// URL parsing for broker, hub and webhook addresses (see url.hpp).
#include "kiosk/net/url.hpp"

#include <algorithm>

namespace kiosk::net {

std::optional<Url> parse_url(std::string_view text, std::string* error) {
  auto fail = [&](std::string why) -> std::optional<Url> {
    if (error) *error = std::move(why);
    return std::nullopt;
  };
  Url url;
  if (const auto end = text.find("://"); end != std::string_view::npos) {
    url.scheme = std::string(text.substr(0, end));
    if (url.scheme.empty()) return fail("no scheme before ://");
    text.remove_prefix(end + 3);
  }
  const auto slash = text.find('/');
  std::string_view authority = text.substr(0, slash);
  if (slash != std::string_view::npos) url.path = std::string(text.substr(slash));
  // Secrets belong in credential files, not in addresses that end up in logs.
  if (authority.find('@') != std::string_view::npos) return fail("user or password in the address (not allowed)");
  std::optional<std::string_view> port;
  if (!authority.empty() && authority.front() == '[') {  // [v6]:port
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return fail("unclosed [ in the host");
    url.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (!authority.empty()) {
      if (authority.front() != ':') return fail("unexpected text after ]");
      port = authority.substr(1);
    }
  } else {
    const auto colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return fail("no host");
  if (port) {
    const bool digits = !port->empty() && port->size() <= 5 &&
                        std::all_of(port->begin(), port->end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits || std::stoi(std::string(*port)) < 1 || std::stoi(std::string(*port)) > 65535)
      return fail("port must be a number in 1..65535");
    url.port = std::string(*port);
  }
  return url;
}

std::optional<std::string> broker_url_problem(std::string_view text) {
  const auto quoted = "\"" + std::string(text) + "\"";
  std::string why;
  auto url = parse_url(text, &why);
  if (!url) return quoted + ": " + why;
  if (url->scheme != "tcp" && url->scheme != "ssl" && url->scheme != "mqtt" && url->scheme != "mqtts")
    return quoted + " must start with tcp://, ssl://, mqtt:// or mqtts:// (e.g. tcp://192.168.1.10:1883)";
  if (url->host.empty()) return quoted + " names no host";
  if (!url->path.empty() && url->path != "/") return quoted + " has a path (" + url->path + "); a broker address has none";
  return std::nullopt;
}

}  // namespace kiosk::net
