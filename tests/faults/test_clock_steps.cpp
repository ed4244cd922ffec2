// The hub's wall clock stepping back or forward (NTP on a board without RTC, a manual fix): ingest
// order, acks and commit latency must not care, and detection windows must not jump with it.
#include <catch2/catch.hpp>

#include <atomic>
#include <thread>

#include <boost/asio/post.hpp>

#include "kiosk/hub/alert_service.hpp"
#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk/hub/hub.hpp"
#include "kiosk/hub/ingest.hpp"
#include "in_process_hub.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::hub;
using namespace kiosk::test;

namespace {

// Wall and steady time move independently: a step changes the wall clock only.
class SteppingClock final : public Clock {
 public:
  kiosk::protocol::WallTime wall_now() const override {
    auto real = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    return manual_ ? wall_ : real + std::chrono::milliseconds(offset_ms_.load());
  }
  SteadyTime steady_now() const override { return manual_ ? steady_ : std::chrono::steady_clock::now(); }
  void step_wall(std::chrono::milliseconds d) {
    offset_ms_ += d.count();
    wall_ += d;
  }
  // Manual mode for unit tests: both clocks stand still unless moved.
  void manual(kiosk::protocol::WallTime wall) {
    manual_ = true;
    wall_ = wall;
  }
  void advance(std::chrono::milliseconds d) {
    wall_ += d;
    steady_ += d;
  }

 private:
  std::atomic<std::int64_t> offset_ms_{0};
  bool manual_ = false;
  kiosk::protocol::WallTime wall_{};
  SteadyTime steady_{};
};

struct RecordingPorts : IngestPorts {
  std::vector<PressRecord> committed;
  std::vector<std::string> acks;
  DeviceLookup lookup(const std::string&) override { return {Standing::known, "lab"}; }
  std::optional<std::string> commit_presses(const std::vector<PressRecord>& rows,
                                            std::vector<PressOutcome>& outcomes) override {
    committed.insert(committed.end(), rows.begin(), rows.end());
    outcomes.assign(rows.size(), PressOutcome{});
    return std::nullopt;
  }
  bool publish_ack(const std::string&, const std::string& payload) override {
    acks.push_back(payload);
    return true;
  }
  void rejected(const std::string&, const std::string&, const std::string&, kiosk::protocol::WallTime) override {}
  void acknowledged(const PressRecord&, bool, bool) override {}
  void commit_failed(const std::string&, std::size_t) override {}
  void seq_conflict(const std::string&, const std::string&) override {}
};

std::string a_press(int seq, int rating, int age_ms = 0) {
  return R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":)" + std::to_string(rating) +
         R"(,"scale":4,"age_ms":)" + std::to_string(age_ms) + "}";
}
std::string bad_press(int seq, int age_ms = 0) { return a_press(seq, 1, age_ms); }

// An in-process hub (with its alert service) on a real broker, its wall clock under the test's control.
struct LiveHub {
  LiveHub() {
    broker.start();
    // A burst from several terminals: several guests, not one.
    hub = std::make_unique<Hub>(io, in_process_hub_config(broker, dir, "d:8:lab"), clock, log, make_open_accounts(io));
    alerts = std::make_unique<AlertService>(*hub, AlertConfig{});
    hub->start();
    thread = std::thread([this] { io.run(); });
    manager.connect();
    REQUIRE(manager.subscribe("kiosk/v1/s1/alert/#", 1) == 1);
    REQUIRE(manager.subscribe("kiosk/v1/s1/hub/status", 1) == 1);
    // The hub announces itself once subscribed: presses sent before that would reach nobody.
    REQUIRE(manager.wait_for([](const Message& m) { return m.payload.find("online") != std::string::npos; }, 10s));
    device.connect();
  }
  ~LiveHub() {
    boost::asio::post(io, [this] {
      alerts->stop();
      hub->shutdown();
      io.stop();
    });
    thread.join();
  }
  // Consecutive presses come from different terminals (d-0 .. d-7): one guest pressing again at
  // one terminal within seconds is not a second opinion.
  void press(int seq, int rating = 1) {
    REQUIRE(device.publish("kiosk/v1/s1/device/d-" + std::to_string(seq % 8) + "/press", a_press(seq, rating), 1));
  }
  // Ordinary traffic first, so the burst that follows stands out against the usual share.
  void usual_traffic(int presses) {
    for (int seq = 1; seq <= presses; ++seq) press(seq, 4);
  }
  std::optional<Message> alert_in_state(const std::string& state, std::chrono::milliseconds timeout) {
    return manager.wait_for(
        [&](const Message& m) { return m.payload.find("\"state\":\"" + state + "\"") != std::string::npos; },
        timeout);
  }

  TempDir dir;
  Broker broker;
  boost::asio::io_context io{1};
  SteppingClock clock;
  Log log{LogLevel::warn};
  std::unique_ptr<Hub> hub;
  std::unique_ptr<AlertService> alerts;
  std::thread thread;
  MqttProbe manager{broker.url()};
  MqttProbe device{broker.url(), MqttProbe::Options{"d-0", {}, {}}};
};

}  // namespace

TEST_CASE("a wall clock step back or forward keeps presses in arrival order, acks them and does not skew "
          "commit latency") {
  RecordingPorts ports;
  SteppingClock clock;
  clock.manual(kiosk::protocol::WallTime{std::chrono::milliseconds{1'800'000'000'000}});
  HubCounters counters;
  LatencyHistogram latency;
  Ingest ingest(ports, clock, counters, latency, IngestSettings{});
  auto receive = [&](int seq) { ingest.on_press("d-0", bad_press(seq, 100), Received{clock.steady_now(), clock.wall_now()}); };

  receive(1);
  clock.step_wall(-std::chrono::hours(1));
  clock.advance(std::chrono::milliseconds(2));
  receive(2);
  clock.step_wall(std::chrono::hours(2));
  clock.advance(std::chrono::milliseconds(2));
  receive(3);
  clock.advance(std::chrono::milliseconds(2));
  ingest.flush();

  REQUIRE(ports.committed.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(ports.committed[static_cast<std::size_t>(i)].seq == static_cast<std::uint64_t>(i + 1));
  REQUIRE(ports.acks.size() == 1);
  CHECK(ports.acks[0] == R"({"seqs":[1,2,3]})");
  // Latency is measured on the steady clock: at most 6 ms here, whatever the wall clock did.
  CHECK(latency.count() == 3);
  CHECK(latency.quantile(1.0) <= 0.01);
  // Stored times follow the wall clock at receipt minus the device's age (what the venue reads).
  CHECK(ports.committed[1].pressed_at_ms - ports.committed[0].pressed_at_ms == -3'600'000 + 2);
  CHECK(ports.committed[2].pressed_at_ms - ports.committed[1].pressed_at_ms == 7'200'000 + 2);
}

TEST_CASE("bad presses right after the hub's wall clock steps back an hour still open an alert",
          "[integration][faults][clock]") {
  LiveHub live;
  live.usual_traffic(15);
  live.press(16);
  live.press(17);
  live.clock.step_wall(-std::chrono::hours(1));
  for (int seq = 18; seq <= 21; ++seq) live.press(seq);
  CHECK(live.alert_in_state("open", 5s));

}

TEST_CASE("an incident in progress stays open when the hub's wall clock steps forward an hour",
          "[integration][faults][clock]") {
  // The detectors run on the hub's timeline (wall time at start, then the monotonic clock): were
  // they fed wall time, the step would age the incident's presses out of the window at once.
  LiveHub live;
  live.usual_traffic(15);
  for (int seq = 16; seq <= 21; ++seq) live.press(seq);
  REQUIRE(live.alert_in_state("open", 5s));
  live.clock.step_wall(std::chrono::hours(1));
  live.press(22);
  // Several ticks (1 s each) pass: a still-bad location must not be declared back to normal.
  CHECK_FALSE(live.alert_in_state("resolved", 4s));
}

TEST_CASE("the hub's timeline ignores wall clock steps and says how far the wall clock has moved") {
  ManualClock clock;
  const auto start = clock.wall_now();
  Timeline timeline(clock);
  clock.advance(std::chrono::seconds(30));
  CHECK(timeline.now() == start + std::chrono::seconds(30));
  CHECK(timeline.offset().count() == 0);

  clock.step_wall(std::chrono::hours(1));
  clock.advance(std::chrono::seconds(5));
  CHECK(timeline.now() == start + std::chrono::seconds(35));  // durations stay true
  CHECK(timeline.offset() == std::chrono::hours(1));        // times shown to people move with the wall

  clock.step_wall(-std::chrono::hours(3));
  CHECK(timeline.now() == start + std::chrono::seconds(35));
  CHECK(timeline.offset() == -std::chrono::hours(2));

  // A millisecond between reading the two clocks is no step: the same alert keeps its times.
  clock.step_wall(std::chrono::milliseconds(1));
  CHECK(timeline.offset() == -std::chrono::hours(2));
  clock.step_wall(std::chrono::milliseconds(-2));
  CHECK(timeline.offset() == -std::chrono::hours(2));
}
