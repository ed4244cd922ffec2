// Prometheus text rendering of the hub's counters and latency histogram.
#include <catch2/catch.hpp>

#include "kiosk/hub/metrics.hpp"

using namespace kiosk::hub;
using namespace std::chrono_literals;

TEST_CASE("metrics render counters, rejections by reason and a cumulative latency histogram") {
  HubCounters c;
  c.presses_stored = 7;
  c.duplicates = 2;
  c.acks_sent = 5;
  c.rejected["bad_json"] = 3;
  c.rejected["unknown_device"] = 1;
  LatencyHistogram h;
  h.observe(300us);
  h.observe(3ms);
  h.observe(20s);
  auto text = render_prometheus(MetricsSnapshot{c, h, 4, 1, true});
  CHECK(text.find("# TYPE kiosk_presses_stored_total counter\nkiosk_presses_stored_total 7\n") != std::string::npos);
  CHECK(text.find("kiosk_presses_duplicate_total 2\n") != std::string::npos);
  CHECK(text.find("kiosk_acks_sent_total 5\n") != std::string::npos);
  CHECK(text.find("kiosk_rejected_total{reason=\"bad_json\"} 3\n") != std::string::npos);
  CHECK(text.find("kiosk_rejected_total{reason=\"unknown_device\"} 1\n") != std::string::npos);
  CHECK(text.find("kiosk_ingest_latency_seconds_bucket{le=\"0.0005\"} 1\n") != std::string::npos);
  CHECK(text.find("kiosk_ingest_latency_seconds_bucket{le=\"0.005\"} 2\n") != std::string::npos);
  CHECK(text.find("kiosk_ingest_latency_seconds_bucket{le=\"10\"} 2\n") != std::string::npos);
  CHECK(text.find("kiosk_ingest_latency_seconds_bucket{le=\"+Inf\"} 3\n") != std::string::npos);
  CHECK(text.find("kiosk_ingest_latency_seconds_count 3\n") != std::string::npos);
  CHECK(text.find("kiosk_devices_online 4\n") != std::string::npos);
  CHECK(text.find("kiosk_broker_connected 1\n") != std::string::npos);
  CHECK(text.find("kiosk_commit_errors_total 0\n") != std::string::npos);
}

TEST_CASE("latency quantiles come from the histogram buckets") {
  LatencyHistogram h;
  for (int i = 0; i < 99; ++i) h.observe(800us);
  h.observe(200ms);
  CHECK(h.quantile(0.5) == Approx(0.001));
  CHECK(h.quantile(1.0) == Approx(0.25));
}
