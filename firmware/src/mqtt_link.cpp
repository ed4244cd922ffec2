// Paho async_client wrapped so that nothing blocks the daemon loop.
#include "kiosk/firmware/mqtt_link.hpp"

#include <dirent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <mqtt/async_client.h>

#include <cstdint>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <stdexcept>

#include "kiosk/net/url.hpp"

namespace kiosk::firmware {
namespace {

// Paho C leaves Nagle's algorithm on. Our PUBACK for a hub ack then sits unacknowledged until the
// broker's delayed ACK (40 ms), and the next PUBLISH waits behind it: measured p99 press-to-PUBLISH
// went from ~65 ms to a few ms with TCP_NODELAY. Paho has no socket hook, so after each connect we
// set it on the process's TCP sockets; the daemon has no other TCP socket than Paho's.
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

// Paho C names the schemes tcp:// and ssl://; accept the mqtt:// / mqtts:// spellings too.
std::string paho_uri(const std::string& url) {
  if (url.rfind("mqtt://", 0) == 0) return "tcp://" + url.substr(7);
  if (url.rfind("mqtts://", 0) == 0) return "ssl://" + url.substr(8);
  return url;
}

bool is_tls(const std::string& url) { return url.rfind("ssl://", 0) == 0 || url.rfind("mqtts://", 0) == 0; }

}  // namespace

// Checks one SUBACK against the filters that were asked for. A broker that refuses a filter
// (e.g. its ACL) still sends a SUBACK: 0x80 (3.1.1) or a reason code >= 0x80 (5) in that filter's
// place. Paho C reports a single refused filter as a failure and several as a success with a list.
class SubscribeCheck : public mqtt::iaction_listener {
 public:
  SubscribeCheck(std::vector<std::string> filters, std::function<void(LinkEvent)> push)
      : filters_(std::move(filters)), push_(std::move(push)) {}

  void on_success(const mqtt::token& tok) override {
    std::vector<mqtt::ReasonCode> codes;
    try {
      codes = tok.get_subscribe_response().get_reason_codes();
    } catch (const std::exception& e) {
      refuse_all(std::string("no SUBACK codes: ") + e.what());
      return;
    }
    for (std::size_t i = 0; i < filters_.size(); ++i) {
      int code = i < codes.size() ? static_cast<int>(codes[i]) : 0x80;
      if (code >= 0x80) refuse(filters_[i], "refused by the broker (SUBACK 0x" + hex(code) + ")");
      else push_({LinkEvent::Kind::subscribed, filters_[i], "", ""});
    }
  }
  void on_failure(const mqtt::token& tok) override {
    int code = tok.get_return_code();
    refuse_all(code == MQTT_BAD_SUBSCRIBE || code >= 0x80 ? "refused by the broker (SUBACK 0x" + hex(code) + ")"
                                                          : "subscribe failed (code " + std::to_string(code) + ")");
  }

 private:
  static std::string hex(int code) {
    static constexpr char kDigits[] = "0123456789abcdef";
    return {kDigits[(code >> 4) & 0xf], kDigits[code & 0xf]};
  }
  void refuse(const std::string& filter, const std::string& why) {
    push_({LinkEvent::Kind::subscribe_refused, filter, "", why});
  }
  void refuse_all(const std::string& why) {
    for (const auto& f : filters_) refuse(f, why);
  }

  std::vector<std::string> filters_;
  std::function<void(LinkEvent)> push_;
};

struct MqttLink::Impl : mqtt::iaction_listener {
  explicit Impl(const LinkOptions& o) : options(o) {
    wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake < 0) throw std::runtime_error("cannot create eventfd");
    auto builder = mqtt::connect_options_builder()
                       .clean_session(true)
                       .keep_alive_interval(std::chrono::seconds(o.keepalive_s))
                       .connect_timeout(std::chrono::seconds(5))
                       .max_inflight(1000)
                       .automatic_reconnect(false)
                       .will(mqtt::message(o.will_topic, o.will_payload, 1, true));
    if (!o.username.empty()) builder.user_name(o.username);
    if (!o.password.empty()) builder.password(o.password);
    if (is_tls(o.broker)) {
      mqtt::ssl_options ssl;
      if (!o.ca_file.empty()) ssl.set_trust_store(o.ca_file);
      if (!o.cert_file.empty()) ssl.set_key_store(o.cert_file);
      if (!o.key_file.empty()) ssl.set_private_key(o.key_file);
      // Paho checks the chain always; the host name only when asked (its "verify" option).
      ssl.set_verify(o.verify_host);
      builder.ssl(ssl);
    }
    connect_options = builder.finalize();
    fresh_client();
  }

  ~Impl() override {
    try {
      if (client->is_connected()) client->disconnect(0)->wait_for(std::chrono::seconds(1));
    } catch (...) {
    }
    // Paho refuses to change callbacks while a connect is in progress (SIGTERM during a connect
    // attempt): that threw out of this destructor and aborted the daemon. Destroying the client
    // first stops its callbacks before the queue they write to goes.
    try {
      client->disable_callbacks();
    } catch (...) {
    }
    client.reset();
    ::close(wake);
  }

  // A new Paho client for every connection attempt after the first: Paho keeps the publishes it had
  // queued for a connection that died and sends them on the next one, with the age_ms computed
  // before the outage, so the hub dated those presses by the reconnect (kiosk-faults saw presses
  // stored up to 8 s late). Dropping the old client drops them; the daemon re-sends every
  // unacknowledged press from the outbox itself, with a fresh age_ms.
  void fresh_client() {
    if (client) {
      try {
        client->disable_callbacks();  // throws while a connect is still in progress
      } catch (const std::exception&) {
      }
    }
    client = std::make_unique<mqtt::async_client>(paho_uri(options.broker), options.client_id);
    subscribe_checks.clear();  // their tokens went with the old client
    client->set_connected_handler([this](const std::string&) { push({LinkEvent::Kind::connected, "", "", ""}); });
    client->set_connection_lost_handler(
        [this](const std::string& cause) { push({LinkEvent::Kind::lost, "", "", cause.empty() ? "connection lost" : cause}); });
    client->set_message_callback([this](mqtt::const_message_ptr m) {
      push({LinkEvent::Kind::message, m->get_topic(), m->to_string(), ""});
    });
  }

  void on_failure(const mqtt::token& tok) override {
    std::string reason = "connect failed (code " + std::to_string(tok.get_return_code()) + ")";
    if (tok.get_return_code() == 5 || tok.get_return_code() == 4) reason += ": not authorized / bad credentials";
    // Paho says no more than "TCP/TLS connect failure" (-1); over TLS the usual causes are these.
    if (tok.get_return_code() == MQTTASYNC_FAILURE && !is_tls(options.broker))
      reason += ": broker unreachable at " + options.broker + " (broker down, wrong host or port, or no network)";
    if (tok.get_return_code() == MQTTASYNC_FAILURE && is_tls(options.broker)) {
      auto url = net::parse_url(options.broker);
      reason += ": broker unreachable, or TLS refused (check the CA file" +
                (options.verify_host ? ", and that the broker's certificate names " + (url ? url->host : options.broker) +
                                           ", or set tls.verify_host false / --tls-verify-host false)"
                                     : std::string(")"));
    }
    push({LinkEvent::Kind::connect_failed, "", "", reason});
  }
  void on_success(const mqtt::token&) override {}

  void push(LinkEvent e) {
    {
      std::lock_guard lock(mutex);
      events.push_back(std::move(e));
    }
    std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake, &one, sizeof one);
  }

  LinkOptions options;
  // Listeners of subscribes in progress must outlive their tokens; declared before `client` so the
  // client (and its callback threads) goes first. One per subscribe, i.e. per connection.
  std::vector<std::unique_ptr<SubscribeCheck>> subscribe_checks;
  std::unique_ptr<mqtt::async_client> client;
  bool used = false;  // a connection was attempted with `client`
  mqtt::connect_options connect_options;
  int wake = -1;
  std::mutex mutex;
  std::vector<LinkEvent> events;
};

MqttLink::MqttLink(const LinkOptions& options) {
  try {
    impl_ = std::make_unique<Impl>(options);
  } catch (const mqtt::exception& e) {
    throw std::runtime_error("cannot use broker " + options.broker + ": " + e.what());
  }
}

MqttLink::~MqttLink() = default;

int MqttLink::event_fd() const { return impl_->wake; }

std::vector<LinkEvent> MqttLink::take_events() {
  std::uint64_t count = 0;
  [[maybe_unused]] auto n = ::read(impl_->wake, &count, sizeof count);
  std::vector<LinkEvent> out;
  {
    std::lock_guard lock(impl_->mutex);
    out.swap(impl_->events);
  }
  for (const auto& e : out) {
    if (e.kind == LinkEvent::Kind::connected) disable_nagle_on_tcp_sockets();
  }
  return out;
}

void MqttLink::connect() {
  try {
    if (impl_->used) impl_->fresh_client();
    impl_->used = true;
    impl_->client->connect(impl_->connect_options, nullptr, *impl_);
  } catch (const std::exception& e) {
    impl_->push({LinkEvent::Kind::connect_failed, "", "", e.what()});
  }
}

bool MqttLink::connected() const { return impl_->client->is_connected(); }

bool MqttLink::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  try {
    impl_->client->publish(topic, payload.data(), payload.size(), qos, retained);
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

bool MqttLink::subscribe(const std::vector<std::string>& filters, int qos) {
  try {
    auto topics = mqtt::string_collection::create(filters);
    std::vector<int> qoss(filters.size(), qos);
    auto check = std::make_unique<SubscribeCheck>(filters, [impl = impl_.get()](LinkEvent e) { impl->push(std::move(e)); });
    impl_->client->subscribe(topics, qoss, nullptr, *check);
    impl_->subscribe_checks.push_back(std::move(check));
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

void MqttLink::drop() {
  try {
    if (impl_->client->is_connected()) impl_->client->disconnect(0);
  } catch (const std::exception&) {
  }
}

bool MqttLink::publish_and_disconnect(const std::string& topic, const std::string& payload, Millis timeout) {
  bool ok = false;
  try {
    if (impl_->client->is_connected()) {
      ok = impl_->client->publish(topic, payload.data(), payload.size(), 1, true)->wait_for(timeout);
      impl_->client->disconnect(static_cast<int>(timeout.count()))->wait_for(timeout);
    }
  } catch (const std::exception&) {
    ok = false;
  }
  return ok;
}

}  // namespace kiosk::firmware
