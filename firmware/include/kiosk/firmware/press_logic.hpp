// The pure press core: raw button edges -> debounced, locked-out, repeat-flagged presses.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

namespace kiosk::firmware {

using Clock = std::chrono::steady_clock;
using TimePoint = Clock::time_point;
using Millis = std::chrono::milliseconds;

// Settings that the hub may change at run time (retained config).
struct PressSettings {
  Millis debounce{30};         // a level must hold this long to count
  Millis lockout{1500};        // one press per guest: presses this soon after an accepted one are ignored
  Millis repeat_window{10000}; // an accepted press this soon after the previous one is flagged repeat
  friend bool operator==(const PressSettings&, const PressSettings&) = default;
};

// One button's debouncer: the stable level follows the raw level once it has not changed
// for `debounce`. The stable change is dated at the moment it became stable, not when it
// was noticed, so results do not depend on how promptly the caller polls.
class Debouncer {
 public:
  void edge(bool pressed, TimePoint t);
  // The stable level change due by `now`, if any, with the time it became stable.
  std::optional<std::pair<bool, TimePoint>> settle(TimePoint now, Millis debounce);
  std::optional<TimePoint> deadline(Millis debounce) const;
  bool stable() const { return stable_; }

 private:
  bool raw_ = false;
  bool stable_ = false;
  bool pending_ = false;
  TimePoint changed_{};
};

struct AcceptedPress {
  int button = 0;
  bool repeat = false;
  TimePoint at{};  // when the press became stable (debounce passed)
  friend bool operator==(const AcceptedPress&, const AcceptedPress&) = default;
};

// All buttons of one terminal: debounce each, accept a stable press unless the terminal is
// in its lockout, flag repeats. Feed edges in time order; take() returns accepted presses.
class PressDetector {
 public:
  PressDetector(int buttons, PressSettings settings);

  void set_settings(PressSettings settings) { settings_ = settings; }
  const PressSettings& settings() const { return settings_; }
  int buttons() const { return static_cast<int>(debouncers_.size()); }

  // A raw edge. Returns false (and ignores it) for a button the board does not have.
  bool edge(int button, bool pressed, TimePoint t);
  // Settles every debouncer up to `now` and returns the presses accepted since the last call.
  std::vector<AcceptedPress> take(TimePoint now);
  // When take() should next be called for a pending debounce to settle.
  std::optional<TimePoint> next_deadline() const;

  std::uint64_t locked_out() const { return locked_out_; }  // presses ignored by the lockout

 private:
  void settle_until(TimePoint t);
  void on_stable(int button, bool pressed, TimePoint at);

  PressSettings settings_;
  std::vector<Debouncer> debouncers_;
  std::vector<AcceptedPress> accepted_;
  std::optional<TimePoint> last_accepted_;
  std::uint64_t locked_out_ = 0;
};

}  // namespace kiosk::firmware
