// Debounce, lockout and repeat rules of the press core; no I/O, time comes from the caller.
#include "kiosk/firmware/press_logic.hpp"

#include <algorithm>

namespace kiosk::firmware {

void Debouncer::edge(bool pressed, TimePoint t) {
  if (pressed == raw_) return;  // a repeated level is not a change (e.g. a lost edge)
  raw_ = pressed;
  changed_ = t;
  pending_ = raw_ != stable_;
}

std::optional<std::pair<bool, TimePoint>> Debouncer::settle(TimePoint now, Millis debounce) {
  if (!pending_ || now < changed_ + debounce) return std::nullopt;
  pending_ = false;
  stable_ = raw_;
  return std::make_pair(stable_, changed_ + debounce);
}

std::optional<TimePoint> Debouncer::deadline(Millis debounce) const {
  if (!pending_) return std::nullopt;
  return changed_ + debounce;
}

PressDetector::PressDetector(int buttons, PressSettings settings)
    : settings_(settings), debouncers_(static_cast<std::size_t>(std::max(buttons, 0))) {}

bool PressDetector::edge(int button, bool pressed, TimePoint t) {
  if (button < 0 || button >= buttons()) return false;
  // Anything that became stable before this edge must be decided first, in time order.
  settle_until(t);
  debouncers_[static_cast<std::size_t>(button)].edge(pressed, t);
  return true;
}

std::vector<AcceptedPress> PressDetector::take(TimePoint now) {
  settle_until(now);
  std::vector<AcceptedPress> out;
  out.swap(accepted_);
  return out;
}

std::optional<TimePoint> PressDetector::next_deadline() const {
  std::optional<TimePoint> next;
  for (const auto& d : debouncers_) {
    auto t = d.deadline(settings_.debounce);
    if (t && (!next || *t < *next)) next = t;
  }
  return next;
}

void PressDetector::settle_until(TimePoint t) {
  // Several buttons may settle in the same interval: handle them in the order they settled.
  for (;;) {
    int first = -1;
    TimePoint first_at{};
    for (std::size_t i = 0; i < debouncers_.size(); ++i) {
      auto d = debouncers_[i].deadline(settings_.debounce);
      if (d && *d <= t && (first < 0 || *d < first_at)) {
        first = static_cast<int>(i);
        first_at = *d;
      }
    }
    if (first < 0) return;
    auto change = debouncers_[static_cast<std::size_t>(first)].settle(t, settings_.debounce);
    if (change) on_stable(first, change->first, change->second);
  }
}

void PressDetector::on_stable(int button, bool pressed, TimePoint at) {
  if (!pressed) return;  // a release ends nothing: the press counted when it went down
  if (last_accepted_ && at - *last_accepted_ < settings_.lockout) {
    ++locked_out_;
    return;
  }
  bool repeat = last_accepted_ && at - *last_accepted_ < settings_.repeat_window;
  last_accepted_ = at;
  accepted_.push_back(AcceptedPress{button, repeat, at});
}

}  // namespace kiosk::firmware
