// The MQTT 3.1.1 codec: encodings byte for byte, round trips, and the decoder on split,
// joined, malformed and oversized input.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "kiosk/mqtt/codec.hpp"

using namespace kiosk::mqtt;

namespace {

std::vector<Packet> decode_all(Decoder& d, std::vector<std::string>& copies) {
  std::vector<Packet> out;
  Packet p;
  while (d.next(p) == Decoder::Status::packet) {
    // Views die with the next feed: keep a copy of each body.
    copies.emplace_back(p.body);
    out.push_back(Packet{p.header, {}});
  }
  return out;
}

// Decodes exactly one whole packet from `bytes`; the view stays valid while `d` is untouched.
Packet decode_one(Decoder& d, const std::string& bytes) {
  d.feed(bytes);
  Packet p;
  REQUIRE(d.next(p) == Decoder::Status::packet);
  return p;
}

std::string sample_stream() {
  std::string s;
  encode_publish(s, "kiosk/v1/hotel/device/desk-1/press", R"({"seq":1,"rating":4})", 1, false, false, 7);
  encode_puback(s, 9);
  encode_publish(s, "a/b", "", 0, true);
  encode_pingreq(s);
  encode_publish(s, "big", std::string(300, 'x'), 1, false, true, 65535);
  return s;
}

}  // namespace

TEST_CASE("a PUBLISH is encoded byte for byte as MQTT 3.1.1 says") {
  std::string out;
  encode_publish(out, "a/b", "hi", 1, true, false, 0x0102);
  REQUIRE(out == std::string("\x33\x09\x00\x03" "a/b" "\x01\x02" "hi", 11));
  out.clear();
  encode_publish(out, "t", "p", 0, false);
  REQUIRE(out == std::string("\x30\x04\x00\x01tp", 6));
}

TEST_CASE("CONNECT carries clean session, keepalive, credentials and the Will") {
  ConnectRequest r;
  r.client_id = "hub-1";
  r.clean_session = false;
  r.keepalive_s = 20;
  r.username = "hub";
  r.password = "secret";
  r.will = Will{"kiosk/v1/hotel/hub/status", R"({"state":"offline"})", 1, true};
  std::string out;
  encode_connect(out, r);
  Decoder d;
  Packet p = decode_one(d, out);
  auto c = parse_connect(p);
  REQUIRE(c);
  CHECK(c->protocol_name == "MQTT");
  CHECK(c->protocol_level == 4);
  CHECK(c->client_id == "hub-1");
  CHECK_FALSE(c->clean_session);
  CHECK(c->keepalive_s == 20);
  CHECK(c->username == std::optional<std::string_view>("hub"));
  CHECK(c->password == std::optional<std::string_view>("secret"));
  CHECK(c->will_topic == std::optional<std::string_view>("kiosk/v1/hotel/hub/status"));
  CHECK(c->will_payload == std::optional<std::string_view>(R"({"state":"offline"})"));
  CHECK(c->will_qos == 1);
  CHECK(c->will_retain);
}

TEST_CASE("a CONNECT without Will or credentials sets only clean session") {
  std::string out;
  encode_connect(out, ConnectRequest{"c", true, 0, std::nullopt, std::nullopt, std::nullopt});
  REQUIRE(out == std::string("\x10\x0d\x00\x04MQTT\x04\x02\x00\x00\x00\x01" "c", 15));
}

TEST_CASE("PUBLISH round trips with qos, retain, dup and packet id") {
  for (int qos : {0, 1}) {
    for (bool retain : {false, true}) {
      std::string out;
      encode_publish(out, "x/y", "payload", qos, retain, qos == 1, qos ? 42 : 0);
      Decoder d;
      Packet p = decode_one(d, out);
      auto m = parse_publish(p);
      REQUIRE(m);
      CHECK(m->topic == "x/y");
      CHECK(m->payload == "payload");
      CHECK(m->qos == qos);
      CHECK(m->retain == retain);
      CHECK(m->dup == (qos == 1));
      CHECK(m->packet_id == (qos ? 42 : 0));
    }
  }
}

TEST_CASE("mark_dup sets the DUP flag of an encoded PUBLISH and nothing else") {
  std::string out;
  encode_publish(out, "t", "p", 1, true, false, 5);
  mark_dup(out);
  Decoder d;
  Packet p = decode_one(d, out);
  auto m = parse_publish(p);
  REQUIRE(m);
  CHECK(m->dup);
  CHECK(m->retain);
  CHECK(m->qos == 1);
  CHECK(m->packet_id == 5);
}

TEST_CASE("SUBSCRIBE, SUBACK, PUBACK, CONNACK, UNSUBSCRIBE round trip") {
  std::string out;
  encode_subscribe(out, 3, {{"a/+/press", 1}, {"b/#", 0}});
  encode_suback(out, 3, {1, 0x80});
  encode_puback(out, 65535);
  encode_connack(out, true, 5);
  encode_unsubscribe(out, 4, {"a/+/press"});
  encode_disconnect(out);
  Decoder d;
  Packet p = decode_one(d, out);
  std::uint16_t id = 0;
  auto subs = parse_subscribe(p, id);
  REQUIRE(subs);
  CHECK(id == 3);
  REQUIRE(subs->size() == 2);
  CHECK((*subs)[0].filter == "a/+/press");
  CHECK((*subs)[1].qos == 0);
  REQUIRE(d.next(p) == Decoder::Status::packet);
  auto suback = parse_suback(p);
  REQUIRE(suback);
  CHECK(suback->packet_id == 3);
  CHECK(suback->granted == std::vector<std::uint8_t>{1, 0x80});
  REQUIRE(d.next(p) == Decoder::Status::packet);
  CHECK(p.type() == PacketType::puback);
  CHECK(*parse_packet_id(p) == 65535);
  REQUIRE(d.next(p) == Decoder::Status::packet);
  auto ack = parse_connack(p);
  REQUIRE(ack);
  CHECK(ack->session_present);
  CHECK(ack->return_code == 5);
  CHECK(connack_reason(ack->return_code) == "not authorized");
  CHECK(connack_reason(4) == "bad user name or password");
  REQUIRE(d.next(p) == Decoder::Status::packet);
  CHECK(p.type() == PacketType::unsubscribe);
  CHECK(p.flags() == 2);
  REQUIRE(d.next(p) == Decoder::Status::packet);
  CHECK(p.type() == PacketType::disconnect);
  CHECK(p.body.empty());
  CHECK(d.next(p) == Decoder::Status::need_more);
}

TEST_CASE("a stream split at every byte boundary decodes to the same packets") {
  const auto stream = sample_stream();
  std::vector<std::string> expected_bodies;
  Decoder whole;
  whole.feed(stream);
  auto expected = decode_all(whole, expected_bodies);
  REQUIRE(expected.size() == 5);
  for (std::size_t cut = 1; cut < stream.size(); ++cut) {
    Decoder d;
    std::vector<std::string> bodies;
    d.feed(std::string_view(stream).substr(0, cut));
    auto got = decode_all(d, bodies);
    d.feed(std::string_view(stream).substr(cut));
    auto rest = decode_all(d, bodies);
    got.insert(got.end(), rest.begin(), rest.end());
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      CHECK(got[i].header == expected[i].header);
      CHECK(bodies[i] == expected_bodies[i]);
    }
    CHECK(d.buffered() == 0);
  }
}

TEST_CASE("a stream fed one byte at a time decodes every packet") {
  const auto stream = sample_stream();
  Decoder d;
  std::vector<std::string> bodies;
  std::size_t count = 0;
  for (char c : stream) {
    d.feed(std::string_view(&c, 1));
    count += decode_all(d, bodies).size();
  }
  CHECK(count == 5);
  CHECK(bodies[4] == std::string("\x00\x03" "big" "\xff\xff", 7) + std::string(300, 'x'));
}

TEST_CASE("many packets in one chunk all come out of one feed") {
  std::string stream;
  for (int i = 1; i <= 1000; ++i) encode_puback(stream, static_cast<std::uint16_t>(i));
  Decoder d;
  d.feed(stream);
  Packet p;
  int n = 0;
  while (d.next(p) == Decoder::Status::packet) {
    ++n;
    REQUIRE(*parse_packet_id(p) == n);
  }
  CHECK(n == 1000);
}

TEST_CASE("prepare and commit read straight into the decoder") {
  std::string stream;
  encode_publish(stream, "t", "abc", 0, false);
  Decoder d;
  char* at = d.prepare(4096);
  REQUIRE(d.capacity_after_prepare() >= 4096);
  std::copy(stream.begin(), stream.end(), at);
  d.commit(stream.size());
  Packet p;
  REQUIRE(d.next(p) == Decoder::Status::packet);
  CHECK(parse_publish(p)->payload == "abc");
}

TEST_CASE("remaining lengths of 1 to 4 bytes decode at their limits") {
  for (std::size_t len : {0u, 127u, 128u, 16383u, 16384u, 2097151u, 2097152u}) {
    std::string out;
    encode_publish(out, "t", std::string(len, 'p'), 0, false);
    Decoder d(kMaxRemainingLength);
    d.feed(out);
    Packet p;
    REQUIRE(d.next(p) == Decoder::Status::packet);
    CHECK(parse_publish(p)->payload.size() == len);
  }
}

TEST_CASE("a remaining length of more than four bytes is rejected as malformed") {
  Decoder d;
  d.feed(std::string("\x30\xff\xff\xff\xff\x01", 6));
  Packet p;
  REQUIRE(d.next(p) == Decoder::Status::failed);
  CHECK(d.error().find("malformed remaining length") != std::string::npos);
  // The stream cannot be resynchronised: it stays failed.
  d.feed(std::string("\xc0\x00", 2));
  CHECK(d.next(p) == Decoder::Status::failed);
}

TEST_CASE("a packet other than PUBLISH over the size limit is rejected before its body arrives") {
  Decoder d(1024);
  std::string out(1, '\x90');  // SUBACK claiming 2000 bytes
  out += std::string("\xd0\x0f", 2);
  d.feed(out);
  Packet p;
  REQUIRE(d.next(p) == Decoder::Status::failed);
  CHECK(d.error().find("over the limit of 1024") != std::string::npos);
}

TEST_CASE("an oversized PUBLISH comes out truncated with its topic and id, and the stream stays in step") {
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
    Decoder d(1024);
    std::string out;
    encode_publish(out, "kiosk/v1/s/device/d-1/press", std::string(5000, 'x'), 1, false, false, 42);
    encode_publish(out, "next", "ok", 0, false);
    std::vector<Packet> packets;
    std::vector<std::string> copies;
    for (std::size_t at = 0; at < out.size(); at += chunk) {
      d.feed(out.substr(at, chunk));
      Packet p;
      while (d.next(p) == Decoder::Status::packet) {
        copies.emplace_back(p.body);
        p.body = copies.back();
        packets.push_back(p);
      }
    }
    INFO("chunk " << chunk);
    REQUIRE(packets.size() == 2);
    CHECK(packets[0].truncated);
    CHECK(packets[0].body.size() == 1024);
    auto big = parse_publish(Packet{packets[0].header, copies[0]});
    REQUIRE(big);
    CHECK(big->topic == "kiosk/v1/s/device/d-1/press");
    CHECK(big->packet_id == 42);
    CHECK_FALSE(packets[1].truncated);
    auto next = parse_publish(Packet{packets[1].header, copies[1]});
    REQUIRE(next);
    CHECK(next->topic == "next");
    CHECK(next->payload == "ok");
    CHECK(d.buffered() == 0);
  }
}

TEST_CASE("a truncated PUBLISH parses with its payload's size as published, a whole one with its own") {
  Decoder d(1024);
  std::string out;
  encode_publish(out, "kiosk/v1/s/device/d-1/press", std::string(5000, 'x'), 1, false, false, 42);
  encode_publish(out, "kiosk/v1/s/device/d-1/press", "whole", 1, false, false, 43);
  d.feed(out);
  Packet p;
  REQUIRE(d.next(p) == Decoder::Status::packet);
  REQUIRE(p.truncated);
  CHECK(p.length == 2 + 27 + 2 + 5000);
  auto big = parse_publish(p);
  REQUIRE(big);
  CHECK(big->truncated);
  CHECK(big->payload_size == 5000);
  CHECK(big->payload.size() == 1024 - 2 - 27 - 2);
  CHECK(big->packet_id == 42);
  REQUIRE(d.next(p) == Decoder::Status::packet);
  auto small = parse_publish(p);
  REQUIRE(small);
  CHECK_FALSE(small->truncated);
  CHECK(small->payload == "whole");
  CHECK(small->payload_size == 5);
}

TEST_CASE("a PUBLISH over a limit smaller than its topic keeps its topic and packet id, so it can be acknowledged") {
  const std::string topic = "kiosk/v1/venue/device/" + std::string(100, 'd') + "/press";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{5}, std::size_t{4096}}) {
    INFO("chunk " << chunk);
    Decoder d(16);
    std::string out;
    encode_publish(out, topic, std::string(300, 'y'), 1, false, false, 7);
    encode_publish(out, "t", "ok", 0, false);
    std::vector<Publish> got;
    std::vector<std::string> topics;  // the views die with the next feed
    for (std::size_t at = 0; at < out.size(); at += chunk) {
      d.feed(out.substr(at, chunk));
      Packet p;
      Decoder::Status status;
      while ((status = d.next(p)) == Decoder::Status::packet) {
        auto m = parse_publish(p);
        REQUIRE(m);
        topics.emplace_back(m->topic);
        got.push_back(*m);
      }
      REQUIRE(status == Decoder::Status::need_more);
    }
    REQUIRE(got.size() == 2);
    CHECK(topics[0] == topic);
    CHECK(got[0].packet_id == 7);
    CHECK(got[0].truncated);
    CHECK(got[0].payload_size == 300);
    CHECK(topics[1] == "t");
    CHECK_FALSE(got[1].truncated);
    CHECK(d.buffered() == 0);
  }
}

TEST_CASE("a half-received remaining length waits for more bytes") {
  Decoder d;
  d.feed(std::string("\x30\x80", 2));
  Packet p;
  CHECK(d.next(p) == Decoder::Status::need_more);
  d.feed(std::string("\x01", 1));
  CHECK(d.next(p) == Decoder::Status::need_more);  // 128-byte body not there yet
}

TEST_CASE("truncated or invalid packet bodies are errors, not half-filled values") {
  CHECK_FALSE(parse_publish(Packet{0x32, std::string_view("\x00\x05" "ab", 4)}));
  CHECK_FALSE(parse_publish(Packet{0x32, std::string_view("\x00\x01" "a", 3)}));       // no packet id
  CHECK_FALSE(parse_publish(Packet{0x32, std::string_view("\x00\x01" "a\x00\x00", 5)}));  // id 0
  CHECK_FALSE(parse_publish(Packet{0x36, std::string_view("\x00\x01" "a\x00\x01", 5)}));  // qos 3
  CHECK_FALSE(parse_connack(Packet{0x20, std::string_view("\x00", 1)}));
  CHECK_FALSE(parse_packet_id(Packet{0x40, std::string_view("\x00", 1)}));
  CHECK_FALSE(parse_suback(Packet{0x90, std::string_view("\x00\x01", 2)}));
  CHECK(parse_publish(Packet{0x32, std::string_view("\x00\x01" "a", 3)}).error().message() ==
        "publish.packet_id: truncated");
}

TEST_CASE("a field or packet longer than MQTT can express throws and leaves the buffer as it was") {
  std::string out = "queued";
  const std::string long_topic(kMaxStringLength + 1, 't');
  CHECK_THROWS_AS(encode_publish(out, long_topic, "p", 1, false, false, 7), std::length_error);
  CHECK(out == "queued");
  ConnectRequest r;
  r.client_id = "terminal";
  r.password = std::string(70'000, 'x');
  CHECK_THROWS_AS(encode_connect(out, r), std::length_error);
  CHECK_THROWS_AS(encode_subscribe(out, 3, {{"ok/#", 1}, {long_topic, 1}}), std::length_error);
  CHECK(out == "queued");
  // At the limit it still encodes and decodes.
  const std::string topic(kMaxStringLength, 't');
  encode_publish(out, topic, "p", 1, false, false, 7);
  Decoder d(1 << 20);
  d.feed(std::string_view(out).substr(6));
  Packet p;
  REQUIRE(d.next(p) == Decoder::Status::packet);
  CHECK(parse_publish(p)->topic.size() == kMaxStringLength);

  CHECK_FALSE(publish_too_long(topic, 10, 1));
  CHECK(*publish_too_long(long_topic, 10, 1) == "topic of 65536 bytes: MQTT allows 65,535");
  CHECK(publish_too_long("t", kMaxRemainingLength, 0)->find("over MQTT's packet limit") != std::string::npos);
  CHECK_FALSE(publish_too_long("t", kMaxRemainingLength - 3, 0));
}
