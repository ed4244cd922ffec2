// The Asio MQTT client: one Link (socket or TLS stream + decoder) per connection attempt, shared
// by its async operations so a stale completion can tell it is stale and touch nothing.
#include "kiosk/mqtt/client.hpp"

#include <algorithm>
#include <random>
#include <stdexcept>
#include <unordered_map>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "kiosk/net/url.hpp"

namespace kiosk::mqtt {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace detail {

// Not in the anonymous namespace: Session holds one (a unity build would warn otherwise).
struct Endpoint {
  std::string host;
  std::string port;
  bool tls = false;
};

Endpoint parse_url(const std::string& url) {
  std::string why;
  auto parsed = net::parse_url(url, &why);
  if (!parsed) throw std::invalid_argument("MQTT URL " + url + ": " + why);
  Endpoint e{parsed->host, parsed->port, parsed->scheme == "ssl" || parsed->scheme == "mqtts"};
  if (!e.tls && !parsed->scheme.empty() && parsed->scheme != "tcp" && parsed->scheme != "mqtt")
    throw std::invalid_argument("MQTT URL " + url + ": scheme must be tcp, mqtt, ssl or mqtts");
  if (e.port.empty()) e.port = e.tls ? "8883" : "1883";
  return e;
}

}  // namespace detail

using detail::Endpoint;
using detail::parse_url;

namespace {

std::string ms_text(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
  return std::to_string(d.count()) + " ms";
}

}  // namespace

// One connection attempt: the stream and what was read from it.
struct Link {
  Link(asio::io_context& io, asio::ssl::context* tls, std::size_t max_packet) : decoder(max_packet) {
    if (tls) secure.emplace(io, *tls);
    else plain.emplace(io);
  }
  bool tls() const { return secure.has_value(); }
  tcp::socket& socket() { return tls() ? secure->next_layer() : *plain; }
  template <class Handler>
  void read_some(asio::mutable_buffer b, Handler&& h) {
    if (tls()) secure->async_read_some(b, std::forward<Handler>(h));
    else plain->async_read_some(b, std::forward<Handler>(h));
  }
  template <class Handler>
  void write(asio::const_buffer b, Handler&& h) {
    if (tls()) asio::async_write(*secure, b, std::forward<Handler>(h));
    else asio::async_write(*plain, b, std::forward<Handler>(h));
  }
  void close() {
    boost::system::error_code ec;
    socket().close(ec);
  }
  std::optional<tcp::socket> plain;
  std::optional<asio::ssl::stream<tcp::socket>> secure;
  Decoder decoder;
  std::string writing;
  std::vector<PublishDone> writing_done;  // QoS 0 publishes in this write
};

// One packet of a read; a PUBLISH with what parsing it gave.
struct Inbound {
  Packet packet;
  std::optional<Result<Publish>> publish;
  bool acked = false;  // its PUBACK went out with the read: the broker will not send it again
};

class Client::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::io_context& io, ClientOptions options, Handlers handlers)
      : io_(io),
        options_(std::move(options)),
        handlers_(std::move(handlers)),
        endpoint_(parse_url(options_.url)),
        resolver_(io),
        connect_timer_(io),
        keepalive_timer_(io),
        retry_timer_(io),
        random_(std::random_device{}()) {
    if (endpoint_.tls) {
      tls_ = std::make_unique<asio::ssl::context>(asio::ssl::context::tls_client);
      tls_->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                        asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
      if (!options_.ca_file.empty()) tls_->load_verify_file(options_.ca_file);
      else tls_->set_default_verify_paths();
      tls_->set_verify_mode(asio::ssl::verify_peer);
      if (!options_.cert_file.empty()) tls_->use_certificate_chain_file(options_.cert_file);
      if (!options_.key_file.empty()) tls_->use_private_key_file(options_.key_file, asio::ssl::context::pem);
    }
    // What the options put into CONNECT and SUBSCRIBE must fit MQTT's lengths: refused here, in
    // words, rather than thrown from a completion handler later.
    try {
      std::string probe;
      encode_connect(probe, connect_request());
      if (!options_.subscriptions.empty()) encode_subscribe(probe, 1, options_.subscriptions);
    } catch (const std::length_error& e) {
      throw std::invalid_argument(std::string("MQTT client options: ") + e.what());
    }
  }

  void start() {
    stopped_ = false;
    connect();
  }

  bool publish(std::string_view topic, std::string_view payload, int qos, bool retain, PublishDone done) {
    if (state_ != State::connected) {
      refusal_ = "not connected";
      return false;
    }
    if (queue_.size() > options_.max_queued_bytes) {
      refusal_ = "outgoing queue full (" + std::to_string(queue_.size()) + " bytes waiting for the socket)";
      return false;
    }
    if (auto why = publish_too_long(topic, payload.size(), qos)) {
      refusal_ = *why;
      return false;
    }
    if (qos <= 0) {
      encode_publish(queue_, topic, payload, 0, retain);
      if (done) queued_done_.push_back(std::move(done));
    } else {
      auto id = next_packet_id();
      if (!id) {
        refusal_ = "65535 QoS 1 publishes await PUBACK";
        return false;
      }
      auto& slot = in_flight_[*id];
      slot.seq = ++seq_;
      slot.packet.clear();
      encode_publish(slot.packet, topic, payload, 1, retain, false, *id);
      slot.done = std::move(done);
      queue_.append(slot.packet);
    }
    schedule_flush();
    return true;
  }

  void pause_inbound() { inbound_paused_ = true; }

  void disconnect(std::function<void()> done) {
    retry_timer_.cancel();
    stopped_ = true;
    if (state_ == State::disconnecting && link_) {
      // Already closing: the DISCONNECT is on its way; this caller hears when it has gone too.
      disconnect_done_ = [first = std::move(disconnect_done_), done = std::move(done)] {
        if (first) first();
        if (done) done();
      };
      return;
    }
    if (state_ == State::connected && link_) {
      disconnect_done_ = std::move(done);
      state_ = State::disconnecting;
      encode_disconnect(queue_);
      flush();
      return;
    }
    close_link();
    fail_in_flight("disconnected");
    if (done) asio::post(io_, std::move(done));
  }

  // From ~Client: nothing may call back into the owner any more.
  void abandon() {
    stopped_ = true;
    handlers_ = Handlers{};
    disconnect_done_ = nullptr;
    in_flight_.clear();
    queued_done_.clear();
    resolver_.cancel();
    connect_timer_.cancel();
    keepalive_timer_.cancel();
    retry_timer_.cancel();
    close_link();
  }

  bool connected() const { return state_ == State::connected; }
  void flush_now() { flush(); }
  std::size_t in_flight() const { return in_flight_.size(); }
  const std::string& refusal() const { return refusal_; }

 private:
  enum class State { idle, connecting, connected, disconnecting };
  struct InFlight {
    std::uint64_t seq = 0;
    std::string packet;  // encoded, for the re-send after a reconnect
    PublishDone done;
  };

  // ---- connecting ----------------------------------------------------------------------------

  void connect() {
    if (stopped_) return;
    auto link = std::make_shared<Link>(io_, tls_.get(), options_.max_packet_bytes);
    link_ = link;
    state_ = State::connecting;
    queue_.clear();
    connect_timer_.expires_after(options_.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this(), link](boost::system::error_code ec) {
      if (!ec && link == self->link_ && self->state_ == State::connecting)
        self->fail(link, "no CONNACK within " + ms_text(self->options_.connect_timeout));
    });
    resolver_.async_resolve(endpoint_.host, endpoint_.port,
                            [self = shared_from_this(), link](boost::system::error_code ec,
                                                              tcp::resolver::results_type results) {
                              if (link != self->link_) return;
                              if (ec) return self->fail(link, "cannot resolve " + self->endpoint_.host + ": " + ec.message());
                              self->connect_socket(link, results);
                            });
  }

  void connect_socket(const std::shared_ptr<Link>& link, const tcp::resolver::results_type& results) {
    asio::async_connect(link->socket(), results,
                        [self = shared_from_this(), link](boost::system::error_code ec, const tcp::endpoint&) {
                          if (link != self->link_) return;
                          if (ec) return self->fail(link, ec.message());
                          boost::system::error_code ignored;
                          // Acks must not wait for the broker's delayed ACK (Nagle).
                          link->socket().set_option(tcp::no_delay(true), ignored);
                          if (link->tls()) return self->handshake(link);
                          self->send_connect(link);
                        });
  }

  void handshake(const std::shared_ptr<Link>& link) {
    auto& stream = *link->secure;
    boost::system::error_code ec;
    auto address = asio::ip::make_address(endpoint_.host, ec);
    (void)address;
    // SNI for host names; addresses are not sent (RFC 6066).
    if (ec) SSL_set_tlsext_host_name(stream.native_handle(), endpoint_.host.c_str());
    if (options_.verify_host_name) stream.set_verify_callback(asio::ssl::host_name_verification(endpoint_.host));
    stream.async_handshake(asio::ssl::stream_base::client,
                           [self = shared_from_this(), link](boost::system::error_code ec) {
                             if (link != self->link_) return;
                             if (ec) return self->fail(link, "TLS handshake failed: " + ec.message());
                             self->send_connect(link);
                           });
  }

  ConnectRequest connect_request() const {
    ConnectRequest r;
    r.client_id = options_.client_id;
    r.clean_session = options_.clean_session;
    r.keepalive_s = static_cast<std::uint16_t>(std::min<std::int64_t>(options_.keepalive.count(), 65535));
    r.username = options_.username;
    r.password = options_.password;
    r.will = options_.will;
    return r;
  }

  void send_connect(const std::shared_ptr<Link>& link) {
    encode_connect(queue_, connect_request());
    flush();
    read(link);
  }

  void on_connack(const std::shared_ptr<Link>& link, const Connack& ack) {
    if (ack.return_code != 0) return fail(link, "broker refused the connection: " + connack_reason(ack.return_code));
    connect_timer_.cancel();
    state_ = State::connected;
    attempt_ = 0;
    // MQTT 3.1.1 §4.4: unacknowledged QoS 1 publishes go again, in their order, with DUP.
    std::vector<InFlight*> again;
    again.reserve(in_flight_.size());
    for (auto& [id, f] : in_flight_) again.push_back(&f);
    std::sort(again.begin(), again.end(), [](auto* a, auto* b) { return a->seq < b->seq; });
    for (auto* f : again) {
      mark_dup(f->packet);
      queue_.append(f->packet);
    }
    // The SUBSCRIBE takes its id from the same counter as publishes, so it never shares an id with
    // an unacknowledged publish (§2.3.1). No id is free only with 65,535 publishes unacknowledged.
    subscribe_id_.reset();
    if (!options_.subscriptions.empty())
      if ((subscribe_id_ = next_packet_id())) encode_subscribe(queue_, *subscribe_id_, options_.subscriptions);
    last_received_ = last_sent_ = Clock::now();
    schedule_keepalive(link);
    flush();
    if (handlers_.link) handlers_.link(LinkEvent{LinkEvent::Kind::connected, "connected", ack.session_present, {}});
  }

  // ---- reading -------------------------------------------------------------------------------

  void read(const std::shared_ptr<Link>& link) {
    constexpr std::size_t kReadSize = 256 * 1024;
    char* at = link->decoder.prepare(kReadSize);
    link->read_some(asio::buffer(at, link->decoder.capacity_after_prepare()),
                    [self = shared_from_this(), link](boost::system::error_code ec, std::size_t n) {
                      self->on_read(link, ec, n);
                    });
  }

  void on_read(const std::shared_ptr<Link>& link, boost::system::error_code ec, std::size_t n) {
    if (link != link_) return;
    if (ec) {
      if (ec == asio::error::eof || ec == asio::ssl::error::stream_truncated)
        return fail(link, "the broker closed the connection");
      return fail(link, "read failed: " + ec.message());
    }
    link->decoder.commit(n);
    last_received_ = Clock::now();
    // All complete packets of this read; their views stay valid until the next read. A PUBLISH is
    // parsed here, once, for both its PUBACK and its handler.
    batch_.clear();
    Packet packet;
    while (true) {
      auto status = link->decoder.next(packet);
      if (status == Decoder::Status::need_more) break;
      if (status == Decoder::Status::failed) return fail(link, "protocol error: " + link->decoder.error());
      if (packet.type() == PacketType::publish) batch_.push_back(Inbound{packet, parse_publish(packet)});
      else batch_.push_back(Inbound{packet, std::nullopt});
    }
    // PUBACK the whole read before any handler runs: a handler may block (the hub commits to
    // SQLite), and the broker's in-flight window should refill meanwhile. Durability comes from
    // the hub's own end-to-end acks, not from this PUBACK.
    if (state_ != State::disconnecting && !inbound_paused_) {
      for (auto& in : batch_)
        if (in.publish && *in.publish && (*in.publish)->qos == 1) {
          encode_puback(queue_, (*in.publish)->packet_id);
          in.acked = true;
        }
      if (!queue_.empty()) flush();
    }
    for (const auto& in : batch_) {
      // A packet of this read may break the link, or a handler may close or pause it: the
      // publishes acknowledged above still go to the owner, since the broker will not send them
      // again (a manager's alert ack has no other copy). The rest stay at the broker.
      if (link == link_) handle(link, in);
      else if (in.acked) deliver(**in.publish);
    }
    if (link != link_) return;
    if (!queue_.empty()) schedule_flush();
    read(link);
  }

  void deliver(const Publish& m) {
    if (handlers_.message)
      handlers_.message(Message{m.topic, m.payload, m.qos, m.retain, m.dup, m.truncated, m.payload_size});
  }

  void handle(const std::shared_ptr<Link>& link, const Inbound& in) {
    const Packet& packet = in.packet;
    if (state_ == State::connecting && packet.type() != PacketType::connack)
      return fail(link, "protocol error: expected CONNACK");
    switch (packet.type()) {
      case PacketType::connack: {
        auto ack = parse_connack(packet);
        if (!ack) return fail(link, "protocol error: " + ack.error().message());
        if (state_ != State::connecting) return fail(link, "protocol error: a second CONNACK");
        return on_connack(link, *ack);
      }
      case PacketType::publish: {
        // Closing: leave it unacknowledged at the broker for the next session.
        if (!in.acked && (state_ == State::disconnecting || inbound_paused_)) return;
        const auto& m = *in.publish;
        if (!m) return fail(link, "protocol error: " + m.error().message());
        return deliver(*m);
      }
      case PacketType::puback: {
        auto id = parse_packet_id(packet);
        if (!id) return fail(link, "protocol error: " + id.error().message());
        auto it = in_flight_.find(*id);
        if (it == in_flight_.end()) return;
        auto done = std::move(it->second.done);
        in_flight_.erase(it);
        if (done) done(std::nullopt);
        return;
      }
      case PacketType::suback: {
        auto s = parse_suback(packet);
        if (!s) return fail(link, "protocol error: " + s.error().message());
        if (s->packet_id != subscribe_id_) return;  // not the answer to this connection's SUBSCRIBE
        subscribe_id_.reset();
        LinkEvent refused{LinkEvent::Kind::subscription_refused, "", false, {}, {}};
        for (std::size_t i = 0; i < s->granted.size() && i < options_.subscriptions.size(); ++i) {
          if (s->granted[i] != 0x80) continue;
          refused.reason.append(refused.filters.empty() ? "" : ", ").append(options_.subscriptions[i].filter);
          refused.filters.push_back(options_.subscriptions[i].filter);
        }
        if (!refused.filters.empty() && handlers_.link) handlers_.link(refused);
        return;
      }
      default:  // PINGRESP, UNSUBACK: reading them is enough (last_received_)
        return;
    }
  }

  // ---- writing -------------------------------------------------------------------------------

  // Everything published during the current handler goes out in one write.
  void schedule_flush() {
    if (flush_posted_) return;
    flush_posted_ = true;
    asio::post(io_, [self = shared_from_this()] {
      self->flush_posted_ = false;
      self->flush();
    });
  }

  void flush() {
    auto link = link_;
    if (!link || write_busy_ || queue_.empty()) return;
    write_busy_ = true;
    link->writing.swap(queue_);
    queue_.clear();
    link->writing_done.swap(queued_done_);
    link->write(asio::buffer(link->writing),
                [self = shared_from_this(), link](boost::system::error_code ec, std::size_t) {
                  if (link != self->link_) return;
                  self->write_busy_ = false;
                  link->writing.clear();
                  auto done = std::move(link->writing_done);
                  link->writing_done.clear();
                  if (ec) {
                    for (auto& d : done) d("write failed: " + ec.message());
                    return self->fail(link, "write failed: " + ec.message());
                  }
                  self->last_sent_ = Clock::now();
                  for (auto& d : done) d(std::nullopt);
                  if (link != self->link_) return;
                  // A done callback may have asked to disconnect and so started the DISCONNECT's own write:
                  // the link closes once that write is done, not under it (else the broker sends the Will).
                  if (self->state_ == State::disconnecting && self->queue_.empty() && !self->write_busy_)
                    return self->finish_disconnect();
                  self->flush();
                });
  }

  std::optional<std::uint16_t> next_packet_id() {
    if (in_flight_.size() >= 65535) return std::nullopt;
    do {
      if (++next_id_ == 0) next_id_ = 1;
    } while (in_flight_.count(next_id_));
    return next_id_;
  }

  // ---- keepalive and failure -----------------------------------------------------------------

  void schedule_keepalive(const std::shared_ptr<Link>& link) {
    if (options_.keepalive.count() <= 0) return;
    auto tick = std::chrono::duration_cast<std::chrono::milliseconds>(options_.keepalive) / 2;
    keepalive_timer_.expires_after(tick);
    keepalive_timer_.async_wait([self = shared_from_this(), link, tick](boost::system::error_code ec) {
      if (ec || link != self->link_ || self->state_ != State::connected) return;
      auto now = Clock::now();
      auto silent = now - self->last_received_;
      if (silent > self->options_.keepalive * 3 / 2)
        return self->fail(link, "no traffic from the broker for " +
                                    ms_text(std::chrono::duration_cast<std::chrono::milliseconds>(silent)));
      // Ping when either direction went quiet: the PINGRESP proves the broker is still there.
      if (now - self->last_sent_ >= tick || silent >= tick) {
        encode_pingreq(self->queue_);
        self->flush();
      }
      self->schedule_keepalive(link);
    });
  }

  void close_link() {
    if (link_) link_->close();
    link_.reset();
    write_busy_ = false;
    queue_.clear();
    state_ = State::idle;
  }

  void fail(const std::shared_ptr<Link>& link, const std::string& reason) {
    if (link != link_) return;
    bool was_connected = state_ == State::connected;
    bool disconnecting = state_ == State::disconnecting;
    close_link();
    connect_timer_.cancel();
    keepalive_timer_.cancel();
    // QoS 0 publishes still queued are gone with the link; QoS 1 ones stay in flight.
    auto lost = std::move(queued_done_);
    queued_done_.clear();
    for (auto& d : lost) d("link closed: " + reason);
    // A clean session keeps nothing at the broker, and the client must not send them again after
    // a reconnect (MQTT 3.1.1 §3.1.2.4): the owner hears now that they went with the link, rather
    // than have the broker act on a request it was told had failed.
    if (options_.clean_session) fail_in_flight("link closed: " + reason);
    if (disconnecting || stopped_) return finish_disconnect();
    auto delay = next_delay();
    retry_timer_.expires_after(delay);
    retry_timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->connect();
    });
    if (handlers_.link)
      handlers_.link(LinkEvent{was_connected ? LinkEvent::Kind::lost : LinkEvent::Kind::connect_failed, reason, false,
                               delay});
  }

  void finish_disconnect() {
    close_link();
    keepalive_timer_.cancel();
    connect_timer_.cancel();
    fail_in_flight("disconnected");
    if (auto done = std::move(disconnect_done_)) {
      disconnect_done_ = nullptr;
      done();
    }
  }

  void fail_in_flight(const std::string& why) {
    auto pending = std::move(in_flight_);
    in_flight_.clear();
    for (auto& [id, f] : pending)
      if (f.done) f.done(why);
  }

  // Capped exponential backoff with jitter (50..100% of the step) so many clients spread out.
  std::chrono::milliseconds next_delay() {
    auto step = options_.reconnect_min;
    for (int i = 0; i < attempt_ && step < options_.reconnect_max; ++i) step *= 2;
    step = std::min(step, options_.reconnect_max);
    ++attempt_;
    std::uniform_int_distribution<std::int64_t> jitter(step.count() / 2, step.count());
    return std::chrono::milliseconds(jitter(random_));
  }

  asio::io_context& io_;
  ClientOptions options_;
  Handlers handlers_;
  Endpoint endpoint_;
  std::unique_ptr<asio::ssl::context> tls_;
  tcp::resolver resolver_;
  asio::steady_timer connect_timer_;
  asio::steady_timer keepalive_timer_;
  asio::steady_timer retry_timer_;
  std::minstd_rand random_;
  std::shared_ptr<Link> link_;
  State state_ = State::idle;
  bool inbound_paused_ = false;  // pause_inbound(): no PUBACK, no delivery, until destruction
  bool stopped_ = true;
  bool write_busy_ = false;
  bool flush_posted_ = false;
  std::vector<Inbound> batch_;           // packets of the current read
  std::string queue_;                    // encoded packets not yet handed to the socket
  std::vector<PublishDone> queued_done_; // QoS 0 publishes in queue_
  std::unordered_map<std::uint16_t, InFlight> in_flight_;
  std::uint64_t seq_ = 0;
  std::uint16_t next_id_ = 0;
  int attempt_ = 0;
  Clock::time_point last_sent_{};
  Clock::time_point last_received_{};
  std::function<void()> disconnect_done_;
  std::optional<std::uint16_t> subscribe_id_;  // this connection's SUBSCRIBE, until its SUBACK
  std::string refusal_;
};

Client::Client(asio::io_context& io, ClientOptions options, Handlers handlers)
    : session_(std::make_shared<Session>(io, std::move(options), std::move(handlers))) {}

Client::~Client() { session_->abandon(); }

void Client::start() { session_->start(); }

bool Client::publish(std::string_view topic, std::string_view payload, int qos, bool retain, PublishDone done) {
  return session_->publish(topic, payload, qos, retain, std::move(done));
}

void Client::flush() { session_->flush_now(); }
void Client::disconnect(std::function<void()> done) { session_->disconnect(std::move(done)); }
void Client::pause_inbound() { session_->pause_inbound(); }
bool Client::connected() const { return session_->connected(); }
std::size_t Client::in_flight() const { return session_->in_flight(); }
const std::string& Client::last_refusal() const { return session_->refusal(); }

}  // namespace kiosk::mqtt
