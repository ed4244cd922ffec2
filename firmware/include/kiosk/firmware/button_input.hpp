// Where button edges come from: GPIO lines or a simulation, behind one interface.
#pragma once

#include <optional>
#include <vector>

#include "kiosk/firmware/press_logic.hpp"

namespace kiosk::firmware {

struct ButtonEdge {
  int button = 0;
  bool pressed = false;  // logical level: true while the button is held
  TimePoint at{};
};

class ButtonInput {
 public:
  virtual ~ButtonInput() = default;
  // File descriptors to poll for POLLIN.
  virtual std::vector<int> fds() const = 0;
  // Called when `fd` is readable (or with -1 on a timer); reads what is there.
  virtual void on_readable(int fd, TimePoint now) = 0;
  // Edges that are due by `now`, in time order.
  virtual std::vector<ButtonEdge> take(TimePoint now) = 0;
  // When take() has more edges to hand out (scheduled edges of a simulation).
  virtual std::optional<TimePoint> next_deadline() const { return std::nullopt; }
};

}  // namespace kiosk::firmware
