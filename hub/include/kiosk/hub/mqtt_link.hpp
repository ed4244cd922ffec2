// The hub's MQTT connection (Paho adapter): Will and retained hub/status, subscriptions, reconnects.
// Paho's callback threads only post into the io_context; every handler runs on the io thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/ingest.hpp"
#include "kiosk/hub/log.hpp"

namespace mqtt {
class async_client;
class connect_options;
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
};

class MqttLink {
 public:
  struct Handlers {
    std::function<void(std::string topic, std::string payload, Received at)> message;
    std::function<void(bool connected, const std::string& why)> connection;
  };
  MqttLink(boost::asio::io_context& io, const Clock& clock, const Log& log, MqttSettings settings, Handlers handlers);
  ~MqttLink();

  void start();
  // Queues a publish; false when it cannot (not connected, or Paho refused). Never blocks.
  bool publish(const std::string& topic, const std::string& payload, int qos, bool retained);
  // Publishes hub/status offline (retained), waits for it, disconnects. Blocks up to `timeout`.
  void stop(std::chrono::milliseconds timeout);
  bool connected() const { return connected_; }

 private:
  class ConnectListener;
  void connect();
  void on_connect_failed(const std::string& why);
  void on_connected();
  void drain_inbox();

  boost::asio::io_context& io_;
  const Clock& clock_;
  const Log& log_;
  MqttSettings settings_;
  Handlers handlers_;
  std::unique_ptr<mqtt::async_client> client_;
  std::unique_ptr<mqtt::connect_options> options_;
  std::unique_ptr<ConnectListener> connect_listener_;
  boost::asio::steady_timer retry_;
  std::chrono::seconds retry_delay_{1};
  std::atomic<bool> connected_{false};
  bool stopping_ = false;
  bool publish_failing_ = false;  // logs the first failure of a run of them
  std::shared_ptr<std::atomic<bool>> alive_;
  struct Inbound {
    std::string topic;
    std::string payload;
    Received at;
  };
  std::mutex inbox_mutex_;
  std::vector<Inbound> inbox_;     // filled by Paho's thread
  std::vector<Inbound> draining_;  // being handled on the io thread  // lets late Paho callbacks see the link is gone
};

}  // namespace kiosk::hub
