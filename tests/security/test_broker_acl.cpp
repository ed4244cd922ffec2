// Broker ACLs through the hub's dynamic-security accounts, against a real mosquitto with the plugin.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
using kiosk::hub::AccountsDone;
using kiosk::hub::AccountsResult;
using kiosk::hub::BrokerCredentials;

namespace {

constexpr const char* kSite = "venue";
const std::string kPress = R"({"seq":1,"button":0,"rating":1,"scale":4,"age_ms":0})";

std::string topic(const std::string& rest) { return std::string("kiosk/v1/") + kSite + "/" + rest; }

// A dynsec broker, the hub's accounts on it (driven by an io_context in the test thread) and
// a probe connected as the hub that sees everything published under the site.
struct SecuredBroker {
  Broker broker{Broker::Options{.dynsec = true, .admin_user = "hub", .admin_password = "hub-admin-secret", .extra_config = ""}};
  boost::asio::io_context io;
  std::unique_ptr<kiosk::hub::BrokerAccounts> accounts;
  std::unique_ptr<MqttProbe> hub;

  SecuredBroker() {
    accounts = kiosk::hub::make_dynsec_accounts(
        io, kiosk::hub::DynsecSettings{.broker_url = broker.url(), .username = "hub", .password = "hub-admin-secret",
                                       .site = kSite, .ca_file = {}, .cert_file = {}, .key_file = {}});
    accounts->start();
    hub = std::make_unique<MqttProbe>(broker.url(), MqttProbe::Options{.client_id = "", .username = "hub",
                                                                       .password = "hub-admin-secret"});
    hub->connect();
    REQUIRE(hub->subscribe(topic("#")) == 1);
  }

  // Runs the io_context until `call` reports back.
  AccountsResult run(const std::function<void(AccountsDone)>& call) {
    std::optional<AccountsResult> out;
    call([&out](AccountsResult r) { out = std::move(r); });
    REQUIRE(run_io_until(io, [&] { return out.has_value(); }));
    return *out;
  }

  BrokerCredentials add_device(const std::string& id) {
    auto r = run([&](AccountsDone d) { accounts->add_device(id, std::move(d)); });
    INFO(r.error.value_or(""));
    REQUIRE_FALSE(r.error);
    REQUIRE(r.credentials);
    return *r.credentials;
  }

  std::unique_ptr<MqttProbe> client(const BrokerCredentials& c) {
    return std::make_unique<MqttProbe>(broker.url(), MqttProbe::Options{.client_id = c.username, .username = c.username,
                                                                        .password = c.password});
  }

  // MQTT 3.1.1 brokers drop a refused QoS 1 publish silently. A marker published afterwards on
  // an allowed topic, and seen by the hub, proves the refused one had its chance to arrive.
  void expect_marker_from(MqttProbe& device, const std::string& device_id) {
    const auto marker = topic("device/" + device_id + "/telemetry");
    REQUIRE(device.publish(marker, R"({"uptime_s":1,"queued":0})", 1));
    REQUIRE(hub->wait_for_topic(marker, 5s));
  }
};

bool on_topic(const Message& m, const std::string& t) { return m.topic == t; }

}  // namespace

TEST_CASE("a provisioned device's press reaches the hub", "[integration]") {
  SecuredBroker s;
  auto creds = s.add_device("desk-1");
  CHECK(creds.username == "desk-1");
  CHECK(creds.password.size() == 32);
  auto device = s.client(creds);
  device->connect();
  REQUIRE(device->publish(topic("device/desk-1/press"), kPress, 1));
  auto got = s.hub->wait_for_topic(topic("device/desk-1/press"), 5s);
  REQUIRE(got);
  CHECK(got->payload == kPress);
  // ... and it may read its own ack and config, nothing else.
  CHECK(device->subscribe(topic("device/desk-1/ack")) == 1);
  CHECK(device->subscribe(topic("device/desk-1/config")) == 1);
  CHECK(device->subscribe(topic("device/desk-2/ack")) == 0x80);
  CHECK(device->subscribe(topic("alert/#")) == 0x80);
  CHECK(device->subscribe("#") == 0x80);
  REQUIRE(s.hub->publish(topic("device/desk-1/ack"), R"({"seqs":[1]})", 1));
  CHECK(device->wait_for_topic(topic("device/desk-1/ack"), 5s));
}

TEST_CASE("a device cannot publish as another device, forge acks or raise alerts", "[integration]") {
  SecuredBroker s;
  auto one = s.client(s.add_device("desk-1"));
  s.add_device("desk-2");
  one->connect();
  one->publish(topic("device/desk-2/press"), kPress, 1);
  one->publish(topic("device/desk-1/ack"), R"({"seqs":[1]})", 1);
  one->publish(topic("device/desk-1/config"), R"({"debounce_ms":1})", 1, true);
  one->publish(topic("alert/front-desk"), R"({"id":"a-1"})", 1, true);
  one->publish(topic("alert/front-desk/ack"), R"({"id":"a-1","by":"x"})", 1);
  one->publish("kiosk/v1/other-site/device/desk-1/press", kPress, 1);
  s.expect_marker_from(*one, "desk-1");
  for (const auto* forged : {"device/desk-2/press", "device/desk-1/ack", "device/desk-1/config", "alert/front-desk",
                             "alert/front-desk/ack"}) {
    INFO(forged);
    CHECK(s.hub->count([&](const Message& m) { return on_topic(m, topic(forged)); }) == 0);
  }
}

TEST_CASE("a rotated password is refused and the new one works", "[integration]") {
  SecuredBroker s;
  auto old_creds = s.add_device("desk-1");
  auto connected = s.client(old_creds);
  connected->connect();
  auto r = s.run([&](AccountsDone d) { s.accounts->rotate_device("desk-1", std::move(d)); });
  REQUIRE_FALSE(r.error);
  REQUIRE(r.credentials);
  CHECK(r.credentials->password != old_creds.password);
  // The session that was open with the old password is closed by the broker.
  CHECK(wait_until([&] { return !connected->connected(); }, 5s));
  CHECK_FALSE(s.client(old_creds)->try_connect(3s));
  auto fresh = s.client(*r.credentials);
  REQUIRE(fresh->try_connect(3s));
  REQUIRE(fresh->publish(topic("device/desk-1/press"), kPress, 1));
  CHECK(s.hub->wait_for_topic(topic("device/desk-1/press"), 5s));
}

TEST_CASE("retired credentials are refused and retiring twice is harmless", "[integration]") {
  SecuredBroker s;
  auto creds = s.add_device("desk-1");
  auto r = s.run([&](AccountsDone d) { s.accounts->retire_device("desk-1", std::move(d)); });
  REQUIRE_FALSE(r.error);
  CHECK_FALSE(r.credentials);
  CHECK_FALSE(s.client(creds)->try_connect(3s));
  auto again = s.run([&](AccountsDone d) { s.accounts->retire_device("desk-1", std::move(d)); });
  CHECK_FALSE(again.error);
  // A retired id can be provisioned again with fresh credentials.
  auto reborn = s.add_device("desk-1");
  CHECK(reborn.password != creds.password);
  CHECK(s.client(reborn)->try_connect(3s));
}

TEST_CASE("adding a device whose terminal account exists takes it over, and rotating an unknown device is an error",
          "[integration]") {
  SecuredBroker s;
  // The hub refuses ids of its active devices itself; an account it still finds at the broker
  // was left by an add that failed half-way, and the retry must succeed.
  auto first = s.add_device("desk-1");
  auto again = s.add_device("desk-1");
  CHECK(again.password != first.password);
  CHECK_FALSE(s.client(first)->try_connect(3s));
  CHECK(s.client(again)->try_connect(3s));
  auto unknown = s.run([&](AccountsDone d) { s.accounts->rotate_device("ghost", std::move(d)); });
  REQUIRE(unknown.error);
  CHECK_FALSE(unknown.credentials);
}

TEST_CASE("a manager reads alerts and sends acks but cannot publish presses", "[integration]") {
  SecuredBroker s;
  auto r = s.run([&](AccountsDone d) { s.accounts->add_manager("alice", std::move(d)); });
  REQUIRE_FALSE(r.error);
  REQUIRE(r.credentials);
  auto manager = s.client(*r.credentials);
  manager->connect();
  CHECK(manager->subscribe(topic("alert/#")) == 1);
  CHECK(manager->subscribe(topic("device/+/press")) == 0x80);
  REQUIRE(s.hub->publish(topic("alert/front-desk"), R"({"id":"a-1"})", 1));
  CHECK(manager->wait_for_topic(topic("alert/front-desk"), 5s));
  manager->publish(topic("device/desk-1/press"), kPress, 1);
  manager->publish(topic("alert/front-desk"), R"({"id":"forged"})", 1);
  REQUIRE(manager->publish(topic("alert/front-desk/ack"), R"({"id":"a-1","by":"alice"})", 1));
  // The ack arrives after the refused publishes on the same connection: they had their chance.
  REQUIRE(s.hub->wait_for_topic(topic("alert/front-desk/ack"), 5s));
  CHECK(s.hub->count([](const Message& m) { return on_topic(m, topic("device/desk-1/press")); }) == 0);
  CHECK(s.hub->count([](const Message& m) { return m.payload.find("forged") != std::string::npos; }) == 0);
  auto removed = s.run([&](AccountsDone d) { s.accounts->remove_manager("alice", std::move(d)); });
  CHECK_FALSE(removed.error);
  CHECK_FALSE(s.client(*r.credentials)->try_connect(3s));
}

TEST_CASE("unprovisioned and anonymous clients cannot connect", "[integration]") {
  SecuredBroker s;
  CHECK_FALSE(s.client(BrokerCredentials{"desk-9", "guessed-password"})->try_connect(3s));
  MqttProbe anonymous(s.broker.url());
  CHECK_FALSE(anonymous.try_connect(3s));
  auto creds = s.add_device("desk-1");
  CHECK_FALSE(s.client(BrokerCredentials{"desk-1", creds.password + "x"})->try_connect(3s));
}

TEST_CASE("accounts report an error instead of hanging when the broker is gone", "[integration]") {
  SecuredBroker s;
  s.add_device("desk-1");
  s.broker.kill9();
  auto r = s.run([&](AccountsDone d) { s.accounts->add_device("desk-2", std::move(d)); });
  REQUIRE(r.error);
  CHECK_FALSE(r.credentials);
}

TEST_CASE("starting accounts with a wrong admin password fails with a clear error", "[integration]") {
  Broker broker{Broker::Options{.dynsec = true, .admin_user = "hub", .admin_password = "right", .extra_config = ""}};
  boost::asio::io_context io;
  auto accounts = kiosk::hub::make_dynsec_accounts(
      io, kiosk::hub::DynsecSettings{.broker_url = broker.url(), .username = "hub", .password = "wrong",
                                     .site = kSite, .ca_file = {}, .cert_file = {}, .key_file = {}});
  CHECK_THROWS_WITH(accounts->start(), Catch::Contains("admin credentials"));
}
