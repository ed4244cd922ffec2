// Loopback ports for programs that start their own servers on 127.0.0.1 (tests, benchmarks, the
// fault runner): one free port to bind, one held for a server still starting, and whether
// something already listens on one.
#pragma once

#include <netinet/in.h>

namespace kiosk::net {

// 127.0.0.1:port as the socket calls take it (port 0: any free port, for bind).
sockaddr_in loopback_address(int port);
// A blocking TCP connection to 127.0.0.1:port (close-on-exec); -1 with errno set when refused.
int connect_loopback(int port);

// A port on 127.0.0.1 that nothing was bound to a moment ago; throws std::runtime_error when
// no socket can be made or bound.
int free_tcp_port();

// A free port on 127.0.0.1 held bound (not listening) until release() or destruction. While held,
// the kernel hands it to no other bind(0) (another free_tcp_port) and to no outgoing connection,
// but a server that binds with SO_REUSEADDR (mosquitto, the hub, Asio acceptors) can take it. So
// a test can pick the port, write it into a config, spend seconds preparing, and start the server
// without another test taking the port meanwhile. Release once the server listens.
class PortReservation {
 public:
  PortReservation();  // throws std::runtime_error when no socket can be made or bound
  ~PortReservation();
  PortReservation(PortReservation&& other) noexcept;
  PortReservation& operator=(PortReservation&& other) noexcept;
  PortReservation(const PortReservation&) = delete;
  PortReservation& operator=(const PortReservation&) = delete;

  int port() const { return port_; }
  void release();

 private:
  int fd_ = -1;
  int port_ = 0;
};

// True once something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(int port);

}  // namespace kiosk::net
