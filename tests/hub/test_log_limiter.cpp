// Repeated warnings: once per period per key, with how many were held back meanwhile.
#include <catch2/catch.hpp>

#include "kiosk/hub/log_limiter.hpp"

using namespace kiosk::hub;
using namespace std::chrono_literals;

TEST_CASE("a log gate lets the first line through, holds the rest for the period and counts them") {
  LogGate gate(60s);
  const SteadyTime t0{};
  CHECK(gate.allow(t0) == std::optional<std::uint64_t>(0));
  CHECK_FALSE(gate.allow(t0 + 1s));
  CHECK_FALSE(gate.allow(t0 + 59s));
  CHECK(gate.allow(t0 + 60s) == std::optional<std::uint64_t>(2));  // two held back
  CHECK_FALSE(gate.allow(t0 + 61s));
  // The condition ended (a write succeeded): the next failure is said at once, with nothing held.
  gate.reset();
  CHECK(gate.allow(t0 + 62s) == std::optional<std::uint64_t>(0));
}

TEST_CASE("a log limiter keeps a gate per key and stays bounded") {
  LogLimiter<std::string> limiter(1h, 3);
  const SteadyTime t0{};
  CHECK(limiter.allow("d1", t0));
  CHECK(limiter.allow("d2", t0));  // another device: its own gate
  CHECK_FALSE(limiter.allow("d1", t0 + 1s));
  CHECK(limiter.allow("d3", t0 + 2s));
  // A fourth key starts over: d1's gate is forgotten, so d1 may be said once more.
  CHECK(limiter.allow("d4", t0 + 3s));
  CHECK(limiter.allow("d1", t0 + 4s) == std::optional<std::uint64_t>(0));
  CHECK(held_back(0).empty());
  CHECK(held_back(3, "more like it") == " (3 more like it)");
}
