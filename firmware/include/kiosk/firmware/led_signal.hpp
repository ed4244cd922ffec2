// The pure LED core: which light pattern the terminal shows at a given moment.
#pragma once

#include <optional>

#include "kiosk/firmware/press_logic.hpp"

namespace kiosk::firmware {

enum class LedMode {
  idle,     // dark
  thanks,   // solid on for thanks_ms after every accepted press
  refused,  // three fast blinks: the press could not be stored
  offline,  // a short blip every 2 s while the broker is unreachable
};

// Foreground patterns (thanks, refused) play once and win over the offline background.
class LedSignal {
 public:
  static constexpr Millis kBlink{100};          // refused: on/off half period
  static constexpr int kRefusedBlinks = 3;
  static constexpr Millis kOfflinePeriod{2000};
  static constexpr Millis kOfflineBlip{100};

  void thanks(TimePoint now, Millis duration);
  void refused(TimePoint now);
  void set_offline(bool offline, TimePoint now);
  bool offline() const { return offline_; }

  LedMode mode(TimePoint now) const;
  bool lit(TimePoint now) const;
  // The next moment lit() may change, if any.
  std::optional<TimePoint> next_change(TimePoint now) const;

 private:
  LedMode foreground_ = LedMode::idle;
  TimePoint fg_start_{};
  TimePoint fg_end_{};
  bool offline_ = false;
  TimePoint offline_since_{};
};

}  // namespace kiosk::firmware
