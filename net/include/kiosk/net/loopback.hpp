// Loopback ports for programs that start their own servers on 127.0.0.1 (tests, benchmarks, the
// fault runner): one free port to bind, and whether something already listens on one.
#pragma once

namespace kiosk::net {

// A port on 127.0.0.1 that nothing was bound to a moment ago; throws std::runtime_error when
// no socket can be made or bound.
int free_tcp_port();
// True once something accepts TCP connections on 127.0.0.1:port.
bool port_accepts(int port);

}  // namespace kiosk::net
