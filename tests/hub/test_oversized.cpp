// Messages over the hub's 1 MiB MQTT limit: rejected as oversize with their real size and topic
// (never parsed cut short), acknowledged to the broker once, and the hub keeps serving.
#include <catch2/catch.hpp>

#include <set>

#include <boost/json.hpp>

#include "hub_under_test.hpp"
#include "kiosk/hub/ingest.hpp"
#include "kiosk/hub/mqtt_link.hpp"

using namespace kiosk::test;
namespace hub = kiosk::hub;
namespace json = boost::json;

namespace {

struct RecordingPorts : hub::IngestPorts {
  struct Reject {
    std::string device, reason, detail;
  };
  std::vector<Reject> rejects;
  hub::DeviceLookup lookup(const std::string&) override { return {hub::Standing::known, "desk"}; }
  std::optional<std::string> commit_presses(const std::vector<hub::PressRecord>& rows,
                                            std::vector<hub::PressOutcome>& outcomes) override {
    outcomes.assign(rows.size(), hub::PressOutcome{});
    return std::nullopt;
  }
  bool publish_ack(const std::string&, const std::string&) override { return true; }
  void rejected(const std::string& device, const std::string& reason, const std::string& detail,
                kiosk::protocol::WallTime) override {
    rejects.push_back({device, reason, detail});
  }
  void acknowledged(const hub::PressRecord&, bool, bool) override {}
  void commit_failed(const std::string&, std::size_t) override {}
  void seq_conflict(const std::string&, const std::string&) override {}
};

std::string press(std::uint64_t seq) {
  return R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":1,"scale":4,"age_ms":0})";
}

double metric(const std::string& text, const std::string& line_prefix) {
  auto pos = text.find("\n" + line_prefix + " ");
  if (pos == std::string::npos) return 0;
  return std::stod(text.substr(pos + line_prefix.size() + 2));
}

std::set<std::uint64_t> acked_seqs(const MqttProbe& probe, const std::string& ack_topic) {
  std::set<std::uint64_t> out;
  for (const auto& m : probe.messages()) {
    if (m.topic != ack_topic) continue;
    const json::value ack = json::parse(m.payload);
    for (const auto& s : ack.at("seqs").as_array()) out.insert(s.to_number<std::uint64_t>());
  }
  return out;
}

}  // namespace

TEST_CASE("the hub rejects an oversized message as oversize with its size, topic and the limit in words") {
  RecordingPorts ports;
  hub::ManualClock clock;
  hub::HubCounters counters;
  hub::LatencyHistogram latency;
  hub::Ingest ingest(ports, clock, counters, latency, hub::IngestSettings{});
  ingest.on_oversized("desk-1", "kiosk/v1/venue/device/desk-1/press", 2'097'152, hub::MqttLink::kMaxMessageBytes,
                      hub::Received{clock.steady_now(), clock.wall_now()});
  CHECK(counters.rejected["oversize"] == 1);
  REQUIRE(ports.rejects.size() == 1);
  CHECK(ports.rejects[0].device == "desk-1");
  CHECK(ports.rejects[0].reason == "oversize");
  CHECK(ports.rejects[0].detail ==
        "payload of 2097152 bytes from topic kiosk/v1/venue/device/desk-1/press is over the 1 MiB message limit "
        "(acknowledged to the broker, not stored)");
  CHECK(ingest.pending() == 0);
}

TEST_CASE("the hub counts and logs presses and alert acks over 1 MiB as oversize with their size, and does not get "
          "them again after a restart",
          "[integration]") {
  Broker broker;
  TempDir dir;
  HubUnderTest hub_child{broker, dir.path()};
  hub_child.start_or_fail();
  hub_child.register_device("kiosk-1", "desk");
  MqttProbe device(broker.url());
  device.connect();
  const auto ack_topic = hub_child.topic("kiosk-1", "ack");
  device.subscribe(ack_topic);
  const auto press_topic = hub_child.topic("kiosk-1", "press");
  const auto alert_ack_topic = "kiosk/v1/" + hub_child.site() + "/alert/desk/ack";

  const std::size_t big = 2 * hub::MqttLink::kMaxMessageBytes;
  REQUIRE(device.publish(press_topic, press(1) + std::string(big - press(1).size(), ' ')));
  REQUIRE(device.publish(alert_ack_topic, std::string(big, '{')));
  REQUIRE(device.publish(press_topic, press(2)));
  REQUIRE(wait_until([&] { return acked_seqs(device, ack_topic).count(2) == 1; }, 10s));
  CHECK(acked_seqs(device, ack_topic) == std::set<std::uint64_t>{2});

  const std::string said = "payload of " + std::to_string(big) + " bytes from topic ";
  REQUIRE(wait_until([&] { return hub_child.log().find(said + alert_ack_topic) != std::string::npos; }, 10s));
  const auto log = hub_child.log();
  CHECK(log.find("rejected message from kiosk-1 (oversize): " + said + press_topic +
                 " is over the 1 MiB message limit") != std::string::npos);
  CHECK(log.find("bad_json") == std::string::npos);
  auto metrics = http_get(hub_child.port(), "/metrics").body;
  CHECK(metric(metrics, "kiosk_rejected_total{reason=\"oversize\"}") == 2);
  CHECK(metric(metrics, "kiosk_presses_stored_total") == 1);

  // Acknowledged to the broker: the hub's persistent session does not get them again.
  REQUIRE(hub_child.stop() == 0);
  hub_child.start_or_fail();
  REQUIRE(device.publish(press_topic, press(3)));
  REQUIRE(wait_until([&] { return acked_seqs(device, ack_topic).count(3) == 1; }, 10s));
  metrics = http_get(hub_child.port(), "/metrics").body;
  CHECK(metric(metrics, "kiosk_rejected_total{reason=\"oversize\"}") == 2);
  CHECK(hub_child.log().find("oversize") == std::string::npos);
}
