// The hub's MQTT connection (adapter over kiosk::mqtt::Client): Will and retained hub/status,
// subscriptions, reconnects. It runs on the hub's io_context thread: every handler runs there.
#pragma once

#include <chrono>
#include <functional>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/ingest.hpp"
#include "kiosk/hub/log.hpp"

namespace kiosk::mqtt {
class Client;
struct LinkEvent;
}

namespace kiosk::hub {

struct MqttSettings {
  std::string url;
  std::string client_id;
  std::string username;
  std::string password;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string site;
  bool verify_host = true;  // TLS: the certificate must name the URL's host
};

class MqttLink {
 public:
  // The largest MQTT message the hub takes in (topic and payload). A device message is at most
  // 1 KiB (protocol v1); this only bounds what a hostile or broken publisher can make the hub buffer.
  static constexpr std::size_t kMaxMessageBytes = std::size_t{1} << 20;

  struct Handlers {
    // The views are valid during the call only (until the link's next read): copy what outlives it.
    std::function<void(std::string_view topic, std::string_view payload, Received at)> message;
    std::function<void(bool connected, const std::string& why)> connection;
    // A message over kMaxMessageBytes: acknowledged to the broker (see kiosk::mqtt::Message), never
    // handed to `message` cut short; `bytes` is its payload's size as published.
    std::function<void(std::string_view topic, std::size_t bytes, Received at)> oversized;
  };
  // Throws std::invalid_argument for an unusable broker URL or TLS file (start-up boundary).
  MqttLink(boost::asio::io_context& io, const Clock& clock, const Log& log, MqttSettings settings, Handlers handlers);
  ~MqttLink();

  void start();
  // Queues a publish; false when it cannot (not connected, or the outgoing queue is full). Never blocks.
  bool publish(const std::string& topic, const std::string& payload, int qos, bool retained);
  // Publishes hub/status offline (retained), waits for its PUBACK, disconnects. Runs the
  // io_context for up to `timeout` (called from a handler at shutdown).
  void stop(std::chrono::milliseconds timeout);
  bool connected() const;
  // The filters the broker refused this connection (its SUBACK).
  const std::vector<std::string>& refused_subscriptions() const { return refused_subscriptions_; }

 private:
  void on_link(const mqtt::LinkEvent& event);

  boost::asio::io_context& io_;
  const Clock& clock_;
  const Log& log_;
  MqttSettings settings_;
  Handlers handlers_;
  std::unique_ptr<mqtt::Client> client_;
  bool stopping_ = false;
  bool publish_failing_ = false;  // logs the first failure of a run of them
  std::vector<std::string> refused_subscriptions_;
};

}  // namespace kiosk::hub
