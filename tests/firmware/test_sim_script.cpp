// The simulated-input protocol: lines -> timed edges.
#include <catch2/catch.hpp>

#include "fake_time.hpp"

#include "kiosk/firmware/press_logic.hpp"
#include "kiosk/firmware/sim_script.hpp"

using namespace kiosk::firmware;
using namespace std::chrono_literals;

namespace {
using kiosk::firmware::test::t0;
}

TEST_CASE("press N is a down edge now and an up edge 50 ms later") {
  SimScript s(4, 35ms);
  REQUIRE(!s.line("press 2", t0));
  auto edges = s.take(t0);
  REQUIRE(edges.size() == 1);
  CHECK(edges[0].button == 2);
  CHECK(edges[0].pressed);
  CHECK(s.next_deadline() == t0 + 50ms);
  edges = s.take(t0 + 50ms);
  REQUIRE(edges.size() == 1);
  CHECK_FALSE(edges[0].pressed);
}

TEST_CASE("back-to-back presses of one button become separate presses after debounce") {
  SimScript s(4, 35ms);
  PressDetector d(4, PressSettings{30ms, 0ms, 0ms});
  for (int i = 0; i < 10; ++i) REQUIRE(!s.line("press 1\n", t0));
  for (auto t = t0; t < t0 + 2s; t += 1ms) {
    for (const auto& e : s.take(t)) d.edge(e.button, e.pressed, e.at);
  }
  CHECK(d.take(t0 + 2s).size() == 10);
}

TEST_CASE("bounce N makes one press through the debouncer") {
  SimScript s(4, 35ms);
  PressDetector d(4, PressSettings{30ms, 0ms, 0ms});
  REQUIRE(!s.line("bounce 3", t0));
  for (const auto& e : s.take(t0 + 1s)) d.edge(e.button, e.pressed, e.at);
  auto presses = d.take(t0 + 1s);
  REQUIRE(presses.size() == 1);
  CHECK(presses[0].button == 3);
}

TEST_CASE("unknown lines and buttons are errors") {
  SimScript s(4, 35ms);
  CHECK(s.line("jump 1", t0));
  CHECK(s.line("press 4", t0));
  CHECK(s.line("press x", t0));
  CHECK(s.line("press", t0));
  CHECK(!s.line("   ", t0));
  CHECK(!s.line("down 0\r", t0));
  CHECK(!s.line("up 0", t0));
  CHECK(s.take(t0).size() == 2);
}
