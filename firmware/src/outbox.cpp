// SQLite adapter of the outbox: one table of presses, one of counters, versioned schema.
#include "kiosk/firmware/outbox.hpp"

#include <fcntl.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <filesystem>
#include <limits>
#include <optional>
#include <stdexcept>
#include <system_error>
#include <utility>
#include <vector>

namespace kiosk::firmware {

// What could be read back from an outbox moved aside as unreadable.
struct Salvage {
  std::vector<StoredPress> presses;  // the highest seqs, each a plausible press, at most the cap
  std::uint64_t next_seq = 0;        // its counter, when readable (0: not)
  std::uint64_t beyond = 0;          // plausible presses past the cap: lost, counted as dropped
  std::string failure;               // why nothing could be read (no room for the copy, ...): try again
};

namespace {

constexpr int kSchemaVersion = 1;

// RAII prepared statement.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) != SQLITE_OK) stmt_ = nullptr;
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  sqlite3_stmt* get() const { return stmt_; }
  void bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, const std::string& v) {
    sqlite3_bind_text(stmt_, i, v.c_str(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::int64_t column_int(int i) const { return sqlite3_column_int64(stmt_, i); }
  std::string column_text(int i) const {
    auto* p = sqlite3_column_text(stmt_, i);
    return p ? std::string(reinterpret_cast<const char*>(p)) : std::string{};
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Rolls back unless committed: a failed write leaves the database as it was.
class Transaction {
 public:
  explicit Transaction(sqlite3* db) : db_(db) {
    ok_ = sqlite3_exec(db_, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr) == SQLITE_OK;
  }
  ~Transaction() {
    if (ok_ && !done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  bool ok() const { return ok_; }
  bool commit() {
    done_ = sqlite3_exec(db_, "COMMIT", nullptr, nullptr, nullptr) == SQLITE_OK;
    return done_;
  }

 private:
  sqlite3* db_;
  bool ok_ = false;
  bool done_ = false;
};

// The columns of a press row, in the order read_press and bind_press use.
const std::string kPressColumns = "seq, button, rating, scale, repeat, boot_id, boottime_ns, wall_ms";
const std::string kPressValues = "?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8";

// A press row selected as kPressColumns.
StoredPress read_press(const Statement& row) {
  StoredPress s;
  s.press.seq = static_cast<std::uint64_t>(row.column_int(0));
  s.press.button = static_cast<int>(row.column_int(1));
  s.press.rating = static_cast<int>(row.column_int(2));
  s.press.scale = static_cast<int>(row.column_int(3));
  if (row.column_int(4) != 0) s.press.flags.emplace_back(protocol::kRepeatFlag);
  s.at.boot_id = row.column_text(5);
  s.at.boottime_ns = row.column_int(6);
  s.at.wall_ms = row.column_int(7);
  return s;
}

// Binds a press to ?1..?8 of an insert of kPressColumns.
void bind_press(Statement& insert, const StoredPress& p) {
  insert.bind(1, static_cast<std::int64_t>(p.press.seq));
  insert.bind(2, p.press.button);
  insert.bind(3, p.press.rating);
  insert.bind(4, p.press.scale);
  insert.bind(5, p.press.is_repeat() ? 1 : 0);
  insert.bind(6, p.at.boot_id);
  insert.bind(7, p.at.boottime_ns);
  insert.bind(8, p.at.wall_ms);
}

// Stores the seq counter, inside the caller's transaction; false on failure (sqlite3_errmsg says why).
bool store_next_seq(sqlite3* db, std::uint64_t next) {
  Statement counter(db, "UPDATE counters SET value = ?1 WHERE name = 'next_seq'");
  if (!counter.ok()) return false;
  counter.bind(1, static_cast<std::int64_t>(next));
  return counter.step() == SQLITE_DONE;
}

// Adds `n` to the persistent `dropped` counter, inside the caller's transaction.
bool count_dropped(sqlite3* db, std::uint64_t n) {
  if (n == 0) return true;
  Statement count(db, "UPDATE counters SET value = value + ?1 WHERE name = 'dropped'");
  if (!count.ok()) return false;
  count.bind(1, static_cast<std::int64_t>(n));
  return count.step() == SQLITE_DONE;
}

// Drops up to `n` of the oldest stored presses, inside the caller's transaction, and counts them
// in the persistent `dropped` counter; returns how many went (nullopt on failure: sqlite3_errmsg
// says why). Oldest by when they were pressed, not by seq: renumber() moves old presses above
// newer ones. No column orders every press: the boot clock (exact, immune to wall-clock steps)
// starts again at every boot, and the wall clock is 0 while not synchronised. So the boot of the
// lowest seq stored is taken for the oldest boot here (seqs are handed out in press order; only a
// renumbering that moved every press of an older boot above it misleads this), and of that boot's
// presses the earliest by the boot clock goes, seq breaking ties: never one pressed after the
// lowest seq. Without a boot id (it could not be read) the lowest seq goes. One press at a time,
// each two lookups in the primary key and presses_by_boot_time.
std::optional<std::uint64_t> drop_oldest(sqlite3* db, std::uint64_t n) {
  Statement del(db,
                "DELETE FROM presses WHERE seq = (SELECT CASE WHEN first.boot_id = '' THEN first.seq ELSE"
                " (SELECT p.seq FROM presses AS p WHERE p.boot_id = first.boot_id ORDER BY p.boottime_ns, p.seq"
                " LIMIT 1) END FROM (SELECT seq, boot_id FROM presses ORDER BY seq LIMIT 1) AS first)");
  if (!del.ok()) return std::nullopt;
  std::uint64_t dropped = 0;
  for (; dropped < n; ++dropped) {
    if (del.step() != SQLITE_DONE) return std::nullopt;
    if (sqlite3_changes(db) == 0) break;  // nothing left to drop
    del.reset();
  }
  if (!count_dropped(db, dropped)) return std::nullopt;
  return dropped;
}

// The file is not a SQLite database or is damaged: nothing in it can be trusted or read back.
class UnreadableOutbox : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

bool is_unreadable(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_NOTADB || primary == SQLITE_CORRUPT;
}

void throw_if_unreadable(sqlite3* db, int rc) {
  if (is_unreadable(rc)) throw UnreadableOutbox(sqlite3_errmsg(db));
}

// True for a missing or empty file too: SQLite makes those a database. Throws when the header
// cannot be read: a healthy outbox must not be moved aside (and its presses lost) for an I/O error.
bool has_sqlite_header(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec) || std::filesystem::file_size(path, ec) == 0) return true;
  char head[kSqliteHeader.size()] = {};
  // read(2), not a stream: only it tells the end of a short file (0) from an I/O error (-1).
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  // Unreadable for lack of permission is not corruption: let SQLite report it as a start-up error.
  if (fd < 0) return true;
  std::size_t got = 0;
  bool read_error = false;
  while (got < sizeof head) {
    auto n = ::read(fd, head + got, sizeof head - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) read_error = true;
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
  int read_errno = errno;
  ::close(fd);
  switch (classify_outbox_header(std::string_view(head, got), read_error)) {
    case OutboxHeader::sqlite: return true;
    case OutboxHeader::not_sqlite: return false;
    case OutboxHeader::read_error: break;
  }
  throw std::runtime_error("cannot read the header of outbox " + path.string() + ": " + std::strerror(read_errno) +
                           " (left in place, not moved aside; check the storage card)");
}

// <moved>.restore-pending, beside a file set aside, holds how many start-ups tried to read its
// presses back: it exists from the move until they are stored in the outbox, so a start-up that
// died in between (power cut, an OOM kill) or a daemon that set the file aside while running
// leaves the work to the next start.
std::filesystem::path pending_marker(const std::filesystem::path& moved) {
  return moved.string() + ".restore-pending";
}

// A salvage that ends the process each time must not keep the terminal down: two tries.
constexpr int kSalvageAttempts = 2;

// Written whole under a temporary name, synced, renamed over the marker and the folder synced: a
// marker is there with its count or not at all. False when the card refused it.
bool mark_pending(const std::filesystem::path& moved, int attempts) {
  const auto marker = pending_marker(moved);
  const auto temp = marker.string() + ".tmp";
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return false;
  const auto text = std::to_string(attempts) + "\n";
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(temp.c_str(), marker.c_str()) != 0) {
    ::unlink(temp.c_str());
    return false;
  }
  const int dir = ::open(moved.parent_path().empty() ? "." : moved.parent_path().c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  return true;
}

// How many start-ups tried a marker's file: 0..kSalvageAttempts; one that cannot be read leaves one try.
int read_attempts(const std::filesystem::path& marker) {
  std::ifstream in(marker);
  std::string text;
  std::getline(in, text);
  char* end = nullptr;
  const long n = std::strtol(text.c_str(), &end, 10);
  if (text.empty() || end == text.c_str()) return kSalvageAttempts - 1;
  return static_cast<int>(std::clamp<long>(n, 0, kSalvageAttempts));
}

// The files set aside beside `outbox` whose presses are not back yet, with the tries so far. What
// a start-up that died left of its work goes on the way: copies of a salvage (nobody reads them
// again) and markers a power cut caught half-written (mark_pending writes <marker>.tmp first).
std::vector<std::pair<std::filesystem::path, int>> pending_salvages(const std::filesystem::path& outbox) {
  namespace fs = std::filesystem;
  constexpr std::string_view kSuffix = ".restore-pending";
  const auto ends_with = [](const std::string& name, std::string_view tail) {
    return name.size() >= tail.size() && name.compare(name.size() - tail.size(), tail.size(), tail) == 0;
  };
  std::vector<std::pair<fs::path, int>> out;
  std::vector<fs::path> leftovers;
  std::error_code ec;
  const auto prefix = outbox.filename().string() + ".corrupt-";
  // increment(ec), not ++: an I/O error reading the folder ends the scan, not the start-up.
  for (fs::directory_iterator it(outbox.parent_path().empty() ? "." : outbox.parent_path(), ec), end; !ec && it != end;
       it.increment(ec)) {
    const auto name = it->path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    if (name.find(".salvage") != std::string::npos || (name.find(kSuffix) != std::string::npos && ends_with(name, ".tmp")))
      leftovers.push_back(it->path());
    else if (ends_with(name, kSuffix))
      out.emplace_back(it->path().parent_path() / name.substr(0, name.size() - kSuffix.size()), read_attempts(it->path()));
  }
  for (const auto& p : leftovers) fs::remove(p, ec);
  std::sort(out.begin(), out.end());  // the oldest set aside first
  return out;
}

// Moves <path> and its -wal/-shm to <path>.corrupt-<ms>[-wal|-shm] (or .corrupt-clock-unset-<n>
// without a known wall clock), keeping them for a technician. An error when <path> itself cannot
// be moved (a card remounted read-only, say).
protocol::Result<std::filesystem::path> try_move_aside(const std::filesystem::path& path, std::int64_t wall_ms) {
  namespace fs = std::filesystem;
  bool dated = wall_clock_plausible(wall_ms);
  std::string base = path.string() + (dated ? ".corrupt-" : ".corrupt-clock-unset-");
  std::int64_t stamp = dated ? wall_ms : 1;
  std::error_code ec;
  while (fs::exists(base + std::to_string(stamp), ec)) ++stamp;  // the same ms, or a clock that is not set
  fs::path target = base + std::to_string(stamp);
  // The marker first: a power cut right after the rename leaves a file whose presses come back.
  const bool marked = mark_pending(target, 0);
  fs::rename(path, target, ec);
  if (ec) {
    if (marked) fs::remove(pending_marker(target), ec);
    return protocol::Error{"outbox", "cannot move " + path.string() + " aside to " + target.string() + ": " +
                                         ec.message()};
  }
  for (const char* suffix : {"-wal", "-shm"}) {
    fs::path side = path.string() + suffix;
    if (!fs::exists(side, ec)) continue;
    fs::rename(side, target.string() + suffix, ec);
    // A stale WAL left next to the new file would be replayed into it.
    if (ec) fs::remove(side, ec);
  }
  return target;
}

std::filesystem::path move_aside(const std::filesystem::path& path, std::int64_t wall_ms) {
  auto moved = try_move_aside(path, wall_ms);
  if (!moved) throw std::runtime_error("outbox " + path.string() + " is unreadable: " + moved.error().reason);
  return *moved;
}

// Reads the presses still readable in `moved` (the file set aside, with its -wal), from a copy,
// so the technician's copy stays as it was: a damaged header is written back first (the rows
// behind it are often intact), then rows are read from the highest seq down until the first that
// fails. At most `cap` are kept (twice the outbox's bound: memory stays bounded when the bound was
// lowered since); which of them stay is drop_oldest()'s choice, as for any full outbox (the lowest
// seqs are not the oldest presses after a renumbering); the rest are counted. Best effort: the
// presses a damaged page held are lost; the copy is removed whatever happens.
Salvage salvage(const std::filesystem::path& moved, std::uint64_t cap) {
  namespace fs = std::filesystem;
  // Seqs and counters beyond this are garbage (a seq advances by one per press from at most the
  // wall clock in ms): ignored rather than pushing the counter to the end of its range.
  constexpr std::int64_t kMaxPlausibleSeq = std::int64_t{1} << 50;
  Salvage out;
  const fs::path copy = moved.string() + ".salvage";
  struct RemoveCopy {
    const fs::path& copy;
    ~RemoveCopy() {
      std::error_code ignored;
      for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(copy.string() + suffix, ignored);
    }
  } remove_copy_at_exit{copy};
  std::error_code ec;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) fs::remove(copy.string() + suffix, ec);
  const auto failed = [&](const std::string& what) {
    out.failure = what;
    return out;
  };
  fs::copy_file(moved, copy, ec);
  if (ec) return failed("cannot copy it to read it: " + ec.message());
  if (fs::exists(moved.string() + "-wal", ec)) {
    fs::copy_file(moved.string() + "-wal", copy.string() + "-wal", ec);
    if (ec) return failed("cannot copy its -wal to read it: " + ec.message());
  }
  {
    int fd = ::open(copy.c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) return failed("cannot open its copy: " + std::string(std::strerror(errno)));
    const bool written = ::pwrite(fd, kSqliteHeader.data(), kSqliteHeader.size(), 0) ==
                         static_cast<ssize_t>(kSqliteHeader.size());
    ::close(fd);
    if (!written) return failed("cannot write its copy's header");
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(copy.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    out.failure = "cannot open its copy: " + std::string(db ? sqlite3_errmsg(db) : "out of memory");
  } else {
    Statement counter(db, "SELECT value FROM counters WHERE name = 'next_seq'");
    if (counter.ok() && counter.step() == SQLITE_ROW && counter.column_int(0) > 0 &&
        counter.column_int(0) < kMaxPlausibleSeq)
      out.next_seq = static_cast<std::uint64_t>(counter.column_int(0));
    Statement rows(db, ("SELECT " + kPressColumns + " FROM presses ORDER BY seq DESC").c_str());
    while (rows.ok() && rows.step() == SQLITE_ROW) {
      const auto seq = rows.column_int(0);
      auto s = read_press(rows);
      // A row a damaged page garbled is not a guest's press (the protocol's limits say which are):
      // dropped, not sent.
      if (seq < static_cast<std::int64_t>(protocol::kMinSeq) || seq >= kMaxPlausibleSeq || s.press.button < 0 ||
          s.press.button > protocol::kMaxButton || s.press.scale < protocol::kMinScale ||
          s.press.scale > protocol::kMaxScale || s.press.rating < protocol::kMinRating ||
          s.press.rating > s.press.scale)
        continue;
      if (out.presses.size() < cap)
        out.presses.push_back(std::move(s));
      else
        ++out.beyond;
    }
    std::reverse(out.presses.begin(), out.presses.end());  // in seq order
  }
  sqlite3_close(db);
  return out;
}

}  // namespace

OutboxHeader classify_outbox_header(std::string_view head, bool read_error) {
  if (read_error) return OutboxHeader::read_error;
  return head == kSqliteHeader ? OutboxHeader::sqlite : OutboxHeader::not_sqlite;
}

Outbox::Outbox(const std::filesystem::path& path, std::uint64_t max_presses, const OutboxStart& start,
               std::chrono::milliseconds busy_timeout)
    : path_(path), max_(max_presses) {
  // Checked before SQLite opens it: closing a connection on a file that is not a database
  // deletes the -wal beside it, which may hold the last presses a technician could still recover.
  if (!has_sqlite_header(path)) {
    opening_.corrupt_reason = "file is not a database (no SQLite header)";
    opening_.corrupt_moved_to = move_aside(path, start.wall_ms);
    open(path, start, busy_timeout);
  } else {
    try {
      open(path, start, busy_timeout);
    } catch (const UnreadableOutbox& e) {
      close();
      opening_.corrupt_reason = e.what();
      opening_.corrupt_moved_to = move_aside(path, start.wall_ms);
      open(path, start, busy_timeout);
    }
  }
  restore_pending();
}

// The presses of every file set aside and not read back yet: this start's (also when its marker
// could not be written), one a start-up died in, one the daemon set aside while running. A file's
// marker goes once its presses are stored, or after its last try.
void Outbox::restore_pending() {
  namespace fs = std::filesystem;
  auto pending = pending_salvages(path_);
  const auto& now = opening_.corrupt_moved_to;
  if (!now.empty() && std::none_of(pending.begin(), pending.end(), [&](const auto& p) { return p.first == now; }))
    pending.emplace_back(now, 0);
  for (const auto& [moved, attempts] : pending) {
    std::error_code ec;
    if (!fs::exists(moved, ec)) {  // a technician took it away
      fs::remove(pending_marker(moved), ec);
      continue;
    }
    // What came of this start's file goes with it (salvaged, salvage_error); of another, in its own entry.
    OutboxOpening::Restored result{moved, 0, {}};
    const auto report = [&] {
      if (moved != now) {
        opening_.restored_from_earlier.push_back(std::move(result));
        return;
      }
      opening_.salvaged = result.presses;
      opening_.salvage_error = std::move(result.error);
    };
    if (attempts >= kSalvageAttempts) {
      fs::remove(pending_marker(moved), ec);
      result.error = "gave up reading its presses back after " + std::to_string(attempts) + " tries (kept for inspection)";
      report();
      continue;
    }
    // Counted before it runs: a try that ends the process (out of memory) is one of the two. A
    // count the card refuses is no try: an earlier file is left for a start with room to count.
    if (!mark_pending(moved, attempts + 1) && moved != now) continue;
    const auto restored = restore_from(moved, result.error);
    if (restored) {
      result.presses = *restored;
      fs::remove(pending_marker(moved), ec);
    } else {
      result.error += " (tried again at the next start, if tries are left)";  // the marker stays
    }
    report();
  }
}

// Salvage is a bonus: nothing it meets (out of memory included) may keep the terminal from
// starting on its new outbox.
std::optional<std::uint64_t> Outbox::restore_from(const std::filesystem::path& moved, std::string& error) {
  try {
    const auto bound = max_ > 0 ? max_ : std::numeric_limits<std::uint64_t>::max() / 2;
    const auto read = salvage(moved, 2 * bound);
    if (!read.failure.empty()) {
      error = read.failure;
      return std::nullopt;
    }
    return restore(read, error);
  } catch (const std::exception& e) {
    error = e.what();
    return std::nullopt;
  }
}

// The presses read back from the file set aside go into the new outbox under their own seqs (the
// hub knows a re-send by seq and nonce), and the counter goes above them and the old counter.
// Beyond the bound (lowered since, say) the oldest are dropped and counted, as add() does.
std::optional<std::uint64_t> Outbox::restore(const Salvage& old, std::string& error) {
  if (old.presses.empty() && old.next_seq == 0) return 0;
  const auto fail = [&](const char* what) -> std::optional<std::uint64_t> {
    error = std::string(what) + ": " + sqlite3_errmsg(db_) + " (" + std::to_string(old.presses.size()) +
            " presses read back, not stored)";
    return std::nullopt;
  };
  Transaction tx(db_);
  if (!tx.ok()) return fail("cannot begin a write");
  const auto sql = "INSERT OR IGNORE INTO presses (" + kPressColumns + ") VALUES (" + kPressValues + ")";
  Statement insert(db_, sql.c_str());
  if (!insert.ok()) return fail("cannot prepare the insert");
  std::uint64_t next = std::max(next_seq_, old.next_seq);
  std::uint64_t restored = 0;
  for (const auto& p : old.presses) {
    bind_press(insert, p);
    if (insert.step() != SQLITE_DONE) return fail("cannot store a press read back");
    restored += static_cast<std::uint64_t>(sqlite3_changes(db_));
    insert.reset();
    next = std::max(next, p.press.seq + 1);
  }
  std::uint64_t over = 0;
  if (max_ > 0 && depth_ + restored > max_) {
    auto went = drop_oldest(db_, depth_ + restored - max_);
    if (!went) return fail("cannot drop the oldest presses read back");
    over = *went;
  }
  if (!count_dropped(db_, old.beyond)) return fail("cannot count the presses read back beyond the bound");
  if (!store_next_seq(db_, next)) return fail("cannot advance the seq");
  if (!tx.commit()) return fail("cannot commit the presses read back");
  next_seq_ = next;
  depth_ = depth_ + restored - over;
  dropped_ += over + old.beyond;
  return restored - std::min(restored, over);
}

Outbox::~Outbox() { close(); }

void Outbox::close() {
  sqlite3_close(db_);
  db_ = nullptr;
}

protocol::Result<std::filesystem::path> Outbox::close_and_move_aside(std::int64_t wall_ms) {
  close();
  corrupt_ = true;  // closed for good: every later operation fails until a restart
  auto moved = try_move_aside(path_, wall_ms);
  if (moved) depth_ = 0;  // its presses are no longer queued here
  return moved;
}

void Outbox::open(const std::filesystem::path& path, const OutboxStart& start, std::chrono::milliseconds busy_timeout) {
  if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                      nullptr) != SQLITE_OK) {
    std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
    close();
    throw std::runtime_error("cannot open outbox " + path.string() + ": " + msg);
  }
  sqlite3_busy_timeout(db_, static_cast<int>(busy_timeout.count()));
  try {
    exec("PRAGMA journal_mode=WAL");
    // FULL: a COMMIT returns only after the WAL is fsynced, so a committed press survives power loss.
    exec("PRAGMA synchronous=FULL");
    // The working set is a few pages at the tail of one table; a small cache keeps RSS low.
    exec("PRAGMA cache_size=-256");
    // A damaged file can open and then fail on the pages holding presses, refusing every press for
    // the rest of its life; the outbox is bounded and small, so checking it at start-up is cheap.
    {
      Statement check(db_, "PRAGMA quick_check(1)");
      int rc = check.ok() ? check.step() : sqlite3_errcode(db_);
      throw_if_unreadable(db_, rc);
      if (rc == SQLITE_ROW && check.column_text(0) != "ok") {
        throw UnreadableOutbox("quick_check: " + check.column_text(0));
      }
    }
    Statement version(db_, "PRAGMA user_version");
    int v = version.ok() && version.step() == SQLITE_ROW ? static_cast<int>(version.column_int(0)) : 0;
    if (v > kSchemaVersion) {
      throw std::runtime_error("outbox " + path.string() + " has schema " + std::to_string(v) +
                               ", newer than this firmware understands (" + std::to_string(kSchemaVersion) + ")");
    }
    if (v < 1 || !has_counters()) {
      // A new outbox. Its seq must stay above every seq this device used before, and the hub
      // remembers those (it drops and acks a seq it has seen), while the old outbox may be gone:
      // re-flashed card, replacement terminal with the same device id, a deleted corrupt file.
      // The wall clock in ms is above any seq handed out earlier (a seq advances by one per press,
      // far slower than 1 per ms). Without a synchronised clock (start.wall_ms 0: a Raspberry Pi
      // without RTC runs on a restored fake-hwclock time until NTP, which may be behind the seqs it
      // handed out) it starts at a random seq instead, clear of the ranges a device can have used
      // before (kRandomFirstSeqMin).
      std::uint64_t first = kRandomFirstSeqMin + start.random % (kRandomFirstSeqEnd - kRandomFirstSeqMin);
      if (start.first_seq > 0) {
        first = start.first_seq;
        opening_.seq = OutboxOpening::Seq::given;
      } else if (wall_clock_plausible(start.wall_ms)) {
        first = static_cast<std::uint64_t>(start.wall_ms);
        opening_.seq = OutboxOpening::Seq::from_clock;
      } else {
        opening_.seq = OutboxOpening::Seq::random;
      }
      exec("BEGIN IMMEDIATE");
      exec("CREATE TABLE IF NOT EXISTS presses ("
           " seq INTEGER PRIMARY KEY, button INTEGER NOT NULL, rating INTEGER NOT NULL,"
           " scale INTEGER NOT NULL, repeat INTEGER NOT NULL, boot_id TEXT NOT NULL,"
           " boottime_ns INTEGER NOT NULL, wall_ms INTEGER NOT NULL)");
      exec("CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)");
      exec(("INSERT OR IGNORE INTO counters VALUES ('next_seq', " + std::to_string(first) + "), ('dropped', 0)").c_str());
      exec("PRAGMA user_version=1");
      exec("COMMIT");
    }
    // For drop_oldest(), in outboxes made before it too. Not a new schema version: an older
    // firmware opens the file and keeps the index up to date as SQLite does any index. Best effort:
    // on a full card the outbox opens without it (a full outbox's drop then scans the table).
    sqlite3_exec(db_, "CREATE INDEX IF NOT EXISTS presses_by_boot_time ON presses (boot_id, boottime_ns)", nullptr,
                 nullptr, nullptr);
    load_counters();
  } catch (...) {
    close();
    throw;
  }
}

void Outbox::exec(const char* sql) {
  char* err = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    if (is_unreadable(rc)) throw UnreadableOutbox(msg);
    throw std::runtime_error(std::string("outbox: ") + sql + ": " + msg);
  }
}

protocol::Error Outbox::closed() const {
  return protocol::Error{"outbox", path_.string() + " is closed: it was damaged and is waiting to be moved aside"};
}

protocol::Error Outbox::failed(const std::string& what) {
  if (is_unreadable(sqlite3_errcode(db_))) corrupt_ = true;
  return protocol::Error{"outbox", what + ": " + sqlite3_errmsg(db_)};
}

bool Outbox::has_counters() {
  Statement sel(db_, "SELECT value FROM counters WHERE name = 'next_seq'");
  return sel.ok() && sel.step() == SQLITE_ROW;
}

void Outbox::load_counters() {
  Statement counters(db_, "SELECT name, value FROM counters");
  while (counters.ok() && counters.step() == SQLITE_ROW) {
    auto name = counters.column_text(0);
    auto value = static_cast<std::uint64_t>(counters.column_int(1));
    if (name == "next_seq") next_seq_ = value;
    if (name == "dropped") dropped_ = value;
  }
  Statement count(db_, "SELECT COUNT(*), COALESCE(MAX(seq), 0) FROM presses");
  if (count.ok() && count.step() == SQLITE_ROW) {
    depth_ = static_cast<std::uint64_t>(count.column_int(0));
    // Belt and braces: never hand out a seq at or below one still stored.
    auto max_seq = static_cast<std::uint64_t>(count.column_int(1));
    if (next_seq_ <= max_seq) next_seq_ = max_seq + 1;
  }
}

protocol::Result<StoredPress> Outbox::add(int button, int rating, int scale, bool repeat, const PressTime& at) {
  if (!db_) return closed();
  Transaction tx(db_);
  if (!tx.ok()) return failed("cannot begin a write");
  std::uint64_t seq = next_seq_;
  std::uint64_t drop = 0;
  if (max_ > 0 && depth_ >= max_) {
    auto went = drop_oldest(db_, depth_ - max_ + 1);
    if (!went) return failed("cannot drop the oldest presses");
    drop = *went;
  }
  StoredPress stored;
  stored.press.seq = seq;
  stored.press.button = button;
  stored.press.rating = rating;
  stored.press.scale = scale;
  if (repeat) stored.press.flags.emplace_back(protocol::kRepeatFlag);
  stored.at = at;
  Statement insert(db_, ("INSERT INTO presses (" + kPressColumns + ") VALUES (" + kPressValues + ")").c_str());
  if (!insert.ok()) return failed("cannot prepare the press insert");
  bind_press(insert, stored);
  if (insert.step() != SQLITE_DONE) return failed("cannot store press " + std::to_string(seq));
  if (!store_next_seq(db_, seq + 1)) return failed("cannot advance the seq");
  if (!tx.commit()) return failed("cannot commit press " + std::to_string(seq));

  next_seq_ = seq + 1;
  depth_ = depth_ + 1 - drop;
  dropped_ += drop;
  return stored;
}

protocol::Result<std::uint64_t> Outbox::ack(const std::vector<std::uint64_t>& seqs) {
  if (!db_) return closed();
  Transaction tx(db_);
  if (!tx.ok()) return failed("cannot begin a write");
  Statement del(db_, "DELETE FROM presses WHERE seq = ?1");
  if (!del.ok()) return failed("cannot prepare the ack delete");
  std::uint64_t deleted = 0;
  for (auto seq : seqs) {
    del.bind(1, static_cast<std::int64_t>(seq));
    if (del.step() != SQLITE_DONE) return failed("cannot delete acknowledged press");
    deleted += static_cast<std::uint64_t>(sqlite3_changes(db_));
    del.reset();
  }
  if (!tx.commit()) return failed("cannot commit the ack");
  depth_ -= std::min(depth_, deleted);
  return deleted;
}

protocol::Result<std::optional<std::uint64_t>> Outbox::renumber(std::vector<std::uint64_t> taken,
                                                                std::uint64_t at_least) {
  if (!db_) return closed();
  std::sort(taken.begin(), taken.end());
  taken.erase(std::unique(taken.begin(), taken.end()), taken.end());
  Transaction tx(db_);
  if (!tx.ok()) return failed("cannot begin a write");
  // Every new seq is above every stored one (next_seq_ is), so no move meets another press.
  std::uint64_t next = std::max(at_least, next_seq_);
  const std::uint64_t first = next;
  Statement move(db_, "UPDATE presses SET seq = ?1 WHERE seq = ?2");
  if (!move.ok()) return failed("cannot prepare the renumbering");
  for (auto seq : taken) {
    move.bind(1, static_cast<std::int64_t>(next));
    move.bind(2, static_cast<std::int64_t>(seq));
    if (move.step() != SQLITE_DONE) return failed("cannot renumber press " + std::to_string(seq));
    if (sqlite3_changes(db_) > 0) ++next;
    move.reset();
  }
  if (next == first) return std::optional<std::uint64_t>{};
  if (!store_next_seq(db_, next)) return failed("cannot advance the seq");
  if (!tx.commit()) return failed("cannot commit the renumbering");
  next_seq_ = next;
  return std::optional<std::uint64_t>{first};
}

protocol::Result<std::vector<StoredPress>> Outbox::pending_after(std::uint64_t after, std::size_t limit) {
  if (!db_) return closed();
  Statement sel(db_, ("SELECT " + kPressColumns + " FROM presses WHERE seq > ?1 ORDER BY seq LIMIT ?2").c_str());
  if (!sel.ok()) return failed("cannot prepare the pending query");
  sel.bind(1, static_cast<std::int64_t>(after));
  sel.bind(2, static_cast<std::int64_t>(limit));
  std::vector<StoredPress> out;
  int rc;
  while ((rc = sel.step()) == SQLITE_ROW) out.push_back(read_press(sel));
  if (rc != SQLITE_DONE) return failed("cannot read pending presses");
  return out;
}

}  // namespace kiosk::firmware
