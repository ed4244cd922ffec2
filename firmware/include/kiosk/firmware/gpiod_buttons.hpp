// Buttons on GPIO lines via libgpiod v1: both-edge events, active-low and bias from the board.
#pragma once

#include <deque>
#include <memory>

#include "kiosk/firmware/board.hpp"
#include "kiosk/firmware/button_input.hpp"

namespace gpiod {
class chip;
class line;
}  // namespace gpiod

namespace kiosk::firmware {

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
  std::vector<ButtonEdge> edges_;
};

}  // namespace kiosk::firmware
