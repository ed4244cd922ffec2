// Paho MQTT C++ adapter: connect (Will, TLS, credentials), resubscribe and announce on every connect,
// retry the first connect, and hand each message to the io thread stamped with its receive time.
#include "kiosk/hub/mqtt_link.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cstdlib>

#include <boost/asio/post.hpp>
#include <iostream>
#include <mqtt/async_client.h>

#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/topics.hpp"

namespace kiosk::hub {

namespace {

// Paho C leaves Nagle's algorithm on: the hub's PUBACK for a press then waits for the broker's
// delayed ACK (~40 ms) and the device's ack and the alert queue behind it (measured press-to-alert
// on an idle hub: p50 48 ms as is, 3.7 ms without Nagle). Paho has no socket hook, so after each
// connect turn Nagle off on the process's TCP sockets (HTTP and SSE gain from it too). The
// firmware's mqtt_link does the same for the same reason.
void disable_nagle_on_tcp_sockets() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return;
  while (auto* entry = ::readdir(dir)) {
    int fd = std::atoi(entry->d_name);
    if (fd <= 2 || fd == ::dirfd(dir)) continue;
    int type = 0;
    socklen_t len = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) continue;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0) continue;
    if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) continue;
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ::closedir(dir);
}

}  // namespace


using protocol::TopicKind;

// Paho reconnects by itself once connected; a failed first connect comes here and is retried.
class MqttLink::ConnectListener final : public mqtt::iaction_listener {
 public:
  ConnectListener(MqttLink& link, std::shared_ptr<std::atomic<bool>> alive) : link_(link), alive_(std::move(alive)) {}
  void on_failure(const mqtt::token& tok) override {
    if (!*alive_) return;
    std::string why = "connect failed (code " + std::to_string(tok.get_return_code()) + ")";
    boost::asio::post(link_.io_, [this, why] {
      if (*alive_) link_.on_connect_failed(why);
    });
  }
  void on_success(const mqtt::token&) override {}

 private:
  MqttLink& link_;
  std::shared_ptr<std::atomic<bool>> alive_;
};

MqttLink::MqttLink(boost::asio::io_context& io, const Clock& clock, const Log& log, MqttSettings settings,
                   Handlers handlers)
    : io_(io),
      clock_(clock),
      log_(log),
      settings_(std::move(settings)),
      handlers_(std::move(handlers)),
      retry_(io),
      alive_(std::make_shared<std::atomic<bool>>(true)) {
  // Paho counts every queued publish (connected or not) against max_buffered_messages; the default
  // of 100 would refuse acks under load. publish() refuses while disconnected anyway.
  client_ = std::make_unique<mqtt::async_client>(
      settings_.url, settings_.client_id,
      mqtt::create_options_builder().mqtt_version(MQTTVERSION_3_1_1).max_buffered_messages(1'000'000).finalize());
  auto alive = alive_;
  client_->set_message_callback([this, alive](mqtt::const_message_ptr msg) {
    if (!*alive) return;
    // Receive time is taken here, on arrival, not when the io thread gets to it.
    Received at{clock_.steady_now(), clock_.wall_now()};
    bool wake = false;
    {
      std::lock_guard lock(inbox_mutex_);
      wake = inbox_.empty();
      inbox_.push_back(Inbound{msg->get_topic(), msg->get_payload_str(), at});
    }
    // One post per burst rather than per message: the io thread drains whatever has arrived.
    if (wake) boost::asio::post(io_, [this, alive] {
      if (*alive) drain_inbox();
    });
  });
  client_->set_connected_handler([this, alive](const std::string&) {
    if (!*alive) return;
    disable_nagle_on_tcp_sockets();
    connected_ = true;
    on_connected();
    boost::asio::post(io_, [this, alive] {
      if (!*alive) return;
      retry_delay_ = std::chrono::seconds(1);
      publish_failing_ = false;
      handlers_.connection(true, "connected");
    });
  });
  client_->set_connection_lost_handler([this, alive](const std::string& cause) {
    if (!*alive) return;
    connected_ = false;
    boost::asio::post(io_, [this, alive, cause] {
      if (*alive) handlers_.connection(false, cause.empty() ? "connection lost" : cause);
    });
  });
}

MqttLink::~MqttLink() {
  *alive_ = false;
  try {
    if (client_->is_connected()) client_->disconnect(std::chrono::milliseconds(0))->wait_for(std::chrono::seconds(1));
  } catch (const std::exception&) {
  }
}

void MqttLink::start() { connect(); }

void MqttLink::drain_inbox() {
  {
    std::lock_guard lock(inbox_mutex_);
    draining_.swap(inbox_);
  }
  for (auto& m : draining_) handlers_.message(std::move(m.topic), std::move(m.payload), m.at);
  draining_.clear();
}

void MqttLink::connect() {
  if (!options_) {
    auto will = mqtt::message(protocol::hub_status_topic(settings_.site),
                              protocol::to_json(protocol::HubStatus{protocol::DeviceState::offline}), 1, true);
    // A persistent session: presses published while the hub restarts wait at the broker.
    auto builder = mqtt::connect_options_builder()
                       .clean_session(false)
                       .keep_alive_interval(std::chrono::seconds(20))
                       // The broker is local: retry every few seconds at most. With a 30 s cap, Paho's
                       // doubling left the hub off a restarted broker for up to 26 s after repeated
                       // restarts (kiosk-faults): no stores, no acks. With 5 s: at most 6 s.
                       .automatic_reconnect(std::chrono::seconds(1), std::chrono::seconds(5))
                       .max_inflight(65535)
                       .will(will);
    if (!settings_.username.empty()) builder.user_name(settings_.username);
    if (!settings_.password.empty()) builder.password(settings_.password);
    if (settings_.url.rfind("ssl://", 0) == 0 || !settings_.ca_file.empty()) {
      auto ssl = mqtt::ssl_options_builder();
      if (!settings_.ca_file.empty()) ssl.trust_store(settings_.ca_file);
      if (!settings_.cert_file.empty()) ssl.key_store(settings_.cert_file);
      if (!settings_.key_file.empty()) ssl.private_key(settings_.key_file);
      builder.ssl(ssl.finalize());
    }
    options_ = std::make_unique<mqtt::connect_options>(builder.finalize());
    connect_listener_ = std::make_unique<ConnectListener>(*this, alive_);
  }
  try {
    client_->connect(*options_, nullptr, *connect_listener_);
  } catch (const std::exception& e) {
    on_connect_failed(e.what());
  }
}

void MqttLink::on_connect_failed(const std::string& why) {
  if (stopping_) return;
  log_.warn("mqtt", "cannot connect to " + settings_.url + ": " + why + "; retrying in " +
                        std::to_string(retry_delay_.count()) + " s");
  retry_.expires_after(retry_delay_);
  retry_delay_ = std::min(retry_delay_ * 2, std::chrono::seconds(30));
  retry_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (!ec && *alive && !stopping_) connect();
  });
}

void MqttLink::on_connected() {
  // Runs on a Paho thread: both calls only queue work in Paho.
  std::vector<std::string> filters = {
      protocol::device_filter(settings_.site, TopicKind::press),
      protocol::device_filter(settings_.site, TopicKind::status),
      protocol::device_filter(settings_.site, TopicKind::telemetry),
      protocol::alert_ack_filter(settings_.site),
  };
  try {
    auto topics = mqtt::string_collection::create(filters);
    client_->subscribe(topics, mqtt::iasync_client::qos_collection(filters.size(), 1));
    client_->publish(protocol::hub_status_topic(settings_.site),
                     protocol::to_json(protocol::HubStatus{protocol::DeviceState::online}), 1, true);
  } catch (const std::exception& e) {
    log_.error("mqtt", std::string("subscribe/announce failed: ") + e.what());
  }
}

bool MqttLink::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  if (!connected_) return false;
  try {
    client_->publish(topic, payload.data(), payload.size(), qos, retained);
    return true;
  } catch (const std::exception& e) {
    if (!publish_failing_) log_.warn("mqtt", "publish to " + topic + " failed: " + e.what());
    publish_failing_ = true;
    return false;
  }
}

void MqttLink::stop(std::chrono::milliseconds timeout) {
  stopping_ = true;
  retry_.cancel();
  try {
    if (client_->is_connected()) {
      client_
          ->publish(protocol::hub_status_topic(settings_.site),
                    protocol::to_json(protocol::HubStatus{protocol::DeviceState::offline}), 1, true)
          ->wait_for(timeout);
      client_->disconnect(timeout)->wait_for(timeout);
    }
  } catch (const std::exception& e) {
    log_.warn("mqtt", std::string("clean disconnect failed: ") + e.what());
  }
  connected_ = false;
}

}  // namespace kiosk::hub
