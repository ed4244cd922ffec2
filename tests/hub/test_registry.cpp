// The in-memory registry: lookups for ingest, liveness from status, unprovisioned devices.
#include <catch2/catch.hpp>

#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/registry.hpp"

using namespace kiosk::hub;

TEST_CASE("the registry tells known, unknown and retired devices apart") {
  Registry r;
  DeviceRecord a{.id = "a", .location = "desk"};
  DeviceRecord b{.id = "b", .location = "bar"};
  b.retired = true;
  r.load({{"desk", "Desk"}, {"bar", "Bar"}}, {a, b}, {});
  CHECK(r.lookup("a").standing == Standing::known);
  CHECK(r.lookup("a").location == "desk");
  CHECK(r.lookup("b").standing == Standing::retired);
  CHECK(r.lookup("c").standing == Standing::unknown);
  CHECK(r.devices_at("desk") == 1);
  CHECK(r.devices_at("bar") == 0);
}

TEST_CASE("status messages move liveness and report only real changes") {
  Registry r;
  r.load({}, {DeviceRecord{.id = "a", .location = "desk"}}, {});
  ManualClock clock;
  kiosk::protocol::Status online{kiosk::protocol::DeviceState::online, "0.1.0", "sim", 4};
  CHECK(r.on_status("a", online, clock.wall_now()));
  CHECK_FALSE(r.on_status("a", online, clock.wall_now()));
  CHECK(r.device("a")->fw == "0.1.0");
  CHECK(r.device("a")->buttons == 4);
  CHECK(r.online_count() == 1);
  CHECK(r.on_status("a", kiosk::protocol::Status{}, clock.wall_now()));
  CHECK(r.online_count() == 0);
  CHECK(r.take_dirty_devices().size() == 1);
  CHECK(r.take_dirty_devices().empty());
}

TEST_CASE("unknown devices are counted with first and last time seen") {
  Registry r;
  ManualClock clock;
  auto t0 = clock.wall_now();
  r.note_unknown("x", "unknown_device", t0);
  clock.advance(std::chrono::seconds(5));
  r.note_unknown("x", "unknown_device", clock.wall_now());
  const auto& u = r.unknown_devices().at("x");
  CHECK(u.count == 2);
  CHECK(u.first_seen == t0);
  CHECK(u.last_seen == t0 + std::chrono::seconds(5));
  CHECK(r.take_dirty_unknown().size() == 1);
}
