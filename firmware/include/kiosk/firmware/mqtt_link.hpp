// The Paho MQTT C++ adapter. Paho's callback threads only queue events and wake the daemon's
// loop through an eventfd; every decision is taken on the loop thread.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "kiosk/firmware/press_logic.hpp"

namespace kiosk::firmware {

struct LinkOptions {
  std::string broker;     // tcp://, ssl://, mqtt://, mqtts://
  std::string client_id;  // the device id
  std::string username;
  std::string password;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  std::string will_topic;    // retained, QoS 1
  std::string will_payload;
  int keepalive_s = 30;
};

struct LinkEvent {
  enum class Kind { connected, connect_failed, lost, message };
  Kind kind{};
  std::string topic;    // message
  std::string payload;  // message
  std::string reason;   // connect_failed, lost
};

class MqttLink {
 public:
  explicit MqttLink(const LinkOptions& options);  // throws on an unusable broker URL
  ~MqttLink();
  MqttLink(const MqttLink&) = delete;
  MqttLink& operator=(const MqttLink&) = delete;

  int event_fd() const;
  std::vector<LinkEvent> take_events();  // drains the queue and the eventfd

  void connect();  // starts one attempt (clean session); outcome arrives as an event
  bool connected() const;
  // Fire and forget (QoS 1 is completed by Paho); false when not connected or refused.
  bool publish(const std::string& topic, const std::string& payload, int qos, bool retained);
  bool subscribe(const std::vector<std::string>& filters, int qos);
  // For shutdown only: waits up to `timeout` for the broker to confirm, then disconnects.
  bool publish_and_disconnect(const std::string& topic, const std::string& payload, Millis timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::firmware
