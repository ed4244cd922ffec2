// Webhook delivery order: the sender on its own io_context against loopback HTTP stubs, posts one at a
// time per contact in queue order, newer posts of an alert superseding older ones, and delivery ids.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>

#include "kiosk/hub/alert_store.hpp"
#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/webhooks.hpp"

#include "test_alert_support.hpp"

using namespace kiosk::hub;
using kiosk::test::HookServer;
using kiosk::test::run_io_until;
using namespace std::chrono_literals;

namespace {

// Retries after a fixed second: the tests move the clock past it when they want the retry.
WebhookPolicy fixed_backoff() {
  WebhookPolicy p;
  p.timeout = 2000ms;
  p.backoff_initial = 1000ms;
  p.backoff_max = 1000ms;
  p.jitter = 0;
  return p;
}

// A queue in an in-memory database and its sender, run on this thread by run_io_until.
struct Outbox {
  explicit Outbox(const Clock& clock, WebhookPolicy policy = fixed_backoff())
      : clock(clock), sender(io, store, clock, log, policy) {}

  // Stores one post as the alert service does (the body stands for the alert JSON).
  void add(const std::string& contact, const HookServer& server, const std::string& alert, const std::string& change) {
    WebhookPost p{.alert_id = alert, .change = change, .contact = contact, .url = server.url("/" + contact),
                  .body = R"({"event":")" + change + R"(","alert":{"id":")" + alert + R"("}})"};
    REQUIRE_FALSE(store.write({}, 1, {p}, clock.wall_now()));
  }
  // ... and tells the sender.
  void queue(const std::string& contact, const HookServer& server, const std::string& alert, const std::string& change) {
    add(contact, server, alert, change);
    sender.kick();
  }

  const Clock& clock;
  boost::asio::io_context io;
  Database db{":memory:"};
  AlertStore store{db, "s1"};
  Log log{LogLevel::error};
  WebhookSender sender;
};

// "alert change" of each request, in the order the server answered them.
std::vector<std::string> seen(const HookServer& server) {
  std::vector<std::string> out;
  for (const auto& r : server.requests()) out.push_back(r.header("X-Kiosk-Alert") + " " + r.header("X-Kiosk-Change"));
  return out;
}


// What one post_json call came to.
struct PostOutcome {
  bool done = false;
  std::optional<std::string> error;
  unsigned status = 0;
};
PostOutcome post_once(boost::asio::io_context& io, const std::string& url_text,
                      boost::asio::ssl::context* tls = nullptr) {
  auto url = parse_http_url(url_text);
  REQUIRE(url);
  PostOutcome out;
  post_json(
      io, *url, R"({"alert":{}})", {}, 2000ms,
      [&](std::optional<std::string> error, unsigned status) { out = {true, std::move(error), status}; }, nullptr,
      tls);
  REQUIRE(run_io_until(io, [&] { return out.done; }, 5s));
  return out;
}

// A venue CA and a server certificate from kiosk-pki for `host` (and 127.0.0.1, which it always adds).
struct VenuePki {
  kiosk::test::TempDir dir;
  std::filesystem::path pki = dir / "pki";
  explicit VenuePki(const std::string& host = "localhost") {
    REQUIRE(kiosk::test::run_kiosk_pki({"init", "--dir", pki.string(), "--venue", "hotel"}, dir / "init.log") == 0);
    certify(host);
  }
  // A new server certificate, for `host`, in place of the one before.
  void certify(const std::string& host) {
    REQUIRE(kiosk::test::run_kiosk_pki({"broker", "--dir", pki.string(), "--host", host, "--force"},
                                       dir / ("cert-" + host + ".log")) == 0);
  }
  std::string ca() const { return (pki / "ca.crt").string(); }
  // `server` speaks https with the current certificate.
  void serve(HookServer& server) const {
    server.use_tls((pki / "broker.crt").string(), (pki / "broker.key").string());
  }
};

}  // namespace

TEST_CASE("a webhook post that keeps failing holds back neither the contact's other alerts nor other contacts",
          "[webhooks]") {
  ManualClock clock;
  HookServer alice;  // down: her first attempt fails
  HookServer bob;
  bob.start();
  Outbox out(clock);
  out.queue("alice", alice, "a-000001", "opened");
  out.queue("bob", bob, "a-000001", "opened");
  out.sender.start();
  REQUIRE(run_io_until(out.io, [&] { return out.sender.counters().failed_attempts == 1 && bob.count() == 1; }));

  // Alice's server is back while her first post waits out its backoff: a new alert does not wait for it.
  alice.start();
  out.queue("alice", alice, "a-000002", "opened");
  out.queue("bob", bob, "a-000002", "opened");
  // (The sender counts a post delivered once it has the answer: wait for both sides.)
  REQUIRE(run_io_until(out.io, [&] {
    return alice.count() == 1 && bob.count() == 2 && out.sender.counters().delivered == 3;
  }));
  CHECK(out.store.pending_posts() == 1);  // a-000001's, in backoff

  clock.advance(1s);
  out.sender.kick();
  REQUIRE(run_io_until(out.io, [&] { return alice.count() == 2 && out.store.pending_posts() == 0; }));
  CHECK(seen(alice) == std::vector<std::string>{"a-000002 opened", "a-000001 opened"});
  CHECK(seen(bob) == std::vector<std::string>{"a-000001 opened", "a-000002 opened"});
  CHECK(out.sender.counters().delivered == 4);
  CHECK(out.sender.counters().superseded == 0);
  out.sender.stop();
}

TEST_CASE("an alert's posts go to a contact one at a time in order, while other alerts go alongside", "[webhooks]") {
  ManualClock clock;
  HookServer alice;
  alice.start();
  Outbox out(clock);
  for (int i = 1; i <= 3; ++i) out.queue("alice", alice, "a-00000" + std::to_string(i), "opened");
  out.sender.start();
  CHECK(out.sender.in_flight() == 3);  // three alerts: all on their way at once
  // a-000001 is acked while its "opened" is on its way: the ack waits for it (a post in flight is
  // never superseded), and does not overtake it.
  out.queue("alice", alice, "a-000001", "acked");
  CHECK(out.sender.in_flight() == 3);
  REQUIRE(run_io_until(out.io, [&] { return out.sender.counters().delivered == 4 && alice.count() == 4; }));
  const auto order = seen(alice);
  const auto at = [&](const std::string& s) { return std::find(order.begin(), order.end(), s) - order.begin(); };
  CHECK(at("a-000001 opened") < at("a-000001 acked"));
  CHECK(at("a-000001 acked") < static_cast<std::ptrdiff_t>(order.size()));
  CHECK(out.sender.counters().superseded == 0);
  out.sender.stop();
}

TEST_CASE("older pending webhook posts of an alert are superseded by its newest: only that one is sent, and counted",
          "[webhooks]") {
  ManualClock clock;
  HookServer alice;  // down at first
  Outbox out(clock);
  out.queue("alice", alice, "a-000001", "opened");
  out.sender.start();
  REQUIRE(run_io_until(out.io, [&] { return out.sender.counters().failed_attempts == 1; }));
  // While the first post waits to be retried, another alert opens and the first is repeated twice.
  out.add("alice", alice, "a-000002", "opened");
  out.add("alice", alice, "a-000001", "repeated");
  out.add("alice", alice, "a-000001", "repeated");
  alice.start();
  clock.advance(1s);
  out.sender.kick();
  REQUIRE(run_io_until(out.io, [&] {
    return out.sender.counters().delivered == 2 && out.store.pending_posts() == 0 && alice.count() == 2;
  }));
  // Rows 1 (tried once) and 3 were left out: row 4 carries alert 1's state after them.
  CHECK(seen(alice) == std::vector<std::string>{"a-000002 opened", "a-000001 repeated"});
  CHECK(alice.requests().at(1).header("X-Kiosk-Delivery") == webhook_delivery_id("s1", out.store.run_tag(), 4));
  CHECK(out.sender.counters().superseded == 2);
  CHECK(out.sender.counters().failed_attempts == 1);
  out.sender.stop();
}

TEST_CASE("each webhook post carries a delivery id, the same on every retry and never another post's", "[webhooks]") {
  ManualClock clock;
  HookServer alice;
  alice.start(503);  // busy at first: it answers, so the retried request is seen too
  Outbox out(clock);
  out.queue("alice", alice, "a-000001", "opened");
  out.sender.start();
  REQUIRE(run_io_until(out.io, [&] { return out.sender.counters().failed_attempts == 1; }));
  alice.stop();
  alice.start(200);
  clock.advance(1s);
  out.sender.kick();
  REQUIRE(run_io_until(out.io, [&] { return out.sender.counters().delivered == 1; }));
  out.queue("alice", alice, "a-000002", "opened");
  REQUIRE(run_io_until(out.io, [&] { return out.sender.counters().delivered == 2; }));
  // The queue is empty now; a new post must not get a delivery id a receiver has seen already.
  out.queue("alice", alice, "a-000003", "opened");
  // (The sender counts a post delivered once it has the answer: wait for both sides.)
  REQUIRE(run_io_until(out.io, [&] { return out.sender.counters().delivered == 3 && alice.count() == 4; }));

  const auto r = alice.requests();
  REQUIRE(r.size() == 4);
  const auto id = [&](std::int64_t row) { return "s1-" + out.store.run_tag() + "-" + std::to_string(row); };
  CHECK(r[0].header("X-Kiosk-Delivery") == id(1));  // answered 503
  CHECK(r[1].header("X-Kiosk-Delivery") == id(1));  // its retry
  CHECK(r[2].header("X-Kiosk-Delivery") == id(2));
  CHECK(r[3].header("X-Kiosk-Delivery") == id(3));
  CHECK(r[1].header("X-Kiosk-Alert") == "a-000001");
  CHECK(r[1].header("X-Kiosk-Change") == "opened");
  CHECK(r[1].header("Content-Type") == "application/json");
  CHECK(r[1].body == R"({"event":"opened","alert":{"id":"a-000001"}})");  // the body as queued
  out.sender.stop();
}

TEST_CASE("a contact's post in backoff neither holds back nor spins the sender while another contact's retry comes due",
          "[webhooks]") {
  const SystemClock clock;  // real time: the sender's own timer must wake it
  HookServer alice;
  HookServer bob;
  alice.start();
  bob.start();
  WebhookPolicy policy = fixed_backoff();
  policy.backoff_max = 10min;  // waits up to 15 minutes are retries, not a wall clock that stepped back
  Outbox out(clock, policy);
  const auto now = clock.wall_now();
  // From before a restart: alice's post waits 5 minutes; bob's retry is due soon.
  out.queue("alice", alice, "a-000001", "opened");
  out.queue("bob", bob, "a-000001", "opened");
  REQUIRE_FALSE(out.store.post_failed(1, 3, now + 5min, "connection refused", false));
  REQUIRE_FALSE(out.store.post_failed(2, 1, now + 300ms, "connection refused", false));
  out.sender.start();
  std::size_t handlers = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  // (The sender counts a post delivered once it has the answer: wait for both sides.)
  while ((out.sender.counters().delivered == 0 || bob.count() == 0) && std::chrono::steady_clock::now() < deadline)
    handlers += out.io.run_one_for(10ms);
  REQUIRE(bob.count() == 1);
  CHECK(clock.wall_now() >= now + 300ms);  // woken by the timer for bob's retry, not before
  CHECK(alice.count() == 0);               // hers is not due for minutes
  CHECK(handlers < 50);                    // a timer, a connection: no busy loop
  CHECK(out.store.pending_posts() == 1);
  out.sender.stop();
}

TEST_CASE("a webhook post reaches a server given by address without a lookup, and by name through one",
          "[integration]") {
  HookServer server;
  server.start();
  boost::asio::io_context io;
  auto post = [&](const std::string& url) { return post_once(io, url); };
  auto by_address = post(server.url("/by-address"));
  CHECK_FALSE(by_address.error);
  CHECK(by_address.status == 200);
  auto by_name = post("http://localhost:" + std::to_string(server.port()) + "/by-name");
  CHECK_FALSE(by_name.error);
  CHECK(by_name.status == 200);
  const auto requests = server.requests();
  REQUIRE(requests.size() == 2);
  CHECK(requests[0].header("Host") == "127.0.0.1:" + std::to_string(server.port()));
  CHECK(requests[1].header("Host") == "localhost:" + std::to_string(server.port()));
}

TEST_CASE("a webhook post cancelled by stop() is neither counted as failed nor mistaken for the next run's post",
          "[webhooks]") {
  ManualClock clock;
  HookServer alice;
  alice.start();
  Outbox out(clock);
  out.queue("alice", alice, "a-000001", "opened");
  out.sender.start();
  REQUIRE(out.sender.in_flight() == 1);
  // Stopped and started again before the cancelled post's completion has run.
  out.sender.stop();
  out.sender.start();
  REQUIRE(run_io_until(out.io, [&] { return out.sender.counters().delivered == 1 && alice.count() >= 1; }));
  CHECK(out.sender.counters().failed_attempts == 0);
  CHECK(out.store.pending_posts() == 0);
  out.sender.stop();
}

TEST_CASE("a queued webhook post with a URL the hub cannot post to is given up at once, with the reason",
          "[webhooks]") {
  ManualClock clock;
  Outbox out(clock);
  WebhookPost p{.alert_id = "a-000001", .change = "opened", .contact = "alice", .url = "ftp://relay/hook",
                .body = "{}"};
  REQUIRE_FALSE(out.store.write({}, 1, {p}, clock.wall_now()));
  out.sender.start();
  REQUIRE(run_io_until(out.io, [&] { return out.sender.counters().given_up == 1; }));
  CHECK(out.store.pending_posts() == 0);
  CHECK(out.store.failed_posts() == 1);
  out.sender.stop();
}

TEST_CASE("an https webhook reaches a server whose certificate a trusted CA signed for its name, and no other",
          "[integration]") {
  VenuePki pki;  // the certificate names "localhost"
  HookServer server;
  pki.serve(server);
  server.start();
  boost::asio::io_context io;
  auto post = [&](const std::string& url, boost::asio::ssl::context* tls) { return post_once(io, url, tls); };
  const auto port = std::to_string(server.port());
  auto venue = make_webhook_tls_context(pki.ca());
  auto by_address = post(server.url("/by-address"), venue.get());
  CHECK_FALSE(by_address.error);
  CHECK(by_address.status == 200);
  auto by_name = post("https://localhost:" + port + "/by-name", venue.get());
  CHECK_FALSE(by_name.error);
  REQUIRE(server.count() == 2);
  CHECK(server.requests()[1].target == "/by-name");
  CHECK(server.requests()[1].body == R"({"alert":{}})");

  // The system's CAs alone do not know the venue's: refused, and the error says what to do.
  auto system_only = make_webhook_tls_context("");
  auto untrusted = post(server.url("/untrusted"), system_only.get());
  REQUIRE(untrusted.error);
  CHECK_THAT(*untrusted.error, Catch::Contains("certificate verify failed") && Catch::Contains("\"ca_file\""));
  // A name the certificate does not list is refused though the CA is trusted.
  pki.certify("hub.example");
  HookServer other;
  pki.serve(other);
  other.start();
  auto wrong_name = post("https://localhost:" + std::to_string(other.port()) + "/wrong-name", venue.get());
  REQUIRE(wrong_name.error);
  CHECK_THAT(*wrong_name.error, Catch::Contains("certificate verify failed"));
  CHECK_FALSE(post(other.url("/its-address"), venue.get()).error);  // 127.0.0.1 it lists
  CHECK(server.count() == 2);  // the refused posts reached no server's HTTP
  CHECK(other.count() == 1);
  // A hub without TLS set up says so rather than post in the clear.
  auto no_tls = post(server.url("/no-tls"), nullptr);
  REQUIRE(no_tls.error);
  CHECK_THAT(*no_tls.error, Catch::Contains("https is not set up"));
  // A CA file that is not one is said when the context is made.
  std::ofstream(pki.dir / "not-a-ca.pem") << "hello";
  CHECK_THROWS_WITH(make_webhook_tls_context((pki.dir / "not-a-ca.pem").string()),
                    Catch::Contains("cannot set up TLS for https webhooks (CA file"));
}

TEST_CASE("the webhook sender posts to an https contact with the settings' CA file; without it the post waits queued",
          "[integration]") {
  VenuePki pki;
  HookServer pager;
  pki.serve(pager);
  pager.start();
  ManualClock clock;
  WebhookPolicy trusting = fixed_backoff();
  trusting.ca_file = pki.ca();
  Outbox venue(clock, trusting);
  venue.queue("alice", pager, "a-000001", "opened");
  venue.sender.start();
  REQUIRE(run_io_until(venue.io, [&] { return venue.sender.counters().delivered == 1; }));
  CHECK(seen(pager) == std::vector<std::string>{"a-000001 opened"});
  venue.sender.stop();

  // Without the venue's CA the certificate is refused; the post stays queued for its retries (a
  // certificate may be fixed at the server, or the settings given the CA, within its max_age).
  Outbox stranger(clock);
  stranger.queue("alice", pager, "a-000002", "opened");
  stranger.sender.start();
  REQUIRE(run_io_until(stranger.io, [&] { return stranger.sender.counters().failed_attempts == 1; }));
  CHECK(pager.count() == 1);
  CHECK(pager.failed_handshakes() >= 1);
  CHECK(stranger.sender.counters().given_up == 0);
  CHECK(stranger.store.pending_posts() == 1);
  stranger.sender.stop();
}
