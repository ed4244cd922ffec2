// The hub's two clocks, injected: wall time for stored timestamps, steady time for latency and ordering.
#pragma once

#include <chrono>

#include "kiosk/protocol/time.hpp"

namespace kiosk::hub {

using SteadyTime = std::chrono::steady_clock::time_point;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual protocol::WallTime wall_now() const = 0;
  virtual SteadyTime steady_now() const = 0;
};

// The real clocks; the only place core code reaches system_clock/steady_clock.
class SystemClock final : public Clock {
 public:
  protocol::WallTime wall_now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  }
  SteadyTime steady_now() const override { return std::chrono::steady_clock::now(); }
};

// A clock the tests move by hand.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(protocol::WallTime wall = protocol::WallTime{std::chrono::milliseconds{1'800'000'000'000}})
      : wall_(wall) {}
  protocol::WallTime wall_now() const override { return wall_; }
  SteadyTime steady_now() const override { return steady_; }
  void advance(std::chrono::milliseconds d) {
    wall_ += d;
    steady_ += d;
  }
  // The wall clock alone jumps (NTP, a manual fix); steady time does not.
  void step_wall(std::chrono::milliseconds d) { wall_ += d; }

 private:
  protocol::WallTime wall_;
  SteadyTime steady_{};
};

// Wall time that moves only with the steady clock: it starts at the wall clock and then ignores
// the wall clock's steps (NTP on a board without RTC, a manual fix), so durations measured on it -
// detection windows, repeat and escalation timers - stay true. offset() is how far the wall clock
// has stepped away since; times shown to people are converted back with it.
class Timeline {
 public:
  explicit Timeline(const Clock& clock) : clock_(clock), wall_(clock.wall_now()), steady_(clock.steady_now()) {}
  protocol::WallTime now() const {
    return wall_ + std::chrono::duration_cast<std::chrono::milliseconds>(clock_.steady_now() - steady_);
  }
  // How far the wall clock has stepped since the timeline began, as it reads now. Under a second
  // is not a step (reading two clocks a moment apart, NTP's slewing): the offset stays put, so an
  // alert shows the same times each time it is shown.
  std::chrono::milliseconds offset() const {
    const auto read = clock_.wall_now() - now();
    if (std::chrono::abs(read - offset_) >= std::chrono::seconds(1)) offset_ = read;
    return offset_;
  }
  // Moves the timeline forward to `t` if it is behind it (never back): a hub restarted on a board
  // without RTC starts on a stale wall clock, behind the times it stored before. Continuing from
  // them keeps restored timers (escalation, repeat, resolve) from waiting out the clock's error.
  // Returns how far it moved.
  std::chrono::milliseconds not_before(protocol::WallTime t) {
    const auto behind = t - now();
    if (behind.count() <= 0) return std::chrono::milliseconds{0};
    wall_ += behind;
    return behind;
  }

 private:
  const Clock& clock_;
  protocol::WallTime wall_;
  SteadyTime steady_;
  mutable std::chrono::milliseconds offset_{0};
};

inline std::int64_t to_ms(protocol::WallTime t) { return t.time_since_epoch().count(); }
inline protocol::WallTime from_ms(std::int64_t ms) { return protocol::WallTime{std::chrono::milliseconds{ms}}; }

}  // namespace kiosk::hub
