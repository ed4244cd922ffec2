// Contacts, on-duty schedules and the escalation chain: who gets which alert, and when.
#include "kiosk/hub/routing.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>

#include "text.hpp"

namespace kiosk::hub {
namespace {

using protocol::Error;

constexpr std::array<std::string_view, 7> kDays{"mon", "tue", "wed", "thu", "fri", "sat", "sun"};

using text::trim;

std::optional<int> day_index(std::string_view s) {
  for (std::size_t i = 0; i < kDays.size(); ++i)
    if (kDays[i] == s) return static_cast<int>(i);
  return std::nullopt;
}

// "HH:MM" -> minutes after midnight; 24:00 allowed as an end.
std::optional<int> clock_minutes(std::string_view s) {
  if (s.size() != 5 || s[2] != ':') return std::nullopt;
  for (std::size_t i : {0u, 1u, 3u, 4u})
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return std::nullopt;
  const int h = (s[0] - '0') * 10 + (s[1] - '0');
  const int m = (s[3] - '0') * 10 + (s[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && m != 0)) return std::nullopt;
  return h * 60 + m;
}

bool day_in(int day, const DutyWindow& w) {
  if (w.first_day <= w.last_day) return day >= w.first_day && day <= w.last_day;
  return day >= w.first_day || day <= w.last_day;  // wraps, e.g. fri-mon
}

}  // namespace

protocol::Result<std::vector<DutyWindow>> parse_schedule(std::string_view text) {
  std::vector<DutyWindow> out;
  text = trim(text);
  if (text.empty()) return out;
  while (!text.empty()) {
    const auto comma = text.find(',');
    const std::string_view entry = trim(text.substr(0, comma));
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    const std::string what = "\"" + std::string(entry) + "\"";
    const auto space = entry.find(' ');
    if (space == std::string_view::npos)
      return Error{"schedule", what + " should look like \"mon-fri 08:00-18:00\""};
    const std::string_view days = trim(entry.substr(0, space));
    const std::string_view hours = trim(entry.substr(space + 1));
    DutyWindow w;
    if (days != "daily") {
      const auto dash = days.find('-');
      const auto first = day_index(days.substr(0, dash));
      const auto last = dash == std::string_view::npos ? first : day_index(days.substr(dash + 1));
      if (!first || !last) return Error{"schedule", what + ": days are mon..sun, a range like mon-fri, or daily"};
      w.first_day = *first;
      w.last_day = *last;
    }
    const auto dash = hours.find('-');
    const auto start = clock_minutes(hours.substr(0, dash));
    const auto end = dash == std::string_view::npos ? std::nullopt : clock_minutes(hours.substr(dash + 1));
    if (!start || !end || *start == 24 * 60 || *start == *end)
      return Error{"schedule", what + ": hours are HH:MM-HH:MM, e.g. 08:00-18:00 or 22:00-06:00"};
    w.start_min = *start;
    w.end_min = *end;
    out.push_back(w);
  }
  return out;
}

bool covers(const Contact& c, std::string_view location) {
  return std::any_of(c.locations.begin(), c.locations.end(),
                     [&](const std::string& l) { return l == "*" || l == location; });
}

bool on_duty(const Contact& c, WallTime now, const TimeZone& zone) {
  if (c.on_duty.empty()) return true;
  const auto local = zone.local(now);
  const auto day_start = std::chrono::floor<std::chrono::days>(local);
  const int minute = static_cast<int>(std::chrono::duration_cast<std::chrono::minutes>(local - day_start).count());
  // 1970-01-01 was a Thursday (index 3 when Monday is 0).
  const long long days = day_start.time_since_epoch().count();
  const int day = static_cast<int>(((days + 3) % 7 + 7) % 7);
  const int yesterday = (day + 6) % 7;
  return std::any_of(c.on_duty.begin(), c.on_duty.end(), [&](const DutyWindow& w) {
    if (w.start_min < w.end_min) return day_in(day, w) && minute >= w.start_min && minute < w.end_min;
    // Past midnight: the evening part belongs to the listed day, the morning part to the day after.
    return (day_in(day, w) && minute >= w.start_min) || (day_in(yesterday, w) && minute < w.end_min);
  });
}

Routing::Routing(std::vector<Contact> contacts, TimeZone zone)
    : contacts_(std::move(contacts)), zone_(std::move(zone)) {}

Recipients Routing::who_gets(std::string_view location, WallTime now, int level) const {
  std::optional<int> best;
  for (const auto& c : contacts_)
    if (c.level >= level && covers(c, location) && on_duty(c, now, zone_) && (!best || c.level < *best))
      best = c.level;
  Recipients r;
  if (!best) return r;
  r.level = *best;
  for (const auto& c : contacts_)
    if (c.level == *best && covers(c, location) && on_duty(c, now, zone_)) r.contacts.push_back(c);
  return r;
}

}  // namespace kiosk::hub
