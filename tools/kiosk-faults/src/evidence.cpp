// sqlite3 C API, read-only connections opened per look (cheap, and never holds a lock for long).
#include "evidence.hpp"

#include <sqlite3.h>

namespace kiosk::faults {
namespace {

// RAII connection + one statement.
struct Query {
  sqlite3* db = nullptr;
  sqlite3_stmt* stmt = nullptr;
  Query(const std::filesystem::path& path, const char* sql) {
    if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) return;
    sqlite3_busy_timeout(db, 2000);
    if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) != SQLITE_OK) stmt = nullptr;
  }
  ~Query() {
    sqlite3_finalize(stmt);
    sqlite3_close(db);
  }
  Query(const Query&) = delete;
  Query& operator=(const Query&) = delete;
  std::string error() const { return db ? sqlite3_errmsg(db) : "cannot open"; }
};

}  // namespace

std::optional<std::map<std::string, std::vector<StoredRow>>> read_stored(const std::filesystem::path& hub_db,
                                                                        const std::string& site, std::string& error) {
  if (!std::filesystem::exists(hub_db)) {
    error = hub_db.string() + " does not exist";
    return std::nullopt;
  }
  Query q(hub_db,
          "SELECT device, seq, button, rating, pressed_at_ms, received_at_ms FROM presses WHERE site = ?1 "
          "ORDER BY device, seq");
  if (!q.stmt) {
    error = q.error();
    return std::nullopt;
  }
  sqlite3_bind_text(q.stmt, 1, site.c_str(), -1, SQLITE_TRANSIENT);
  std::map<std::string, std::vector<StoredRow>> out;
  int rc;
  while ((rc = sqlite3_step(q.stmt)) == SQLITE_ROW) {
    StoredRow r;
    std::string device(reinterpret_cast<const char*>(sqlite3_column_text(q.stmt, 0)));
    r.seq = static_cast<std::uint64_t>(sqlite3_column_int64(q.stmt, 1));
    r.button = sqlite3_column_int(q.stmt, 2);
    r.rating = sqlite3_column_int(q.stmt, 3);
    r.pressed_at_ms = sqlite3_column_int64(q.stmt, 4);
    r.received_at_ms = sqlite3_column_int64(q.stmt, 5);
    out[device].push_back(r);
  }
  if (rc != SQLITE_DONE) {
    error = q.error();
    return std::nullopt;
  }
  return out;
}

std::optional<std::uint64_t> outbox_depth(const std::filesystem::path& outbox_db) {
  if (!std::filesystem::exists(outbox_db)) return std::nullopt;
  Query q(outbox_db, "SELECT COUNT(*) FROM presses");
  if (!q.stmt || sqlite3_step(q.stmt) != SQLITE_ROW) return std::nullopt;
  return static_cast<std::uint64_t>(sqlite3_column_int64(q.stmt, 0));
}

}  // namespace kiosk::faults
