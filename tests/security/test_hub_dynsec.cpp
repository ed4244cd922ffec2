// End to end through kiosk-hub --dynsec and its HTTP API: the broker refuses what a device may
// not do, the hub stores nothing it should not, and accounts keep their owners (terminal, manager,
// hub) through failed adds, mistyped ids and broker restarts.
#include <catch2/catch.hpp>

#include <array>
#include <fstream>
#include <future>

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
    return MqttProbe::Options{.client_id = std::string(c.at("username").as_string()),
                              .username = std::string(c.at("username").as_string()),
                              .password = std::string(c.at("password").as_string())};
  }

  // kioskctl against this hub: its exit status and its output.
  std::pair<int, std::string> kioskctl(std::vector<std::string> args, const std::string& log) {
    args.insert(args.begin(), {(bin_dir() / "kioskctl").string(), "--hub", hub.url(), "--token-file",
                               hub.token_file().string()});
    Child run(args, Child::Options{.env = {}, .log_file = dir / log, .working_dir = {}});
    auto status = run.wait(20s);
    INFO(run.log());
    REQUIRE(status);
    return {*status, run.log()};
  }

  // A dynamic-security command sent straight to the broker as its admin, as an operator would.
  void broker_ctrl(std::vector<std::string> args, const std::string& log) {
    args.insert(args.begin(), {"mosquitto_ctrl", "-h", "127.0.0.1", "-p", std::to_string(broker.port()), "-u", "hub",
                               "-P", "hub-admin-pw", "dynsec"});
    Child run(args, Child::Options{.env = {}, .log_file = dir / log, .working_dir = {}});
    auto status = run.wait(20s);
    INFO(run.log());
    REQUIRE(status == 0);
  }

  bool connects(const std::string& user, const std::string& password) {
    return MqttProbe(broker.url(), MqttProbe::Options{.client_id = user, .username = user, .password = password})
        .try_connect(5s);
  }

  json::object health() {
    auto r = api->get("/health");
    REQUIRE(r.status == 200);
    return json::parse(r.body).as_object();
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
  MqttProbe::Options rotated{.client_id = "desk-1", .username = std::string(c.at("username").as_string()),
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
  CHECK_FALSE(MqttProbe(v.broker.url(), MqttProbe::Options{.client_id = "desk-9", .username = "desk-9", .password = "guess"}).try_connect(3s));
  CHECK_FALSE(MqttProbe(v.broker.url()).try_connect(3s));
  CHECK(v.stored("desk-1") == 1);
}

TEST_CASE("kioskctl manager add gives a manager an account that reads alerts only, and remove takes it away",
          "[integration]") {
  SecuredVenue v;
  auto kioskctl = [&](std::vector<std::string> args, const std::string& log) { return v.kioskctl(std::move(args), log); };
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
  MqttProbe::Options alice{.client_id = std::string(settings.at("client_id").as_string()),
                           .username = std::string(settings.at("username").as_string()),
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

  // Who can still read and acknowledge alerts: only managers' accounts, never terminals'.
  v.add("desk-5");
  REQUIRE(kioskctl({"manager", "add", "bob", "--out", (v.dir / "bob.manager.json").string()}, "bob.log").first == 0);
  auto [listed, list_out] = kioskctl({"manager", "list"}, "list.log");
  INFO(list_out);
  CHECK(listed == 0);
  CHECK_THAT(list_out, Catch::Contains("bob ") && !Catch::Contains("alice") && !Catch::Contains("desk-5") &&
                           !Catch::Contains("hub "));
  CHECK(v.api->get("/api/managers").body ==
        R"({"managers":["bob"],"accounts":[{"id":"bob","broker_account":true,"api_token":true}]})");
  // An account an operator gave the manager role through a group (mosquitto_ctrl) reads alerts as
  // well: listed, without an API token.
  v.broker_ctrl({"createGroup", "duty-staff"}, "group.log");
  v.broker_ctrl({"addGroupRole", "duty-staff", "manager-venue"}, "group-role.log");
  v.broker_ctrl({"createClient", "carol", "-p", "carol-pw"}, "carol.log");
  v.broker_ctrl({"addGroupClient", "duty-staff", "carol"}, "group-client.log");
  CHECK(v.api->get("/api/managers").body ==
        R"({"managers":["bob","carol"],"accounts":[{"id":"bob","broker_account":true,"api_token":true},)"
        R"({"id":"carol","broker_account":true,"api_token":false}]})");
  // Made at the broker, taken out there: the answer says how, and her account stays as it was.
  auto carol = v.api->post("/api/managers/carol/remove", "{}");
  CHECK(carol.status == 409);
  CHECK_THAT(carol.body, Catch::Contains("mosquitto_ctrl dynsec removeGroupClient duty-staff carol"));
  CHECK_THAT(v.api->get("/api/managers").body, Catch::Contains(R"({"id":"carol","broker_account":true)"));

  // A mistyped (or already removed) manager is an error, not a removal that did nothing.
  auto [typo, typo_out] = kioskctl({"manager", "remove", "alcie"}, "typo.log");
  INFO(typo_out);
  CHECK(typo == 1);
  CHECK_THAT(typo_out, Catch::Contains("the broker has no account alcie (check the manager id"));
  CHECK(v.api->post("/api/managers/alice/remove", "{}").status == 404);
}

TEST_CASE("device add takes over a terminal's account that an earlier failed add left at the broker", "[integration]") {
  SecuredVenue v;
  // What a timed-out or lost answer, or a failed database save, leaves behind: the broker has the
  // device's role and client, the hub has no device.
  v.broker_ctrl({"createRole", "device-desk-1"}, "role.log");
  v.broker_ctrl({"createClient", "desk-1", "-p", "left-behind"}, "client.log");
  v.broker_ctrl({"addClientRole", "desk-1", "device-desk-1"}, "grant.log");
  REQUIRE(v.connects("desk-1", "left-behind"));
  REQUIRE(v.api->get("/api/devices/desk-1").status == 404);

  auto [added, out] = v.kioskctl({"device", "add", "desk-1", "--location", "lobby", "--out", (v.dir / "desk-1.json").string()},
                                 "add.log");
  INFO(out);
  REQUIRE(added == 0);
  std::ifstream in(v.dir / "desk-1.json");
  const auto config = json::parse(std::string(std::istreambuf_iterator<char>(in), {})).as_object();
  INFO(json::serialize(config));
  const std::string password(config.at("password").as_string());
  CHECK_FALSE(v.connects("desk-1", "left-behind"));
  MqttProbe device(v.broker.url(), MqttProbe::Options{.client_id = "desk-1", .username = "desk-1", .password = password});
  REQUIRE(device.try_connect(5s));
  // The role's ACLs are the device's: it reads its own acks and presses are stored.
  REQUIRE(device.subscribe("kiosk/v1/venue/device/desk-1/ack") == 1);
  REQUIRE(device.publish("kiosk/v1/venue/device/desk-1/press", press(1), 1));
  CHECK(acked(device, "desk-1", 1));
  CHECK(v.stored("desk-1") == 1);
}

TEST_CASE("device add takes over an account without roles, and grants it the device's rights", "[integration]") {
  SecuredVenue v;
  v.broker_ctrl({"createClient", "desk-2", "-p", "bare"}, "client.log");
  auto creds = v.add("desk-2");
  CHECK_FALSE(v.connects("desk-2", "bare"));
  MqttProbe device(v.broker.url(), creds);
  REQUIRE(device.try_connect(5s));
  REQUIRE(device.subscribe("kiosk/v1/venue/device/desk-2/ack") == 1);
  REQUIRE(device.publish("kiosk/v1/venue/device/desk-2/press", press(3), 1));
  CHECK(acked(device, "desk-2", 3));
}

TEST_CASE("a terminal's or a manager's login connects only with its own client id: it cannot take over the hub's "
          "or another terminal's session",
          "[integration]") {
  SecuredVenue v;
  const auto one = v.add("desk-1");
  MqttProbe two(v.broker.url(), v.add("desk-2"));
  REQUIRE(two.try_connect(5s));
  auto m = v.api->post("/api/managers", R"({"id":"alice"})");
  REQUIRE(m.status == 201);
  const auto manager = json::parse(m.body);
  const auto& mc = manager.at("credentials");
  const MqttProbe::Options alice{.client_id = "alice", .username = std::string(mc.at("username").as_string()),
                                 .password = std::string(mc.at("password").as_string())};
  const auto connects_as = [&](MqttProbe::Options login, const std::string& client_id) {
    login.client_id = client_id;
    return MqttProbe(v.broker.url(), login).try_connect(3s);
  };
  // With MQTT, the newest connection with a client id closes the older one.
  CHECK_FALSE(connects_as(one, "kiosk-hub-venue"));
  CHECK_FALSE(connects_as(one, "desk-2"));
  CHECK_FALSE(connects_as(alice, "kiosk-hub-venue"));
  CHECK_FALSE(connects_as(alice, "desk-2"));
  CHECK(connects_as(one, "desk-1"));
  CHECK(connects_as(alice, "alice"));
  // An account made before the binding existed (cleared here) gets it with its next rotation.
  v.broker_ctrl({"setClientId", "desk-1"}, "unbind.log");
  CHECK(connects_as(one, "not-desk-1"));
  auto rotated = v.api->post("/api/devices/desk-1/rotate", "{}");
  REQUIRE(rotated.status == 200);
  const auto rotated_json = json::parse(rotated.body);
  MqttProbe::Options renewed = one;
  renewed.password = std::string(rotated_json.at("credentials").at("password").as_string());
  CHECK_FALSE(connects_as(renewed, "not-desk-1"));
  CHECK(connects_as(renewed, "desk-1"));
  // desk-2 kept its session throughout: its press is stored and acknowledged on it.
  REQUIRE(two.subscribe("kiosk/v1/venue/device/desk-2/ack") == 1);
  REQUIRE(two.publish("kiosk/v1/venue/device/desk-2/press", press(4), 1));
  CHECK(acked(two, "desk-2", 4));
}

TEST_CASE("device add never takes over a registered device's, a manager's or the hub's own account", "[integration]") {
  SecuredVenue v;
  auto desk = v.add("desk-1");
  auto again = v.api->post("/api/devices", json::serialize(json::object{{"id", "desk-1"}, {"location", "lobby"}}));
  CHECK(again.status == 409);
  CHECK(v.connects("desk-1", desk.password));

  auto m = v.api->post("/api/managers", R"({"id":"alice"})");
  REQUIRE(m.status == 201);
  const auto alice = json::parse(m.body).at("credentials").as_object();
  auto as_device = v.api->post("/api/devices", json::serialize(json::object{{"id", "alice"}, {"location", "lobby"}}));
  INFO(as_device.body);
  CHECK(as_device.status == 409);
  CHECK(as_device.body.find("manager") != std::string::npos);
  CHECK(v.connects("alice", std::string(alice.at("password").as_string())));
  CHECK(v.api->get("/api/devices/alice").status == 404);
  // The role made for the refused device does not stay behind.
  CHECK(wait_until([&] { return slurp(v.broker.dynsec_file()).find("\"device-alice\"") == std::string::npos; }, 5s));

  auto hub_itself = v.api->post("/api/devices", json::serialize(json::object{{"id", "hub"}, {"location", "lobby"}}));
  INFO(hub_itself.body);
  CHECK(hub_itself.status == 409);
  CHECK(v.connects("hub", "hub-admin-pw"));
  v.add("desk-2");  // the hub still manages accounts
}

TEST_CASE("manager remove and manager add refuse a terminal's id and leave its account alone", "[integration]") {
  SecuredVenue v;
  auto desk = v.add("d5");

  auto [removed, removed_out] = v.kioskctl({"manager", "remove", "d5"}, "remove.log");
  INFO(removed_out);
  CHECK(removed == 1);
  CHECK(removed_out.find("d5 is a terminal, not a manager: use kioskctl device retire d5") != std::string::npos);
  CHECK(v.connects("d5", desk.password));
  auto shown = v.api->get("/api/devices/d5");
  REQUIRE(shown.status == 200);
  CHECK(json::parse(shown.body).at("retired").as_bool() == false);

  auto [added, added_out] = v.kioskctl({"manager", "add", "d5", "--out", (v.dir / "d5.json").string()}, "add.log");
  INFO(added_out);
  CHECK(added == 1);
  CHECK(added_out.find("d5 is a terminal") != std::string::npos);
  CHECK(added_out.find("manager remove") == std::string::npos);  // no hint to remove what is not a manager
  CHECK_FALSE(fs::exists(v.dir / "d5.json"));
  CHECK(v.connects("d5", desk.password));
}

TEST_CASE("manager remove deletes only accounts that carry the manager role", "[integration]") {
  SecuredVenue v;
  // A terminal's account the hub does not know (left behind at the broker): not a manager's.
  v.broker_ctrl({"createRole", "device-d9"}, "role.log");
  v.broker_ctrl({"createClient", "d9", "-p", "d9-pw"}, "client.log");
  v.broker_ctrl({"addClientRole", "d9", "device-d9"}, "grant.log");
  auto d9 = v.api->post("/api/managers/d9/remove", "{}");
  INFO(d9.body);
  CHECK(d9.status == 409);
  CHECK(d9.body.find("d9 is a terminal, not a manager") != std::string::npos);
  CHECK(v.connects("d9", "d9-pw"));

  // The hub's own admin account.
  auto hub_itself = v.api->post("/api/managers/hub/remove", "{}");
  INFO(hub_itself.body);
  CHECK(hub_itself.status == 409);
  CHECK(v.connects("hub", "hub-admin-pw"));
  // ... which cannot be added as a manager either (no hint to remove it first).
  auto [added, added_out] = v.kioskctl({"manager", "add", "hub", "--out", (v.dir / "hub.manager.json").string()}, "hub.log");
  INFO(added_out);
  CHECK(added == 1);
  CHECK_THAT(added_out, Catch::Contains("hub is the hub's own broker account: pick another manager id") &&
                            !Catch::Contains("manager remove"));

  // A real manager goes; removing it again says there is no such account (as a typo would).
  REQUIRE(v.api->post("/api/managers", R"({"id":"bob"})").status == 201);
  CHECK(v.api->post("/api/managers/bob/remove", "{}").status == 200);
  CHECK(v.api->post("/api/managers/bob/remove", "{}").status == 404);
}

TEST_CASE("health reports the account link, which comes back with the broker", "[integration]") {
  SecuredVenue v;
  CHECK(v.health().at("accounts") == "connected");
  v.broker.stop();
  CHECK(wait_until(
      [&] {
        auto r = v.api->get("/health");
        return r.status == 503 && json::parse(r.body).at("accounts") == "disconnected";
      },
      10s));
  // The hub's log says so: a technician's "device add" fails meanwhile.
  CHECK(wait_until([&] { return v.hub.log().find("warn accounts: lost the connection to the broker") != std::string::npos; }));
  v.broker.start();
  // Both links retry a local broker every 5 s at most: accounts work again as soon as presses do.
  REQUIRE(wait_until([&] { return v.api->get("/health").status == 200; }, 10s));
  CHECK(wait_until([&] { return v.health().at("accounts") == "connected"; }, 6s));
  CHECK(wait_until([&] { return v.hub.log().find("info accounts: connected to the broker again after ") != std::string::npos; }));
  v.add("desk-1");
}

TEST_CASE("health has no account link to report when the hub does not manage broker accounts", "[integration]") {
  Broker broker;
  TempDir dir;
  HubChild hub{broker, dir.path()};
  const bool up = hub.start();
  INFO(hub.log());
  REQUIRE(up);
  kiosk::ctl::HubClient api(*kiosk::ctl::HubUrl::parse(hub.url()), hub.token());
  auto r = api.get("/health");
  REQUIRE(r.status == 200);
  const auto o = json::parse(r.body).as_object();
  CHECK(o.at("broker") == "connected");
  CHECK_FALSE(o.contains("accounts"));
}

TEST_CASE("of two device adds racing for one id, one wins and the credentials it hands out work", "[integration]") {
  SecuredVenue v;
  const auto base = *kiosk::ctl::HubUrl::parse(v.hub.url());
  for (int round = 0; round < 5; ++round) {
    const auto id = "race-" + std::to_string(round);
    const auto body = json::serialize(json::object{{"id", id}, {"location", "lobby"}});
    auto add = [&] { return kiosk::ctl::HubClient(base, v.hub.token()).post("/api/devices", body); };
    auto first = std::async(std::launch::async, add);
    auto second = std::async(std::launch::async, add);
    const std::array replies{first.get(), second.get()};
    std::vector<kiosk::ctl::HttpReply> won;
    for (const auto& r : replies) {
      INFO(r.body);
      CHECK((r.status == 201 || r.status == 409));
      if (r.status == 201) won.push_back(r);
    }
    REQUIRE(won.size() == 1);
    const auto c = json::parse(won.front().body).at("credentials").as_object();
    CHECK(v.connects(std::string(c.at("username").as_string()), std::string(c.at("password").as_string())));
  }
}
