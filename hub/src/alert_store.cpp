// Alert tables on the hub's SQLite connection (schema migrations 2, 3 and 6): active alerts with their
// restart state, their history, the id counter and the webhook queue (an alert's posts to a contact in order).
#include "kiosk/hub/alert_store.hpp"

#include <algorithm>
#include <cassert>
#include <limits>

#include <sqlite3.h>

#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/random_hex.hpp"

namespace kiosk::hub {

using protocol::Alert;
using protocol::AlertState;
using protocol::Severity;

namespace {

// The alert tables are migrations 2 and 3 of the hub's schema; a store on a bare connection (the
// tests, kiosk-replay) brings it up to date first.
Database& migrated(Database& db) {
  migrate(db);
  return db;
}

// The heads: the oldest pending post of each alert to each contact, in the queue of site ?1.
constexpr const char* kWebhookHeads =
    "row IN (SELECT MIN(row) FROM webhook_queue WHERE site = ?1 AND state = 'pending' GROUP BY contact, alert_id)";

// What names a queued post, from a row whose first columns are row, alert_id, change, contact.
WebhookPost post_named_by(const Statement& s) {
  WebhookPost p;
  p.row = s.column_int(0);
  p.alert_id = s.column_text(1);
  p.change = s.column_text(2);
  p.contact = s.column_text(3);
  return p;
}

AlertState state_from(const std::string& s) {
  if (s == "acked") return AlertState::acked;
  if (s == "resolved") return AlertState::resolved;
  return AlertState::open;
}

constexpr const char* kAlertColumns =
    "id, location, state, severity, since_ms, updated_ms, bad, total, window_s, baseline, reason, acked_by";

// Reads the kAlertColumns of the current row, starting at column `i`.
Alert alert_from(const Statement& s, int i = 0) {
  Alert a;
  a.id = s.column_text(i);
  a.location = s.column_text(i + 1);
  a.state = state_from(s.column_text(i + 2));
  a.severity = s.column_text(i + 3) == "critical" ? Severity::critical : Severity::warning;
  a.since = from_ms(s.column_int(i + 4));
  a.updated = from_ms(s.column_int(i + 5));
  a.bad = static_cast<int>(s.column_int(i + 6));
  a.total = static_cast<int>(s.column_int(i + 7));
  a.window_s = static_cast<int>(s.column_int(i + 8));
  a.baseline = s.column_double(i + 9);
  a.reason = s.column_text(i + 10);
  if (!s.column_null(i + 11)) a.acked_by = s.column_text(i + 11);
  return a;
}

}  // namespace

std::string webhook_delivery_id(std::string_view site, std::string_view run, std::int64_t row) {
  std::string id(site);
  id += '-';
  if (!run.empty()) (id += run) += '-';
  return id + std::to_string(row);
}

AlertStore::AlertStore(Database& db, std::string site)
    : db_(migrated(db)),
      site_(std::move(site)),
      run_tag_(random_hex(4)),
      upsert_alert_(db_, R"sql(
INSERT INTO alerts (id, site, location, state, severity, since_ms, updated_ms, bad, total, window_s, baseline,
                    reason, acked_by, acked_at_ms, resolved_at_ms)
VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
ON CONFLICT (site, id) DO UPDATE SET
  state = excluded.state, severity = excluded.severity, updated_ms = excluded.updated_ms, bad = excluded.bad,
  total = excluded.total, window_s = excluded.window_s, baseline = excluded.baseline, reason = excluded.reason,
  acked_by = COALESCE(excluded.acked_by, alerts.acked_by),
  acked_at_ms = COALESCE(alerts.acked_at_ms, excluded.acked_at_ms),
  resolved_at_ms = COALESCE(alerts.resolved_at_ms, excluded.resolved_at_ms))sql"),
      upsert_tracking_(db_, R"sql(
INSERT OR REPLACE INTO alert_tracking (site, id, display_name, cause, level, last_notice_ms, level_since_ms,
                                       last_publish_ms, unpublished)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?))sql"),
      delete_tracking_(db_, "DELETE FROM alert_tracking WHERE site = ? AND id = ?"),
      insert_history_(db_, R"sql(
INSERT INTO alert_history (site, alert_id, change, at_ms, state, by, level, bad, total)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?))sql"),
      save_counter_(db_, R"sql(
INSERT INTO alert_counter (site, next_id) VALUES (?1, ?2)
ON CONFLICT (site) DO UPDATE SET next_id = MAX(alert_counter.next_id, excluded.next_id))sql"),
      insert_post_(db_, R"sql(
INSERT INTO webhook_queue (row, site, alert_id, change, contact, url, body, created_ms, next_attempt_ms, run)
VALUES (MAX(IFNULL((SELECT MAX(row) FROM webhook_queue), 0), IFNULL((SELECT row FROM webhook_last_row), 0)) + 1,
        ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9))sql"),
      save_last_post_row_(db_, R"sql(
INSERT INTO webhook_last_row (id, row) VALUES (1, last_insert_rowid())
ON CONFLICT (id) DO UPDATE SET row = excluded.row)sql"),
      due_posts_(db_, std::string(R"sql(
SELECT row, alert_id, change, contact, url, body, attempts, created_ms, next_attempt_ms, last_error, run
FROM webhook_queue WHERE )sql") + kWebhookHeads + R"sql( AND (next_attempt_ms <= ?2 OR next_attempt_ms > ?3)
ORDER BY next_attempt_ms, row LIMIT ?4)sql"),
      next_post_due_(db_, std::string("SELECT MIN(next_attempt_ms) FROM webhook_queue WHERE ") + kWebhookHeads +
                              " AND next_attempt_ms > ?2"),
      supersede_posts_(db_, R"sql(
DELETE FROM webhook_queue
WHERE site = ?1 AND state = 'pending' AND row NOT IN (SELECT value FROM json_each(?2))
  AND EXISTS (SELECT 1 FROM webhook_queue AS newer
              WHERE newer.site = ?1 AND newer.state = 'pending' AND newer.contact = webhook_queue.contact
                AND newer.alert_id = webhook_queue.alert_id AND newer.row > webhook_queue.row)
RETURNING row, alert_id, change, contact)sql"),
      delete_post_(db_, "DELETE FROM webhook_queue WHERE row = ?"),
      fail_post_(db_, R"sql(
UPDATE webhook_queue SET attempts = ?, next_attempt_ms = ?, last_error = ?, state = ? WHERE row = ?)sql"),
      touch_counter_(db_, "UPDATE alert_counter SET next_id = next_id WHERE site = ?") {
  Statement s(db_, "PRAGMA wal_autocheckpoint");
  if (s.step()) autocheckpoint_ = static_cast<int>(s.column_int(0));
}

std::optional<std::string> AlertStore::in_transaction(const std::function<std::optional<std::string>()>& body) {
  if (auto e = db_.exec("BEGIN IMMEDIATE")) return "begin: " + *e;
  auto error = body();
  if (!error) {
    if (auto e = db_.exec("COMMIT"); !e) {
      assert(db_.busy_statements() == 0 && "a statement left on a row holds a read transaction open");
      return std::nullopt;
    }
    error = "commit: " + db_.last_error();
  }
  db_.exec("ROLLBACK");
  return error;
}

std::optional<std::string> AlertStore::persist(const Effect& e, WallTime now) {
  const Alert& a = e.alert;
  auto& s = upsert_alert_;
  s.reset();
  s.bind(1, a.id)
      .bind(2, site_)
      .bind(3, a.location)
      .bind(4, to_string(a.state))
      .bind(5, to_string(a.severity))
      .bind(6, to_ms(a.since))
      .bind(7, to_ms(a.updated))
      .bind(8, std::int64_t{a.bad})
      .bind(9, std::int64_t{a.total})
      .bind(10, std::int64_t{a.window_s})
      .bind(11, a.baseline)
      .bind(12, a.reason)
      .bind_opt(13, a.acked_by);
  if (e.change == Change::acked) s.bind(14, to_ms(now));
  else s.bind_null(14);
  if (a.state == AlertState::resolved) s.bind(15, to_ms(now));
  else s.bind_null(15);
  s.step();
  if (s.failed()) return "save alert " + a.id + ": " + db_.last_error();

  if (a.state == AlertState::resolved || !e.record) {
    auto& d = delete_tracking_;
    d.reset();
    d.bind(1, site_).bind(2, a.id);
    d.step();
    if (d.failed()) return "forget alert " + a.id + ": " + db_.last_error();
  } else {
    const TrackedAlert& t = *e.record;
    auto& u = upsert_tracking_;
    u.reset();
    u.bind(1, site_)
        .bind(2, a.id)
        .bind(3, t.display_name)
        .bind(4, std::string_view(t.cause == Verdict::Cause::call_manager ? "call_manager" : "ratings"))
        .bind(5, std::int64_t{t.level})
        .bind(6, to_ms(t.last_notice))
        .bind(7, to_ms(t.level_since))
        .bind(8, to_ms(t.last_publish))
        .bind(9, std::int64_t{t.unpublished ? 1 : 0});
    u.step();
    if (u.failed()) return "save alert state " + a.id + ": " + db_.last_error();
  }

  auto& h = insert_history_;
  h.reset();
  h.bind(1, site_)
      .bind(2, a.id)
      .bind(3, to_string(e.change))
      .bind(4, to_ms(now))
      .bind(5, to_string(a.state));
  if (e.change == Change::acked && a.acked_by) h.bind(6, *a.acked_by);
  else h.bind_null(6);
  h.bind(7, std::int64_t{e.record ? e.record->level : 0}).bind(8, std::int64_t{a.bad}).bind(9, std::int64_t{a.total});
  h.step();
  if (h.failed()) return "save alert history " + a.id + ": " + db_.last_error();
  return std::nullopt;
}

std::optional<std::string> AlertStore::enqueue(const WebhookPost& p, WallTime now) {
  auto& s = insert_post_;
  s.reset();
  s.bind(1, site_)
      .bind(2, p.alert_id)
      .bind(3, p.change)
      .bind(4, p.contact)
      .bind(5, p.url)
      .bind(6, p.body)
      .bind(7, to_ms(now))
      .bind(8, to_ms(now))
      .bind(9, run_tag_);
  s.step();
  if (s.failed()) return "queue webhook for " + p.contact + ": " + db_.last_error();
  auto& last = save_last_post_row_;
  last.reset();
  last.step();
  if (last.failed()) return "queue webhook for " + p.contact + ": " + db_.last_error();
  return std::nullopt;
}

std::optional<std::string> AlertStore::write(const std::vector<const Effect*>& persists, std::uint64_t next_id,
                                             const std::vector<WebhookPost>& posts, WallTime now,
                                             Durability durability) {
  // WAL + synchronous=NORMAL: the commit is appended to the log without waiting for the disk.
  // And no automatic checkpoint inside it (it would copy pages and fsync the database): the
  // next commit, sync() right after the publish, does it.
  const bool relaxed = durability == Durability::crash_safe;
  if (relaxed)
    if (auto e = db_.exec("PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0")) return "synchronous: " + *e;
  auto error = in_transaction([&]() -> std::optional<std::string> {
    for (const Effect* e : persists)
      if (auto err = persist(*e, now)) return err;
    auto& c = save_counter_;
    c.reset();
    c.bind(1, site_).bind(2, static_cast<std::int64_t>(next_id));
    c.step();
    if (c.failed()) return "save alert counter: " + db_.last_error();
    for (const auto& p : posts)
      if (auto err = enqueue(p, now)) return err;
    return std::nullopt;
  });
  // The connection is shared with the press commits, which must stay synchronous=FULL.
  if (relaxed)
    if (auto e = db_.exec("PRAGMA synchronous=FULL; PRAGMA wal_autocheckpoint=" + std::to_string(autocheckpoint_)))
      return error ? error : "synchronous: " + *e;
  return error;
}

std::optional<std::string> AlertStore::sync() {
  // A FULL commit fsyncs the whole log, earlier relaxed commits included; the counter row always
  // exists after a write, and rewriting it is the smallest change that makes a commit write.
  return in_transaction([&]() -> std::optional<std::string> {
    auto& s = touch_counter_;
    s.reset();
    s.bind(1, site_);
    s.step();
    if (s.failed()) return "sync: " + db_.last_error();
    return std::nullopt;
  });
}

std::vector<TrackedAlert> AlertStore::load_active() {
  Statement s(db_, std::string("SELECT a.id, a.location, a.state, a.severity, a.since_ms, a.updated_ms, a.bad, a.total, "
                               "a.window_s, a.baseline, a.reason, a.acked_by, t.display_name, t.cause, t.level, "
                               "t.last_notice_ms, t.level_since_ms, t.last_publish_ms, t.unpublished, a.acked_at_ms "
                               "FROM alerts a LEFT JOIN alert_tracking t ON t.site = a.site AND t.id = a.id "
                               "WHERE a.site = ? AND a.state IN ('open', 'acked') ORDER BY a.since_ms"));
  s.bind(1, site_);
  std::vector<TrackedAlert> out;
  while (s.step()) {
    TrackedAlert t;
    t.alert = alert_from(s);
    // Without tracking (a row an older hub wrote), carry on as if it had just been notified.
    const bool tracked = !s.column_null(12);
    t.display_name = tracked ? s.column_text(12) : t.alert.location;
    t.cause = tracked && s.column_text(13) == "call_manager" ? Verdict::Cause::call_manager : Verdict::Cause::ratings;
    t.level = tracked ? static_cast<int>(s.column_int(14)) : 0;
    t.last_notice = tracked ? from_ms(s.column_int(15)) : t.alert.updated;
    t.level_since = tracked ? from_ms(s.column_int(16)) : t.alert.updated;
    t.last_publish = tracked ? from_ms(s.column_int(17)) : t.alert.updated;
    t.unpublished = tracked && s.column_int(18) != 0;
    if (t.alert.state == protocol::AlertState::acked && !s.column_null(19)) t.acked_at = from_ms(s.column_int(19));
    out.push_back(std::move(t));
  }
  return out;
}

std::uint64_t AlertStore::load_next_id() {
  std::uint64_t next = 1;
  {
    Statement s(db_, "SELECT next_id FROM alert_counter WHERE site = ?");
    s.bind(1, site_);
    if (s.step()) next = static_cast<std::uint64_t>(std::max<std::int64_t>(1, s.column_int(0)));
  }
  Statement s(db_, "SELECT id FROM alerts WHERE site = ?");
  s.bind(1, site_);
  while (s.step())
    if (auto n = parse_alert_number(s.column_text(0)); n && *n >= next) next = *n + 1;
  return next;
}

std::vector<Alert> AlertStore::list(const std::vector<AlertState>& states, std::size_t limit) {
  std::string sql = std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE site = ?1";
  if (!states.empty()) {
    sql += " AND state IN (";
    for (std::size_t i = 0; i < states.size(); ++i) sql += (i ? ",?" : "?") + std::to_string(i + 3);
    sql += ")";
  }
  sql += " ORDER BY since_ms DESC, id DESC LIMIT ?2";
  Statement s(db_, sql);
  s.bind(1, site_);
  s.bind(2, static_cast<std::int64_t>(limit));
  for (std::size_t i = 0; i < states.size(); ++i) s.bind(static_cast<int>(i + 3), to_string(states[i]));
  std::vector<Alert> out;
  while (s.step()) out.push_back(alert_from(s));
  return out;
}

std::optional<Alert> AlertStore::find(std::string_view id) {
  Statement s(db_, std::string("SELECT ") + kAlertColumns + " FROM alerts WHERE site = ? AND id = ?");
  s.bind(1, site_).bind(2, id);
  if (!s.step()) return std::nullopt;
  return alert_from(s);
}

std::vector<Alert> AlertStore::latest_by_location() {
  // Ids count up per site; "a-1000000" sorts after "a-999999" by length first.
  Statement s(db_, std::string("SELECT ") + kAlertColumns + " FROM (SELECT *, ROW_NUMBER() OVER (PARTITION BY location "
                   "ORDER BY length(id) DESC, id DESC) AS newest FROM alerts WHERE site = ?) WHERE newest = 1 "
                   "ORDER BY location");
  s.bind(1, site_);
  std::vector<Alert> out;
  while (s.step()) out.push_back(alert_from(s));
  return out;
}

std::vector<AlertHistoryEntry> AlertStore::history(std::string_view id) {
  Statement s(db_, "SELECT change, at_ms, state, by, level, bad, total FROM alert_history "
                   "WHERE site = ? AND alert_id = ? ORDER BY row");
  s.bind(1, site_).bind(2, id);
  std::vector<AlertHistoryEntry> out;
  while (s.step()) {
    AlertHistoryEntry h;
    h.change = s.column_text(0);
    h.at = from_ms(s.column_int(1));
    h.state = state_from(s.column_text(2));
    if (!s.column_null(3)) h.by = s.column_text(3);
    h.level = static_cast<int>(s.column_int(4));
    h.bad = static_cast<int>(s.column_int(5));
    h.total = static_cast<int>(s.column_int(6));
    out.push_back(std::move(h));
  }
  return out;
}

std::vector<WebhookPost> AlertStore::due_posts(WallTime now, std::size_t limit, std::optional<WallTime> latest) {
  auto& s = due_posts_;
  s.reset();
  ResetAfter done{s};
  s.bind(1, site_).bind(2, to_ms(now)).bind(3, latest ? to_ms(*latest) : std::numeric_limits<std::int64_t>::max());
  s.bind(4, static_cast<std::int64_t>(limit));
  std::vector<WebhookPost> out;
  while (s.step()) {
    WebhookPost p = post_named_by(s);
    p.url = s.column_text(4);
    p.body = s.column_text(5);
    p.attempts = static_cast<int>(s.column_int(6));
    p.created = from_ms(s.column_int(7));
    p.next_attempt = from_ms(s.column_int(8));
    p.last_error = s.column_text(9);
    p.delivery = webhook_delivery_id(site_, s.column_text(10), p.row);
    out.push_back(std::move(p));
  }
  return out;
}

std::optional<WallTime> AlertStore::next_post_due(std::optional<WallTime> after) {
  auto& s = next_post_due_;
  s.reset();
  ResetAfter done{s};
  s.bind(1, site_).bind(2, after ? to_ms(*after) : std::numeric_limits<std::int64_t>::min());
  if (!s.step() || s.column_null(0)) return std::nullopt;
  return from_ms(s.column_int(0));
}

protocol::Result<std::vector<WebhookPost>> AlertStore::supersede_posts(const std::vector<std::int64_t>& sending) {
  std::string rows = "[";
  for (auto row : sending) rows += (rows.size() > 1 ? "," : "") + std::to_string(row);
  rows += "]";
  auto& s = supersede_posts_;
  s.reset();
  ResetAfter done{s};
  s.bind(1, site_).bind(2, rows);
  std::vector<WebhookPost> out;
  while (s.step()) out.push_back(post_named_by(s));
  if (s.failed()) return protocol::Error{"webhook_queue", "supersede: " + db_.last_error()};
  std::sort(out.begin(), out.end(), [](const WebhookPost& a, const WebhookPost& b) { return a.row < b.row; });
  return out;
}

std::optional<std::string> AlertStore::post_delivered(std::int64_t row) {
  auto& s = delete_post_;
  s.reset();
  s.bind(1, row);
  s.step();
  if (s.failed()) return "webhook queue: " + db_.last_error();
  return std::nullopt;
}

std::optional<std::string> AlertStore::post_failed(std::int64_t row, int attempts, WallTime next_attempt,
                                                   const std::string& error, bool give_up) {
  auto& s = fail_post_;
  s.reset();
  s.bind(1, std::int64_t{attempts})
      .bind(2, to_ms(next_attempt))
      .bind(3, error)
      .bind(4, std::string_view(give_up ? "failed" : "pending"))
      .bind(5, row);
  s.step();
  if (s.failed()) return "webhook queue: " + db_.last_error();
  return std::nullopt;
}

std::size_t AlertStore::pending_posts() {
  Statement s(db_, "SELECT COUNT(*) FROM webhook_queue WHERE site = ? AND state = 'pending'");
  s.bind(1, site_);
  s.step();
  return static_cast<std::size_t>(s.column_int(0));
}

std::size_t AlertStore::failed_posts() {
  Statement s(db_, "SELECT COUNT(*) FROM webhook_queue WHERE site = ? AND state = 'failed'");
  s.bind(1, site_);
  s.step();
  return static_cast<std::size_t>(s.column_int(0));
}

protocol::Result<std::size_t> AlertStore::purge_finished_posts(WallTime before) {
  // A finished row's next_attempt_ms is its last attempt (post_failed with give_up).
  Statement s(db_, "DELETE FROM webhook_queue WHERE site = ? AND state IN ('failed', 'delivered') "
                   "AND next_attempt_ms < ?");
  s.bind(1, site_).bind(2, to_ms(before));
  s.step();
  if (s.failed()) return protocol::Error{"webhook_queue", "purge: " + db_.last_error()};
  return static_cast<std::size_t>(sqlite3_changes(db_.handle()));
}

}  // namespace kiosk::hub
