// The press pipeline with a manual clock and a fake store: timestamps, batching, acks after commit.
#include <catch2/catch.hpp>

#include <map>
#include <set>
#include <tuple>

#include "kiosk/hub/ingest.hpp"
#include "kiosk/protocol/messages.hpp"

using namespace kiosk::hub;
using namespace std::chrono_literals;

namespace {

struct FakePorts : IngestPorts {
  std::map<std::string, DeviceLookup> devices;
  std::set<std::pair<std::string, std::uint64_t>> stored;
  std::vector<std::vector<PressRecord>> commits;
  std::optional<std::string> fail_commit;
  std::vector<std::pair<std::string, std::string>> acks;  // device, payload
  std::vector<std::pair<std::string, std::string>> rejects;  // device, reason
  std::vector<std::string> events;  // order of commit / ack
  std::size_t acknowledged_count = 0;

  DeviceLookup lookup(const std::string& device) override {
    auto it = devices.find(device);
    return it == devices.end() ? DeviceLookup{Standing::unknown, {}} : it->second;
  }
  std::optional<std::string> commit_presses(const std::vector<PressRecord>& rows,
                                            std::vector<PressOutcome>& outcomes) override {
    events.push_back("commit");
    if (fail_commit) return fail_commit;
    commits.push_back(rows);
    outcomes.clear();
    for (const auto& r : rows)
      outcomes.push_back({stored.insert({r.device, r.seq}).second ? PressFate::stored : PressFate::duplicate});
    return std::nullopt;
  }
  bool publish_ack(const std::string& device, const std::string& payload) override {
    events.push_back("ack");
    acks.emplace_back(device, payload);
    return true;
  }
  void rejected(const std::string& device, const std::string& reason, const std::string&,
                kiosk::protocol::WallTime) override {
    rejects.emplace_back(device, reason);
  }
  void acknowledged(const PressRecord&, bool, bool) override { ++acknowledged_count; }
  void commit_failed(const std::string&, std::size_t) override {}
  void seq_conflict(const std::string&, const std::string&) override {}
};

std::string press(int seq, int rating = 1, int age_ms = 0) {
  return R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":)" + std::to_string(rating) +
         R"(,"scale":4,"age_ms":)" + std::to_string(age_ms) + "}";
}

struct Fixture {
  FakePorts ports;
  ManualClock clock;
  HubCounters counters;
  LatencyHistogram latency;
  Ingest ingest{ports, clock, counters, latency, IngestSettings{4}};
  Fixture() {
    ports.devices["d1"] = {Standing::known, "front-desk"};
    ports.devices["d2"] = {Standing::known, "bar"};
    ports.devices["old"] = {Standing::retired, "bar"};
  }
  Received now() const { return Received{clock.steady_now(), clock.wall_now()}; }
};

}  // namespace

TEST_CASE("a press is timestamped at hub receive time minus its age and placed at its device's location") {
  Fixture f;
  auto received = f.now();
  CHECK(f.ingest.on_press("d1", press(7, 2, 1500), received) == Ingest::Next::arm_timer);
  f.ingest.flush();
  REQUIRE(f.ports.commits.size() == 1);
  const auto& row = f.ports.commits[0][0];
  CHECK(row.device == "d1");
  CHECK(row.seq == 7);
  CHECK(row.location == "front-desk");
  CHECK(row.rating == 2);
  CHECK(row.received_at_ms == to_ms(received.wall));
  CHECK(row.pressed_at_ms == to_ms(received.wall) - 1500);
}

TEST_CASE("an ack is published only after the batch is committed, one per device with all its seqs") {
  Fixture f;
  CHECK(f.ingest.on_press("d1", press(1), f.now()) == Ingest::Next::arm_timer);
  CHECK(f.ingest.on_press("d2", press(9), f.now()) == Ingest::Next::nothing);
  CHECK(f.ingest.on_press("d1", press(2), f.now()) == Ingest::Next::nothing);
  CHECK(f.ports.acks.empty());
  f.clock.advance(2ms);
  f.ingest.flush();
  CHECK(f.ports.events == std::vector<std::string>{"commit", "ack", "ack"});
  REQUIRE(f.ports.acks.size() == 2);
  CHECK(f.ports.acks[0] == std::make_pair(std::string("d1"), std::string(R"({"seqs":[1,2]})")));
  CHECK(f.ports.acks[1] == std::make_pair(std::string("d2"), std::string(R"({"seqs":[9]})")));
  CHECK(f.counters.presses_stored == 3);
  CHECK(f.counters.acks_sent == 2);
  CHECK(f.latency.count() == 3);
  CHECK(f.latency.sum_seconds() == Approx(0.006));
  CHECK(f.ingest.pending() == 0);
}

TEST_CASE("a full batch asks to be committed at once") {
  Fixture f;
  for (int seq = 1; seq <= 3; ++seq) CHECK(f.ingest.on_press("d1", press(seq), f.now()) != Ingest::Next::flush_now);
  CHECK(f.ingest.on_press("d1", press(4), f.now()) == Ingest::Next::flush_now);
}

TEST_CASE("a duplicate press is stored once and acknowledged again") {
  Fixture f;
  f.ingest.on_press("d1", press(5), f.now());
  f.ingest.flush();
  f.ingest.on_press("d1", press(5), f.now());
  f.ingest.on_press("d1", press(5), f.now());
  f.ingest.flush();
  CHECK(f.counters.presses_stored == 1);
  CHECK(f.counters.duplicates == 2);
  REQUIRE(f.ports.acks.size() == 2);
  CHECK(f.ports.acks[1].second == R"({"seqs":[5]})");
}

TEST_CASE("a failed commit acknowledges nothing and is counted") {
  Fixture f;
  f.ports.fail_commit = "disk I/O error";
  f.ingest.on_press("d1", press(1), f.now());
  f.ingest.flush();
  CHECK(f.ports.acks.empty());
  CHECK(f.counters.commit_errors == 1);
  CHECK(f.ingest.pending() == 0);
  f.ports.fail_commit.reset();
  f.ingest.on_press("d1", press(1), f.now());
  f.ingest.flush();
  CHECK(f.ports.acks.size() == 1);
}

TEST_CASE("presses from unknown or retired devices are rejected, not stored and not acknowledged") {
  Fixture f;
  CHECK(f.ingest.on_press("stranger", press(1), f.now()) == Ingest::Next::nothing);
  CHECK(f.ingest.on_press("old", press(1), f.now()) == Ingest::Next::nothing);
  f.ingest.flush();
  CHECK(f.ports.commits.empty());
  CHECK(f.ports.acks.empty());
  CHECK(f.counters.rejected["unknown_device"] == 1);
  CHECK(f.counters.rejected["retired_device"] == 1);
  CHECK(f.ports.rejects.size() == 2);
}

TEST_CASE("invalid presses are rejected with the reason that fits") {
  Fixture f;
  auto reason_of = [&](const std::string& payload) {
    f.ports.rejects.clear();
    f.ingest.on_press("d1", payload, f.now());
    return f.ports.rejects.empty() ? std::string("accepted") : f.ports.rejects.back().second;
  };
  CHECK(reason_of("{\"seq\":1,") == "bad_json");
  CHECK(reason_of("not json") == "bad_json");
  CHECK(reason_of("[1,2]") == "wrong_type");
  CHECK(reason_of(R"({"seq":"1","button":0,"rating":1,"scale":4,"age_ms":0})") == "wrong_type");
  CHECK(reason_of(R"({"seq":1.5,"button":0,"rating":1,"scale":4,"age_ms":0})") == "wrong_type");
  CHECK(reason_of(R"({"seq":1,"button":0,"scale":4,"age_ms":0})") == "missing_field");
  CHECK(reason_of(R"({"seq":1,"button":0,"rating":5,"scale":4,"age_ms":0})") == "out_of_range");
  CHECK(reason_of(R"({"seq":0,"button":0,"rating":1,"scale":4,"age_ms":0})") == "out_of_range");
  CHECK(reason_of(R"({"seq":1,"button":0,"rating":1,"scale":4,"age_ms":0,"pad":")" + std::string(2000, 'x') +
                  "\"}") == "oversize");
  CHECK(reason_of(press(3)) == "accepted");
  CHECK(f.ingest.pending() == 1);
}

TEST_CASE("a long backlog from one device is acknowledged in acks of at most 256 seqs") {
  FakePorts ports;
  ports.devices["d1"] = {Standing::known, "desk"};
  ManualClock clock;
  HubCounters counters;
  LatencyHistogram latency;
  Ingest ingest{ports, clock, counters, latency, IngestSettings{1000}};
  for (int seq = 1; seq <= 600; ++seq) ingest.on_press("d1", press(seq), Received{clock.steady_now(), clock.wall_now()});
  ingest.flush();
  REQUIRE(ports.acks.size() == 3);
  std::size_t total = 0;
  for (const auto& [device, payload] : ports.acks) {
    auto ack = kiosk::protocol::parse_ack(payload);
    REQUIRE(ack);
    CHECK(ack->seqs.size() <= kMaxSeqsPerAck);
    total += ack->seqs.size();
  }
  CHECK(total == 600);
  CHECK(counters.acks_sent == 3);
}

namespace {

// Ports whose store tells a re-send from a different press under the same seq, as SqliteStore does.
struct SeqConflictPorts : FakePorts {
  std::map<std::pair<std::string, std::uint64_t>, int> ratings;  // (device, seq) -> stored rating
  std::set<std::tuple<std::string, std::uint64_t, int>> conflicts;
  std::vector<std::pair<std::string, bool>> fed;  // device, inserted (fed to detection and the live feed)
  std::vector<std::string> warnings;

  std::optional<std::string> commit_presses(const std::vector<PressRecord>& rows,
                                            std::vector<PressOutcome>& outcomes) override {
    outcomes.clear();
    for (const auto& r : rows) {
      auto [it, fresh] = ratings.try_emplace({r.device, r.seq}, r.rating);
      if (fresh || it->second == r.rating || !conflicts.insert({r.device, r.seq, r.rating}).second)
        outcomes.push_back({fresh ? PressFate::stored : PressFate::duplicate});
      else
        outcomes.push_back({PressFate::conflict, r.button, it->second, r.scale});
    }
    return std::nullopt;
  }
  void acknowledged(const PressRecord& row, bool inserted, bool) override { fed.emplace_back(row.device, inserted); }
  void seq_conflict(const std::string&, const std::string& detail) override { warnings.push_back(detail); }
};

struct SeqConflictFixture {
  SeqConflictPorts ports;
  ManualClock clock;
  HubCounters counters;
  LatencyHistogram latency;
  Ingest ingest{ports, clock, counters, latency, IngestSettings{16}};
  SeqConflictFixture() {
    ports.devices["d1"] = {Standing::known, "front-desk"};
    ports.devices["d2"] = {Standing::known, "bar"};
  }
  void send(const std::string& device, int seq, int rating) {
    ingest.on_press(device, press(seq, rating), Received{clock.steady_now(), clock.wall_now()});
    ingest.flush();
  }
};

}  // namespace

TEST_CASE("a different press under a used seq is counted as a conflict, acknowledged and fed like a new press") {
  SeqConflictFixture f;
  f.send("d1", 1, 1);
  f.send("d1", 1, 4);  // the terminal's outbox was reset: seq 1 again, another guest
  f.send("d1", 1, 4);  // its re-send
  CHECK(f.counters.presses_stored == 1);
  CHECK(f.counters.seq_conflicts == 1);
  CHECK(f.counters.duplicates == 1);
  // Acknowledged each time, or the terminal would re-send it forever.
  REQUIRE(f.ports.acks.size() == 3);
  for (const auto& [device, payload] : f.ports.acks) CHECK(payload == R"({"seqs":[1]})");
  CHECK(f.ports.fed == std::vector<std::pair<std::string, bool>>{{"d1", true}, {"d1", true}, {"d1", false}});
  REQUIRE(f.ports.warnings.size() == 1);
  const auto& w = f.ports.warnings[0];
  CHECK_THAT(w, Catch::Contains("device d1 re-used seq 1"));
  CHECK_THAT(w, Catch::Contains("stored button 0 rating 1/4, received button 0 rating 4/4"));
  CHECK_THAT(w, Catch::Contains("outbox was likely reset (re-flashed SD card, or a replacement terminal"));
  CHECK_THAT(w, Catch::Contains("check the terminal's clock, or give a replacement its own id"));
  CHECK_THAT(w, Catch::Contains("kept in press_conflicts"));
}

TEST_CASE("seq conflicts are warned about at most once per device per hour, with how many went unsaid") {
  SeqConflictFixture f;
  for (int seq = 1; seq <= 5; ++seq) f.send("d1", seq, 1);
  f.send("d2", 1, 1);
  f.send("d1", 1, 2);
  f.send("d1", 2, 2);
  f.send("d1", 3, 2);
  CHECK(f.ports.warnings.size() == 1);
  f.send("d2", 1, 3);  // another device: its own warning
  REQUIRE(f.ports.warnings.size() == 2);
  CHECK_THAT(f.ports.warnings[1], Catch::Contains("device d2 re-used seq 1"));
  f.clock.advance(59min);
  f.send("d1", 4, 2);
  CHECK(f.ports.warnings.size() == 2);
  f.clock.advance(1min);
  f.send("d1", 5, 2);
  REQUIRE(f.ports.warnings.size() == 3);
  CHECK_THAT(f.ports.warnings[2], Catch::Contains("device d1 re-used seq 5"));
  CHECK_THAT(f.ports.warnings[2], Catch::Contains("(3 more conflicting presses from it since the last warning)"));
  CHECK(f.counters.seq_conflicts == 6);
}
