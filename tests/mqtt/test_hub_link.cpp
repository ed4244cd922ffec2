// The hub's MqttLink over kiosk_mqtt against a real mosquitto: presses in, acks out, reconnects,
// and a clean stop from inside a handler (as Hub::shutdown does) that announces the hub offline.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "kiosk/hub/mqtt_link.hpp"
#include "kiosk/protocol/topics.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
using kiosk::hub::MqttLink;

namespace {

struct LinkHarness {
  boost::asio::io_context io{1};  // as kiosk-hub runs it
  kiosk::hub::SystemClock clock;
  kiosk::hub::Log log{kiosk::hub::LogLevel::warn};
  std::vector<std::pair<std::string, std::string>> messages;
  std::vector<std::pair<bool, std::string>> changes;
  std::vector<std::pair<std::string, std::size_t>> oversized;
  std::unique_ptr<MqttLink> link;

  explicit LinkHarness(const Broker& broker, const std::string& username = "", const std::string& password = "") {
    link = std::make_unique<MqttLink>(
        io, clock, log,
        kiosk::hub::MqttSettings{broker.url(), "hub-link-test", username, password, "", "", "", "s1"},
        MqttLink::Handlers{
            [this](std::string_view t, std::string_view p, kiosk::hub::Received) { messages.emplace_back(t, p); },
            [this](bool up, const std::string& why) { changes.emplace_back(up, why); },
            [this](std::string_view t, std::size_t bytes, kiosk::hub::Received) { oversized.emplace_back(t, bytes); }});
  }
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    return run_io_until(io, done, timeout);
  }
};

}  // namespace

TEST_CASE("the hub link receives presses, publishes acks and announces itself online", "[integration]") {
  Broker broker;
  MqttProbe device(broker.url());
  device.connect();
  device.subscribe("kiosk/v1/s1/hub/status", 1);
  device.subscribe("kiosk/v1/s1/device/d-1/ack", 1);
  LinkHarness h(broker);
  h.link->start();
  REQUIRE(h.run_until([&] { return h.link->connected(); }));
  REQUIRE(h.changes.size() == 1);
  CHECK(h.changes[0].first);
  // Online comes after the SUBSCRIBE, so a press sent once it is seen reaches the hub.
  REQUIRE(h.run_until([&] { return device.count([](const Message& m) { return m.payload.find("online") != std::string::npos; }) > 0; }));
  REQUIRE(device.publish("kiosk/v1/s1/device/d-1/press", "p1", 1));
  REQUIRE(h.run_until([&] { return !h.messages.empty(); }));
  CHECK(h.messages[0] == std::make_pair(std::string("kiosk/v1/s1/device/d-1/press"), std::string("p1")));
  REQUIRE(h.link->publish("kiosk/v1/s1/device/d-1/ack", R"({"seqs":[1]})", 1, false));
  bool got_ack = false;
  REQUIRE(h.run_until([&] {
    got_ack = device.count([](const Message& m) { return m.topic == "kiosk/v1/s1/device/d-1/ack"; }) > 0;
    return got_ack;
  }));
}

TEST_CASE("the hub link reports a lost broker and comes back by itself", "[integration]") {
  Broker broker;
  LinkHarness h(broker);
  h.link->start();
  REQUIRE(h.run_until([&] { return h.link->connected(); }));
  broker.restart();
  REQUIRE(h.run_until([&] { return h.changes.size() >= 2 && !h.changes[1].first; }));
  CHECK_FALSE(h.changes[1].second.empty());
  CHECK_FALSE(h.link->publish("x/y", "while away", 1, false));
  REQUIRE(h.run_until([&] { return h.link->connected(); }, 15s));
  CHECK(h.link->publish("x/y", "back", 1, false));
}

TEST_CASE("stopping the hub link from a handler announces offline within the timeout, not by the Will",
          "[integration]") {
  Broker broker;
  MqttProbe watcher(broker.url());
  watcher.connect();
  watcher.subscribe("kiosk/v1/s1/hub/#", 1);
  LinkHarness h(broker);
  h.link->start();
  REQUIRE(h.run_until([&] { return h.link->connected(); }));
  REQUIRE(h.run_until([&] { return watcher.count([](const Message& m) { return m.payload.find("online") != std::string::npos; }) > 0; }));
  std::chrono::steady_clock::duration took{};
  bool stopped = false;
  boost::asio::post(h.io, [&] {
    auto start = std::chrono::steady_clock::now();
    h.link->stop(std::chrono::seconds(3));
    took = std::chrono::steady_clock::now() - start;
    stopped = true;
  });
  REQUIRE(h.run_until([&] { return stopped; }));
  // A stop that could not run the socket's handlers would sit out the whole 3 s.
  CHECK(took < std::chrono::seconds(2));
  CHECK_FALSE(h.link->connected());
  REQUIRE(watcher.wait_for([](const Message& m) { return m.payload.find("offline") != std::string::npos; }));
  h.link.reset();  // after a clean DISCONNECT, no Will follows
  REQUIRE(watcher.publish("kiosk/v1/s1/hub/marker", "m", 1));
  REQUIRE(watcher.wait_for_topic("kiosk/v1/s1/hub/marker"));
  CHECK(watcher.count([](const Message& m) { return m.payload.find("offline") != std::string::npos; }) == 1);
}

TEST_CASE("a message over the hub link's limit reaches its oversized handler with its size, never cut short",
          "[integration]") {
  Broker broker;
  MqttProbe device(broker.url());
  device.connect();
  device.subscribe("kiosk/v1/s1/hub/status", 1);
  LinkHarness h(broker);
  h.link->start();
  REQUIRE(h.run_until([&] { return h.link->connected(); }));
  REQUIRE(h.run_until([&] { return device.count([](const Message& m) { return m.payload.find("online") != std::string::npos; }) > 0; }));
  const std::size_t big = 2 * MqttLink::kMaxMessageBytes;
  REQUIRE(device.publish("kiosk/v1/s1/device/d-1/press", std::string(big, 'x'), 1));
  // Exactly at the limit counts the topic too: a payload of the limit's size is over it.
  REQUIRE(device.publish("kiosk/v1/s1/device/d-1/status", std::string(MqttLink::kMaxMessageBytes, 's'), 1));
  REQUIRE(device.publish("kiosk/v1/s1/device/d-1/press", "after", 1));
  REQUIRE(h.run_until([&] { return !h.messages.empty(); }));
  REQUIRE(h.messages.size() == 1);
  CHECK(h.messages[0].second == "after");
  REQUIRE(h.oversized.size() == 2);
  CHECK(h.oversized[0] == std::make_pair(std::string("kiosk/v1/s1/device/d-1/press"), big));
  CHECK(h.oversized[1] == std::make_pair(std::string("kiosk/v1/s1/device/d-1/status"), MqttLink::kMaxMessageBytes));
  CHECK(h.changes.size() == 1);  // the link stayed up
}

TEST_CASE("a subscription the broker refuses is named by the hub link, whose other topics still flow",
          "[integration]") {
  // A hub account whose role may read what devices publish but not managers' alert acks.
  Broker broker(Broker::Options{.dynsec = true});
  const auto ctrl = [&](const std::vector<std::string>& args) { broker.dynsec(args); };
  ctrl({"createRole", "half-hub"});
  ctrl({"addRoleACL", "half-hub", "subscribePattern", "kiosk/v1/s1/device/#", "allow"});
  ctrl({"addRoleACL", "half-hub", "publishClientSend", "kiosk/v1/s1/#", "allow"});
  ctrl({"createClient", "hub", "-p", "hub-secret"});
  ctrl({"addClientRole", "hub", "half-hub"});
  ctrl({"createClient", "d-1", "-p", "d-1-secret"});
  ctrl({"addClientRole", "d-1", "half-hub"});
  LinkHarness h(broker, "hub", "hub-secret");
  h.link->start();
  REQUIRE(h.run_until([&] { return !h.link->refused_subscriptions().empty(); }));
  CHECK(h.link->refused_subscriptions() == std::vector<std::string>{kiosk::protocol::alert_ack_filter("s1")});
  CHECK(h.link->connected());
  MqttProbe device(broker.url(), MqttProbe::Options{.client_id = "d-1", .username = "d-1", .password = "d-1-secret"});
  device.connect();
  REQUIRE(device.publish("kiosk/v1/s1/device/d-1/press", "p1", 1));
  REQUIRE(h.run_until([&] { return !h.messages.empty(); }));
  CHECK(h.messages[0].first == "kiosk/v1/s1/device/d-1/press");
}
