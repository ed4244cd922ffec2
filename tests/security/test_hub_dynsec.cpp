// End to end through kiosk-hub --dynsec and its HTTP API: the broker refuses what a device may
// not do, and the hub stores nothing it should not.
#include <catch2/catch.hpp>

#include <fstream>

#include <boost/json.hpp>

#include "hub_client.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
namespace json = boost::json;

namespace {

std::string press(std::uint64_t seq) {
  return R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":1,"scale":4,"age_ms":0})";
}

struct SecuredVenue {
  Broker broker{Broker::Options{.dynsec = true, .admin_user = "hub", .admin_password = "hub-admin-pw", .extra_config = ""}};
  TempDir dir;
  HubChild hub{broker, dir.path()};  // --dynsec, logged in as the broker's admin "hub"
  std::unique_ptr<kiosk::ctl::HubClient> api;

  SecuredVenue() {
    const bool up = hub.start();
    INFO(hub.log());
    REQUIRE(up);
    api = std::make_unique<kiosk::ctl::HubClient>(*kiosk::ctl::HubUrl::parse(hub.url()), hub.token());
    REQUIRE(wait_until([&] { return api->get("/health").status == 200; }, 10s));
  }

  MqttProbe::Options add(const std::string& id) {
    auto r = api->post("/api/devices", json::serialize(json::object{{"id", id}, {"location", "lobby"}}));
    INFO(r.body);
    REQUIRE(r.status == 201);
    auto v = json::parse(r.body);
    const auto& c = v.at("credentials").as_object();
    return MqttProbe::Options{.client_id = "", .username = std::string(c.at("username").as_string()),
                              .password = std::string(c.at("password").as_string())};
  }

  std::size_t stored(const std::string& device) {
    auto r = api->get("/api/presses?device=" + device);
    REQUIRE(r.status == 200);
    return json::parse(r.body).as_array().size();
  }
};

bool acked(MqttProbe& device, const std::string& id, std::uint64_t seq) {
  return device
      .wait_for(
          [&](const Message& m) {
            if (m.topic != "kiosk/v1/venue/device/" + id + "/ack") return false;
            const auto v = json::parse(m.payload);
            for (const auto& s : v.at("seqs").as_array()) {
              if (s.to_number<std::uint64_t>() == seq) return true;
            }
            return false;
          },
          10s)
      .has_value();
}

}  // namespace

TEST_CASE("through the hub, a device's own press is stored and its forgeries are refused by the broker", "[integration]") {
  SecuredVenue v;
  MqttProbe one(v.broker.url(), v.add("desk-1"));
  v.add("desk-2");
  one.connect();
  REQUIRE(one.subscribe("kiosk/v1/venue/device/desk-1/ack") == 1);
  CHECK(one.subscribe("kiosk/v1/venue/device/desk-2/ack") == 0x80);
  one.publish("kiosk/v1/venue/device/desk-2/press", press(1), 1);
  one.publish("kiosk/v1/venue/alert/lobby", R"({"id":"a-1"})", 1, true);
  one.publish("kiosk/v1/venue/alert/lobby/ack", R"({"id":"a-1","by":"mallory"})", 1);
  REQUIRE(one.publish("kiosk/v1/venue/device/desk-1/press", press(1), 1));
  REQUIRE(acked(one, "desk-1", 1));  // handled after everything before it on this connection
  CHECK(v.stored("desk-1") == 1);
  CHECK(v.stored("desk-2") == 0);
  // No forged alert was retained at the broker.
  MqttProbe hub_view(v.broker.url(), MqttProbe::Options{.client_id = "", .username = "hub", .password = "hub-admin-pw"});
  hub_view.connect();
  REQUIRE(hub_view.subscribe("kiosk/v1/venue/alert/#") == 1);
  REQUIRE(hub_view.subscribe("kiosk/v1/venue/hub/status") == 1);
  REQUIRE(hub_view.wait_for_topic("kiosk/v1/venue/hub/status", 5s));
  CHECK(hub_view.count([](const Message& m) { return m.topic.rfind("kiosk/v1/venue/alert/", 0) == 0; }) == 0);
}

TEST_CASE("through the hub, rotated and retired credentials are refused and unknown clients cannot connect", "[integration]") {
  SecuredVenue v;
  auto first = v.add("desk-1");
  REQUIRE(MqttProbe(v.broker.url(), first).try_connect(5s));

  auto r = v.api->post("/api/devices/desk-1/rotate", "{}");
  REQUIRE(r.status == 200);
  const auto rotated_json = json::parse(r.body);
  const auto& c = rotated_json.at("credentials").as_object();
  MqttProbe::Options rotated{.client_id = "", .username = std::string(c.at("username").as_string()),
                             .password = std::string(c.at("password").as_string())};
  CHECK_FALSE(MqttProbe(v.broker.url(), first).try_connect(3s));
  MqttProbe device(v.broker.url(), rotated);
  REQUIRE(device.try_connect(5s));
  REQUIRE(device.subscribe("kiosk/v1/venue/device/desk-1/ack") == 1);
  REQUIRE(device.publish("kiosk/v1/venue/device/desk-1/press", press(7), 1));
  CHECK(acked(device, "desk-1", 7));

  REQUIRE(v.api->post("/api/devices/desk-1/retire", "{}").status == 200);
  CHECK(wait_until([&] { return !device.connected(); }, 5s));
  CHECK_FALSE(MqttProbe(v.broker.url(), rotated).try_connect(3s));
  CHECK_FALSE(MqttProbe(v.broker.url(), MqttProbe::Options{.client_id = "", .username = "desk-9", .password = "guess"}).try_connect(3s));
  CHECK_FALSE(MqttProbe(v.broker.url()).try_connect(3s));
  CHECK(v.stored("desk-1") == 1);
}

TEST_CASE("kioskctl manager add gives a manager an account that reads alerts only, and remove takes it away",
          "[integration]") {
  SecuredVenue v;
  const auto hub_url = v.hub.url();
  auto kioskctl = [&](std::vector<std::string> args, const std::string& log) {
    args.insert(args.begin(), {(bin_dir() / "kioskctl").string(), "--hub", hub_url, "--token-file",
                               v.hub.token_file().string()});
    Child run(args, Child::Options{.env = {}, .log_file = v.dir / log, .working_dir = {}});
    auto status = run.wait(20s);
    INFO(run.log());
    REQUIRE(status);
    return std::make_pair(*status, run.log());
  };
  const auto file = v.dir / "alice.manager.json";
  auto [added, out] = kioskctl({"manager", "add", "alice", "--out", file.string()}, "add.log");
  INFO(out);
  REQUIRE(added == 0);
  CHECK(out.find("added manager alice") != std::string::npos);
  CHECK(out.find("password\"") == std::string::npos);
  CHECK((fs::status(file).permissions() & fs::perms::all) == (fs::perms::owner_read | fs::perms::owner_write));
  std::ifstream in(file);
  const auto settings = json::parse(std::string(std::istreambuf_iterator<char>(in), {})).as_object();
  CHECK(settings.at("subscribe").as_string() == "kiosk/v1/venue/alert/#");
  MqttProbe::Options alice{.client_id = "", .username = std::string(settings.at("username").as_string()),
                           .password = std::string(settings.at("password").as_string())};

  MqttProbe phone(v.broker.url(), alice);
  REQUIRE(phone.try_connect(5s));
  CHECK(phone.subscribe("kiosk/v1/venue/alert/#") == 1);
  CHECK(phone.subscribe("kiosk/v1/venue/device/+/press") == 0x80);

  CHECK(kioskctl({"manager", "add", "alice", "--out", (v.dir / "again.json").string()}, "again.log").first == 1);
  CHECK_FALSE(fs::exists(v.dir / "again.json"));  // nothing half-written when the broker refuses

  auto [removed, removed_out] = kioskctl({"manager", "remove", "alice"}, "remove.log");
  INFO(removed_out);
  CHECK(removed == 0);
  CHECK(wait_until([&] { return !phone.connected(); }, 5s));
  CHECK_FALSE(MqttProbe(v.broker.url(), alice).try_connect(3s));
}
