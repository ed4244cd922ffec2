// Reconnect backoff and the send window, pure.
#include <catch2/catch.hpp>

#include "fake_time.hpp"

#include "kiosk/firmware/backoff.hpp"
#include "kiosk/firmware/press_time.hpp"
#include "kiosk/firmware/send_window.hpp"

using namespace kiosk::firmware;
using namespace std::chrono_literals;

TEST_CASE("reconnect delays grow exponentially with jitter and stay under the cap") {
  Backoff b(500ms, 8s);
  CHECK(b.next(0.0) == 250ms);
  CHECK(b.next(1.0) == 1000ms);
  CHECK(b.next(0.5) == 1500ms);
  CHECK(b.next(0.0) == 2000ms);
  for (int i = 0; i < 100; ++i) {
    auto d = b.next(0.999);
    CHECK(d <= 8s);
    CHECK(d >= 4s);
  }
  b.reset();
  CHECK(b.next(1.0) == 500ms);
}

namespace {
StoredPress stored(std::uint64_t seq) {
  StoredPress s;
  s.press.seq = seq;
  s.press.rating = 1;
  s.press.scale = 4;
  return s;
}
using kiosk::firmware::test::t0;
}  // namespace

TEST_CASE("the send window bounds unacknowledged presses and resends overdue ones in order") {
  SendWindow w(3, 10s);
  w.sent(stored(1), t0);
  w.sent(stored(2), t0 + 1s);
  w.sent(stored(3), t0 + 2s);
  CHECK(w.room() == 0);
  CHECK(w.cursor() == 3);
  w.acked(2);
  CHECK(w.room() == 1);
  CHECK(w.next_deadline() == t0 + 10s);
  CHECK(w.overdue(t0 + 9s).empty());
  auto again = w.overdue(t0 + 12s);
  REQUIRE(again.size() == 2);
  CHECK(again[0].press.seq == 1);
  CHECK(again[1].press.seq == 3);
  CHECK(w.overdue(t0 + 13s).empty());  // counted as sent again at 12 s
  w.reset();
  CHECK(w.cursor() == 0);
  CHECK(w.in_flight() == 0);
}

TEST_CASE("press age uses the boot clock within a boot and the wall clock across boots") {
  PressTime then{"boot-a", 5'000'000'000, 1'000'000};
  CHECK(age_ms(then, PressTime{"boot-a", 7'500'000'000, 999'000}) == 2500);  // wall clock stepped back
  CHECK(age_ms(then, PressTime{"boot-b", 100, 1'060'000}) == 60000);
  CHECK(age_ms(then, PressTime{"boot-b", 100, 900'000}) == 0);  // clock not set yet: never negative
}
