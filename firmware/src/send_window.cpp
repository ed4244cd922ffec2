// Bookkeeping of unacknowledged presses on the wire.
#include "kiosk/firmware/send_window.hpp"

namespace kiosk::firmware {

void SendWindow::reset() {
  in_flight_.clear();
  cursor_ = 0;
}

void SendWindow::sent(const StoredPress& press, TimePoint now) {
  in_flight_[press.press.seq] = Entry{press, now};
  if (press.press.seq > cursor_) cursor_ = press.press.seq;
}

void SendWindow::acked(std::uint64_t seq) { in_flight_.erase(seq); }

std::vector<StoredPress> SendWindow::overdue(TimePoint now) {
  std::vector<StoredPress> out;
  for (auto& [seq, entry] : in_flight_) {
    if (now - entry.sent_at >= timeout_) {
      entry.sent_at = now;
      out.push_back(entry.press);
    }
  }
  return out;
}

std::optional<TimePoint> SendWindow::next_deadline() const {
  std::optional<TimePoint> next;
  for (const auto& [seq, entry] : in_flight_) {
    auto t = entry.sent_at + timeout_;
    if (!next || t < *next) next = t;
  }
  return next;
}

}  // namespace kiosk::firmware
