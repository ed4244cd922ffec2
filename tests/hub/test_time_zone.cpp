// Venue time zones: the offset at every instant agrees with the C library's reading of the same
// tz database, the clocks' changes land where they should, and bad names and files are refused.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <ctime>
#include <fstream>
#include <random>
#include <sstream>

#include "kiosk/hub/time_zone.hpp"
#include "kiosk_test.hpp"

using namespace std::chrono;
namespace fs = std::filesystem;
using kiosk::hub::load_time_zone;
using kiosk::hub::TimeZone;
using kiosk::protocol::WallTime;

namespace {

WallTime at(const char* text) {
  auto t = kiosk::protocol::parse_time(text);
  REQUIRE(t);
  return *t;
}

TimeZone zone(std::string_view name) {
  auto z = load_time_zone(name);
  INFO(name);
  REQUIRE(z);
  return *z;
}

// The C library's offset for `name` at t (TZ set for this process for the call only).
seconds libc_offset(const std::string& name, WallTime t) {
  std::tm tm{};
  {
    kiosk::test::ScopedEnv tz("TZ", ":" + name);
    tzset();
    const std::time_t s = floor<seconds>(t).time_since_epoch().count();
    localtime_r(&s, &tm);
  }
  tzset();
  return seconds{tm.tm_gmtoff};
}

std::size_t be32(const std::string& b, std::size_t i) {
  std::size_t v = 0;
  for (std::size_t k = 0; k < 4; ++k) v = (v << 8) | static_cast<unsigned char>(b[i + k]);
  return v;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("the offset at every instant is the C library's, for zones north, south, half-hour and abolished") {
  std::mt19937_64 random(20261123);
  // 1970..2300: the files' tables, then their rules.
  std::uniform_int_distribution<std::int64_t> instant(0, 10'413'792'000LL);
  for (const std::string name : {"Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe",
                                 "America/Sao_Paulo", "Asia/Kolkata", "Pacific/Chatham", "America/Santiago",
                                 "Africa/Casablanca", "Europe/London", "UTC"}) {
    const auto z = zone(name);
    int wrong = 0;
    for (int i = 0; i < 3000; ++i) {
      const WallTime t{seconds{instant(random)}};
      if (z.offset_at(t) != libc_offset(name, t)) {
        if (++wrong <= 3) WARN(name << " at " << kiosk::protocol::format_time(t) << ": " << z.offset_at(t).count()
                                    << " s, libc " << libc_offset(name, t).count() << " s");
      }
    }
    INFO(name);
    CHECK(wrong == 0);
  }
}

TEST_CASE("Berlin's clocks go forward and back at 01:00 UTC on the last Sundays of March and October") {
  const auto berlin = zone("Europe/Berlin");
  CHECK(berlin.name() == "Europe/Berlin");
  CHECK(berlin.offset_at(at("2026-03-29T00:59:59.999Z")) == hours{1});
  CHECK(berlin.offset_at(at("2026-03-29T01:00:00.000Z")) == hours{2});
  CHECK(berlin.offset_at(at("2026-10-25T00:59:59.999Z")) == hours{2});
  CHECK(berlin.offset_at(at("2026-10-25T01:00:00.000Z")) == hours{1});
  // Past the file's table (2037): the rule.
  CHECK(berlin.offset_at(at("2099-03-29T00:59:59.000Z")) == hours{1});
  CHECK(berlin.offset_at(at("2099-03-29T01:00:00.000Z")) == hours{2});
  REQUIRE(berlin.next_change(at("2026-11-23T12:00:00.000Z")));
  CHECK(*berlin.next_change(at("2026-11-23T12:00:00.000Z")) == at("2027-03-28T01:00:00.000Z"));
  CHECK(*berlin.next_change(at("2027-03-28T00:59:59.000Z")) == at("2027-03-28T01:00:00.000Z"));
  CHECK(*berlin.next_change(at("2027-03-28T01:00:00.000Z")) == at("2027-10-31T01:00:00.000Z"));
}

TEST_CASE("a local time maps to its instant: the earlier one when the clocks go back, after the gap when they skip") {
  const auto berlin = zone("Europe/Berlin");
  // Midnight is never ambiguous in Berlin.
  CHECK(berlin.from_local(at("2026-07-01T00:00:00.000Z")) == at("2026-06-30T22:00:00.000Z"));
  CHECK(berlin.from_local(at("2026-12-01T00:00:00.000Z")) == at("2026-11-30T23:00:00.000Z"));
  // 02:30 happens twice on 2026-10-25: first in summer time.
  CHECK(berlin.from_local(at("2026-10-25T02:30:00.000Z")) == at("2026-10-25T00:30:00.000Z"));
  // 02:30 never happens on 2026-03-29: read as standard time, 01:30 UTC, which Berlin calls 03:30.
  const auto skipped = berlin.from_local(at("2026-03-29T02:30:00.000Z"));
  CHECK(skipped == at("2026-03-29T01:30:00.000Z"));
  CHECK(berlin.local(skipped) == at("2026-03-29T03:30:00.000Z"));
  // Every instant of a year, hour by hour, comes back from its own local time (or is the
  // second pass through the hour that repeats).
  for (WallTime t = at("2026-01-01T00:00:00.000Z"); t < at("2027-01-01T00:00:00.000Z"); t += minutes{30}) {
    const auto back = berlin.from_local(berlin.local(t));
    INFO(kiosk::protocol::format_time(t));
    CHECK((back == t || (back == t - hours{1} && berlin.local(back) == berlin.local(t))));
  }
}

TEST_CASE("every wall clock reading maps back to its first instant, also for rules whose changes are hours apart") {
  // Not real zones: daylight saving time for 5 hours on January 1st, and for 1 hour a day.
  for (const char* rule : {"AAA0BBB,J1/0,J1/5", "AAA0BBB-5,0/1,0/2", "CET-1CEST,M3.5.0,M10.5.0/3"}) {
    auto zone = TimeZone::from_posix(rule);
    INFO(rule);
    REQUIRE(zone);
    int wrong = 0;
    for (WallTime t = at("2026-12-30T00:00:00.000Z"); t < at("2027-01-03T00:00:00.000Z"); t += minutes{7}) {
      const auto back = zone->from_local(zone->local(t));
      if (back > t || zone->local(back) != zone->local(t)) ++wrong;
    }
    CHECK(wrong == 0);
  }
}

TEST_CASE("southern zones are in daylight saving time over the new year") {
  const auto sydney = zone("Australia/Sydney");
  CHECK(sydney.offset_at(at("2027-01-15T00:00:00.000Z")) == hours{11});
  CHECK(sydney.offset_at(at("2027-07-15T00:00:00.000Z")) == hours{10});
  const auto lord_howe = zone("Australia/Lord_Howe");
  CHECK(lord_howe.offset_at(at("2027-01-15T00:00:00.000Z")) == hours{11});
  CHECK(lord_howe.offset_at(at("2027-07-15T00:00:00.000Z")) == minutes{10 * 60 + 30});
}

TEST_CASE("a POSIX rule gives the same times as the zone it describes") {
  auto rule = TimeZone::from_posix("CET-1CEST,M3.5.0,M10.5.0/3");
  REQUIRE(rule);
  const auto berlin = zone("Europe/Berlin");
  for (WallTime t = at("2000-01-01T00:00:00.000Z"); t < at("2040-01-01T00:00:00.000Z"); t += hours{7})
    if (rule->offset_at(t) != berlin.offset_at(t)) FAIL(kiosk::protocol::format_time(t));
  // Fixed, with a quoted numeric name; and daylight saving time all year (end = next year's start).
  auto india = TimeZone::from_posix("<+0530>-5:30");
  REQUIRE(india);
  CHECK(india->offset_at(at("2026-06-01T00:00:00.000Z")) == minutes{330});
  CHECK_FALSE(india->next_change(at("2026-06-01T00:00:00.000Z")));
  auto always = TimeZone::from_posix("EST5EDT,0/0,J365/25");
  REQUIRE(always);
  for (WallTime t = at("2026-01-01T00:00:00.000Z"); t < at("2029-01-01T00:00:00.000Z"); t += hours{5})
    if (always->offset_at(t) != hours{-4}) FAIL(kiosk::protocol::format_time(t));
  // A daylight saving name without its rule: the US rule.
  auto us = TimeZone::from_posix("EST5EDT");
  REQUIRE(us);
  CHECK(us->offset_at(at("2026-03-08T06:59:59.000Z")) == hours{-5});
  CHECK(us->offset_at(at("2026-03-08T07:00:00.000Z")) == hours{-4});
  CHECK(us->offset_at(at("2026-11-01T05:59:59.000Z")) == hours{-4});
  CHECK(us->offset_at(at("2026-11-01T06:00:00.000Z")) == hours{-5});
}

TEST_CASE("a fixed offset has its name and never changes") {
  const auto plus = TimeZone::fixed(minutes{60});
  CHECK(plus.name() == "UTC+01:00");
  CHECK(TimeZone::fixed(minutes{-210}).name() == "UTC-03:30");
  CHECK(TimeZone().name() == "UTC");
  CHECK(kiosk::hub::utc_offset_name(seconds{5 * 3600 + 45 * 60}) == "UTC+05:45");
  CHECK(plus.offset_at(at("2026-07-01T00:00:00.000Z")) == hours{1});
  CHECK_FALSE(plus.next_change(at("1970-01-01T00:00:00.000Z")));
  CHECK(plus.from_local(at("2026-07-01T00:00:00.000Z")) == at("2026-06-30T23:00:00.000Z"));
}

TEST_CASE("names that are neither a zone nor a rule are refused with what to do") {
  const auto refused = [](std::string_view name) {
    auto z = load_time_zone(name);
    INFO(name);
    REQUIRE_FALSE(z);
    return z.error().message();
  };
  CHECK_THAT(refused("Europe/Berln"), Catch::Contains("no time zone \"Europe/Berln\"") &&
                                          Catch::Contains("timedatectl list-timezones"));
  CHECK_THAT(refused("../../etc/passwd"), Catch::Contains("no time zone"));
  CHECK_THAT(refused(""), Catch::Contains("is empty"));
  CHECK_THAT(refused("CET-1CEST,M13.5.0,M10.5.0/3"), Catch::Contains("13 is out of range"));
  CHECK_THAT(refused("CET-1CEST,M3.5.0"), Catch::Contains("end of daylight saving time"));
  CHECK_THAT(refused("<X>-1"), Catch::Contains("at least 3 letters"));
  CHECK_THAT(refused("CET-1CEST,M3.5.0,M10.5.0/3junk"), Catch::Contains("unexpected 'junk'"));
  // The tz database folder itself is not a zone.
  CHECK_FALSE(load_time_zone("Europe"));
}

TEST_CASE("broken TZif files are refused, never half read") {
  const std::string berlin = read_file("/usr/share/zoneinfo/Europe/Berlin");
  REQUIRE(berlin.size() > 100);
  REQUIRE(TimeZone::from_tzif("Berlin", berlin));
  const auto refused = [](std::string bytes) {
    auto z = TimeZone::from_tzif("x", bytes);
    REQUIRE_FALSE(z);
    return z.error().message();
  };
  CHECK_THAT(refused("hello"), Catch::Contains("not a TZif file"));
  // Every truncation is refused.
  for (std::size_t n = 0; n < berlin.size(); n += 7) {
    INFO(n);
    CHECK_FALSE(TimeZone::from_tzif("x", berlin.substr(0, n)));
  }
  std::string v1 = berlin;
  v1[4] = '\0';
  CHECK_THAT(refused(v1), Catch::Contains("version 1"));
  // A change that names a type that does not exist.
  std::string bad_type = berlin;
  // The version 2 header follows the version 1 data, whose size its counts give.
  const auto count = [&](std::size_t i) { return be32(berlin, i); };
  const std::size_t h2 =
      44 + count(32) * 5 + count(36) * 6 + count(40) + count(28) * 8 + count(24) + count(20);
  const auto changes = count(h2 + 32);
  REQUIRE(changes > 0);
  bad_type[h2 + 44 + changes * 8] = static_cast<char>(200);
  CHECK_THAT(refused(bad_type), Catch::Contains("local time type 200"));

  // Changes at the ends of time (zic's "big bang" at -2^59 s, a far-future one) are read without
  // overflowing a millisecond clock: the first says what held before, the last is beyond reach.
  std::string far = berlin;
  const auto put = [&](std::size_t at, std::int64_t v) {
    for (int k = 7; k >= 0; --k, v >>= 8) far[at + static_cast<std::size_t>(k)] = static_cast<char>(v & 0xff);
  };
  put(h2 + 44, -(std::int64_t{1} << 59));
  put(h2 + 44 + (changes - 1) * 8, std::int64_t{1} << 62);
  auto zone = TimeZone::from_tzif("far", far);
  REQUIRE(zone);
  CHECK(zone->offset_at(at("2026-07-01T00:00:00.000Z")) == hours{2});
  REQUIRE(zone->next_change(at("2026-07-01T00:00:00.000Z")));
  CHECK(*zone->next_change(at("2026-07-01T00:00:00.000Z")) == at("2026-10-25T01:00:00.000Z"));
  CHECK(zone->next_change(at("1800-01-01T00:00:00.000Z")));
}

TEST_CASE("a tzdata update that replaces a zone's file is noticed once; a POSIX rule has no file to watch") {
  kiosk::test::TempDir zones;
  fs::create_directories(zones / "Venue");
  // As dpkg installs a package's files: written beside, then renamed over the old one.
  const auto install = [&](const std::string& from) {
    std::ofstream(zones / "Venue/Here.new", std::ios::binary) << read_file(std::string(kiosk::hub::kZoneinfo) + "/" + from);
    fs::rename(zones / "Venue/Here.new", zones / "Venue/Here");
  };
  install("Europe/Berlin");
  kiosk::hub::ZoneFileWatch watch("Venue/Here", zones.path());
  CHECK_FALSE(watch.changed());
  auto before = load_time_zone("Venue/Here", zones.path());
  REQUIRE(before);
  CHECK(*before == *load_time_zone("Venue/Here", zones.path()));  // read twice: the same rules

  install("Europe/Moscow");
  CHECK(watch.changed());
  CHECK_FALSE(watch.changed());  // once per change
  auto after = load_time_zone("Venue/Here", zones.path());
  REQUIRE(after);
  CHECK_FALSE(*after == *before);
  CHECK(after->offset_at(at("2026-07-01T12:00:00.000Z")) == 3h);

  fs::remove(zones / "Venue/Here");  // gone (a zone renamed by an update): a change too
  CHECK(watch.changed());
  CHECK_FALSE(watch.changed());

  kiosk::hub::ZoneFileWatch rule("CET-1CEST,M3.5.0,M10.5.0/3", zones.path());
  CHECK_FALSE(rule.changed());
}

TEST_CASE("zones are equal when name and offsets are") {
  CHECK(zone("Europe/Berlin") == zone("Europe/Berlin"));
  CHECK_FALSE(zone("Europe/Berlin") == zone("Europe/Paris"));  // same rules since 1977, another name
  CHECK(TimeZone::fixed(0min) == TimeZone());
  CHECK(TimeZone::fixed(60min) == TimeZone::fixed(60min));
  CHECK_FALSE(TimeZone::fixed(60min) == TimeZone::fixed(120min));
  CHECK_FALSE(TimeZone::fixed(60min) == zone("Europe/Berlin"));
}
