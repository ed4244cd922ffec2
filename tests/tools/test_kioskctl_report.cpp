// kioskctl report against a real kiosk-hub and mosquitto: presses stored through the hub come back
// as the manager's report, as JSON and as a table, in the venue's time; bad arguments are usage errors.
#include <catch2/catch.hpp>

#include <fstream>

#include <boost/json.hpp>

#include "kiosk_test.hpp"

using namespace kiosk::test;
namespace json = boost::json;

namespace {

struct Run {
  int status = -1;
  std::string output;  // stdout and stderr
};

// An open broker, a hub at UTC+01:00 with two terminals at the lobby, and kioskctl pointed at it.
struct Venue {
  Broker broker;
  TempDir dir;
  fs::path alerts;
  HubChild hub{broker, dir.path(),
               HubChild::Options{.site = "venue", .db = {}, .token_file = {}, .port_file = false,
                                 .extra_args = {"--alerts", alerts.string(), "--register-devices", "desk:2:lobby"}}};
  int runs = 0;

  explicit Venue(const std::string& alert_settings = R"({"utc_offset_min": 60})")
      : alerts(write(dir / "alerts.json", alert_settings)) {
    const bool up = hub.start();
    INFO(hub.log());
    REQUIRE(up);
  }

  static fs::path write(const fs::path& path, const std::string& text) {
    std::ofstream(path) << text;
    return path;
  }

  // Publishes (device, press payload) pairs as those terminals and returns the first report that
  // counts every one of them: as a rating, a repeat or a call for a manager.
  json::object press_and_report(const std::vector<std::pair<std::string, std::string>>& presses) {
    MqttProbe terminal(broker.url());
    terminal.connect();
    for (const auto& [device, payload] : presses)
      REQUIRE(terminal.publish("kiosk/v1/venue/device/" + device + "/press", payload, 1));
    json::object r;
    const bool stored = wait_until(
        [&] {
          r = report();
          const auto& t = r.at("total").as_object();
          return t.at("presses").to_number<std::size_t>() + t.at("repeats").to_number<std::size_t>() +
                     t.at("manager_calls").to_number<std::size_t>() == presses.size();
        },
        10s, 50ms);
    INFO(json::serialize(r));
    REQUIRE(stored);
    return r;
  }

  Run kioskctl(std::vector<std::string> args, std::string hub_url = {}) {
    std::vector<std::string> argv{(bin_dir() / "kioskctl").string(), "--hub", hub_url.empty() ? hub.url() : hub_url,
                                  "--token-file", hub.token_file().string()};
    argv.insert(argv.end(), args.begin(), args.end());
    const auto log = dir / ("kioskctl-" + std::to_string(++runs) + ".log");
    Child child(argv, Child::Options{.env = {{"HOME", dir.path().string()}, {"KIOSK_TOKEN", ""}, {"KIOSKCTL_CONFIG", ""}},
                                     .log_file = log, .working_dir = dir.path()});
    auto st = child.wait(30s);
    REQUIRE(st);
    return Run{*st, slurp(log)};
  }

  json::object report(std::vector<std::string> args = {}) {
    args.insert(args.begin(), "report");
    args.push_back("--json");
    auto r = kioskctl(args);
    INFO(r.output);
    REQUIRE(r.status == 0);
    return json::parse(r.output).as_object();
  }
};

// The first line of `text` that starts with `start`, empty when there is none.
std::string line_starting(const std::string& text, const std::string& start) {
  std::size_t pos = 0;
  while (pos < text.size()) {
    const auto end = text.find('\n', pos);
    const auto line = text.substr(pos, end == std::string::npos ? std::string::npos : end - pos);
    if (line.rfind(start, 0) == 0) return line;
    if (end == std::string::npos) break;
    pos = end + 1;
  }
  return {};
}

const json::object& location_in(const json::object& report, const std::string& id) {
  for (const auto& l : report.at("locations").as_array())
    if (l.at("id").as_string() == id) return l.as_object();
  FAIL("no location " << id << " in " << json::serialize(report));
  throw std::logic_error("unreachable");
}

}  // namespace

TEST_CASE("kioskctl report shows the presses stored through the hub, bad share, score and repeats", "[integration]") {
  Venue v;
  REQUIRE(v.kioskctl({"location", "add", "spa", "--name", "Spa"}).status == 0);
  // Scale 4: ratings 1 and 2 are bad. desk-0: 1, 4, 3; desk-1: 1, 4 and its guest pressing 1 again (a repeat).
  const auto report = v.press_and_report({
      {"desk-0", R"({"seq":1,"button":0,"rating":1,"scale":4,"age_ms":0})"},
      {"desk-0", R"({"seq":2,"button":3,"rating":4,"scale":4,"age_ms":0})"},
      {"desk-0", R"({"seq":3,"button":2,"rating":3,"scale":4,"age_ms":0})"},
      {"desk-1", R"({"seq":1,"button":0,"rating":1,"scale":4,"age_ms":0})"},
      {"desk-1", R"({"seq":2,"button":0,"rating":1,"scale":4,"age_ms":0,"flags":["repeat"]})"},
      {"desk-1", R"({"seq":3,"button":3,"rating":4,"scale":4,"age_ms":0})"},
  });
  CHECK(report.at("site") == "venue");
  CHECK(report.at("time_zone") == "UTC+01:00");
  CHECK(report.at("bad_rule") == "rating <= scale / 2");
  const auto& lobby = location_in(report, "lobby");
  CHECK(lobby.at("presses") == 5);
  CHECK(lobby.at("bad") == 2);
  CHECK(lobby.at("repeats") == 1);
  CHECK(lobby.at("manager_calls") == 0);
  CHECK(lobby.at("bad_rule") == "rating <= scale / 2");
  CHECK(lobby.at("bad_share").to_number<double>() == Approx(0.4));
  // (0 + 1 + 2/3 + 0 + 1) / 5 x 100
  CHECK(lobby.at("score").to_number<double>() == Approx(53.333).epsilon(1e-4));
  CHECK(lobby.at("days").as_array().size() == 7);
  CHECK(lobby.at("worst_hours").as_array().empty());  // 5 presses: below the 20 an hour needs
  const auto& spa = location_in(report, "spa");
  CHECK(spa.at("name") == "Spa");
  CHECK(spa.at("presses") == 0);
  CHECK(spa.at("bad_share").is_null());

  SECTION("the table says the same for people") {
    auto r = v.kioskctl({"report", "--daily"});
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Catch::Contains("Report for site venue") && Catch::Contains("(UTC+01:00)") &&
                             Catch::Contains("1 left out") && Catch::Contains("LOCATION") && Catch::Contains("WORST HOURS"));
    CHECK_THAT(line_starting(r.output, "lobby "), Catch::Matches("lobby +5 +2 +40\\.0% +53\\.3 +0 +0 +- +- +-"));
    CHECK_THAT(line_starting(r.output, "spa "), Catch::Matches("spa +0 +0 +- +- +0 +0 +- +- +-"));
    CHECK_THAT(line_starting(r.output, "ALL "), Catch::Matches("ALL +5 +2 +40\\.0% +53\\.3 .*"));
    const auto today = std::string(report.at("to_local").as_string()).substr(0, 10);
    CHECK_THAT(line_starting(r.output, "lobby                " + today),
               Catch::Matches("lobby +" + today + " +5 +2 +40\\.0% +53\\.3"));
  }
  SECTION("--location narrows it to one location") {
    auto only = v.report({"--location", "spa"});
    REQUIRE(only.at("locations").as_array().size() == 1);
    CHECK(only.at("total").at("presses") == 0);
  }
  SECTION("a period before the presses is empty") {
    auto before = v.report({"--from", "2020-01-01", "--to", "2020-01-02"});
    CHECK(before.at("total").at("presses") == 0);
    CHECK(before.at("from") == "2019-12-31T23:00:00.000Z");
    CHECK(before.at("locations").at(0).at("days").as_array().size() == 2);
    CHECK_FALSE(before.contains("note"));
    CHECK_FALSE(report.contains("note"));  // the last 7 days up to now
  }
  SECTION("a period that has not begun says so instead of showing bare zeros") {
    auto r = v.kioskctl({"report", "--from", "2099-01-01", "--days", "1"});
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK_THAT(r.output, Catch::Contains("\nNote: the period has not begun (it is now ") &&
                             Catch::Contains("nothing to count yet.\n"));
  }
}

TEST_CASE("kioskctl report counts calls for a manager apart from the ratings", "[integration]") {
  // Button 5 calls a manager anywhere at the lobby; desk-1's button 0 does too, on that terminal only.
  Venue v(R"({"utc_offset_min": 60,
              "call_manager": [{"location": "lobby", "button": 5}, {"device": "desk-1", "button": 0}]})");
  // Ratings: desk-0 1 and 4, desk-1 4. Calls: desk-0's button 5, desk-1's button 0 (its guest twice).
  const auto report = v.press_and_report({
      {"desk-0", R"({"seq":1,"button":0,"rating":1,"scale":4,"age_ms":0})"},
      {"desk-0", R"({"seq":2,"button":3,"rating":4,"scale":4,"age_ms":0})"},
      {"desk-0", R"({"seq":3,"button":5,"rating":1,"scale":4,"age_ms":0})"},
      {"desk-1", R"({"seq":1,"button":0,"rating":1,"scale":4,"age_ms":0})"},
      {"desk-1", R"({"seq":2,"button":0,"rating":1,"scale":4,"age_ms":0,"flags":["repeat"]})"},
      {"desk-1", R"({"seq":3,"button":3,"rating":4,"scale":4,"age_ms":0})"},
  });
  const auto& lobby = location_in(report, "lobby");
  CHECK(lobby.at("presses") == 3);
  CHECK(lobby.at("bad") == 1);
  CHECK(lobby.at("manager_calls") == 2);
  CHECK(lobby.at("repeats") == 1);
  CHECK(lobby.at("bad_share").to_number<double>() == Approx(1.0 / 3));
  CHECK(lobby.at("score").to_number<double>() == Approx(200.0 / 3));  // (0 + 1 + 1) / 3 x 100
  CHECK(report.at("total").at("manager_calls") == 2);

  auto r = v.kioskctl({"report"});
  INFO(r.output);
  REQUIRE(r.status == 0);
  CHECK_THAT(r.output, Catch::Contains("\nCalls for a manager, not counted as ratings: 2 (lobby 2).\n"));
  CHECK_THAT(line_starting(r.output, "lobby "), Catch::Matches("lobby +3 +1 +33\\.3% +66\\.7 .*"));
}

TEST_CASE("kioskctl report: bad arguments are usage errors, an unknown location and an unreachable hub fail", "[integration]") {
  Venue v;
  auto r = v.kioskctl({"report", "--from", "last-week"});
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("from: \"last-week\" is not a date") && Catch::Contains("kioskctl report --help"));
  r = v.kioskctl({"report", "--days", "0"});
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("--days must be a number of days in 1..366"));
  r = v.kioskctl({"report", "--from", "2026-11-01", "--to", "2026-11-02", "--days", "3"});
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("at most two"));
  r = v.kioskctl({"report", "--from", "2026-11-05", "--to", "2026-11-02"});
  CHECK(r.status == 2);
  CHECK_THAT(r.output, Catch::Contains("is not before to"));
  r = v.kioskctl({"report", "--location", "nowhere"});
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("no location nowhere"));
  r = v.kioskctl({"report"}, "http://127.0.0.1:" + std::to_string(free_tcp_port()));
  CHECK(r.status == 1);
  CHECK_THAT(r.output, Catch::Contains("check --hub") && Catch::Contains("kiosk-hub is running"));
}
