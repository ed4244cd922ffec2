// Buttons on GPIO lines via libgpiod v1: both-edge events, active-low and bias from the board.
#pragma once

#include <chrono>
#include <deque>
#include <memory>
#include <optional>

#include "kiosk/firmware/board.hpp"
#include "kiosk/firmware/button_input.hpp"

namespace gpiod {
class chip;
class line;
}  // namespace gpiod

namespace kiosk::firmware {

// One edge as the kernel queued it: the logical level after it (active-low applied) and its
// timestamp (CLOCK_MONOTONIC since Linux 5.7, the steady clock's own; CLOCK_REALTIME before).
struct LineEvent {
  bool pressed = false;
  std::chrono::nanoseconds timestamp{};
};

// The edges of one button from the events read off its line, for the debouncer (pure).
// - Each edge is dated by the kernel, not by when the loop got to it: a tap whose press and
//   release both wait in the queue while the loop is busy (an SD card's fsync can take longer
//   than a tap) is still a press held for as long as the finger was down. A timestamp that is not
//   on the steady clock (more than 10 s from `now`: an old kernel's wall time) is dated `now`.
// - Times never go back before `not_before` (the button's last edge) or after `now`.
// - The level read now closes the list when the events did not end on it (merged events, or
//   events lost to a queue overflow), so the debouncer always ends on the true level.
std::vector<ButtonEdge> edges_from_events(int button, const std::vector<LineEvent>& events, bool level_now,
                                          TimePoint now, std::optional<TimePoint> not_before);

class GpiodButtons : public ButtonInput {
 public:
  // Requests every button line of the board; throws std::system_error / runtime_error on failure.
  explicit GpiodButtons(const Board& board);
  ~GpiodButtons() override;

  std::vector<int> fds() const override;
  void on_readable(int fd, TimePoint now) override;
  std::vector<ButtonEdge> take(TimePoint now) override;

 private:
  std::unique_ptr<gpiod::chip> chip_;
  std::vector<gpiod::line> lines_;
  std::vector<int> fds_;
  std::vector<std::optional<TimePoint>> last_edge_;  // per button, for edges_from_events
  std::vector<ButtonEdge> edges_;
};

}  // namespace kiosk::firmware
