// Alerting end to end: terminals (MqttProbe) press through a real mosquitto into an in-process hub with
// its AlertService; managers subscribe to the retained alert, acknowledge over MQTT or HTTP, and get webhooks.
#include <catch2/catch.hpp>

#include <set>

#include <sqlite3.h>

#include <boost/json.hpp>

#include "kiosk/protocol/messages.hpp"

#include "test_alert_support.hpp"

using namespace kiosk::test;
namespace json = boost::json;

namespace {

// "3 bad in 10 minutes" makes the spike predictable; the time-driven parts are short or use the clock.
std::string alert_settings(const std::string& contacts = "[]", const std::string& extra = "") {
  return R"({"tick_ms": 20, "update_interval_s": 60, "repeat_interval_s": 300, "escalate_after_s": 60,
             "detector": {"kind": "naive", "bad": 3, "window_s": 600, "resolve_after_s": 120},
             "webhooks": {"backoff_initial_ms": 50, "backoff_max_ms": 200, "timeout_ms": 2000},
             "contacts": )" +
         contacts + extra + "}";
}

json::object payload_of(const Message& m) { return json::parse(m.payload).as_object(); }

// A second connection to the hub's database, as another process (or a full disk) would touch it.
struct SideDoor {
  sqlite3* db = nullptr;
  explicit SideDoor(const std::filesystem::path& path) { REQUIRE(sqlite3_open(path.c_str(), &db) == SQLITE_OK); }
  ~SideDoor() { sqlite3_close(db); }
  SideDoor(const SideDoor&) = delete;
  SideDoor& operator=(const SideDoor&) = delete;
  void exec(const char* sql) {
    INFO(sql);
    REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK);
  }
};

bool is_alert(const Message& m, const std::string& topic, const std::string& state) {
  return m.topic == topic && payload_of(m).at("state").as_string() == state;
}

// Publishes bad presses (rating 1 of 4) from `device` and waits until the hub acknowledged them all.
void press_bad(MqttProbe& device, const AlertHub& hub, const std::string& id, std::uint64_t first_seq, int n,
               int rating = 1) {
  for (int i = 0; i < n; ++i) REQUIRE(device.publish(hub.press_topic(id), press_json(first_seq + i, rating)));
  // Acks may cover several presses at once: look at everything received, do not consume.
  REQUIRE(wait_until([&] {
    std::set<std::uint64_t> acked;
    for (const auto& m : device.messages())
      if (m.topic == hub.ack_topic(id))
        if (auto a = kiosk::protocol::parse_ack(m.payload)) acked.insert(a->seqs.begin(), a->seqs.end());
    for (int i = 0; i < n; ++i)
      if (!acked.count(first_seq + static_cast<std::uint64_t>(i))) return false;
    return true;
  }));
}

struct Venue {
  Broker broker;
  TempDir dir;
  ShiftedClock clock;
  std::unique_ptr<AlertHub> hub;
  MqttProbe device{broker.url()};

  explicit Venue(const std::string& settings, std::vector<AlertHub::Device> devices = {{"t-1", "front-desk"},
                                                                                      {"t-2", "front-desk"},
                                                                                      {"t-3", "bar"}}) {
    broker.start();
    hub = std::make_unique<AlertHub>(broker, dir.path(), settings, devices, clock);
    device.connect();
    for (const auto& d : devices) device.subscribe(hub->ack_topic(d.id));
  }
};

}  // namespace

TEST_CASE("a spike of bad presses raises the retained alert, and a manager's MQTT ack moves it to acked",
          "[integration]") {
  Venue v(alert_settings());
  auto& hub = *v.hub;
  const auto topic = hub.alert_topic("front-desk");

  press_bad(v.device, hub, "t-1", 1, 2);
  press_bad(v.device, hub, "t-2", 1, 1);
  REQUIRE(wait_until([&] { return json::parse(http_get(hub.port(), "/api/alerts?state=open").body).as_array().size() == 1; }));

  // A manager who subscribes after the fact still sees it: the alert is retained.
  MqttProbe manager(v.broker.url());
  manager.connect();
  manager.subscribe("kiosk/v1/" + hub.site() + "/alert/+");
  auto opened = manager.wait_for([&](const Message& m) { return is_alert(m, topic, "open"); });
  REQUIRE(opened);
  CHECK(opened->retained);
  auto alert = payload_of(*opened);
  CHECK(alert.at("id").as_string() == "a-000001");
  CHECK(alert.at("location").as_string() == "front-desk");
  CHECK(alert.at("bad").as_int64() == 3);
  CHECK(std::string(alert.at("reason").as_string()).find("3 of the last 3 ratings at front-desk were bad") == 0);

  // The spike goes on: counts change, but no republish before update_interval (no storm).
  press_bad(v.device, hub, "t-1", 3, 2);

  REQUIRE(manager.publish(topic + "/ack", R"({"id":"a-000001","by":"alice"})"));
  auto acked = manager.wait_for([&](const Message& m) { return is_alert(m, topic, "acked"); });
  REQUIRE(acked);
  CHECK(payload_of(*acked).at("acked_by").as_string() == "alice");
  CHECK(manager.count([&](const Message& m) { return m.topic == topic; }) == 2);

  auto detail = json::parse(http_get(hub.port(), "/api/alerts/a-000001").body).as_object();
  CHECK(detail.at("state").as_string() == "acked");
  auto history = detail.at("history").as_array();
  REQUIRE(history.size() == 2);
  CHECK(history[0].at("change").as_string() == "opened");
  CHECK(history[1].at("change").as_string() == "acked");
  CHECK(history[1].at("by").as_string() == "alice");

  // Still one alert for the location, however long the spike goes on.
  press_bad(v.device, hub, "t-2", 2, 3);
  CHECK(json::parse(http_get(hub.port(), "/api/alerts?state=all").body).as_array().size() == 1);
}

TEST_CASE("alert acks for unknown or resolved alerts and malformed acks are rejected and counted", "[integration]") {
  Venue v(alert_settings());
  auto& hub = *v.hub;
  const auto topic = hub.alert_topic("front-desk");
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return hub.on_io([&] { return hub.alerts().active_alerts().size() == 1; }); }));

  MqttProbe manager(v.broker.url());
  manager.connect();
  REQUIRE(manager.publish(topic + "/ack", R"({"id":"a-000999","by":"alice"})"));
  REQUIRE(manager.publish(hub.alert_topic("bar") + "/ack", R"({"id":"a-000001","by":"alice"})"));  // wrong location
  REQUIRE(manager.publish(topic + "/ack", R"({"id":"a-000001"})"));
  auto rejected = [&](const std::string& reason) {
    auto c = json::parse(http_get(hub.port(), "/api/counters").body).as_object();
    const auto* n = c.at("rejected").as_object().if_contains(reason);
    return n ? n->to_number<int>() : 0;
  };
  REQUIRE(wait_until([&] { return rejected("unknown_alert") == 2 && rejected("bad_alert_ack") == 1; }));
  CHECK(hub.on_io([&] { return hub.alerts().active_alerts().at(0).alert.state; }) == kiosk::protocol::AlertState::open);
  CHECK(hub.on_io([&] { return hub.alerts().counters().acks_rejected; }) == 3);

  // Alice acks; her retry is fine, Bob's later ack is refused: Alice holds it.
  REQUIRE(manager.publish(topic + "/ack", R"({"id":"a-000001","by":"alice"})"));
  REQUIRE(manager.publish(topic + "/ack", R"({"id":"a-000001","by":"alice"})"));
  REQUIRE(manager.publish(topic + "/ack", R"({"id":"a-000001","by":"bob"})"));
  REQUIRE(wait_until([&] { return rejected("already_acked") == 1; }));
  CHECK(hub.on_io([&] { return *hub.alerts().active_alerts().at(0).alert.acked_by; }) == "alice");
  CHECK(hub.on_io([&] { return hub.alerts().counters().acks_rejected; }) == 4);
}

TEST_CASE("the HTTP ack needs the token, moves the alert to acked and refuses unknown and resolved alerts",
          "[integration]") {
  Venue v(alert_settings());
  auto& hub = *v.hub;
  const auto topic = hub.alert_topic("front-desk");
  MqttProbe manager(v.broker.url());
  manager.connect();
  manager.subscribe(topic);
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(manager.wait_for([&](const Message& m) { return is_alert(m, topic, "open"); }));

  CHECK(http_post(hub.port(), "/api/alerts/a-000001/ack", R"({"by":"bob"})", "").status == 401);
  CHECK(http_post(hub.port(), "/api/alerts/a-000001/ack", R"({"by":"bob"})", "wrong-token").status == 401);
  CHECK(http_post(hub.port(), "/api/alerts/a-000001/ack", R"({"who":"bob"})", hub.token()).status == 400);
  CHECK(http_post(hub.port(), "/api/alerts/a-000042/ack", R"({"by":"bob"})", hub.token()).status == 404);

  auto r = http_post(hub.port(), "/api/alerts/a-000001/ack", R"({"by":"bob"})", hub.token());
  REQUIRE(r.status == 200);
  CHECK(json::parse(r.body).at("state").as_string() == "acked");
  auto acked = manager.wait_for([&](const Message& m) { return is_alert(m, topic, "acked"); });
  REQUIRE(acked);
  CHECK(payload_of(*acked).at("acked_by").as_string() == "bob");
  // Bob again (a retry) is fine; Carol is told Bob holds it.
  CHECK(http_post(hub.port(), "/api/alerts/a-000001/ack", R"({"by":"bob"})", hub.token()).status == 200);
  auto other = http_post(hub.port(), "/api/alerts/a-000001/ack", R"({"by":"carol"})", hub.token());
  CHECK(other.status == 409);
  CHECK(other.body.find("already acknowledged by bob") != std::string::npos);

  // Back to normal for resolve_after: resolved, published as the retained last state.
  v.clock.advance(std::chrono::seconds(121));
  auto resolved = manager.wait_for([&](const Message& m) { return is_alert(m, topic, "resolved"); });
  REQUIRE(resolved);
  CHECK(http_post(hub.port(), "/api/alerts/a-000001/ack", R"({"by":"bob"})", hub.token()).status == 409);
  CHECK(json::parse(http_get(hub.port(), "/api/alerts?state=resolved").body).as_array().size() == 1);
  CHECK(json::parse(http_get(hub.port(), "/api/alerts?state=open").body).as_array().empty());
  CHECK(http_get(hub.port(), "/api/alerts?state=bogus").status == 400);
}

TEST_CASE("open alerts and the id counter survive a hub restart and are published again", "[integration]") {
  Venue v(alert_settings());
  const auto topic = v.hub->alert_topic("front-desk");
  press_bad(v.device, *v.hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return v.hub->on_io([&] { return v.hub->alerts().active_alerts().size() == 1; }); }));
  v.hub.reset();
  // Without persistence the broker forgets the retained alert: only the hub can bring it back.
  v.broker.restart();
  v.device.disconnect();

  v.hub = std::make_unique<AlertHub>(v.broker, v.dir.path(), alert_settings(),
                                     std::vector<AlertHub::Device>{{"t-1", "front-desk"}, {"t-3", "bar"}}, v.clock);
  auto& hub = *v.hub;
  MqttProbe manager(v.broker.url());
  manager.connect();
  manager.subscribe("kiosk/v1/" + hub.site() + "/alert/+");
  auto again = manager.wait_for([&](const Message& m) { return is_alert(m, topic, "open"); });
  REQUIRE(again);
  CHECK(payload_of(*again).at("id").as_string() == "a-000001");

  // The detector remembers the incident (warmed up from stored presses): no second alert there,
  // and the next alert elsewhere gets the next id.
  MqttProbe device(v.broker.url());
  device.connect();
  device.subscribe(hub.ack_topic("t-1"));
  device.subscribe(hub.ack_topic("t-3"));
  press_bad(device, hub, "t-1", 4, 1);
  press_bad(device, hub, "t-3", 1, 3);
  auto bar = manager.wait_for([&](const Message& m) { return is_alert(m, hub.alert_topic("bar"), "open"); });
  REQUIRE(bar);
  CHECK(payload_of(*bar).at("id").as_string() == "a-000002");
  CHECK(json::parse(http_get(hub.port(), "/api/alerts?state=all").body).as_array().size() == 2);
}

TEST_CASE("a webhook is delivered to the contact, and retried until the contact's server comes up", "[integration]") {
  HookServer server;  // not listening yet: the first attempts fail
  Venue v(alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"("}])"));
  auto& hub = *v.hub;
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return hub.on_io([&] { return hub.alerts().webhook_counters().failed_attempts >= 2; }); }));

  server.start();
  REQUIRE(wait_until([&] { return server.count("/alice") == 1; }));
  auto post = server.requests().at(0);
  INFO("body: " << post.body);
  CHECK(post.method == "POST");
  auto body = json::parse(post.body).as_object();
  CHECK(body.at("event").as_string() == "opened");
  CHECK(body.at("contact").at("id").as_string() == "alice");
  CHECK(body.at("alert").at("id").as_string() == "a-000001");
  CHECK(body.at("alert").at("state").as_string() == "open");
  // What a chat service shows of it as it is.
  const std::string text(body.at("text").as_string());
  CHECK_THAT(text, Catch::StartsWith("Bad ratings at front-desk: ") &&
                       Catch::EndsWith("(alert a-000001; acknowledge: kioskctl alerts ack a-000001)"));
  CHECK(body.at("content").as_string() == text);
  // Delivered posts leave the queue.
  REQUIRE(wait_until([&] { return http_get(hub.port(), "/metrics").body.find("kiosk_webhook_queue_pending 0") != std::string::npos; }));
}

TEST_CASE("the hub's webhook carries its delivery id, alert and change in headers, and counts superseded posts",
          "[integration]") {
  HookServer server;
  server.start();
  Venue v(alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"("}])"));
  auto& hub = *v.hub;
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return server.count("/alice") == 1; }));
  const auto post = server.requests().at(0);
  CHECK(post.header("X-Kiosk-Delivery").rfind(hub.site() + "-", 0) == 0);
  CHECK(post.header("X-Kiosk-Delivery").size() > hub.site().size() + 1);
  CHECK(post.header("X-Kiosk-Alert") == "a-000001");
  CHECK(post.header("X-Kiosk-Change") == "opened");
  CHECK(json::parse(post.body).at("event").as_string() == "opened");  // the body is as before
  REQUIRE(wait_until([&] {
    return http_get(hub.port(), "/metrics").body.find("kiosk_webhook_queue_pending 0") != std::string::npos;
  }));
  CHECK(http_get(hub.port(), "/metrics").body.find("kiosk_webhook_posts_superseded_total 0") != std::string::npos);
}

TEST_CASE("an alert goes to the on-duty contacts covering its location only", "[integration]") {
  HookServer server;
  server.start();
  // Bob is on duty only on the day after tomorrow, Carol covers the bar only.
  const char* days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const unsigned weekday = std::chrono::weekday(today).iso_encoding() - 1;  // 0 = Monday
  const std::string off_day = days[(weekday + 2) % 7];
  Venue v(alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"("},
      {"id": "bob", "webhook": ")" + server.url("/bob") + R"(", "on_duty": ")" + off_day + R"( 00:00-24:00"},
      {"id": "carol", "webhook": ")" + server.url("/carol") + R"(", "locations": ["bar"]}])"));
  auto& hub = *v.hub;
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return server.count("/alice") == 1; }));
  REQUIRE(wait_until([&] {
    return hub.on_io([&] { return hub.alerts().webhook_counters().delivered == 1; }) &&
           http_get(hub.port(), "/metrics").body.find("kiosk_webhook_queue_pending 0") != std::string::npos;
  }));
  CHECK(server.count("/bob") == 0);
  CHECK(server.count("/carol") == 0);
}

TEST_CASE("an unacknowledged alert escalates to the next contact, and the ack tells the others", "[integration]") {
  HookServer server;
  server.start();
  Venue v(alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"("},
      {"id": "bob", "webhook": ")" + server.url("/bob") + R"("}])",
                         R"(, "escalation": ["alice", "bob"])"));
  auto& hub = *v.hub;
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return server.count("/alice") == 1; }));
  CHECK(server.count("/bob") == 0);

  v.clock.advance(std::chrono::seconds(61));  // escalate_after is 60 s
  REQUIRE(wait_until([&] { return server.count("/bob") == 1; }));
  auto escalated = json::parse(server.requests().back().body).as_object();
  CHECK(escalated.at("event").as_string() == "escalated");
  CHECK(escalated.at("alert").at("id").as_string() == "a-000001");

  REQUIRE(http_post(hub.port(), "/api/alerts/a-000001/ack", R"({"by":"bob"})", hub.token()).status == 200);
  // Alice heard about the alert, so she hears that Bob is on it; Bob acked it himself.
  REQUIRE(wait_until([&] { return server.count("/alice") == 2; }));
  CHECK(json::parse(server.requests().back().body).at("event").as_string() == "acked");
  auto history = json::parse(http_get(hub.port(), "/api/alerts/a-000001").body).at("history").as_array();
  REQUIRE(history.size() == 3);
  CHECK(history[1].at("change").as_string() == "escalated");
  CHECK(history[1].at("level").as_int64() == 1);
}

TEST_CASE("a hub restarted on a wall clock behind its stored alerts escalates on time, not after the clock's error",
          "[integration]") {
  // A board without RTC after a power cut: the clock starts where it was last saved, 70 minutes
  // behind the alert the hub stored. Escalation is due 60 s after the alert opened, and must not
  // wait those 70 minutes on top.
  HookServer server;
  server.start();
  const auto settings = alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"("},
      {"id": "bob", "webhook": ")" + server.url("/bob") + R"("}])",
                                       R"(, "escalation": ["alice", "bob"])");
  Venue v(settings);
  press_bad(v.device, *v.hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return server.count("/alice") == 1; }));
  v.clock.advance(std::chrono::seconds(30));
  v.hub.reset();
  v.clock.step_wall(-std::chrono::minutes(70));

  v.hub = std::make_unique<AlertHub>(v.broker, v.dir.path(), settings,
                                     std::vector<AlertHub::Device>{{"t-1", "front-desk"}, {"t-3", "bar"}}, v.clock);
  REQUIRE(wait_until([&] { return v.hub->on_io([&] { return v.hub->alerts().active_alerts().size() == 1; }); }));
  CHECK(server.count("/bob") == 0);
  // The timeline continues from the newest stored time (the alert's opening): the 30 s the hub
  // was down cannot be known, so escalation comes 60 s after the restart at the latest.
  v.clock.advance(std::chrono::seconds(61));
  REQUIRE(wait_until([&] { return server.count("/bob") == 1; }));
  CHECK(json::parse(server.requests().back().body).at("event").as_string() == "escalated");
}

TEST_CASE("a call-a-manager button raises a critical alert at once", "[integration]") {
  Venue v(alert_settings("[]", R"(, "call_manager": [{"location": "bar", "button": 3}])"));
  auto& hub = *v.hub;
  MqttProbe manager(v.broker.url());
  manager.connect();
  manager.subscribe(hub.alert_topic("bar"));
  REQUIRE(v.device.publish(hub.press_topic("t-3"), press_json(1, 4, 3)));
  auto alert = manager.wait_for([&](const Message& m) { return is_alert(m, hub.alert_topic("bar"), "open"); });
  REQUIRE(alert);
  CHECK(payload_of(*alert).at("severity").as_string() == "critical");
  CHECK(payload_of(*alert).at("reason").as_string() == "A guest asked for a manager at bar");
  // The API says what the press was, by the same settings: a call, not a rating.
  const auto presses = json::parse(http_get(hub.port(), "/api/presses?limit=1").body).as_array();
  REQUIRE(presses.size() == 1);
  CHECK(presses[0].at("call_manager").as_bool());
  CHECK_FALSE(presses[0].at("bad").as_bool());
}

TEST_CASE("alert changes go out on the event stream that kioskctl alerts --follow reads", "[integration]") {
  Venue v(alert_settings());
  auto& hub = *v.hub;
  const int fd = kiosk::net::connect_loopback(hub.port());
  REQUIRE(fd >= 0);
  const std::string request = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  REQUIRE(::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  std::string stream;
  auto read_some = [&] {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 10) > 0) {
      char buf[4096];
      auto n = ::read(fd, buf, sizeof buf);
      if (n > 0) stream.append(buf, static_cast<std::size_t>(n));
    }
  };
  REQUIRE(wait_until([&] {
    read_some();
    return stream.find("\r\n\r\n") != std::string::npos;
  }));
  REQUIRE(wait_until([&] { return hub.on_io([&] { return true; }); }));  // the stream is registered by now
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] {
    read_some();
    return stream.find("event: alert") != std::string::npos && stream.find("\"change\":\"opened\"") != std::string::npos;
  }));
  CHECK(stream.find("\"id\":\"a-000001\"") != std::string::npos);
  ::close(fd);
}

TEST_CASE("a webhook refused with a 4xx is given up at once, with the status kept for the operator", "[integration]") {
  HookServer server;
  server.start(404);  // e.g. a typo in the contact's webhook URL
  Venue v(alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"("}])"));
  auto& hub = *v.hub;
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return hub.on_io([&] { return hub.alerts().webhook_counters().given_up == 1; }); }));
  CHECK(hub.on_io([&] { return hub.alerts().webhook_counters().failed_attempts; }) == 1);
  CHECK(http_get(hub.port(), "/metrics").body.find("kiosk_webhook_queue_pending 0") != std::string::npos);
  kiosk::hub::Database db((v.dir.path() / "data" / "hub.db").string(), true);
  kiosk::hub::Statement row(db, "SELECT state, last_error, attempts FROM webhook_queue");
  REQUIRE(row.step());
  CHECK(row.column_text(0) == "failed");
  CHECK(row.column_text(1) == "HTTP 404");
  CHECK(row.column_int(2) == 1);
  row.reset();
  // Backoff here is at most 200 ms: a retry would have come long before the next alert's post.
  press_bad(v.device, hub, "t-3", 1, 3);
  REQUIRE(wait_until([&] { return hub.on_io([&] { return hub.alerts().webhook_counters().given_up == 2; }); }));
  CHECK(server.count("/alice") == 2);
}

TEST_CASE("a webhook answered 429 or 408 is retried like a server error", "[integration]") {
  for (int status : {429, 408}) {
    INFO("HTTP " << status);
    HookServer server;
    server.start(status);
    Venue v(alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"("}])"));
    auto& hub = *v.hub;
    press_bad(v.device, hub, "t-1", 1, 3);
    REQUIRE(wait_until([&] { return server.count("/alice") >= 3; }));
    CHECK(hub.on_io([&] { return hub.alerts().webhook_counters().given_up; }) == 0);
  }
}

TEST_CASE("on-duty contacts are chosen by the wall clock after it stepped since the hub started", "[integration]") {
  HookServer server;
  server.start();
  // Alice is on duty today and tomorrow, Bob the two days after: a 48 h step moves the duty to Bob
  // (two days each, so a test running across midnight still sees the same people on duty).
  const char* days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  auto today = std::chrono::floor<std::chrono::days>(std::chrono::system_clock::now());
  const unsigned weekday = std::chrono::weekday(today).iso_encoding() - 1;  // 0 = Monday
  auto two_days = [&](unsigned from) {
    return std::string(days[from % 7]) + "-" + days[(from + 1) % 7] + " 00:00-24:00";
  };
  Venue v(alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"(", "on_duty": ")" +
                         two_days(weekday) + R"("},
      {"id": "bob", "webhook": ")" + server.url("/bob") + R"(", "on_duty": ")" + two_days(weekday + 2) + R"("}])"));
  auto& hub = *v.hub;
  // The hub booted with a stale wall clock; NTP now steps it 48 h ahead (steady time goes on as before).
  v.clock.step_wall(std::chrono::hours(48));
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return server.count("/bob") == 1; }));
  REQUIRE(wait_until([&] {
    return http_get(hub.port(), "/metrics").body.find("kiosk_webhook_queue_pending 0") != std::string::npos;
  }));
  CHECK(server.count("/alice") == 0);
}

TEST_CASE("a tzdata update that changes the venue's rules moves on-duty hours without a hub restart",
          "[integration]") {
  HookServer server;
  server.start();
  // The venue's zone, in a tz database of the test's own ($TZDIR, as for the C library).
  TempDir zones;
  fs::create_directories(zones / "Venue");
  const auto install = [&](const std::string& from) {  // as dpkg does: written beside, renamed over
    fs::copy_file(fs::path(kiosk::hub::kZoneinfo) / from, zones / "Venue/Here.new");
    fs::rename(zones / "Venue/Here.new", zones / "Venue/Here");
  };
  install("Etc/UTC");
  ScopedEnv tzdir("TZDIR", zones.path());
  // Alice is on duty for three hours either side of now on UTC, Bob around now on UTC+12.
  const auto hour = std::chrono::floor<std::chrono::hours>(std::chrono::system_clock::now().time_since_epoch()).count() % 24;
  const auto window = [&](long long from) {
    const auto hh = [](long long h) { return (h % 24 < 10 ? "0" : "") + std::to_string(h % 24) + ":00"; };
    return "daily " + hh(hour + from + 24) + "-" + hh(hour + from + 6 + 24);
  };
  Venue v(alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"(", "on_duty": ")" +
                             window(-3) + R"("},
      {"id": "bob", "webhook": ")" + server.url("/bob") + R"(", "on_duty": ")" + window(9) + R"("}])",
                         R"(, "time_zone": "Venue/Here")"));
  auto& hub = *v.hub;
  const auto offset_now = [&] {
    const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
    return hub.on_io([&] { return hub.alerts().time_zone().offset_at(now); });
  };
  CHECK(offset_now() == std::chrono::hours(0));

  // The government moved the venue twelve hours east; the hub's next tick reads the new file.
  install("Etc/GMT-12");
  REQUIRE(wait_until([&] { return offset_now() == std::chrono::hours(12); }));
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return server.count("/bob") == 1; }));
  REQUIRE(wait_until([&] {
    return http_get(hub.port(), "/metrics").body.find("kiosk_webhook_queue_pending 0") != std::string::npos;
  }));
  CHECK(server.count("/alice") == 0);

  // A damaged file in a later update is not taken: the rules in force stay.
  {
    std::ofstream(zones / "Venue/Here.new") << "not a TZif file";
    fs::rename(zones / "Venue/Here.new", zones / "Venue/Here");
  }
  REQUIRE(wait_until([&] { return hub.on_io([&] { return hub.alerts().counters().time_zone_update_errors; }) == 1; }));
  CHECK(offset_now() == std::chrono::hours(12));
  CHECK(hub.on_io([&] { return hub.alerts().counters().time_zone_updates; }) == 1);
}

TEST_CASE("a resolved alert the broker missed before a hub restart is published once the broker is back",
          "[integration]") {
  TempDir broker_store;  // a broker that keeps retained messages across its restarts
  Broker broker(Broker::Options{.extra_config = "persistence true\npersistence_location " +
                                                (broker_store.path() / "").string() + "\n"});
  broker.start();
  TempDir dir;
  ShiftedClock clock;
  const std::vector<AlertHub::Device> devices{{"t-1", "front-desk"}};
  auto hub = std::make_unique<AlertHub>(broker, dir.path(), alert_settings(), devices, clock);
  const auto topic = hub->alert_topic("front-desk");
  {
    MqttProbe device(broker.url());
    device.connect();
    device.subscribe(hub->ack_topic("t-1"));
    press_bad(device, *hub, "t-1", 1, 3);
    MqttProbe manager(broker.url());
    manager.connect();
    manager.subscribe(topic);
    REQUIRE(manager.wait_for([&](const Message& m) { return is_alert(m, topic, "open"); }));
  }
  broker.stop();  // keeps the retained "open"
  REQUIRE(wait_until([&] { return !hub->connected(); }));
  clock.advance(std::chrono::seconds(121));  // calm for resolve_after: resolved, but the broker is away
  REQUIRE(wait_until([&] { return hub->on_io([&] { return hub->alerts().active_alerts().empty(); }); }));
  CHECK(hub->on_io([&] { return hub->alerts().counters().publish_failures; }) >= 1);
  hub.reset();  // the unpublished "resolved" was only in memory

  broker.start();
  hub = std::make_unique<AlertHub>(broker, dir.path(), alert_settings(), devices, clock);
  MqttProbe manager(broker.url());
  manager.connect();
  manager.subscribe(topic);
  REQUIRE(manager.wait_for([&](const Message& m) { return is_alert(m, topic, "resolved"); }));
  // And that is what the broker now retains for anyone who subscribes later.
  MqttProbe later(broker.url());
  later.connect();
  later.subscribe(topic);
  auto retained = later.wait_for([&](const Message& m) { return m.topic == topic; });
  REQUIRE(retained);
  CHECK(retained->retained);
  CHECK(payload_of(*retained).at("state").as_string() == "resolved");
  CHECK(payload_of(*retained).at("id").as_string() == "a-000001");
}

TEST_CASE("webhook posts of an alert change the database refused wait in memory and go out once it takes writes",
          "[integration]") {
  HookServer server;
  server.start();
  Venue v(alert_settings(R"([{"id": "alice", "webhook": ")" + server.url("/alice") + R"("}])"));
  auto& hub = *v.hub;
  // From now on the database refuses webhook posts, as a full disk would refuse any write.
  SideDoor side(v.dir / "data" / "hub.db");
  const auto exec = [&](const char* sql) { side.exec(sql); };
  exec("CREATE TRIGGER refuse BEFORE INSERT ON webhook_queue BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END");
  MqttProbe manager(v.broker.url());
  manager.connect();
  manager.subscribe(hub.alert_topic("front-desk"));
  press_bad(v.device, hub, "t-1", 1, 3);
  // Managers on MQTT hear of it at once, from memory.
  REQUIRE(manager.wait_for([&](const Message& m) { return is_alert(m, hub.alert_topic("front-desk"), "open"); }));
  const auto metrics = [&] { return http_get(hub.port(), "/metrics").body; };
  REQUIRE(wait_until([&] { return metrics().find("kiosk_webhook_posts_unqueued 1") != std::string::npos; }));
  CHECK(metrics().find("kiosk_alert_store_errors_total 0") == std::string::npos);
  CHECK(server.count("/alice") == 0);  // nothing queued, so nothing sent

  exec("DROP TRIGGER refuse");
  REQUIRE(wait_until([&] { return server.count("/alice") == 1; }));
  CHECK(json::parse(server.requests().back().body).at("event").as_string() == "opened");
  CHECK(metrics().find("kiosk_webhook_posts_unqueued 0") != std::string::npos);
}

TEST_CASE("alert changes the database refused are stored once it takes writes: an ack is not lost to a full disk",
          "[integration]") {
  Venue v(alert_settings());
  auto& hub = *v.hub;
  SideDoor side(v.dir / "data" / "hub.db");
  const auto exec = [&](const char* sql) { side.exec(sql); };
  sqlite3* db = side.db;
  const auto stored_state = [&]() -> std::string {
    sqlite3_stmt* s = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, "SELECT state, (SELECT COUNT(*) FROM alert_history WHERE alert_id = 'a-000001') "
                                   "FROM alerts WHERE id = 'a-000001'", -1, &s, nullptr) == SQLITE_OK);
    std::string state = "none";
    if (sqlite3_step(s) == SQLITE_ROW)
      state = std::string(reinterpret_cast<const char*>(sqlite3_column_text(s, 0))) + " after " +
              std::to_string(sqlite3_column_int(s, 1)) + " changes";
    sqlite3_finalize(s);
    return state;
  };
  // Every alert change writes its history: refusing that refuses the whole change, as a full disk would.
  exec("CREATE TRIGGER refuse BEFORE INSERT ON alert_history BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END");
  press_bad(v.device, hub, "t-1", 1, 3);
  REQUIRE(wait_until([&] { return http_get(hub.port(), "/metrics").body.find("kiosk_alert_changes_unstored 1") != std::string::npos; }));
  const auto ack = http_post(hub.port(), "/api/alerts/a-000001/ack", R"({"by":"bob"})", hub.token());
  REQUIRE(ack.status == 200);
  // In force, and the manager is told it is not stored yet and what that means.
  const auto acked = json::parse(ack.body).as_object();
  CHECK(acked.at("state").as_string() == "acked");
  CHECK(acked.at("stored").as_bool() == false);
  CHECK_THAT(std::string(acked.at("note").as_string()),
             Catch::Contains("database refuses writes") && Catch::Contains("a hub restart before that"));
  CHECK(http_get(hub.port(), "/metrics").body.find("kiosk_alert_changes_unstored 2") != std::string::npos);
  CHECK(stored_state() == "none");
  // The API lists what is in force, not the database's older state.
  const auto listed = json::parse(http_get(hub.port(), "/api/alerts?state=active").body).as_array();
  REQUIRE(listed.size() == 1);
  CHECK(listed.at(0).at("state").as_string() == "acked");
  CHECK(listed.at(0).at("acked_by").as_string() == "bob");
  CHECK(json::parse(http_get(hub.port(), "/api/alerts?state=open").body).as_array().empty());
  CHECK(json::parse(http_get(hub.port(), "/api/alerts/a-000001").body).at("state").as_string() == "acked");

  exec("DROP TRIGGER refuse");
  CHECK(wait_until([&] { return stored_state() == "acked after 2 changes"; }));
  CHECK(http_get(hub.port(), "/metrics").body.find("kiosk_alert_changes_unstored 0") != std::string::npos);
}

TEST_CASE("a limited alert list counts alerts as they are in force while the database refuses writes",
          "[integration]") {
  Venue v(alert_settings());
  auto& hub = *v.hub;
  SideDoor side(v.dir / "data" / "hub.db");
  const auto list = [&](const std::string& query) {
    return json::parse(http_get(hub.port(), "/api/alerts?" + query).body).as_array();
  };
  press_bad(v.device, hub, "t-1", 1, 3);  // a-000001 at the front desk, stored
  REQUIRE(wait_until([&] { return list("state=open").size() == 1; }));
  v.clock.advance(60s);
  press_bad(v.device, hub, "t-3", 1, 3);  // a-000002 at the bar, newer, stored open
  REQUIRE(wait_until([&] { return list("state=open").size() == 2; }));
  side.exec("CREATE TRIGGER refuse BEFORE INSERT ON alert_history BEGIN SELECT RAISE(ABORT, 'disk full (test)'); END");
  REQUIRE(http_post(hub.port(), "/api/alerts/a-000002/ack", R"({"by":"bob"})", hub.token()).status == 200);
  REQUIRE(http_get(hub.port(), "/metrics").body.find("kiosk_alert_changes_unstored 1") != std::string::npos);
  // The newest open alert is the front desk's: the bar's is acked, though only in memory.
  const auto open = list("state=open&limit=1");
  REQUIRE(open.size() == 1);
  CHECK(open.at(0).at("id").as_string() == "a-000001");
  const auto active = list("state=active&limit=1");
  REQUIRE(active.size() == 1);
  CHECK(active.at(0).at("id").as_string() == "a-000002");
  CHECK(active.at(0).at("state").as_string() == "acked");
  CHECK(list("state=active&limit=5").size() == 2);
  side.exec("DROP TRIGGER refuse");
  CHECK(wait_until([&] { return http_get(hub.port(), "/metrics").body.find("kiosk_alert_changes_unstored 0") != std::string::npos; }));
  CHECK(list("state=open&limit=1").at(0).at("id").as_string() == "a-000001");
}

TEST_CASE("ratings a terminal could not date open no alert, and its call for a manager still pages", "[integration]") {
  Venue v(alert_settings("[]", R"(, "call_manager": [{"location": "bar", "button": 3}])"));
  auto& hub = *v.hub;
  // A night's worth from before a reboot with the clock unset: age unknown, all dated on arrival.
  const auto undated = [](std::uint64_t seq, int button, int rating) {
    return R"({"seq":)" + std::to_string(seq) + R"(,"button":)" + std::to_string(button) + R"(,"rating":)" +
           std::to_string(rating) + R"(,"scale":4,"age_ms":0,"flags":["age-unknown"]})";
  };
  for (std::uint64_t seq = 1; seq <= 5; ++seq) REQUIRE(v.device.publish(hub.press_topic("t-3"), undated(seq, 0, 1)));
  REQUIRE(v.device.publish(hub.press_topic("t-3"), undated(6, 3, 1)));
  REQUIRE(wait_until([&] { return json::parse(http_get(hub.port(), "/api/alerts").body).as_array().size() == 1; }));
  const auto alert = json::parse(http_get(hub.port(), "/api/alerts").body).as_array().at(0).as_object();
  CHECK(alert.at("reason").as_string() == "A guest asked for a manager at bar");
  // Opened by the call itself: five bad ratings before it had opened nothing for it to update.
  const auto history = json::parse(http_get(hub.port(), "/api/alerts/" + std::string(alert.at("id").as_string())).body)
                           .at("history")
                           .as_array();
  REQUIRE(history.size() == 1);
  CHECK(history[0].at("change").as_string() == "opened");
}
