// The simulated-input protocol, pure: text lines -> a schedule of button edges.
#pragma once

#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/firmware/button_input.hpp"
#include "kiosk/protocol/result.hpp"

namespace kiosk::firmware {

// Lines: "press N" (down, up 50 ms later), "down N", "up N", "bounce N" (a burst of edges within a
// few ms, then a stable press). A button's scripted presses never overlap: a new one starts after
// the previous release has had `settle` to become stable, so every scripted press is a press.
class SimScript {
 public:
  static constexpr Millis kHold{50};

  SimScript(int buttons, Millis settle) : buttons_(buttons), settle_(settle), free_at_(static_cast<std::size_t>(buttons)) {}
  void set_settle(Millis settle) { settle_ = settle; }

  // Schedules the edges of one line; an error for unknown commands or buttons.
  std::optional<protocol::Error> line(std::string_view text, TimePoint now);
  std::vector<ButtonEdge> take(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

 private:
  void schedule(int button, bool pressed, TimePoint at);

  int buttons_;
  Millis settle_;
  std::vector<TimePoint> free_at_;  // per button: when its scripted edges end
  std::deque<ButtonEdge> queue_;     // sorted by time
};

}  // namespace kiosk::firmware
