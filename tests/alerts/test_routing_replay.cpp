// Routing (schedules, coverage, escalation chain) and offline replay (CSV parsing, replay, scoring).
#include <catch2/catch.hpp>

#include "kiosk/hub/replay.hpp"
#include "kiosk/hub/routing.hpp"
#include "kiosk/protocol/time.hpp"

using namespace kiosk::hub;
using namespace std::chrono_literals;
using kiosk::protocol::AlertState;

namespace {

WallTime at(const char* text) { return kiosk::protocol::parse_time(text).value(); }

Contact person(std::string id, int level, std::vector<std::string> locations, const char* schedule) {
  Contact c;
  c.id = std::move(id);
  c.level = level;
  c.locations = std::move(locations);
  c.on_duty = parse_schedule(schedule).value();
  return c;
}

}  // namespace

TEST_CASE("a duty schedule is parsed from plain weekly windows and bad ones are rejected") {
  const auto s = parse_schedule("mon-fri 08:00-18:00, sat 10:00-14:00, daily 22:00-06:00");
  REQUIRE(s.ok());
  REQUIRE(s->size() == 3);
  CHECK((*s)[0] == DutyWindow{0, 4, 8 * 60, 18 * 60});
  CHECK((*s)[1] == DutyWindow{5, 5, 10 * 60, 14 * 60});
  CHECK((*s)[2] == DutyWindow{0, 6, 22 * 60, 6 * 60});
  CHECK(parse_schedule("").value().empty());
  CHECK(parse_schedule("fri-mon 00:00-24:00").ok());
  CHECK_FALSE(parse_schedule("weekdays 08:00-18:00").ok());
  CHECK_FALSE(parse_schedule("mon 8-18").ok());
  CHECK_FALSE(parse_schedule("mon 08:00-25:00").ok());
  CHECK_FALSE(parse_schedule("mon").ok());
  CHECK(parse_schedule("mon 08:00").error().field == "schedule");
}

TEST_CASE("on duty follows the weekly windows in venue local time, including past midnight") {
  const Contact day = person("alice", 0, {"*"}, "mon-fri 08:00-18:00");
  CHECK(on_duty(day, at("2026-10-05T08:00:00.000Z"), TimeZone()));   // Monday 08:00
  CHECK_FALSE(on_duty(day, at("2026-10-05T18:00:00.000Z"), TimeZone()));
  CHECK_FALSE(on_duty(day, at("2026-10-10T09:00:00.000Z"), TimeZone()));  // Saturday
  CHECK(on_duty(day, at("2026-10-05T06:30:00.000Z"), TimeZone::fixed(120min)));       // 08:30 at UTC+2
  const Contact night = person("nina", 0, {"*"}, "fri 22:00-06:00");
  CHECK(on_duty(night, at("2026-10-09T23:00:00.000Z"), TimeZone()));   // Friday 23:00
  CHECK(on_duty(night, at("2026-10-10T05:59:00.000Z"), TimeZone()));   // Saturday 05:59
  CHECK_FALSE(on_duty(night, at("2026-10-10T23:00:00.000Z"), TimeZone()));  // Saturday 23:00
  CHECK_FALSE(on_duty(night, at("2026-10-09T05:00:00.000Z"), TimeZone()));  // Friday 05:00
  CHECK(on_duty(Contact{}, at("2026-10-09T05:00:00.000Z"), TimeZone()));    // no schedule: always
  // With daylight saving time 08:00 is 06:00 UTC in summer and 07:00 UTC in winter.
  const auto berlin = load_time_zone("Europe/Berlin");
  REQUIRE(berlin);
  CHECK(on_duty(day, at("2026-10-23T06:30:00.000Z"), *berlin));        // Friday 08:30 CEST
  CHECK_FALSE(on_duty(day, at("2026-10-30T06:30:00.000Z"), *berlin));  // Friday 07:30 CET
  CHECK(on_duty(day, at("2026-10-30T07:30:00.000Z"), *berlin));        // Friday 08:30 CET
}

TEST_CASE("routing picks the on-duty contacts covering the location and falls back up the chain") {
  const Routing r({person("alice", 0, {"front-desk"}, "mon-fri 08:00-18:00"),
                   person("carol", 0, {"spa"}, ""),
                   person("bob", 1, {"*"}, ""),
                   person("gm", 2, {"*"}, "")},
                  TimeZone());
  const WallTime monday_10h = at("2026-10-05T10:00:00.000Z");
  const WallTime monday_22h = at("2026-10-05T22:00:00.000Z");
  auto a = r.who_gets("front-desk", monday_10h, 0);
  REQUIRE(a.contacts.size() == 1);
  CHECK(a.contacts[0].id == "alice");
  CHECK(a.level == 0);
  CHECK(r.who_gets("spa", monday_10h, 0).contacts[0].id == "carol");
  // Alice is off duty at night: the alert goes to the next level instead of nowhere.
  auto night = r.who_gets("front-desk", monday_22h, 0);
  CHECK(night.level == 1);
  CHECK(night.contacts[0].id == "bob");
  CHECK(r.who_gets("front-desk", monday_10h, 2).contacts[0].id == "gm");
  CHECK(r.who_gets("front-desk", monday_10h, 3).empty());
  CHECK(Routing{}.who_gets("spa", monday_10h, 0).level == -1);
}

TEST_CASE("the press CSV reports bad lines with their number and keeps the good ones") {
  const std::string csv =
      "time,location,device,rating,scale\n"
      "2026-10-05T10:00:00.000Z,front-desk,fd-1,1,4\n"
      "2026-10-05T10:00:01Z,front-desk,fd-1,4,4\r\n"
      "2026-10-05T10:00:02.000Z,Front Desk,fd-1,1,4\n"
      "yesterday,front-desk,fd-1,1,4\n"
      "2026-10-05T10:00:03.000Z,front-desk,fd-1,5,4\n"
      "2026-10-05T10:00:04.000Z,front-desk,fd-1\n"
      "\n"
      "2026-10-05T10:00:05.000Z,spa,spa-1,2,11\n"
      "2026-10-05T10:00:06.000Z,spa,spa-1,2,5\n";
  const auto parsed = parse_press_csv(csv);
  REQUIRE(parsed.ok());
  REQUIRE(parsed->rows.size() == 3);
  CHECK(parsed->rows[1].at == at("2026-10-05T10:00:01.000Z"));
  CHECK(parsed->rows[2].location == "spa");
  REQUIRE(parsed->problems.size() == 5);
  CHECK(parsed->problems[0].line == 4);
  CHECK(parsed->problems[0].reason.find("location") != std::string::npos);
  CHECK(parsed->problems[1].line == 5);
  CHECK(parsed->problems[2].line == 6);
  CHECK(parsed->problems[2].reason.find("rating") != std::string::npos);
  CHECK(parsed->problems[3].line == 7);
  CHECK(parsed->problems[4].line == 9);
}

TEST_CASE("the press CSV needs its header, in any column order") {
  CHECK_FALSE(parse_press_csv("").ok());
  CHECK_FALSE(parse_press_csv("2026-10-05T10:00:00.000Z,front-desk,fd-1,1,4\n").ok());
  const auto swapped = parse_press_csv("location,time,rating,scale,device,extra\nspa,2026-10-05T10:00:00Z,1,4,s-1,x\n");
  REQUIRE(swapped.ok());
  REQUIRE(swapped->rows.size() == 1);
  CHECK(swapped->rows[0].device == "s-1");
  CHECK(swapped->rows[0].rating == 1);
  const PressRow r{at("2026-10-05T10:00:00.000Z"), "spa", "s-1", 2, 4};
  CHECK(parse_press_csv(press_csv_header() + "\n" + to_csv(r)).value().rows.at(0) == r);
}

TEST_CASE("replay prints the alert an incident raises and its resolution") {
  std::vector<PressRow> rows;
  WallTime t = at("2026-10-05T10:00:00.000Z");
  for (int i = 0; i < 30; ++i) rows.push_back({t += 2min, "spa", "s-1", i % 10 == 0 ? 1 : 4, 4});
  // A new site: its baseline is a guess, so it takes a clear burst (the share of the site
  // itself rises with it).
  for (int i = 0; i < 10; ++i) rows.push_back({t += 30s, "spa", "s-1", 1, 4});
  for (int i = 0; i < 30; ++i) rows.push_back({t += 2min, "spa", "s-1", 4, 4});
  std::vector<kiosk::protocol::Alert> out;
  ReplaySettings s;
  CHECK(replay(rows, s, [&](const kiosk::protocol::Alert& a) { out.push_back(a); }) == rows.size());
  REQUIRE(out.size() >= 2);
  CHECK(out.front().state == AlertState::open);
  CHECK(out.front().id == "a-000001");
  CHECK(out.back().state == AlertState::resolved);
  CHECK(out.back().id == "a-000001");

  std::vector<kiosk::protocol::Alert> naive;
  s.rule = ReplaySettings::Rule::naive;
  replay(rows, s, [&](const kiosk::protocol::Alert& a) { naive.push_back(a); });
  REQUIRE_FALSE(naive.empty());
  CHECK(naive.front().state == AlertState::open);
}

TEST_CASE("evaluation counts detections, delays and false alerts against the truth") {
  const WallTime t = at("2026-10-05T10:00:00.000Z");
  std::vector<PressRow> rows;
  for (int i = 0; i < 7 * 24; ++i) rows.push_back({t + std::chrono::hours(i), "spa", "s-1", 4, 4});
  rows.push_back({t + 1h + 1min, "spa", "s-1", 1, 4});
  rows.push_back({t + 1h + 2min, "spa", "s-1", 1, 4});
  rows.push_back({t + 1h + 3min, "spa", "s-1", 1, 4});
  const std::vector<Incident> truth{{"spa", t + 1h, t + 2h, 0.8}, {"spa", t + 50h, t + 51h, 0.8}};
  kiosk::protocol::Alert hit{.id = "a-000001", .location = "spa", .since = t + 1h + 3min};
  kiosk::protocol::Alert hit_resolved = hit;
  hit_resolved.state = AlertState::resolved;
  hit_resolved.updated = t + 2h;
  kiosk::protocol::Alert wrong{.id = "a-000002", .location = "spa", .since = t + 100h};
  kiosk::protocol::Alert elsewhere{.id = "a-000003", .location = "bar", .since = t + 1h + 5min};
  const Evaluation ev = evaluate(rows, truth, {hit, hit_resolved, wrong, elsewhere}, 10min);
  CHECK(ev.incidents == 2);
  CHECK(ev.detected == 1);
  CHECK(ev.detectable == 1);
  CHECK(ev.detected_detectable == 1);
  CHECK(ev.median_delay_bad == 3);
  CHECK(ev.median_delay_s == Approx(180));
  CHECK(ev.alerts == 3);
  CHECK(ev.false_alerts == 2);
  CHECK(ev.location_weeks == Approx(1.0).margin(0.01));
}

TEST_CASE("the truth CSV round-trips and rejects an end before the start") {
  const Incident i{"spa", at("2026-10-05T10:00:00.000Z"), at("2026-10-05T10:30:00.000Z"), 0.75};
  const auto parsed = parse_truth_csv(truth_csv_header() + "\n" + to_csv(i) + "\nspa,2026-10-05T10:00:00Z,2026-10-05T09:00:00Z,0.5\n");
  REQUIRE(parsed.ok());
  REQUIRE(parsed->rows.size() == 1);
  CHECK(parsed->rows[0].start == i.start);
  CHECK(parsed->rows[0].bad_share == Approx(0.75));
  REQUIRE(parsed->problems.size() == 1);
  CHECK(parsed->problems[0].line == 3);
}
