// kiosk::mqtt::Client against a real mosquitto: round trips, retained, Will, persistent sessions,
// reconnects, refused credentials, the bounded queue and TLS with the venue PKI.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include "kiosk/mqtt/client.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
using kiosk::mqtt::Client;
using kiosk::mqtt::ClientOptions;
using kiosk::mqtt::LinkEvent;

namespace {

// A client on its own io_context, driven from the test thread; records what it sees.
struct Harness {
  boost::asio::io_context io;
  std::vector<kiosk::test::Message> messages;
  std::vector<std::size_t> truncated_sizes;  // payload_size of each message that came cut short
  std::vector<LinkEvent> events;
  std::unique_ptr<Client> client;

  explicit Harness(ClientOptions options) {
    client = std::make_unique<Client>(
        io, std::move(options),
        Client::Handlers{[this](const kiosk::mqtt::Message& m) {
                           messages.push_back({std::string(m.topic), std::string(m.payload), m.qos, m.retain});
                           if (m.truncated) truncated_sizes.push_back(m.payload_size);
                         },
                         [this](const LinkEvent& e) { events.push_back(e); }});
  }
  // Runs the io_context until `done` holds or the timeout passes.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 10s) {
    return run_io_until(io, done, timeout);
  }
  std::size_t count(LinkEvent::Kind kind) const {
    return static_cast<std::size_t>(std::count_if(events.begin(), events.end(), [&](auto& e) { return e.kind == kind; }));
  }
  bool connect() {
    client->start();
    return run_until([&] { return client->connected(); });
  }
  bool got(const std::string& topic, const std::string& payload) const {
    return std::any_of(messages.begin(), messages.end(),
                       [&](auto& m) { return m.topic == topic && m.payload == payload; });
  }
};

ClientOptions options_for(const Broker& broker, std::string id) {
  ClientOptions o;
  o.url = broker.url();
  o.client_id = std::move(id);
  o.keepalive = 5s;
  o.reconnect_min = 100ms;
  o.reconnect_max = 500ms;
  return o;
}

}  // namespace

TEST_CASE("the client subscribes and receives its own QoS 0 and QoS 1 publishes", "[integration]") {
  Broker broker;
  auto o = options_for(broker, "rt");
  o.subscriptions = {{"rt/#", 1}};
  Harness h(o);
  REQUIRE(h.connect());
  REQUIRE(h.count(LinkEvent::Kind::connected) == 1);
  // The SUBACK has no callback: publish until the first message comes back.
  bool acked = false;
  REQUIRE(h.run_until([&] {
    h.client->publish("rt/zero", "warmup", 0, false);
    return h.got("rt/zero", "warmup");
  }));
  REQUIRE(h.client->publish("rt/one", "q1", 1, false, [&](std::optional<std::string> e) { acked = !e; }));
  REQUIRE(h.client->publish("rt/zero", "q0", 0, false));
  REQUIRE(h.run_until([&] { return acked && h.got("rt/one", "q1") && h.got("rt/zero", "q0"); }));
  CHECK(h.client->in_flight() == 0);
}

TEST_CASE("a Paho probe sees retained publishes and the client receives the probe's QoS 1", "[integration]") {
  Broker broker;
  auto o = options_for(broker, "ret");
  o.subscriptions = {{"in/#", 1}};
  Harness h(o);
  REQUIRE(h.connect());
  bool acked = false;
  REQUIRE(h.client->publish("out/state", "online", 1, true, [&](auto e) { acked = !e; }));
  REQUIRE(h.run_until([&] { return acked; }));
  MqttProbe probe(broker.url());
  probe.connect();
  probe.subscribe("out/state", 1);
  auto m = probe.wait_for_topic("out/state");
  REQUIRE(m);
  CHECK(m->payload == "online");
  CHECK(m->retained);
  // The subscription is in place once a retained message of ours comes back to us.
  REQUIRE(h.client->publish("in/probe-ready", "x", 1, true));
  REQUIRE(h.run_until([&] { return h.got("in/probe-ready", "x"); }));
  REQUIRE(probe.publish("in/press", "hello", 1));
  REQUIRE(h.run_until([&] { return h.got("in/press", "hello"); }));
}

TEST_CASE("the Will is published when the client's socket dies without DISCONNECT", "[integration]") {
  Broker broker;
  MqttProbe probe(broker.url());
  probe.connect();
  probe.subscribe("hub/status", 1);
  auto o = options_for(broker, "willer");
  o.will = kiosk::mqtt::Will{"hub/status", "offline", 1, true};
  auto h = std::make_unique<Harness>(o);
  REQUIRE(h->connect());
  h.reset();  // closes the socket at once
  auto m = probe.wait_for_topic("hub/status");
  REQUIRE(m);
  CHECK(m->payload == "offline");
}

TEST_CASE("a clean DISCONNECT does not publish the Will and completes", "[integration]") {
  Broker broker;
  MqttProbe probe(broker.url());
  probe.connect();
  probe.subscribe("hub/#", 1);
  auto o = options_for(broker, "polite");
  o.will = kiosk::mqtt::Will{"hub/status", "offline", 1, false};
  Harness h(o);
  REQUIRE(h.connect());
  bool closed = false;
  h.client->disconnect([&] { closed = true; });
  REQUIRE(h.run_until([&] { return closed; }));
  CHECK_FALSE(h.client->connected());
  // A marker after the disconnect: when it arrives, a Will would have arrived before it.
  REQUIRE(probe.publish("hub/marker", "m", 1));
  REQUIRE(probe.wait_for_topic("hub/marker"));
  CHECK(probe.count([](const Message& m) { return m.topic == "hub/status"; }) == 0);
}

TEST_CASE("messages published while a persistent session is away arrive after it reconnects", "[integration]") {
  Broker broker;
  auto o = options_for(broker, "persistent-hub");
  o.clean_session = false;
  o.subscriptions = {{"dev/+/press", 1}};
  {
    Harness first(o);
    REQUIRE(first.connect());
    bool acked = false;
    // Our own publish round trip proves the SUBSCRIBE (sent before it) was handled.
    REQUIRE(first.client->publish("dev/self/press", "0", 1, false, [&](auto e) { acked = !e; }));
    REQUIRE(first.run_until([&] { return acked && first.got("dev/self/press", "0"); }));
    bool closed = false;
    first.client->disconnect([&] { closed = true; });
    REQUIRE(first.run_until([&] { return closed; }));
  }
  MqttProbe probe(broker.url());
  probe.connect();
  for (int i = 1; i <= 3; ++i) REQUIRE(probe.publish("dev/d" + std::to_string(i) + "/press", std::to_string(i), 1));
  Harness second(o);
  REQUIRE(second.connect());
  REQUIRE(second.events.front().session_present);
  REQUIRE(second.run_until([&] {
    return second.got("dev/d1/press", "1") && second.got("dev/d2/press", "2") && second.got("dev/d3/press", "3");
  }));
}

TEST_CASE("messages arriving after pause_inbound are neither taken nor acknowledged: the next session gets them",
          "[integration]") {
  // The hub's shutdown: its last batch is committed, then it waits for the broker to take its
  // offline status. A press arriving meanwhile must stay at the broker, not be acknowledged to it
  // and dropped.
  Broker broker;
  auto o = options_for(broker, "pausing-hub");
  o.clean_session = false;
  o.subscriptions = {{"dev/+/press", 1}};
  MqttProbe probe(broker.url());
  probe.connect();
  {
    Harness first(o);
    REQUIRE(first.connect());
    bool acked = false;
    REQUIRE(first.client->publish("dev/self/press", "0", 1, false, [&](auto e) { acked = !e; }));
    REQUIRE(first.run_until([&] { return acked && first.got("dev/self/press", "0"); }));

    first.client->pause_inbound();
    REQUIRE(probe.publish("dev/d1/press", "1", 1));
    // The broker queued d1 to us before it acknowledged the probe, so it reaches us before the
    // PUBACK of this later publish: once that is in, d1 has been read (and left alone).
    bool last = false;
    REQUIRE(first.client->publish("hub/status", "offline", 1, true, [&](auto e) { last = !e; }));
    REQUIRE(first.run_until([&] { return last; }));
    CHECK_FALSE(first.got("dev/d1/press", "1"));
    bool closed = false;
    first.client->disconnect([&] { closed = true; });
    REQUIRE(first.run_until([&] { return closed; }));
  }
  Harness second(o);
  REQUIRE(second.connect());
  REQUIRE(second.run_until([&] { return second.got("dev/d1/press", "1"); }));
}

TEST_CASE("the MQTT client hands over an oversized QoS 1 message truncated, acknowledges it once and does not get it "
          "again",
          "[integration]") {
  Broker broker;
  auto o = options_for(broker, "big");
  o.clean_session = false;
  o.subscriptions = {{"big/#", 1}};
  o.max_packet_bytes = 1024;
  MqttProbe probe(broker.url());
  probe.connect();
  {
    Harness h(o);
    REQUIRE(h.connect());
    REQUIRE(h.run_until([&] {
      h.client->publish("big/ready", "x", 0, false);
      return h.got("big/ready", "x");
    }));
    REQUIRE(probe.publish("big/one", std::string(5000, 'x'), 1));
    REQUIRE(probe.publish("big/after", "small", 1));
    REQUIRE(h.run_until([&] { return h.got("big/after", "small"); }));
    CHECK(h.truncated_sizes == std::vector<std::size_t>{5000});
    CHECK(h.count(LinkEvent::Kind::lost) == 0);
    // Our PUBACKs left before this publish: once the broker acknowledges it, it has them.
    bool synced = false;
    REQUIRE(h.client->publish("sync/x", "s", 1, false, [&](auto e) { synced = !e; }));
    REQUIRE(h.run_until([&] { return synced; }));
  }  // gone without DISCONNECT: the broker keeps the session and whatever it still holds for it
  Harness again(o);
  REQUIRE(again.connect());
  REQUIRE(probe.publish("big/marker", "m", 1));
  REQUIRE(again.run_until([&] { return again.got("big/marker", "m"); }));
  CHECK(again.truncated_sizes.empty());
  CHECK_FALSE(again.got("big/after", "small"));
}

TEST_CASE("the client reconnects after the broker restarts and resubscribes", "[integration]") {
  Broker broker;
  auto o = options_for(broker, "survivor");
  o.subscriptions = {{"back/#", 1}};
  Harness h(o);
  REQUIRE(h.connect());
  broker.restart();
  REQUIRE(h.run_until([&] { return h.count(LinkEvent::Kind::lost) >= 1; }));
  REQUIRE(h.run_until([&] { return h.count(LinkEvent::Kind::connected) >= 2 && h.client->connected(); }, 15s));
  REQUIRE(h.run_until([&] {
    h.client->publish("back/again", "yes", 0, false);
    return h.got("back/again", "yes");
  }));
}

TEST_CASE("a QoS 1 publish in flight when the link drops is re-sent after the reconnect", "[integration]") {
  Broker broker;
  auto o = options_for(broker, "resender");
  o.clean_session = false;  // a clean session's unacknowledged publishes fail with the link instead
  Harness h(o);
  REQUIRE(h.connect());
  // Stop the broker so the publish cannot be acknowledged, queue it while the client still thinks
  // it is connected, then bring the broker back: the PUBACK must come after the reconnect.
  broker.kill9();
  bool acked = false;
  bool queued = h.client->publish("resend/x", "1", 1, false, [&](auto e) { acked = !e; });
  broker.start();
  MqttProbe probe(broker.url());
  probe.connect();
  probe.subscribe("resend/#", 1);
  if (!queued) {
    // The client saw the loss first: nothing in flight, publish again once connected.
    REQUIRE(h.run_until([&] { return h.client->connected(); }, 15s));
    REQUIRE(h.client->publish("resend/x", "1", 1, false, [&](auto e) { acked = !e; }));
  }
  REQUIRE(h.run_until([&] { return acked; }, 15s));
  REQUIRE(probe.wait_for_topic("resend/x"));
}

TEST_CASE("wrong credentials are reported in words and retried", "[integration]") {
  Broker broker(Broker::Options{.dynsec = true, .admin_user = "admin", .admin_password = "admin-secret",
                                .extra_config = ""});
  auto o = options_for(broker, "intruder");
  o.username = "admin";
  o.password = "wrong";
  Harness h(o);
  h.client->start();
  REQUIRE(h.run_until([&] { return h.count(LinkEvent::Kind::connect_failed) >= 2; }));
  const auto& why = h.events.front().reason;
  INFO(why);
  CHECK((why.find("not authorized") != std::string::npos ||
         why.find("bad user name or password") != std::string::npos));
  CHECK(h.events.front().retry_in > 0ms);
  CHECK_FALSE(h.client->connected());

  auto good = options_for(broker, "admin-client");
  good.username = "admin";
  good.password = "admin-secret";
  Harness ok(good);
  REQUIRE(ok.connect());
}

TEST_CASE("publish refuses with a clear reason when not connected or the queue is full", "[integration]") {
  Broker broker;
  auto o = options_for(broker, "flood");
  o.max_queued_bytes = 4096;
  Harness h(o);
  CHECK_FALSE(h.client->publish("t", "x", 1, false));
  CHECK(h.client->last_refusal() == "not connected");
  REQUIRE(h.connect());
  // Without running the io_context nothing leaves: the queue fills and publish says so.
  int accepted = 0;
  while (h.client->publish("flood/t", std::string(100, 'x'), 1, false) && accepted < 1000) ++accepted;
  CHECK(accepted < 1000);
  CHECK(h.client->last_refusal().find("outgoing queue full") != std::string::npos);
  REQUIRE(h.run_until([&] { return h.client->in_flight() == 0; }));
  CHECK(h.client->publish("flood/t", "again", 1, false));
  // A topic MQTT cannot carry is refused in words, and the link is unharmed.
  CHECK_FALSE(h.client->publish(std::string(70'000, 't'), "x", 1, false));
  CHECK(h.client->last_refusal() == "topic of 70000 bytes: MQTT allows 65,535");
  bool delivered = false;
  REQUIRE(h.client->publish("flood/t", "after", 1, false, [&](auto e) { delivered = !e; }));
  REQUIRE(h.run_until([&] { return delivered; }));
}

TEST_CASE("client options longer than MQTT allows are refused at construction, in words") {
  boost::asio::io_context io;
  kiosk::mqtt::ClientOptions o;
  o.url = "tcp://127.0.0.1:1";
  o.client_id = "terminal";
  o.username = std::string(70'000, 'u');
  CHECK_THROWS_WITH(kiosk::mqtt::Client(io, o, {}),
                    Catch::Contains("MQTT client options") && Catch::Contains("the limit is 65,535"));
  o.username.reset();
  o.subscriptions = {{std::string(70'000, 'f'), 1}};
  CHECK_THROWS_AS(kiosk::mqtt::Client(io, o, {}), std::invalid_argument);
}

TEST_CASE("the client connects over TLS with the venue CA and rejects an unknown one", "[integration]") {
  TempDir tmp;
  const auto pki = tmp / "pki";
  REQUIRE(run_kiosk_pki({"init", "--dir", pki.string(), "--venue", "hotel"}, tmp / "init.log") == 0);
  REQUIRE(run_kiosk_pki({"broker", "--dir", pki.string(), "--host", "localhost"}, tmp / "broker.log") == 0);
  REQUIRE(run_kiosk_pki({"device", "--dir", pki.string(), "--id", "desk-1"}, tmp / "device.log") == 0);
  const PortReservation tls_reserved;
  const int tls_port = tls_reserved.port();
  std::string conf = "listener " + std::to_string(tls_port) + " 127.0.0.1\n" + "cafile " + (pki / "ca.crt").string() +
                     "\n" + "certfile " + (pki / "broker.crt").string() + "\n" + "keyfile " +
                     (pki / "broker.key").string() + "\n" + "require_certificate true\n";
  Broker broker(Broker::Options{.dynsec = false, .admin_user = "", .admin_password = "", .extra_config = conf});
  REQUIRE(wait_until([&] { return port_accepts(tls_port); }, 10s));

  ClientOptions o;
  o.url = "ssl://127.0.0.1:" + std::to_string(tls_port);
  o.client_id = "tls-client";
  o.ca_file = (pki / "ca.crt").string();
  o.cert_file = (pki / "devices" / "desk-1.crt").string();
  o.key_file = (pki / "devices" / "desk-1.key").string();
  o.subscriptions = {{"tls/#", 1}};
  o.reconnect_min = 100ms;
  {
    Harness h(o);
    REQUIRE(h.connect());
    REQUIRE(h.run_until([&] {
      h.client->publish("tls/echo", "secret", 0, false);
      return h.got("tls/echo", "secret");
    }));
  }
  SECTION("without the venue CA the handshake fails") {
    auto bad = o;
    bad.ca_file.clear();  // the system store does not know the venue CA
    Harness h(bad);
    h.client->start();
    REQUIRE(h.run_until([&] { return h.count(LinkEvent::Kind::connect_failed) >= 1; }));
    CHECK(h.events.front().reason.find("TLS handshake failed") != std::string::npos);
  }
}
