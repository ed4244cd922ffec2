// kiosk::mqtt::Client adapter: a persistent session with the hub's Will, TLS and credentials,
// resubscribe and announce on every connect, and each message stamped with its receive time.
#include "kiosk/hub/mqtt_link.hpp"

#include <boost/asio/steady_timer.hpp>

#include "kiosk/mqtt/client.hpp"
#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/topics.hpp"

namespace kiosk::hub {

using protocol::TopicKind;

namespace {

std::string hub_status(protocol::DeviceState state) { return protocol::to_json(protocol::HubStatus{state}); }

}  // namespace

MqttLink::MqttLink(boost::asio::io_context& io, const Clock& clock, const Log& log, MqttSettings settings,
                   Handlers handlers)
    : io_(io), clock_(clock), log_(log), settings_(std::move(settings)), handlers_(std::move(handlers)) {
  mqtt::ClientOptions o;
  o.url = settings_.url;
  o.client_id = settings_.client_id;
  // A persistent session: presses published while the hub restarts wait at the broker.
  o.clean_session = false;
  o.keepalive = std::chrono::seconds(20);
  if (!settings_.username.empty()) o.username = settings_.username;
  if (!settings_.password.empty()) o.password = settings_.password;
  o.will = mqtt::Will{protocol::hub_status_topic(settings_.site), hub_status(protocol::DeviceState::offline), 1, true};
  o.subscriptions = {
      {protocol::device_filter(settings_.site, TopicKind::press), 1},
      {protocol::device_filter(settings_.site, TopicKind::status), 1},
      {protocol::device_filter(settings_.site, TopicKind::telemetry), 1},
      {protocol::alert_ack_filter(settings_.site), 1},
  };
  // TLS: the broker's chain is verified against the CA file (or the system's trust store), and
  // its certificate must name the host of the URL unless the venue turned that off
  // (--tls-verify-host false) for a broker reached by an address its certificate does not list.
  o.ca_file = settings_.ca_file;
  o.cert_file = settings_.cert_file;
  o.key_file = settings_.key_file;
  o.verify_host_name = settings_.verify_host;
  // The broker is local: retry every few seconds at most, so a restarted broker gets the hub back
  // within about 5 s even after repeated restarts (kiosk-faults).
  o.reconnect_min = std::chrono::milliseconds(500);
  o.reconnect_max = std::chrono::seconds(5);
  // Acks to ~10k presses/s leave in one write per batch; 64 MiB waiting means the broker is gone.
  o.max_queued_bytes = 64u << 20;
  o.max_packet_bytes = kMaxMessageBytes;
  client_ = std::make_unique<mqtt::Client>(
      io_, std::move(o),
      mqtt::Client::Handlers{
          [this](const mqtt::Message& m) {
            if (stopping_) return;
            // Views into the client's read buffer: the handlers parse or copy before they return.
            const Received at{clock_.steady_now(), clock_.wall_now()};
            if (!m.truncated) return handlers_.message(m.topic, m.payload, at);
            if (handlers_.oversized) return handlers_.oversized(m.topic, m.payload_size, at);
            log_.warn("mqtt", "dropped a message of " + std::to_string(m.payload_size) + " bytes on " +
                                  std::string(m.topic) + ": over the limit of " + std::to_string(kMaxMessageBytes));
          },
          [this](const mqtt::LinkEvent& e) { on_link(e); }});
}

MqttLink::~MqttLink() = default;

void MqttLink::start() { client_->start(); }

bool MqttLink::connected() const { return client_->connected(); }

void MqttLink::on_link(const mqtt::LinkEvent& e) {
  if (stopping_) return;
  auto retry = std::to_string(e.retry_in.count()) + " ms";
  switch (e.kind) {
    case mqtt::LinkEvent::Kind::connected:
      publish_failing_ = false;
      refused_subscriptions_.clear();  // the SUBACK of this connection tells again
      // Retained, so dashboards and terminals see the hub back even if they connect later.
      client_->publish(protocol::hub_status_topic(settings_.site), hub_status(protocol::DeviceState::online), 1, true);
      if (!e.session_present) log_.info("mqtt", "new broker session for " + settings_.client_id);
      handlers_.connection(true, "connected");
      return;
    case mqtt::LinkEvent::Kind::connect_failed: {
      // OpenSSL says "certificate verify failed" for a wrong name and a wrong CA alike.
      const bool tls_refused = e.reason.find("TLS handshake failed") != std::string::npos;
      const std::string hint =
          !tls_refused ? std::string()
          : settings_.verify_host
              ? " (check --ca-file, and that the broker's certificate names the host in --broker, or set "
                "--tls-verify-host false)"
              : " (check --ca-file)";
      log_.warn("mqtt", "cannot connect to " + settings_.url + ": " + e.reason + hint + "; retrying in " + retry);
      return;
    }
    case mqtt::LinkEvent::Kind::lost:
      handlers_.connection(false, e.reason);
      return;
    case mqtt::LinkEvent::Kind::subscription_refused:
      // Connected, yet deaf to these topics: presses would pile up on the terminals unacknowledged.
      refused_subscriptions_ = e.filters;
      log_.error("mqtt", "the broker refused the hub (" + settings_.client_id + ") the subscription to " + e.reason +
                             ": nothing published there reaches the hub. Give the hub's broker account the right to "
                             "read them (its role, or the ACL file), then restart the hub");
      return;
  }
}

bool MqttLink::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  if (client_->publish(topic, payload, qos, retained)) return true;
  if (!publish_failing_ && client_->connected())
    log_.warn("mqtt", "publish to " + topic + " failed: " + client_->last_refusal());
  publish_failing_ = true;
  return false;
}

void MqttLink::stop(std::chrono::milliseconds timeout) {
  stopping_ = true;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  // Runs `step` from a timer and the io_context until `done` or the deadline. stop() is called
  // from a handler: what it started directly (posts, immediate completions) would only run after
  // that handler returns, while what a timer's handler starts completes inside this nested run.
  auto run_step = [&](std::function<void(std::shared_ptr<bool>)> step) {
    auto done = std::make_shared<bool>(false);  // shared: callbacks may outlive a timeout
    auto kick = std::make_shared<boost::asio::steady_timer>(io_, std::chrono::steady_clock::time_point::min());
    kick->async_wait([kick, done, step = std::move(step)](boost::system::error_code ec) {
      if (!ec) step(done);
    });
    while (!*done && !io_.stopped() && std::chrono::steady_clock::now() < deadline) io_.run_one_until(deadline);
    return *done;
  };
  auto* client = client_.get();
  // The last batch is committed: presses arriving from now on stay at the broker for the next
  // session instead of being acknowledged to it and dropped here.
  client->pause_inbound();
  if (client->connected()) {
    bool acked = run_step([client, topic = protocol::hub_status_topic(settings_.site)](std::shared_ptr<bool> done) {
      if (!client->publish(topic, hub_status(protocol::DeviceState::offline), 1, true,
                           [done](std::optional<std::string>) { *done = true; }))
        *done = true;
      client->flush();
    });
    if (!acked) log_.warn("mqtt", "hub offline status not acknowledged before the timeout");
  }
  bool closed = run_step([client](std::shared_ptr<bool> done) { client->disconnect([done] { *done = true; }); });
  if (!closed) log_.warn("mqtt", "clean disconnect did not finish in time");
}

}  // namespace kiosk::hub
