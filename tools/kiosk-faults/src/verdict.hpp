// The verdict of a run: what each terminal says it accepted against what the hub stored. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

namespace kiosk::faults {

// A press the firmware logged as accepted ("info press: seq=N button=B rating=R"), with the wall
// time at which the orchestrator read that line: the press happened at or before it.
struct LoggedPress {
  std::uint64_t seq = 0;
  int button = 0;
  int rating = 0;
  std::int64_t logged_at_ms = 0;
};

// A row of the hub's presses table.
struct StoredRow {
  std::uint64_t seq = 0;
  int button = 0;
  int rating = 0;
  std::int64_t pressed_at_ms = 0;
  std::int64_t received_at_ms = 0;
};

// Parses one firmware log line "info press: seq=N button=B rating=R"; false for any other line.
bool parse_press_line(const std::string& line, LoggedPress& out);

struct DeviceEvidence {
  std::string device;
  std::vector<LoggedPress> logged;
  std::vector<StoredRow> stored;
  int kills = 0;  // SIGKILLs of this terminal: each may leave one press committed but never logged
};

struct Bounds {
  // The stored time may precede the log line by this much: the outbox commit (fsync), the pipe and
  // scheduling. Measured up to 2.65 s on a 2-core machine at load 15-20, hence 5 s.
  std::int64_t early_ms = 5000;
  // ... and follow it by this much: clock rounding, plus the time a press can sit in the broker's
  // queue for the hub while the hub is down (age_ms is measured when the terminal sends).
  std::int64_t late_ms = 100;
  // Stored times in seq order may step back by this much (same causes as late_ms).
  std::int64_t order_slack_ms = 100;
};

struct DeviceVerdict {
  std::string device;
  std::uint64_t made = 0;        // distinct seqs logged as accepted
  std::uint64_t stored = 0;      // rows at the hub
  std::uint64_t missing = 0;     // logged but not stored, plus seqs logged twice (one press lost)
  std::uint64_t duplicated = 0;  // rows beyond one per seq
  std::uint64_t gaps = 0;        // seqs in 1..max(stored) with no row (seqs are contiguous by design)
  std::uint64_t reused = 0;      // seqs the terminal logged for two different presses
  std::uint64_t unlogged = 0;    // stored but never logged (allowed up to `kills`)
  std::uint64_t mismatched = 0;  // stored button/rating differ from the logged ones
  std::uint64_t out_of_bounds = 0;
  std::uint64_t disorder = 0;
  std::int64_t max_early_ms = 0;  // largest (logged_at - pressed_at)
  std::int64_t max_late_ms = 0;   // largest (pressed_at - logged_at)
  std::int64_t max_delivery_ms = 0;  // largest (received_at - pressed_at): how long a press took to arrive
  std::vector<std::string> problems;  // the first few, precise
  bool ok() const;
};

struct Verdict {
  std::vector<DeviceVerdict> devices;
  std::uint64_t made = 0, stored = 0, missing = 0, duplicated = 0, gaps = 0, reused = 0, unlogged = 0,
                mismatched = 0, out_of_bounds = 0, disorder = 0;
  std::int64_t max_early_ms = 0, max_late_ms = 0, max_delivery_ms = 0;
  bool ok = false;  // every device ok and at least one press made
};

DeviceVerdict judge_device(const DeviceEvidence& evidence, const Bounds& bounds);
Verdict judge(const std::vector<DeviceEvidence>& evidence, const Bounds& bounds);

boost::json::value to_json(const Verdict& v);

}  // namespace kiosk::faults
