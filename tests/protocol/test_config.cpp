// Device config: every field optional (absent = keep current), each with its documented range.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::outcome;

std::string one(std::string_view field, std::string_view value) {
  return "{\"" + std::string(field) + "\":" + std::string(value) + "}";
}

TEST_CASE("an empty config changes nothing", "[protocol][config]") {
  const auto c = parse_device_config("{}");
  REQUIRE(c);
  CHECK(*c == DeviceConfig{});
  CHECK(to_json(DeviceConfig{}) == "{}");
}

TEST_CASE("a full config serializes compactly and parses back equal", "[protocol][config]") {
  const DeviceConfig c{30, 500, 10000, 300, 1500, "front-desk"};
  CHECK(to_json(c) ==
        R"({"debounce_ms":30,"lockout_ms":500,"repeat_window_ms":10000,"telemetry_s":300,"thanks_ms":1500,"location":"front-desk"})");
  CHECK(*parse_device_config(to_json(c)) == c);
}

TEST_CASE("each config duration accepts both ends of its range and refuses one beyond", "[protocol][config]") {
  struct Range {
    std::string_view field;
    std::int64_t min;
    std::int64_t max;
  };
  for (const Range r : {Range{"debounce_ms", 1, 1000}, Range{"lockout_ms", 0, 60000}, Range{"repeat_window_ms", 0, 3600000},
                        Range{"telemetry_s", 5, 86400}, Range{"thanks_ms", 0, 10000}}) {
    INFO(r.field);
    const std::string bounds = std::to_string(r.min) + ".." + std::to_string(r.max);
    CHECK(parse_device_config(one(r.field, std::to_string(r.min))));
    CHECK(parse_device_config(one(r.field, std::to_string(r.max))));
    const std::string above = std::to_string(r.max + 1);
    CHECK(outcome(parse_device_config(one(r.field, above))) ==
          "config." + std::string(r.field) + ": " + above + " is outside " + bounds);
    const std::string below = std::to_string(r.min - 1);
    const std::string expected_below = r.min == 0 ? below + " is negative (expected " + bounds + ")" : below + " is outside " + bounds;
    CHECK(outcome(parse_device_config(one(r.field, below))) == "config." + std::string(r.field) + ": " + expected_below);
  }
}

TEST_CASE("config values land in the matching fields", "[protocol][config]") {
  const auto c = parse_device_config(R"({"debounce_ms":25,"thanks_ms":0})");
  REQUIRE(c);
  CHECK(c->debounce_ms == 25u);
  CHECK(c->thanks_ms == 0u);
  CHECK_FALSE(c->lockout_ms);
  CHECK_FALSE(c->repeat_window_ms);
  CHECK_FALSE(c->telemetry_s);
  CHECK_FALSE(c->location);
}

TEST_CASE("a config duration must be a JSON integer", "[protocol][config]") {
  CHECK(outcome(parse_device_config(one("lockout_ms", "500.0"))) == "config.lockout_ms: expected an integer, got 500.0");
  CHECK(outcome(parse_device_config(one("lockout_ms", "\"500\""))) == "config.lockout_ms: expected an integer, got the string \"500\"");
  CHECK(outcome(parse_device_config(one("telemetry_s", "4294967301"))) == "config.telemetry_s: 4294967301 is outside 5..86400");
}

TEST_CASE("the config location must be an identifier", "[protocol][config]") {
  CHECK(parse_device_config(one("location", "\"front-desk\""))->location == "front-desk");
  CHECK(outcome(parse_device_config(one("location", "\"Front Desk\""))) ==
        "config.location: \"Front Desk\" is not a valid identifier (1-63 of a-z, 0-9, '-', starting with a letter or digit)");
  CHECK(outcome(parse_device_config(one("location", "[]"))) == "config.location: expected a string, got an array");
}

}  // namespace
}  // namespace kiosk::protocol
