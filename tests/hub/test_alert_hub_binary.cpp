// kiosk-hub --alerts FILE as operators run it: terminals' bad presses through a real mosquitto raise the
// retained alert, a manager's MQTT ack moves it to acked, and the alert API and metrics show it.
#include <catch2/catch.hpp>

#include <fstream>

#include <boost/json.hpp>

#include "hub_under_test.hpp"

using namespace kiosk::test;
namespace json = boost::json;

namespace {

// An alert settings file whose detector alerts at 3 bad presses in 10 minutes; its path.
std::string naive_alerts(const fs::path& dir) {
  std::ofstream out(dir / "alerts.json");
  out << R"({"detector": {"kind": "naive", "bad": 3, "window_s": 600}})";
  return (dir / "alerts.json").string();
}

}  // namespace

TEST_CASE("kiosk-hub with --alerts raises the retained alert for a spike and takes a manager's MQTT ack",
          "[integration]") {
  Broker broker;
  broker.start();
  TempDir dir;
  const auto alerts = naive_alerts(dir.path());
  HubUnderTest hub(broker, dir.path(), "test-site", {"--alerts", alerts});
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

namespace {

// kioskctl against `hub` with `args` after the global options: its exit status and its output.
std::pair<int, std::string> run_kioskctl(const fs::path& dir, std::vector<std::string> args, const std::string& log) {
  args.insert(args.begin(), (bin_dir() / "kioskctl").string());
  Child run(args, Child::Options{.env = {}, .log_file = dir / log, .working_dir = {}});
  auto status = run.wait(20s);
  INFO(run.log());
  REQUIRE(status);
  return {*status, run.log()};
}

}  // namespace

TEST_CASE("a manager's own API token reads alerts and acknowledges them as that manager, and does nothing else",
          "[integration]") {
  Broker broker;
  broker.start();
  TempDir dir;
  const auto alerts = naive_alerts(dir.path());
  HubUnderTest hub(broker, dir.path(), "test-site", {"--alerts", alerts, "--open-reads", "off"});
  hub.start_or_fail();
  const std::vector<std::string> as_hub{"--hub", hub.url(), "--token-file", hub.token_file().string()};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  // The technician adds alice (a hub without broker accounts: the API token is all she gets).
  const auto file = dir / "alice.manager.json";
  auto [added, added_out] = run_kioskctl(dir.path(), with(as_hub, {"manager", "add", "alice", "--out", file.string()}), "add.log");
  INFO(added_out);
  REQUIRE(added == 0);
  CHECK_THAT(added_out, Catch::Contains("acknowledges as alice"));
  // Both addresses in her file are this machine's, as --hub was: kioskctl says so.
  CHECK_THAT(added_out, Catch::Contains("which a phone reads as itself") && Catch::Contains("which is this machine"));
  const auto settings = json::parse(slurp(file)).as_object();
  const std::string token(settings.at("api_token").as_string());
  CHECK(settings.at("hub").as_string() == hub.url());

  hub.register_device("t-1", "front-desk");
  MqttProbe device(broker.url());
  device.connect();
  const std::string topic = "kiosk/v1/test-site/alert/front-desk";
  MqttProbe phone(broker.url());
  phone.connect();
  phone.subscribe(topic);
  for (int seq = 1; seq <= 3; ++seq)
    REQUIRE(device.publish(hub.topic("t-1", "press"),
                           R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":1,"scale":4,"age_ms":0})"));
  auto open = phone.wait_for([&](const Message& m) {
    return m.topic == topic && json::parse(m.payload).at("state").as_string() == "open";
  });
  REQUIRE(open);
  const std::string id(json::parse(open->payload).at("id").as_string());

  // Her token reads (reads are closed to anyone without a token here) ...
  CHECK(http_request(hub.port(), "GET", "/api/alerts", "", "").status == 401);
  CHECK(http_request(hub.port(), "GET", "/api/alerts", "", token).status == 200);
  // ... and writes nothing but acks: not a device, not a manager, not another name on an ack.
  auto device_add = http_post(hub.port(), "/api/devices", R"({"id":"t-2","location":"front-desk"})", token);
  CHECK(device_add.status == 403);
  CHECK_THAT(device_add.body, Catch::Contains("a manager's token (alice) may read and acknowledge alerts only"));
  CHECK(http_post(hub.port(), "/api/managers", R"({"id":"mallory"})", token).status == 403);
  CHECK(http_post(hub.port(), "/api/managers/alice/token", "{}", token).status == 403);
  auto as_bob = http_post(hub.port(), "/api/alerts/" + id + "/ack", R"({"by":"bob"})", token);
  CHECK(as_bob.status == 403);
  CHECK_THAT(as_bob.body, Catch::Contains("this is alice's token: it acknowledges as alice only"));
  auto as_technician = [&](const std::string& target) {
    auto r = http_request(hub.port(), "GET", target, "", hub.token());
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  };
  CHECK(as_technician("/api/alerts?state=open").as_array().size() == 1);

  // kioskctl with her file as its config: the ack is hers, with no --by.
  auto [acked, acked_out] = run_kioskctl(dir.path(), {"--config", file.string(), "alerts", "ack", id}, "ack.log");
  INFO(acked_out);
  CHECK(acked == 0);
  auto acked_msg = phone.wait_for([&](const Message& m) {
    return m.topic == topic && json::parse(m.payload).at("state").as_string() == "acked";
  });
  REQUIRE(acked_msg);
  CHECK(json::parse(acked_msg->payload).at("acked_by").as_string() == "alice");
  const auto history = as_technician("/api/alerts/" + id).at("history").as_array();
  CHECK(history.back().at("by").as_string() == "alice");

  // Listed; a new token replaces the old one; removing her ends it.
  auto [listed, list_out] = run_kioskctl(dir.path(), with(as_hub, {"manager", "list"}), "list.log");
  INFO(list_out);
  CHECK(listed == 0);
  CHECK_THAT(list_out, Catch::Contains("ID     BROKER ACCOUNT  API TOKEN\nalice  no              yes\n") &&
                           Catch::Contains("the broker has no per-client accounts"));
  // Terminals and managers share names: no terminal may take hers.
  auto taken = http_post(hub.port(), "/api/devices", R"({"id":"alice","location":"front-desk"})", hub.token());
  CHECK(taken.status == 409);
  CHECK_THAT(taken.body, Catch::Contains("alice is a manager"));
  // A file that is not hers (a terminal's config) is left alone, and the hub is not asked.
  const auto terminal_file = dir / "t-1.json";
  const std::string terminal_config = R"({"site":"test-site","device":"t-1","broker":"tcp://127.0.0.1:1883"})";
  {
    std::ofstream out(terminal_file);
    out << terminal_config;
  }
  auto [wrong, wrong_out] =
      run_kioskctl(dir.path(), with(as_hub, {"manager", "token", "alice", "--out", terminal_file.string()}), "wrong.log");
  CHECK(wrong == 1);
  CHECK_THAT(wrong_out, Catch::Contains("is not manager alice's settings file"));
  CHECK(slurp(terminal_file) == terminal_config);
  CHECK(http_request(hub.port(), "GET", "/api/alerts", "", token).status == 200);

  // Streams opened with a token end when it is taken back; others go on.
  EventStreamClient hers(hub.port(), token);
  EventStreamClient technicians(hub.port(), hub.token());
  REQUIRE(hers.wait_for("kiosk-hub events", 5s));
  REQUIRE(technicians.wait_for("kiosk-hub events", 5s));
  auto [renewed, renewed_out] =
      run_kioskctl(dir.path(), with(as_hub, {"manager", "token", "alice", "--out", file.string()}), "token.log");
  CHECK(hers.wait_closed(5s));
  hub.register_device("t-2", "front-desk");
  CHECK(technicians.wait_for("t-2", 5s));
  INFO(renewed_out);
  CHECK(renewed == 0);
  const auto renewed_settings = json::parse(slurp(file)).as_object();
  const std::string new_token(renewed_settings.at("api_token").as_string());
  CHECK(new_token != token);
  CHECK(renewed_settings.at("hub").as_string() == hub.url());
  CHECK(http_request(hub.port(), "GET", "/api/alerts", "", token).status == 401);
  CHECK(http_request(hub.port(), "GET", "/api/alerts", "", new_token).status == 200);
  CHECK_THAT(renewed_out, Catch::Contains("the one before no longer works"));
  EventStreamClient hers_again(hub.port(), new_token);
  REQUIRE(hers_again.wait_for("kiosk-hub events", 5s));
  CHECK(run_kioskctl(dir.path(), with(as_hub, {"manager", "remove", "alice"}), "remove.log").first == 0);
  CHECK(hers_again.wait_closed(5s));
  CHECK(http_request(hub.port(), "GET", "/api/alerts", "", new_token).status == 401);
  auto [again, again_out] = run_kioskctl(dir.path(), with(as_hub, {"manager", "remove", "alice"}), "again.log");
  CHECK(again == 1);
  CHECK_THAT(again_out, Catch::Contains("no manager alice"));
}
