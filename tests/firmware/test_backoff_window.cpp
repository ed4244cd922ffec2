// Reconnect backoff, the send window and its re-send backoff, press age rules; pure.
#include <catch2/catch.hpp>

#include "fake_time.hpp"

#include "kiosk/firmware/backoff.hpp"
#include "kiosk/firmware/press_time.hpp"
#include "kiosk/firmware/send_window.hpp"
#include "kiosk/protocol/messages.hpp"

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
  SendWindow w(3, 10s, 10s);
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

TEST_CASE("while no ack arrives the re-send interval doubles up to its cap, and any ack or reconnect resets it") {
  SendWindow w(200, 10s, 300s);
  for (std::uint64_t seq = 1; seq <= 200; ++seq) w.sent(stored(seq), t0);
  // The hub is down: every round re-sends the whole window, each one later than the last.
  TimePoint now = t0;
  std::vector<std::chrono::seconds> gaps;
  for (int round = 0; round < 8; ++round) {
    auto due = *w.next_deadline();
    CHECK(w.overdue(due - 1ms).empty());
    auto again = w.overdue(due);
    CHECK(again.size() == 200);
    gaps.push_back(std::chrono::duration_cast<std::chrono::seconds>(due - now));
    now = due;
  }
  CHECK(gaps == std::vector<std::chrono::seconds>{10s, 20s, 40s, 80s, 160s, 300s, 300s, 300s});
  CHECK(w.interval() == 300s);

  w.acked(1);  // the hub is back
  CHECK(w.interval() == 10s);
  CHECK(w.next_deadline() == now + 10s);
  CHECK(w.overdue(now + 10s).size() == 199);
  CHECK(w.interval() == 20s);

  w.reset();  // a new connection starts over at the base interval
  CHECK(w.interval() == 10s);
  w.sent(stored(2), now);
  CHECK(w.next_deadline() == now + 10s);
}

TEST_CASE("press age uses the boot clock within a boot and a set wall clock across boots") {
  const std::int64_t wall = kPlausibleWallMs + 86'400'000;  // 2026-01-02
  PressTime then{"boot-a", 5'000'000'000, wall};
  CHECK(age_ms(then, PressTime{"boot-a", 7'500'000'000, wall - 1000}) == 2500u);  // wall clock stepped back
  CHECK(age_ms(then, PressTime{"boot-a", 7'500'000'000, 0}) == 2500u);  // the wall clock does not matter
  CHECK(age_ms(then, PressTime{"boot-b", 100, wall + 60'000}) == 60000u);
}

TEST_CASE("a press age across boots is unknown when either wall clock is not set or it runs backwards") {
  const std::int64_t wall = kPlausibleWallMs + 86'400'000;
  PressTime then{"boot-a", 5'000'000'000, wall};
  CHECK_FALSE(age_ms(then, PressTime{"boot-b", 100, 1'060'000}).has_value());  // now: clock not set after boot
  CHECK_FALSE(age_ms(PressTime{"boot-a", 100, 1'000'000}, PressTime{"boot-b", 100, wall}).has_value());  // then
  CHECK_FALSE(age_ms(PressTime{"boot-a", 100, kPlausibleWallMs - 1}, PressTime{"boot-b", 100, wall}).has_value());
  CHECK(age_ms(PressTime{"boot-a", 100, kPlausibleWallMs}, PressTime{"boot-b", 100, wall}) == 86'400'000u);
  CHECK_FALSE(age_ms(then, PressTime{"boot-b", 100, wall - 1}).has_value());  // a press "after" now
  CHECK(age_ms(then, PressTime{"boot-b", 100, wall}) == 0u);
}

TEST_CASE("a press age over the protocol's cap is unknown rather than refused by the hub forever") {
  const std::int64_t wall = kPlausibleWallMs;
  const auto cap = static_cast<std::int64_t>(kiosk::protocol::kMaxPressAgeMs);
  PressTime then{"boot-a", 0, wall};
  CHECK(age_ms(then, PressTime{"boot-b", 0, wall + cap}) == kiosk::protocol::kMaxPressAgeMs);
  CHECK_FALSE(age_ms(then, PressTime{"boot-b", 0, wall + cap + 1}).has_value());
  CHECK(age_ms(then, PressTime{"boot-a", cap * 1'000'000, 0}) == kiosk::protocol::kMaxPressAgeMs);
  CHECK_FALSE(age_ms(then, PressTime{"boot-a", (cap + 1) * 1'000'000, 0}).has_value());
  CHECK(kAgeUnknownFlag == "age-unknown");
}

TEST_CASE("the wall clock counts only when the kernel says it is synchronised, as timedatectl decides") {
  CHECK(wall_clock_synchronized(0, 15'999'999));  // TIME_OK, error under 16 s
  CHECK(wall_clock_synchronized(5, 250'000));     // TIME_ERROR (STA_UNSYNC) is ignored, like systemd
  CHECK_FALSE(wall_clock_synchronized(5, 16'000'000));  // no NTP since boot: maxerror grew to its cap
  CHECK_FALSE(wall_clock_synchronized(0, 16'000'000));
  CHECK_FALSE(wall_clock_synchronized(-1, 0));  // the call failed
}

TEST_CASE("the system press clock reports the wall clock as unknown (0) exactly while it is not synchronised") {
  SystemPressClock clock;
  auto synced = SystemPressClock::synchronized();
  auto t = clock.now();
  // Checked on whichever this machine is; a clock that syncs between the two calls is not expected in a test run.
  if (synced) CHECK(t.wall_ms > 0);
  else CHECK(t.wall_ms == 0);
  CHECK(t.boottime_ns > 0);
  // A press dated by an unsynchronised clock has no age across a reboot, however plausible the clock looks.
  PressTime before_reboot{"boot-a", 1'000, 0};
  CHECK_FALSE(age_ms(before_reboot, PressTime{"boot-b", 2'000, kPlausibleWallMs + 60'000}).has_value());
}
