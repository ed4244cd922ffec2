// Prometheus text exposition (format 0.0.4) of the hub's counters and ingest latency.
#include "kiosk/hub/metrics.hpp"

#include <cstdio>
#include <sstream>

namespace kiosk::hub {

void LatencyHistogram::observe(std::chrono::nanoseconds d) {
  double s = std::chrono::duration<double>(d).count();
  if (s < 0) s = 0;
  for (std::size_t i = 0; i < kBounds.size(); ++i)
    if (s <= kBounds[i]) {
      ++buckets_[i];
      break;
    }
  ++count_;
  sum_ += s;
}

std::uint64_t LatencyHistogram::cumulative(std::size_t i) const {
  std::uint64_t total = 0;
  for (std::size_t k = 0; k <= i && k < buckets_.size(); ++k) total += buckets_[k];
  return total;
}

double LatencyHistogram::quantile(double q) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<std::uint64_t>(q * static_cast<double>(count_));
  if (rank == 0) rank = 1;
  for (std::size_t i = 0; i < kBounds.size(); ++i)
    if (cumulative(i) >= rank) return kBounds[i];
  return kBounds.back();
}

namespace {
std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", v);
  return buf;
}
// Label values escape backslash, quote and newline.
std::string label(const std::string& v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}
}  // namespace

std::string render_prometheus(const MetricsSnapshot& m) {
  std::ostringstream os;
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " counter\n" << name << ' ' << v << '\n';
  };
  auto gauge = [&](const char* name, const char* help, double v) {
    os << "# HELP " << name << ' ' << help << "\n# TYPE " << name << " gauge\n" << name << ' ' << number(v) << '\n';
  };
  const auto& c = m.counters;
  counter("kiosk_presses_stored_total", "Presses stored for the first time.", c.presses_stored);
  counter("kiosk_presses_duplicate_total", "Re-sent presses that were already stored (acknowledged again).",
          c.duplicates);
  counter("kiosk_presses_seq_conflicts_total",
          "Presses under a seq the device had used for a different press (its outbox was reset); kept in "
          "press_conflicts and acknowledged.",
          c.seq_conflicts);
  counter("kiosk_presses_seq_taken_total",
          "New presses under a seq the hub holds for another press of the device (its outbox went back); not "
          "stored, the device renumbers and re-sends them.",
          c.seq_taken);
  counter("kiosk_acks_sent_total", "Ack messages published to devices.", c.acks_sent);
  counter("kiosk_commit_errors_total", "Batches whose commit failed (not acknowledged; devices re-send).",
          c.commit_errors);
  counter("kiosk_commit_batches_total", "Group commits of presses.", c.batches);
  os << "# HELP kiosk_rejected_total Messages rejected, by reason.\n# TYPE kiosk_rejected_total counter\n";
  for (const auto& [reason, n] : c.rejected) os << "kiosk_rejected_total{reason=\"" << label(reason) << "\"} " << n << '\n';
  os << "# HELP kiosk_http_refused_total HTTP connections turned away: full (every connection taken), per_address "
        "(too many from one address), streams (too many event streams; answered 503).\n"
        "# TYPE kiosk_http_refused_total counter\n";
  for (const auto& [reason, n] : m.http_refused)
    os << "kiosk_http_refused_total{reason=\"" << label(reason) << "\"} " << n << '\n';
  os << "# HELP kiosk_ingest_latency_seconds From press received to its ack published.\n"
        "# TYPE kiosk_ingest_latency_seconds histogram\n";
  for (std::size_t i = 0; i < LatencyHistogram::kBounds.size(); ++i)
    os << "kiosk_ingest_latency_seconds_bucket{le=\"" << number(LatencyHistogram::kBounds[i]) << "\"} "
       << m.latency.cumulative(i) << '\n';
  os << "kiosk_ingest_latency_seconds_bucket{le=\"+Inf\"} " << m.latency.count() << '\n';
  os << "kiosk_ingest_latency_seconds_sum " << number(m.latency.sum_seconds()) << '\n';
  os << "kiosk_ingest_latency_seconds_count " << m.latency.count() << '\n';
  gauge("kiosk_devices_online", "Registered devices whose last status was online.",
        static_cast<double>(m.devices_online));
  gauge("kiosk_unknown_devices", "Devices that sent presses but are not registered (or retired).",
        static_cast<double>(m.unknown_devices));
  gauge("kiosk_broker_connected", "1 when the hub is connected to the broker.", m.broker_connected ? 1 : 0);
  return os.str();
}

}  // namespace kiosk::hub
