// The manager's report: presses, bad share, score, calls for a manager, alerts and worst hours per
// location over a period, computed from aggregated rows (pure: no SQLite, time passed in).
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>

#include "kiosk/hub/alert_config.hpp"
#include "kiosk/protocol/result.hpp"
#include "kiosk/protocol/time.hpp"

namespace kiosk::hub {

using protocol::WallTime;

// [from, to): what the report covers.
struct ReportPeriod {
  WallTime from{};
  WallTime to{};
};

// The period as asked: dates (YYYY-MM-DD, venue local days) or RFC 3339 times, and/or a day count.
struct PeriodRequest {
  std::optional<std::string> from;
  std::optional<std::string> to;    // a date includes that whole day
  std::optional<std::string> days;  // 1..366; default 7 when from is not given
};

constexpr int kDefaultReportDays = 7;
constexpr int kMaxReportDays = 366;

// Without `from`: the `days` local days ending with the day of `to` (default now), today so far
// included. With `from` and `days`: `days` x 24 h from `from`. All three: an error.
protocol::Result<ReportPeriod> resolve_period(const PeriodRequest& request, WallTime now, const TimeZone& zone);

// Presses of one location in one local hour with one (scale, rating, button), as SQL groups them.
// A row with a device is a breakdown, not more presses: those of its presses that the device-less
// rows already count and that came from that device (read for devices with their own "call a
// manager" button only).
struct PressCount {
  std::string location;
  std::int64_t local_hour = 0;  // hours since 1970-01-01 00:00 venue time
  int scale = 0;
  int rating = 0;
  std::int64_t presses = 0;  // including repeats
  std::int64_t repeats = 0;  // flagged "repeat": the same guest again, not a second opinion
  int button = -1;     // -1: any (rows are told apart by button when a location has a call button)
  std::string device;  // empty: every device
};

// An alert raised in the period with the times that matter to a manager.
struct AlertTimes {
  std::string location;
  WallTime since{};
  std::optional<WallTime> acked;
  std::optional<WallTime> resolved;
};

struct ReportSettings {
  TimeZone time_zone;
  std::optional<int> bad_max_rating;                      // the detector's setting; unset: scale / 2
  std::map<std::string, std::optional<int>> bad_max_by_location;  // per-location detector settings
  // The alert settings' "call a manager" buttons: a guest asking for a manager is not a rating.
  std::vector<CallManagerButton> call_manager;
  // An hour of day is ranked only with at least this many presses: below it one or two unhappy
  // guests decide the share (at 20, one bad press moves it by 5 points).
  int min_hour_presses = 20;
  std::size_t worst_hours = 3;
};

// Counts of presses that are ratings (repeats excluded, counted apart) and of calls for a manager.
// presses + manager_calls + repeats: every press stored.
struct Tally {
  std::int64_t presses = 0;
  std::int64_t bad = 0;
  std::int64_t repeats = 0;        // ratings and calls alike
  std::int64_t manager_calls = 0;  // presses of "call a manager" buttons, repeats excluded
  double score_sum = 0;  // sum of (rating - 1) / (scale - 1): 0 worst, 1 best

  std::optional<double> bad_share() const;  // bad / presses; none without presses
  std::optional<double> score() const;      // average rating on 0..100; none without presses
  void add(const Tally& other);
};

struct HourTally {
  int hour = 0;  // 0..23 local
  Tally tally;
};

struct DayTally {
  std::string date;  // YYYY-MM-DD local
  Tally tally;
};

struct AlertSummary {
  std::int64_t raised = 0;
  std::int64_t acknowledged = 0;
  std::int64_t resolved = 0;
  std::optional<double> median_ack_s;      // over acknowledged alerts
  std::optional<double> median_resolve_s;  // over resolved alerts
};

struct LocationReport {
  std::string id;  // empty: the whole site
  std::string name;
  std::optional<int> bad_max_rating;  // the rule its ratings were judged by; unset: scale / 2
  Tally tally;
  AlertSummary alerts;
  std::vector<HourTally> worst_hours;  // highest bad share first, among hours with enough presses
  std::vector<DayTally> days;          // every local day of the period
};

struct Report {
  ReportPeriod period;
  ReportSettings settings;
  LocationReport site;
  std::vector<LocationReport> locations;  // by id
};

// Middle value; the mean of the two middle ones for an even count; none when empty.
std::optional<double> median_of(std::vector<double> values);

// "rating <= 3", or "rating <= scale / 2" when unset.
std::string bad_rule_text(std::optional<int> bad_max_rating);
// The bad_max_rating a location's ratings are judged by: its own detector's when it has one (unset
// there: scale / 2), else the site's.
std::optional<int> bad_max_for(const ReportSettings& settings, const std::string& location);

// "2026-11-16 08:00" in venue time.
std::string local_time_text(WallTime t, const TimeZone& zone);

// What a reader must know about a period that is not all in the past: it has not begun (so its
// zeros mean nothing yet), or its figures stop at `now`. None for a period already over.
std::optional<std::string> period_note(const ReportPeriod& period, WallTime now, const TimeZone& zone);

// `locations` (id -> display name) are listed even without presses; a location seen only in the
// rows or alerts is listed too (named by its id).
Report build_report(const ReportPeriod& period, const ReportSettings& settings,
                    const std::map<std::string, std::string>& locations, const std::vector<PressCount>& counts,
                    const std::vector<AlertTimes>& alerts);

boost::json::object to_json(const Report& report);

}  // namespace kiosk::hub
