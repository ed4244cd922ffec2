// Telemetry: uptime and queue length required; radio, temperature and battery optional with physical ranges.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::outcome;

Result<Telemetry> with(std::string_view extra) {
  return parse_telemetry("{\"uptime_s\":10,\"queued\":2" + std::string(extra) + "}");
}

TEST_CASE("the spec's telemetry example parses with no optional fields", "[protocol][telemetry]") {
  const auto t = parse_telemetry(R"({"uptime_s": 3600, "queued": 0})");
  REQUIRE(t);
  CHECK(t->uptime_s == 3600);
  CHECK(t->queued == 0);
  CHECK_FALSE(t->rssi_dbm);
  CHECK_FALSE(t->temp_c);
  CHECK_FALSE(t->battery_pct);
}

TEST_CASE("telemetry with every field serializes compactly and parses back equal", "[protocol][telemetry]") {
  const Telemetry t{86400, 12, -67, 36.6, 80};
  CHECK(to_json(t) == R"({"uptime_s":86400,"queued":12,"rssi_dbm":-67,"temp_c":36.6,"battery_pct":80})");
  CHECK(*parse_telemetry(to_json(t)) == t);
}

TEST_CASE("uptime_s and queued are required non-negative integers", "[protocol][telemetry]") {
  CHECK(outcome(parse_telemetry(R"({"queued":0})")) == "telemetry.uptime_s: is missing");
  CHECK(outcome(parse_telemetry(R"({"uptime_s":0})")) == "telemetry.queued: is missing");
  CHECK(outcome(parse_telemetry(R"({"uptime_s":-1,"queued":0})")) == "telemetry.uptime_s: -1 is negative");
  CHECK(outcome(parse_telemetry(R"({"uptime_s":0,"queued":-1})")) == "telemetry.queued: -1 is negative");
  CHECK(outcome(parse_telemetry(R"({"uptime_s":"1","queued":0})")) == "telemetry.uptime_s: expected an integer, got the string \"1\"");
  CHECK(parse_telemetry(R"({"uptime_s":18446744073709551615,"queued":0})")->uptime_s == 18446744073709551615ull);
}

TEST_CASE("rssi_dbm is an integer from -150 to 0", "[protocol][telemetry]") {
  CHECK(with(",\"rssi_dbm\":-150")->rssi_dbm == -150);
  CHECK(with(",\"rssi_dbm\":0")->rssi_dbm == 0);
  CHECK(outcome(with(",\"rssi_dbm\":-151")) == "telemetry.rssi_dbm: -151 is outside -150..0");
  CHECK(outcome(with(",\"rssi_dbm\":1")) == "telemetry.rssi_dbm: 1 is outside -150..0");
  CHECK(outcome(with(",\"rssi_dbm\":-9223372036854775808")) == "telemetry.rssi_dbm: -9223372036854775808 is outside -150..0");
}

TEST_CASE("temp_c is any number from -60 to 150", "[protocol][telemetry]") {
  CHECK(with(",\"temp_c\":-60")->temp_c == -60.0);
  CHECK(with(",\"temp_c\":150")->temp_c == 150.0);
  CHECK(with(",\"temp_c\":21.5")->temp_c == 21.5);
  CHECK(with(",\"temp_c\":1.5e2")->temp_c == 150.0);
  CHECK(outcome(with(",\"temp_c\":-60.5")) == "telemetry.temp_c: -60.5 is outside -60..150");
  CHECK(outcome(with(",\"temp_c\":151")) == "telemetry.temp_c: 151 is outside -60..150");
  CHECK(outcome(with(",\"temp_c\":null")) == "telemetry.temp_c: expected a number, got null");
}

TEST_CASE("temp_c is kept to a thousandth of a degree so it survives a round trip", "[protocol][telemetry]") {
  const auto t = with(",\"temp_c\":21.123456789");
  REQUIRE(t);
  CHECK(*t->temp_c == 21.123);
  for (int milli = -60000; milli <= 150000; milli += 7) {
    const auto back = parse_telemetry(to_json(Telemetry{1, 0, {}, milli / 1000.0, {}}));
    REQUIRE(back);
    REQUIRE(*back->temp_c == milli / 1000.0);
  }
}

TEST_CASE("battery_pct is an integer from 0 to 100", "[protocol][telemetry]") {
  CHECK(with(",\"battery_pct\":0")->battery_pct == 0);
  CHECK(with(",\"battery_pct\":100")->battery_pct == 100);
  CHECK(outcome(with(",\"battery_pct\":101")) == "telemetry.battery_pct: 101 is outside 0..100");
  CHECK(outcome(with(",\"battery_pct\":-1")) == "telemetry.battery_pct: -1 is negative (expected 0..100)");
  CHECK(outcome(with(",\"battery_pct\":50.0")) == "telemetry.battery_pct: expected an integer, got 50.0");
}

TEST_CASE("unknown telemetry fields are ignored", "[protocol][telemetry]") {
  const auto t = with(",\"free_heap\":12345,\"wifi\":{\"ssid\":\"x\"}");
  REQUIRE(t);
  CHECK(to_json(*t) == R"({"uptime_s":10,"queued":2})");
}

}  // namespace
}  // namespace kiosk::protocol
