// Alerting without a broker: the settings file, webhook URLs, backoff, refusals and purges, the alert
// tables, and the alert machine's calls for a manager and on-duty routing on a hand-driven clock.
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include "kiosk/hub/alert_config.hpp"
#include "kiosk/hub/alert_service.hpp"
#include "kiosk/hub/alert_store.hpp"
#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/webhooks.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::hub;
using kiosk::protocol::AlertState;
using namespace std::chrono_literals;

TEST_CASE("an empty alert settings file means the documented defaults") {
  auto c = parse_alert_config("{}");
  REQUIRE(c);
  CHECK(c->default_detector.kind == DetectorChoice::Kind::baseline);
  CHECK(c->alert.repeat_interval == 5min);
  CHECK(c->alert.escalate_after == 10min);
  CHECK(c->tick == 1000ms);
  CHECK(c->contacts.empty());
  CHECK(c->webhooks.backoff_initial == 1000ms);
}

TEST_CASE("alert settings give detectors per location, contacts with duty hours, escalation and call buttons") {
  auto c = parse_alert_config(R"({
    "utc_offset_min": 60, "escalate_after_s": 120, "repeat_interval_s": 30,
    "detector": {"kind": "baseline", "min_bad": 4, "window_s": 900},
    "detectors": {"bar": {"kind": "naive", "bad": 5}},
    "contacts": [{"id": "alice", "name": "Alice", "webhook": "http://127.0.0.1:9/a", "on_duty": "mon-fri 08:00-18:00"},
                 {"id": "bob", "locations": ["bar"]}],
    "escalation": ["bob", "alice"],
    "call_manager": [{"location": "front-desk", "button": 3}, {"device": "t-7", "button": 0}],
    "webhooks": {"backoff_initial_ms": 200, "backoff_max_ms": 100}
  })");
  REQUIRE(c);
  CHECK(c->time_zone.name() == "UTC+01:00");
  CHECK(c->alert.escalate_after == 120s);
  CHECK(c->detector_for("lobby").kind == DetectorChoice::Kind::baseline);
  CHECK(c->detector_for("lobby").baseline.min_bad == 4);
  CHECK(c->detector_for("lobby").baseline.time_zone.offset_at(WallTime{}) == 60min);
  CHECK(c->detector_for("bar").kind == DetectorChoice::Kind::naive);
  CHECK(c->detector_for("bar").naive.bad == 5);
  CHECK(c->detector_for("bar").naive.window == 900s);  // inherited from "detector"
  REQUIRE(c->contacts.size() == 2);
  CHECK(c->contacts[0].level == 1);
  CHECK(c->contacts[1].level == 0);
  CHECK(c->contacts[0].on_duty.size() == 1);
  CHECK(c->contacts[1].locations == std::vector<std::string>{"bar"});
  CHECK(c->is_call_manager("t-1", "front-desk", 3));
  CHECK_FALSE(c->is_call_manager("t-1", "front-desk", 2));
  CHECK(c->is_call_manager("t-7", "bar", 0));
  CHECK_FALSE(c->is_call_manager("t-8", "bar", 0));
  CHECK(c->webhooks.backoff_max == 200ms);  // never below the first wait
}

TEST_CASE("alert settings with a mistake are refused with the place and the reason") {
  auto error = [](const char* text) {
    auto c = parse_alert_config(text);
    REQUIRE_FALSE(c);
    return c.error().message();
  };
  CHECK(error("[1]") == "alerts: must be a JSON object");
  CHECK(error(R"({"tick": 5})") == "tick: unknown setting (a typo?)");
  CHECK(error(R"({"detector": {"kind": "magic"}})") == "detector.kind: \"magic\" is not baseline or naive");
  CHECK(error(R"({"detector": {"min_bad": 0}})") == "detector.min_bad: 0 is outside 1..10000");
  CHECK(error(R"({"contacts": [{"id": "alice", "webhook": "ftp://x"}]})").find("must start with https:// or http://") !=
        std::string::npos);
  CHECK(parse_alert_config(R"({"contacts": [{"id": "alice", "webhook": "https://x"}]})"));
  // A CA file that holds no PEM certificate: missing, a folder (/etc/ssl/certs), another file.
  CHECK_THAT(error(R"({"webhooks": {"ca_file": "/nonexistent/ca.pem"}})"),
             Catch::StartsWith("webhooks.ca_file: \"/nonexistent/ca.pem\" is not a usable PEM file of CA certificates"));
  CHECK_THAT(error(R"({"webhooks": {"ca_file": "/etc"}})"), Catch::StartsWith("webhooks.ca_file: \"/etc\" is not a usable"));
  CHECK_THAT(error(R"({"webhooks": {"ca_file": "/etc/passwd"}})"), Catch::Contains("is not a usable PEM file"));
  // A URL the sender could not use is refused at start, not given up at the first page.
  CHECK(error(R"({"contacts": [{"id": "alice", "webhook": "http://user:token@relay.local/hook"}]})") ==
        "contacts[0].webhook: \"http://user:token@relay.local/hook\" is not a usable URL: user or password in the "
        "address (not allowed)");
  CHECK(error(R"({"contacts": [{"id": "alice", "webhook": "http://pager:99999/x"}]})") ==
        "contacts[0].webhook: \"http://pager:99999/x\" is not a usable URL: port must be a number in 1..65535");
  CHECK(parse_alert_config(R"({"contacts": [{"id": "alice", "webhook": "http://relay.local:8080/hook?k=1"}]})"));
  CHECK(error(R"({"contacts": [{"id": "alice", "on_duty": "someday"}]})").rfind("contacts[0].on_duty", 0) == 0);
  CHECK(error(R"({"contacts": [{"id": "a"}, {"id": "a"}]})") == "contacts[1].id: a appears twice");
  CHECK(error(R"({"escalation": ["nobody"]})") == "escalation: \"nobody\" is not a contact");
  CHECK(error(R"({"call_manager": [{"location": "bar"}]})") == "call_manager[0].button: is required");
  CHECK(error(R"({"utc_offset_min": 50})") ==
        "utc_offset_min: must be a multiple of 15 minutes (e.g. 60, 330, 345), not 50");
  CHECK(error(R"({"utc_offset_min": 900})") == "utc_offset_min: 900 is outside -840..840");
  CHECK(parse_alert_config(R"({"utc_offset_min": 345})"));   // Nepal
  CHECK(parse_alert_config(R"({"utc_offset_min": -570})"));  // Marquesas
  CHECK(error(R"({"time_zone": "Europe/Berln"})").rfind("time_zone: no time zone \"Europe/Berln\"", 0) == 0);
  CHECK(error(R"({"time_zone": 60})") == "time_zone: must be a string");
  CHECK(error(R"({"time_zone": "<+0520>-5:20"})") ==
        "time_zone: \"<+0520>-5:20\" has an offset of UTC+05:20, not a whole quarter hour from UTC");
  CHECK(error(R"({"time_zone": "<+052010>-5:20:10"})") ==
        "time_zone: \"<+052010>-5:20:10\" has an offset of UTC+05:20 and 10 s, not a whole quarter hour from UTC");
  CHECK(parse_alert_config(R"({"time_zone": "Asia/Kathmandu"})"));  // +05:45
  CHECK(parse_alert_config(R"({"time_zone": "Africa/Monrovia"})"));  // -00:44:30 until 1972
  CHECK(error(R"({"time_zone": "Europe/Berlin", "utc_offset_min": 60})").rfind("time_zone: give time_zone or", 0) == 0);
}

TEST_CASE("the venue's time zone follows daylight saving time in routing, detectors and reports") {
  auto c = parse_alert_config(R"({"time_zone": "Europe/Berlin", "detectors": {"bar": {"kind": "baseline"}},
    "contacts": [{"id": "alice", "on_duty": "mon-fri 08:00-18:00"}]})");
  REQUIRE(c);
  CHECK(c->time_zone.name() == "Europe/Berlin");
  const auto summer = kiosk::protocol::parse_time("2026-07-01T12:00:00.000Z").value();
  const auto winter = kiosk::protocol::parse_time("2026-12-01T12:00:00.000Z").value();
  for (const auto* where : {"lobby", "bar"}) {
    INFO(where);
    CHECK(c->detector_for(where).baseline.time_zone.offset_at(summer) == 2h);
    CHECK(c->detector_for(where).baseline.time_zone.offset_at(winter) == 1h);
  }
  // 07:30 UTC is 09:30 in summer (on duty) and 08:30 in winter (on duty); 06:30 UTC only in summer.
  const auto routing = c->routing();
  CHECK_FALSE(routing.who_gets("lobby", kiosk::protocol::parse_time("2026-07-01T06:30:00.000Z").value(), 0).empty());
  CHECK(routing.who_gets("lobby", kiosk::protocol::parse_time("2026-12-01T06:30:00.000Z").value(), 0).empty());
  // A POSIX rule works without the tz database.
  auto posix = parse_alert_config(R"({"time_zone": "CET-1CEST,M3.5.0,M10.5.0/3"})");
  REQUIRE(posix);
  CHECK(posix->time_zone.offset_at(summer) == 2h);
}

TEST_CASE("webhook URLs are http or https with a host, an optional port and a path") {
  auto u = parse_http_url("http://127.0.0.1:8080/hooks/alert?x=1");
  REQUIRE(u);
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == "8080");
  CHECK(u->target == "/hooks/alert?x=1");
  auto d = parse_http_url("http://pager.local");
  REQUIRE(d);
  CHECK(d->port == "80");
  CHECK(d->target == "/");
  CHECK(parse_http_url("http://[::1]:81/x")->host == "::1");
  auto s = parse_http_url("https://hooks.example.com/T1/abc");
  REQUIRE(s);
  CHECK(s->tls);
  CHECK(s->port == "443");
  CHECK(s->target == "/T1/abc");
  CHECK_FALSE(d->tls);
  CHECK(parse_http_url("https://relay.local:8443/")->port == "8443");
  CHECK_FALSE(parse_http_url("ftp://x/"));
  CHECK_FALSE(parse_http_url("http://:80/"));
  CHECK_FALSE(parse_http_url("http://x:99999/"));
  CHECK_FALSE(parse_http_url("http://user:pw@x/"));
}

TEST_CASE("webhook retries back off exponentially with jitter up to the cap") {
  WebhookPolicy p;
  p.backoff_initial = 100ms;
  p.backoff_max = 1000ms;
  p.jitter = 0.2;
  CHECK(webhook_backoff(p, 1, 0) == 100ms);
  CHECK(webhook_backoff(p, 2, 0) == 200ms);
  CHECK(webhook_backoff(p, 4, 0) == 800ms);
  CHECK(webhook_backoff(p, 5, 0) == 1000ms);
  CHECK(webhook_backoff(p, 60, 0) == 1000ms);
  CHECK(webhook_backoff(p, 1, 1) == 120ms);
  CHECK(webhook_backoff(p, 1, -1) == 80ms);
}

namespace {
TrackedAlert tracked(const std::string& id, const std::string& location, WallTime now) {
  TrackedAlert t;
  t.alert.id = id;
  t.alert.location = location;
  t.alert.since = t.alert.updated = now;
  t.alert.bad = 3;
  t.alert.total = 4;
  t.alert.reason = "3 of the last 4 ratings at Bar were bad (usual: 10%)";
  t.display_name = "Bar";
  t.level = 1;
  t.last_notice = t.level_since = t.last_publish = now;
  return t;
}
Effect persist(Change change, const TrackedAlert& t) {
  return Effect{.kind = Effect::Kind::persist, .change = change, .alert = t.alert, .contact = {}, .record = t};
}
}  // namespace

TEST_CASE("stored alerts come back as they were, with their history and the next id") {
  kiosk::test::TempDir dir;
  const auto path = (dir / "hub.db").string();
  const WallTime now = from_ms(1'800'000'000'000);
  {
    Database db(path);
    migrate(db);
    AlertStore store(db, "s1");
    auto a = tracked("a-000007", "bar", now);
    auto b = tracked("a-000008", "lobby", now);
    auto e1 = persist(Change::opened, a);
    auto e2 = persist(Change::opened, b);
    REQUIRE_FALSE(store.write({&e1, &e2}, 9, {}, now));
    a.alert.state = AlertState::acked;
    a.alert.acked_by = "alice";
    auto e3 = persist(Change::acked, a);
    b.alert.state = AlertState::resolved;
    auto e4 = persist(Change::resolved, b);
    REQUIRE_FALSE(store.write({&e3, &e4}, 9, {}, now + 5s));
  }
  Database db(path);
  AlertStore store(db, "s1");  // creating the tables again is a no-op
  auto active = store.load_active();
  REQUIRE(active.size() == 1);
  CHECK(active[0] == [&] {
    auto a = tracked("a-000007", "bar", now);
    a.alert.state = AlertState::acked;
    a.alert.acked_by = "alice";
    a.acked_at = now + 5s;  // when the ack was stored: tells a new wave from the spike that was acked
    return a;
  }());
  CHECK(store.load_next_id() == 9);
  CHECK(store.list({AlertState::resolved}, 10).at(0).id == "a-000008");
  CHECK(store.list({}, 10).size() == 2);
  // "Active": open or acked, not resolved.
  const auto going_on = store.list({AlertState::open, AlertState::acked}, 10);
  REQUIRE(going_on.size() == 1);
  CHECK(going_on[0].id == "a-000007");
  CHECK(store.list({AlertState::open}, 10).empty());
  auto h = store.history("a-000007");
  REQUIRE(h.size() == 2);
  CHECK(h[1].change == "acked");
  CHECK(h[1].by == std::optional<std::string>("alice"));
  CHECK(h[1].at == now + 5s);
  CHECK_FALSE(store.find("a-000009"));
  AlertStore other(db, "s2");  // another site's alerts are its own
  CHECK(other.load_active().empty());
  CHECK(other.load_next_id() == 1);
}

TEST_CASE("the webhook queue hands out due posts, reschedules failures and forgets deliveries") {
  Database db(":memory:");
  AlertStore store(db, "s1");
  const WallTime now = from_ms(1'800'000'000'000);
  WebhookPost p{.alert_id = "a-000001", .change = "opened", .contact = "alice", .url = "http://127.0.0.1:1/", .body = "{}"};
  WebhookPost q = p;
  q.contact = "bob";  // one contact's posts go one at a time: two contacts make two due posts
  REQUIRE_FALSE(store.write({}, 2, {p, q}, now));
  auto due = store.due_posts(now, 10);
  REQUIRE(due.size() == 2);
  CHECK(store.pending_posts() == 2);
  REQUIRE_FALSE(store.post_failed(due[0].row, 1, now + 1s, "connection refused", false));
  REQUIRE_FALSE(store.post_failed(due[1].row, 9, now, "HTTP 500", true));
  CHECK(store.due_posts(now, 10).empty());
  CHECK(store.next_post_due() == now + 1s);
  auto later = store.due_posts(now + 1s, 10);
  REQUIRE(later.size() == 1);
  CHECK(later[0].attempts == 1);
  CHECK(later[0].last_error == "connection refused");
  REQUIRE_FALSE(store.post_delivered(later[0].row));
  CHECK(store.pending_posts() == 0);
  CHECK(store.failed_posts() == 1);
  CHECK_FALSE(store.next_post_due());
}

TEST_CASE("the webhook queue offers the oldest pending post of each alert to each contact, and waits on it while it backs off") {
  Database db(":memory:");
  AlertStore store(db, "s1");
  const WallTime now = from_ms(1'800'000'000'000);
  const auto post = [](std::string contact, std::string alert) {
    return WebhookPost{.alert_id = std::move(alert), .change = "opened", .contact = std::move(contact),
                       .url = "http://127.0.0.1:1/", .body = "{}"};
  };
  REQUIRE_FALSE(
      store.write({}, 2, {post("alice", "a-1"), post("alice", "a-2"), post("bob", "a-1"), post("alice", "a-1")}, now));
  auto due = store.due_posts(now, 10);
  REQUIRE(due.size() == 3);
  CHECK(due[0].row == 1);  // alice's first of a-1
  CHECK(due[1].row == 2);  // alice's a-2: another alert does not wait
  CHECK(due[2].row == 3);  // bob's
  // Alice's first post of a-1 backs off: her second of a-1 waits behind it, nothing else does.
  REQUIRE_FALSE(store.post_failed(1, 1, now + 5s, "connection refused", false));
  due = store.due_posts(now, 10);
  REQUIRE(due.size() == 2);
  CHECK(due[0].row == 2);
  CHECK(due[1].row == 3);
  CHECK(store.next_post_due() == now);          // a-2's and bob's, due already
  CHECK(store.next_post_due(now) == now + 5s);  // then alice's retry, not row 4 (due, but behind)
  REQUIRE_FALSE(store.post_delivered(2));
  REQUIRE_FALSE(store.post_delivered(3));
  CHECK(store.next_post_due(now) == now + 5s);
  // Given up: the next one of a-1 to her is the head now.
  REQUIRE_FALSE(store.post_failed(1, 2, now, "HTTP 404", true));
  due = store.due_posts(now, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].row == 4);
  CHECK(AlertStore(db, "s2").due_posts(now, 10).empty());  // another site's queue is its own
}

TEST_CASE("a newer pending webhook post of an alert to a contact supersedes the older ones, except one being sent") {
  Database db(":memory:");
  AlertStore store(db, "s1");
  const WallTime now = from_ms(1'800'000'000'000);
  const auto post = [](std::string contact, std::string alert, std::string change) {
    return WebhookPost{.alert_id = std::move(alert), .change = std::move(change), .contact = std::move(contact),
                       .url = "http://127.0.0.1:1/", .body = "{}"};
  };
  REQUIRE_FALSE(store.write({}, 2,
                            {post("alice", "a-1", "opened"), post("alice", "a-2", "opened"), post("bob", "a-1", "opened"),
                             post("alice", "a-1", "repeated"), post("alice", "a-1", "resolved")},
                            now));
  // Row 1 is on its way: it stays; row 4 has row 5 after it; bob's and a-2 are alone.
  auto gone = store.supersede_posts({1});
  REQUIRE(gone);
  REQUIRE(gone->size() == 1);
  CHECK((*gone)[0].row == 4);
  CHECK((*gone)[0].change == "repeated");
  CHECK(store.pending_posts() == 4);
  // Row 1 failed and waits for a retry: now row 5 makes it unneeded.
  REQUIRE_FALSE(store.post_failed(1, 1, now + 1s, "connection refused", false));
  gone = store.supersede_posts({});
  REQUIRE(gone);
  REQUIRE(gone->size() == 1);
  CHECK((*gone)[0].row == 1);
  auto due = store.due_posts(now, 10);
  REQUIRE(due.size() == 3);
  CHECK(due[0].row == 2);  // alice's a-2
  CHECK(due[1].row == 3);  // bob's
  CHECK(due[2].row == 5);  // alice's a-1: its latest
  CHECK(store.supersede_posts({})->empty());
}

TEST_CASE("webhook queue rows are never numbered again, even after the queue emptied or the hub reopened it") {
  kiosk::test::TempDir dir;
  const WallTime now = from_ms(1'800'000'000'000);
  WebhookPost p{.alert_id = "a-000001", .change = "opened", .contact = "alice", .url = "http://127.0.0.1:1/", .body = "{}"};
  {
    Database db((dir / "hub.db").string());
    AlertStore store(db, "s1");
    REQUIRE_FALSE(store.write({}, 2, {p, p}, now));
    REQUIRE_FALSE(store.post_delivered(1));
    REQUIRE_FALSE(store.post_delivered(2));
    REQUIRE(store.pending_posts() == 0);
  }
  Database db((dir / "hub.db").string());
  AlertStore store(db, "s1");
  REQUIRE_FALSE(store.write({}, 2, {p}, now));
  auto due = store.due_posts(now, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].row == 3);  // rows 1 and 2 were other posts
}

TEST_CASE("a webhook post's delivery id stays with it across hub runs, and a database restored from a backup "
          "never hands out an id again") {
  kiosk::test::TempDir dir;
  const auto path = (dir / "hub.db").string();
  const auto backup = (dir / "backup.db").string();
  const WallTime now = from_ms(1'800'000'000'000);
  WebhookPost p{.alert_id = "a-000001", .change = "opened", .contact = "alice", .url = "http://127.0.0.1:1/", .body = "{}"};
  std::string queued;  // a post still pending when the backup was taken
  std::string sent;    // a post queued and delivered after the backup
  {
    Database db(path);
    AlertStore store(db, "s1");
    REQUIRE(store.run_tag().size() == 8);
    REQUIRE_FALSE(store.write({}, 2, {p}, now));
    auto due = store.due_posts(now, 10);
    REQUIRE(due.size() == 1);
    queued = due[0].delivery;
    CHECK(queued == "s1-" + store.run_tag() + "-1");
    REQUIRE_FALSE(db.exec("VACUUM INTO '" + backup + "'"));
    REQUIRE_FALSE(store.post_delivered(due[0].row));
    REQUIRE_FALSE(store.write({}, 2, {p}, now));
    due = store.due_posts(now, 10);
    REQUIRE(due.size() == 1);
    sent = due[0].delivery;
    CHECK(sent != queued);
  }
  // The hub restarts on the restored copy: the post pending in it keeps its id, and the next post,
  // numbered 2 again, still gets an id the receiver has not seen.
  Database db(backup);
  AlertStore store(db, "s1");
  REQUIRE_FALSE(store.write({}, 2, {p}, now));
  auto due = store.due_posts(now, 10);
  REQUIRE(due.size() == 1);  // the second waits behind the first: same alert, same contact
  CHECK(due[0].delivery == queued);
  REQUIRE_FALSE(store.post_delivered(due[0].row));
  due = store.due_posts(now, 10);
  REQUIRE(due.size() == 1);
  CHECK(due[0].row == 2);
  CHECK(due[0].delivery != sent);
  CHECK(due[0].delivery == "s1-" + store.run_tag() + "-2");
  // A post queued by a hub before delivery ids had a run tag keeps the id it had.
  CHECK(webhook_delivery_id("s1", "", 7) == "s1-7");
}

TEST_CASE("a webhook retry scheduled before the wall clock stepped back an hour is not held back an hour") {
  Database db(":memory:");
  AlertStore store(db, "s1");
  const WallTime now = from_ms(1'800'000'000'000);
  WebhookPost p{.alert_id = "a-000001", .change = "opened", .contact = "alice", .url = "http://127.0.0.1:1/", .body = "{}"};
  REQUIRE_FALSE(store.write({}, 2, {p}, now));
  auto due = store.due_posts(now, 10);
  REQUIRE(due.size() == 1);
  REQUIRE_FALSE(store.post_failed(due[0].row, 1, now + 30s, "connection refused", false));
  const WallTime stepped_back = now - 1h;
  CHECK(store.due_posts(stepped_back, 10, stepped_back + 5min).size() == 1);   // beyond any retry wait: due
  CHECK(store.due_posts(now + 10s, 10, now + 10s + 5min).empty());            // an ordinary wait is kept
}

TEST_CASE("a latency-first alert write is made power-safe by sync and leaves the connection fully synchronous") {
  kiosk::test::TempDir dir;
  Database db((dir / "hub.db").string());
  db.exec_or_throw("PRAGMA journal_mode=WAL");
  db.exec_or_throw("PRAGMA synchronous=FULL");
  AlertStore store(db, "s1");
  const WallTime now = from_ms(1'800'000'000'000);
  auto a = tracked("a-000001", "bar", now);
  auto e = persist(Change::opened, a);
  REQUIRE_FALSE(store.write({&e}, 2, {}, now, AlertStore::Durability::crash_safe));
  Statement s(db, "PRAGMA synchronous");
  REQUIRE(s.step());
  CHECK(s.column_int(0) == 2);  // FULL again, for the press commits that share the connection
  s.reset();
  Statement c(db, "PRAGMA wal_autocheckpoint");
  REQUIRE(c.step());
  CHECK(c.column_int(0) == 1000);
  c.reset();
  CHECK_FALSE(store.sync());
  CHECK(store.load_active().size() == 1);
}

TEST_CASE("a webhook refused with a 4xx is final, except 408 and 429, and 5xx is retried") {
  for (unsigned status : {400u, 401u, 403u, 404u, 405u, 410u, 422u, 499u}) {
    INFO("HTTP " << status);
    CHECK(webhook_refusal_is_final(status));
  }
  for (unsigned status : {0u, 200u, 302u, 408u, 429u, 500u, 502u, 503u}) {
    INFO("HTTP " << status);
    CHECK_FALSE(webhook_refusal_is_final(status));
  }
}

namespace {
// Queues one post and marks it given up `age` before `now`.
void failed_post(AlertStore& store, WallTime now, std::chrono::milliseconds age) {
  WebhookPost p{.alert_id = "a-000001", .change = "opened", .contact = "alice", .url = "http://127.0.0.1:1/", .body = "{}"};
  REQUIRE_FALSE(store.write({}, 2, {p}, now - age));
  auto due = store.due_posts(now, 100);
  REQUIRE_FALSE(due.empty());
  REQUIRE_FALSE(store.post_failed(due.back().row, 1, now - age, "HTTP 404", true));
}
}  // namespace

TEST_CASE("failed webhook posts are purged after a week, pending ones never") {
  Database db(":memory:");
  AlertStore store(db, "s1");
  const WallTime now = from_ms(1'800'000'000'000);
  failed_post(store, now, 8 * 24h);
  failed_post(store, now, 6 * 24h);
  WebhookPost p{.alert_id = "a-000002", .change = "opened", .contact = "bob", .url = "http://127.0.0.1:1/", .body = "{}"};
  REQUIRE_FALSE(store.write({}, 3, {p}, now - 30 * 24h));  // still pending: not the purge's business
  AlertStore other(db, "s2");
  failed_post(other, now, 8 * 24h);
  auto purged = store.purge_finished_posts(now - 7 * 24h);
  REQUIRE(purged);
  CHECK(*purged == 1);
  CHECK(store.failed_posts() == 1);
  CHECK(store.pending_posts() == 1);
  CHECK(other.failed_posts() == 1);  // another site's queue is its own
}

TEST_CASE("the webhook sender purges week-old failed posts at start and then once a day") {
  boost::asio::io_context io;
  Database db(":memory:");
  AlertStore store(db, "s1");
  ManualClock clock;
  const Log log(LogLevel::error);
  failed_post(store, clock.wall_now(), 8 * 24h);
  failed_post(store, clock.wall_now(), 7 * 24h - 30min);
  WebhookSender sender(io, store, clock, log, WebhookPolicy{});
  sender.start();
  CHECK(store.failed_posts() == 1);  // the week-old one went at start
  clock.advance(1h);
  sender.housekeep();
  CHECK(store.failed_posts() == 1);  // a week old by now, but the purge runs once a day
  clock.advance(23h);
  sender.housekeep();
  CHECK(store.failed_posts() == 0);
  sender.stop();
}

TEST_CASE("each location's latest alert is found whatever its state, by id order") {
  Database db(":memory:");
  AlertStore store(db, "s1");
  const WallTime now = from_ms(1'800'000'000'000);
  auto old_bar = tracked("a-999999", "bar", now);
  auto lobby = tracked("a-000008", "lobby", now);
  auto new_bar = tracked("a-1000000", "bar", now - 1h);  // the wall clock stepped back in between
  new_bar.alert.state = AlertState::resolved;
  auto e1 = persist(Change::opened, old_bar);
  auto e2 = persist(Change::opened, lobby);
  auto e3 = persist(Change::resolved, new_bar);
  REQUIRE_FALSE(store.write({&e1, &e2, &e3}, 1'000'001, {}, now));
  auto latest = store.latest_by_location();
  REQUIRE(latest.size() == 2);
  CHECK(latest[0].id == "a-1000000");
  CHECK(latest[0].state == AlertState::resolved);
  CHECK(latest[1].id == "a-000008");
  CHECK(AlertStore(db, "s2").latest_by_location().empty());
}

namespace {

Verdict ratings_spike(int bad, int total, kiosk::protocol::Severity severity = kiosk::protocol::Severity::warning) {
  Verdict v;
  v.spike = true;
  v.bad = bad;
  v.total = total;
  v.window_s = 300;
  v.baseline = 0.12;
  v.severity = severity;
  return v;
}

Verdict calm() {
  Verdict v;
  v.back_to_normal = true;
  return v;
}

Verdict manager_call() { return call_manager_verdict(RatedPress{.rating = 4, .scale = 4, .call_manager = true}); }

Contact person(std::string id, int level, std::vector<DutyWindow> on_duty = {}) {
  Contact c;
  c.id = std::move(id);
  c.name = c.id;
  c.webhook = "http://127.0.0.1:9/" + c.id;
  c.level = level;
  c.on_duty = std::move(on_duty);
  return c;
}

std::vector<std::string> told(const std::vector<Effect>& effects, Change change) {
  std::vector<std::string> out;
  for (const auto& e : effects)
    if (e.kind == Effect::Kind::notify && e.change == change) out.push_back(e.contact->id);
  return out;
}

std::vector<kiosk::protocol::Alert> published(const std::vector<Effect>& effects) {
  std::vector<kiosk::protocol::Alert> out;
  for (const auto& e : effects)
    if (e.kind == Effect::Kind::publish) out.push_back(e.alert);
  return out;
}

}  // namespace

TEST_CASE("a call for a manager on an open alert is published with its reason and paged to whoever holds it") {
  using kiosk::protocol::Severity;
  ManualClock clock;
  AlertMachine m({}, Routing({person("alice", 0), person("bob", 1)}, TimeZone()));
  // Already critical from ratings: the call changes neither the severity nor the state.
  const auto opened = m.on_verdict("spa", "Spa", ratings_spike(8, 9, Severity::critical), clock.wall_now());
  REQUIRE(told(opened, Change::opened) == std::vector<std::string>{"alice"});
  clock.advance(10min);
  REQUIRE(told(m.tick(clock.wall_now()), Change::escalated) == std::vector<std::string>{"bob"});

  clock.advance(1min);
  const auto call = m.on_verdict("spa", "Spa", manager_call(), clock.wall_now());
  const auto out = published(call);
  REQUIRE(out.size() == 1);
  CHECK(out[0].id == "a-000001");
  CHECK(out[0].state == AlertState::open);
  CHECK(out[0].severity == Severity::critical);
  CHECK(out[0].reason == "A guest asked for a manager at Spa");
  CHECK(told(call, Change::updated) == std::vector<std::string>{"bob"});  // the level that holds it now
  CHECK(m.active("spa")->cause == Verdict::Cause::call_manager);
  // The guest pressing again at once is the same call; ratings updates keep the call's reason.
  CHECK(m.on_verdict("spa", "Spa", manager_call(), clock.wall_now() + 10s).empty());
  clock.advance(2min);
  m.on_verdict("spa", "Spa", ratings_spike(9, 10, Severity::critical), clock.wall_now());
  CHECK(m.active("spa")->alert.reason == "A guest asked for a manager at Spa");
  // Calm ratings do not end a call for a manager; an ack does.
  clock.advance(30min);
  CHECK(m.on_verdict("spa", "Spa", calm(), clock.wall_now()).empty());
  CHECK(m.active("spa")->alert.state == AlertState::open);
}

TEST_CASE("a call for a manager on an acked alert resolves it and opens a new critical alert that pages again") {
  using kiosk::protocol::Severity;
  ManualClock clock;
  AlertMachine m({}, Routing({person("alice", 0), person("bob", 1)}, TimeZone()));
  m.on_verdict("spa", "Spa", ratings_spike(4, 5), clock.wall_now());
  clock.advance(1min);
  REQUIRE(m.ack("a-000001", "alice", clock.wall_now()).ok());

  clock.advance(2min);
  const auto call = m.on_verdict("spa", "Spa", manager_call(), clock.wall_now());
  const auto out = published(call);
  REQUIRE(out.size() == 2);
  CHECK(out[0].id == "a-000001");
  CHECK(out[0].state == AlertState::resolved);
  CHECK(out[1].id == "a-000002");  // published last: the retained alert/spa
  CHECK(out[1].state == AlertState::open);
  CHECK(out[1].severity == Severity::critical);
  CHECK(out[1].reason == "A guest asked for a manager at Spa");
  CHECK(told(call, Change::opened) == std::vector<std::string>{"alice"});
  REQUIRE(m.active("spa"));
  CHECK(m.active("spa")->alert.id == "a-000002");
  // Not resolved by calm ratings, and escalated like any alert nobody acknowledges.
  clock.advance(5min);
  CHECK(m.on_verdict("spa", "Spa", calm(), clock.wall_now()).empty());
  clock.advance(5min);
  CHECK(told(m.tick(clock.wall_now()), Change::escalated) == std::vector<std::string>{"bob"});
}

TEST_CASE("on-duty hours are judged on the wall clock as it reads now, timers on the timeline") {
  // Monday 2026-10-05: alice works Mondays, bob Wednesdays.
  const WallTime monday = kiosk::protocol::parse_time("2026-10-05T10:00:00.000Z").value();
  const DutyWindow mondays{.first_day = 0, .last_day = 0, .start_min = 0, .end_min = 24 * 60};
  const DutyWindow wednesdays{.first_day = 2, .last_day = 2, .start_min = 0, .end_min = 24 * 60};
  AlertMachine m({}, Routing({person("alice", 0, {mondays}), person("bob", 0, {wednesdays})}, TimeZone()));
  // The hub started on a stale Monday; NTP has since stepped the wall clock to Wednesday.
  const WallTime wednesday = monday + 48h;
  const auto opened = m.on_verdict("spa", "Spa", ratings_spike(4, 5), EventTime(monday + 1min, wednesday));
  CHECK(told(opened, Change::opened) == std::vector<std::string>{"bob"});
  CHECK(m.active("spa")->alert.since == monday + 1min);
  CHECK(m.tick(EventTime(monday + 5min, wednesday + 4min)).empty());  // repeats count on the timeline
  CHECK(told(m.tick(EventTime(monday + 6min, wednesday + 5min)), Change::repeated) == std::vector<std::string>{"bob"});
}

TEST_CASE("a webhook's text says what happened where, and how to acknowledge while it is open") {
  kiosk::protocol::Alert a;
  a.id = "a-000012";
  a.location = "front-desk";
  a.reason = "4 of the last 5 ratings were bad (usual: 8%)";
  CHECK(webhook_text(a, Change::opened, "Front desk") ==
        "Bad ratings at Front desk: 4 of the last 5 ratings were bad (usual: 8%) (alert a-000012; acknowledge: "
        "kioskctl alerts ack a-000012)");
  CHECK_THAT(webhook_text(a, Change::escalated, "Front desk"), Catch::StartsWith("Escalated, nobody acknowledged: Front desk: "));
  CHECK_THAT(webhook_text(a, Change::repeated, "Front desk"), Catch::StartsWith("Not acknowledged yet: Front desk: "));
  CHECK_THAT(webhook_text(a, Change::updated, "Front desk"), Catch::StartsWith("Still bad at Front desk: "));
  a.acked_by = "bob";
  CHECK(webhook_text(a, Change::acked, "Front desk") == "Front desk: acknowledged by bob (alert a-000012)");
  CHECK(webhook_text(a, Change::resolved, "Front desk") == "Front desk: back to normal (alert a-000012)");
}
