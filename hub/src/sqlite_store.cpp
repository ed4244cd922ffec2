// SQLite adapter: connection and statement RAII, versioned migrations, and the hub's queries.
#include "kiosk/hub/sqlite_store.hpp"

#include <cassert>

#include <sqlite3.h>

#include <boost/json.hpp>

#include "kiosk/hub/clock.hpp"

namespace kiosk::hub {

// ---- Database / Statement ------------------------------------------------------------------

Database::Database(const std::string& path, bool read_only) {
  int flags = read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE);
  flags |= SQLITE_OPEN_NOMUTEX;
  if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError("cannot open database " + path + ": " + msg);
  }
  sqlite3_busy_timeout(db_, 5000);
  sqlite3_extended_result_codes(db_, 1);
}

Database::~Database() { sqlite3_close_v2(db_); }

std::optional<std::string> Database::exec(const std::string& sql) {
  char* err = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : sqlite3_errmsg(db_);
    sqlite3_free(err);
    return msg;
  }
  return std::nullopt;
}

void Database::exec_or_throw(const std::string& sql) {
  if (auto e = exec(sql)) throw StoreError(*e);
}

std::string Database::last_error() const { return sqlite3_errmsg(db_); }

int Database::busy_statements() const {
  int n = 0;
  for (sqlite3_stmt* s = sqlite3_next_stmt(db_, nullptr); s != nullptr; s = sqlite3_next_stmt(db_, s))
    n += sqlite3_stmt_busy(s) ? 1 : 0;
  return n;
}

Statement::Statement(Database& db, std::string_view sql) {
  if (sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt_,
                         nullptr) != SQLITE_OK)
    throw StoreError("cannot prepare \"" + std::string(sql) + "\": " + db.last_error());
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

Statement& Statement::bind(int index, std::int64_t v) {
  sqlite3_bind_int64(stmt_, index, v);
  return *this;
}
Statement& Statement::bind(int index, double v) {
  sqlite3_bind_double(stmt_, index, v);
  return *this;
}
Statement& Statement::bind(int index, std::string_view v) {
  sqlite3_bind_text(stmt_, index, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}
Statement& Statement::bind_null(int index) {
  sqlite3_bind_null(stmt_, index);
  return *this;
}

bool Statement::step() {
  rc_ = sqlite3_step(stmt_);
  return rc_ == SQLITE_ROW;
}
bool Statement::failed() const { return rc_ != SQLITE_ROW && rc_ != SQLITE_DONE; }
void Statement::reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
  rc_ = 0;
}

std::int64_t Statement::column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
double Statement::column_double(int i) const { return sqlite3_column_double(stmt_, i); }
std::string Statement::column_text(int i) const {
  auto p = sqlite3_column_text(stmt_, i);
  return p ? std::string(reinterpret_cast<const char*>(p), static_cast<std::size_t>(sqlite3_column_bytes(stmt_, i)))
           : std::string();
}
bool Statement::column_null(int i) const { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }
std::optional<std::int64_t> Statement::column_opt_int(int i) const {
  if (column_null(i)) return std::nullopt;
  return column_int(i);
}

// ---- Migrations --------------------------------------------------------------------------

// Trigger body: counts the press NEW in its 15-minute slot of press_slots (migrations 4 and 5).
constexpr const char* kCountNewPress = R"sql(
  INSERT INTO press_slots (site, slot, location, scale, rating, button, presses, repeats)
  VALUES (NEW.site, NEW.pressed_at_ms / 900000, NEW.location, NEW.scale, NEW.rating, NEW.button, 1,
          instr(NEW.flags, '"repeat"') > 0)
  ON CONFLICT (site, slot, location, scale, rating, button) DO UPDATE
  SET presses = presses + 1, repeats = repeats + excluded.repeats;
)sql";

const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1, "sites, locations, devices, presses, unknown devices, rejected counters", R"sql(
CREATE TABLE sites (
  id TEXT PRIMARY KEY,
  created_at_ms INTEGER NOT NULL
);
CREATE TABLE locations (
  site TEXT NOT NULL,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  PRIMARY KEY (site, id)
);
CREATE TABLE devices (
  site TEXT NOT NULL,
  id TEXT NOT NULL,
  location TEXT NOT NULL,
  board TEXT NOT NULL DEFAULT '',
  fw TEXT NOT NULL DEFAULT '',
  buttons INTEGER,
  state TEXT NOT NULL DEFAULT 'unknown',
  last_seen_ms INTEGER,
  last_press_ms INTEGER,
  uptime_s INTEGER,
  queued INTEGER,
  rssi_dbm INTEGER,
  temp_c REAL,
  battery_pct INTEGER,
  retired INTEGER NOT NULL DEFAULT 0,
  registered_at_ms INTEGER NOT NULL,
  PRIMARY KEY (site, id)
);
CREATE TABLE presses (
  id INTEGER PRIMARY KEY,
  site TEXT NOT NULL,
  device TEXT NOT NULL,
  seq INTEGER NOT NULL,
  location TEXT NOT NULL,
  button INTEGER NOT NULL,
  rating INTEGER NOT NULL,
  scale INTEGER NOT NULL,
  flags TEXT NOT NULL DEFAULT '[]',
  pressed_at_ms INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL,
  UNIQUE (site, device, seq)
);
CREATE TABLE unknown_devices (
  site TEXT NOT NULL,
  device TEXT NOT NULL,
  first_seen_ms INTEGER NOT NULL,
  last_seen_ms INTEGER NOT NULL,
  count INTEGER NOT NULL,
  last_reason TEXT NOT NULL,
  PRIMARY KEY (site, device)
);
CREATE TABLE rejected (
  site TEXT NOT NULL,
  reason TEXT NOT NULL,
  count INTEGER NOT NULL,
  PRIMARY KEY (site, reason)
);
)sql"},
      {2, "alerts; indexes for recent presses by time and by location", R"sql(
CREATE TABLE alerts (
  id TEXT NOT NULL,
  site TEXT NOT NULL,
  location TEXT NOT NULL,
  state TEXT NOT NULL,
  severity TEXT NOT NULL,
  since_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL,
  bad INTEGER NOT NULL,
  total INTEGER NOT NULL,
  window_s INTEGER NOT NULL,
  baseline REAL NOT NULL,
  reason TEXT NOT NULL,
  acked_by TEXT,
  acked_at_ms INTEGER,
  resolved_at_ms INTEGER,
  PRIMARY KEY (site, id)
);
CREATE INDEX alerts_by_location ON alerts (site, location, updated_ms);
CREATE INDEX presses_by_time ON presses (site, pressed_at_ms);
CREATE INDEX presses_by_location ON presses (site, location, pressed_at_ms);
)sql"},
      // IF NOT EXISTS: hubs before this migration created these tables at every start.
      {3, "alert restart state, alert history, alert id counter, webhook queue", R"sql(
CREATE TABLE IF NOT EXISTS alert_tracking (
  site TEXT NOT NULL,
  id TEXT NOT NULL,
  display_name TEXT NOT NULL,
  cause TEXT NOT NULL,
  level INTEGER NOT NULL,
  last_notice_ms INTEGER NOT NULL,
  level_since_ms INTEGER NOT NULL,
  last_publish_ms INTEGER NOT NULL,
  unpublished INTEGER NOT NULL,
  PRIMARY KEY (site, id)
);
CREATE TABLE IF NOT EXISTS alert_history (
  row INTEGER PRIMARY KEY,
  site TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  change TEXT NOT NULL,
  at_ms INTEGER NOT NULL,
  state TEXT NOT NULL,
  by TEXT,
  level INTEGER NOT NULL,
  bad INTEGER NOT NULL,
  total INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_history_by_alert ON alert_history (site, alert_id, row);
CREATE TABLE IF NOT EXISTS alert_counter (
  site TEXT PRIMARY KEY,
  next_id INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS webhook_queue (
  row INTEGER PRIMARY KEY,
  site TEXT NOT NULL,
  alert_id TEXT NOT NULL,
  change TEXT NOT NULL,
  contact TEXT NOT NULL,
  url TEXT NOT NULL,
  body TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  created_ms INTEGER NOT NULL,
  next_attempt_ms INTEGER NOT NULL,
  last_error TEXT NOT NULL DEFAULT '',
  state TEXT NOT NULL DEFAULT 'pending'
);
CREATE INDEX IF NOT EXISTS webhook_queue_due ON webhook_queue (site, state, next_attempt_ms);
)sql"},
      // The manager's report over a week of a busy venue would otherwise read millions of press
      // rows on the hub's one thread (1-3 s for 1M). Counts per 15 minutes (every real UTC
      // offset is a multiple of 15 minutes, so local hours stay exact), kept by triggers in the
      // press's own transaction, make it a few thousand rows. Backfilled from the presses. The
      // button is kept so "call a manager" buttons can be told from ratings without a new migration.
      {4, "press counts per location, 15-minute slot, scale, rating and button, for the report", R"sql(
CREATE TABLE press_slots (
  site TEXT NOT NULL,
  slot INTEGER NOT NULL,
  location TEXT NOT NULL,
  scale INTEGER NOT NULL,
  rating INTEGER NOT NULL,
  button INTEGER NOT NULL,
  presses INTEGER NOT NULL,
  repeats INTEGER NOT NULL,
  PRIMARY KEY (site, slot, location, scale, rating, button)
) WITHOUT ROWID;
INSERT INTO press_slots (site, slot, location, scale, rating, button, presses, repeats)
SELECT site, pressed_at_ms / 900000, location, scale, rating, button, COUNT(*), SUM(instr(flags, '"repeat"') > 0)
FROM presses GROUP BY 1, 2, 3, 4, 5, 6;
CREATE TRIGGER press_slots_insert AFTER INSERT ON presses BEGIN
)sql" + std::string(kCountNewPress) + R"sql(END;
CREATE TRIGGER press_slots_delete AFTER DELETE ON presses BEGIN
  UPDATE press_slots SET presses = presses - 1, repeats = repeats - (instr(OLD.flags, '"repeat"') > 0)
  WHERE site = OLD.site AND slot = OLD.pressed_at_ms / 900000 AND location = OLD.location
    AND scale = OLD.scale AND rating = OLD.rating AND button = OLD.button;
END;
-- A re-sent press can move to an earlier time (sqlite_store.cpp, earlier_press_).
CREATE TRIGGER press_slots_update AFTER UPDATE OF site, pressed_at_ms, location, scale, rating, button, flags ON presses BEGIN
  UPDATE press_slots SET presses = presses - 1, repeats = repeats - (instr(OLD.flags, '"repeat"') > 0)
  WHERE site = OLD.site AND slot = OLD.pressed_at_ms / 900000 AND location = OLD.location
    AND scale = OLD.scale AND rating = OLD.rating AND button = OLD.button;
)sql" + std::string(kCountNewPress) + R"sql(END;
)sql"},
      // A terminal whose outbox was reset (re-flashed SD card, a replacement given the same id)
      // counts its seqs from the start again: a different press under a stored seq is a guest's
      // rating all the same. Kept here, once per distinct press, rather than dropped.
      {5, "presses that re-used a stored seq with different content", R"sql(
CREATE TABLE IF NOT EXISTS press_conflicts (
  id INTEGER PRIMARY KEY,
  site TEXT NOT NULL,
  device TEXT NOT NULL,
  seq INTEGER NOT NULL,
  location TEXT NOT NULL,
  button INTEGER NOT NULL,
  rating INTEGER NOT NULL,
  scale INTEGER NOT NULL,
  flags TEXT NOT NULL DEFAULT '[]',
  pressed_at_ms INTEGER NOT NULL,
  received_at_ms INTEGER NOT NULL,
  UNIQUE (site, device, seq, button, rating, scale)
);
-- Counted in the manager's report like any press (a kept conflict is never updated or deleted).
CREATE TRIGGER IF NOT EXISTS press_conflict_slots_insert AFTER INSERT ON press_conflicts BEGIN
)sql" + std::string(kCountNewPress) + R"sql(END;
)sql"},
      // An alert's webhooks go to each contact in queue order: the index finds the oldest pending
      // post of an alert to a contact, and a newer one. A queue row's id is its delivery id (X-Kiosk-Delivery),
      // which a receiver uses to drop repeats, so ids must never come back: SQLite reuses the
      // largest rowid once that row is deleted (and starts again at 1 when the queue empties), so
      // the last id handed out is kept.
      {6, "webhook posts per alert and contact in order, delivery ids never reused", R"sql(
CREATE INDEX IF NOT EXISTS webhook_queue_by_contact ON webhook_queue (site, state, contact, alert_id);
CREATE TABLE IF NOT EXISTS webhook_last_row (id INTEGER PRIMARY KEY CHECK (id = 1), row INTEGER NOT NULL);
)sql"},
      // ... and a database restored from a backup numbers the rows since the backup again: each
      // post also keeps the tag of the hub run that queued it, which goes into its delivery id.
      {7, "webhook delivery ids unique across database restores", R"sql(
ALTER TABLE webhook_queue ADD COLUMN run TEXT NOT NULL DEFAULT '';
)sql"},
      // A press's nonce (protocol extension) tells a re-send from another press under a seq the
      // device used before (its outbox went back): NULL for presses stored without one.
      {8, "press nonces", R"sql(
ALTER TABLE presses ADD COLUMN nonce TEXT;
CREATE INDEX IF NOT EXISTS presses_by_nonce ON presses (site, device, nonce) WHERE nonce IS NOT NULL;
)sql"},
      // A manager's own HTTP API token (read and acknowledge alerts as that manager), as its
      // SHA-256 digest: the token itself is shown once, when it is issued.
      {9, "managers' API tokens", R"sql(
CREATE TABLE IF NOT EXISTS manager_tokens (
  site TEXT NOT NULL,
  manager TEXT NOT NULL,
  token_sha256 TEXT NOT NULL UNIQUE,
  issued_at_ms INTEGER NOT NULL,
  PRIMARY KEY (site, manager)
);
)sql"},
  };
  return list;
}

int latest_schema_version() { return migrations().back().version; }

int schema_version(Database& db) {
  db.exec_or_throw("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)");
  Statement s(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version");
  s.step();
  return static_cast<int>(s.column_int(0));
}

void migrate(Database& db, int up_to) {
  if (up_to < 0) up_to = latest_schema_version();
  int current = schema_version(db);
  if (current > latest_schema_version())
    throw StoreError("database schema version " + std::to_string(current) + " is newer than this hub (" +
                     std::to_string(latest_schema_version()) + "); upgrade the hub");
  for (const auto& m : migrations()) {
    if (m.version <= current || m.version > up_to) continue;
    db.exec_or_throw("BEGIN IMMEDIATE");
    if (auto e = db.exec(m.sql)) {
      db.exec("ROLLBACK");
      throw StoreError("migration " + std::to_string(m.version) + " (" + m.description + ") failed: " + *e);
    }
    db.exec_or_throw("DELETE FROM schema_version; INSERT INTO schema_version (version) VALUES (" +
                     std::to_string(m.version) + ")");
    db.exec_or_throw("COMMIT");
  }
}

// ---- Store ---------------------------------------------------------------------------------

namespace {
Database& prepared(Database& db, const std::string& path, const std::string& site) {
  try {
    // WAL lets readers (HTTP, tools) run while a batch commits; FULL makes each commit durable
    // before we acknowledge it.
    db.exec_or_throw("PRAGMA journal_mode=WAL");
    db.exec_or_throw("PRAGMA synchronous=FULL");
    db.exec_or_throw("PRAGMA foreign_keys=ON");
    migrate(db);
    Statement s(db, "INSERT OR IGNORE INTO sites (id, created_at_ms) VALUES (?, strftime('%s','now') * 1000)");
    s.bind(1, site);
    s.step();
    if (s.failed()) throw StoreError("cannot record site: " + db.last_error());
  } catch (const StoreError& e) {
    // SQLite's own words ("attempt to write a readonly database") do not say which file.
    throw StoreError("cannot use database " + path + ": " + e.what() +
                     " (check that its folder is writable by this user and the disk is not full)");
  }
  return db;
}

std::string flags_json(const std::vector<std::string>& flags) {
  boost::json::array a;
  for (const auto& f : flags) a.emplace_back(f);
  return boost::json::serialize(a);
}

std::vector<std::string> parse_flags(const std::string& text) {
  std::vector<std::string> out;
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec || !v.is_array()) return out;
  for (const auto& f : v.as_array())
    if (f.is_string()) out.emplace_back(f.as_string());
  return out;
}

std::optional<WallTime> opt_time(const Statement& s, int i) {
  if (auto v = s.column_opt_int(i)) return from_ms(*v);
  return std::nullopt;
}

Liveness liveness_from(const std::string& s) {
  if (s == "online") return Liveness::online;
  if (s == "offline") return Liveness::offline;
  return Liveness::unknown;
}
}  // namespace

SqliteStore::SqliteStore(const std::string& path, std::string site)
    : db_(path),
      site_(std::move(site)),
      begin_(prepared(db_, path, site_), "BEGIN IMMEDIATE"),
      commit_(db_, "COMMIT"),
      rollback_(db_, "ROLLBACK"),
      insert_press_(db_,
                    "INSERT OR IGNORE INTO presses (site, device, seq, location, button, rating, scale, flags, "
                    "pressed_at_ms, received_at_ms, nonce) VALUES (?,?,?,?,?,?,?,?,?,?,?)"),
      earlier_press_(db_,
                     "UPDATE presses SET pressed_at_ms = ?1 WHERE site = ?2 AND device = ?3 AND seq = ?4 "
                     "AND pressed_at_ms > ?1"),
      stored_press_(db_, "SELECT button, rating, scale, nonce FROM presses WHERE site = ? AND device = ? AND seq = ?"),
      last_seq_(db_, "SELECT MAX(seq) FROM presses WHERE site = ? AND device = ?"),
      nonce_stored_(db_, "SELECT seq FROM presses WHERE site = ? AND device = ? AND nonce = ? LIMIT 1"),
      insert_conflict_(db_,
                       "INSERT OR IGNORE INTO press_conflicts (site, device, seq, location, button, rating, scale, "
                       "flags, pressed_at_ms, received_at_ms) VALUES (?,?,?,?,?,?,?,?,?,?)") {}

std::optional<std::string> SqliteStore::in_transaction(const std::function<std::optional<std::string>()>& body) {
  begin_.reset();
  begin_.step();
  if (begin_.failed()) return "begin: " + db_.last_error();
  auto error = body();
  if (!error) {
    commit_.reset();
    commit_.step();
    if (!commit_.failed()) {
      assert(db_.busy_statements() == 0 && "a statement left on a row holds a read transaction open");
      return std::nullopt;
    }
    error = "commit: " + db_.last_error();
  }
  rollback_.reset();
  rollback_.step();
  return error;
}

namespace {
// Binds a press to the ten columns both press tables share, in their order.
void bind_press(Statement& s, const std::string& site, const PressRecord& r) {
  s.bind(1, site)
      .bind(2, r.device)
      .bind(3, static_cast<std::int64_t>(r.seq))
      .bind(4, r.location)
      .bind(5, std::int64_t{r.button})
      .bind(6, std::int64_t{r.rating})
      .bind(7, std::int64_t{r.scale})
      .bind(8, r.flags.empty() ? std::string("[]") : flags_json(r.flags))
      .bind(9, r.pressed_at_ms)
      .bind(10, r.received_at_ms);
}
}  // namespace

std::optional<std::string> SqliteStore::commit_presses(const std::vector<PressRecord>& rows,
                                                       std::vector<PressOutcome>& outcomes) {
  outcomes.assign(rows.size(), PressOutcome{});
  return in_transaction([&]() -> std::optional<std::string> {
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const auto& r = rows[i];
      auto& s = insert_press_;
      s.reset();
      bind_press(s, site_, r);
      if (r.nonce.empty()) s.bind_null(11);
      else s.bind(11, std::string_view(r.nonce));
      s.step();
      if (s.failed()) return "insert press: " + db_.last_error();
      if (sqlite3_changes(db_.handle()) > 0) continue;  // stored
      // Location, flags and times may differ between copies of one press (a re-send after a
      // move, a repeat flag, a later receive): button, rating and scale may not.
      auto& q = stored_press_;
      q.reset();
      ResetAfter done{q};
      q.bind(1, site_).bind(2, r.device).bind(3, static_cast<std::int64_t>(r.seq));
      if (!q.step())
        return q.failed() ? "read stored press: " + db_.last_error()
                          : "insert press: ignored, yet no press under seq " + std::to_string(r.seq);
      PressOutcome stored{PressFate::conflict, static_cast<int>(q.column_int(0)), static_cast<int>(q.column_int(1)),
                          static_cast<int>(q.column_int(2))};
      // Both named, and not the same press: the device's counter went back. The device renumbers
      // it above every seq stored for it (and sends it again), so it is stored like any other.
      if (!r.nonce.empty() && !q.column_null(3) && q.column_text(3) != r.nonce) {
        // Already stored under another seq: renumbered and stored before, then the device lost
        // that (its card dropped the renumbering and the delete, or the same old copy came back).
        // A re-send: acknowledged under the seq it came with, so the device deletes it.
        auto& n = nonce_stored_;
        n.reset();
        ResetAfter reset_n{n};
        n.bind(1, site_).bind(2, r.device).bind(3, std::string_view(r.nonce));
        if (n.step()) {
          outcomes[i].fate = PressFate::duplicate;
          continue;
        }
        if (n.failed()) return "look up the press's nonce: " + db_.last_error();
        auto& m = last_seq_;
        m.reset();
        ResetAfter reset_m{m};
        m.bind(1, site_).bind(2, r.device);
        if (!m.step()) return "read the device's last seq: " + db_.last_error();
        outcomes[i] = PressOutcome{PressFate::taken};
        outcomes[i].next_free_seq = static_cast<std::uint64_t>(m.column_int(0)) + 1;
        continue;
      }
      if (stored.stored_button != r.button || stored.stored_rating != r.rating || stored.stored_scale != r.scale) {
        auto& c = insert_conflict_;
        c.reset();
        bind_press(c, site_, r);
        c.step();
        if (c.failed()) return "keep conflicting press: " + db_.last_error();
        // Not inserted: a re-send of a conflict kept before.
        outcomes[i] = sqlite3_changes(db_.handle()) > 0 ? stored : PressOutcome{PressFate::duplicate};
        continue;
      }
      outcomes[i].fate = PressFate::duplicate;
      // A re-send of a stored press. Every delay on the way (the terminal's outbox, the broker
      // holding it while the hub was down) only makes "receive time - age_ms" later, never
      // earlier: the earliest estimate of all copies is the best one.
      auto& u = earlier_press_;
      u.reset();
      u.bind(1, r.pressed_at_ms).bind(2, site_).bind(3, r.device).bind(4, static_cast<std::int64_t>(r.seq));
      u.step();
      if (u.failed()) return "update press time: " + db_.last_error();
    }
    return std::nullopt;
  });
}

std::vector<LocationRecord> SqliteStore::load_locations() {
  std::vector<LocationRecord> out;
  Statement s(db_, "SELECT id, name FROM locations WHERE site = ? ORDER BY id");
  s.bind(1, site_);
  while (s.step()) out.push_back({s.column_text(0), s.column_text(1)});
  return out;
}

std::vector<DeviceRecord> SqliteStore::load_devices() {
  std::vector<DeviceRecord> out;
  Statement s(db_,
              "SELECT id, location, board, fw, buttons, state, last_seen_ms, last_press_ms, uptime_s, queued, "
              "rssi_dbm, temp_c, battery_pct, retired, registered_at_ms FROM devices WHERE site = ? ORDER BY id");
  s.bind(1, site_);
  while (s.step()) {
    DeviceRecord d;
    d.id = s.column_text(0);
    d.location = s.column_text(1);
    d.board = s.column_text(2);
    d.fw = s.column_text(3);
    if (auto v = s.column_opt_int(4)) d.buttons = static_cast<int>(*v);
    // Liveness survives a hub restart only as a hint; status messages (retained) correct it.
    d.state = liveness_from(s.column_text(5));
    d.last_seen = opt_time(s, 6);
    d.last_press = opt_time(s, 7);
    if (auto v = s.column_opt_int(8)) d.uptime_s = static_cast<std::uint64_t>(*v);
    if (auto v = s.column_opt_int(9)) d.queued = static_cast<std::uint64_t>(*v);
    if (auto v = s.column_opt_int(10)) d.rssi_dbm = static_cast<int>(*v);
    if (!s.column_null(11)) d.temp_c = s.column_double(11);
    if (auto v = s.column_opt_int(12)) d.battery_pct = static_cast<int>(*v);
    d.retired = s.column_int(13) != 0;
    d.registered_at = from_ms(s.column_int(14));
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<UnknownDevice> SqliteStore::load_unknown_devices() {
  std::vector<UnknownDevice> out;
  Statement s(db_,
              "SELECT device, first_seen_ms, last_seen_ms, count, last_reason FROM unknown_devices WHERE site = ?");
  s.bind(1, site_);
  while (s.step())
    out.push_back({s.column_text(0), from_ms(s.column_int(1)), from_ms(s.column_int(2)),
                   static_cast<std::uint64_t>(s.column_int(3)), s.column_text(4)});
  return out;
}

std::map<std::string, std::uint64_t> SqliteStore::load_rejected() {
  std::map<std::string, std::uint64_t> out;
  Statement s(db_, "SELECT reason, count FROM rejected WHERE site = ?");
  s.bind(1, site_);
  while (s.step()) out[s.column_text(0)] = static_cast<std::uint64_t>(s.column_int(1));
  return out;
}

std::optional<std::string> SqliteStore::save_location(const LocationRecord& l) {
  Statement s(db_,
              "INSERT INTO locations (site, id, name, created_at_ms) VALUES (?,?,?, strftime('%s','now') * 1000) "
              "ON CONFLICT (site, id) DO UPDATE SET name = excluded.name");
  s.bind(1, site_).bind(2, l.id).bind(3, l.name);
  s.step();
  if (s.failed()) return "save location: " + db_.last_error();
  return std::nullopt;
}

std::optional<std::string> SqliteStore::write_device(const DeviceRecord& d) {
  Statement s(db_,
              "INSERT INTO devices (site, id, location, board, fw, buttons, state, last_seen_ms, last_press_ms, "
              "uptime_s, queued, rssi_dbm, temp_c, battery_pct, retired, registered_at_ms) "
              "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (site, id) DO UPDATE SET "
              "location = excluded.location, board = excluded.board, fw = excluded.fw, buttons = excluded.buttons, "
              "state = excluded.state, last_seen_ms = excluded.last_seen_ms, last_press_ms = excluded.last_press_ms, "
              "uptime_s = excluded.uptime_s, queued = excluded.queued, rssi_dbm = excluded.rssi_dbm, "
              "temp_c = excluded.temp_c, battery_pct = excluded.battery_pct, retired = excluded.retired, "
              "registered_at_ms = excluded.registered_at_ms");
  auto opt_ms = [](const std::optional<WallTime>& t) -> std::optional<std::int64_t> {
    if (t) return to_ms(*t);
    return std::nullopt;
  };
  s.bind(1, site_).bind(2, d.id).bind(3, d.location).bind(4, d.board).bind(5, d.fw);
  s.bind_opt(6, d.buttons).bind(7, to_string(d.state));
  s.bind_opt(8, opt_ms(d.last_seen)).bind_opt(9, opt_ms(d.last_press));
  s.bind_opt(10, d.uptime_s).bind_opt(11, d.queued).bind_opt(12, d.rssi_dbm).bind_opt(13, d.temp_c);
  s.bind_opt(14, d.battery_pct).bind(15, std::int64_t{d.retired ? 1 : 0}).bind(16, to_ms(d.registered_at));
  s.step();
  if (s.failed()) return "save device " + d.id + ": " + db_.last_error();
  return std::nullopt;
}

std::optional<std::string> SqliteStore::save_device(const DeviceRecord& d) { return write_device(d); }

std::optional<std::string> SqliteStore::save_devices(const std::vector<DeviceRecord>& devices) {
  return in_transaction([&]() -> std::optional<std::string> {
    for (const auto& d : devices)
      if (auto e = write_device(d)) return e;
    return std::nullopt;
  });
}

std::optional<std::string> SqliteStore::forget_unknown(const std::string& device) {
  Statement s(db_, "DELETE FROM unknown_devices WHERE site = ? AND device = ?");
  s.bind(1, site_).bind(2, device);
  s.step();
  if (s.failed()) return "forget unknown device: " + db_.last_error();
  return std::nullopt;
}

std::optional<std::string> SqliteStore::save_runtime(const std::vector<DeviceRecord>& devices,
                                                     const std::vector<UnknownDevice>& unknown,
                                                     const std::map<std::string, std::uint64_t>& rejected_totals) {
  return in_transaction([&]() -> std::optional<std::string> {
    for (const auto& d : devices)
      if (auto e = write_device(d)) return e;
    Statement u(db_,
                "INSERT INTO unknown_devices (site, device, first_seen_ms, last_seen_ms, count, last_reason) "
                "VALUES (?,?,?,?,?,?) ON CONFLICT (site, device) DO UPDATE SET last_seen_ms = excluded.last_seen_ms, "
                "count = excluded.count, last_reason = excluded.last_reason");
    for (const auto& x : unknown) {
      u.reset();
      u.bind(1, site_).bind(2, x.device).bind(3, to_ms(x.first_seen)).bind(4, to_ms(x.last_seen));
      u.bind(5, static_cast<std::int64_t>(x.count)).bind(6, x.reason);
      u.step();
      if (u.failed()) return "save unknown device: " + db_.last_error();
    }
    Statement r(db_,
                "INSERT INTO rejected (site, reason, count) VALUES (?,?,?) "
                "ON CONFLICT (site, reason) DO UPDATE SET count = excluded.count");
    for (const auto& [reason, count] : rejected_totals) {
      r.reset();
      r.bind(1, site_).bind(2, reason).bind(3, static_cast<std::int64_t>(count));
      r.step();
      if (r.failed()) return "save reject counters: " + db_.last_error();
    }
    return std::nullopt;
  });
}

std::string presses_sql(const PressQuery& q) {
  std::string sql =
      "SELECT device, seq, location, button, rating, scale, flags, pressed_at_ms, received_at_ms FROM presses "
      "WHERE site = ?1";
  if (q.device) sql += " AND device = ?2";
  if (q.location) sql += " AND location = ?3";
  // One device's presses come from its own index (site, device, seq) and are sorted: walking the
  // time index newest first and skipping other devices read the whole table for a quiet device
  // (0.7 s at 2 million presses, on the hub's only thread). "+" keeps the time index out.
  const std::string time = q.device ? "+pressed_at_ms" : "pressed_at_ms";
  if (q.since) sql += " AND " + time + " >= ?4";
  sql += " ORDER BY " + time + " DESC, id DESC LIMIT ?5";
  return sql;
}

std::vector<PressRecord> SqliteStore::presses(const PressQuery& q) {
  Statement s(db_, presses_sql(q));
  s.bind(1, site_);
  if (q.device) s.bind(2, *q.device);
  if (q.location) s.bind(3, *q.location);
  if (q.since) s.bind(4, to_ms(*q.since));
  s.bind(5, static_cast<std::int64_t>(q.limit));
  std::vector<PressRecord> out;
  while (s.step()) {
    PressRecord r;
    r.device = s.column_text(0);
    r.seq = static_cast<std::uint64_t>(s.column_int(1));
    r.location = s.column_text(2);
    r.button = static_cast<int>(s.column_int(3));
    r.rating = static_cast<int>(s.column_int(4));
    r.scale = static_cast<int>(s.column_int(5));
    r.flags = parse_flags(s.column_text(6));
    r.pressed_at_ms = s.column_int(7);
    r.received_at_ms = s.column_int(8);
    out.push_back(std::move(r));
  }
  return out;
}

std::uint64_t SqliteStore::press_count() {
  Statement s(db_, "SELECT COUNT(*) FROM presses WHERE site = ?");
  s.bind(1, site_);
  s.step();
  return static_cast<std::uint64_t>(s.column_int(0));
}

std::optional<std::string> SqliteStore::check() {
  Statement s(db_, "SELECT version FROM schema_version");
  s.step();
  if (s.failed()) return db_.last_error();
  return std::nullopt;
}

}  // namespace kiosk::hub
