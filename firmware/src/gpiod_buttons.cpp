// libgpiod v1 adapter for buttons.
#include "kiosk/firmware/gpiod_buttons.hpp"

#include <gpiod.hpp>

#include <algorithm>

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

std::vector<ButtonEdge> edges_from_events(int button, const std::vector<LineEvent>& events, bool level_now,
                                          TimePoint now, std::optional<TimePoint> not_before) {
  constexpr auto kSameClock = std::chrono::seconds(10);
  std::vector<ButtonEdge> out;
  auto floor = not_before;
  for (const auto& e : events) {
    TimePoint at{std::chrono::duration_cast<TimePoint::duration>(e.timestamp)};
    if (at > now + kSameClock || at < now - kSameClock) at = now;
    at = std::min(at, now);
    if (floor) at = std::max(at, *floor);
    out.push_back(ButtonEdge{button, e.pressed, at});
    floor = at;
  }
  if (out.empty() || out.back().pressed != level_now) out.push_back(ButtonEdge{button, level_now, floor ? std::max(now, *floor) : now});
  return out;
}

GpiodButtons::GpiodButtons(const Board& board) : chip_(std::make_unique<gpiod::chip>(board.chip)) {
  for (const auto& b : board.buttons) {
    auto line = chip_->get_line(b.offset);
    line.request({"kiosk-firmware", gpiod::line_request::EVENT_BOTH_EDGES, flags_for(b)});
    fds_.push_back(line.event_get_fd());
    lines_.push_back(line);
  }
  last_edge_.resize(lines_.size());
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
    // Drain what the kernel queued, each edge with its own time; the value read after it (active-low
    // applied by libgpiod) is the truth the list ends on.
    std::vector<LineEvent> events;
    while (line.event_wait(std::chrono::nanoseconds(0))) {
      const auto e = line.event_read();
      events.push_back(LineEvent{e.event_type == gpiod::line_event::RISING_EDGE, e.timestamp});
    }
    for (const auto& edge : edges_from_events(static_cast<int>(i), events, line.get_value() == 1, now, last_edge_[i])) {
      edges_.push_back(edge);
      last_edge_[i] = edge.at;
    }
  }
}

std::vector<ButtonEdge> GpiodButtons::take(TimePoint) {
  std::vector<ButtonEdge> out;
  out.swap(edges_);
  // Lines are drained one after another; the debouncer wants all buttons' edges in time order.
  std::stable_sort(out.begin(), out.end(), [](const ButtonEdge& a, const ButtonEdge& b) { return a.at < b.at; });
  return out;
}

}  // namespace kiosk::firmware
