// Hostile and broken input: every parser answers with an error value, never a crash or an exception.
#include <catch2/catch.hpp>

#include <random>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::outcome;

// Runs every parser on `text` and returns how many accepted it; none may throw.
int accepted_by_any(std::string_view text) {
  int n = 0;
  n += parse_press(text).ok();
  n += parse_ack(text).ok();
  n += parse_status(text).ok();
  n += parse_telemetry(text).ok();
  n += parse_device_config(text).ok();
  n += parse_alert(text).ok();
  n += parse_alert_ack(text).ok();
  n += parse_hub_status(text).ok();
  n += parse_topic(text).ok();
  n += parse_time(text).ok();
  return n;
}

TEST_CASE("invalid UTF-8 inside a JSON string is bad JSON", "[protocol][hostile]") {
  const std::string text = "{\"state\":\"online\",\"fw\":\"\xff\xfe\",\"board\":\"b\",\"buttons\":1}";
  CHECK(outcome(parse_status(text)).rfind("status: is not valid JSON: ", 0) == 0);
}

TEST_CASE("a NUL byte in the input is refused, not truncated at", "[protocol][hostile]") {
  const std::string text("{\"state\":\"online\"}\0garbage", 26);
  CHECK(outcome(parse_hub_status(text)) == "hub_status: is not valid JSON: extra data");
  CHECK_FALSE(parse_topic(std::string_view("kiosk/v1/s/hub/status\0", 22)));
  CHECK_FALSE(parse_time(std::string_view("2026-11-22T14:03:05.120Z\0", 25)));
}

TEST_CASE("deeply nested JSON is refused without exhausting the stack", "[protocol][hostile]") {
  const std::string deep = "{\"x\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  CHECK(outcome(parse_alert(deep.substr(0, 8000))).rfind("alert: is not valid JSON: ", 0) == 0);
  CHECK(outcome(parse_press(deep)) == "press: " + std::to_string(deep.size()) + " bytes exceeds the 1024-byte limit");
}

TEST_CASE("duplicate keys keep the last value", "[protocol][hostile]") {
  const auto p = parse_press(R"({"seq":1,"seq":2,"button":0,"rating":1,"scale":4,"age_ms":0})");
  REQUIRE(p);
  CHECK(p->seq == 2);
}

TEST_CASE("numbers beyond double range are refused as out of range", "[protocol][hostile]") {
  CHECK(outcome(parse_telemetry(R"({"uptime_s":1,"queued":0,"temp_c":-1e400})")) == "telemetry.temp_c: -inf is outside -60..150");
  CHECK(outcome(parse_press(R"({"seq":1e400})")) == "press.seq: expected an integer, got inf");
  CHECK(outcome(parse_press(R"({"seq":-99999999999999999999})")) == "press.seq: is too small for a 64-bit integer (about -1e+20)");
}

TEST_CASE("random bytes never crash a parser", "[protocol][hostile]") {
  std::mt19937 rng(20261122);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<std::size_t> length(0, 300);
  int accepted = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string text(length(rng), '\0');
    for (char& c : text) c = static_cast<char>(byte(rng));
    accepted += accepted_by_any(text);
  }
  CHECK(accepted == 0);
}

TEST_CASE("mutations of valid payloads never crash a parser and valid results round-trip", "[protocol][hostile]") {
  const std::string seeds[] = {
      R"({"seq":1042,"button":0,"rating":1,"scale":4,"age_ms":0,"flags":["repeat"]})",
      R"({"seqs":[1041,1042]})",
      R"({"state":"online","fw":"0.1.0","board":"rpi-zero-2w","buttons":4})",
      R"({"uptime_s":3600,"queued":0,"rssi_dbm":-67,"temp_c":36.6,"battery_pct":80})",
      R"({"debounce_ms":30,"lockout_ms":500,"location":"front-desk"})",
      R"({"id":"a-1","location":"l","state":"open","severity":"warning","since":"2026-11-22T14:03:05.120Z","updated":"2026-11-22T14:03:05.120Z","bad":5,"total":7,"window_s":600,"baseline":0.12,"reason":"r"})",
      R"({"id":"a-1","by":"alice"})",
      "kiosk/v1/s/device/d/press",
      "2026-11-22T14:03:05.120Z"};
  const std::string alphabet = "{}[]\",:0123456789-+.eE tfnul\\/a";
  std::mt19937 rng(7);
  int valid = 0;
  for (const std::string& seed : seeds) {
    for (int i = 0; i < 2000; ++i) {
      std::string text = seed;
      const int edits = 1 + static_cast<int>(rng() % 3);
      for (int e = 0; e < edits && !text.empty(); ++e) {
        const std::size_t at = rng() % text.size();
        const char c = alphabet[rng() % alphabet.size()];
        switch (rng() % 3) {
          case 0: text[at] = c; break;
          case 1: text.insert(at, 1, c); break;
          default: text.erase(at, 1); break;
        }
      }
      if (const auto p = parse_press(text)) {
        ++valid;
        REQUIRE(*parse_press(to_json(*p)) == *p);
      }
      if (const auto a = parse_alert(text)) {
        ++valid;
        REQUIRE(*parse_alert(to_json(*a)) == *a);
      }
      if (const auto t = parse_telemetry(text)) {
        ++valid;
        REQUIRE(*parse_telemetry(to_json(*t)) == *t);
      }
      if (const auto t = parse_topic(text)) {
        ++valid;
        REQUIRE(to_topic(*t) == text);
      }
      if (const auto t = parse_time(text)) {
        ++valid;
        REQUIRE(format_time(*t) == text);
      }
      accepted_by_any(text);
    }
  }
  CHECK(valid > 0);
}

}  // namespace
}  // namespace kiosk::protocol
