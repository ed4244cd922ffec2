// Renders /api/report for people: aligned columns, '-' where there is nothing to measure.
#include "report_table.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <sstream>
#include <vector>

#include <boost/json.hpp>

namespace kiosk::ctl {
namespace json = boost::json;

// Named rather than anonymous: kioskctl_core is built as a unity build with commands.cpp.
namespace report_cells {

const json::value* member(const json::object& o, std::string_view key) { return o.if_contains(key); }

std::string text(const json::object& o, std::string_view key) {
  const auto* v = member(o, key);
  if (!v || v->is_null()) return "-";
  if (v->is_string()) return std::string(v->get_string());
  return json::serialize(*v);
}

std::optional<double> number(const json::object& o, std::string_view key) {
  const auto* v = member(o, key);
  if (!v || !v->is_number()) return std::nullopt;
  return v->to_number<double>();
}

std::string fixed(const std::optional<double>& v, double scale, const char* suffix = "") {
  if (!v) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%s", *v * scale, suffix);
  return buf;
}

std::string count(const json::object& o, std::string_view key) {
  auto v = number(o, key);
  return v ? std::to_string(static_cast<long long>(*v)) : "-";
}

const json::object& object_at(const json::object& o, std::string_view key) {
  static const json::object empty;
  const auto* v = member(o, key);
  return v && v->is_object() ? v->get_object() : empty;
}

std::string cell(std::string s, std::size_t width, bool right) {
  if (s.size() >= width) return s + " ";
  const std::string pad(width - s.size(), ' ');
  return (right ? pad + s : s + pad) + " ";
}

std::string worst_hours(const json::object& l) {
  const auto* v = member(l, "worst_hours");
  if (!v || !v->is_array() || v->get_array().empty()) return "-";
  std::string out;
  for (const auto& h : v->get_array()) {
    if (!h.is_object()) continue;
    const auto& o = h.get_object();
    const auto hour = number(o, "hour").value_or(0);
    char buf[48];
    std::snprintf(buf, sizeof buf, "%02d-%02dh %.0f%% of %lld", static_cast<int>(hour), (static_cast<int>(hour) + 1) % 24,
                  number(o, "bad_share").value_or(0) * 100, static_cast<long long>(number(o, "presses").value_or(0)));
    out += (out.empty() ? "" : ", ") + std::string(buf);
  }
  return out;
}

struct Column {
  const char* title;
  std::size_t width;
  bool right;
};

const Column kColumns[] = {{"LOCATION", 20, false}, {"PRESSES", 8, true}, {"BAD", 6, true},   {"BAD%", 6, true},
                           {"SCORE", 6, true},     {"ALERTS", 7, true},  {"ACKED", 6, true}, {"TO ACK", 7, true},
                           {"TO RESOLVE", 11, true}, {"WORST HOURS", 0, false}};

std::string row(const std::vector<std::string>& cells) {
  std::string out;
  for (std::size_t i = 0; i < cells.size(); ++i)
    out += i + 1 == cells.size() ? cells[i] : cell(cells[i], kColumns[i].width, kColumns[i].right);
  return out + "\n";
}

// "lobby 4, spa 2": locations with calls for a manager; empty when none had any.
std::string calls_by_location(const json::value* locations) {
  std::string out;
  if (!locations || !locations->is_array()) return out;
  for (const auto& l : locations->get_array()) {
    if (!l.is_object()) continue;
    if (auto n = number(l.get_object(), "manager_calls"); n && *n > 0)
      out += (out.empty() ? "" : ", ") + text(l.get_object(), "id") + " " + count(l.get_object(), "manager_calls");
  }
  return out;
}

// " (desk: rating <= 3)": locations judged by their own rule rather than the site's.
std::string own_bad_rules(const json::object& r, const json::value* locations) {
  std::string out;
  if (!locations || !locations->is_array()) return out;
  const auto site_rule = text(r, "bad_rule");
  for (const auto& l : locations->get_array()) {
    if (!l.is_object() || !member(l.get_object(), "bad_rule")) continue;
    if (const auto rule = text(l.get_object(), "bad_rule"); rule != site_rule)
      out += (out.empty() ? "" : ", ") + text(l.get_object(), "id") + ": " + rule;
  }
  return out.empty() ? out : " (" + out + ")";
}

std::string location_row(const std::string& name, const json::object& l) {
  const auto& a = object_at(l, "alerts");
  const auto wait = [&](std::string_view key) {
    auto v = number(a, key);
    return v ? short_duration(*v) : std::string("-");
  };
  return row({name, count(l, "presses"), count(l, "bad"), fixed(number(l, "bad_share"), 100, "%"),
              fixed(number(l, "score"), 1), count(a, "raised"), count(a, "acknowledged"), wait("median_ack_s"),
              wait("median_resolve_s"), worst_hours(l)});
}

}  // namespace report_cells

std::string short_duration(double seconds) {
  const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
  char buf[32];
  if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
  else if (s < 3600) std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  else if (s < 86400) std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, s % 3600 / 60);
  else std::snprintf(buf, sizeof buf, "%lldd%02lldh", s / 86400, s % 86400 / 3600);
  return buf;
}

std::string render_report(const json::object& r, bool daily) {
  using namespace report_cells;
  std::ostringstream out;
  const auto& total = object_at(r, "total");
  const auto* locations = member(r, "locations");
  out << "Report for site " << text(r, "site") << ", " << text(r, "from_local") << " to " << text(r, "to_local")
      << " (" << text(r, "time_zone") << ")\n";
  if (const auto* note = member(r, "note"); note && note->is_string())
    out << "Note: " << std::string_view(note->get_string()) << ".\n";
  out << "Bad: " << text(r, "bad_rule") << own_bad_rules(r, locations)
      << ". Score: average rating on 0..100 (0 all worst, 100 all best).\n"
      << "Repeat presses (the same guest again) are not counted";
  if (auto repeats = number(total, "repeats"); repeats && *repeats > 0)
    out << ": " << static_cast<long long>(*repeats) << " left out";
  out << ". TO ACK, TO RESOLVE: median time from the alert.\n";
  if (auto calls = number(total, "manager_calls"); calls && *calls > 0)
    out << "Calls for a manager, not counted as ratings: " << static_cast<long long>(*calls) << " ("
        << calls_by_location(locations) << ").\n";
  out << "Worst hours: hour of day with the highest bad share, among hours with at least "
      << text(r, "min_hour_presses") << " presses.\n\n";
  std::vector<std::string> titles;
  for (const auto& c : kColumns) titles.emplace_back(c.title);
  out << row(titles);
  if (locations && locations->is_array())
    for (const auto& l : locations->get_array())
      if (l.is_object()) out << location_row(text(l.get_object(), "id"), l.get_object());
  out << location_row("ALL", total);

  if (daily && locations && locations->is_array()) {
    out << "\n" << cell("LOCATION", 20, false) << cell("DAY", 11, false) << cell("PRESSES", 8, true)
        << cell("BAD", 6, true) << cell("BAD%", 6, true) << "SCORE\n";
    auto day_lines = [&](const std::string& name, const json::object& l) {
      const auto* days = member(l, "days");
      if (!days || !days->is_array()) return;
      for (const auto& d : days->get_array()) {
        if (!d.is_object()) continue;
        const auto& o = d.get_object();
        out << cell(name, 20, false) << cell(text(o, "date"), 11, false) << cell(count(o, "presses"), 8, true)
            << cell(count(o, "bad"), 6, true) << cell(fixed(number(o, "bad_share"), 100, "%"), 6, true)
            << fixed(number(o, "score"), 1) << "\n";
      }
    };
    for (const auto& l : locations->get_array())
      if (l.is_object()) day_lines(text(l.get_object(), "id"), l.get_object());
    if (locations->get_array().size() > 1) day_lines("ALL", total);
  }
  return out.str();
}

}  // namespace kiosk::ctl
