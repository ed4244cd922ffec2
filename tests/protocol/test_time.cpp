// Wire times: strict RFC 3339 UTC with milliseconds, real calendar dates, format_time as the exact inverse.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

using testing::outcome;
using std::chrono::milliseconds;

WallTime at(std::int64_t ms) { return WallTime{milliseconds{ms}}; }

TEST_CASE("format_date and format_minute write the UTC date and minute of format_time's instant", "[protocol][time]") {
  CHECK(format_date(at(0)) == "1970-01-01");
  CHECK(format_minute(at(0)) == "1970-01-01 00:00");
  CHECK(format_date(at(-1)) == "1969-12-31");
  CHECK(format_minute(at(-1)) == "1969-12-31 23:59");
  CHECK(format_date(at(1'795'356'185'120)) == "2026-11-22");
  CHECK(format_minute(at(1'795'356'185'120)) == "2026-11-22 14:03");  // 14:03:05.120: seconds dropped
  CHECK(format_minute(at(1'795'356'239'999)) == "2026-11-22 14:03");  // 14:03:59.999: not rounded up
  CHECK(format_date(at(951'782'400'000)) == "2000-02-29");
  // A venue's local time is the UTC one of the shifted instant: 23:30 UTC is 00:30 the next day at +01:00.
  CHECK(format_minute(at(1'795'390'200'000) + std::chrono::minutes{60}) == "2026-11-23 00:30");
}

TEST_CASE("format_date and format_minute agree with format_time across four centuries", "[protocol][time]") {
  for (std::int64_t ms = -62'167'219'200'000; ms < 253'402'300'799'999; ms += 1'234'567'890'123) {
    const auto full = format_time(at(ms));
    INFO(full);
    CHECK(format_date(at(ms)) == full.substr(0, 10));
    CHECK(format_minute(at(ms)) == full.substr(0, 10) + " " + full.substr(11, 5));
  }
}

TEST_CASE("the spec's example time parses to its epoch milliseconds", "[protocol][time]") {
  const auto t = parse_time("2026-11-22T14:03:05.120Z");
  REQUIRE(t);
  CHECK(t->time_since_epoch().count() == 1'795'356'185'120);
}

TEST_CASE("format_time writes UTC with exactly three millisecond digits", "[protocol][time]") {
  CHECK(format_time(at(0)) == "1970-01-01T00:00:00.000Z");
  CHECK(format_time(at(1)) == "1970-01-01T00:00:00.001Z");
  CHECK(format_time(at(-1)) == "1969-12-31T23:59:59.999Z");
  CHECK(format_time(at(1'795'356'185'120)) == "2026-11-22T14:03:05.120Z");
}

TEST_CASE("format_time then parse_time gives back the same instant across four centuries", "[protocol][time]") {
  // Steps of a prime number of milliseconds visit every month, day and time-of-day shape.
  const std::int64_t first = -62'167'219'200'000;  // 0000-01-01
  const std::int64_t last = 253'402'300'799'999;   // 9999-12-31T23:59:59.999
  for (std::int64_t ms = first; ms <= last; ms += 9'876'543'211) {
    const auto back = parse_time(format_time(at(ms)));
    REQUIRE(back);
    REQUIRE(back->time_since_epoch().count() == ms);
  }
  CHECK(parse_time(format_time(at(last)))->time_since_epoch().count() == last);
}

TEST_CASE("February 29th exists only in leap years", "[protocol][time]") {
  CHECK(parse_time("2024-02-29T00:00:00.000Z"));
  CHECK(parse_time("2000-02-29T00:00:00.000Z"));
  CHECK(parse_time("0400-02-29T00:00:00.000Z"));
  CHECK_FALSE(parse_time("2023-02-29T00:00:00.000Z"));
  CHECK_FALSE(parse_time("1900-02-29T00:00:00.000Z"));
  CHECK_FALSE(parse_time("2100-02-29T00:00:00.000Z"));
  CHECK_FALSE(parse_time("2024-02-30T00:00:00.000Z"));
}

TEST_CASE("every month accepts its last day and refuses the day after", "[protocol][time]") {
  const int last[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  for (int m = 1; m <= 12; ++m) {
    char ok[48];
    char bad[48];
    std::snprintf(ok, sizeof ok, "2026-%02d-%02dT00:00:00.000Z", m, last[m - 1]);
    std::snprintf(bad, sizeof bad, "2026-%02d-%02dT00:00:00.000Z", m, last[m - 1] + 1);
    INFO(ok);
    CHECK(parse_time(ok));
    CHECK_FALSE(parse_time(bad));
  }
}

TEST_CASE("hours, minutes and seconds are checked at both ends", "[protocol][time]") {
  CHECK(parse_time("2026-11-22T00:00:00.000Z"));
  CHECK(parse_time("2026-11-22T23:59:59.999Z"));
  CHECK(outcome(parse_time("2026-11-22T24:00:00.000Z")) ==
        "time: \"2026-11-22T24:00:00.000Z\" has hour 24 (expected 00..23)");
  CHECK(outcome(parse_time("2026-11-22T23:60:00.000Z")) ==
        "time: \"2026-11-22T23:60:00.000Z\" has minute 60 (expected 00..59)");
  CHECK_FALSE(parse_time("2026-11-22T23:59:60.000Z"));
}

TEST_CASE("parse_time names the field it was given", "[protocol][time]") {
  const auto r = parse_time("yesterday", "alert.since");
  REQUIRE_FALSE(r);
  CHECK(r.error().field == "alert.since");
  CHECK(r.error().message() ==
        "alert.since: \"yesterday\" is not an RFC 3339 UTC time with milliseconds (YYYY-MM-DDTHH:MM:SS.mmmZ)");
}

TEST_CASE("times in other shapes are refused even when they are valid RFC 3339", "[protocol][time]") {
  for (const std::string_view bad :
       {"2026-11-22T14:03:05Z", "2026-11-22T14:03:05.1Z", "2026-11-22T14:03:05.1200Z", "2026-11-22T14:03:05.120+00:00",
        "2026-11-22T14:03:05.120", "2026-11-22t14:03:05.120z", "2026-11-22 14:03:05.120Z", " 2026-11-22T14:03:05.120Z",
        "2026-1-22T14:03:05.120Z", "2026-11-22T14:03:05,120Z", "+026-11-22T14:03:05.120Z", "2026-11-22T14:03:05.12aZ"}) {
    INFO(bad);
    CHECK_FALSE(parse_time(bad));
  }
}

}  // namespace
}  // namespace kiosk::protocol
