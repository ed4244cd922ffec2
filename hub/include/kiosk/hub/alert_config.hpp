// The alert settings file (JSON): detector settings per location, contacts and their duty hours,
// escalation, repeat and update intervals, "call a manager" buttons, webhook retry policy.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/hub/alert_machine.hpp"
#include "kiosk/hub/detector.hpp"
#include "kiosk/hub/routing.hpp"
#include "kiosk/protocol/result.hpp"

namespace kiosk::hub {

// Which detector a location uses, and its settings. "baseline" is the product's detector; "naive"
// ("N bad in M minutes") is there for venues that want a rule they can explain in one sentence.
struct DetectorChoice {
  enum class Kind { baseline, naive };
  Kind kind = Kind::baseline;
  DetectorSettings baseline;
  NaiveRuleSettings naive;

  std::unique_ptr<Detector> make() const;
  std::chrono::seconds resolve_after() const;
};

// A button that means "call a manager" rather than a rating: at a location (or "*"), or on one device.
struct CallManagerButton {
  std::string location = "*";  // used when device is empty
  std::string device;
  int button = 0;
  friend bool operator==(const CallManagerButton&, const CallManagerButton&) = default;
};

// Whether a press of `button` at `device` (placed at `location`) is one of `buttons`.
bool is_call_manager(const std::vector<CallManagerButton>& buttons, std::string_view device, std::string_view location,
                     int button);

struct WebhookPolicy {
  std::chrono::milliseconds timeout{5000};         // per attempt: connect + request + response
  std::chrono::milliseconds backoff_initial{1000};  // first retry after this (then doubling) ...
  std::chrono::milliseconds backoff_max{std::chrono::minutes(5)};  // ... capped here
  double jitter = 0.2;       // +-20 %, so many queued posts do not retry in lockstep
  int max_attempts = 0;      // 0: keep trying until max_age
  std::chrono::seconds max_age{std::chrono::hours(24)};  // an alert older than this is news to nobody
  int max_in_flight = 4;
  // https webhooks trust the system's CAs (ca-certificates) and, when set, the CAs in this PEM
  // file (a venue's own relay or paging box).
  std::string ca_file;
};

struct AlertConfig {
  DetectorChoice default_detector;
  std::map<std::string, DetectorChoice> detectors;  // by location; others use default_detector
  AlertSettings alert;                               // repeat, escalate, update intervals
  std::vector<Contact> contacts;
  TimeZone time_zone;  // venue local time, for duty windows, hour-of-week baselines and reports
  std::string time_zone_setting;  // "time_zone" as given (empty: utc_offset_min or UTC), to follow tzdata updates
  std::vector<CallManagerButton> call_manager;
  WebhookPolicy webhooks;
  std::chrono::milliseconds tick{1000};  // how often resolution, repeats and escalation are checked
  // A press that reaches the hub later than this after it happened (a terminal's backlog after an
  // outage) is history for the reports, not a live signal: it does not feed the detectors.
  std::chrono::seconds max_press_age{std::chrono::minutes(10)};
  // Presses replayed into the detectors at start so baselines and open incidents carry over.
  std::chrono::hours warmup{24 * 7};
  std::size_t warmup_presses = 20000;

  const DetectorChoice& detector_for(std::string_view location) const;
  bool is_call_manager(std::string_view device, std::string_view location, int button) const;
  Routing routing() const { return Routing(contacts, time_zone); }
};

// A "time_zone" setting: a tz database name or POSIX rule (load_time_zone) whose offsets are whole
// quarter hours from 1980 on (the report's 15-minute slots).
protocol::Result<TimeZone> load_venue_time_zone(std::string_view name, const std::string& zoneinfo = zoneinfo_dir());
// Parses the settings file's text; every key is optional (see docs in alert_config.cpp).
protocol::Result<AlertConfig> parse_alert_config(std::string_view json);
// Reads and parses a file; throws std::invalid_argument with a one-line reason (startup boundary).
AlertConfig load_alert_config(const std::string& path);

}  // namespace kiosk::hub
