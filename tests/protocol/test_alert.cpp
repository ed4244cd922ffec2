// Alert: the retained state of a location's latest alert, every field checked.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::outcome;

constexpr std::string_view kSpecAlert = R"x({"id": "a-000017", "location": "front-desk", "state": "open",
 "severity": "warning", "since": "2026-11-22T14:03:05.120Z",
 "updated": "2026-11-22T14:03:05.120Z", "bad": 5, "total": 7, "window_s": 600,
 "baseline": 0.12,
 "reason": "5 of the last 7 ratings at Front desk were bad (usual: 12%)"})x";

Alert spec_alert() { return *parse_alert(kSpecAlert); }

// The spec alert with one member replaced (value empty: removed), built by serializing and editing.
std::string alert_with(std::string_view key, std::string_view value) {
  boost::json::object o = boost::json::parse(to_json(spec_alert())).as_object();
  o.erase(key);
  std::string text = boost::json::serialize(o);
  if (!value.empty()) text.insert(text.size() - 1, ",\"" + std::string(key) + "\":" + std::string(value));
  return text;
}

TEST_CASE("the spec's alert example parses to its values", "[protocol][alert]") {
  const auto a = parse_alert(kSpecAlert);
  REQUIRE(a);
  CHECK(a->id == "a-000017");
  CHECK(a->location == "front-desk");
  CHECK(a->state == AlertState::open);
  CHECK(a->severity == Severity::warning);
  CHECK(format_time(a->since) == "2026-11-22T14:03:05.120Z");
  CHECK(a->updated == a->since);
  CHECK(a->bad == 5);
  CHECK(a->total == 7);
  CHECK(a->window_s == 600);
  CHECK(a->baseline == 0.12);
  CHECK(a->reason == "5 of the last 7 ratings at Front desk were bad (usual: 12%)");
  CHECK_FALSE(a->acked_by);
}

TEST_CASE("an alert serializes compactly in field order and parses back equal", "[protocol][alert]") {
  Alert a = spec_alert();
  a.state = AlertState::acked;
  a.acked_by = "alice";
  const std::string json = to_json(a);
  CHECK(json ==
        R"x({"id":"a-000017","location":"front-desk","state":"acked","severity":"warning","since":"2026-11-22T14:03:05.120Z",)x"
        R"x("updated":"2026-11-22T14:03:05.120Z","bad":5,"total":7,"window_s":600,"baseline":0.12,)x"
        R"x("reason":"5 of the last 7 ratings at Front desk were bad (usual: 12%)","acked_by":"alice"})x");
  CHECK(*parse_alert(json) == a);
}

TEST_CASE("every required alert field is reported when missing", "[protocol][alert]") {
  for (const std::string_view field :
       {"id", "location", "state", "severity", "since", "updated", "bad", "total", "window_s", "baseline", "reason"}) {
    INFO(field);
    CHECK(outcome(parse_alert(alert_with(field, ""))) == "alert." + std::string(field) + ": is missing");
  }
  CHECK(parse_alert(alert_with("acked_by", "")));
}

TEST_CASE("alert states and severities have their wire names", "[protocol][alert]") {
  CHECK(parse_alert(alert_with("state", "\"resolved\""))->state == AlertState::resolved);
  CHECK(parse_alert(alert_with("state", "\"acked\""))->state == AlertState::acked);
  CHECK(parse_alert(alert_with("severity", "\"critical\""))->severity == Severity::critical);
  CHECK(outcome(parse_alert(alert_with("state", "\"Open\""))) == "alert.state: \"Open\" is not one of open, acked, resolved");
  CHECK(outcome(parse_alert(alert_with("severity", "\"major\""))) == "alert.severity: \"major\" is not one of warning, critical");
  CHECK(to_string(AlertState::open) == "open");
  CHECK(to_string(AlertState::acked) == "acked");
  CHECK(to_string(AlertState::resolved) == "resolved");
  CHECK(to_string(Severity::warning) == "warning");
  CHECK(to_string(Severity::critical) == "critical");
}

TEST_CASE("alert times are strict wire times and the error names the field", "[protocol][alert]") {
  CHECK(outcome(parse_alert(alert_with("since", "\"2026-11-22T14:03:05.120+01:00\""))) ==
        "alert.since: \"2026-11-22T14:03:05.120+01:00\" is not an RFC 3339 UTC time with milliseconds (YYYY-MM-DDTHH:MM:SS.mmmZ)");
  CHECK(outcome(parse_alert(alert_with("updated", "\"2025-02-29T00:00:00.000Z\""))) ==
        "alert.updated: \"2025-02-29T00:00:00.000Z\" has day 29, outside 01..28 for 2025-02");
  CHECK(outcome(parse_alert(alert_with("updated", "0"))) == "alert.updated: expected a string, got 0");
}

TEST_CASE("alert counts are non-negative and total is at least bad", "[protocol][alert]") {
  CHECK(outcome(parse_alert(alert_with("bad", "-1"))) == "alert.bad: -1 is negative (expected 0..2147483647)");
  CHECK(outcome(parse_alert(alert_with("total", "4"))) == "alert.total: 4 is less than bad (5)");
  CHECK(parse_alert(alert_with("total", "5")));
  CHECK(outcome(parse_alert(alert_with("window_s", "-1"))) == "alert.window_s: -1 is negative (expected 0..2147483647)");
  CHECK(outcome(parse_alert(alert_with("window_s", "600.5"))) == "alert.window_s: expected an integer, got 600.5");
  CHECK(outcome(parse_alert(alert_with("total", "2147483648"))) == "alert.total: 2147483648 is outside 0..2147483647");
  CHECK(parse_alert(alert_with("total", "2147483647"))->total == 2147483647);
}

TEST_CASE("the alert baseline is a share from 0 to 1", "[protocol][alert]") {
  CHECK(parse_alert(alert_with("baseline", "0"))->baseline == 0.0);
  CHECK(parse_alert(alert_with("baseline", "1"))->baseline == 1.0);
  CHECK(parse_alert(alert_with("baseline", "1.0"))->baseline == 1.0);
  CHECK(outcome(parse_alert(alert_with("baseline", "1.000001"))) == "alert.baseline: 1.000001 is outside 0..1");
  CHECK(outcome(parse_alert(alert_with("baseline", "-1e-9"))) == "alert.baseline: -1e-09 is outside 0..1");
  CHECK(outcome(parse_alert(alert_with("baseline", "\"12%\""))) == "alert.baseline: expected a number, got the string \"12%\"");
}

TEST_CASE("the alert reason is 1 to 512 bytes of text", "[protocol][alert]") {
  CHECK(parse_alert(alert_with("reason", "\"" + std::string(512, 'r') + "\"")));
  CHECK(outcome(parse_alert(alert_with("reason", "\"" + std::string(513, 'r') + "\""))) ==
        "alert.reason: is 513 bytes long (expected 1..512 bytes)");
  CHECK(outcome(parse_alert(alert_with("reason", "\"\""))) == "alert.reason: is empty (expected 1..512 bytes)");
  CHECK(parse_alert(alert_with("reason", "\"Caf\\u00e9 \\\"bar\\\"\\n\""))->reason == "Caf\xc3\xa9 \"bar\"\n");
}

TEST_CASE("alert id, location and acked_by are identifiers", "[protocol][alert]") {
  CHECK(outcome(parse_alert(alert_with("id", "\"\""))).rfind("alert.id: \"\" is not a valid identifier", 0) == 0);
  CHECK(outcome(parse_alert(alert_with("location", "\"front_desk\""))).rfind("alert.location: \"front_desk\" is not", 0) == 0);
  CHECK(outcome(parse_alert(alert_with("acked_by", "\"Bob\""))).rfind("alert.acked_by: \"Bob\" is not", 0) == 0);
  CHECK(parse_alert(alert_with("acked_by", "\"bob\""))->acked_by == "bob");
}

TEST_CASE("an alert of more than 8192 bytes is refused", "[protocol][alert]") {
  std::string text = to_json(spec_alert());
  text.insert(1, 8192 - text.size(), ' ');
  CHECK(parse_alert(text));
  text.insert(1, 1, ' ');
  CHECK(outcome(parse_alert(text)) == "alert: 8193 bytes exceeds the 8192-byte limit");
}

}  // namespace
}  // namespace kiosk::protocol
