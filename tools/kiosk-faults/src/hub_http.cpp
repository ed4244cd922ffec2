// Plain sockets: the hub answers on 127.0.0.1 and closes after each reply.
#include "hub_http.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>

#include "kiosk/net/loopback.hpp"

namespace kiosk::faults {

std::optional<HttpReply> http_request(int port, const std::string& method, const std::string& target,
                                      const std::string& body, const std::string& bearer,
                                      std::chrono::milliseconds timeout) {
  // A loopback connect completes or is refused at once; the timeouts bound the exchange.
  const int fd = net::connect_loopback(port);
  if (fd < 0) return std::nullopt;
  timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string req = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  if (!bearer.empty()) req += "Authorization: Bearer " + bearer + "\r\n";
  if (!body.empty()) req += "Content-Type: application/json\r\n";
  req += "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body;
  std::size_t sent = 0;
  while (sent < req.size()) {
    ssize_t w = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
    if (w <= 0) {
      ::close(fd);
      return std::nullopt;
    }
    sent += static_cast<std::size_t>(w);
  }
  std::string raw;
  char buf[8192];
  for (;;) {
    ssize_t r = ::recv(fd, buf, sizeof buf, 0);
    if (r <= 0) break;
    raw.append(buf, static_cast<std::size_t>(r));
    // Do not rely on the server closing: stop once the announced body is complete.
    auto head_end = raw.find("\r\n\r\n");
    if (head_end == std::string::npos) continue;
    auto cl = raw.find("Content-Length: ");
    if (cl == std::string::npos) cl = raw.find("content-length: ");
    if (cl != std::string::npos && cl < head_end &&
        raw.size() >= head_end + 4 + std::strtoul(raw.c_str() + cl + 16, nullptr, 10))
      break;
  }
  ::close(fd);
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody"
  if (raw.rfind("HTTP/1.", 0) != 0 || raw.size() < 12) return std::nullopt;
  HttpReply reply;
  reply.status = std::atoi(raw.c_str() + 9);
  auto end = raw.find("\r\n\r\n");
  if (end != std::string::npos) reply.body = raw.substr(end + 4);
  return reply;
}

}  // namespace kiosk::faults
