// The manager's report: the period asked for, figures from hand-made rows (answers computed by
// hand), and the SQL against a real SQLite file (15-minute counts, edges, repeats, migration).
#include <catch2/catch.hpp>

#include <chrono>
#include <map>

#include <boost/json.hpp>

#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/report.hpp"
#include "kiosk/hub/report_query.hpp"
#include "kiosk/hub/sqlite_store.hpp"
#include "kiosk_test.hpp"
#include "press_commit.hpp"

using namespace kiosk::hub;
using namespace std::chrono;

namespace {

WallTime at(const char* text) { return *kiosk::protocol::parse_time(text); }

constexpr std::int64_t kHourMs = 3'600'000;

// Hours since the epoch of a UTC time (the local hour when the offset is 0).
std::int64_t hour_of(const char* text) { return to_ms(at(text)) / kHourMs; }

PressCount count(const std::string& location, std::int64_t hour, int rating, std::int64_t presses,
                 std::int64_t repeats = 0, int scale = 4, int button = 0, std::string device = {}) {
  return PressCount{location, hour, scale, rating, presses, repeats, button, std::move(device)};
}

ReportPeriod week() { return {at("2026-11-16T00:00:00.000Z"), at("2026-11-23T00:00:00.000Z")}; }

const LocationReport& location(const Report& r, const std::string& id) {
  for (const auto& l : r.locations)
    if (l.id == id) return l;
  FAIL("no location " << id);
  throw std::logic_error("unreachable");
}

// Each local day of a location's report with its presses.
using DayPresses = std::vector<std::pair<std::string, std::int64_t>>;
DayPresses day_presses(const LocationReport& l) {
  DayPresses out;
  for (const auto& d : l.days) out.emplace_back(d.date, d.tally.presses);
  return out;
}

ReportPeriod period_of(PeriodRequest request, const char* now, const TimeZone& zone = TimeZone()) {
  auto p = resolve_period(request, at(now), zone);
  INFO((p ? std::string() : p.error().message()));
  REQUIRE(p.ok());
  return *p;
}

std::string period_error(PeriodRequest request, const char* now = "2026-11-22T14:03:00.000Z") {
  auto p = resolve_period(request, at(now), TimeZone());
  REQUIRE_FALSE(p.ok());
  return p.error().message();
}

}  // namespace

TEST_CASE("bad share counts the lower half of the scale, the score maps ratings to 0..100, repeats are left out") {
  const auto h = hour_of("2026-11-17T10:00:00.000Z");
  // Scale 4: ratings 1 and 2 are bad. Rating 2 has two presses, one of them a repeat.
  const std::vector<PressCount> rows{count("lobby", h, 1, 2), count("lobby", h, 2, 2, 1), count("lobby", h, 3, 3),
                                     count("lobby", h, 4, 4)};
  const auto r = build_report(week(), ReportSettings{}, {{"lobby", "Lobby"}}, rows, {});
  const auto& lobby = location(r, "lobby");
  CHECK(lobby.name == "Lobby");
  CHECK(lobby.tally.presses == 10);
  CHECK(lobby.tally.bad == 3);
  CHECK(lobby.tally.repeats == 1);
  CHECK(*lobby.tally.bad_share() == Approx(0.3));
  // (0 * 2 + 1/3 * 1 + 2/3 * 3 + 1 * 4) / 10 = 0.6333
  CHECK(*lobby.tally.score() == Approx(63.333).epsilon(1e-4));
  CHECK(r.site.tally.presses == 10);
}

TEST_CASE("the bad rule follows the scale and the detector's bad_max_rating, per location") {
  const auto h = hour_of("2026-11-17T10:00:00.000Z");
  const std::vector<PressCount> rows{count("spa", h, 2, 1, 0, 5), count("spa", h, 3, 1, 0, 5),  // 5 / 2 = 2
                                     count("bar", h, 1, 1, 0, 2), count("bar", h, 2, 1, 0, 2),
                                     count("desk", h, 3, 1), count("desk", h, 4, 1)};
  ReportSettings settings;
  settings.bad_max_by_location["desk"] = 3;
  const auto r = build_report(week(), settings, {}, rows, {});
  CHECK(location(r, "spa").tally.bad == 1);
  CHECK(location(r, "bar").tally.bad == 1);
  CHECK(location(r, "desk").tally.bad == 1);
  CHECK(r.site.tally.bad == 3);
  CHECK(*location(r, "bar").tally.score() == Approx(50));
}

TEST_CASE("calls for a manager are counted apart: not in presses, bad, bad share, score or worst hours") {
  const auto h19 = hour_of("2026-11-17T19:00:00.000Z");
  const auto h08 = hour_of("2026-11-18T08:00:00.000Z");
  ReportSettings settings;
  settings.call_manager = {{.location = "lobby", .device = {}, .button = 4},
                           {.location = "*", .device = {}, .button = 5},
                           {.location = "*", .device = "t-7", .button = 0},
                           {.location = "*", .device = "t-9", .button = 4}};
  // Scale 4. Call buttons carry a rating like any button (1 here: bad, were it counted).
  const std::vector<PressCount> rows{
      // lobby 19:00: 10 bad, 10 best, and button 4 (lobby's call button) 5 times, 1 a repeat.
      count("lobby", h19, 1, 10, 0, 4, 0), count("lobby", h19, 4, 10, 0, 4, 3), count("lobby", h19, 1, 5, 1, 4, 4),
      // t-9's button 4 is a call by its device too: already counted by lobby's rule, not twice.
      count("lobby", h19, 1, 2, 0, 4, 4, "t-9"),
      // lobby 08:00: 16 ratings (4 bad) and 4 calls: 16 < 20 presses, so the hour is not ranked.
      count("lobby", h08, 2, 4, 0, 4, 1), count("lobby", h08, 3, 12, 0, 4, 2), count("lobby", h08, 1, 4, 0, 4, 4),
      // spa: button 0 is a rating (1), but t-7's button 0 calls a manager: 2 of the 6 presses.
      count("spa", h19, 1, 6, 0, 4, 0), count("spa", h19, 4, 4, 0, 4, 3), count("spa", h19, 1, 2, 0, 4, 0, "t-7"),
      // t-7's other buttons are ratings: its breakdown of them changes nothing.
      count("spa", h19, 4, 1, 0, 4, 3, "t-7"),
      // bar: button 5 calls everywhere ("*"), 3 times.
      count("bar", h19, 3, 3, 0, 4, 2), count("bar", h19, 4, 3, 0, 4, 5)};
  const auto r = build_report(week(), settings, {}, rows, {});

  const auto& lobby = location(r, "lobby").tally;
  CHECK(lobby.presses == 36);  // 10 + 10 + 4 + 12
  CHECK(lobby.bad == 14);      // 10 + 4
  CHECK(lobby.repeats == 1);
  CHECK(lobby.manager_calls == 8);  // 4 (5 less the repeat) + 4
  // (0 * 10 + 1 * 10 + 1/3 * 4 + 2/3 * 12) / 36 = 19.333 / 36
  CHECK(*lobby.score() == Approx(100.0 * (10 + 4.0 / 3 + 8) / 36));
  // Every stored press once: 25 + 20 at lobby (the t-9 row is a breakdown, not more presses).
  CHECK(lobby.presses + lobby.manager_calls + lobby.repeats == 45);
  const auto& lobby_hours = location(r, "lobby").worst_hours;
  REQUIRE(lobby_hours.size() == 1);
  CHECK(lobby_hours[0].hour == 19);
  CHECK(lobby_hours[0].tally.presses == 20);
  CHECK(*lobby_hours[0].tally.bad_share() == Approx(0.5));

  const auto& spa = location(r, "spa").tally;
  CHECK(spa.presses == 8);  // 6 - 2 + 4
  CHECK(spa.bad == 4);
  CHECK(spa.manager_calls == 2);
  CHECK(*spa.bad_share() == Approx(0.5));
  CHECK(*spa.score() == Approx(50));  // (0 * 4 + 1 * 4) / 8

  const auto& bar = location(r, "bar").tally;
  CHECK(bar.presses == 3);
  CHECK(bar.bad == 0);
  CHECK(bar.manager_calls == 3);
  CHECK(*bar.score() == Approx(200.0 / 3));

  CHECK(r.site.tally.presses == 47);
  CHECK(r.site.tally.bad == 18);
  CHECK(r.site.tally.manager_calls == 13);
  CHECK(r.site.tally.repeats == 1);
  // Site 19:00: lobby 20 + spa 8 + bar 3 = 31 ratings, 14 bad.
  REQUIRE_FALSE(r.site.worst_hours.empty());
  CHECK(r.site.worst_hours[0].hour == 19);
  CHECK(r.site.worst_hours[0].tally.presses == 31);
  CHECK(r.site.worst_hours[0].tally.bad == 14);
  CHECK(r.site.days[1].tally.manager_calls == 9);  // the 17th: 4 + 2 + 3
  CHECK(r.site.days[2].tally.manager_calls == 4);  // the 18th

  const auto j = to_json(r);
  CHECK(j.at("total").at("manager_calls") == 13);
  CHECK(j.at("total").at("presses") == 47);
  CHECK(j.at("locations").at(1).at("id") == "lobby");
  CHECK(j.at("locations").at(1).at("manager_calls") == 8);
  CHECK(j.at("locations").at(1).at("days").at(1).at("manager_calls") == 4);
}

TEST_CASE("a location of only calls for a manager has no bad share and no score") {
  ReportSettings settings;
  settings.call_manager = {{.location = "desk", .device = {}, .button = 0}};
  const auto r = build_report(week(), settings, {}, {count("desk", hour_of("2026-11-17T10:00:00.000Z"), 1, 3)}, {});
  CHECK(location(r, "desk").tally.presses == 0);
  CHECK(location(r, "desk").tally.manager_calls == 3);
  CHECK_FALSE(location(r, "desk").tally.bad_share().has_value());
  CHECK_FALSE(location(r, "desk").tally.score().has_value());
}

TEST_CASE("each location names the bad rule its ratings were judged by, next to the site's") {
  ReportSettings settings;
  settings.bad_max_rating = 2;
  settings.bad_max_by_location["desk"] = 3;
  settings.bad_max_by_location["spa"] = std::nullopt;  // its own detector, without bad_max_rating
  const auto j = to_json(build_report(week(), settings, {{"desk", "Desk"}, {"lobby", "Lobby"}, {"spa", "Spa"}}, {}, {}));
  CHECK(j.at("bad_rule") == "rating <= 2");
  CHECK(j.at("locations").at(0).at("bad_rule") == "rating <= 3");
  CHECK(j.at("locations").at(1).at("bad_rule") == "rating <= 2");
  CHECK(j.at("locations").at(2).at("bad_rule") == "rating <= scale / 2");
  CHECK_FALSE(j.at("total").as_object().contains("bad_rule"));  // the site's is at the top
  CHECK(to_json(build_report(week(), ReportSettings{}, {{"desk", "Desk"}}, {}, {})).at("locations").at(0).at("bad_rule") ==
        "rating <= scale / 2");
}

TEST_CASE("median is the middle value, or the mean of the two middle ones, and none when empty") {
  CHECK(*median_of({600, 60, 120}) == Approx(120));
  CHECK(*median_of({300, 100}) == Approx(200));
  CHECK(*median_of({5, 1, 9, 3}) == Approx(4));
  CHECK_FALSE(median_of({}).has_value());
}

TEST_CASE("alerts: raised in the period, acknowledged, and median times to acknowledge and to resolve") {
  const auto since = at("2026-11-18T20:00:00.000Z");
  const std::vector<AlertTimes> alerts{
      {"lobby", since, since + seconds{60}, since + seconds{100}},
      {"lobby", since, since + seconds{120}, std::nullopt},
      {"lobby", since, since + seconds{600}, since + seconds{300}},
      {"lobby", since, std::nullopt, std::nullopt},
      {"bar", since, std::nullopt, since + seconds{900}},
  };
  const auto r = build_report(week(), ReportSettings{}, {{"lobby", "Lobby"}, {"bar", "Bar"}}, {}, alerts);
  const auto& lobby = location(r, "lobby").alerts;
  CHECK(lobby.raised == 4);
  CHECK(lobby.acknowledged == 3);
  CHECK(lobby.resolved == 2);
  CHECK(*lobby.median_ack_s == Approx(120));     // 60, 120, 600
  CHECK(*lobby.median_resolve_s == Approx(200));  // 100, 300
  const auto& bar = location(r, "bar").alerts;
  CHECK(bar.acknowledged == 0);
  CHECK_FALSE(bar.median_ack_s.has_value());
  CHECK(*bar.median_resolve_s == Approx(900));
  CHECK(r.site.alerts.raised == 5);
  CHECK(*r.site.alerts.median_ack_s == Approx(120));
  CHECK(*r.site.alerts.median_resolve_s == Approx(300));  // 100, 300, 900
}

TEST_CASE("an empty period lists every location with zero presses, no shares and a zero line per day") {
  const auto r = build_report(week(), ReportSettings{}, {{"lobby", "Lobby"}, {"spa", "Spa"}}, {}, {});
  REQUIRE(r.locations.size() == 2);
  for (const auto& l : r.locations) {
    CHECK(l.tally.presses == 0);
    CHECK_FALSE(l.tally.bad_share().has_value());
    CHECK_FALSE(l.tally.score().has_value());
    CHECK(l.alerts.raised == 0);
    CHECK_FALSE(l.alerts.median_ack_s.has_value());
    CHECK(l.worst_hours.empty());
    REQUIRE(l.days.size() == 7);
    CHECK(l.days.front().date == "2026-11-16");
    CHECK(l.days.back().date == "2026-11-22");
    CHECK(l.days[3].tally.presses == 0);
  }
  const auto j = to_json(r);
  CHECK(j.at("total").at("bad_share").is_null());
  CHECK(j.at("total").at("score").is_null());
  CHECK(j.at("locations").as_array().size() == 2);
}

TEST_CASE("a location with presses is listed next to a location without any") {
  const auto h = hour_of("2026-11-17T10:00:00.000Z");
  const auto r = build_report(week(), ReportSettings{}, {{"lobby", "Lobby"}, {"spa", "Spa"}}, {count("lobby", h, 1, 4)}, {});
  CHECK(location(r, "lobby").tally.presses == 4);
  CHECK(location(r, "spa").tally.presses == 0);
  CHECK(location(r, "spa").name == "Spa");
}

TEST_CASE("worst hours rank hours of day by bad share, only those with enough presses") {
  std::vector<PressCount> rows;
  // 19:00 on two days: 12 + 12 presses, 6 bad: 25 %, enough.
  rows.push_back(count("lobby", hour_of("2026-11-17T19:00:00.000Z"), 1, 3));
  rows.push_back(count("lobby", hour_of("2026-11-17T19:00:00.000Z"), 4, 9));
  rows.push_back(count("lobby", hour_of("2026-11-18T19:00:00.000Z"), 1, 3));
  rows.push_back(count("lobby", hour_of("2026-11-18T19:00:00.000Z"), 4, 9));
  // 08:00: 19 presses, all bad: below the 20-press threshold, not ranked.
  rows.push_back(count("lobby", hour_of("2026-11-17T08:00:00.000Z"), 1, 19));
  // 12:00: 40 presses, 4 bad: 10 %.
  rows.push_back(count("lobby", hour_of("2026-11-17T12:00:00.000Z"), 2, 4));
  rows.push_back(count("lobby", hour_of("2026-11-17T12:00:00.000Z"), 3, 36));
  // 15:00: 30 presses, none bad: nothing to warn about.
  rows.push_back(count("lobby", hour_of("2026-11-17T15:00:00.000Z"), 4, 30));
  // 21:00: 20 presses (exactly enough), 5 bad: 25 % like 19:00 but on fewer presses.
  rows.push_back(count("lobby", hour_of("2026-11-17T21:00:00.000Z"), 1, 5));
  rows.push_back(count("lobby", hour_of("2026-11-17T21:00:00.000Z"), 3, 15));
  const auto r = build_report(week(), ReportSettings{}, {}, rows, {});
  const auto& worst = location(r, "lobby").worst_hours;
  REQUIRE(worst.size() == 3);
  CHECK(worst[0].hour == 19);
  CHECK(worst[0].tally.presses == 24);
  CHECK(*worst[0].tally.bad_share() == Approx(0.25));
  CHECK(worst[1].hour == 21);
  CHECK(worst[2].hour == 12);
  CHECK(r.site.worst_hours.size() == 3);
}

TEST_CASE("hours and days are the venue's local time when the hub knows its UTC offset") {
  ReportSettings settings;
  settings.time_zone = TimeZone::fixed(minutes{60});
  // 23:30 UTC on the 17th is 00:30 on the 18th at UTC+01:00.
  const auto local_hour = (to_ms(at("2026-11-17T23:30:00.000Z")) + kHourMs) / kHourMs;
  const ReportPeriod period{at("2026-11-16T23:00:00.000Z"), at("2026-11-18T23:00:00.000Z")};  // two local days
  std::vector<PressCount> rows{count("lobby", local_hour, 1, 20)};
  const auto r = build_report(period, settings, {}, rows, {});
  const auto& lobby = location(r, "lobby");
  CHECK(day_presses(lobby) == DayPresses{{"2026-11-17", 0}, {"2026-11-18", 20}});
  REQUIRE(lobby.worst_hours.size() == 1);
  CHECK(lobby.worst_hours[0].hour == 0);
  const auto j = to_json(r);
  CHECK(j.at("time_zone") == "UTC+01:00");
  CHECK(j.at("from_local") == "2026-11-17 00:00");
  CHECK(j.at("to_local") == "2026-11-19 00:00");
  CHECK(j.at("utc_offset_min") == 60);
}

TEST_CASE("the default period is the last 7 local days, today so far included") {
  auto p = period_of({}, "2026-11-22T14:03:00.000Z");
  CHECK(p.from == at("2026-11-16T00:00:00.000Z"));
  CHECK(p.to == at("2026-11-22T14:03:00.000Z"));
  // At UTC+01:00 the local day started at 23:00 UTC.
  p = period_of({}, "2026-11-22T14:03:00.000Z", TimeZone::fixed(minutes{60}));
  CHECK(p.from == at("2026-11-15T23:00:00.000Z"));
  p = period_of({.from = {}, .to = {}, .days = "1"}, "2026-11-22T14:03:00.000Z");
  CHECK(p.from == at("2026-11-22T00:00:00.000Z"));
}

TEST_CASE("from and to take dates (to includes its day) or RFC 3339 times with Z or an offset") {
  auto p = period_of({.from = "2026-11-01", .to = "2026-11-07", .days = {}}, "2026-11-22T14:03:00.000Z", TimeZone::fixed(minutes{60}));
  CHECK(p.from == at("2026-10-31T23:00:00.000Z"));
  CHECK(p.to == at("2026-11-07T23:00:00.000Z"));
  p = period_of({.from = "2026-11-01T08:00:00+01:00", .to = "2026-11-01T10:30:00.5Z", .days = {}}, "2026-11-22T14:03:00.000Z");
  CHECK(p.from == at("2026-11-01T07:00:00.000Z"));
  CHECK(p.to == at("2026-11-01T10:30:00.500Z"));
  p = period_of({.from = "2026-11-01", .to = {}, .days = "3"}, "2026-11-22T14:03:00.000Z");
  CHECK(p.to == at("2026-11-04T00:00:00.000Z"));
  p = period_of({.from = {}, .to = "2026-11-07", .days = "2"}, "2026-11-22T14:03:00.000Z");
  CHECK(p.from == at("2026-11-06T00:00:00.000Z"));
  CHECK(p.to == at("2026-11-08T00:00:00.000Z"));
}

TEST_CASE("a period not all in the past carries a note: not begun yet, or figures up to now") {
  const auto zone = TimeZone::fixed(minutes{60});
  const auto now = at("2026-11-22T14:03:00.000Z");
  CHECK_FALSE(period_note(period_of({}, "2026-11-22T14:03:00.000Z", zone), now, zone));
  CHECK_FALSE(period_note(week(), at("2026-11-23T00:00:00.000Z"), zone));  // ends at now: over
  CHECK(period_note(period_of({.from = {}, .to = "2026-11-22", .days = {}}, "2026-11-22T14:03:00.000Z", zone), now, zone) ==
        "figures up to now, 2026-11-22 15:03; the period goes on after");
  CHECK(period_note(period_of({.from = "2026-12-01", .to = {}, .days = "3"}, "2026-11-22T14:03:00.000Z", zone), now, zone) ==
        "the period has not begun (it is now 2026-11-22 15:03): nothing to count yet");
}

TEST_CASE("a bad period is an error that says what to fix") {
  CHECK_THAT(period_error({.from = "yesterday", .to = {}, .days = {}}), Catch::Contains("from: \"yesterday\" is not a date"));
  CHECK_THAT(period_error({.from = "2026-02-30", .to = {}, .days = {}}), Catch::Contains("is not a date"));
  CHECK_THAT(period_error({.from = "2026-11-01T08:00:00", .to = {}, .days = {}}), Catch::Contains("needs a time zone"));
  CHECK_THAT(period_error({.from = {}, .to = {}, .days = "0"}), Catch::Contains("days: \"0\" is not a number of days in 1..366"));
  CHECK_THAT(period_error({.from = {}, .to = {}, .days = "7x"}), Catch::Contains("days:"));
  CHECK_THAT(period_error({.from = "2026-11-01", .to = "2026-11-02", .days = "3"}), Catch::Contains("at most two"));
  CHECK_THAT(period_error({.from = "2026-11-05", .to = "2026-11-02", .days = {}}), Catch::Contains("is not before to"));
  CHECK_THAT(period_error({.from = "2024-01-01", .to = "2026-01-01", .days = {}}), Catch::Contains("longer than 366 days"));
}

// ---- the SQL ---------------------------------------------------------------------------------

namespace {

PressRecord press(const std::string& device, std::uint64_t seq, const std::string& location, int rating,
                  std::int64_t at_ms, std::vector<std::string> flags = {}) {
  return PressRecord{device, seq, location, 0, rating, 4, std::move(flags), at_ms, at_ms + 5};
}

// What the report should count, straight from the rows: presses and repeats by (location, hour, rating).
using Key = std::tuple<std::string, std::int64_t, int>;
std::map<Key, std::pair<std::int64_t, std::int64_t>> totals(const std::vector<PressCount>& counts) {
  std::map<Key, std::pair<std::int64_t, std::int64_t>> out;
  for (const auto& c : counts) {
    auto& t = out[{c.location, c.local_hour, c.rating}];
    t.first += c.presses;
    t.second += c.repeats;
  }
  return out;
}

}  // namespace

TEST_CASE("the report's SQL counts presses by location and local hour, edges of the period included exactly") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "hub.db").string(), "s");
  const auto base = to_ms(at("2026-11-17T10:00:00.000Z"));
  std::vector<PressRecord> rows{
      press("d1", 1, "lobby", 1, base + 1'000),                // 10:00:01, a partial first slot below
      press("d1", 2, "lobby", 1, base + 2'000, {"repeat"}),    // the same guest again
      press("d1", 3, "lobby", 4, base + 20 * 60'000),          // 10:20, a whole slot
      press("d2", 1, "spa", 2, base + 50 * 60'000),            // 10:50
      press("d2", 2, "spa", 3, base + 70 * 60'000),            // 11:10, a partial last slot below
      press("d2", 3, "spa", 3, base + 80 * 60'000),            // 11:20: after the period
      press("d2", 4, "spa", 3, base - 60'000),                 // 09:59: before it
  };
  std::vector<bool> inserted;
  REQUIRE_FALSE(kiosk::test::commit_presses(store, rows, inserted));
  const ReportPeriod period{from_ms(base + 500), from_ms(base + 75 * 60'000)};
  auto counts = read_press_counts(store.database(), "s", period, TimeZone::fixed(minutes{0}), std::nullopt);
  REQUIRE(counts.ok());
  const auto h10 = base / kHourMs;
  const std::map<Key, std::pair<std::int64_t, std::int64_t>> expected{
      {{"lobby", h10, 1}, {2, 1}}, {{"lobby", h10, 4}, {1, 0}}, {{"spa", h10, 2}, {1, 0}}, {{"spa", h10 + 1, 3}, {1, 0}}};
  CHECK(totals(*counts) == expected);

  SECTION("one location only") {
    auto spa = read_press_counts(store.database(), "s", period, TimeZone::fixed(minutes{0}), std::string("spa"));
    REQUIRE(spa.ok());
    CHECK(totals(*spa) == std::map<Key, std::pair<std::int64_t, std::int64_t>>{{{"spa", h10, 2}, {1, 0}},
                                                                               {{"spa", h10 + 1, 3}, {1, 0}}});
  }
  SECTION("a half-hour UTC offset moves presses to their local hour") {
    auto local = read_press_counts(store.database(), "s", period, TimeZone::fixed(minutes{30}), std::nullopt);
    REQUIRE(local.ok());
    const auto t = totals(*local);
    CHECK(t.at({"lobby", h10, 1}).first == 2);      // 10:30 local
    CHECK(t.at({"lobby", h10, 4}).first == 1);      // 10:50 local
    CHECK(t.at({"spa", h10 + 1, 2}).first == 1);    // 11:20 local
    CHECK(t.at({"spa", h10 + 1, 3}).first == 1);    // 11:40 local
  }
  SECTION("a different press under a used seq (a reset terminal) is counted like any press") {
    auto conflict = press("d1", 3, "lobby", 1, base + 21 * 60'000);          // in a whole slot
    auto early = press("d1", 1, "lobby", 2, base + 5 * 60'000);              // in the partial first slot
    REQUIRE_FALSE(kiosk::test::commit_presses(store, {conflict, conflict, early}, inserted));  // a re-send in the same batch
    auto after = read_press_counts(store.database(), "s", period, TimeZone::fixed(minutes{0}), std::nullopt);
    REQUIRE(after.ok());
    const auto t = totals(*after);
    CHECK(t.at({"lobby", h10, 1}).first == 3);  // the two of 10:00, and the conflict
    CHECK(t.at({"lobby", h10, 4}).first == 1);  // the press stored under seq 3 stays
    CHECK(t.at({"lobby", h10, 2}).first == 1);  // read from the conflicts, not the slots
  }
  SECTION("a re-sent press that moves to an earlier time moves its count too") {
    auto resent = press("d1", 3, "lobby", 4, base - 30 * 60'000);  // now 09:30: out of the period
    REQUIRE_FALSE(kiosk::test::commit_presses(store, {resent}, inserted));
    REQUIRE_FALSE(inserted[0]);
    auto after = read_press_counts(store.database(), "s", period, TimeZone::fixed(minutes{0}), std::nullopt);
    REQUIRE(after.ok());
    const auto t = totals(*after);
    const auto moved = t.find({"lobby", h10, 4});
    CHECK((moved == t.end() ? 0 : moved->second.first) == 0);
    // Counted once, at its new time: the re-send itself is not a press.
    auto earlier = read_press_counts(store.database(), "s", {from_ms(base - kHourMs), from_ms(base)}, TimeZone(),
                                     std::nullopt);
    REQUIRE(earlier.ok());
    CHECK(totals(*earlier) == std::map<Key, std::pair<std::int64_t, std::int64_t>>{{{"lobby", h10 - 1, 4}, {1, 0}},
                                                                                   {{"spa", h10 - 1, 3}, {1, 0}}});
  }
}

TEST_CASE("report days and hours follow the venue's daylight saving time, the repeated hour counted once as local time") {
  const auto berlin = load_time_zone("Europe/Berlin");
  REQUIRE(berlin);
  // The clocks go back at 03:00 CEST on 2026-10-25: that day has 25 hours.
  auto p = period_of({.from = "2026-10-24", .to = "2026-10-26", .days = {}}, "2026-11-22T14:03:00.000Z", *berlin);
  CHECK(p.from == at("2026-10-23T22:00:00.000Z"));  // midnight CEST
  CHECK(p.to == at("2026-10-26T23:00:00.000Z"));    // midnight CET
  // ... and forward at 02:00 CET on 2026-03-29: two days back from the 30th start at midnight CET.
  CHECK(period_of({.from = {}, .to = {}, .days = "2"}, "2026-03-30T12:00:00.000Z", *berlin).from ==
        at("2026-03-28T23:00:00.000Z"));
  // A week from a date is seven local days, though one of them has 23 hours.
  CHECK(period_of({.from = "2026-03-23", .to = {}, .days = "7"}, "2026-11-22T14:03:00.000Z", *berlin).to ==
        at("2026-03-29T22:00:00.000Z"));  // Monday the 30th, 00:00 CEST
  // 366 local days with a 25-hour day in them are not longer than 366 days.
  CHECK(period_of({.from = {}, .to = "2026-10-25", .days = "366"}, "2026-11-22T14:03:00.000Z", *berlin).from ==
        at("2025-10-24T22:00:00.000Z"));

  kiosk::test::TempDir dir;
  SqliteStore store((dir / "hub.db").string(), "s");
  std::vector<PressRecord> rows{
      press("d1", 1, "lobby", 1, to_ms(at("2026-10-25T00:30:00.000Z"))),  // 02:30 CEST
      press("d1", 2, "lobby", 4, to_ms(at("2026-10-25T01:30:00.000Z"))),  // 02:30 CET, an hour later
      press("d1", 3, "lobby", 4, to_ms(at("2026-10-25T22:59:00.000Z"))),  // 23:59 CET on the 25th
      press("d1", 4, "lobby", 1, to_ms(at("2026-10-25T23:30:00.000Z"))),  // 00:30 CET on the 26th
      press("d1", 5, "lobby", 1, to_ms(at("2026-10-23T22:10:00.000Z"))),  // 00:10 CEST on the 24th
  };
  std::vector<bool> inserted;
  REQUIRE_FALSE(kiosk::test::commit_presses(store, rows, inserted));
  auto counts = read_press_counts(store.database(), "s", p, *berlin, std::nullopt);
  REQUIRE(counts.ok());
  // Hours since the epoch on Berlin's clock: 02:00 on the 25th holds both 02:30s.
  const auto local_hour = [](const char* local) { return to_ms(at(local)) / kHourMs; };
  const auto t = totals(*counts);
  CHECK(t.at({"lobby", local_hour("2026-10-25T02:00:00.000Z"), 1}).first == 1);
  CHECK(t.at({"lobby", local_hour("2026-10-25T02:00:00.000Z"), 4}).first == 1);
  CHECK(t.at({"lobby", local_hour("2026-10-25T23:00:00.000Z"), 4}).first == 1);
  CHECK(t.at({"lobby", local_hour("2026-10-26T00:00:00.000Z"), 1}).first == 1);
  CHECK(t.at({"lobby", local_hour("2026-10-24T00:00:00.000Z"), 1}).first == 1);
  ReportSettings settings;
  settings.time_zone = *berlin;
  const auto r = build_report(p, settings, {}, *counts, {});
  CHECK(day_presses(location(r, "lobby")) == DayPresses{{"2026-10-24", 1}, {"2026-10-25", 3}, {"2026-10-26", 1}});
  const auto j = to_json(r);
  CHECK(j.at("time_zone") == "Europe/Berlin");
  CHECK(j.at("from_local") == "2026-10-24 00:00");
  CHECK(j.at("to_local") == "2026-10-27 00:00");
  CHECK(j.at("utc_offset_min") == 60);
}

TEST_CASE("the report's SQL reads a device's own call button apart, so its presses count as calls for a manager") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "hub.db").string(), "s");
  const auto base = to_ms(at("2026-11-17T10:00:00.000Z"));
  const auto at_button = [](const std::string& device, std::uint64_t seq, const std::string& location, int button,
                            int rating, std::int64_t at_ms, std::vector<std::string> flags = {}) {
    return PressRecord{device, seq, location, button, rating, 4, std::move(flags), at_ms, at_ms + 5};
  };
  const std::vector<PressRecord> rows{
      at_button("d1", 1, "lobby", 0, 1, base + 1'000),                    // a rating, in the partial first slot
      at_button("d1", 2, "lobby", 0, 1, base + 20 * 60'000),              // a rating, in a whole slot
      at_button("d1", 3, "lobby", 3, 4, base + 25 * 60'000),
      at_button("d1", 4, "lobby", 5, 4, base + 50 * 60'000),              // button 5 calls everywhere
      at_button("t-7", 1, "lobby", 0, 1, base + 2'000),                   // t-7's button 0 calls: partial slot
      at_button("t-7", 2, "lobby", 0, 1, base + 30 * 60'000),             // ... and a whole slot
      at_button("t-7", 3, "lobby", 0, 1, base + 31 * 60'000, {"repeat"}),  // the same guest again
      at_button("t-7", 4, "lobby", 1, 2, base + 40 * 60'000),             // t-7's other buttons are ratings
      at_button("t-7", 5, "lobby", 0, 1, base + 80 * 60'000),             // after the period
      at_button("t-7", 6, "lobby", 0, 1, base - 60'000),                  // before it
      at_button("d2", 1, "spa", 0, 1, base + 70 * 60'000),                // a rating, in the partial last slot
  };
  std::vector<bool> inserted;
  REQUIRE_FALSE(kiosk::test::commit_presses(store, rows, inserted));
  const ReportPeriod period{from_ms(base + 500), from_ms(base + 75 * 60'000)};
  ReportSettings settings;
  settings.call_manager = {{.location = "*", .device = {}, .button = 5}, {.location = "*", .device = "t-7", .button = 0}};
  const auto report = [&](const std::optional<std::string>& location) {
    auto counts = read_press_counts(store.database(), "s", period, TimeZone::fixed(minutes{0}), location, settings.call_manager);
    INFO((counts ? std::string() : counts.error().message()));
    REQUIRE(counts.ok());
    return build_report(period, settings, {}, *counts, {});
  };
  const auto r = report(std::nullopt);
  const auto& lobby = location(r, "lobby").tally;
  CHECK(lobby.presses == 4);  // d1: 1, 1, 4; t-7: 2
  CHECK(lobby.bad == 3);
  CHECK(lobby.manager_calls == 3);  // t-7 twice, d1's button 5 once
  CHECK(lobby.repeats == 1);
  CHECK(location(r, "spa").tally.presses == 1);
  CHECK(location(r, "spa").tally.manager_calls == 0);
  CHECK(r.site.tally.presses == 5);
  CHECK(r.site.tally.manager_calls == 3);

  SECTION("one location only") {
    const auto only = report(std::string("lobby"));
    REQUIRE(only.locations.size() == 1);
    CHECK(only.site.tally.presses == 4);
    CHECK(only.site.tally.manager_calls == 3);
    CHECK(report(std::string("spa")).site.tally.manager_calls == 0);
  }
  SECTION("with no location's call button the rows are not split by button, and the device's still count") {
    settings.call_manager.erase(settings.call_manager.begin());
    const auto only_device = report(std::nullopt);
    CHECK(location(only_device, "lobby").tally.presses == 5);  // d1's button 5 is a rating now
    CHECK(location(only_device, "lobby").tally.bad == 3);
    CHECK(location(only_device, "lobby").tally.manager_calls == 2);
    CHECK(only_device.site.tally.presses == 6);
  }
  SECTION("without the device's button in the settings its presses are ratings") {
    settings.call_manager.pop_back();
    const auto before = report(std::nullopt);
    CHECK(before.site.tally.presses == 7);
    CHECK(before.site.tally.bad == 6);
    CHECK(before.site.tally.manager_calls == 1);
  }
}

TEST_CASE("the report's SQL counts alerts raised in the period with their ack and resolve times") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "hub.db").string(), "s");
  const auto base = to_ms(at("2026-11-17T10:00:00.000Z"));
  auto& db = store.database();
  const auto insert = [&](const char* id, std::int64_t since, std::optional<std::int64_t> acked,
                          std::optional<std::int64_t> resolved) {
    Statement s(db,
                "INSERT INTO alerts (id, site, location, state, severity, since_ms, updated_ms, bad, total, window_s, "
                "baseline, reason, acked_at_ms, resolved_at_ms) VALUES (?, 's', 'lobby', 'open', 'warning', ?, ?, 3, 5, "
                "60, 0.1, 'r', ?, ?)");
    s.bind(1, std::string_view(id)).bind(2, since).bind(3, since).bind_opt(4, acked).bind_opt(5, resolved);
    s.step();
    REQUIRE_FALSE(s.failed());
  };
  insert("a-1", base, base + 60'000, base + 600'000);
  insert("a-2", base + 1000, std::nullopt, std::nullopt);
  insert("a-3", base - 1000, base, base);  // raised before the period
  auto alerts = read_alert_times(db, "s", {from_ms(base), from_ms(base + kHourMs)}, std::nullopt);
  REQUIRE(alerts.ok());
  REQUIRE(alerts->size() == 2);
  const auto r = build_report({from_ms(base), from_ms(base + kHourMs)}, ReportSettings{}, {}, {}, *alerts);
  CHECK(r.site.alerts.raised == 2);
  CHECK(r.site.alerts.acknowledged == 1);
  CHECK(*r.site.alerts.median_ack_s == Approx(60));
  CHECK(*r.site.alerts.median_resolve_s == Approx(600));
}

TEST_CASE("migration 4 fills the 15-minute press counts from the presses already stored") {
  kiosk::test::TempDir dir;
  const auto path = (dir / "v3.db").string();
  const auto base = to_ms(at("2026-11-17T10:00:00.000Z"));
  {
    Database db(path);
    migrate(db, 3);
    for (int i = 0; i < 5; ++i) {
      Statement s(db,
                  "INSERT INTO presses (site, device, seq, location, button, rating, scale, flags, pressed_at_ms, "
                  "received_at_ms) VALUES ('s', 'd1', ?, 'lobby', 0, 1, 4, ?, ?, ?)");
      s.bind(1, std::int64_t{i}).bind(2, std::string_view(i == 0 ? "[\"repeat\"]" : "[]"));
      s.bind(3, base + i * 60'000).bind(4, base + i * 60'000);
      s.step();
      REQUIRE_FALSE(s.failed());
    }
  }
  SqliteStore store(path, "s");
  REQUIRE(schema_version(store.database()) == latest_schema_version());
  auto counts = read_press_counts(store.database(), "s", {from_ms(base), from_ms(base + kHourMs)}, TimeZone(), std::nullopt);
  REQUIRE(counts.ok());
  CHECK(totals(*counts).at({"lobby", base / kHourMs, 1}) == std::pair<std::int64_t, std::int64_t>{5, 1});
}

// Not run by default (ctest runs it hidden): how long the report's reads take on a database of
// 1 million presses over a week at 12 locations, as one would answer /api/report.
// Run: build-report/tests/hub/test_report "[.perf]"
TEST_CASE("report on a week of 1 million presses", "[.perf]") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "big.db").string(), "s");
  const auto start = to_ms(at("2026-11-16T00:00:00.000Z"));
  constexpr int kPresses = 1'000'000;
  const std::int64_t step = 7 * 24 * kHourMs / kPresses;  // ~605 ms apart
  std::vector<PressRecord> batch;
  std::vector<bool> inserted;
  const auto fill_start = steady_clock::now();
  for (int i = 0; i < kPresses; ++i) {
    batch.push_back(press("d" + std::to_string(i % 40), static_cast<std::uint64_t>(i), "loc-" + std::to_string(i % 12),
                          1 + (i / 7) % 4, start + i * step, i % 20 == 0 ? std::vector<std::string>{"repeat"} : std::vector<std::string>{}));
    if (batch.size() == 20'000) {
      REQUIRE_FALSE(kiosk::test::commit_presses(store, batch, inserted));
      batch.clear();
    }
  }
  REQUIRE(store.press_count() == kPresses);
  WARN("stored " << kPresses << " presses in "
                 << duration_cast<milliseconds>(steady_clock::now() - fill_start).count() << " ms");
  const ReportPeriod period{from_ms(start), from_ms(start + 7 * 24 * kHourMs - 123'456)};  // partial last slot
  for (int run = 0; run < 3; ++run) {
    const auto t0 = steady_clock::now();
    auto counts = read_press_counts(store.database(), "s", period, TimeZone::fixed(minutes{60}), std::nullopt);
    auto alerts = read_alert_times(store.database(), "s", period, std::nullopt);
    REQUIRE(counts.ok());
    REQUIRE(alerts.ok());
    const auto report = build_report(period, ReportSettings{.time_zone = TimeZone::fixed(minutes{60})}, {}, *counts, *alerts);
    const auto json = boost::json::serialize(to_json(report));
    const auto ms = duration_cast<microseconds>(steady_clock::now() - t0).count() / 1000.0;
    WARN("report over " << report.site.tally.presses + report.site.tally.repeats << " presses (" << counts->size()
                        << " grouped rows, " << json.size() << " bytes of JSON): " << ms << " ms");
    CHECK(report.site.tally.presses + report.site.tally.repeats > 990'000);
  }
  // Calls for a manager. A location's call button splits the rows by button. A device's own is read
  // apart from the presses: on button 0 every one of d3's 25,000 presses is a call (the worst case),
  // on button 4 none is (the usual case: calls are rare).
  const auto calls_run = [&](CallManagerButton button) {
    ReportSettings with_calls{.time_zone = TimeZone::fixed(minutes{60})};
    with_calls.call_manager = {button};
    const auto t0 = steady_clock::now();
    auto counts = read_press_counts(store.database(), "s", period, TimeZone::fixed(minutes{60}), std::nullopt, with_calls.call_manager);
    auto alerts = read_alert_times(store.database(), "s", period, std::nullopt);
    REQUIRE(counts.ok());
    REQUIRE(alerts.ok());
    const auto report = build_report(period, with_calls, {}, *counts, *alerts);
    const auto json = boost::json::serialize(to_json(report));
    WARN("with " << (button.device.empty() ? "location " + button.location : "device " + button.device) << "'s button "
                 << button.button << " calling a manager: " << report.site.tally.manager_calls << " calls, "
                 << duration_cast<microseconds>(steady_clock::now() - t0).count() / 1000.0 << " ms");
    return report.site.tally.manager_calls;
  };
  CHECK(calls_run({.location = "*", .device = {}, .button = 4}) == 0);
  CHECK(calls_run({.location = "*", .device = "d3", .button = 0}) > 20'000);
  CHECK(calls_run({.location = "*", .device = "d3", .button = 4}) == 0);
  // For comparison: the same counts straight from the presses table, as without press_slots.
  const auto t0 = steady_clock::now();
  Statement raw(store.database(),
                "SELECT location, (pressed_at_ms + 3600000) / 3600000 AS hour, scale, rating, COUNT(*), "
                "SUM(instr(flags, '\"repeat\"') > 0) FROM presses WHERE site = 's' AND pressed_at_ms >= ? "
                "AND pressed_at_ms < ? GROUP BY location, hour, scale, rating");
  raw.bind(1, to_ms(period.from)).bind(2, to_ms(period.to));
  std::size_t groups = 0;
  while (raw.step()) ++groups;
  WARN("the same from the presses table: " << groups << " grouped rows in "
                                           << duration_cast<microseconds>(steady_clock::now() - t0).count() / 1000.0
                                           << " ms");
}
