// libgpiod v1 adapter for buttons.
#include "kiosk/firmware/gpiod_buttons.hpp"

#include <gpiod.hpp>

namespace kiosk::firmware {
namespace {

std::bitset<32> flags_for(const BoardLine& line) {
  std::bitset<32> flags;
  if (line.active_low) flags |= gpiod::line_request::FLAG_ACTIVE_LOW;
  switch (line.bias) {
    case Bias::pull_up: flags |= gpiod::line_request::FLAG_BIAS_PULL_UP; break;
    case Bias::pull_down: flags |= gpiod::line_request::FLAG_BIAS_PULL_DOWN; break;
    case Bias::disable: flags |= gpiod::line_request::FLAG_BIAS_DISABLE; break;
    case Bias::as_is: break;
  }
  return flags;
}

}  // namespace

GpiodButtons::GpiodButtons(const Board& board) : chip_(std::make_unique<gpiod::chip>(board.chip)) {
  for (const auto& b : board.buttons) {
    auto line = chip_->get_line(b.offset);
    line.request({"kiosk-firmware", gpiod::line_request::EVENT_BOTH_EDGES, flags_for(b)});
    fds_.push_back(line.event_get_fd());
    lines_.push_back(line);
  }
}

GpiodButtons::~GpiodButtons() {
  for (auto& line : lines_) {
    if (line.is_requested()) line.release();
  }
}

std::vector<int> GpiodButtons::fds() const { return fds_; }

void GpiodButtons::on_readable(int fd, TimePoint now) {
  for (std::size_t i = 0; i < fds_.size(); ++i) {
    if (fds_[i] != fd) continue;
    auto& line = lines_[i];
    // Drain what the kernel queued; the logical value (active-low applied by libgpiod) is the truth,
    // the edge type alone can mislead when edges were merged.
    while (line.event_wait(std::chrono::nanoseconds(0))) line.event_read();
    edges_.push_back(ButtonEdge{static_cast<int>(i), line.get_value() == 1, now});
  }
}

std::vector<ButtonEdge> GpiodButtons::take(TimePoint) {
  std::vector<ButtonEdge> out;
  out.swap(edges_);
  return out;
}

}  // namespace kiosk::firmware
