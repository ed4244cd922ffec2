// kiosk-hub end to end against a real mosquitto: MqttProbe plays the terminal, the HTTP API and the
// SQLite file (opened read-only) are the evidence.
#include <catch2/catch.hpp>

#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <csignal>
#include <set>

#include <boost/json.hpp>

#include "hub_under_test.hpp"
#include "kiosk/protocol/time.hpp"

using namespace kiosk::test;
namespace json = boost::json;

namespace {

std::string press(std::uint64_t seq, int rating = 1, std::uint64_t age_ms = 0) {
  return R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":)" + std::to_string(rating) +
         R"(,"scale":4,"age_ms":)" + std::to_string(age_ms) + "}";
}

// Every seq acknowledged to `device` so far.
std::set<std::uint64_t> acked_seqs(const MqttProbe& probe, const std::string& ack_topic) {
  std::set<std::uint64_t> out;
  for (const auto& m : probe.messages()) {
    if (m.topic != ack_topic) continue;
    auto v = json::parse(m.payload);
    for (const auto& s : v.at("seqs").as_array()) out.insert(s.to_number<std::uint64_t>());
  }
  return out;
}

std::size_t ack_count_for(const MqttProbe& probe, const std::string& ack_topic, std::uint64_t seq) {
  return probe.count([&](const Message& m) {
    if (m.topic != ack_topic) return false;
    // Keep the parsed value alive for the loop: a range-for does not extend a member's temporary.
    const json::value ack = json::parse(m.payload);
    for (const auto& s : ack.at("seqs").as_array())
      if (s.to_number<std::uint64_t>() == seq) return true;
    return false;
  });
}

// Rows in the presses table for (device, seq), read with SQLite directly (read-only).
std::map<std::uint64_t, int> stored_rows(const fs::path& db_path, const std::string& device) {
  std::map<std::uint64_t, int> out;
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(db_path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT seq, COUNT(*) FROM presses WHERE device = ? GROUP BY seq", -1, &s, nullptr) ==
          SQLITE_OK);
  sqlite3_bind_text(s, 1, device.c_str(), -1, SQLITE_TRANSIENT);
  while (sqlite3_step(s) == SQLITE_ROW)
    out[static_cast<std::uint64_t>(sqlite3_column_int64(s, 0))] = sqlite3_column_int(s, 1);
  sqlite3_finalize(s);
  sqlite3_close(db);
  return out;
}

double metric(const std::string& text, const std::string& line_prefix) {
  auto pos = text.find("\n" + line_prefix + " ");
  if (pos == std::string::npos) return -1;
  return std::stod(text.substr(pos + line_prefix.size() + 2));
}

struct Venue {
  Broker broker;
  TempDir dir;
  HubUnderTest hub{broker, dir.path()};
  MqttProbe device{broker.url()};
  Venue() {
    hub.start_or_fail();
    device.connect();
  }
};

}  // namespace

TEST_CASE("a press from a registered device is stored with its location and timestamp and acknowledged",
          "[integration]") {
  Venue v;
  v.hub.register_device("kiosk-1", "front-desk");
  auto ack_topic = v.hub.topic("kiosk-1", "ack");
  v.device.subscribe(ack_topic);
  auto before = std::chrono::system_clock::now();
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(42, 2, 4000)));
  auto ack = v.device.wait_for_topic(ack_topic, 10s);
  auto after = std::chrono::system_clock::now();
  REQUIRE(ack);
  CHECK(ack->payload == R"({"seqs":[42]})");

  auto presses = v.hub.get_json("/api/presses?device=kiosk-1");
  REQUIRE(presses.as_array().size() == 1);
  const auto& p = presses.as_array()[0].as_object();
  CHECK(p.at("location").as_string() == "front-desk");
  CHECK(p.at("seq").to_number<int>() == 42);
  CHECK(p.at("rating").to_number<int>() == 2);
  auto pressed = kiosk::protocol::parse_time(p.at("pressed_at").as_string());
  auto received = kiosk::protocol::parse_time(p.at("received_at").as_string());
  REQUIRE(pressed);
  REQUIRE(received);
  CHECK(*received - *pressed == std::chrono::milliseconds(4000));
  CHECK(*received >= std::chrono::time_point_cast<std::chrono::milliseconds>(before));
  CHECK(*received <= std::chrono::time_point_cast<std::chrono::milliseconds>(after) + 1ms);
  CHECK(stored_rows(v.hub.db_path(), "kiosk-1") == std::map<std::uint64_t, int>{{42, 1}});

  auto device = v.hub.get_json("/api/devices/kiosk-1").as_object();
  CHECK(device.at("last_press").as_string() == p.at("pressed_at").as_string());
}

TEST_CASE("a re-sent press is stored once and acknowledged again", "[integration]") {
  Venue v;
  v.hub.register_device("kiosk-1", "bar");
  auto ack_topic = v.hub.topic("kiosk-1", "ack");
  v.device.subscribe(ack_topic);
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(7)));
  REQUIRE(v.device.wait_for_topic(ack_topic, 10s));
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(7, 1, 900)));
  REQUIRE(v.device.wait_for_topic(ack_topic, 10s));
  CHECK(ack_count_for(v.device, ack_topic, 7) == 2);
  CHECK(stored_rows(v.hub.db_path(), "kiosk-1") == std::map<std::uint64_t, int>{{7, 1}});
  auto counters = v.hub.get_json("/api/counters").as_object();
  CHECK(counters.at("presses_stored").to_number<int>() == 1);
  CHECK(counters.at("duplicates").to_number<int>() == 1);
  auto metrics = http_get(v.hub.port(), "/metrics").body;
  CHECK(metric(metrics, "kiosk_presses_duplicate_total") == 1);
}

TEST_CASE("a press from an unknown device is not stored as a rating but listed as an unknown device",
          "[integration]") {
  Venue v;
  v.hub.register_device("known", "desk");
  v.device.subscribe(v.hub.topic("+", "ack"));
  REQUIRE(v.device.publish(v.hub.topic("stranger", "press"), press(1)));
  REQUIRE(v.device.publish(v.hub.topic("stranger", "press"), press(2)));
  // A press from a known device after them: once it is acked, the strangers' were processed.
  REQUIRE(v.device.publish(v.hub.topic("known", "press"), press(1)));
  REQUIRE(v.device.wait_for_topic(v.hub.topic("known", "ack"), 10s));
  CHECK(v.device.count([&](const Message& m) { return m.topic == v.hub.topic("stranger", "ack"); }) == 0);
  CHECK(stored_rows(v.hub.db_path(), "stranger").empty());
  auto unknown = v.hub.get_json("/api/unknown-devices").as_array();
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0].at("device").as_string() == "stranger");
  CHECK(unknown[0].at("count").to_number<int>() == 2);
  CHECK(unknown[0].at("reason").as_string() == "unknown_device");
  CHECK(v.hub.get_json("/api/counters").at("rejected").at("unknown_device").to_number<int>() == 2);

  SECTION("once registered, its re-sent presses are stored and it leaves the list") {
    v.hub.register_device("stranger", "desk");
    REQUIRE(v.device.publish(v.hub.topic("stranger", "press"), press(1)));
    REQUIRE(v.device.wait_for_topic(v.hub.topic("stranger", "ack"), 10s));
    CHECK(stored_rows(v.hub.db_path(), "stranger").size() == 1);
    CHECK(v.hub.get_json("/api/unknown-devices").as_array().empty());
  }
}

TEST_CASE("a retired device's presses are not stored and not acknowledged", "[integration]") {
  Venue v;
  v.hub.register_device("old", "desk");
  v.hub.register_device("probe", "desk");
  v.device.subscribe(v.hub.topic("+", "ack"));
  auto r = http_post(v.hub.port(), "/api/devices/old/retire", "", v.hub.token());
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body).at("retired").as_bool());
  REQUIRE(v.device.publish(v.hub.topic("old", "press"), press(1)));
  REQUIRE(v.device.publish(v.hub.topic("probe", "press"), press(1)));
  REQUIRE(v.device.wait_for_topic(v.hub.topic("probe", "ack"), 10s));
  CHECK(v.device.count([&](const Message& m) { return m.topic == v.hub.topic("old", "ack"); }) == 0);
  CHECK(stored_rows(v.hub.db_path(), "old").empty());
  CHECK(v.hub.get_json("/api/counters").at("rejected").at("retired_device").to_number<int>() == 1);
}

TEST_CASE("after kill -9 the restarted hub has every acknowledged press and stores re-sent ones once",
          "[integration]") {
  Venue v;
  v.hub.register_device("kiosk-1", "desk");
  auto ack_topic = v.hub.topic("kiosk-1", "ack");
  v.device.subscribe(ack_topic);
  constexpr std::uint64_t total = 400;
  std::uint64_t seq = 1;
  // Kill the hub in the middle of a stream of presses.
  for (; seq <= total / 2; ++seq) REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(seq)));
  REQUIRE(wait_until([&] { return !acked_seqs(v.device, ack_topic).empty(); }, 10s));
  v.hub.kill9();
  auto acked_before_crash = acked_seqs(v.device, ack_topic);
  // The device keeps pressing while the hub is down.
  for (; seq <= total; ++seq) REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(seq)));

  auto rows = stored_rows(v.hub.db_path(), "kiosk-1");
  for (auto s : acked_before_crash) CHECK(rows.count(s) == 1);

  v.hub.start_or_fail();
  // The device re-sends everything not acknowledged (here: everything, to also exercise duplicates).
  for (std::uint64_t s = 1; s <= total; ++s) REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(s)));
  REQUIRE(wait_until([&] { return acked_seqs(v.device, ack_topic).size() == total; }, 20s));
  rows = stored_rows(v.hub.db_path(), "kiosk-1");
  CHECK(rows.size() == total);
  for (const auto& [s, n] : rows) CHECK(n == 1);
}

TEST_CASE("malformed, oversize and wrongly typed payloads are rejected and counted while the hub keeps serving",
          "[integration]") {
  Venue v;
  v.hub.register_device("kiosk-1", "desk");
  auto ack_topic = v.hub.topic("kiosk-1", "ack");
  v.device.subscribe(ack_topic);
  auto topic = v.hub.topic("kiosk-1", "press");
  REQUIRE(v.device.publish(topic, "{\"seq\":"));
  REQUIRE(v.device.publish(topic, "\xff\xfe garbage"));
  REQUIRE(v.device.publish(topic, R"({"seq":1,"button":0,"rating":1,"scale":4,"age_ms":0,"pad":")" +
                                      std::string(5000, 'x') + "\"}"));
  REQUIRE(v.device.publish(topic, R"({"seq":"one","button":0,"rating":1,"scale":4,"age_ms":0})"));
  REQUIRE(v.device.publish(topic, R"({"seq":1,"button":0,"rating":11,"scale":4,"age_ms":0})"));
  REQUIRE(v.device.publish(topic, R"({"seq":1,"button":0,"scale":4,"age_ms":0})"));
  REQUIRE(v.device.publish(topic, ""));
  REQUIRE(v.device.publish(v.hub.topic("BAD_ID", "press"), press(1)));
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "status"), R"({"state":"sideways"})"));
  REQUIRE(v.device.publish(topic, press(1)));
  REQUIRE(v.device.wait_for_topic(ack_topic, 10s));
  CHECK(acked_seqs(v.device, ack_topic) == std::set<std::uint64_t>{1});
  CHECK(stored_rows(v.hub.db_path(), "kiosk-1").size() == 1);

  auto health = http_get(v.hub.port(), "/health");
  CHECK(health.status == 200);
  CHECK(json::parse(health.body).at("status").as_string() == "ok");
  auto metrics = http_get(v.hub.port(), "/metrics").body;
  CHECK(metric(metrics, "kiosk_rejected_total{reason=\"bad_json\"}") == 3);
  CHECK(metric(metrics, "kiosk_rejected_total{reason=\"oversize\"}") == 1);
  CHECK(metric(metrics, "kiosk_rejected_total{reason=\"wrong_type\"}") == 1);
  CHECK(metric(metrics, "kiosk_rejected_total{reason=\"out_of_range\"}") >= 1);
  CHECK(metric(metrics, "kiosk_rejected_total{reason=\"missing_field\"}") == 1);
  CHECK(metric(metrics, "kiosk_rejected_total{reason=\"bad_topic\"}") == 1);
  CHECK(metric(metrics, "kiosk_presses_stored_total") == 1);
  CHECK(v.hub.running());
}

TEST_CASE("writes without the bearer token are refused with 401 and the token file is private", "[integration]") {
  Venue v;
  auto body = R"({"id":"kiosk-9","location":"desk"})";
  CHECK(http_post(v.hub.port(), "/api/devices", body, "").status == 401);
  CHECK(http_post(v.hub.port(), "/api/devices", body, "wrong-token-wrong-token").status == 401);
  CHECK(http_post(v.hub.port(), "/api/locations", R"({"id":"x","name":"X"})", "").status == 401);
  CHECK(v.hub.get_json("/api/devices").as_array().empty());
  auto bad_board = http_post(v.hub.port(), "/api/devices", R"({"id":"kiosk-9","location":"desk","board":"Pi 3"})",
                             v.hub.token());
  CHECK(bad_board.status == 400);
  CHECK_THAT(bad_board.body, Catch::Contains("board"));
  CHECK(http_post(v.hub.port(), "/api/devices", body, v.hub.token()).status == 201);
  CHECK(http_post(v.hub.port(), "/api/devices", body, v.hub.token()).status == 409);
  // A hub without broker accounts lists the managers it gave API tokens (none yet), and says
  // that anyone on the venue network may read alerts at the broker.
  auto managers = http_get(v.hub.port(), "/api/managers");
  CHECK(managers.status == 200);
  CHECK_THAT(managers.body, Catch::Contains(R"("managers":[])") && Catch::Contains("the broker has no per-client accounts"));
  struct stat st {};
  REQUIRE(::stat(v.hub.token_file().c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
}

TEST_CASE("devices are registered, moved and listed with their locations, and get their retained config",
          "[integration]") {
  Venue v;
  v.device.subscribe(v.hub.topic("kiosk-1", "config"));
  v.hub.register_device("kiosk-1", "lobby");
  auto config = v.device.wait_for_topic(v.hub.topic("kiosk-1", "config"), 10s);
  REQUIRE(config);
  CHECK(json::parse(config->payload).at("location").as_string() == "lobby");

  auto moved = http_post(v.hub.port(), "/api/devices/kiosk-1/move", R"({"location":"spa"})", v.hub.token());
  REQUIRE(moved.status == 200);
  CHECK(json::parse(moved.body).at("location").as_string() == "spa");
  config = v.device.wait_for([&](const Message& m) { return m.payload.find("spa") != std::string::npos; }, 10s);
  REQUIRE(config);
  CHECK(config->retained == false);  // live delivery; retained flag is set only for late subscribers

  auto locations = v.hub.get_json("/api/locations").as_array();
  REQUIRE(locations.size() == 2);
  CHECK(http_post(v.hub.port(), "/api/locations/spa/rename", R"({"name":"Spa & pool"})", v.hub.token()).status == 200);
  // Names reach technicians' terminals: no control characters, 1..200 characters, at creation too.
  auto escape = http_post(v.hub.port(), "/api/locations", R"({"id":"bar","name":"Bar\u001b[2J"})", v.hub.token());
  CHECK(escape.status == 400);
  CHECK_THAT(escape.body, Catch::Contains("control characters"));
  CHECK(http_post(v.hub.port(), "/api/locations", R"({"id":"bar","name":""})", v.hub.token()).status == 400);
  CHECK(http_post(v.hub.port(), "/api/locations/spa/rename", R"({"name":"Spa\npool"})", v.hub.token()).status == 400);
  CHECK(http_post(v.hub.port(), "/api/locations", R"({"id":"bar","name":"Bar"})", v.hub.token()).status == 201);
  CHECK(http_post(v.hub.port(), "/api/devices/nope/move", R"({"location":"spa"})", v.hub.token()).status == 404);
  CHECK(http_post(v.hub.port(), "/api/devices", R"({"id":"Bad Id","location":"spa"})", v.hub.token()).status == 400);
  CHECK(http_get(v.hub.port(), "/api/devices/nope").status == 404);
  CHECK(http_get(v.hub.port(), "/api/presses?since=yesterday").status == 400);

  MqttProbe late(v.broker.url());
  late.connect();
  late.subscribe(v.hub.topic("kiosk-1", "config"));
  auto retained = late.wait_for_topic(v.hub.topic("kiosk-1", "config"), 10s);
  REQUIRE(retained);
  CHECK(retained->retained);
  CHECK(json::parse(retained->payload).at("location").as_string() == "spa");
}

TEST_CASE("device status and telemetry show up in the device list", "[integration]") {
  Venue v;
  v.hub.register_device("kiosk-1", "desk");
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "status"),
                           R"({"state":"online","fw":"0.1.0","board":"sim","buttons":4})", 1, true));
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "telemetry"), R"({"uptime_s":120,"queued":3})", 0));
  REQUIRE(wait_until([&] {
    auto d = v.hub.get_json("/api/devices/kiosk-1");
    return d.at("state").as_string() == "online" && !d.at("queued").is_null();
  }));
  auto d = v.hub.get_json("/api/devices/kiosk-1").as_object();
  CHECK(d.at("fw").as_string() == "0.1.0");
  CHECK(d.at("board").as_string() == "sim");
  CHECK(d.at("buttons").to_number<int>() == 4);
  CHECK(d.at("queued").to_number<int>() == 3);
  CHECK(d.at("uptime_s").to_number<int>() == 120);
  CHECK(d.at("dropped").is_null());  // not reported (yet)
  // A terminal whose outbox filled up says how many presses it dropped: shown, and warned of when
  // it rises.
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "telemetry"), R"({"uptime_s":150,"queued":0,"dropped":0})", 0));
  REQUIRE(wait_until([&] { return !v.hub.get_json("/api/devices/kiosk-1").at("dropped").is_null(); }));
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "telemetry"), R"({"uptime_s":180,"queued":9,"dropped":4})", 0));
  REQUIRE(wait_until([&] { return v.hub.get_json("/api/devices/kiosk-1").at("dropped").to_number<int>() == 4; }));
  CHECK(wait_until([&] { return v.hub.log().find("device kiosk-1's outbox was full: it dropped 4 of its oldest") !=
                                std::string::npos; }));
  auto metrics = http_get(v.hub.port(), "/metrics").body;
  CHECK(metric(metrics, "kiosk_devices_online") == 1);
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "status"), R"({"state":"offline"})", 1, true));
  REQUIRE(wait_until([&] { return v.hub.get_json("/api/devices/kiosk-1").at("state").as_string() == "offline"; }));
  CHECK(v.hub.get_json("/api/devices/kiosk-1").at("flapping").as_bool() == false);  // 2 changes

  // Two terminals with one device file: each login closes the other's session, over and over.
  // Six changes here alone, whether or not the two above are still within the minute.
  for (int i = 0; i < 3; ++i) {
    REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "status"),
                             R"({"state":"online","fw":"0.1.0","board":"sim","buttons":4})", 1, true));
    REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "status"), R"({"state":"offline"})", 1, true));
  }
  REQUIRE(wait_until([&] { return v.hub.get_json("/api/devices/kiosk-1").at("flapping").as_bool(); }));
  CHECK(v.hub.get_json("/api/devices/kiosk-1").at("state_changes_1m").to_number<int>() >= 6);
  CHECK(wait_until([&] {
    return v.hub.log().find("device kiosk-1 went online or offline 6 times in the last minute: two terminals with one "
                            "device file") != std::string::npos;
  }));
}

TEST_CASE("SIGTERM commits what is pending, announces the hub offline and exits 0", "[integration]") {
  Venue v;
  MqttProbe watcher(v.broker.url());
  watcher.connect();
  watcher.subscribe("kiosk/v1/" + v.hub.site() + "/hub/status");
  REQUIRE(watcher.wait_for([](const Message& m) { return m.payload.find("online") != std::string::npos; }, 10s));
  CHECK(v.hub.stop(10s) == 0);
  REQUIRE(watcher.wait_for([](const Message& m) { return m.payload.find("offline") != std::string::npos; }, 10s));
  CHECK(v.hub.log().find("info hub: listening on http://127.0.0.1:") != std::string::npos);
}

TEST_CASE("the dashboard, health and metrics answer without a token", "[integration]") {
  Venue v;
  auto page = http_get(v.hub.port(), "/");
  CHECK(page.status == 200);
  CHECK(page.content_type.find("text/html") == 0);
  CHECK(page.body.find("EventSource") != std::string::npos);
  auto health = json::parse(http_get(v.hub.port(), "/health").body).as_object();
  CHECK(health.at("site").as_string() == v.hub.site());
  CHECK(health.at("broker").as_string() == "connected");
  CHECK(health.at("db").as_string() == "ok");
  CHECK(http_get(v.hub.port(), "/metrics").body.find("kiosk_broker_connected 1") != std::string::npos);
  CHECK(http_get(v.hub.port(), "/api/nothing").status == 404);
}

TEST_CASE("reads without a token are refused to a name that is not the hub's (DNS rebinding), with the names it answers to",
          "[integration]") {
  Venue v;
  const auto as = [&](const std::string& host, const std::string& token = "") {
    return kiosk::test::http_request(v.hub.port(), "GET", "/api/devices", "", token, 10s, host);
  };
  const auto port = std::to_string(v.hub.port());
  const auto refused = as("attacker.example:" + port);
  CHECK(refused.status == 403);
  CHECK(refused.body.find("does not answer to the name 'attacker.example:" + port + "'") != std::string::npos);
  CHECK(refused.body.find("localhost") != std::string::npos);
  CHECK(as("attacker.example:" + port, v.hub.token()).status == 200);  // the token is enough anywhere
  CHECK(as("localhost:" + port).status == 200);
  CHECK(as("127.0.0.1:" + port).status == 200);
  char name[256] = {};
  REQUIRE(::gethostname(name, sizeof name - 1) == 0);
  CHECK(as(std::string(name) + ":" + port).status == 200);  // this machine's name, by default
}

TEST_CASE("HEAD of the event stream gets its header and no stream, and the connection answers the next request",
          "[integration]") {
  Venue v;
  const int fd = kiosk::net::connect_loopback(v.hub.port());
  REQUIRE(fd >= 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const std::string requests = "HEAD /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                               "GET /api/counters HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
  REQUIRE(::send(fd, requests.data(), requests.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(requests.size()));
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) got.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  INFO(got);
  CHECK(got.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(got.find("text/event-stream") != std::string::npos);
  CHECK(got.find("kiosk-hub events") == std::string::npos);  // no stream after the HEAD
  CHECK(got.find("presses_stored") != std::string::npos);    // the next answer came, on the same connection
}

TEST_CASE("the event stream reports each acknowledged press and device status changes", "[integration]") {
  Venue v;
  v.hub.register_device("kiosk-1", "desk");
  EventStreamClient events(v.hub.port());
  REQUIRE(events.wait_for("text/event-stream", 5s));
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(3, 4)));
  REQUIRE(events.wait_for("event: press", 10s));
  CHECK(events.received().find(R"("device":"kiosk-1","seq":3)") != std::string::npos);
  CHECK(events.received().find(R"("stored":true,"acked":true)") != std::string::npos);
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "status"),
                           R"({"state":"online","fw":"0.1.0","board":"sim","buttons":4})", 1, true));
  REQUIRE(events.wait_for("event: device", 10s));
  CHECK(events.received().find(R"("state":"online")") != std::string::npos);
  // Whether a press is bad is the hub's rule, said with it; so are its flags.
  CHECK(events.received().find(R"("rating":4,"scale":4,"button":0,"bad":false,"call_manager":false,"flags":[])") != std::string::npos);
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(4, 1)));
  REQUIRE(events.wait_for(R"("seq":4)", 10s));
  CHECK(events.received().find(R"("rating":1,"scale":4,"button":0,"bad":true)") != std::string::npos);
  // A move is news to the dashboard at once, with the whole device.
  REQUIRE(http_post(v.hub.port(), "/api/devices/kiosk-1/move", R"({"location":"spa"})", v.hub.token()).status == 200);
  REQUIRE(events.wait_for(R"("location":"spa")", 10s));
  CHECK(events.received().find(R"("id":"kiosk-1","location":"spa","board":"sim","fw":"0.1.0")") != std::string::npos);
}

TEST_CASE("a burst larger than one batch is committed and acknowledged to the last press", "[integration]") {
  Broker broker;
  TempDir dir;
  // Small batches so that the burst fills several and leaves a partial one behind.
  HubUnderTest hub(broker, dir.path(), "test-site", {"--batch-max", "8", "--batch-window-us", "20000"});
  hub.start_or_fail();
  MqttProbe device(broker.url());
  device.connect();
  hub.register_device("kiosk-1", "desk");
  auto ack_topic = hub.topic("kiosk-1", "ack");
  device.subscribe(ack_topic);
  constexpr std::uint64_t total = 61;
  for (std::uint64_t s = 1; s <= total; ++s) REQUIRE(device.publish(hub.topic("kiosk-1", "press"), press(s)));
  REQUIRE(wait_until([&] { return acked_seqs(device, ack_topic).size() == total; }, 10s));
  CHECK(stored_rows(hub.db_path(), "kiosk-1").size() == total);
}

TEST_CASE("a terminal that re-uses a seq for a different press is acknowledged, and the press is kept and reported",
          "[integration]") {
  Venue v;
  v.hub.register_device("kiosk-1", "bar");
  auto ack_topic = v.hub.topic("kiosk-1", "ack");
  v.device.subscribe(ack_topic);
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(7, 1)));
  REQUIRE(wait_until([&] { return ack_count_for(v.device, ack_topic, 7) == 1; }, 10s));
  // Its outbox was reset: seq 7 again for another guest's rating, then a re-send of that one.
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(7, 4)));
  REQUIRE(wait_until([&] { return ack_count_for(v.device, ack_topic, 7) == 2; }, 10s));
  REQUIRE(v.device.publish(v.hub.topic("kiosk-1", "press"), press(7, 4, 500)));
  REQUIRE(wait_until([&] { return ack_count_for(v.device, ack_topic, 7) == 3; }, 10s));

  CHECK(stored_rows(v.hub.db_path(), "kiosk-1") == std::map<std::uint64_t, int>{{7, 1}});
  sqlite3* db = nullptr;
  REQUIRE(sqlite3_open_v2(v.hub.db_path().c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_busy_timeout(db, 5000);
  sqlite3_stmt* s = nullptr;
  REQUIRE(sqlite3_prepare_v2(db, "SELECT COUNT(*), MIN(rating), MIN(location) FROM press_conflicts "
                                 "WHERE device = 'kiosk-1' AND seq = 7", -1, &s, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(s) == SQLITE_ROW);
  CHECK(sqlite3_column_int(s, 0) == 1);
  CHECK(sqlite3_column_int(s, 1) == 4);
  CHECK(std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 2))) == "bar");
  sqlite3_finalize(s);
  sqlite3_close(db);

  auto metrics = http_get(v.hub.port(), "/metrics").body;
  CHECK(metric(metrics, "kiosk_presses_seq_conflicts_total") == 1);
  CHECK(metric(metrics, "kiosk_presses_duplicate_total") == 1);
  CHECK(metric(metrics, "kiosk_presses_stored_total") == 1);
  CHECK(v.hub.get_json("/api/counters").at("seq_conflicts").to_number<int>() == 1);
  auto log = v.hub.log();
  auto warning = log.find("warn ingest: device kiosk-1 re-used seq 7 for a different press");
  CHECK(warning != std::string::npos);
  CHECK(log.find("kept in press_conflicts", warning) != std::string::npos);
  CHECK(log.find("re-used seq", log.find('\n', warning)) == std::string::npos);  // the re-send is no conflict
}
