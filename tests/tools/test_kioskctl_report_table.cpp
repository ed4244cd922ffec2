// kioskctl report's table, from a hand-made /api/report answer (pure: no hub).
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "report_table.hpp"

using namespace kiosk::ctl;
namespace json = boost::json;

namespace {

json::object sample() {
  return json::parse(R"({
    "site": "hotel", "from_local": "2026-11-16 00:00", "to_local": "2026-11-22 14:03", "time_zone": "UTC+01:00",
    "bad_rule": "rating <= scale / 2", "min_hour_presses": 20,
    "total": {"presses": 130, "bad": 13, "bad_share": 0.1, "score": 80.25, "repeats": 4,
              "alerts": {"raised": 3, "acknowledged": 2, "resolved": 1, "median_ack_s": 250, "median_resolve_s": 1325},
              "worst_hours": [{"hour": 19, "presses": 40, "bad": 10, "bad_share": 0.25, "score": 60, "repeats": 0}],
              "days": [{"date": "2026-11-16", "presses": 130, "bad": 13, "bad_share": 0.1, "score": 80.25, "repeats": 4}]},
    "locations": [
      {"id": "lobby", "name": "Lobby", "presses": 130, "bad": 13, "bad_share": 0.1, "score": 80.25, "repeats": 4,
       "alerts": {"raised": 3, "acknowledged": 2, "resolved": 1, "median_ack_s": 250, "median_resolve_s": 1325},
       "worst_hours": [{"hour": 19, "presses": 40, "bad": 10, "bad_share": 0.25, "score": 60, "repeats": 0},
                       {"hour": 23, "presses": 20, "bad": 2, "bad_share": 0.1, "score": 70, "repeats": 0}],
       "days": [{"date": "2026-11-16", "presses": 130, "bad": 13, "bad_share": 0.1, "score": 80.25, "repeats": 4}]},
      {"id": "spa", "name": "Spa", "presses": 0, "bad": 0, "bad_share": null, "score": null, "repeats": 0,
       "alerts": {"raised": 0, "acknowledged": 0, "resolved": 0, "median_ack_s": null, "median_resolve_s": null},
       "worst_hours": [], "days": [{"date": "2026-11-16", "presses": 0, "bad": 0, "bad_share": null, "score": null, "repeats": 0}]}
    ]})").as_object();
}

}  // namespace

TEST_CASE("the report table has a line per location and one for the site, '-' where nothing was measured") {
  const auto text = render_report(sample(), false);
  CHECK_THAT(text, Catch::StartsWith("Report for site hotel, 2026-11-16 00:00 to 2026-11-22 14:03 (UTC+01:00)\n"));
  CHECK_THAT(text, Catch::Contains("Bad: rating <= scale / 2.") && Catch::Contains("4 left out") &&
                       Catch::Contains("at least 20 presses"));
  CHECK_THAT(text, Catch::Contains("\nlobby                     130     13  10.0%   80.2       3      2   4m10s      22m05s 19-20h 25% of 40, 23-00h 10% of 20\n"));
  CHECK_THAT(text, Catch::Contains("\nspa                         0      0      -      -       0      0       -           - -\n"));
  CHECK_THAT(text, Catch::EndsWith("\nALL                       130     13  10.0%   80.2       3      2   4m10s      22m05s 19-20h 25% of 40\n"));
  CHECK_THAT(text, !Catch::Contains("DAY"));
}

TEST_CASE("the report table prints the hub's note on a period not all in the past under its title") {
  auto r = sample();
  CHECK_THAT(render_report(r, false), !Catch::Contains("Note:"));
  r["note"] = "figures up to now, 2026-11-22 14:03; the period goes on after";
  CHECK_THAT(render_report(r, false),
             Catch::Contains("(UTC+01:00)\nNote: figures up to now, 2026-11-22 14:03; the period goes on after.\nBad: "));
}

TEST_CASE("the report table adds a line per location and day with --daily") {
  const auto text = render_report(sample(), true);
  CHECK_THAT(text, Catch::Contains("\nlobby                2026-11-16       130     13  10.0% 80.2\n"));
  CHECK_THAT(text, Catch::Contains("\nspa                  2026-11-16         0      0      - -\n"));
}

TEST_CASE("the report table says how many calls for a manager were left out of the ratings, and where") {
  auto r = sample();
  r["total"].as_object()["manager_calls"] = 7;
  r["locations"].as_array()[0].as_object()["manager_calls"] = 7;
  r["locations"].as_array()[1].as_object()["manager_calls"] = 0;
  const auto text = render_report(r, false);
  CHECK_THAT(text, Catch::Contains("median time from the alert.\nCalls for a manager, not counted as ratings: 7 (lobby 7).\n"
                                   "Worst hours:"));
  r["total"].as_object()["manager_calls"] = 0;
  CHECK_THAT(render_report(r, false), !Catch::Contains("Calls for a manager"));
}

TEST_CASE("the report table names the locations judged by their own bad rule") {
  auto r = sample();
  r["locations"].as_array()[0].as_object()["bad_rule"] = "rating <= 3";
  r["locations"].as_array()[1].as_object()["bad_rule"] = "rating <= scale / 2";
  CHECK_THAT(render_report(r, false), Catch::Contains("\nBad: rating <= scale / 2 (lobby: rating <= 3). Score:"));
  r["locations"].as_array()[0].as_object()["bad_rule"] = "rating <= scale / 2";
  CHECK_THAT(render_report(r, false), Catch::Contains("\nBad: rating <= scale / 2. Score:"));
}

TEST_CASE("median waits are short enough for a table cell") {
  CHECK(short_duration(45) == "45s");
  CHECK(short_duration(250) == "4m10s");
  CHECK(short_duration(7500) == "2h05m");
  CHECK(short_duration(97200) == "1d03h");
}
