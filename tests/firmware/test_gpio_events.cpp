// GPIO line events to button edges (pure): kernel timestamps, clamping, and the level read last.
#include <catch2/catch.hpp>

#include "kiosk/firmware/gpiod_buttons.hpp"
#include "kiosk/firmware/press_logic.hpp"

using namespace kiosk::firmware;
using namespace std::chrono_literals;

namespace {

const TimePoint kNow = TimePoint{} + 1000s;

std::chrono::nanoseconds on_steady_clock(TimePoint t) { return t.time_since_epoch(); }

std::vector<AcceptedPress> presses_from(const std::vector<ButtonEdge>& edges, TimePoint now) {
  PressDetector d(4, PressSettings{.debounce = 30ms, .lockout = 1500ms, .repeat_window = 10s});
  for (const auto& e : edges) d.edge(e.button, e.pressed, e.at);
  return d.take(now + 1s);
}

}  // namespace

TEST_CASE("a tap whose press and release both waited in the queue is still a press, at its own time") {
  // Down 300 ms ago, up 200 ms ago: the loop was busy (an SD card fsync) the whole time.
  const std::vector<LineEvent> events{{true, on_steady_clock(kNow - 300ms)}, {false, on_steady_clock(kNow - 200ms)}};
  const auto edges = edges_from_events(2, events, false, kNow, std::nullopt);
  REQUIRE(edges.size() == 2);
  CHECK(edges[0].at == kNow - 300ms);
  CHECK(edges[1].at == kNow - 200ms);
  const auto presses = presses_from(edges, kNow);
  REQUIRE(presses.size() == 1);
  CHECK(presses[0].button == 2);
  CHECK(presses[0].at == kNow - 270ms);  // stable after the 30 ms debounce

  // Dated when the loop got to them (the level alone, as before), the tap is lost.
  CHECK(presses_from({ButtonEdge{2, false, kNow}}, kNow).empty());
}

TEST_CASE("an event stamped by another clock is dated when it was read") {
  // An old kernel stamps events with the wall clock: nowhere near the steady clock.
  const std::vector<LineEvent> events{{true, std::chrono::nanoseconds(1'795'000'000'000'000'000)}};
  const auto edges = edges_from_events(0, events, true, kNow, std::nullopt);
  REQUIRE(edges.size() == 1);
  CHECK(edges[0].at == kNow);
  CHECK(edges[0].pressed);
}

TEST_CASE("the level read now ends the edges when events were merged or lost") {
  // The queue overflowed: only the press was kept, the button is up again now.
  const auto edges = edges_from_events(1, {{true, on_steady_clock(kNow - 100ms)}}, false, kNow, std::nullopt);
  REQUIRE(edges.size() == 2);
  CHECK(edges[1].pressed == false);
  CHECK(edges[1].at == kNow);
  // No events at all but a changed level: one edge, now.
  const auto resync = edges_from_events(1, {}, true, kNow, std::nullopt);
  REQUIRE(resync.size() == 1);
  CHECK(resync[0].pressed);
  // Events that end on the level read: nothing added.
  CHECK(edges_from_events(1, {{true, on_steady_clock(kNow - 5ms)}}, true, kNow, std::nullopt).size() == 1);
}

TEST_CASE("edge times never go back before the button's last edge nor past now") {
  const std::vector<LineEvent> events{{true, on_steady_clock(kNow - 50ms)}, {false, on_steady_clock(kNow + 2s)}};
  const auto edges = edges_from_events(3, events, false, kNow, kNow - 10ms);
  REQUIRE(edges.size() == 2);
  CHECK(edges[0].at == kNow - 10ms);  // not before the last edge handed out
  CHECK(edges[1].at == kNow);         // a timestamp ahead of the loop's own clock is now
}
