// A minimal MQTT 3.1.1 connection on Boost.Asio for load generation: CONNECT, QoS 1 PUBLISH/PUBACK,
// SUBSCRIBE, and incoming PUBLISH (acknowledged); packets come from kiosk_mqtt's codec. No
// reconnects, no in-flight map: many connections share one io_context thread, so the
// generator's own overhead stays small and predictable.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "kiosk/mqtt/codec.hpp"

namespace kiosk::loadgen {

class WireClient : public std::enable_shared_from_this<WireClient> {
 public:
  using OnMessage = std::function<void(std::string_view topic, std::string_view payload)>;
  using OnError = std::function<void(const std::string& what)>;

  WireClient(boost::asio::io_context& io, std::string client_id, OnMessage on_message, OnError on_error);

  // Connects and waits (running the io_context) for CONNACK; throws on failure.
  void connect_blocking(const std::string& host, std::uint16_t port);
  // Subscribes; the SUBACK arrives asynchronously (subscribed() turns true).
  void subscribe(const std::string& filter, int qos);
  bool subscribed() const { return subscribed_; }
  void publish(std::string_view topic, std::string_view payload, int qos);
  std::uint64_t pubacks() const { return pubacks_; }
  // Sends what is queued and DISCONNECT after the write under way (running the io_context for
  // it, at most 2 s), then closes the socket.
  void close();

 private:
  void flush();
  void read();
  void handle(const mqtt::Packet& packet);

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::socket socket_;
  std::string client_id_;
  OnMessage on_message_;
  OnError on_error_;
  std::string pending_;  // packets waiting for the current write
  std::string writing_;
  bool write_busy_ = false;
  mqtt::Decoder in_;     // bytes read, not yet parsed
  std::uint16_t next_id_ = 1;
  bool connected_ = false;
  bool subscribed_ = false;
  bool closed_ = false;
  std::uint64_t pubacks_ = 0;
};

}  // namespace kiosk::loadgen
