// MQTT 3.1.1 packets without I/O: encoders that append to a buffer, and an incremental decoder
// that turns arbitrary byte chunks into complete packets (views into its own buffer).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/protocol/result.hpp"

namespace kiosk::mqtt {

using protocol::Error;
using protocol::Result;

enum class PacketType : std::uint8_t {
  connect = 1,
  connack = 2,
  publish = 3,
  puback = 4,
  pubrec = 5,
  pubrel = 6,
  pubcomp = 7,
  subscribe = 8,
  suback = 9,
  unsubscribe = 10,
  unsuback = 11,
  pingreq = 12,
  pingresp = 13,
  disconnect = 14,
};

// The largest remaining length MQTT can express (four length bytes).
constexpr std::size_t kMaxRemainingLength = 268'435'455;
// The longest string field (topic, client id, user name, password, Will): a 16-bit length.
constexpr std::size_t kMaxStringLength = 65'535;

// Why a PUBLISH of this topic and payload cannot be encoded (too long for MQTT), or nullopt.
std::optional<std::string> publish_too_long(std::string_view topic, std::size_t payload_size, int qos);

struct Will {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retain = false;
};

struct ConnectRequest {
  std::string client_id;
  bool clean_session = true;
  std::uint16_t keepalive_s = 0;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<Will> will;
};

struct Subscription {
  std::string filter;
  int qos = 1;
};

// Encoders append one whole packet to `out`, so a write queue coalesces packets without copies.
// A field or packet longer than MQTT can express throws std::length_error (check first:
// publish_too_long), never a packet whose lengths wrap around and garble the stream.
void encode_connect(std::string& out, const ConnectRequest& request);
void encode_publish(std::string& out, std::string_view topic, std::string_view payload, int qos, bool retain,
                    bool dup = false, std::uint16_t packet_id = 0);
void encode_puback(std::string& out, std::uint16_t packet_id);
void encode_subscribe(std::string& out, std::uint16_t packet_id, const std::vector<Subscription>& subscriptions);
void encode_unsubscribe(std::string& out, std::uint16_t packet_id, const std::vector<std::string>& filters);
void encode_pingreq(std::string& out);
void encode_disconnect(std::string& out);
// Broker-side packets: for tests and tools that play the broker.
void encode_connack(std::string& out, bool session_present, std::uint8_t return_code);
void encode_suback(std::string& out, std::uint16_t packet_id, const std::vector<std::uint8_t>& granted);
void encode_pingresp(std::string& out);

// Sets the DUP flag of an encoded PUBLISH (a resend after reconnect, MQTT 3.1.1 §4.4).
void mark_dup(std::string& encoded_publish);

// One complete packet: the first header byte and the body after the remaining length.
struct Packet {
  std::uint8_t header = 0;
  std::string_view body;
  // An oversized PUBLISH: body is only its first max_packet_bytes (topic and packet id intact, the
  // payload cut short); the rest was skipped so the link stays in step and can acknowledge it.
  bool truncated = false;
  // The remaining length as sent: body.size() unless truncated.
  std::size_t length = 0;
  PacketType type() const { return static_cast<PacketType>(header >> 4); }
  std::uint8_t flags() const { return header & 0x0f; }
};

struct Connack {
  bool session_present = false;
  std::uint8_t return_code = 0;
};

struct Publish {
  std::string_view topic;
  std::string_view payload;
  int qos = 0;
  bool retain = false;
  bool dup = false;
  std::uint16_t packet_id = 0;
  // From a truncated packet: payload is only the first bytes of payload_size.
  bool truncated = false;
  std::size_t payload_size = 0;  // as published
};

struct Suback {
  std::uint16_t packet_id = 0;
  std::vector<std::uint8_t> granted;  // 0..2, or 0x80 when refused
};

struct Connect {
  std::string_view protocol_name;
  std::uint8_t protocol_level = 0;
  std::string_view client_id;
  bool clean_session = false;
  std::uint16_t keepalive_s = 0;
  std::optional<std::string_view> username;
  std::optional<std::string_view> password;
  std::optional<std::string_view> will_topic;
  std::optional<std::string_view> will_payload;
  int will_qos = 0;
  bool will_retain = false;
};

Result<Connack> parse_connack(const Packet& packet);
Result<Publish> parse_publish(const Packet& packet);
// PUBACK, UNSUBACK (and PUBREC/PUBREL/PUBCOMP): the packet id.
Result<std::uint16_t> parse_packet_id(const Packet& packet);
Result<Suback> parse_suback(const Packet& packet);
Result<Connect> parse_connect(const Packet& packet);
Result<std::vector<Subscription>> parse_subscribe(const Packet& packet, std::uint16_t& packet_id);

// CONNACK return codes 1..5 in words ("not authorized", ...).
std::string connack_reason(std::uint8_t return_code);

// Feeds on byte chunks, yields complete packets. A malformed length, or an oversized packet other
// than a PUBLISH, is an error value and leaves the decoder failed: the link must close. An
// oversized PUBLISH comes out truncated (see Packet) and its tail is skipped as it arrives: one
// hostile sender must not make its receiver drop the link, be sent the same message again on
// the next connection, and drop the link again, forever. A truncated PUBLISH keeps at least its
// topic and packet id, even under a limit smaller than they are, so it can always be acknowledged.
class Decoder {
 public:
  explicit Decoder(std::size_t max_packet_bytes = 1 << 20) : max_packet_(max_packet_bytes) {}

  // Copies a chunk in. Invalidates the views of packets returned before.
  void feed(std::string_view chunk);
  // Room for at least `n` more bytes, to read straight into (then commit() what was read).
  // Invalidates the views of packets returned before.
  char* prepare(std::size_t n);
  std::size_t capacity_after_prepare() const { return buffer_.size() - end_; }
  void commit(std::size_t n) { end_ += n; }

  enum class Status { packet, need_more, failed };
  // The next complete packet (valid until the next feed/prepare), need_more, or failed (see error()).
  Status next(Packet& packet);
  const std::string& error() const { return error_; }
  std::size_t buffered() const { return end_ - begin_; }
  void reset();

 private:
  std::size_t max_packet_;
  std::vector<char> buffer_;
  std::size_t begin_ = 0;  // first unparsed byte
  std::size_t end_ = 0;    // one past the last byte read
  std::size_t skip_ = 0;   // bytes of a truncated PUBLISH still to discard
  std::string error_;
};

}  // namespace kiosk::mqtt
