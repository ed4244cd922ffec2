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
  bool verify_host = true;   // TLS: the certificate must name the broker's host
  std::string will_topic;    // retained, QoS 1
  std::string will_payload;
  int keepalive_s = 30;
};

struct LinkEvent {
  // subscribe_refused: the broker's SUBACK refused `topic` (0x80, e.g. its ACL), or the subscribe
  // failed; one event per refused filter. subscribed: the SUBACK granted `topic`, one per filter.
  enum class Kind { connected, connect_failed, lost, message, subscribe_refused, subscribed };
  Kind kind{};
  std::string topic;    // message, subscribe_refused, subscribed
  std::string payload;  // message
  std::string reason;   // connect_failed, lost, subscribe_refused
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
  // Asynchronous; the broker's verdict on each filter is checked when its SUBACK arrives, and a
  // refusal comes back as a subscribe_refused event. False when it could not even be sent.
  bool subscribe(const std::vector<std::string>& filters, int qos);
  // Drops the current connection without waiting (the broker publishes the Will); the next
  // connect() starts over.
  void drop();
  // For shutdown only: waits up to `timeout` for the broker to confirm, then disconnects.
  bool publish_and_disconnect(const std::string& topic, const std::string& payload, Millis timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::firmware
