// sd_notify without libsystemd: datagrams to $NOTIFY_SOCKET (see service_notify.hpp).
#include "kiosk/firmware/service_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <utility>

namespace kiosk::firmware {

ServiceNotifier ServiceNotifier::from_environment() {
  const char* socket = std::getenv("NOTIFY_SOCKET");
  std::optional<std::chrono::microseconds> watchdog;
  const char* usec = std::getenv("WATCHDOG_USEC");
  const char* pid = std::getenv("WATCHDOG_PID");
  if (usec != nullptr && (pid == nullptr || std::strtoll(pid, nullptr, 10) == ::getpid())) {
    const long long us = std::strtoll(usec, nullptr, 10);
    if (us > 0) watchdog = std::chrono::microseconds(us);
  }
  return ServiceNotifier(socket != nullptr ? socket : "", watchdog);
}

ServiceNotifier::ServiceNotifier(std::string socket_path, std::optional<std::chrono::microseconds> watchdog)
    : socket_path_(std::move(socket_path)), watchdog_(watchdog) {
  if (socket_path_.empty() || socket_path_.size() >= sizeof(sockaddr_un::sun_path)) return;
  fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
}

ServiceNotifier::~ServiceNotifier() {
  if (fd_ >= 0) ::close(fd_);
}

ServiceNotifier::ServiceNotifier(ServiceNotifier&& other) noexcept
    : fd_(std::exchange(other.fd_, -1)),
      socket_path_(std::move(other.socket_path_)),
      watchdog_(other.watchdog_),
      next_ping_(other.next_ping_) {}

void ServiceNotifier::keep_alive(Clock::time_point now) {
  if (!watchdog_ || fd_ < 0) return;
  if (next_ping_ && now < *next_ping_) return;
  send("WATCHDOG=1");
  next_ping_ = now + std::chrono::duration_cast<Clock::duration>(*watchdog_ / 2);
}

std::optional<ServiceNotifier::Clock::time_point> ServiceNotifier::next_deadline() const {
  if (!watchdog_ || fd_ < 0) return std::nullopt;
  return next_ping_;
}

void ServiceNotifier::send(std::string_view message) {
  if (fd_ < 0) return;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, socket_path_.data(), socket_path_.size());
  if (addr.sun_path[0] == '@') addr.sun_path[0] = '\0';  // abstract namespace
  const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_path_.size());
  // Best effort, as sd_notify: systemd gone or the socket full must not stop the terminal.
  (void)::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&addr), len);
}

}  // namespace kiosk::firmware
