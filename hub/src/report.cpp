// The manager's report core: the period asked for, and per-location figures from aggregated rows.
#include "kiosk/hub/report.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>

#include <boost/json.hpp>

#include "kiosk/hub/detector.hpp"

namespace kiosk::hub {
// Named, not anonymous, and with its using-directives inside: the hub is built as a unity build.
namespace report_detail {
namespace json = boost::json;
using namespace std::chrono;
using protocol::Error;
using protocol::Result;

bool digits_at(std::string_view s, std::size_t pos, std::size_t n) {
  if (pos + n > s.size()) return false;
  for (std::size_t i = pos; i < pos + n; ++i)
    if (s[i] < '0' || s[i] > '9') return false;
  return true;
}

int number_at(std::string_view s, std::size_t pos, std::size_t n) {
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) v = v * 10 + (s[i] - '0');
  return v;
}

std::optional<year_month_day> date_at(std::string_view s) {
  if (!digits_at(s, 0, 4) || s[4] != '-' || !digits_at(s, 5, 2) || s[7] != '-' || !digits_at(s, 8, 2)) return std::nullopt;
  year_month_day d{year{number_at(s, 0, 4)}, month{static_cast<unsigned>(number_at(s, 5, 2))},
                   day{static_cast<unsigned>(number_at(s, 8, 2))}};
  if (!d.ok()) return std::nullopt;
  return d;
}

// One end of the period: a local date (whole day) or an RFC 3339 time with Z or an offset.
struct Bound {
  WallTime at;      // the instant; for a date its local midnight
  std::optional<sys_days> date;  // the local date when the bound was one
};

Result<Bound> parse_bound(std::string_view text, std::string_view field, const TimeZone& zone) {
  const auto fail = [&](std::string why) { return Error{std::string(field), std::move(why)}; };
  const std::string q = "\"" + std::string(text) + "\"";
  const auto date = text.size() >= 10 ? date_at(text) : std::nullopt;
  if (!date) return fail(q + " is not a date (YYYY-MM-DD) or an RFC 3339 time (YYYY-MM-DDTHH:MM:SSZ)");
  const auto midnight = time_point_cast<milliseconds>(sys_days{*date});
  if (text.size() == 10) return Bound{zone.from_local(midnight), sys_days{*date}};
  // YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)
  if ((text[10] != 'T' && text[10] != 't' && text[10] != ' ') || !digits_at(text, 11, 2) || text.size() < 19 ||
      text[13] != ':' || !digits_at(text, 14, 2) || text[16] != ':' || !digits_at(text, 17, 2))
    return fail(q + " is not an RFC 3339 time (YYYY-MM-DDTHH:MM:SSZ or with an offset, +01:00)");
  const int h = number_at(text, 11, 2), m = number_at(text, 14, 2), s = number_at(text, 17, 2);
  if (h > 23 || m > 59 || s > 59) return fail(q + " has a time of day outside 00:00:00..23:59:59");
  std::size_t i = 19;
  std::int64_t ms = 0;
  if (i < text.size() && text[i] == '.') {
    std::size_t n = 0;
    for (++i; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i, ++n)
      if (n < 3) ms = ms * 10 + (text[i] - '0');
    if (n == 0) return fail(q + " has a '.' without digits");
    for (; n < 3; ++n) ms *= 10;
  }
  minutes offset{0};
  const auto rest = text.substr(i);
  if (rest == "Z" || rest == "z") {
  } else if (rest.size() == 6 && (rest[0] == '+' || rest[0] == '-') && digits_at(rest, 1, 2) && rest[3] == ':' &&
             digits_at(rest, 4, 2) && number_at(rest, 1, 2) <= 23 && number_at(rest, 4, 2) <= 59) {
    offset = minutes{number_at(rest, 1, 2) * 60 + number_at(rest, 4, 2)};
    if (rest[0] == '-') offset = -offset;
  } else {
    return fail(q + " needs a time zone: Z or an offset such as +01:00");
  }
  const auto t = midnight + hours{h} + minutes{m} + seconds{s} + milliseconds{ms} - offset;
  return Bound{t, std::nullopt};
}

// The venue's date at t.
sys_days local_date(WallTime t, const TimeZone& zone) { return floor<days>(zone.local(t)); }

// When the venue's day `d` starts (not always 24 h after the last: the clocks change).
WallTime day_start(sys_days d, const TimeZone& zone) { return zone.from_local(time_point_cast<milliseconds>(d)); }

std::string date_text(std::int64_t days_since_epoch) { return protocol::format_date(WallTime{days{days_since_epoch}}); }

std::int64_t floor_div(std::int64_t a, std::int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }

json::value opt(const std::optional<double>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::object tally_json(const Tally& t) {
  return json::object{{"presses", t.presses},    {"bad", t.bad},         {"bad_share", opt(t.bad_share())},
                      {"score", opt(t.score())}, {"repeats", t.repeats}, {"manager_calls", t.manager_calls}};
}

json::object location_json(const LocationReport& l) {
  json::object o = tally_json(l.tally);
  if (!l.id.empty()) {
    o["id"] = l.id;
    o["name"] = l.name;
    o["bad_rule"] = bad_rule_text(l.bad_max_rating);
  }
  o["alerts"] = json::object{{"raised", l.alerts.raised},
                             {"acknowledged", l.alerts.acknowledged},
                             {"resolved", l.alerts.resolved},
                             {"median_ack_s", opt(l.alerts.median_ack_s)},
                             {"median_resolve_s", opt(l.alerts.median_resolve_s)}};
  json::array worst;
  for (const auto& h : l.worst_hours) {
    auto w = tally_json(h.tally);
    w["hour"] = h.hour;
    worst.push_back(std::move(w));
  }
  o["worst_hours"] = std::move(worst);
  json::array days;
  for (const auto& d : l.days) {
    auto j = tally_json(d.tally);
    j["date"] = d.date;
    days.push_back(std::move(j));
  }
  o["days"] = std::move(days);
  return o;
}

// Figures of one location (or the site) from its rows and alerts.
struct Builder {
  const ReportSettings& settings;
  std::int64_t first_day;
  std::int64_t last_day;
  std::array<Tally, 24> hours{};
  std::map<std::int64_t, Tally> days;
  Tally total;
  std::vector<double> ack_s;
  std::vector<double> resolve_s;
  AlertSummary alerts;

  // sign -1 takes presses back out: a device's calls for a manager, first counted as ratings.
  void add(const PressCount& c, bool bad, bool manager_call, std::int64_t sign = 1) {
    Tally t;
    t.repeats = sign * c.repeats;
    const auto n = sign * (c.presses - c.repeats);
    if (manager_call) {
      t.manager_calls = n;
    } else {
      t.presses = n;
      if (bad) t.bad = n;
      if (c.scale > 1) t.score_sum = static_cast<double>(n) * (c.rating - 1) / static_cast<double>(c.scale - 1);
    }
    total.add(t);
    const auto hour_of_day = c.local_hour - floor_div(c.local_hour, 24) * 24;
    hours[static_cast<std::size_t>(hour_of_day)].add(t);
    days[floor_div(c.local_hour, 24)].add(t);
  }

  void add(const AlertTimes& a) {
    ++alerts.raised;
    if (a.acked) {
      ++alerts.acknowledged;
      ack_s.push_back(static_cast<double>(duration_cast<milliseconds>(*a.acked - a.since).count()) / 1000.0);
    }
    if (a.resolved) {
      ++alerts.resolved;
      resolve_s.push_back(static_cast<double>(duration_cast<milliseconds>(*a.resolved - a.since).count()) / 1000.0);
    }
  }

  LocationReport finish(std::string id, std::string name) {
    LocationReport r;
    r.id = std::move(id);
    r.name = std::move(name);
    r.tally = total;
    r.alerts = alerts;
    r.alerts.median_ack_s = median_of(ack_s);
    r.alerts.median_resolve_s = median_of(resolve_s);
    for (int h = 0; h < 24; ++h) {
      const auto& t = hours[static_cast<std::size_t>(h)];
      if (t.presses >= settings.min_hour_presses && t.bad > 0) r.worst_hours.push_back({h, t});
    }
    std::sort(r.worst_hours.begin(), r.worst_hours.end(), [](const HourTally& a, const HourTally& b) {
      // a / b > c / d without division; more presses first on a tie (better evidence).
      const auto lhs = a.tally.bad * b.tally.presses, rhs = b.tally.bad * a.tally.presses;
      if (lhs != rhs) return lhs > rhs;
      if (a.tally.presses != b.tally.presses) return a.tally.presses > b.tally.presses;
      return a.hour < b.hour;
    });
    if (r.worst_hours.size() > settings.worst_hours) r.worst_hours.resize(settings.worst_hours);
    for (auto d = first_day; d <= last_day; ++d) {
      auto it = days.find(d);
      r.days.push_back({date_text(d), it == days.end() ? Tally{} : it->second});
    }
    return r;
  }
};

}  // namespace report_detail

std::optional<double> Tally::bad_share() const {
  if (presses <= 0) return std::nullopt;
  return static_cast<double>(bad) / static_cast<double>(presses);
}

std::optional<double> Tally::score() const {
  if (presses <= 0) return std::nullopt;
  return 100.0 * score_sum / static_cast<double>(presses);
}

void Tally::add(const Tally& other) {
  presses += other.presses;
  bad += other.bad;
  repeats += other.repeats;
  manager_calls += other.manager_calls;
  score_sum += other.score_sum;
}

std::string bad_rule_text(std::optional<int> bad_max_rating) {
  return bad_max_rating ? "rating <= " + std::to_string(*bad_max_rating) : std::string("rating <= scale / 2");
}

std::optional<int> bad_max_for(const ReportSettings& settings, const std::string& location) {
  auto own = settings.bad_max_by_location.find(location);
  return own != settings.bad_max_by_location.end() ? own->second : settings.bad_max_rating;
}

std::optional<double> median_of(std::vector<double> values) {
  if (values.empty()) return std::nullopt;
  const auto mid = values.size() / 2;
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid), values.end());
  const double upper = values[mid];
  if (values.size() % 2 == 1) return upper;
  const double lower = *std::max_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(mid));
  return (lower + upper) / 2;
}

std::string local_time_text(WallTime t, const TimeZone& zone) { return protocol::format_minute(zone.local(t)); }

std::optional<std::string> period_note(const ReportPeriod& period, WallTime now, const TimeZone& zone) {
  if (period.from >= now)
    return "the period has not begun (it is now " + local_time_text(now, zone) + "): nothing to count yet";
  if (period.to > now) return "figures up to now, " + local_time_text(now, zone) + "; the period goes on after";
  return std::nullopt;
}

protocol::Result<ReportPeriod> resolve_period(const PeriodRequest& request, WallTime now, const TimeZone& zone) {
  using namespace report_detail;
  std::optional<int> days_asked;
  if (request.days) {
    const auto& d = *request.days;
    const bool number = !d.empty() && d.size() <= 3 && digits_at(d, 0, d.size());
    const int n = number ? number_at(d, 0, d.size()) : 0;
    if (!number || n < 1 || n > kMaxReportDays)
      return Error{"days", "\"" + d + "\" is not a number of days in 1.." + std::to_string(kMaxReportDays)};
    days_asked = n;
  }
  if (request.from && request.to && days_asked)
    return Error{"days", "give at most two of from, to and days (from and to already fix the period)"};
  std::optional<Bound> from;
  if (request.from) {
    auto b = parse_bound(*request.from, "from", zone);
    if (!b) return b.error();
    from = *b;
  }
  WallTime to = now;
  if (request.to) {
    auto b = parse_bound(*request.to, "to", zone);
    if (!b) return b.error();
    // A date as the end includes that day.
    to = b->date ? day_start(*b->date + days{1}, zone) : b->at;
  } else if (from && days_asked) {
    // From a date: whole local days, 23 or 25 hours long when the clocks change.
    to = from->date ? day_start(*from->date + days{*days_asked}, zone) : from->at + days{*days_asked};
  }
  ReportPeriod p;
  p.to = to;
  if (from) {
    p.from = from->at;
  } else {
    const int n = days_asked.value_or(kDefaultReportDays);
    p.from = day_start(local_date(to - milliseconds{1}, zone) - days{n - 1}, zone);
  }
  if (p.from >= p.to)
    return Error{"from", protocol::format_time(p.from) + " is not before to (" + protocol::format_time(p.to) + ")"};
  // Counted in local days: a period of 366 days with a clock change in it is 366 days and an hour.
  if (local_date(p.to - milliseconds{1}, zone) - local_date(p.from, zone) >= days{kMaxReportDays})
    return Error{"from", "the period is longer than " + std::to_string(kMaxReportDays) + " days; ask for less"};
  return p;
}

Report build_report(const ReportPeriod& period, const ReportSettings& settings,
                    const std::map<std::string, std::string>& locations, const std::vector<PressCount>& counts,
                    const std::vector<AlertTimes>& alerts) {
  using namespace report_detail;
  const auto first_day = local_date(period.from, settings.time_zone).time_since_epoch().count();
  const auto last_day = local_date(period.to - milliseconds{1}, settings.time_zone).time_since_epoch().count();
  const Builder blank{settings, first_day, last_day, {}, {}, {}, {}, {}, {}};
  Builder site = blank;
  std::map<std::string, Builder> by_location;
  for (const auto& [id, name] : locations) by_location.emplace(id, blank);
  // The alert settings' own rule, so the report and the alerts never disagree on what a call is.
  const auto is_call = [&](std::string_view device, std::string_view location, int button) {
    return is_call_manager(settings.call_manager, device, location, button);
  };
  for (const auto& c : counts) {
    auto it = by_location.find(c.location);
    if (it == by_location.end()) it = by_location.emplace(c.location, blank).first;
    const bool bad = is_bad_rating(c.rating, c.scale, bad_max_for(settings, c.location));
    // No device id is empty, so "" matches the location's (and "*") buttons only.
    const bool location_call = is_call("", c.location, c.button);
    if (c.device.empty()) {
      it->second.add(c, bad, location_call);
      site.add(c, bad, location_call);
    } else if (!location_call && is_call(c.device, c.location, c.button)) {
      // A device's own call button: its presses are in the device-less rows as ratings; move them.
      for (auto* b : {&it->second, &site}) {
        b->add(c, bad, false, -1);
        b->add(c, bad, true);
      }
    }
  }
  for (const auto& a : alerts) {
    auto it = by_location.find(a.location);
    if (it == by_location.end()) it = by_location.emplace(a.location, blank).first;
    it->second.add(a);
    site.add(a);
  }
  Report r;
  r.period = period;
  r.settings = settings;
  r.site = site.finish("", "");
  r.site.bad_max_rating = settings.bad_max_rating;
  for (auto& [id, b] : by_location) {
    auto name = locations.find(id);
    r.locations.push_back(b.finish(id, name == locations.end() ? id : name->second));
    r.locations.back().bad_max_rating = bad_max_for(settings, id);
  }
  return r;
}

boost::json::object to_json(const Report& r) {
  using namespace report_detail;
  json::object o;
  o["from"] = protocol::format_time(r.period.from);
  o["to"] = protocol::format_time(r.period.to);
  const auto& zone = r.settings.time_zone;
  o["time_zone"] = zone.name();
  o["utc_offset_min"] = duration_cast<minutes>(zone.offset_at(r.period.to)).count();
  o["from_local"] = local_time_text(r.period.from, zone);
  o["to_local"] = local_time_text(r.period.to, zone);
  o["bad_rule"] = bad_rule_text(r.settings.bad_max_rating);
  o["score_rule"] = "average of (rating - 1) / (scale - 1) x 100: 0 all worst, 100 all best";
  o["min_hour_presses"] = r.settings.min_hour_presses;
  o["total"] = location_json(r.site);
  json::array locations;
  for (const auto& l : r.locations) locations.push_back(location_json(l));
  o["locations"] = std::move(locations);
  return o;
}

}  // namespace kiosk::hub
