// Press core with a fake clock: bounce, lockout, repeat.
#include <catch2/catch.hpp>

#include "fake_time.hpp"

#include "kiosk/firmware/press_logic.hpp"

using namespace kiosk::firmware;
using namespace std::chrono_literals;

namespace {

using kiosk::firmware::test::t0;

PressSettings settings(Millis debounce = 30ms, Millis lockout = 1500ms, Millis repeat = 10000ms) {
  return PressSettings{debounce, lockout, repeat};
}

// A clean press: down at `at`, up `hold` later.
void press(PressDetector& d, int button, TimePoint at, Millis hold = 100ms) {
  d.edge(button, true, at);
  d.edge(button, false, at + hold);
}

}  // namespace

TEST_CASE("a press is accepted once the button has been stable for the debounce time") {
  PressDetector d(4, settings());
  d.edge(2, true, t0);
  CHECK(d.take(t0 + 29ms).empty());
  REQUIRE(d.next_deadline() == t0 + 30ms);
  auto presses = d.take(t0 + 30ms);
  REQUIRE(presses.size() == 1);
  CHECK(presses[0] == AcceptedPress{2, false, t0 + 30ms});
  CHECK(!d.next_deadline());
}

TEST_CASE("contact bounce within the debounce time yields exactly one press") {
  PressDetector d(4, settings());
  // Chatter: down/up/down/up/down 1 ms apart, then held.
  for (int i = 0; i < 5; ++i) d.edge(0, i % 2 == 0, t0 + Millis{i});
  CHECK(d.take(t0 + 20ms).empty());
  auto presses = d.take(t0 + 40ms);
  REQUIRE(presses.size() == 1);
  CHECK(presses[0].at == t0 + 4ms + 30ms);  // stable since the last edge
  // Chatter on release does not make a second press.
  for (int i = 0; i < 5; ++i) d.edge(0, i % 2 == 1, t0 + 100ms + Millis{i});
  CHECK(d.take(t0 + 200ms).empty());
}

TEST_CASE("a glitch shorter than the debounce time is not a press") {
  PressDetector d(4, settings());
  d.edge(1, true, t0);
  d.edge(1, false, t0 + 10ms);
  CHECK(d.take(t0 + 1s).empty());
}

TEST_CASE("holding a button counts once") {
  PressDetector d(4, settings(30ms, 0ms));
  d.edge(1, true, t0);
  CHECK(d.take(t0 + 5s).size() == 1);
  CHECK(d.take(t0 + 10s).empty());
}

TEST_CASE("presses during the lockout are ignored and counted, on any button") {
  PressDetector d(4, settings(30ms, 1500ms));
  press(d, 0, t0);
  press(d, 3, t0 + 500ms);
  press(d, 0, t0 + 1000ms);
  auto presses = d.take(t0 + 1200ms);
  REQUIRE(presses.size() == 1);
  CHECK(presses[0].button == 0);
  CHECK(d.locked_out() == 2);
  // 1.5 s after the accepted press the next guest may press again.
  press(d, 3, t0 + 1500ms);
  presses = d.take(t0 + 2s);
  REQUIRE(presses.size() == 1);
  CHECK(presses[0].button == 3);
}

TEST_CASE("a press within the repeat window after the previous one is flagged repeat") {
  PressDetector d(4, settings(30ms, 1500ms, 10000ms));
  press(d, 0, t0);
  press(d, 1, t0 + 3s);
  press(d, 2, t0 + 3s + 10001ms);
  auto presses = d.take(t0 + 30s);
  REQUIRE(presses.size() == 3);
  CHECK_FALSE(presses[0].repeat);
  CHECK(presses[1].repeat);
  CHECK_FALSE(presses[2].repeat);
}

TEST_CASE("with lockout 0 every clean press is accepted, in the order they settled") {
  PressDetector d(4, settings(1ms, 0ms, 0ms));
  for (int i = 0; i < 100; ++i) press(d, i % 4, t0 + Millis{i * 20}, 10ms);
  auto presses = d.take(t0 + 10s);
  REQUIRE(presses.size() == 100);
  for (int i = 0; i < 100; ++i) {
    CHECK(presses[static_cast<std::size_t>(i)].button == i % 4);
    CHECK_FALSE(presses[static_cast<std::size_t>(i)].repeat);
  }
}

TEST_CASE("settings changed at run time apply to the next press") {
  PressDetector d(2, settings(30ms, 1500ms));
  press(d, 0, t0);
  CHECK(d.take(t0 + 200ms).size() == 1);
  d.set_settings(settings(30ms, 100ms));
  press(d, 1, t0 + 300ms);
  CHECK(d.take(t0 + 500ms).size() == 1);
}

TEST_CASE("edges of a button the board does not have are rejected") {
  PressDetector d(2, settings());
  CHECK_FALSE(d.edge(2, true, t0));
  CHECK_FALSE(d.edge(-1, true, t0));
  CHECK(d.take(t0 + 1s).empty());
}
