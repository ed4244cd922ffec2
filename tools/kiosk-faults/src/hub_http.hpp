// A minimal blocking HTTP/1.1 client for the hub's loopback API (register devices, health, counters).
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace kiosk::faults {

struct HttpReply {
  int status = 0;
  std::string body;
};

// One request with "Connection: close"; nullopt when the hub does not answer within `timeout`.
std::optional<HttpReply> http_request(int port, const std::string& method, const std::string& target,
                                      const std::string& body = {}, const std::string& bearer = {},
                                      std::chrono::milliseconds timeout = std::chrono::seconds(5));

}  // namespace kiosk::faults
