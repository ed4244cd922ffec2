// Which stored presses are on the wire awaiting the hub's ack: a bounded, ordered window.
#pragma once

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <vector>

#include "kiosk/firmware/outbox.hpp"
#include "kiosk/firmware/press_logic.hpp"

namespace kiosk::firmware {

// Presses go out in seq order, at most `capacity` unacknowledged at once; a press without an
// ack after the re-send interval is sent again. The interval starts at `timeout` and doubles
// (up to `max_timeout`) after every re-send that no ack has answered: with the broker up and
// the hub down for days, a fleet re-publishing full windows every few seconds only loads the
// broker. Any ack, or a new connection, brings it back to `timeout`. A new connection starts
// over from the lowest stored seq.
class SendWindow {
 public:
  SendWindow(std::size_t capacity, Millis timeout, Millis max_timeout)
      : capacity_(capacity), timeout_(timeout), max_timeout_(std::max(timeout, max_timeout)), interval_(timeout) {}

  void reset();  // on (re)connect: everything unacknowledged is sent again
  std::size_t room() const { return in_flight_.size() < capacity_ ? capacity_ - in_flight_.size() : 0; }
  std::size_t in_flight() const { return in_flight_.size(); }
  std::uint64_t cursor() const { return cursor_; }  // highest seq sent on this connection

  void sent(const StoredPress& press, TimePoint now);
  void acked(std::uint64_t seq);  // the hub answers: the interval is back to `timeout`
  Millis interval() const { return interval_; }  // the current re-send interval
  // Presses whose ack is overdue at `now`, in seq order; they count as sent again at `now`.
  std::vector<StoredPress> overdue(TimePoint now);
  std::optional<TimePoint> next_deadline() const;

 private:
  struct Entry {
    StoredPress press;
    TimePoint sent_at;
  };
  std::size_t capacity_;
  Millis timeout_;
  Millis max_timeout_;
  Millis interval_;
  std::map<std::uint64_t, Entry> in_flight_;
  std::uint64_t cursor_ = 0;
};

}  // namespace kiosk::firmware
