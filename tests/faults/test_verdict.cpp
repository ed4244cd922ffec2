// The run verdict: a press a terminal accepted is stored exactly once, seqs are contiguous, and the
// stored time stays within the outage-corrected bounds of when the terminal logged it.
#include <catch2/catch.hpp>

#include "verdict.hpp"

using namespace kiosk::faults;

namespace {

DeviceEvidence clean(int presses) {
  DeviceEvidence e;
  e.device = "t-00";
  for (int i = 1; i <= presses; ++i) {
    auto seq = static_cast<std::uint64_t>(i);
    std::int64_t t = 1'800'000'000'000 + i * 100;
    e.logged.push_back({seq, i % 4, i % 4 + 1, t + 5});
    e.stored.push_back({seq, i % 4, i % 4 + 1, t, t + 20});
  }
  return e;
}

}  // namespace

TEST_CASE("every logged press stored once within bounds passes") {
  auto v = judge({clean(10)}, Bounds{});
  CHECK(v.ok);
  CHECK(v.made == 10);
  CHECK(v.stored == 10);
  CHECK(v.missing == 0);
  CHECK(v.duplicated == 0);
  CHECK(v.max_early_ms == 5);
  CHECK(v.max_delivery_ms == 20);
}

TEST_CASE("a run in which no press was made fails") { CHECK_FALSE(judge({DeviceEvidence{"t-00"}}, Bounds{}).ok); }

TEST_CASE("a press the terminal accepted but the hub never stored is missing") {
  auto e = clean(10);
  e.stored.pop_back();
  auto v = judge({e}, Bounds{});
  CHECK_FALSE(v.ok);
  CHECK(v.missing == 1);
  CHECK(v.gaps == 0);  // the hole is at the end: missing, not a gap
}

TEST_CASE("a press stored twice is a duplicate") {
  auto e = clean(10);
  e.stored.push_back(e.stored[3]);
  auto v = judge({e}, Bounds{});
  CHECK_FALSE(v.ok);
  CHECK(v.duplicated == 1);
}

TEST_CASE("a hole in the stored seqs is a gap even if the terminal never logged it") {
  auto e = clean(10);
  e.stored.erase(e.stored.begin() + 4);
  e.logged.erase(e.logged.begin() + 4);
  auto v = judge({e}, Bounds{});
  CHECK_FALSE(v.ok);
  CHECK(v.gaps == 1);
  CHECK(v.missing == 0);
}

TEST_CASE("a seq the terminal handed out twice loses a press") {
  auto e = clean(5);
  auto again = e.logged[2];
  again.button = (again.button + 1) % 4;
  e.logged.push_back(again);
  auto v = judge({e}, Bounds{});
  CHECK_FALSE(v.ok);
  CHECK(v.reused == 1);
  CHECK(v.missing == 1);
}

TEST_CASE("a press stored but never logged is allowed once per kill of the terminal") {
  auto e = clean(5);
  e.logged.pop_back();  // killed between the outbox commit and the log line
  CHECK_FALSE(judge({e}, Bounds{}).ok);
  e.kills = 1;
  auto v = judge({e}, Bounds{});
  CHECK(v.ok);
  CHECK(v.unlogged == 1);
}

TEST_CASE("a stored press with another button than the logged one is a mismatch") {
  auto e = clean(5);
  e.stored[1].rating = 4;
  e.stored[1].button = 3;
  e.logged[1].rating = 1;
  e.logged[1].button = 0;
  auto v = judge({e}, Bounds{});
  CHECK_FALSE(v.ok);
  CHECK(v.mismatched == 1);
}

TEST_CASE("a stored time later than the outage-corrected bound fails, within it passes") {
  auto e = clean(5);
  e.stored[2].pressed_at_ms += 3000;  // e.g. queued at the broker for 3 s while the hub was down
  Bounds tight;
  tight.late_ms = 1000;
  tight.order_slack_ms = 1000;
  auto v = judge({e}, tight);
  CHECK_FALSE(v.ok);
  CHECK(v.out_of_bounds == 1);
  CHECK(v.disorder == 2);  // both later seqs now look earlier than seq 3
  Bounds outage;
  outage.late_ms = 1000 + 3000;
  outage.order_slack_ms = 1000 + 3000;
  CHECK(judge({e}, outage).ok);
}

TEST_CASE("a stored time much earlier than the log line fails") {
  auto e = clean(5);
  e.stored[2].pressed_at_ms -= 10'000;
  auto v = judge({e}, Bounds{});
  CHECK_FALSE(v.ok);
  CHECK(v.out_of_bounds == 1);
  CHECK(v.max_early_ms >= 10'000);
}

TEST_CASE("the firmware's press log line is parsed, other lines are not") {
  LoggedPress p;
  REQUIRE(parse_press_line("info press: seq=1042 button=3 rating=4", p));
  CHECK(p.seq == 1042);
  CHECK(p.button == 3);
  CHECK(p.rating == 4);
  CHECK_FALSE(parse_press_line("info mqtt: connected to tcp://127.0.0.1:1883; 0 presses to send", p));
  CHECK_FALSE(parse_press_line("error outbox: press refused, not stored: disk full", p));
  CHECK_FALSE(parse_press_line("info press: seq= button=1 rating=2", p));
}
