// Hostile input against a running kiosk-hub: it keeps serving, stores nothing wrong and counts
// every rejection by reason in /metrics.
#include <catch2/catch.hpp>

#include <set>

#include <boost/json.hpp>

#include "hub_client.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
namespace json = boost::json;

namespace {

std::string press(std::uint64_t seq, std::string age = "0", int rating = 2) {
  return R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":)" + std::to_string(rating) +
         R"(,"scale":4,"age_ms":)" + age + "}";
}

// A broker without accounts (anyone may publish anything: the worst case for the hub), the hub,
// an attacker connected to the broker, and two registered devices.
struct Venue {
  // mosquitto drops QoS 1 messages for a subscriber more than max_queued_messages (default 1000)
  // behind; a burst must test the hub, not that limit (tools/mosquitto raises it the same way).
  Broker broker{Broker::Options{.dynsec = false, .admin_user = "", .admin_password = "",
                                .extra_config = "max_queued_messages 100000\n"}};
  TempDir dir;
  HubChild hub{broker, dir.path(), HubChild::Options{.site = "venue", .extra_args = {"--batch-window-us", "1000"}}};
  std::unique_ptr<kiosk::ctl::HubClient> api;
  MqttProbe attacker{broker.url()};

  Venue() {
    REQUIRE(hub.start());
    api = std::make_unique<kiosk::ctl::HubClient>(*kiosk::ctl::HubUrl::parse(hub.url()), hub.token());
    REQUIRE(wait_until([&] { return api->get("/health").status == 200; }, 10s));
    for (const auto* id : {"desk-1", "desk-2"}) {
      auto r = api->post("/api/devices", json::serialize(json::object{{"id", id}, {"location", "lobby"}}));
      REQUIRE(r.status == 201);
    }
    attacker.connect();
    REQUIRE(attacker.subscribe("kiosk/v1/venue/device/+/ack") == 1);
  }

  std::string topic(const std::string& device, const std::string& kind = "press") const {
    return "kiosk/v1/venue/device/" + device + "/" + kind;
  }

  void send(const std::string& device, const std::string& payload) { REQUIRE(attacker.publish(topic(device), payload, 1)); }

  // A valid press acknowledged by the hub: everything sent before it on this connection was handled.
  void settle(const std::string& device, std::uint64_t seq) {
    send(device, press(seq));
    auto ack = attacker.wait_for(
        [&](const Message& m) {
          if (m.topic != topic(device, "ack")) return false;
          auto v = json::parse(m.payload);
          for (const auto& s : v.at("seqs").as_array()) {
            if (s.to_number<std::uint64_t>() == seq) return true;
          }
          return false;
        },
        10s);
    REQUIRE(ack);
  }

  // kiosk_rejected_total{reason="<reason>"} from /metrics (0 when absent).
  std::uint64_t rejected(const std::string& reason) { return metric("kiosk_rejected_total{reason=\"" + reason + "\"}"); }

  std::uint64_t metric(const std::string& name) {
    auto r = api->get("/metrics");
    REQUIRE(r.status == 200);
    auto at = r.body.find("\n" + name + " ");
    if (at == std::string::npos) return 0;
    return std::stoull(r.body.substr(at + name.size() + 2));
  }

  json::array presses(const std::string& device) {
    auto r = api->get("/api/presses?device=" + device + "&limit=10000");
    REQUIRE(r.status == 200);
    return json::parse(r.body).as_array();
  }

  void still_serving() {
    CHECK(hub.running());
    CHECK(api->get("/health").status == 200);
  }
};

}  // namespace

TEST_CASE("bad JSON, wrong types and missing fields are rejected by reason and nothing is stored", "[integration]") {
  Venue v;
  v.send("desk-1", "not json at all");
  v.send("desk-1", "{\"seq\":1,");
  v.send("desk-1", "");
  v.send("desk-1", "[1,2,3]");
  v.send("desk-1", "42");
  v.send("desk-1", R"({"seq":"7","button":0,"rating":2,"scale":4,"age_ms":0})");
  v.send("desk-1", R"({"seq":7,"button":0,"rating":[2],"scale":4,"age_ms":0})");
  v.send("desk-1", R"({"seq":7,"button":0,"rating":2,"scale":4})");
  v.send("desk-1", R"({"button":0,"rating":2,"scale":4,"age_ms":0})");
  v.settle("desk-1", 1);
  CHECK(v.rejected("bad_json") == 3);
  CHECK(v.rejected("wrong_type") == 4);
  CHECK(v.rejected("missing_field") == 2);
  auto stored = v.presses("desk-1");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].at("seq") == 1);
  v.still_serving();
}

TEST_CASE("out-of-range values, negative and absurd age_ms are rejected and a 10-year age is the limit", "[integration]") {
  Venue v;
  v.send("desk-1", press(0));               // seq must be >= 1
  v.send("desk-1", press(2, "0", 9));       // rating above the scale
  v.send("desk-1", press(3, "0", 0));       // rating below 1
  v.send("desk-1", press(4, "-5"));         // negative age
  v.send("desk-1", press(5, "315360000001")); // over 3650 days
  v.send("desk-1", press(6, "18446744073709551615"));
  v.send("desk-1", press(7, "1e30"));
  v.send("desk-1", press(8, "1.5"));
  v.settle("desk-1", 9);
  const auto total = v.rejected("out_of_range") + v.rejected("wrong_type");
  CHECK(total == 8);
  CHECK(v.rejected("out_of_range") >= 5);
  auto stored = v.presses("desk-1");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].at("seq") == 9);

  // The oldest acceptable press is stored at (about) 10 years ago, never at the epoch.
  v.settle("desk-1", 10);
  v.send("desk-1", press(11, "315360000000"));
  v.settle("desk-1", 12);
  std::set<std::uint64_t> seqs;
  for (const auto& p : v.presses("desk-1")) {
    seqs.insert(p.at("seq").to_number<std::uint64_t>());
    CHECK(std::string(p.at("pressed_at").as_string()) > "2000-01-01");
  }
  CHECK(seqs == std::set<std::uint64_t>{9, 10, 11, 12});
  v.still_serving();
}

TEST_CASE("oversized payloads are rejected before parsing, up to a megabyte", "[integration]") {
  Venue v;
  const std::string padding(2000, ' ');
  v.send("desk-1", R"({"seq":1,"button":0,"rating":2,"scale":4,"age_ms":0,"x":")" + std::string(2000, 'a') + "\"}");
  v.send("desk-1", press(2) + padding);
  v.send("desk-1", std::string(1024 * 1024, '['));
  v.send("desk-1", "{\"a\":" + std::string(200000, '[') + std::string(200000, ']') + "}");
  v.settle("desk-1", 3);
  CHECK(v.rejected("oversize") == 4);
  auto stored = v.presses("desk-1");
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].at("seq") == 3);
  v.still_serving();
}

TEST_CASE("a replayed sequence number is stored once and acknowledged every time", "[integration]") {
  Venue v;
  v.settle("desk-1", 5);
  v.settle("desk-1", 5);
  v.settle("desk-1", 5);
  // A replay with different content does not overwrite the stored press; it is kept apart as a
  // seq conflict.
  v.send("desk-1", press(5, "0", 4));
  v.settle("desk-1", 6);
  auto stored = v.presses("desk-1");
  REQUIRE(stored.size() == 2);
  for (const auto& p : stored) {
    if (p.at("seq") == 5) CHECK(p.at("rating") == 2);
  }
  CHECK(v.metric("kiosk_presses_duplicate_total") == 2);
  CHECK(v.metric("kiosk_presses_seq_conflicts_total") == 1);
  CHECK(v.metric("kiosk_presses_stored_total") == 2);
  v.still_serving();
}

TEST_CASE("presses from unknown or retired devices and on bad topics are counted, not stored", "[integration]") {
  Venue v;
  v.send("ghost", press(1));
  REQUIRE(v.api->post("/api/devices/desk-2/retire", "{}").status == 200);
  v.send("desk-2", press(1));
  REQUIRE(v.attacker.publish("kiosk/v1/venue/device/Not_An_Id/press", press(1), 1));
  REQUIRE(v.attacker.publish("kiosk/v1/venue/device/desk-1/press/extra", press(1), 1));
  v.settle("desk-1", 1);
  CHECK(v.rejected("unknown_device") == 1);
  CHECK(v.rejected("retired_device") == 1);
  CHECK(v.rejected("bad_topic") >= 1);
  CHECK(v.presses("ghost").empty());
  CHECK(v.presses("desk-2").empty());
  CHECK(v.presses("desk-1").size() == 1);
  const auto unknown = json::parse(v.api->get("/api/unknown-devices").body).as_array();
  bool listed = false;
  for (const auto& u : unknown) listed = listed || u.at("device") == "ghost";
  CHECK(listed);
  v.still_serving();
}

TEST_CASE("a burst of 2000 presses from one device is stored exactly once each while the hub keeps serving", "[integration]") {
  Venue v;
  constexpr std::uint64_t kBurst = 2000;
  for (std::uint64_t seq = 1; seq <= kBurst; ++seq) v.send("desk-1", press(seq));
  // Some replays mixed in, as a device re-sending after a reconnect would.
  for (std::uint64_t seq = 1; seq <= 100; ++seq) v.send("desk-1", press(seq));
  v.still_serving();
  std::set<std::uint64_t> acked;
  const bool all_acked = wait_until(
      [&] {
        acked.clear();
        for (const auto& m : v.attacker.messages()) {
          if (m.topic != v.topic("desk-1", "ack")) continue;
          const auto ack = json::parse(m.payload);  // named: a temporary would die before the loop body
          for (const auto& s : ack.at("seqs").as_array()) acked.insert(s.to_number<std::uint64_t>());
        }
        return acked.size() == kBurst;
      },
      30s, 50ms);
  INFO("acked " << acked.size() << "; hub counters " << v.api->get("/api/counters").body);
  INFO("broker log: " << v.broker.log());
  INFO("hub log: " << v.hub.log().substr(0, 4000));
  REQUIRE(all_acked);
  auto stored = v.presses("desk-1");
  CHECK(stored.size() == kBurst);
  std::set<std::uint64_t> seqs;
  for (const auto& p : stored) seqs.insert(p.at("seq").to_number<std::uint64_t>());
  CHECK(seqs.size() == kBurst);
  CHECK(*seqs.begin() == 1);
  CHECK(*seqs.rbegin() == kBurst);
  const bool all_duplicates = wait_until([&] { return v.metric("kiosk_presses_duplicate_total") == 100; }, 10s);
  INFO("duplicates " << v.metric("kiosk_presses_duplicate_total") << ", rejected " << v.api->get("/api/counters").body);
  INFO(v.broker.log().substr(v.broker.log().size() > 3000 ? v.broker.log().size() - 3000 : 0));
  CHECK(all_duplicates);
  CHECK(v.metric("kiosk_presses_stored_total") == kBurst);
  v.still_serving();
}
