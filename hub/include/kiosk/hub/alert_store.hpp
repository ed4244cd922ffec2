// Alerts in the hub's SQLite database: the alerts with their history, what the alert machine needs
// to carry on after a restart, the id counter, and the durable webhook queue. Steady-state errors
// are values (std::optional<std::string>); opening (the idempotent table creation) throws StoreError.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/hub/alert_machine.hpp"
#include "kiosk/hub/sqlite_store.hpp"
#include "kiosk/protocol/messages.hpp"

namespace kiosk::hub {

// One line of an alert's history: what changed, when, and the alert's state after it.
struct AlertHistoryEntry {
  std::string change;  // opened, updated, acked, repeated, escalated, resolved
  WallTime at{};
  protocol::AlertState state = protocol::AlertState::open;
  std::optional<std::string> by;  // acked: who
  int level = 0;                  // escalation level after the change
  int bad = 0;
  int total = 0;
};

// A webhook POST to make (new) or being made (queued).
struct WebhookPost {
  std::int64_t row = 0;  // queue row id once stored
  std::string delivery;  // X-Kiosk-Delivery once stored (webhook_delivery_id)
  std::string alert_id;
  std::string change;
  std::string contact;
  std::string url;
  std::string body;  // JSON
  int attempts = 0;
  WallTime created{};
  WallTime next_attempt{};
  std::string last_error;
};

// The X-Kiosk-Delivery header of a queued post, "<site>-<run>-<row>": the same on every retry of
// it, never another post's, so a receiver whose answer was lost can drop the repeat. Row numbers
// never come back within one database; the run tag (random per hub run, kept with the post) keeps
// them apart when a database is restored from a backup and numbers the same rows again. Posts
// queued before the tag existed have none: "<site>-<row>".
std::string webhook_delivery_id(std::string_view site, std::string_view run, std::int64_t row);

class AlertStore {
 public:
  // Creates the tables it needs if missing (one transaction); throws StoreError.
  AlertStore(Database& db, std::string site);
  AlertStore(const AlertStore&) = delete;
  AlertStore& operator=(const AlertStore&) = delete;

  // The persist effects of one event, the id counter and the webhook posts it causes, in one
  // transaction, so a crash never keeps an alert without its notices.
  // Durability::power_safe: the commit waits for fsync. Durability::crash_safe: the commit is in
  // the OS (survives a hub crash, not a power cut) until sync(): for the latency-critical path,
  // which publishes in between and syncs right after.
  enum class Durability { power_safe, crash_safe };
  std::optional<std::string> write(const std::vector<const Effect*>& persists, std::uint64_t next_id,
                                   const std::vector<WebhookPost>& posts, WallTime now,
                                   Durability durability = Durability::power_safe);
  // Makes every earlier commit power-safe (one fsync of the write-ahead log).
  std::optional<std::string> sync();

  std::vector<TrackedAlert> load_active();
  // The next alert number: past the stored counter and past every stored alert id.
  std::uint64_t load_next_id();

  // Newest first; only alerts in one of `states` (empty: any state).
  std::vector<protocol::Alert> list(const std::vector<protocol::AlertState>& states, std::size_t limit);
  std::optional<protocol::Alert> find(std::string_view id);
  // Each location's newest alert (by id), whatever its state: what alert/<location> must retain.
  std::vector<protocol::Alert> latest_by_location();
  std::vector<AlertHistoryEntry> history(std::string_view id);

  const std::string& site() const { return site_; }
  // Random per store opened (per hub run): part of the delivery ids of the posts it queues.
  const std::string& run_tag() const { return run_tag_; }

  // Webhook queue. An alert's posts to a contact go out one at a time in the order they were
  // queued: only the head (the oldest pending post of that alert to that contact) is a candidate,
  // the newer ones wait behind it.
  // due_posts: the heads due at `now`, soonest first. Rows due later than `latest` are due too: no
  // retry waits that long, so the wall clock has stepped back since they were scheduled, and they
  // must not wait for it to catch up.
  std::vector<WebhookPost> due_posts(WallTime now, std::size_t limit, std::optional<WallTime> latest = std::nullopt);
  // The soonest next attempt of a head, of those due after `after` if given (heads due already
  // are being sent, and their completion is what moves the queue on).
  std::optional<WallTime> next_post_due(std::optional<WallTime> after = std::nullopt);
  // Latest state wins: a post's body is the alert's whole current state, so a pending post with a
  // newer pending post for the same contact and alert is not needed. Removes those (except the
  // rows in `sending`, already on their way) in one statement and returns them (body left empty).
  protocol::Result<std::vector<WebhookPost>> supersede_posts(const std::vector<std::int64_t>& sending);
  std::optional<std::string> post_delivered(std::int64_t row);
  // A failed attempt: retry at next_attempt, or give up (kept as 'failed' for the operator).
  std::optional<std::string> post_failed(std::int64_t row, int attempts, WallTime next_attempt,
                                         const std::string& error, bool give_up);
  std::size_t pending_posts();
  std::size_t failed_posts();
  // Forgets finished posts (given up, or delivered if any were kept) whose last attempt was before
  // `before`; returns how many, or the error.
  protocol::Result<std::size_t> purge_finished_posts(WallTime before);

 private:
  std::optional<std::string> in_transaction(const std::function<std::optional<std::string>()>& body);
  std::optional<std::string> persist(const Effect& e, WallTime now);
  std::optional<std::string> enqueue(const WebhookPost& p, WallTime now);

  Database& db_;
  std::string site_;
  std::string run_tag_;
  Statement upsert_alert_;
  Statement upsert_tracking_;
  Statement delete_tracking_;
  Statement insert_history_;
  Statement save_counter_;
  Statement insert_post_;
  Statement save_last_post_row_;
  Statement due_posts_;
  Statement next_post_due_;
  Statement supersede_posts_;
  Statement delete_post_;
  Statement fail_post_;
  Statement touch_counter_;
  int autocheckpoint_ = 1000;  // the connection's setting, restored after a relaxed write
};

}  // namespace kiosk::hub
