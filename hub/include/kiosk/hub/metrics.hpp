// The hub's counters and the ingest latency histogram, rendered in Prometheus text format. Pure.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <map>
#include <string>

namespace kiosk::hub {

// A cumulative histogram with fixed buckets (seconds), as Prometheus expects.
class LatencyHistogram {
 public:
  static constexpr std::array<double, 14> kBounds = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                                     0.1,    0.25,  0.5,    1.0,   2.5,   5.0,  10.0};
  void observe(std::chrono::nanoseconds d);
  std::uint64_t count() const { return count_; }
  double sum_seconds() const { return sum_; }
  // Cumulative count of observations <= kBounds[i].
  std::uint64_t cumulative(std::size_t i) const;
  // Approximate quantile from the buckets (upper bound of the bucket holding it), seconds.
  double quantile(double q) const;

 private:
  std::array<std::uint64_t, kBounds.size()> buckets_{};
  std::uint64_t count_ = 0;
  double sum_ = 0;
};

struct HubCounters {
  std::uint64_t presses_stored = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t seq_conflicts = 0;
  std::uint64_t seq_taken = 0;  // a new press (another nonce) under a stored seq: renumbered by the device  // a different press under a used seq, kept in press_conflicts
  std::uint64_t acks_sent = 0;
  std::uint64_t commit_errors = 0;
  std::uint64_t batches = 0;
  std::map<std::string, std::uint64_t> rejected;  // by reason
};

struct MetricsSnapshot {
  const HubCounters& counters;
  const LatencyHistogram& latency;
  std::size_t devices_online = 0;
  std::size_t unknown_devices = 0;
  bool broker_connected = false;
  std::map<std::string, std::uint64_t> http_refused;  // connections turned away, by reason
};

std::string render_prometheus(const MetricsSnapshot& m);

}  // namespace kiosk::hub
