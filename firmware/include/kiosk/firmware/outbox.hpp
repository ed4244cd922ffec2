// The durable outbox: every accepted press is committed here (with its seq) before it is
// published, and stays until the hub's ack names it. SQLite, WAL, synchronous=FULL.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/firmware/press_time.hpp"
#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/result.hpp"

struct sqlite3;

namespace kiosk::firmware {

struct StoredPress {
  protocol::Press press;  // age_ms is 0 here; recomputed from `at` on every send
  PressTime at;
};

// What start-up needs to know to open (or create) the outbox.
struct OutboxStart {
  // Wall clock at start-up, ms since the epoch, or 0 when it is not known (not synchronised, see
  // SystemPressClock): seeds a new outbox's seq, names a corrupt file.
  std::int64_t wall_ms = 0;
  // First seq of a NEW outbox; 0: the wall clock in ms when plausible, else a random one (below).
  // Existing outboxes keep their counters whatever this says.
  std::uint64_t first_seq = 0;
  // Any random number (the caller's random source): picks the first seq of a new outbox when the
  // clock is not known, in [kRandomFirstSeqMin, kRandomFirstSeqEnd).
  std::uint64_t random = 0;
};

// A new outbox without a usable clock starts at a random seq in this range. Above any count of
// presses from 1, and below any wall-clock seed (2^40 ms is the year 2004), so it cannot run into
// a device's earlier seqs from either; two random starts meet with a chance of about
// presses / 2^40 (one in a million for a million presses).
inline constexpr std::uint64_t kRandomFirstSeqMin = std::uint64_t{1} << 30;
inline constexpr std::uint64_t kRandomFirstSeqEnd = std::uint64_t{1} << 40;

// The first 16 bytes of every SQLite database file.
inline constexpr std::string_view kSqliteHeader{"SQLite format 3\0", 16};

// What the first bytes of an existing, non-empty outbox file say. `head`: the bytes read (up to
// 16; fewer only for a shorter file); `read_error`: the read failed for another reason (I/O).
// read_error is a start-up error (the file stays, the service retries), never corruption: moving a
// healthy outbox aside for an I/O error would lose its queued presses.
enum class OutboxHeader { sqlite, not_sqlite, read_error };
OutboxHeader classify_outbox_header(std::string_view head, bool read_error);

// How the outbox came up, for the daemon to log.
struct OutboxOpening {
  enum class Seq { kept, given, from_clock, random };
  Seq seq = Seq::kept;                      // kept: an existing outbox with its counters
  std::filesystem::path corrupt_moved_to;   // non-empty: the old file was unreadable, moved here
  std::string corrupt_reason;               // what SQLite said about it
  std::uint64_t salvaged = 0;               // presses read back from it into the new outbox
  std::string salvage_error;                // why presses of it could not be read back or kept, if so
  // Files set aside earlier whose presses were read back now (by the daemon while it ran, or by a
  // start-up that ended before it had stored them): how many came back from each, or why none.
  struct Restored {
    std::filesystem::path from;
    std::uint64_t presses = 0;
    std::string error;
    bool operator==(const Restored&) const = default;
  };
  std::vector<Restored> restored_from_earlier;
};

struct Salvage;  // presses read back from an outbox set aside (outbox.cpp)

class Outbox {
 public:
  // Opens or creates <path>; throws std::runtime_error if the file cannot be used at all.
  // A file that is not a database or is corrupt is moved aside to <path>.corrupt-<wall ms>, or
  // <path>.corrupt-clock-unset-<n> when start.wall_ms is not set (with its -wal and -shm), and a
  // new outbox is started: a terminal that restarts forever on a bad file loses every later press
  // too. See opening(). An I/O error reading the file's header throws (the file stays).
  // `max_presses` bounds the rows kept: when full, the oldest are dropped and counted (oldest by
  // when they were pressed, not the lowest seqs: see renumber()); so are presses read back beyond it.
  // `busy_timeout`: how long a write waits for a reader's lock (e.g. a technician's sqlite3).
  Outbox(const std::filesystem::path& path, std::uint64_t max_presses, const OutboxStart& start,
         std::chrono::milliseconds busy_timeout = std::chrono::milliseconds(250));
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Assigns the next seq and commits the press and the new next-seq in one transaction.
  // An Error (disk full, I/O error) means nothing was stored and the seq was not used.
  protocol::Result<StoredPress> add(int button, int rating, int scale, bool repeat, const PressTime& at);

  // True once an operation failed because the file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB):
  // nothing will work on it again until a restart moves it aside (the constructor does that).
  // Other errors (disk full, I/O, a lock) leave it false: the next operation may succeed.
  bool corrupt() const { return corrupt_; }

  // For a file found damaged at run time (corrupt()): closes it and moves it aside with its -wal
  // and -shm, as start-up does, named after `wall_ms` (see the constructor); returns where it went.
  // Moving it now, not at the next start, matters: start-up's check can miss the damage (a
  // transient read error, an index it does not check) and reopen it, to fail again. On an error
  // (a read-only filesystem) the file stays where it is. Either way the outbox stays closed:
  // every later operation fails with an error and corrupt() stays true.
  protocol::Result<std::filesystem::path> close_and_move_aside(std::int64_t wall_ms);

  // Deletes the acknowledged presses; returns how many were still here.
  protocol::Result<std::uint64_t> ack(const std::vector<std::uint64_t>& seqs);

  // The hub holds other presses of this device under these seqs (its counter went back: the file
  // was restored from an older copy, or the card lost its latest writes). Moves each of them still
  // here, in order, to a new seq from max(at_least, next_seq()), and the counter after them, in
  // one transaction. Returns the first new seq (nullopt when none of them is here). Their seqs are
  // then above newer presses' ones; their press times stay, and a full outbox goes by those.
  protocol::Result<std::optional<std::uint64_t>> renumber(std::vector<std::uint64_t> taken, std::uint64_t at_least);

  // Unacknowledged presses with seq > after, in seq order (not press order after a renumbering),
  // at most `limit`.
  protocol::Result<std::vector<StoredPress>> pending_after(std::uint64_t after, std::size_t limit);

  std::uint64_t depth() const { return depth_; }
  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t next_seq() const { return next_seq_; }
  std::uint64_t max_presses() const { return max_; }
  const OutboxOpening& opening() const { return opening_; }
  void set_max_presses(std::uint64_t max) { max_ = max; }

 private:
  void open(const std::filesystem::path& path, const OutboxStart& start, std::chrono::milliseconds busy_timeout);
  // How many presses came back into the outbox; nullopt when they could not be read or stored (`error` says why).
  std::optional<std::uint64_t> restore(const Salvage& old, std::string& error);
  std::optional<std::uint64_t> restore_from(const std::filesystem::path& moved, std::string& error);
  void restore_pending();
  void close();
  void exec(const char* sql);
  bool has_counters();
  void load_counters();
  protocol::Error failed(const std::string& what);  // also notes corruption
  protocol::Error closed() const;

  std::filesystem::path path_;
  sqlite3* db_ = nullptr;
  std::uint64_t max_;
  std::uint64_t depth_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t next_seq_ = 1;
  OutboxOpening opening_;
  bool corrupt_ = false;
};

}  // namespace kiosk::firmware
