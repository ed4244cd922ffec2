// Self-tests of the test harness: a broker that really starts, stops and refuses strangers.
#include <catch2/catch.hpp>

#include <csignal>

#include "kiosk_test.hpp"

using namespace kiosk::test;

TEST_CASE("a child process is reaped with its exit status", "[support]") {
  Child ok({"sh", "-c", "exit 3"});
  REQUIRE(ok.wait(5s) == std::optional<int>(3));
  Child sleeper({"sleep", "30"});
  REQUIRE(sleeper.running());
  REQUIRE(sleeper.stop(2s) == 128 + SIGTERM);
}

TEST_CASE("a test broker relays messages and can be restarted", "[support][integration]") {
  Broker broker;
  MqttProbe sub(broker.url());
  sub.connect();
  REQUIRE(sub.subscribe("t/#", 1) == 1);
  MqttProbe pub(broker.url());
  pub.connect();
  REQUIRE(pub.publish("t/a", "hello", 1));
  auto m = sub.wait_for_topic("t/a");
  REQUIRE(m);
  CHECK(m->payload == "hello");

  broker.stop();
  REQUIRE_FALSE(port_accepts(broker.port()));
  broker.start();
  REQUIRE(port_accepts(broker.port()));
}

TEST_CASE("a dynsec broker refuses anonymous clients and admits its admin", "[support][integration]") {
  Broker broker(Broker::Options{.dynsec = true});
  MqttProbe anonymous(broker.url());
  CHECK_FALSE(anonymous.try_connect(3s));
  MqttProbe admin(broker.url(), MqttProbe::Options{.client_id = "", .username = "admin", .password = "admin-secret"});
  CHECK(admin.try_connect(3s));
}
