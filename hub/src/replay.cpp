// Offline replay and scoring of the detector: CSV presses in, alert states and detection figures out.
#include "kiosk/hub/replay.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <memory>
#include <map>
#include <optional>
#include <variant>

#include "kiosk/protocol/ids.hpp"

#include "text.hpp"

namespace kiosk::hub {
namespace {

using protocol::Error;
using protocol::Result;

std::vector<std::string_view> split(std::string_view line, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    const auto p = line.find(sep);
    out.push_back(line.substr(0, p));
    if (p == std::string_view::npos) return out;
    line.remove_prefix(p + 1);
  }
}

using text::trim;

std::optional<int> to_int(std::string_view s) {
  int v = 0;
  const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc{} || p != s.data() + s.size() || s.empty()) return std::nullopt;
  return v;
}

std::optional<double> to_double(std::string_view s) {
  if (s.empty()) return std::nullopt;
  try {
    std::size_t used = 0;
    const double v = std::stod(std::string(s), &used);
    if (used != s.size()) return std::nullopt;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// Lines of a text, each with its 1-based number; empty lines are skipped.
template <class F>
void for_each_line(std::string_view text, F&& f) {
  int number = 0;
  while (!text.empty()) {
    const auto nl = text.find('\n');
    const std::string_view line = trim(text.substr(0, nl));
    ++number;
    if (!line.empty()) f(number, line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
}

// Maps each wanted column name to its index in the header; nullopt names the first one missing.
std::variant<std::vector<std::size_t>, std::string> columns(std::string_view header,
                                                            const std::vector<std::string_view>& wanted) {
  const auto names = split(header, ',');
  std::vector<std::size_t> idx;
  for (const auto w : wanted) {
    const auto it = std::find_if(names.begin(), names.end(), [&](std::string_view n) { return trim(n) == w; });
    if (it == names.end()) return std::string(w);
    idx.push_back(static_cast<std::size_t>(it - names.begin()));
  }
  return idx;
}

template <class Row, class ParseLine>
Result<CsvRows<Row>> parse_csv(std::string_view text, const std::vector<std::string_view>& wanted,
                               std::string_view what, ParseLine&& parse_line) {
  CsvRows<Row> out;
  std::optional<std::vector<std::size_t>> idx;
  std::optional<Error> header_error;
  for_each_line(text, [&](int number, std::string_view line) {
    if (header_error) return;
    if (!idx) {
      auto c = columns(line, wanted);
      if (auto* missing = std::get_if<std::string>(&c)) {
        header_error = Error{std::string(what), "line " + std::to_string(number) + ": the header has no column \"" +
                                                    *missing + "\" (expected " + std::string(what) + " header)"};
        return;
      }
      idx = std::get<0>(std::move(c));
      return;
    }
    const auto cells = split(line, ',');
    std::vector<std::string_view> picked;
    for (const auto i : *idx) {
      if (i >= cells.size()) {
        out.problems.push_back({number, "has " + std::to_string(cells.size()) + " columns, the header has more"});
        return;
      }
      picked.push_back(trim(cells[i]));
    }
    auto row = parse_line(picked);
    if (row.ok())
      out.rows.push_back(std::move(row).value());
    else
      out.problems.push_back({number, row.error().message()});
  });
  if (header_error) return *header_error;
  if (!idx) return Error{std::string(what), "empty: a header line is required"};
  return out;
}

}  // namespace

Result<WallTime> parse_csv_time(std::string_view text, std::string_view field) {
  // Without milliseconds: "...:SSZ" gets ".000" so the strict protocol parser applies.
  if (text.size() == 20 && text.back() == 'Z') {
    std::string with_ms(text.substr(0, 19));
    with_ms += ".000Z";
    return protocol::parse_time(with_ms, field);
  }
  return protocol::parse_time(text, field);
}

std::string press_csv_header() { return "time,location,device,rating,scale"; }

std::string to_csv(const PressRow& r) {
  return protocol::format_time(r.at) + "," + r.location + "," + r.device + "," + std::to_string(r.rating) + "," +
         std::to_string(r.scale);
}

Result<CsvRows<PressRow>> parse_press_csv(std::string_view text) {
  return parse_csv<PressRow>(
      text, {"time", "location", "device", "rating", "scale"}, "press csv",
      [](const std::vector<std::string_view>& c) -> Result<PressRow> {
        PressRow r;
        auto at = parse_csv_time(c[0], "time");
        if (!at) return at.error();
        r.at = *at;
        if (auto e = protocol::check_id("location", c[1])) return *e;
        if (auto e = protocol::check_id("device", c[2])) return *e;
        r.location = std::string(c[1]);
        r.device = std::string(c[2]);
        const auto scale = to_int(c[4]);
        if (!scale || *scale < protocol::kMinScale || *scale > protocol::kMaxScale)
          return Error{"scale", "\"" + std::string(c[4]) + "\" is not an integer in 2..10"};
        const auto rating = to_int(c[3]);
        if (!rating || *rating < 1 || *rating > *scale)
          return Error{"rating", "\"" + std::string(c[3]) + "\" is not an integer in 1.." + std::to_string(*scale)};
        r.rating = *rating;
        r.scale = *scale;
        return r;
      });
}

std::string truth_csv_header() { return "location,start,end,bad_share"; }

std::string to_csv(const Incident& i) {
  char share[32];
  std::snprintf(share, sizeof share, "%.3f", i.bad_share);
  return i.location + "," + protocol::format_time(i.start) + "," + protocol::format_time(i.end) + "," + share;
}

Result<CsvRows<Incident>> parse_truth_csv(std::string_view text) {
  return parse_csv<Incident>(text, {"location", "start", "end", "bad_share"}, "truth csv",
                             [](const std::vector<std::string_view>& c) -> Result<Incident> {
                               Incident i;
                               if (auto e = protocol::check_id("location", c[0])) return *e;
                               i.location = std::string(c[0]);
                               auto s = parse_csv_time(c[1], "start");
                               if (!s) return s.error();
                               auto e = parse_csv_time(c[2], "end");
                               if (!e) return e.error();
                               if (*e < *s) return Error{"end", "is before start"};
                               i.start = *s;
                               i.end = *e;
                               const auto share = to_double(c[3]);
                               if (!share || *share < 0 || *share > 1)
                                 return Error{"bad_share", "\"" + std::string(c[3]) + "\" is not a number in 0..1"};
                               i.bad_share = *share;
                               return i;
                             });
}

std::size_t replay(std::vector<PressRow> rows, const ReplaySettings& settings,
                   const std::function<void(const protocol::Alert&)>& publish) {
  std::stable_sort(rows.begin(), rows.end(), [](const PressRow& a, const PressRow& b) { return a.at < b.at; });
  SiteDetectors detectors(
      [&]() -> std::unique_ptr<Detector> {
        if (settings.rule == ReplaySettings::Rule::naive) return std::make_unique<NaiveRuleDetector>(settings.naive);
        return std::make_unique<BaselineDetector>(settings.detector);
      },
      settings.detector.prior_bad_share);
  AlertMachine machine(settings.alerts);
  const auto out = [&](const std::vector<Effect>& effects) {
    for (const auto& e : effects)
      if (e.kind == Effect::Kind::publish) publish(e.alert);
  };
  const auto tick = std::max(settings.tick, std::chrono::seconds(1));
  std::optional<WallTime> next_tick;
  const auto run_timers_until = [&](WallTime t) {
    while (next_tick && *next_tick <= t) {
      for (const auto& [location, v] : detectors.check(*next_tick)) out(machine.on_verdict(location, location, v, *next_tick));
      out(machine.tick(*next_tick));
      *next_tick += tick;
    }
  };
  for (const auto& r : rows) {
    if (!next_tick) next_tick = r.at + tick;
    run_timers_until(r.at);
    const RatedPress p{.at = r.at, .rating = r.rating, .scale = r.scale, .device = r.device};
    out(machine.on_verdict(r.location, r.location, detectors.observe(r.location, p), r.at));
  }
  // Let alerts still open at the end resolve, as they would with no more presses (bounded: one day).
  if (next_tick) {
    const WallTime stop = *next_tick + std::chrono::hours(24);
    while (!machine.active_alerts().empty() && *next_tick < stop) run_timers_until(*next_tick);
  }
  return rows.size();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const auto n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

Evaluation evaluate(const std::vector<PressRow>& rows, const std::vector<Incident>& truth,
                    const std::vector<protocol::Alert>& published, std::chrono::seconds grace) {
  Evaluation ev;
  // Each alert's life: opened at `since`, over at its resolved update (or the end of the data).
  struct Life {
    std::string location;
    WallTime since;
    std::optional<WallTime> resolved;
  };
  std::map<std::string, Life> lives;
  for (const auto& a : published) {
    auto [it, fresh] = lives.try_emplace(a.id, Life{a.location, a.since, std::nullopt});
    if (a.state == protocol::AlertState::resolved) it->second.resolved = a.updated;
  }
  WallTime first{}, last{};
  std::map<std::string, std::vector<const PressRow*>> by_location;
  for (const auto& r : rows) {
    if (by_location.empty() || r.at < first) first = r.at;
    if (by_location.empty() || r.at > last) last = r.at;
    by_location[r.location].push_back(&r);
  }
  for (auto& [l, v] : by_location)
    std::stable_sort(v.begin(), v.end(), [](const PressRow* a, const PressRow* b) { return a->at < b->at; });
  const double days = std::chrono::duration<double>(last - first).count() / 86400.0;
  ev.location_weeks = static_cast<double>(by_location.size()) * days / 7.0;

  const auto bad_between = [&](const std::string& location, WallTime from, WallTime to) {
    int n = 0;
    for (const PressRow* r : by_location[location])
      if (r->at >= from && r->at <= to && is_bad_rating(r->rating, r->scale)) ++n;
    return n;
  };

  // The usual bad share of each location: its presses outside every incident.
  std::map<std::string, std::pair<int, int>> usual;  // bad, total
  for (const auto& r : rows) {
    const bool in_incident = std::any_of(truth.begin(), truth.end(), [&](const Incident& i) {
      return i.location == r.location && r.at >= i.start && r.at <= i.end + grace;
    });
    if (in_incident) continue;
    auto& u = usual[r.location];
    u.first += is_bad_rating(r.rating, r.scale) ? 1 : 0;
    u.second += 1;
  }

  std::vector<double> delay_bad, delay_s;
  for (const auto& inc : truth) {
    ++ev.incidents;
    ev.delays.emplace_back();
    const bool detectable = bad_between(inc.location, inc.start, inc.end + grace) >= 3;
    if (detectable) ++ev.detectable;
    int n = 0;
    for (const PressRow* r : by_location[inc.location]) n += r->at >= inc.start && r->at <= inc.end ? 1 : 0;
    const int k = bad_between(inc.location, inc.start, inc.end);
    const auto u = usual[inc.location];
    const double share = (u.first + 1.0) / (u.second + 2.0);
    const bool evident = k >= 3 && binomial_upper_tail(k, n, share) < 1e-3;
    if (evident) ++ev.evident;
    std::optional<WallTime> first_alert;
    for (const auto& [id, life] : lives)
      if (life.location == inc.location && life.since >= inc.start && life.since <= inc.end + grace &&
          (!first_alert || life.since < *first_alert))
        first_alert = life.since;
    if (!first_alert) continue;
    ++ev.detected;
    if (detectable) ++ev.detected_detectable;
    if (evident) ++ev.detected_evident;
    delay_bad.push_back(bad_between(inc.location, inc.start, *first_alert));
    delay_s.push_back(std::chrono::duration<double>(*first_alert - inc.start).count());
    ev.delays.back() = Evaluation::Delay{delay_bad.back(), delay_s.back()};
  }
  for (const auto& [id, life] : lives) {
    ++ev.alerts;
    const WallTime end = life.resolved.value_or(std::max(last, life.since));
    const bool overlaps = std::any_of(truth.begin(), truth.end(), [&](const Incident& inc) {
      return inc.location == life.location && life.since <= inc.end + grace && end >= inc.start;
    });
    if (!overlaps) ++ev.false_alerts;
  }
  ev.median_delay_bad = median(delay_bad);
  ev.median_delay_s = median(delay_s);
  return ev;
}

}  // namespace kiosk::hub
