// One fault-injection run: mosquitto, the hub and N terminals (the real binaries), guests pressing
// continuously, faults by a seeded schedule, then drain, stop and the verdict.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include <boost/json/value.hpp>

#include "verdict.hpp"

namespace kiosk::faults {

struct RunSettings {
  double duration_s = 60;    // how long the guests press
  int terminals = 20;
  double rate = 200;         // presses per second, all terminals together
  std::uint64_t seed = 1;
  bool faults = true;        // false: a clean run (the soak)
  double fault_gap_s = 6;    // mean time between fault starts
  double drain_timeout_s = 60;
  std::filesystem::path work;  // empty: a fresh directory under $TMPDIR (or /tmp)
  bool keep = false;           // keep the work directory even when the run passed
  std::filesystem::path bin_dir;
  std::filesystem::path boards_dir;
  std::filesystem::path samples_csv;  // empty: no samples
  double sample_every_s = 10;
  bool progress = true;  // one line per event on stderr
};

struct Sample {
  double t_s = 0;
  long hub_rss_kb = -1, hub_fds = -1, broker_rss_kb = -1, broker_fds = -1, fw_rss_kb = -1, fw_fds = -1;
  std::uint64_t presses = 0;
};

struct RunReport {
  RunSettings settings;
  Verdict verdict;
  Bounds bounds;
  std::map<std::string, int> faults;  // injected, by kind
  std::uint64_t written = 0;          // press lines delivered to a terminal
  std::uint64_t skipped = 0;          // press lines for a terminal that was down
  double pressing_s = 0, drain_s = 0, total_s = 0;
  bool drained = false;
  std::int64_t hub_outage_max_ms = 0;
  std::vector<std::string> problems;  // run-level: unexpected exits, start failures, drain timeout
  std::vector<Sample> samples;
  std::string work;
  bool ok() const { return verdict.ok && problems.empty() && drained; }
};

// Runs everything; never throws for a failure of the system under test (those are problems in
// the report); throws std::runtime_error when the run itself cannot be set up.
RunReport run_faults(const RunSettings& settings);

boost::json::value to_json(const RunReport& report);
std::string summary(const RunReport& report);

}  // namespace kiosk::faults
