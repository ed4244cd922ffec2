// Self-tests of the test harness: a broker that really starts, stops and refuses strangers, and a hub
// that comes back after a crash.
#include <catch2/catch.hpp>

#include <sys/socket.h>

#include <csignal>
#include <set>

#include "kiosk_test.hpp"

using namespace kiosk::test;

TEST_CASE("a child process is reaped with its exit status", "[support]") {
  Child ok({"sh", "-c", "exit 3"});
  REQUIRE(ok.wait(5s) == std::optional<int>(3));
  Child sleeper({"sleep", "30"});
  REQUIRE(sleeper.running());
  REQUIRE(sleeper.stop(2s) == 128 + SIGTERM);
}

TEST_CASE("a reserved port is handed to no other free-port pick, yet a server can bind it", "[support]") {
  PortReservation reserved;
  REQUIRE(reserved.port() > 0);
  std::set<int> picked;
  for (int i = 0; i < 2000; ++i) picked.insert(free_tcp_port());
  CHECK(picked.count(reserved.port()) == 0);
  const sockaddr_in addr = kiosk::net::loopback_address(reserved.port());
  // Held: a socket without SO_REUSEADDR cannot have it.
  const int plain = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(plain >= 0);
  CHECK(::bind(plain, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0);
  ::close(plain);
  // A server binding with SO_REUSEADDR (as mosquitto and the hub do) takes it while it is held.
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(fd >= 0);
  const int on = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  CHECK(::bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  CHECK(::listen(fd, 4) == 0);
  CHECK(port_accepts(reserved.port()));
  ::close(fd);
  CHECK_FALSE(port_accepts(reserved.port()));  // held, not listening: nothing answers
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

// The hub's self-tests need build/bin/kiosk-hub, which this executable is not built after.
bool hub_built() {
  if (fs::exists(bin_dir() / "kiosk-hub")) return true;
  WARN("skipped: " << (bin_dir() / "kiosk-hub") << " is not built");
  return false;
}

TEST_CASE("a test hub started again after kill -9 serves on the same port with the same token and database",
          "[support][integration]") {
  if (!hub_built()) return;
  Broker broker;
  TempDir dir;
  HubChild hub(broker, dir.path());
  REQUIRE(hub.start());
  const int port = hub.port();
  const std::string token = hub.token();
  REQUIRE_FALSE(token.empty());
  hub.kill9();
  REQUIRE_FALSE(port_accepts(port));
  REQUIRE(hub.start());
  CHECK(hub.port() == port);
  CHECK(hub.token() == token);
  CHECK(hub.log().find("listening on http://127.0.0.1:" + std::to_string(port)) != std::string::npos);
}

TEST_CASE("a test hub in port-file mode serves on the port it chose and says so again after a restart",
          "[support][integration]") {
  if (!hub_built()) return;
  Broker broker;
  TempDir dir;
  HubChild hub(broker, dir.path(), HubChild::Options{.site = "venue", .db = dir / "data" / "hub.db", .token_file = {},
                                                     .port_file = true, .extra_args = {}});
  REQUIRE(hub.start());
  CHECK(hub.port() > 0);
  CHECK(hub.token_file() == dir / "data" / "hub.token");
  CHECK(hub.stop() == 0);
  REQUIRE(hub.start());
  CHECK(port_accepts(hub.port()));
  CHECK(hub.log().find("listening on http://127.0.0.1:" + std::to_string(hub.port())) != std::string::npos);
}
