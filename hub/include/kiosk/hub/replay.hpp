// Offline replay: parse a CSV of presses, run it through a detector and the alert machine, and score
// the alerts against known incidents (pure: text in, values out; the tools do the file I/O).
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/hub/alert_machine.hpp"
#include "kiosk/hub/detector.hpp"
#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/result.hpp"

namespace kiosk::hub {

// One CSV row: time,location,device,rating,scale.
struct PressRow {
  WallTime at{};
  std::string location;
  std::string device;
  int rating = 0;
  int scale = 0;
  friend bool operator==(const PressRow&, const PressRow&) = default;
};

// A line that could not be used: reported with its number, counted, not fatal.
struct CsvProblem {
  int line = 0;  // 1-based, the header is line 1
  std::string reason;
};

template <class Row>
struct CsvRows {
  std::vector<Row> rows;
  std::vector<CsvProblem> problems;
};

// RFC 3339 UTC, with milliseconds ("2026-10-01T08:00:00.250Z") or without ("2026-10-01T08:00:00Z").
protocol::Result<WallTime> parse_csv_time(std::string_view text, std::string_view field = "time");

// Needs a header naming the columns time, location, device, rating, scale (any order; extra
// columns ignored). Only a missing or incomplete header is an error; bad lines become problems.
protocol::Result<CsvRows<PressRow>> parse_press_csv(std::string_view text);
std::string press_csv_header();  // "time,location,device,rating,scale"
std::string to_csv(const PressRow& row);

// Ground truth of a simulation: an incident at a location from start to end.
struct Incident {
  std::string location;
  WallTime start{};
  WallTime end{};
  double bad_share = 0;  // what the simulator set; informational
};
protocol::Result<CsvRows<Incident>> parse_truth_csv(std::string_view text);
std::string truth_csv_header();  // "location,start,end,bad_share"
std::string to_csv(const Incident& incident);

struct ReplaySettings {
  enum class Rule { baseline, naive };
  Rule rule = Rule::baseline;
  DetectorSettings detector;
  NaiveRuleSettings naive;
  AlertSettings alerts;
  std::chrono::seconds tick{30};  // how often the replayed clock fires timers between presses
};

// Runs the presses (sorted by time first) and calls `publish` for every alert state change, as the
// hub would publish it. Returns the number of presses used.
std::size_t replay(std::vector<PressRow> rows, const ReplaySettings& settings,
                   const std::function<void(const protocol::Alert&)>& publish);

struct Evaluation {
  int incidents = 0;
  int detected = 0;            // an alert opened at the location between start and end + grace
  int detectable = 0;          // incidents with at least 3 bad presses before end + grace
  int detected_detectable = 0;
  // Incidents whose own presses (start..end) are significant against the location's usual bad
  // share (P < 1e-3, >= 3 bad): what an oracle that knew start and end could have flagged.
  int evident = 0;
  int detected_evident = 0;
  double median_delay_bad = 0;  // bad presses from the incident start up to the alert, inclusive
  double median_delay_s = 0;    // seconds from the incident start to the alert
  int alerts = 0;               // alerts opened
  int false_alerts = 0;         // alerts overlapping no incident at their location
  double location_weeks = 0;
  // Per incident, in truth order: the delay in bad presses and seconds, when detected.
  struct Delay {
    double bad = 0;
    double seconds = 0;
  };
  std::vector<std::optional<Delay>> delays;
  double false_per_location_week() const { return location_weeks > 0 ? false_alerts / location_weeks : 0; }
  double detected_share() const { return incidents > 0 ? static_cast<double>(detected) / incidents : 0; }
};

double median(std::vector<double> values);  // 0 when empty

// Scores alerts (every published state, as from replay) against the truth. Bad presses are
// ratings <= scale / 2. An alert still open at the end of the data lasts until the last press.
Evaluation evaluate(const std::vector<PressRow>& rows, const std::vector<Incident>& truth,
                    const std::vector<protocol::Alert>& published, std::chrono::seconds grace);

}  // namespace kiosk::hub
