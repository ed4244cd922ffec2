// An MQTT 3.1.1 client on a caller's Boost.Asio io_context: TCP or TLS, persistent sessions,
// QoS 0/1 publish with an in-flight map, subscriptions re-sent on every connect, keepalive with
// a dead-link timeout, reconnect with capped backoff. No threads, no locks: every callback runs
// on the io_context's thread, and everything written meanwhile leaves in one write.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "kiosk/mqtt/codec.hpp"

namespace kiosk::mqtt {

struct ClientOptions {
  std::string url;  // tcp://, mqtt://, ssl:// or mqtts:// host:port (ports default to 1883/8883)
  std::string client_id;
  bool clean_session = true;
  std::chrono::seconds keepalive{20};
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<Will> will;
  std::vector<Subscription> subscriptions;  // (re)sent after every CONNACK
  // TLS (ssl:// or mqtts://): the server's chain is verified against ca_file (or the system's
  // store without one); a client certificate when cert_file and key_file are set.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool verify_host_name = true;  // also check the certificate names the host of the URL
  std::chrono::milliseconds connect_timeout{10'000};  // TCP + TLS + CONNACK
  std::chrono::milliseconds reconnect_min{500};
  std::chrono::milliseconds reconnect_max{5'000};
  std::size_t max_queued_bytes = 64u << 20;  // written-but-not-sent bytes before publish() refuses
  // Larger inbound PUBLISHes are acknowledged and reach the handler cut short, marked truncated
  // with their size as published (see Message); larger packets of other kinds close the link.
  std::size_t max_packet_bytes = 1u << 20;
};

// What the client reports about its link; `reason` is for a log line.
struct LinkEvent {
  // subscription_refused: the broker's SUBACK refused some of the subscriptions (its ACL); the
  // link stays up, and `reason` names the filters.
  enum class Kind { connected, connect_failed, lost, subscription_refused };
  Kind kind = Kind::connected;
  std::string reason;
  bool session_present = false;               // connected
  std::chrono::milliseconds retry_in{0};      // connect_failed, lost: next attempt
  std::vector<std::string> filters;           // subscription_refused: the refused filters
};

struct Message {
  std::string_view topic;  // views valid during the callback only
  std::string_view payload;
  int qos = 0;
  bool retain = false;
  bool dup = false;
  // Over max_packet_bytes: payload is only the first bytes of payload_size, and the message was
  // acknowledged all the same. Such a message can never be taken whole: withholding the PUBACK
  // would only have the broker deliver it again on every reconnect (a QoS 1 poison message that
  // also holds an in-flight slot), so it is acknowledged once and handed over for the receiver
  // to reject by its size, loudly, rather than parse a cut payload.
  bool truncated = false;
  std::size_t payload_size = 0;  // as published
};

// Done callback of a publish: nullopt once delivered (PUBACK for QoS 1, written for QoS 0),
// or why not (stopped, link closed for QoS 0).
using PublishDone = std::function<void(std::optional<std::string> error)>;

class Client {
 public:
  struct Handlers {
    // Inbound QoS 1 is PUBACKed with its read, before this runs (truncated ones too, see Message).
    std::function<void(const Message&)> message;
    std::function<void(const LinkEvent&)> link;
  };
  // Throws std::invalid_argument for a URL it cannot use, or a client id, credentials, Will or
  // filter longer than MQTT allows (start-up boundary).
  Client(boost::asio::io_context& io, ClientOptions options, Handlers handlers);
  // Closes the socket at once, without DISCONNECT (the broker publishes the Will); no callback runs after.
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Connects, and keeps reconnecting until disconnect() or destruction.
  void start();
  // Queues a PUBLISH. False (and `done` is not called) when not connected, the queue is full or
  // the topic or message is longer than MQTT allows; see last_refusal(). QoS 1 messages not acknowledged when the link drops are re-sent with DUP
  // after the reconnect.
  bool publish(std::string_view topic, std::string_view payload, int qos, bool retain, PublishDone done = {});
  // Starts writing what is queued now rather than when the current handler returns (publishes
  // are otherwise coalesced per handler). For callers that then run the io_context nested.
  void flush();
  // Sends DISCONNECT after everything queued, closes, stops reconnecting; `done` when closed.
  void disconnect(std::function<void()> done = {});
  // From now on incoming PUBLISHes are neither acknowledged nor delivered: they stay at the broker
  // for the next session (clean_session false), as while disconnecting. (Those of the current read
  // were acknowledged with it and are still delivered.) For a last publish before
  // disconnect(): messages that arrive while its PUBACK is awaited are not taken and then dropped.
  void pause_inbound();
  bool connected() const;
  std::size_t in_flight() const;  // QoS 1 publishes awaiting PUBACK
  const std::string& last_refusal() const;

  class Session;  // the state its async operations share (public for the .cpp's helpers only)

 private:
  std::shared_ptr<Session> session_;
};

}  // namespace kiosk::mqtt
