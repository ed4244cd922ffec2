// systemd's service notification protocol (sd_notify, written out: one datagram per message to
// $NOTIFY_SOCKET), so the unit can be Type=notify with a watchdog: "started" means the outbox and
// the inputs are open, and a main loop stuck on a stalled SD card or a hung library is restarted.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace kiosk::firmware {

class ServiceNotifier {
 public:
  using Clock = std::chrono::steady_clock;

  // From $NOTIFY_SOCKET (a path, or "@name" for an abstract socket) and $WATCHDOG_USEC (honoured
  // only when $WATCHDOG_PID is unset or ours). Outside systemd both are unset: every call is a no-op.
  static ServiceNotifier from_environment();
  ServiceNotifier(std::string socket_path, std::optional<std::chrono::microseconds> watchdog);
  ~ServiceNotifier();
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;
  ServiceNotifier(ServiceNotifier&& other) noexcept;
  ServiceNotifier& operator=(ServiceNotifier&&) = delete;

  void ready() { send("READY=1"); }
  void stopping() { send("STOPPING=1"); }
  // "Still alive", at half the watchdog period: call on every pass of the main loop.
  void keep_alive(Clock::time_point now);
  // When the main loop must wake for keep_alive at the latest (none without a watchdog).
  std::optional<Clock::time_point> next_deadline() const;

 private:
  void send(std::string_view message);

  int fd_ = -1;
  std::string socket_path_;
  std::optional<std::chrono::microseconds> watchdog_;
  std::optional<Clock::time_point> next_ping_;
};

}  // namespace kiosk::firmware
