// The report's SQL: SQLite does the counting (one row per location, hour, scale and rating) from
// the 15-minute press counts, so a week of a busy venue is a few thousand rows, not millions.
#include "kiosk/hub/report_query.hpp"

#include "kiosk/hub/clock.hpp"

namespace kiosk::hub {

namespace {

constexpr std::int64_t kSlotMs = 900'000;  // press_slots: 15 minutes (schema migration 4)

// Appends the rows of one grouped query over [from_bound, to_bound).
std::optional<std::string> append_counts(Database& db, const std::string& sql, const std::string& site,
                                         std::int64_t from_bound, std::int64_t to_bound, std::int64_t offset_ms,
                                         const std::optional<std::string>& location, std::vector<PressCount>& out) {
  if (from_bound >= to_bound) return std::nullopt;
  Statement s(db, sql);
  s.bind(1, site).bind(2, from_bound).bind(3, to_bound).bind(4, offset_ms);
  if (location) s.bind(5, *location);
  while (s.step()) {
    out.push_back(PressCount{s.column_text(0), s.column_int(1), static_cast<int>(s.column_int(2)),
                             static_cast<int>(s.column_int(3)), s.column_int(4), s.column_int(5)});
  }
  if (s.failed()) return "report presses: " + db.last_error();
  return std::nullopt;
}

}  // namespace

protocol::Result<std::vector<PressCount>> read_press_counts(Database& db, const std::string& site,
                                                            const ReportPeriod& period,
                                                            std::chrono::minutes utc_offset,
                                                            const std::optional<std::string>& location) {
  // Whole 15-minute slots come from press_slots; the partial slots at either end (a period up to
  // "now") from the presses themselves, through presses_by_time: a quarter of an hour at most.
  // Integer division is the local hour: every stored time is after 1970, so it truncates downwards.
  // Flags are a JSON array of strings; '"repeat"' with its quotes matches that flag only.
  const std::string where_location = location ? " AND location = ?5" : "";
  const std::string from_presses =
      "SELECT location, (pressed_at_ms + ?4) / 3600000 AS hour, scale, rating, COUNT(*), "
      "SUM(instr(flags, '\"repeat\"') > 0) FROM presses "
      "WHERE site = ?1 AND pressed_at_ms >= ?2 AND pressed_at_ms < ?3" + where_location +
      " GROUP BY location, hour, scale, rating";
  const std::string from_slots =
      "SELECT location, (slot * 900000 + ?4) / 3600000 AS hour, scale, rating, SUM(presses), SUM(repeats) "
      "FROM press_slots WHERE site = ?1 AND slot >= ?2 AND slot < ?3" + where_location +
      " GROUP BY location, hour, scale, rating";
  const std::int64_t from = to_ms(period.from);
  const std::int64_t to = to_ms(period.to);
  const std::int64_t first_slot = (from + kSlotMs - 1) / kSlotMs;  // the first whole slot
  const std::int64_t end_slot = to / kSlotMs;                      // past the last whole slot
  const auto offset_ms =
      static_cast<std::int64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(utc_offset).count());
  std::vector<PressCount> out;
  try {
    std::optional<std::string> error;
    if (first_slot >= end_slot) {
      error = append_counts(db, from_presses, site, from, to, offset_ms, location, out);
    } else {
      error = append_counts(db, from_presses, site, from, first_slot * kSlotMs, offset_ms, location, out);
      if (!error) error = append_counts(db, from_slots, site, first_slot, end_slot, offset_ms, location, out);
      if (!error) error = append_counts(db, from_presses, site, end_slot * kSlotMs, to, offset_ms, location, out);
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
