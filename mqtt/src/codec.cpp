// MQTT 3.1.1 packet encoding and the incremental decoder (spec sections 2 and 3).
#include "kiosk/mqtt/codec.hpp"

#include <algorithm>
#include <cstring>
#include <exception>
#include <stdexcept>

namespace kiosk::mqtt {

namespace {

void put8(std::string& out, std::uint8_t v) { out.push_back(static_cast<char>(v)); }
void put16(std::string& out, std::size_t v) {
  out.push_back(static_cast<char>((v >> 8) & 0xff));
  out.push_back(static_cast<char>(v & 0xff));
}
void put_str(std::string& out, std::string_view s) {
  if (s.size() > kMaxStringLength)
    throw std::length_error("MQTT string of " + std::to_string(s.size()) + " bytes: the limit is 65,535");
  put16(out, s.size());
  out.append(s);
}
void put_length(std::string& out, std::size_t len) {
  if (len > kMaxRemainingLength)
    throw std::length_error("MQTT packet of " + std::to_string(len) + " bytes: the limit is 268,435,455");
  do {
    auto byte = static_cast<std::uint8_t>(len % 128);
    len /= 128;
    if (len > 0) byte |= 0x80;
    put8(out, byte);
  } while (len > 0);
}
std::size_t str_size(std::string_view s) { return 2 + s.size(); }

// An encoder that throws half way leaves `out` as it found it: `out` is a write queue.
class Rollback {
 public:
  explicit Rollback(std::string& out) : out_(out), mark_(out.size()), exceptions_(std::uncaught_exceptions()) {}
  ~Rollback() {
    if (std::uncaught_exceptions() > exceptions_) out_.resize(mark_);
  }
  Rollback(const Rollback&) = delete;
  Rollback& operator=(const Rollback&) = delete;

 private:
  std::string& out_;
  std::size_t mark_;
  int exceptions_;
};

// Reads fields of a packet body in order; any overrun turns it failed.
class Reader {
 public:
  explicit Reader(std::string_view body) : body_(body) {}
  bool u8(std::uint8_t& v) {
    if (pos_ + 1 > body_.size()) return fail();
    v = static_cast<std::uint8_t>(body_[pos_++]);
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (pos_ + 2 > body_.size()) return fail();
    v = static_cast<std::uint16_t>((static_cast<std::uint8_t>(body_[pos_]) << 8) |
                                   static_cast<std::uint8_t>(body_[pos_ + 1]));
    pos_ += 2;
    return true;
  }
  bool str(std::string_view& v) {
    std::uint16_t n = 0;
    if (!u16(n)) return false;
    if (pos_ + n > body_.size()) return fail();
    v = body_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  std::string_view rest() {
    auto r = body_.substr(pos_);
    pos_ = body_.size();
    return r;
  }
  bool at_end() const { return pos_ == body_.size(); }

 private:
  bool fail() {
    pos_ = body_.size();
    return false;
  }
  std::string_view body_;
  std::size_t pos_ = 0;
};

Error malformed(std::string_view what, std::string reason) { return Error{std::string(what), std::move(reason)}; }

}  // namespace

void encode_connect(std::string& out, const ConnectRequest& r) {
  Rollback rollback(out);
  std::size_t len = str_size("MQTT") + 1 + 1 + 2 + str_size(r.client_id);
  std::uint8_t flags = r.clean_session ? 0x02 : 0x00;
  if (r.will) {
    len += str_size(r.will->topic) + str_size(r.will->payload);
    flags |= 0x04 | static_cast<std::uint8_t>((r.will->qos & 3) << 3) | (r.will->retain ? 0x20 : 0);
  }
  if (r.username) {
    len += str_size(*r.username);
    flags |= 0x80;
  }
  if (r.password) {
    len += str_size(*r.password);
    flags |= 0x40;
  }
  put8(out, 0x10);
  put_length(out, len);
  put_str(out, "MQTT");
  put8(out, 4);  // protocol level 3.1.1
  put8(out, flags);
  put16(out, r.keepalive_s);
  put_str(out, r.client_id);
  if (r.will) {
    put_str(out, r.will->topic);
    put_str(out, r.will->payload);
  }
  if (r.username) put_str(out, *r.username);
  if (r.password) put_str(out, *r.password);
}

std::optional<std::string> publish_too_long(std::string_view topic, std::size_t payload_size, int qos) {
  if (topic.size() > kMaxStringLength)
    return "topic of " + std::to_string(topic.size()) + " bytes: MQTT allows 65,535";
  if (str_size(topic) + (qos > 0 ? 2 : 0) + payload_size > kMaxRemainingLength)
    return "message of " + std::to_string(payload_size) + " bytes: over MQTT's packet limit of 268,435,455";
  return std::nullopt;
}

void encode_publish(std::string& out, std::string_view topic, std::string_view payload, int qos, bool retain,
                    bool dup, std::uint16_t packet_id) {
  Rollback rollback(out);
  std::size_t len = str_size(topic) + (qos > 0 ? 2 : 0) + payload.size();
  put8(out, static_cast<std::uint8_t>(0x30 | (dup ? 0x08 : 0) | ((qos & 3) << 1) | (retain ? 1 : 0)));
  put_length(out, len);
  put_str(out, topic);
  if (qos > 0) put16(out, packet_id);
  out.append(payload);
}

void encode_puback(std::string& out, std::uint16_t packet_id) {
  put8(out, 0x40);
  put8(out, 2);
  put16(out, packet_id);
}

void encode_subscribe(std::string& out, std::uint16_t packet_id, const std::vector<Subscription>& subscriptions) {
  Rollback rollback(out);
  std::size_t len = 2;
  for (const auto& s : subscriptions) len += str_size(s.filter) + 1;
  put8(out, 0x82);
  put_length(out, len);
  put16(out, packet_id);
  for (const auto& s : subscriptions) {
    put_str(out, s.filter);
    put8(out, static_cast<std::uint8_t>(s.qos & 3));
  }
}

void encode_unsubscribe(std::string& out, std::uint16_t packet_id, const std::vector<std::string>& filters) {
  Rollback rollback(out);
  std::size_t len = 2;
  for (const auto& f : filters) len += str_size(f);
  put8(out, 0xa2);
  put_length(out, len);
  put16(out, packet_id);
  for (const auto& f : filters) put_str(out, f);
}

void encode_pingreq(std::string& out) { out.append("\xc0\x00", 2); }
void encode_pingresp(std::string& out) { out.append("\xd0\x00", 2); }
void encode_disconnect(std::string& out) { out.append("\xe0\x00", 2); }

void encode_connack(std::string& out, bool session_present, std::uint8_t return_code) {
  put8(out, 0x20);
  put8(out, 2);
  put8(out, session_present ? 1 : 0);
  put8(out, return_code);
}

void encode_suback(std::string& out, std::uint16_t packet_id, const std::vector<std::uint8_t>& granted) {
  put8(out, 0x90);
  put_length(out, 2 + granted.size());
  put16(out, packet_id);
  for (auto g : granted) put8(out, g);
}

void mark_dup(std::string& encoded_publish) {
  if (!encoded_publish.empty()) encoded_publish[0] = static_cast<char>(encoded_publish[0] | 0x08);
}

Result<Connack> parse_connack(const Packet& p) {
  if (p.type() != PacketType::connack) return malformed("connack", "not a CONNACK");
  if (p.body.size() != 2) return malformed("connack", "remaining length must be 2");
  Connack c;
  c.session_present = (static_cast<std::uint8_t>(p.body[0]) & 1) != 0;
  c.return_code = static_cast<std::uint8_t>(p.body[1]);
  return c;
}

Result<Publish> parse_publish(const Packet& p) {
  if (p.type() != PacketType::publish) return malformed("publish", "not a PUBLISH");
  Publish m;
  m.qos = (p.flags() >> 1) & 3;
  m.retain = (p.flags() & 1) != 0;
  m.dup = (p.flags() & 8) != 0;
  if (m.qos == 3) return malformed("publish.qos", "3 is not a QoS");
  Reader r(p.body);
  if (!r.str(m.topic)) return malformed("publish.topic", "truncated");
  if (m.topic.empty()) return malformed("publish.topic", "empty");
  if (m.qos > 0) {
    if (!r.u16(m.packet_id)) return malformed("publish.packet_id", "truncated");
    if (m.packet_id == 0) return malformed("publish.packet_id", "0 is not a packet id");
  }
  m.payload = r.rest();
  m.truncated = p.truncated;
  m.payload_size = m.payload.size() + (p.truncated && p.length > p.body.size() ? p.length - p.body.size() : 0);
  return m;
}

Result<std::uint16_t> parse_packet_id(const Packet& p) {
  if (p.body.size() != 2) return malformed("packet_id", "remaining length must be 2");
  std::uint16_t id = 0;
  Reader r(p.body);
  r.u16(id);
  return id;
}

Result<Suback> parse_suback(const Packet& p) {
  if (p.type() != PacketType::suback) return malformed("suback", "not a SUBACK");
  Suback s;
  Reader r(p.body);
  if (!r.u16(s.packet_id)) return malformed("suback.packet_id", "truncated");
  for (char c : r.rest()) s.granted.push_back(static_cast<std::uint8_t>(c));
  if (s.granted.empty()) return malformed("suback", "no return codes");
  return s;
}

Result<Connect> parse_connect(const Packet& p) {
  if (p.type() != PacketType::connect) return malformed("connect", "not a CONNECT");
  Connect c;
  Reader r(p.body);
  std::uint8_t flags = 0;
  if (!r.str(c.protocol_name) || !r.u8(c.protocol_level) || !r.u8(flags) || !r.u16(c.keepalive_s) ||
      !r.str(c.client_id))
    return malformed("connect", "truncated");
  c.clean_session = (flags & 0x02) != 0;
  if (flags & 0x04) {
    std::string_view topic, payload;
    if (!r.str(topic) || !r.str(payload)) return malformed("connect.will", "truncated");
    c.will_topic = topic;
    c.will_payload = payload;
    c.will_qos = (flags >> 3) & 3;
    c.will_retain = (flags & 0x20) != 0;
  }
  if (flags & 0x80) {
    std::string_view v;
    if (!r.str(v)) return malformed("connect.username", "truncated");
    c.username = v;
  }
  if (flags & 0x40) {
    std::string_view v;
    if (!r.str(v)) return malformed("connect.password", "truncated");
    c.password = v;
  }
  if (!r.at_end()) return malformed("connect", "trailing bytes");
  return c;
}

Result<std::vector<Subscription>> parse_subscribe(const Packet& p, std::uint16_t& packet_id) {
  if (p.type() != PacketType::subscribe || p.flags() != 2) return malformed("subscribe", "not a SUBSCRIBE");
  Reader r(p.body);
  if (!r.u16(packet_id)) return malformed("subscribe.packet_id", "truncated");
  std::vector<Subscription> subs;
  while (!r.at_end()) {
    std::string_view filter;
    std::uint8_t qos = 0;
    if (!r.str(filter) || !r.u8(qos)) return malformed("subscribe.filter", "truncated");
    subs.push_back(Subscription{std::string(filter), qos});
  }
  if (subs.empty()) return malformed("subscribe", "no filters");
  return subs;
}

std::string connack_reason(std::uint8_t code) {
  switch (code) {
    case 0: return "accepted";
    case 1: return "unacceptable protocol version";
    case 2: return "client identifier rejected";
    case 3: return "server unavailable";
    case 4: return "bad user name or password";
    case 5: return "not authorized";
    default: return "refused with unknown code " + std::to_string(code);
  }
}

// ---- Decoder ---------------------------------------------------------------------------------

char* Decoder::prepare(std::size_t n) {
  if (begin_ == end_) begin_ = end_ = 0;
  if (buffer_.size() - end_ < n) {
    // Move the unparsed tail to the front before growing: the buffer stays about one read big.
    if (begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (buffer_.size() - end_ < n) buffer_.resize(end_ + n);
  }
  return buffer_.data() + end_;
}

void Decoder::feed(std::string_view chunk) {
  std::memcpy(prepare(chunk.size()), chunk.data(), chunk.size());
  commit(chunk.size());
}

void Decoder::reset() {
  begin_ = end_ = skip_ = 0;
  error_.clear();
}

Decoder::Status Decoder::next(Packet& packet) {
  if (!error_.empty()) return Status::failed;
  if (skip_ > 0) {
    const std::size_t dropped = std::min(skip_, end_ - begin_);
    begin_ += dropped;
    skip_ -= dropped;
    if (skip_ > 0) return Status::need_more;
  }
  std::size_t avail = end_ - begin_;
  if (avail < 2) return Status::need_more;
  const auto* p = reinterpret_cast<const std::uint8_t*>(buffer_.data() + begin_);
  std::size_t len = 0;
  std::size_t i = 1;
  for (std::size_t shift = 0;; shift += 7, ++i) {
    if (i > 4) {
      error_ = "malformed remaining length (more than 4 bytes)";
      return Status::failed;
    }
    if (i >= avail) return Status::need_more;
    len |= static_cast<std::size_t>(p[i] & 0x7f) << shift;
    if (!(p[i] & 0x80)) break;
  }
  ++i;  // header byte + length bytes
  if (len > max_packet_ && static_cast<PacketType>(p[0] >> 4) != PacketType::publish) {
    error_ = "packet of " + std::to_string(len) + " bytes is over the limit of " + std::to_string(max_packet_);
    return Status::failed;
  }
  std::size_t kept = len;
  if (len > max_packet_ && len >= 2) {
    // Keep the topic and packet id whatever the limit: without them it could not be acknowledged.
    if (avail - i < 2) return Status::need_more;
    const std::size_t topic_size = (static_cast<std::size_t>(p[i]) << 8) | p[i + 1];
    kept = std::min(len, std::max(max_packet_, 2 + topic_size + 2));
  }
  if (avail - i < kept) return Status::need_more;
  packet.header = p[0];
  packet.body = std::string_view(buffer_.data() + begin_ + i, kept);
  packet.truncated = kept < len;
  packet.length = len;
  begin_ += i + kept;
  skip_ = len - kept;
  return Status::packet;
}

}  // namespace kiosk::mqtt
