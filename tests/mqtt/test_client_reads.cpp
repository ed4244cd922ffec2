// kiosk::mqtt::Client's read path against a scripted broker on loopback, where the test decides
// exactly which packets arrive together: PUBACKs of a read before its handlers, oversized PUBLISHes.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include "kiosk/mqtt/client.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
namespace mqtt = kiosk::mqtt;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

// Plays the broker for a client, one connection at a time: CONNACK to its CONNECT, and to its
// SUBSCRIBE a SUBACK with `suback_codes` followed by `after_subscribe` in the same write (so the
// client reads them together). Never acknowledges the client's PUBLISHes. Records the type of
// every packet the client sends, the id of each PUBACK and the DUP flag of each PUBLISH.
struct ScriptedBroker {
  tcp::acceptor acceptor;
  std::optional<tcp::socket> socket;
  mqtt::Decoder decoder;
  std::string after_subscribe;
  std::vector<std::uint8_t> suback_codes{1};
  std::vector<mqtt::PacketType> received;
  std::vector<std::uint16_t> pubacks;
  std::vector<bool> publish_dups;
  int connections = 0;

  explicit ScriptedBroker(asio::io_context& io) : acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)) {
    accept();
  }
  std::string url() const { return "tcp://127.0.0.1:" + std::to_string(acceptor.local_endpoint().port()); }
  bool got(mqtt::PacketType type) const { return count(type) > 0; }
  std::size_t count(mqtt::PacketType type) const { return std::count(received.begin(), received.end(), type); }
  // Closes the client's connection, as a broker restart would; the next one is accepted.
  void drop() {
    if (socket) socket->close();
  }

 private:
  void accept() {
    acceptor.async_accept([this](boost::system::error_code ec, tcp::socket s) {
      if (ec) return;
      drop();
      socket.emplace(std::move(s));
      decoder.reset();
      ++connections;
      read(&*socket);
      accept();
    });
  }
  void read(tcp::socket* from) {
    char* at = decoder.prepare(4096);
    from->async_read_some(asio::buffer(at, decoder.capacity_after_prepare()),
                          [this, from](boost::system::error_code ec, std::size_t n) {
                            if (ec || !socket || from != &*socket) return;
                            decoder.commit(n);
                            mqtt::Packet p;
                            while (decoder.next(p) == mqtt::Decoder::Status::packet) on_packet(p);
                            read(from);
                          });
  }
  void on_packet(const mqtt::Packet& p) {
    received.push_back(p.type());
    std::string out;
    if (p.type() == mqtt::PacketType::connect) mqtt::encode_connack(out, false, 0);
    if (p.type() == mqtt::PacketType::puback) pubacks.push_back(*mqtt::parse_packet_id(p));
    if (p.type() == mqtt::PacketType::publish) publish_dups.push_back(mqtt::parse_publish(p)->dup);
    if (p.type() == mqtt::PacketType::subscribe) {
      std::uint16_t id = 0;
      REQUIRE(mqtt::parse_subscribe(p, id));
      mqtt::encode_suback(out, id, suback_codes);
      out += after_subscribe;
    }
    if (out.empty()) return;
    auto bytes = std::make_shared<std::string>(std::move(out));
    asio::async_write(*socket, asio::buffer(*bytes), [bytes](boost::system::error_code, std::size_t) {});
  }
};

struct Seen {
  std::string topic;
  std::string payload;
  bool truncated = false;
  std::size_t payload_size = 0;
};

mqtt::ClientOptions options_for(const ScriptedBroker& broker) {
  mqtt::ClientOptions o;
  o.url = broker.url();
  o.client_id = "scripted";
  o.subscriptions = {{"#", 1}};
  o.keepalive = std::chrono::seconds(0);
  return o;
}

}  // namespace

TEST_CASE("the MQTT client acknowledges every QoS 1 PUBLISH of a read before its handlers run, and hands over "
          "all of them even when the first disconnects") {
  asio::io_context io;
  ScriptedBroker broker(io);
  for (std::uint16_t id : {11, 12, 13})
    mqtt::encode_publish(broker.after_subscribe, "t/" + std::to_string(id), "p", 1, false, false, id);
  std::vector<Seen> seen;
  std::unique_ptr<mqtt::Client> client;
  bool closed = false;
  client = std::make_unique<mqtt::Client>(
      io, options_for(broker),
      mqtt::Client::Handlers{[&](const mqtt::Message& m) {
                               seen.push_back({std::string(m.topic), std::string(m.payload), m.truncated, m.payload_size});
                               client->disconnect([&] { closed = true; });
                             },
                             {}});
  client->start();
  REQUIRE(run_io_until(io, [&] { return closed && broker.got(mqtt::PacketType::disconnect); }));
  // The handler of the first message closed the session; the other two were acknowledged all the
  // same (with their read), so the broker will not send them again: they are handed over too.
  CHECK(broker.pubacks == std::vector<std::uint16_t>{11, 12, 13});
  REQUIRE(seen.size() == 3);
  CHECK(seen[0].topic == "t/11");
  CHECK(seen[2].topic == "t/13");
  CHECK(seen[0].payload_size == 1);
  CHECK_FALSE(seen[0].truncated);
  // PUBACKs first, DISCONNECT last.
  CHECK(broker.received.back() == mqtt::PacketType::disconnect);
}

TEST_CASE("a packet that breaks the link in the middle of a read loses none of the publishes acknowledged with it") {
  // A broker breaking the protocol (a second CONNACK) between two QoS 1 publishes of one read: the
  // publish after it was acknowledged with the read, so it is handed over though the link is gone.
  // (The scripted broker writes SUBACK and these three in one write of a few dozen bytes, which
  // loopback delivers to one read, as in the test above.)
  asio::io_context io;
  ScriptedBroker broker(io);
  mqtt::encode_publish(broker.after_subscribe, "t/21", "before", 1, false, false, 21);
  mqtt::encode_connack(broker.after_subscribe, false, 0);
  mqtt::encode_publish(broker.after_subscribe, "t/22", "after", 1, false, false, 22);
  std::vector<std::string> seen;
  std::vector<mqtt::LinkEvent> events;
  mqtt::Client client(io, options_for(broker),
                      mqtt::Client::Handlers{[&](const mqtt::Message& m) { seen.emplace_back(m.payload); },
                                             [&](const mqtt::LinkEvent& e) { events.push_back(e); }});
  client.start();
  auto is_lost = [](const mqtt::LinkEvent& e) { return e.kind == mqtt::LinkEvent::Kind::lost; };
  REQUIRE(run_io_until(io, [&] {
    return seen.size() == 2 && broker.pubacks.size() == 2 && std::any_of(events.begin(), events.end(), is_lost);
  }));
  CHECK(seen == std::vector<std::string>{"before", "after"});
  CHECK(broker.pubacks == std::vector<std::uint16_t>{21, 22});
  CHECK_THAT(std::find_if(events.begin(), events.end(), is_lost)->reason, Catch::Contains("a second CONNACK"));
  client.disconnect({});
}

TEST_CASE("the MQTT client acknowledges an oversized PUBLISH and hands it over marked truncated with its size, and "
          "the link stays up") {
  asio::io_context io;
  ScriptedBroker broker(io);
  const std::string long_topic = "kiosk/v1/venue/device/" + std::string(100, 'd') + "/press";
  mqtt::encode_publish(broker.after_subscribe, "big/one", std::string(5000, 'x'), 1, false, false, 5);
  // Its topic alone is over the limit: still acknowledged, topic intact.
  mqtt::encode_publish(broker.after_subscribe, long_topic, std::string(200, 'y'), 1, false, false, 6);
  mqtt::encode_publish(broker.after_subscribe, "small/two", "ok", 1, false, false, 7);
  std::vector<Seen> seen;
  std::vector<mqtt::LinkEvent> events;
  auto o = options_for(broker);
  o.max_packet_bytes = 64;
  mqtt::Client client(io, o,
                      mqtt::Client::Handlers{[&](const mqtt::Message& m) {
                                               seen.push_back({std::string(m.topic), std::string(m.payload),
                                                               m.truncated, m.payload_size});
                                             },
                                             [&](const mqtt::LinkEvent& e) { events.push_back(e); }});
  client.start();
  REQUIRE(run_io_until(io, [&] { return seen.size() == 3 && broker.pubacks.size() == 3; }));
  CHECK(broker.pubacks == std::vector<std::uint16_t>{5, 6, 7});
  CHECK(seen[0].topic == "big/one");
  CHECK(seen[0].truncated);
  CHECK(seen[0].payload_size == 5000);
  CHECK(seen[0].payload.size() < 5000);
  CHECK(seen[1].topic == long_topic);
  CHECK(seen[1].truncated);
  CHECK(seen[1].payload_size == 200);
  CHECK(seen[2].topic == "small/two");
  CHECK(seen[2].payload == "ok");
  CHECK_FALSE(seen[2].truncated);
  CHECK(seen[2].payload_size == 2);
  CHECK(client.connected());
  REQUIRE(events.size() == 1);
  CHECK(events[0].kind == mqtt::LinkEvent::Kind::connected);
}

TEST_CASE("a clean-session client fails its unacknowledged QoS 1 publishes with the link and never sends them "
          "again; a persistent one sends them again with DUP") {
  for (const bool clean : {true, false}) {
    INFO("clean session: " << clean);
    asio::io_context io;
    ScriptedBroker broker(io);
    auto o = options_for(broker);
    o.clean_session = clean;
    o.reconnect_min = std::chrono::milliseconds(10);
    o.reconnect_max = std::chrono::milliseconds(20);
    std::vector<mqtt::LinkEvent> events;
    mqtt::Client client(io, o, mqtt::Client::Handlers{{}, [&](const mqtt::LinkEvent& e) { events.push_back(e); }});
    client.start();
    REQUIRE(run_io_until(io, [&] { return broker.got(mqtt::PacketType::subscribe); }));
    std::optional<std::optional<std::string>> outcome;
    REQUIRE(client.publish("cmd/set-password", "x", 1, false, [&](std::optional<std::string> e) { outcome = e; }));
    REQUIRE(run_io_until(io, [&] { return broker.got(mqtt::PacketType::publish); }));
    broker.drop();  // no PUBACK: the broker restarts
    // The client's re-sends go in the same write as its SUBSCRIBE, just before it.
    REQUIRE(run_io_until(io, [&] { return broker.count(mqtt::PacketType::subscribe) == 2; }));
    if (clean) {
      REQUIRE(outcome.has_value());
      REQUIRE(outcome->has_value());
      CHECK(outcome->value().rfind("link closed: ", 0) == 0);
      CHECK(broker.publish_dups == std::vector<bool>{false});
      CHECK(client.in_flight() == 0);
    } else {
      CHECK_FALSE(outcome.has_value());  // still waiting for its PUBACK
      CHECK(broker.publish_dups == std::vector<bool>{false, true});
      CHECK(client.in_flight() == 1);
    }
  }
}

TEST_CASE("a SUBACK refusing a subscription is reported with the refused filters, and the link stays up") {
  asio::io_context io;
  ScriptedBroker broker(io);
  broker.suback_codes = {1, 0x80, 0x80};
  auto o = options_for(broker);
  o.subscriptions = {{"kiosk/v1/s/device/+/press", 1}, {"kiosk/v1/s/alert/+/ack", 1}, {"other/#", 0}};
  std::vector<mqtt::LinkEvent> events;
  mqtt::Client client(io, o, mqtt::Client::Handlers{{}, [&](const mqtt::LinkEvent& e) { events.push_back(e); }});
  client.start();
  REQUIRE(run_io_until(io, [&] { return events.size() == 2; }));
  CHECK(events[0].kind == mqtt::LinkEvent::Kind::connected);
  CHECK(events[1].kind == mqtt::LinkEvent::Kind::subscription_refused);
  CHECK(events[1].reason == "kiosk/v1/s/alert/+/ack, other/#");
  CHECK(events[1].filters == std::vector<std::string>{"kiosk/v1/s/alert/+/ack", "other/#"});
  CHECK(client.connected());
}

TEST_CASE("a second disconnect while the first is under way waits for the same DISCONNECT, and both hear of it") {
  asio::io_context io;
  ScriptedBroker broker(io);
  mqtt::Client client(io, options_for(broker), mqtt::Client::Handlers{});
  client.start();
  REQUIRE(run_io_until(io, [&] { return client.connected(); }));
  int done = 0;
  client.disconnect([&] { ++done; });
  client.disconnect([&] { ++done; });
  REQUIRE(run_io_until(io, [&] { return done == 2; }));
  // The DISCONNECT went out whole: the broker did not see the link cut without it (it would send the Will).
  REQUIRE(run_io_until(io, [&] { return broker.got(mqtt::PacketType::disconnect); }));
  CHECK_FALSE(client.connected());
}
