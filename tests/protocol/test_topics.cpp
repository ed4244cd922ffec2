// Topic layout: builders, filters, and parse_topic's answers for every kind and every malformation.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::outcome;

TEST_CASE("device topics are built under the site prefix", "[protocol][topics]") {
  CHECK(site_prefix("venue-1") == "kiosk/v1/venue-1");
  CHECK(device_topic("venue-1", "k-07", TopicKind::press) == "kiosk/v1/venue-1/device/k-07/press");
  CHECK(device_topic("venue-1", "k-07", TopicKind::ack) == "kiosk/v1/venue-1/device/k-07/ack");
  CHECK(device_topic("venue-1", "k-07", TopicKind::status) == "kiosk/v1/venue-1/device/k-07/status");
  CHECK(device_topic("venue-1", "k-07", TopicKind::telemetry) == "kiosk/v1/venue-1/device/k-07/telemetry");
  CHECK(device_topic("venue-1", "k-07", TopicKind::config) == "kiosk/v1/venue-1/device/k-07/config");
}

TEST_CASE("alert, alert ack and hub status topics are built under the site prefix", "[protocol][topics]") {
  CHECK(alert_topic("venue-1", "front-desk") == "kiosk/v1/venue-1/alert/front-desk");
  CHECK(alert_ack_topic("venue-1", "front-desk") == "kiosk/v1/venue-1/alert/front-desk/ack");
  CHECK(hub_status_topic("venue-1") == "kiosk/v1/venue-1/hub/status");
}

TEST_CASE("subscription filters use a single-level wildcard for the device or location", "[protocol][topics]") {
  CHECK(device_filter("s", TopicKind::press) == "kiosk/v1/s/device/+/press");
  CHECK(device_filter("s", TopicKind::status) == "kiosk/v1/s/device/+/status");
  CHECK(alert_filter("s") == "kiosk/v1/s/alert/+");
  CHECK(alert_ack_filter("s") == "kiosk/v1/s/alert/+/ack");
}

TEST_CASE("every built topic parses back to the same kind, site, device and location", "[protocol][topics]") {
  for (const TopicKind kind : {TopicKind::press, TopicKind::ack, TopicKind::status, TopicKind::telemetry, TopicKind::config}) {
    const Topic t{kind, "venue-1", "k-07", ""};
    const auto r = parse_topic(to_topic(t));
    INFO(to_topic(t));
    REQUIRE(r);
    CHECK(*r == t);
  }
  const Topic alert{TopicKind::alert, "venue-1", "", "front-desk"};
  const Topic ack{TopicKind::alert_ack, "venue-1", "", "front-desk"};
  const Topic hub{TopicKind::hub_status, "venue-1", "", ""};
  CHECK(*parse_topic(to_topic(alert)) == alert);
  CHECK(*parse_topic(to_topic(ack)) == ack);
  CHECK(*parse_topic(to_topic(hub)) == hub);
}

TEST_CASE("topic kinds have stable names", "[protocol][topics]") {
  CHECK(to_string(TopicKind::press) == "press");
  CHECK(to_string(TopicKind::telemetry) == "telemetry");
  CHECK(to_string(TopicKind::alert_ack) == "alert_ack");
  CHECK(to_string(TopicKind::hub_status) == "hub_status");
}

TEST_CASE("a topic outside kiosk/v1 is refused with the topic quoted", "[protocol][topics]") {
  CHECK(outcome(parse_topic("kiosk/v2/s/hub/status")) == "topic: \"kiosk/v2/s/hub/status\" does not start with \"kiosk/v1/\"");
  CHECK(outcome(parse_topic("kiosk")) == "topic: \"kiosk\" does not start with \"kiosk/v1/\"");
  CHECK(outcome(parse_topic("")) == "topic: is empty");
  CHECK(parse_topic("$SYS/broker/uptime").error().field == "topic");
}

TEST_CASE("a topic with an invalid site, device or location names which one", "[protocol][topics]") {
  CHECK(outcome(parse_topic("kiosk/v1/Venue/hub/status")).rfind("topic: site \"Venue\" is not a valid identifier", 0) == 0);
  CHECK(outcome(parse_topic("kiosk/v1/v/device/K7/press")).rfind("topic: device \"K7\" is not a valid identifier", 0) == 0);
  CHECK(outcome(parse_topic("kiosk/v1/v/alert/a b")).rfind("topic: location \"a b\" is not a valid identifier", 0) == 0);
}

TEST_CASE("a subscription filter is not a topic", "[protocol][topics]") {
  CHECK_FALSE(parse_topic(device_filter("s", TopicKind::press)));
  CHECK_FALSE(parse_topic(alert_filter("s")));
  CHECK_FALSE(parse_topic("kiosk/v1/s/#"));
  CHECK_FALSE(parse_topic("kiosk/v1/+/hub/status"));
}

TEST_CASE("a device topic with a missing, unknown or extra level is refused", "[protocol][topics]") {
  CHECK(outcome(parse_topic("kiosk/v1/s/device/d")) ==
        "topic: \"kiosk/v1/s/device/d\" has no message kind after the device (expected press, ack, status, telemetry or config)");
  CHECK(outcome(parse_topic("kiosk/v1/s/device/d/alert")) ==
        "topic: \"alert\" is not a device message kind (expected press, ack, status, telemetry or config)");
  CHECK(outcome(parse_topic("kiosk/v1/s/device/d/press/1")) ==
        "topic: \"kiosk/v1/s/device/d/press/1\" has extra levels after \"press\"");
}

TEST_CASE("an alert topic has only an optional ack level after the location", "[protocol][topics]") {
  CHECK(parse_topic("kiosk/v1/s/alert/l")->kind == TopicKind::alert);
  CHECK(parse_topic("kiosk/v1/s/alert/l/ack")->kind == TopicKind::alert_ack);
  CHECK_FALSE(parse_topic("kiosk/v1/s/alert/l/resolve"));
  CHECK_FALSE(parse_topic("kiosk/v1/s/alert/l/ack/x"));
  CHECK_FALSE(parse_topic("kiosk/v1/s/alert"));
}

TEST_CASE("the only hub topic is hub/status", "[protocol][topics]") {
  CHECK(parse_topic("kiosk/v1/s/hub/status")->kind == TopicKind::hub_status);
  CHECK_FALSE(parse_topic("kiosk/v1/s/hub"));
  CHECK_FALSE(parse_topic("kiosk/v1/s/hub/metrics"));
  CHECK_FALSE(parse_topic("kiosk/v1/s/hub/status/x"));
}

}  // namespace
}  // namespace kiosk::protocol
