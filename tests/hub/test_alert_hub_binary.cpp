// kiosk-hub --alerts FILE as operators run it: terminals' bad presses through a real mosquitto raise the
// retained alert, a manager's MQTT ack moves it to acked, and the alert API and metrics show it.
#include <catch2/catch.hpp>

#include <fstream>

#include <boost/json.hpp>

#include "hub_under_test.hpp"

using namespace kiosk::test;
namespace json = boost::json;

TEST_CASE("kiosk-hub with --alerts raises the retained alert for a spike and takes a manager's MQTT ack",
          "[integration]") {
  Broker broker;
  broker.start();
  TempDir dir;
  {
    std::ofstream out(dir / "alerts.json");
    out << R"({"detector": {"kind": "naive", "bad": 3, "window_s": 600}})";
  }
  HubUnderTest hub(broker, dir.path(), "test-site", {"--alerts", (dir / "alerts.json").string()});
  hub.start_or_fail();
  hub.register_device("t-1", "front-desk");
  MqttProbe device(broker.url());
  device.connect();
  for (int seq = 1; seq <= 3; ++seq)
    REQUIRE(device.publish(hub.topic("t-1", "press"),
                           R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":1,"scale":4,"age_ms":0})"));

  const std::string topic = "kiosk/v1/test-site/alert/front-desk";
  MqttProbe manager(broker.url());
  manager.connect();
  manager.subscribe(topic);
  auto open = manager.wait_for([&](const Message& m) {
    return m.topic == topic && json::parse(m.payload).at("state").as_string() == "open";
  });
  REQUIRE(open);
  const std::string id(json::parse(open->payload).at("id").as_string());
  REQUIRE(manager.publish(topic + "/ack", R"({"id":")" + id + R"(","by":"alice"})"));
  auto acked = manager.wait_for([&](const Message& m) {
    return m.topic == topic && json::parse(m.payload).at("state").as_string() == "acked";
  });
  REQUIRE(acked);
  CHECK(json::parse(acked->payload).at("acked_by").as_string() == "alice");
  CHECK(hub.get_json("/api/alerts?state=acked").as_array().size() == 1);
  const auto head = http_request(hub.port(), "HEAD", "/api/alerts?state=acked");
  CHECK(head.status == 200);
  CHECK(head.body.empty());
  CHECK(http_get(hub.port(), "/metrics").body.find("kiosk_alerts_acked_total 1") != std::string::npos);
}

TEST_CASE("kiosk-hub refuses an alert settings file with a mistake, saying where, as a settings error", "[integration]") {
  Broker broker;
  broker.start();
  TempDir dir;
  {
    std::ofstream out(dir / "alerts.json");
    out << R"({"detector": {"kind": "magic"}})";
  }
  HubChild hub(broker, dir.path(),
               HubChild::Options{.site = "s", .extra_args = {"--alerts", (dir / "alerts.json").string()}});
  hub.start();  // returns as soon as the hub has exited
  auto status = hub.wait(10s);
  REQUIRE(status);
  CHECK(*status == 2);  // systemd's RestartPreventExitStatus: fix the file, no restart loop
  CHECK(hub.log().find("detector.kind") != std::string::npos);
}
