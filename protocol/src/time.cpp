// RFC 3339 UTC times with milliseconds: strict parsing and its exact inverse, on the proleptic Gregorian calendar.
#include "kiosk/protocol/time.hpp"

#include <cstdint>
#include <cstdio>

#include "text.hpp"

namespace kiosk::protocol {
namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;

// Howard Hinnant's days_from_civil / civil_from_days: exact for every int64 day count we can meet,
// with no dependence on the C library's time zone database.
constexpr std::int64_t days_from_civil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2 ? 1 : 0;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

struct Civil {
  std::int64_t year;
  unsigned month;
  unsigned day;
};

constexpr Civil civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const auto doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const std::int64_t y = static_cast<std::int64_t>(yoe) + era * 400;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  const unsigned d = doy - (153 * mp + 2) / 5 + 1;
  const unsigned m = mp < 10 ? mp + 3 : mp - 9;
  return Civil{y + (m <= 2 ? 1 : 0), m, d};
}

constexpr bool is_leap(std::int64_t y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

constexpr unsigned days_in_month(std::int64_t y, unsigned m) {
  constexpr unsigned kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : kDays[m - 1];
}

static_assert(days_from_civil(1970, 1, 1) == 0);
static_assert(civil_from_days(0).year == 1970);

bool is_digit(char c) { return c >= '0' && c <= '9'; }

unsigned digits(std::string_view s, std::size_t pos, std::size_t n) {
  unsigned v = 0;
  for (std::size_t i = 0; i < n; ++i) v = v * 10 + static_cast<unsigned>(s[pos + i] - '0');
  return v;
}

// The UTC date of `t` and the milliseconds since its midnight.
struct Split {
  Civil date;
  unsigned ms_in_day;
};

Split split(WallTime t) {
  const std::int64_t ms = t.time_since_epoch().count();
  std::int64_t days = ms / kMsPerDay;
  std::int64_t rem = ms % kMsPerDay;
  if (rem < 0) {
    rem += kMsPerDay;
    --days;
  }
  return Split{civil_from_days(days), static_cast<unsigned>(rem)};
}

std::string two(unsigned v) {
  char buf[4];
  std::snprintf(buf, sizeof buf, "%02u", v % 100);
  return buf;
}

}  // namespace

std::string format_time(WallTime t) {
  const auto [c, in_day] = split(t);
  char buf[64];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ",
                static_cast<long long>(c.year), c.month, c.day, in_day / 3'600'000,
                in_day / 60'000 % 60, in_day / 1000 % 60, in_day % 1000);
  return buf;
}

std::string format_date(WallTime t) {
  const auto c = split(t).date;
  char buf[32];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u", static_cast<long long>(c.year), c.month, c.day);
  return buf;
}

std::string format_minute(WallTime t) {
  const auto [c, in_day] = split(t);
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04lld-%02u-%02u %02u:%02u", static_cast<long long>(c.year), c.month, c.day,
                in_day / 3'600'000, in_day / 60'000 % 60);
  return buf;
}

Result<WallTime> parse_time(std::string_view text, std::string_view field) {
  // Positions of the fixed characters in "YYYY-MM-DDTHH:MM:SS.mmmZ"; every other position is a digit.
  constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd.dddZ";
  const auto fail = [&](std::string why) { return Error{std::string(field), std::move(why)}; };
  bool shape_ok = text.size() == kShape.size();
  for (std::size_t i = 0; shape_ok && i < kShape.size(); ++i) {
    shape_ok = kShape[i] == 'd' ? is_digit(text[i]) : text[i] == kShape[i];
  }
  if (!shape_ok) {
    return fail(detail::quote(text) +
                " is not an RFC 3339 UTC time with milliseconds (YYYY-MM-DDTHH:MM:SS.mmmZ)");
  }
  const std::int64_t year = digits(text, 0, 4);
  const unsigned month = digits(text, 5, 2);
  const unsigned day = digits(text, 8, 2);
  const unsigned hour = digits(text, 11, 2);
  const unsigned minute = digits(text, 14, 2);
  const unsigned second = digits(text, 17, 2);
  const unsigned milli = digits(text, 20, 3);
  const std::string q = detail::quote(text);
  if (month < 1 || month > 12) return fail(q + " has month " + two(month) + " (expected 01..12)");
  const unsigned last = days_in_month(year, month);
  if (day < 1 || day > last) {
    return fail(q + " has day " + two(day) + ", outside 01.." + std::to_string(last) + " for " +
                std::string(text.substr(0, 7)));
  }
  if (hour > 23) return fail(q + " has hour " + two(hour) + " (expected 00..23)");
  if (minute > 59) return fail(q + " has minute " + two(minute) + " (expected 00..59)");
  if (second > 59) {
    return fail(q + " has second " + two(second) + " (expected 00..59; leap seconds are not used)");
  }
  const std::int64_t ms = days_from_civil(year, month, day) * kMsPerDay +
                          static_cast<std::int64_t>(hour) * 3'600'000 +
                          static_cast<std::int64_t>(minute) * 60'000 +
                          static_cast<std::int64_t>(second) * 1000 + milli;
  return WallTime{std::chrono::milliseconds{ms}};
}

}  // namespace kiosk::protocol
