// The report's SQL: SQLite does the counting (one row per location, hour, scale, rating and button)
// from the 15-minute press counts, so a week of a busy venue is a few thousand rows, not millions.
#include "kiosk/hub/report_query.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include "kiosk/hub/clock.hpp"

namespace kiosk::hub {

namespace {

constexpr std::int64_t kSlotMs = 900'000;  // press_slots: 15 minutes (schema migration 4)

// A "call a manager" button of one device only (the alert settings' call_manager with a device).
struct DeviceButton {
  std::string device;
  int button = 0;
};

// Appends the rows of one grouped query over [from_bound, to_bound); with `device`, that device's
// presses of that button only, as a breakdown of the rows read without one.
std::optional<std::string> append_counts(Database& db, const std::string& sql, const std::string& site,
                                         std::int64_t from_bound, std::int64_t to_bound, std::int64_t offset_ms,
                                         const std::optional<std::string>& location, std::vector<PressCount>& out,
                                         const DeviceButton* device = nullptr) {
  if (from_bound >= to_bound) return std::nullopt;
  Statement s(db, sql);
  s.bind(1, site).bind(2, from_bound).bind(3, to_bound).bind(4, offset_ms);
  if (location) s.bind(5, *location);
  if (device) s.bind(6, device->device).bind(7, static_cast<std::int64_t>(device->button));
  while (s.step()) {
    out.push_back(PressCount{s.column_text(0), s.column_int(1), static_cast<int>(s.column_int(2)),
                             static_cast<int>(s.column_int(3)), s.column_int(4), s.column_int(5),
                             static_cast<int>(s.column_int(6)), device ? device->device : std::string()});
  }
  if (s.failed()) return "report presses: " + db.last_error();
  return std::nullopt;
}

}  // namespace

protocol::Result<std::vector<PressCount>> read_press_counts(Database& db, const std::string& site,
                                                            const ReportPeriod& period,
                                                            const TimeZone& zone,
                                                            const std::optional<std::string>& location,
                                                            const std::vector<CallManagerButton>& call_manager) {
  // Whole 15-minute slots come from press_slots; the partial slots at either end (a period up to
  // "now") from the presses themselves, through presses_by_time: a quarter of an hour at most.
  // Integer division is the local hour: every stored time is after 1970, so it truncates downwards.
  // Flags are a JSON array of strings; '"repeat"' with its quotes matches that flag only.
  // A device's own "call a manager" button: press_slots has no device, so that device's presses of
  // that button come from the presses of the period (presses_by_time, or presses_by_location for one
  // location): ~0.2 s for a week of 1M, paid only by venues with such a button. An index on
  // (site, device, button, pressed_at_ms) would read only the calls, but costs every stored press
  // about 7 us of CPU (measured: 2.7 times what press_slots' triggers cost), at every venue.
  // Rows are split by button only when a location has a call button: that makes the query ~30 %
  // slower (a longer grouping key), for nothing otherwise. -1 is no button.
  const bool by_button =
      std::any_of(call_manager.begin(), call_manager.end(), [](const CallManagerButton& b) { return b.device.empty(); });
  const std::string button = by_button ? "button" : "-1";
  const std::string group_button = by_button ? ", button" : "";
  const std::string where_location = location ? " AND location = ?5" : "";
  // The presses, and those kept as seq conflicts (guest feedback all the same; press_slots counts
  // both), each filtered on its own so the presses' indexes serve.
  const auto presses_where = [](const std::string& where) {
    const std::string columns = "SELECT location, pressed_at_ms, scale, rating, flags, button FROM ";
    return "(" + columns + "presses WHERE " + where + " UNION ALL " + columns + "press_conflicts WHERE " + where + ")";
  };
  const std::string from_presses =
      "SELECT location, (pressed_at_ms + ?4) / 3600000 AS hour, scale, rating, COUNT(*), "
      "SUM(instr(flags, '\"repeat\"') > 0), " + button + " FROM " +
      presses_where("site = ?1 AND pressed_at_ms >= ?2 AND pressed_at_ms < ?3" + where_location) +
      " GROUP BY location, hour, scale, rating" + group_button;
  const std::string from_slots =
      "SELECT location, (slot * 900000 + ?4) / 3600000 AS hour, scale, rating, SUM(presses), SUM(repeats), " +
      button + " FROM press_slots WHERE site = ?1 AND slot >= ?2 AND slot < ?3" + where_location +
      " GROUP BY location, hour, scale, rating" + group_button;
  const std::string from_device =
      "SELECT location, (pressed_at_ms + ?4) / 3600000 AS hour, scale, rating, COUNT(*), "
      "SUM(instr(flags, '\"repeat\"') > 0), button FROM " +
      presses_where("site = ?1 AND device = ?6 AND button = ?7 AND pressed_at_ms >= ?2 AND pressed_at_ms < ?3" +
                    where_location) +
      " GROUP BY location, hour, scale, rating";
  std::set<std::pair<std::string, int>> device_buttons;
  for (const auto& b : call_manager)
    if (!b.device.empty()) device_buttons.emplace(b.device, b.button);
  std::vector<PressCount> out;
  try {
    std::optional<std::string> error;
    // The hours are local, so each stretch between two changes of the clocks is read with its own
    // offset (a year has at most three); the hour the clocks repeat gets the rows of both.
    for (WallTime start = period.from; start < period.to && !error;) {
      const auto change = zone.next_change(start);
      const WallTime end = change ? std::min(period.to, *change) : period.to;
      const std::int64_t from = to_ms(start);
      const std::int64_t to = to_ms(end);
      const std::int64_t offset_ms =
          std::chrono::duration_cast<std::chrono::milliseconds>(zone.offset_at(start)).count();
      const std::int64_t first_slot = (from + kSlotMs - 1) / kSlotMs;  // the first whole slot
      const std::int64_t end_slot = to / kSlotMs;                      // past the last whole slot
      if (first_slot >= end_slot) {
        error = append_counts(db, from_presses, site, from, to, offset_ms, location, out);
      } else {
        error = append_counts(db, from_presses, site, from, first_slot * kSlotMs, offset_ms, location, out);
        if (!error) error = append_counts(db, from_slots, site, first_slot, end_slot, offset_ms, location, out);
        if (!error) error = append_counts(db, from_presses, site, end_slot * kSlotMs, to, offset_ms, location, out);
      }
      for (const auto& [device, button] : device_buttons) {
        if (error) break;
        const DeviceButton d{device, button};
        error = append_counts(db, from_device, site, from, to, offset_ms, location, out, &d);
      }
      start = end;
    }
    if (error) return protocol::Error{"database", *error};
  } catch (const StoreError& e) {
    return protocol::Error{"database", e.what()};
  }
  return out;
}

protocol::Result<std::vector<AlertTimes>> read_alert_times(Database& db, const std::string& site,
                                                           const ReportPeriod& period,
                                                           const std::optional<std::string>& location) {
  std::string sql =
      "SELECT location, since_ms, acked_at_ms, resolved_at_ms FROM alerts "
      "WHERE site = ?1 AND since_ms >= ?2 AND since_ms < ?3";
  if (location) sql += " AND location = ?4";
  try {
    Statement s(db, sql);
    s.bind(1, site).bind(2, to_ms(period.from)).bind(3, to_ms(period.to));
    if (location) s.bind(4, *location);
    std::vector<AlertTimes> out;
    while (s.step()) {
      AlertTimes a;
      a.location = s.column_text(0);
      a.since = from_ms(s.column_int(1));
      if (auto v = s.column_opt_int(2)) a.acked = from_ms(*v);
      if (auto v = s.column_opt_int(3)) a.resolved = from_ms(*v);
      out.push_back(std::move(a));
    }
    if (s.failed()) return protocol::Error{"database", "report alerts: " + db.last_error()};
    return out;
  } catch (const StoreError& e) {
    return protocol::Error{"database", e.what()};
  }
}

}  // namespace kiosk::hub
