// Webhook delivery (Beast adapter): POSTs the alert JSON from the durable queue in SQLite to each
// contact's URL, an alert's posts to a contact one at a time in queue order, skips posts a newer
// post of the same alert supersedes, retries with capped exponential backoff and jitter, deletes what was delivered,
// gives up at once on an answer that retrying cannot change (a wrong URL) and purges old failures.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include "kiosk/hub/alert_config.hpp"
#include "kiosk/hub/alert_store.hpp"
#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/log.hpp"

namespace boost::asio::ssl {
class context;
}

namespace kiosk::hub {

// "http[s]://host[:port][/path]" split up; nullopt for anything else.
struct HttpUrl {
  std::string host;
  std::string port = "80";  // 443 for https
  std::string target = "/";
  bool tls = false;  // https: the server's certificate must chain to a trusted CA and name `host`
};
std::optional<HttpUrl> parse_http_url(std::string_view url);

// The wait before attempt number `attempts + 1` (attempts >= 1 failed so far): initial * 2^(attempts-1),
// capped, then spread by +-jitter using `unit` in [-1, 1]. Pure, for the tests.
std::chrono::milliseconds webhook_backoff(const WebhookPolicy& p, int attempts, double unit);

// A 4xx answer says the request itself is wrong (bad URL, token, method): the same post will be
// refused again, so it is not retried. Except 408 (timeout) and 429 (too many requests): later may work.
bool webhook_refusal_is_final(unsigned http_status);

// Finished webhook posts (given up) are kept this long for the operator, then purged.
inline constexpr std::chrono::hours kWebhookKeepFinished{24 * 7};

// One HTTP POST with `headers` added; `done` gets nullopt on a 2xx answer, else the reason, and the
// HTTP status when there was an answer (0: none). Runs on `io`. An https URL needs `tls`, a client
// context that verifies peers (make_webhook_tls_context).
class HttpPost;
using HttpHeaders = std::vector<std::pair<std::string, std::string>>;
void post_json(boost::asio::io_context& io, const HttpUrl& url, std::string body, HttpHeaders headers,
               std::chrono::milliseconds timeout,
               std::function<void(std::optional<std::string> error, unsigned http_status)> done,
               std::shared_ptr<HttpPost>* handle = nullptr, boost::asio::ssl::context* tls = nullptr);

// A TLS client context for https webhooks: TLS 1.2 or later, the peer verified against the
// system's CAs and those in `ca_file` (when not empty). Throws std::runtime_error saying why not.
std::unique_ptr<boost::asio::ssl::context> make_webhook_tls_context(const std::string& ca_file);

class WebhookSender {
 public:
  struct Counters {
    std::uint64_t delivered = 0;
    std::uint64_t failed_attempts = 0;
    std::uint64_t given_up = 0;
    std::uint64_t superseded = 0;  // removed unsent: a newer post of the same alert to the same contact
  };

  WebhookSender(boost::asio::io_context& io, AlertStore& store, const Clock& clock, const Log& log, WebhookPolicy policy);
  ~WebhookSender();
  WebhookSender(const WebhookSender&) = delete;
  WebhookSender& operator=(const WebhookSender&) = delete;

  // Sends whatever is due (e.g. left from before a restart) and keeps doing so; purges old failures.
  void start();
  // Purges finished posts older than kWebhookKeepFinished once a day; cheap to call on every tick.
  void housekeep();
  // New posts were queued: send those that are due now.
  void kick() { pump(); }
  // Cancels the timer and the posts in flight (they stay queued for the next start).
  void stop();

  const Counters& counters() const { return counters_; }
  std::size_t in_flight() const { return in_flight_.size(); }

 private:
  void pump();
  void supersede();
  void arm(WallTime due);
  void attempt(WebhookPost post);
  // final_error: not worth retrying whatever the status (a URL this hub cannot post to).
  void finished(const WebhookPost& post, const std::optional<std::string>& error, unsigned http_status,
                bool final_error = false);
  void purge();

  boost::asio::io_context& io_;
  AlertStore& store_;
  const Clock& clock_;
  const Log& log_;
  WebhookPolicy policy_;
  std::unique_ptr<boost::asio::ssl::context> tls_;  // for https contacts; null if it could not be set up
  std::string tls_error_;                           // ... and why
  boost::asio::steady_timer timer_;
  std::optional<WallTime> armed_for_;
  std::optional<SteadyTime> purged_at_;
  // (contact, alert id) -> the queue row on its way: one at a time per alert and contact.
  std::map<std::pair<std::string, std::string>, std::int64_t> in_flight_;
  std::uint64_t run_ = 0;  // counts stop()s: a completion from an earlier run is not this run's news
  std::list<std::weak_ptr<HttpPost>> posts_;
  std::mt19937 random_;
  Counters counters_;
  bool stopped_ = true;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // late completions see the sender is gone
};

}  // namespace kiosk::hub
