// The hub's SQLite database: WAL, synchronous=FULL (an ack follows a durable commit), schema
// versioned in code, RAII handles, and the queries the hub needs. Errors on steady-state paths
// are values (std::optional<std::string> holds the error); opening and migrating throw.
#pragma once

#include <cstdint>
#include <functional>
#include <type_traits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/hub/ingest.hpp"
#include "kiosk/hub/press_record.hpp"
#include "kiosk/hub/registry.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace kiosk::hub {

struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// An open connection; closes on destruction.
class Database {
 public:
  explicit Database(const std::string& path, bool read_only = false);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  sqlite3* handle() const { return db_; }
  // Runs SQL without results; error text or nullopt.
  std::optional<std::string> exec(const std::string& sql);
  void exec_or_throw(const std::string& sql);
  std::string last_error() const;
  // Statements of this connection that are still stepping (left on a row): each holds a read
  // transaction open. Zero after every transaction; the debug and sanitizer builds assert it.
  int busy_statements() const;

 private:
  sqlite3* db_ = nullptr;
};

// A prepared statement, reset for reuse; finalized on destruction.
class Statement {
 public:
  Statement(Database& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& bind(int index, std::int64_t v);
  Statement& bind(int index, double v);
  Statement& bind(int index, std::string_view v);
  Statement& bind_null(int index);
  template <class T>
  Statement& bind_opt(int index, const std::optional<T>& v) {
    return v ? bind(index, static_cast<std::conditional_t<std::is_floating_point_v<T>, double,
                                           std::conditional_t<std::is_integral_v<T>, std::int64_t, T>>>(*v))
             : bind_null(index);
  }
  // SQLITE_ROW -> true, SQLITE_DONE -> false, anything else -> error stored in error().
  bool step();
  int rc() const { return rc_; }
  bool failed() const;
  void reset();  // reset and clear bindings

  std::int64_t column_int(int i) const;
  double column_double(int i) const;
  std::string column_text(int i) const;
  bool column_null(int i) const;
  std::optional<std::int64_t> column_opt_int(int i) const;

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = 0;
};

// Resets a long-lived statement when the scope ends, however it ends. A SELECT left on a row keeps
// its read transaction open: the WAL can never be checkpointed past it (it grows until the disk
// is full) and another process's write locks the hub out. Every member statement that returns
// rows is read under one of these.
struct ResetAfter {
  Statement& s;
  ~ResetAfter() { s.reset(); }
};

// One schema migration: applied once, in order, inside a transaction.
struct Migration {
  int version;
  const char* description;
  std::string sql;
};
const std::vector<Migration>& migrations();
int latest_schema_version();
int schema_version(Database& db);
// Applies pending migrations up to `up_to` (default: all). Applying twice is a no-op.
void migrate(Database& db, int up_to = -1);

// The query behind SqliteStore::presses (parameters ?1 site, ?2 device, ?3 location, ?4 since,
// ?5 limit, each only when the query has it); public for its query-plan test.
std::string presses_sql(const PressQuery& q);

class SqliteStore {
 public:
  SqliteStore(const std::string& path, std::string site);

  Database& database() { return db_; }
  const std::string& site() const { return site_; }

  // One transaction; INSERT OR IGNORE on (site, device, seq). outcomes[i] says whether rows[i] was
  // new, a re-send of a stored press, a different press under a used seq (kept in
  // press_conflicts, once), or, when both carry nonces that differ, taken (not stored; the device
  // renumbers it). Returns an error (and rolls back) when the commit did not happen.
  std::optional<std::string> commit_presses(const std::vector<PressRecord>& rows, std::vector<PressOutcome>& outcomes);

  std::vector<LocationRecord> load_locations();
  std::vector<DeviceRecord> load_devices();
  std::vector<UnknownDevice> load_unknown_devices();
  std::map<std::string, std::uint64_t> load_rejected();

  std::optional<std::string> save_location(const LocationRecord& l);
  std::optional<std::string> save_device(const DeviceRecord& d);  // also for move/retire
  std::optional<std::string> save_devices(const std::vector<DeviceRecord>& devices);  // one transaction
  std::optional<std::string> forget_unknown(const std::string& device);
  // Liveness, telemetry, unknown devices and reject counters, in one transaction (periodic).
  std::optional<std::string> save_runtime(const std::vector<DeviceRecord>& devices,
                                          const std::vector<UnknownDevice>& unknown,
                                          const std::map<std::string, std::uint64_t>& rejected_totals);

  std::vector<PressRecord> presses(const PressQuery& q);
  std::uint64_t press_count();
  std::optional<std::string> check();  // a read that proves the database answers

 private:
  std::optional<std::string> write_device(const DeviceRecord& d);
  std::optional<std::string> in_transaction(const std::function<std::optional<std::string>()>& body);

  Database db_;
  std::string site_;
  Statement begin_;
  Statement commit_;
  Statement rollback_;
  Statement insert_press_;
  Statement earlier_press_;  // a re-send's earlier time estimate replaces the stored one
  // Only for ignored inserts (re-sends are rare): is it the stored press, or another one?
  Statement stored_press_;
  Statement last_seq_;      // for a taken seq: the device's highest stored seq
  Statement nonce_stored_;  // ... unless the press is stored under another seq already
  Statement insert_conflict_;
};

}  // namespace kiosk::hub
