// Webhook delivery: a Beast HTTP/1.1 POST per queued row, an alert's posts to a contact one at a
// time, a timer for the next retry, and backoff.
#include "kiosk/hub/webhooks.hpp"

#include <algorithm>
#include <cmath>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include "kiosk/net/url.hpp"

namespace kiosk::hub {

namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

std::optional<HttpUrl> parse_http_url(std::string_view text) {
  auto url = net::parse_url(text);
  if (!url || (url->scheme != "http" && url->scheme != "https")) return std::nullopt;
  HttpUrl out;
  out.tls = url->scheme == "https";
  out.host = url->host;
  out.port = out.tls ? "443" : "80";
  if (!url->port.empty()) out.port = url->port;
  if (!url->path.empty()) out.target = url->path;
  return out;
}

std::chrono::milliseconds webhook_backoff(const WebhookPolicy& p, int attempts, double unit) {
  const double base = static_cast<double>(p.backoff_initial.count()) * std::pow(2.0, std::clamp(attempts - 1, 0, 40));
  const double capped = std::min(base, static_cast<double>(p.backoff_max.count()));
  const double spread = capped * (1.0 + p.jitter * std::clamp(unit, -1.0, 1.0));
  return std::chrono::milliseconds{std::max<std::int64_t>(1, std::llround(spread))};
}

bool webhook_refusal_is_final(unsigned http_status) {
  return http_status >= 400 && http_status < 500 && http_status != 408 && http_status != 429;
}

std::unique_ptr<boost::asio::ssl::context> make_webhook_tls_context(const std::string& ca_file) {
  namespace ssl = boost::asio::ssl;
  try {
    auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
    ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                     ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1);
    ctx->set_default_verify_paths();
    if (!ca_file.empty()) ctx->load_verify_file(ca_file);
    ctx->set_verify_mode(ssl::verify_peer);
    return ctx;
  } catch (const boost::system::system_error& e) {
    throw std::runtime_error("cannot set up TLS for https webhooks" +
                             (ca_file.empty() ? std::string() : " (CA file " + ca_file + ")") + ": " + e.what());
  }
}

// One request on a fresh connection; a single deadline covers the lookup, connect, TLS handshake,
// write and read.
class HttpPost : public std::enable_shared_from_this<HttpPost> {
 public:
  HttpPost(boost::asio::io_context& io, const HttpUrl& url, std::string body, const HttpHeaders& headers,
           std::chrono::milliseconds timeout, std::function<void(std::optional<std::string>, unsigned)> done,
           boost::asio::ssl::context* tls)
      : io_(io), resolver_(io), resolve_deadline_(io), stream_(io), url_(url), timeout_(timeout), done_(std::move(done)) {
    if (url_.tls && tls) tls_ = std::make_unique<beast::ssl_stream<beast::tcp_stream&>>(stream_, *tls);
    request_.method(http::verb::post);
    request_.target(url_.target);
    request_.version(11);
    const bool ipv6 = url_.host.find(':') != std::string::npos;
    const auto host = ipv6 ? "[" + url_.host + "]" : url_.host;
    // Without the scheme's own port (some gateways refuse "host:443").
    request_.set(http::field::host, url_.port == (url_.tls ? "443" : "80") ? host : host + ":" + url_.port);
    request_.set(http::field::user_agent, "kiosk-hub");
    request_.set(http::field::content_type, "application/json");
    for (const auto& [name, value] : headers) request_.set(name, value);
    request_.keep_alive(false);
    request_.body() = std::move(body);
    request_.prepare_payload();
  }

  void start() {
    if (url_.tls && !tls_) {
      // Not from inside post_json: the caller may not expect its callback before it returns.
      return boost::asio::post(io_, [self = shared_from_this()] { self->finish("https is not set up in this hub"); });
    }
    stream_.expires_after(timeout_);
    // An address needs no lookup. That matters beyond speed: asio resolves names on one background
    // thread, so a DNS server that does not answer (the venue's internet is down) would hold a
    // local relay's post, given by address, behind an internet contact's lookup.
    boost::system::error_code not_an_address;
    const auto address = boost::asio::ip::make_address(url_.host, not_an_address);
    if (!not_an_address) {
      const tcp::endpoint endpoint(address, static_cast<unsigned short>(std::stoul(url_.port)));
      return stream_.async_connect(endpoint, [self = shared_from_this()](beast::error_code ec) { self->connected(ec); });
    }
    // The stream's deadline does not cover the lookup: this one does. The late answer of a lookup
    // that timed out finds the post finished.
    resolve_deadline_.expires_after(timeout_);
    resolve_deadline_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) {
        self->resolver_.cancel();
        self->finish("timed out looking up the host");
      }
    });
    resolver_.async_resolve(url_.host, url_.port, [self = shared_from_this()](beast::error_code ec, tcp::resolver::results_type r) {
      self->resolve_deadline_.cancel();
      if (!self->done_) return;
      if (ec) return self->finish("cannot resolve the host: " + ec.message());
      self->stream_.async_connect(r, [self](beast::error_code ec, const tcp::endpoint&) { self->connected(ec); });
    });
  }

  void cancel() {
    resolver_.cancel();
    resolve_deadline_.cancel();
    beast::error_code ignored;
    stream_.socket().close(ignored);
  }

 private:
  void connected(beast::error_code ec) {
    if (ec) return finish(ec == beast::error::timeout ? "timed out connecting" : ec.message());
    if (!tls_) return exchange(stream_);
    // The certificate must name the host of the URL (a name, or an address given as one); SNI
    // tells a server with several names which one to show. No SNI for an address (RFC 6066).
    boost::system::error_code not_an_address;
    boost::asio::ip::make_address(url_.host, not_an_address);
    if (not_an_address) SSL_set_tlsext_host_name(tls_->native_handle(), url_.host.c_str());
    tls_->set_verify_callback(boost::asio::ssl::host_name_verification(url_.host));
    tls_->async_handshake(boost::asio::ssl::stream_base::client, [self = shared_from_this()](beast::error_code ec) {
      if (ec) {
        if (ec == beast::error::timeout) return self->finish("timed out in the TLS handshake");
        return self->finish("TLS handshake: " + ec.message() + tls_hint(ec));
      }
      self->exchange(*self->tls_);
    });
  }

  // "certificate verify failed" says what, not what to do.
  static std::string tls_hint(const beast::error_code& ec) {
    if (ec.category() != boost::asio::error::get_ssl_category()) return "";
    if (ERR_GET_REASON(static_cast<unsigned long>(ec.value())) != SSL_R_CERTIFICATE_VERIFY_FAILED) return "";
    return " (the server's certificate is not from a trusted CA, or does not name the host: check that "
           "ca-certificates is installed; for a venue's own CA, add it as \"ca_file\" in the settings' \"webhooks\")";
  }

  template <class Stream>
  void exchange(Stream& stream) {
    http::async_write(stream, request_, [self = shared_from_this(), &stream](beast::error_code ec, std::size_t) {
      if (ec) return self->finish("sending: " + ec.message());
      http::async_read(stream, self->buffer_, self->response_, [self](beast::error_code ec, std::size_t) {
        // A server that ends its answer by closing, without TLS's close_notify: its status counts.
        if (ec == boost::asio::ssl::error::stream_truncated && self->response_.is_header_done()) ec = {};
        if (ec) return self->finish(ec == beast::error::timeout ? "timed out waiting for the answer" : "reading: " + ec.message());
        const unsigned status = self->response_.get().result_int();
        if (status >= 200 && status < 300) return self->finish(std::nullopt, status);
        // The start of the answer's body: a service saying what it refused (an unknown field, a token).
        std::string said = self->response_.get().body().substr(0, 200);
        for (auto& ch : said)
          if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) ch = ' ';
        self->finish("HTTP " + std::to_string(status) + (said.empty() ? "" : ": " + said), status);
      });
    });
  }

  void finish(std::optional<std::string> error, unsigned status = 0) {
    if (!done_) return;
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    auto done = std::move(done_);
    done_ = nullptr;
    done(std::move(error), status);
  }

  boost::asio::io_context& io_;
  tcp::resolver resolver_;
  boost::asio::steady_timer resolve_deadline_;
  beast::tcp_stream stream_;
  std::unique_ptr<beast::ssl_stream<beast::tcp_stream&>> tls_;  // https: TLS over stream_
  HttpUrl url_;
  std::chrono::milliseconds timeout_;
  std::function<void(std::optional<std::string>, unsigned)> done_;
  http::request<http::string_body> request_;
  http::response_parser<http::string_body> response_;
  beast::flat_buffer buffer_;
};

void post_json(boost::asio::io_context& io, const HttpUrl& url, std::string body, HttpHeaders headers,
               std::chrono::milliseconds timeout,
               std::function<void(std::optional<std::string> error, unsigned http_status)> done,
               std::shared_ptr<HttpPost>* handle, boost::asio::ssl::context* tls) {
  auto p = std::make_shared<HttpPost>(io, url, std::move(body), headers, timeout, std::move(done), tls);
  if (handle) *handle = p;
  p->start();
}

WebhookSender::WebhookSender(boost::asio::io_context& io, AlertStore& store, const Clock& clock, const Log& log,
                             WebhookPolicy policy)
    : io_(io), store_(store), clock_(clock), log_(log), policy_(policy), timer_(io), random_(std::random_device{}()) {
  try {
    tls_ = make_webhook_tls_context(policy_.ca_file);
  } catch (const std::exception& e) {
    // The settings were checked at start: this is the system's store or memory. https posts fail
    // with this, and are retried.
    tls_error_ = e.what();
    log_.error("webhooks", tls_error_);
  }
}

WebhookSender::~WebhookSender() {
  *alive_ = false;
  stop();
}

void WebhookSender::start() {
  stopped_ = false;
  if (auto n = store_.pending_posts())
    log_.info("webhooks", std::to_string(n) + " webhook posts queued from before; delivering");
  purge();
  pump();
}

void WebhookSender::housekeep() {
  if (stopped_ || (purged_at_ && clock_.steady_now() - *purged_at_ < std::chrono::hours(24))) return;
  purge();
}

// Failed rows stay for the operator to look at; a week is enough, and a wrong URL left for months
// must not grow the database without bound.
void WebhookSender::purge() {
  purged_at_ = clock_.steady_now();
  auto n = store_.purge_finished_posts(clock_.wall_now() - kWebhookKeepFinished);
  if (!n) return log_.error("webhooks", "cannot purge old failed posts: " + n.error().message());
  if (*n > 0) log_.info("webhooks", "purged " + std::to_string(*n) + " failed posts older than 7 days");
}

void WebhookSender::stop() {
  stopped_ = true;
  ++run_;
  in_flight_.clear();  // cancelled below; the rows stay queued as they were
  timer_.cancel();
  armed_for_.reset();
  for (auto& w : posts_)
    if (auto p = w.lock()) p->cancel();
  posts_.clear();
}

// Only the head of each alert's posts to a contact (its oldest pending one) is a candidate, and
// it waits while the one before it is in flight: a contact gets an alert's changes in the order
// they happened. Alerts do not wait for each other, so a post that keeps failing (a relay that
// refuses one body, a URL fixed since it was queued) holds back no other alert, and no contact
// holds back another.
void WebhookSender::pump() {
  if (stopped_) return;
  const auto now = clock_.wall_now();
  const auto room = static_cast<std::size_t>(std::max(0, policy_.max_in_flight - static_cast<int>(in_flight_.size())));
  if (room > 0) {
    supersede();
    // Ask for enough heads to fill the free slots even if some of them are in flight already.
    const auto latest = now + policy_.backoff_max + policy_.backoff_max / 2;  // the cap with its jitter
    for (auto& post : store_.due_posts(now, room + in_flight_.size(), latest)) {
      if (in_flight_.size() >= static_cast<std::size_t>(policy_.max_in_flight)) break;
      if (in_flight_.count({post.contact, post.alert_id})) continue;  // this head is the one on its way
      attempt(std::move(post));
    }
  }
  if (in_flight_.size() >= static_cast<std::size_t>(policy_.max_in_flight)) return;  // a completion pumps again
  // Every due head is in flight now, and its completion pumps again; wake for the first head that
  // is not due yet (the posts behind a head in backoff are not candidates, so they cannot make
  // this spin).
  if (auto next = store_.next_post_due(now)) arm(*next);
}

// Before a head is sent: a newer pending post of the same alert to the same contact
// carries the alert's current state, so the older ones need not go (the one in flight is left).
void WebhookSender::supersede() {
  std::vector<std::int64_t> sending;
  for (const auto& [key, row] : in_flight_) sending.push_back(row);
  auto gone = store_.supersede_posts(sending);
  if (!gone) return log_.error("webhooks", "cannot remove superseded posts: " + gone.error().message());
  for (const auto& p : *gone) {
    ++counters_.superseded;
    log_.debug("webhooks", "skipped " + p.change + " of " + p.alert_id + " to " + p.contact +
                               ": a newer post of the alert is queued");
  }
}

void WebhookSender::arm(WallTime due) {
  if (armed_for_ && *armed_for_ <= due) return;
  armed_for_ = due;
  timer_.expires_after(std::max(std::chrono::milliseconds{0}, due - clock_.wall_now()));
  timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive) return;
    armed_for_.reset();
    pump();
  });
}

void WebhookSender::attempt(WebhookPost post) {
  const std::pair<std::string, std::string> key{post.contact, post.alert_id};
  in_flight_[key] = post.row;
  auto url = parse_http_url(post.url);
  if (!url) {
    // The settings file is checked at start; a row from an older file may still be odd, and
    // will stay so.
    finished(post, std::string("not an http:// or https:// URL"), 0, true);
    return;
  }
  if (url->tls && !tls_) {
    // Set up again at each https attempt until it works (the system's CA store repaired, say).
    try {
      tls_ = make_webhook_tls_context(policy_.ca_file);
      log_.info("webhooks", "TLS for https webhooks is set up now");
    } catch (const std::exception& e) {
      tls_error_ = e.what();
      finished(post, tls_error_, 0);
      return;
    }
  }
  std::shared_ptr<HttpPost> handle;
  std::string body = post.body;  // not post.body below: the callback takes `post` in the same call
  HttpHeaders headers{{"X-Kiosk-Delivery", post.delivery},
                      {"X-Kiosk-Alert", post.alert_id},
                      {"X-Kiosk-Change", post.change}};
  post_json(io_, *url, std::move(body), std::move(headers), policy_.timeout,
            [this, alive = alive_, run = run_, post = std::move(post)](std::optional<std::string> error,
                                                                        unsigned status) {
              // After stop() (and perhaps a new start()) this is the cancelled post: its row
              // stays queued as it was, and this run may have sent it again already.
              if (!*alive || run != run_) return;
              finished(post, error, status);
            },
            &handle, tls_.get());
  if (in_flight_.count(key)) posts_.push_back(handle);
  std::erase_if(posts_, [](const std::weak_ptr<HttpPost>& w) { return w.expired(); });
}

void WebhookSender::finished(const WebhookPost& post, const std::optional<std::string>& error, unsigned http_status,
                             bool final_error) {
  in_flight_.erase({post.contact, post.alert_id});
  if (stopped_) return;  // cancelled by stop(): the row stays queued as it was
  const auto now = clock_.wall_now();
  if (!error) {
    ++counters_.delivered;
    if (auto e = store_.post_delivered(post.row)) log_.error("webhooks", "cannot remove a delivered post: " + *e);
    log_.debug("webhooks", "delivered " + post.change + " of " + post.alert_id + " to " + post.contact);
  } else {
    ++counters_.failed_attempts;
    const int attempts = post.attempts + 1;
    const bool refused = final_error || webhook_refusal_is_final(http_status);
    const bool give_up = refused || (policy_.max_attempts > 0 && attempts >= policy_.max_attempts) ||
                         now - post.created >= policy_.max_age;
    std::uniform_real_distribution<double> unit(-1.0, 1.0);
    const auto wait = webhook_backoff(policy_, attempts, unit(random_));
    if (give_up) ++counters_.given_up;
    // The contact, never the URL: webhook URLs often carry a secret token.
    if (refused)
      log_.warn("webhooks", "contact " + post.contact + "'s webhook " +
                                (final_error ? "cannot take" : "refused") + " the post of " + post.change + " of " +
                                post.alert_id + " (" + *error +
                                "); not retrying: check the contact's webhook URL in the alert settings, and that the service takes "
                                "the hub's JSON as it is (else post through a relay)");
    else
      log_.warn("webhooks", "post of " + post.change + " of " + post.alert_id + " to " + post.contact + " failed (" +
                                *error + ", attempt " + std::to_string(attempts) + "); " +
                                (give_up ? std::string("giving up") : "retrying in " + std::to_string(wait.count()) + " ms"));
    // A row given up keeps the time of its last attempt: the purge counts a week from it.
    if (auto e = store_.post_failed(post.row, attempts, give_up ? now : now + wait, *error, give_up))
      log_.error("webhooks", "cannot update the webhook queue: " + *e);
  }
  // Post completions run from Beast's handlers: pump from a fresh handler so an immediate
  // failure (bad URL) cannot recurse through attempt() -> finished() -> pump().
  boost::asio::post(io_, [this, alive = alive_] {
    if (*alive) pump();
  });
}

}  // namespace kiosk::hub
