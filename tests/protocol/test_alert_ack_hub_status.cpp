// Alert acks from managers and the hub's own status.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::outcome;

TEST_CASE("the spec's alert ack parses to the alert id and the manager", "[protocol][alert_ack]") {
  const auto a = parse_alert_ack(R"({"id": "a-000017", "by": "alice"})");
  REQUIRE(a);
  CHECK(a->id == "a-000017");
  CHECK(a->by == "alice");
}

TEST_CASE("an alert ack serializes compactly and parses back equal", "[protocol][alert_ack]") {
  const AlertAck a{"a-1", "night-manager"};
  CHECK(to_json(a) == R"({"id":"a-1","by":"night-manager"})");
  CHECK(*parse_alert_ack(to_json(a)) == a);
}

TEST_CASE("an alert ack needs an id and a manager, both identifiers", "[protocol][alert_ack]") {
  CHECK(outcome(parse_alert_ack(R"({"by":"alice"})")) == "alert_ack.id: is missing");
  CHECK(outcome(parse_alert_ack(R"({"id":"a-1"})")) == "alert_ack.by: is missing");
  CHECK(outcome(parse_alert_ack(R"({"id":"a-1","by":"alice@example.com"})")).rfind("alert_ack.by: \"alice@example.com\" is not a valid identifier", 0) == 0);
  CHECK(outcome(parse_alert_ack(R"({"id":17,"by":"alice"})")) == "alert_ack.id: expected a string, got 17");
  CHECK(outcome(parse_alert_ack("[]")) == "alert_ack: expected a JSON object, got an array");
}

TEST_CASE("hub status is online or offline", "[protocol][hub_status]") {
  CHECK(parse_hub_status(R"({"state":"online"})")->state == DeviceState::online);
  CHECK(parse_hub_status(R"({"state":"offline"})")->state == DeviceState::offline);
  CHECK(to_json(HubStatus{DeviceState::online}) == R"({"state":"online"})");
  CHECK(to_json(HubStatus{}) == R"({"state":"offline"})");
  CHECK(*parse_hub_status(to_json(HubStatus{DeviceState::online})) == HubStatus{DeviceState::online});
}

TEST_CASE("a hub status without a known state is refused", "[protocol][hub_status]") {
  CHECK(outcome(parse_hub_status("{}")) == "hub_status.state: is missing");
  CHECK(outcome(parse_hub_status(R"({"state":"up"})")) == "hub_status.state: \"up\" is not one of online, offline");
  CHECK(outcome(parse_hub_status("online")) == "hub_status: is not valid JSON: syntax error");
}

}  // namespace
}  // namespace kiosk::protocol
