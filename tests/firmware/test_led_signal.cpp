// LED patterns with a fake clock: thank-you, refused, offline, and their priorities.
#include <catch2/catch.hpp>

#include "fake_time.hpp"

#include "kiosk/firmware/led_signal.hpp"

using namespace kiosk::firmware;
using namespace std::chrono_literals;

namespace {
using kiosk::firmware::test::t0;
}

TEST_CASE("the LED is dark when nothing happens") {
  LedSignal led;
  CHECK(led.mode(t0) == LedMode::idle);
  CHECK_FALSE(led.lit(t0));
  CHECK(!led.next_change(t0));
}

TEST_CASE("every accepted press lights the thank-you pattern for thanks_ms") {
  LedSignal led;
  led.thanks(t0, 800ms);
  CHECK(led.mode(t0 + 799ms) == LedMode::thanks);
  CHECK(led.lit(t0 + 799ms));
  CHECK(led.next_change(t0) == t0 + 800ms);
  CHECK(led.mode(t0 + 800ms) == LedMode::idle);
  CHECK_FALSE(led.lit(t0 + 800ms));
  // A second press restarts it.
  led.thanks(t0 + 1s, 800ms);
  CHECK(led.lit(t0 + 1700ms));
}

TEST_CASE("a refused press blinks three times fast") {
  LedSignal led;
  led.refused(t0);
  int on_phases = 0;
  bool last = false;
  for (auto t = t0; t < t0 + 1s; t += 10ms) {
    bool lit = led.lit(t);
    if (lit && !last) ++on_phases;
    last = lit;
  }
  CHECK(on_phases == 3);
  CHECK(led.mode(t0 + 599ms) == LedMode::refused);
  CHECK(led.mode(t0 + 600ms) == LedMode::idle);
  CHECK(led.next_change(t0 + 50ms) == t0 + 100ms);
}

TEST_CASE("while the broker is unreachable the LED blips every two seconds") {
  LedSignal led;
  led.set_offline(true, t0);
  CHECK(led.mode(t0) == LedMode::offline);
  CHECK(led.lit(t0 + 50ms));
  CHECK_FALSE(led.lit(t0 + 150ms));
  CHECK(led.lit(t0 + 2050ms));
  CHECK(led.next_change(t0 + 50ms) == t0 + 100ms);
  CHECK(led.next_change(t0 + 150ms) == t0 + 2000ms);
  led.set_offline(false, t0 + 3s);
  CHECK(led.mode(t0 + 3s) == LedMode::idle);
}

TEST_CASE("a press while offline shows thanks, then the offline pattern again") {
  LedSignal led;
  led.set_offline(true, t0);
  led.thanks(t0 + 500ms, 800ms);
  CHECK(led.mode(t0 + 600ms) == LedMode::thanks);
  CHECK(led.lit(t0 + 1200ms));
  CHECK(led.mode(t0 + 1300ms) == LedMode::offline);
}
