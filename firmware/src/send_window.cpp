// Bookkeeping of unacknowledged presses on the wire.
#include "kiosk/firmware/send_window.hpp"

namespace kiosk::firmware {

void SendWindow::reset() {
  in_flight_.clear();
  cursor_ = 0;
  interval_ = timeout_;
}

void SendWindow::sent(const StoredPress& press, TimePoint now) {
  in_flight_[press.press.seq] = Entry{press, now};
  if (press.press.seq > cursor_) cursor_ = press.press.seq;
}

void SendWindow::acked(std::uint64_t seq) {
  in_flight_.erase(seq);
  interval_ = timeout_;
}

std::vector<StoredPress> SendWindow::overdue(TimePoint now) {
  std::vector<StoredPress> out;
  for (auto& [seq, entry] : in_flight_) {
    if (now - entry.sent_at >= interval_) {
      entry.sent_at = now;
      out.push_back(entry.press);
    }
  }
  if (!out.empty()) interval_ = std::min(interval_ * 2, max_timeout_);
  return out;
}

std::optional<TimePoint> SendWindow::next_deadline() const {
  std::optional<TimePoint> next;
  for (const auto& [seq, entry] : in_flight_) {
    auto t = entry.sent_at + interval_;
    if (!next || t < *next) next = t;
  }
  return next;
}

}  // namespace kiosk::firmware
