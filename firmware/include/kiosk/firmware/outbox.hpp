// The durable outbox: every accepted press is committed here (with its seq) before it is
// published, and stays until the hub's ack names it. SQLite, WAL, synchronous=FULL.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
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

class Outbox {
 public:
  // Opens or creates <path>; throws std::runtime_error if the file cannot be used at all.
  // `max_presses` bounds the rows kept: when full, the oldest are dropped and counted.
  // `busy_timeout`: how long a write waits for a reader's lock (e.g. a technician's sqlite3).
  Outbox(const std::filesystem::path& path, std::uint64_t max_presses,
         std::chrono::milliseconds busy_timeout = std::chrono::milliseconds(250));
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  // Assigns the next seq and commits the press and the new next-seq in one transaction.
  // An Error (disk full, I/O error) means nothing was stored and the seq was not used.
  protocol::Result<StoredPress> add(int button, int rating, int scale, bool repeat, const PressTime& at);

  // Deletes the acknowledged presses; returns how many were still here.
  protocol::Result<std::uint64_t> ack(const std::vector<std::uint64_t>& seqs);

  // Unacknowledged presses with seq > after, in seq order, at most `limit`.
  protocol::Result<std::vector<StoredPress>> pending_after(std::uint64_t after, std::size_t limit);

  std::uint64_t depth() const { return depth_; }
  std::uint64_t dropped() const { return dropped_; }
  std::uint64_t next_seq() const { return next_seq_; }
  std::uint64_t max_presses() const { return max_; }
  void set_max_presses(std::uint64_t max) { max_ = max; }

 private:
  void exec(const char* sql);
  void load_counters();

  sqlite3* db_ = nullptr;
  std::uint64_t max_;
  std::uint64_t depth_ = 0;
  std::uint64_t dropped_ = 0;
  std::uint64_t next_seq_ = 1;
};

}  // namespace kiosk::firmware
