// The hub's alerting adapter: stored presses into the detectors, verdicts into the alert machine, and its
// effects out to SQLite, the retained alert/<location> topic, webhooks and the dashboard's event stream.
// Also the alert acks (MQTT and HTTP), the alert API and the timer for resolution, repeats and escalation.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "kiosk/hub/alert_config.hpp"
#include "kiosk/hub/alert_machine.hpp"
#include "kiosk/hub/alert_store.hpp"
#include "kiosk/hub/detector.hpp"
#include "kiosk/hub/hub.hpp"
#include "kiosk/hub/log_limiter.hpp"
#include "kiosk/hub/report.hpp"
#include "kiosk/hub/time_zone.hpp"
#include "kiosk/hub/webhooks.hpp"

namespace kiosk::hub {

// The line a person reads where a webhook post is shown as it is: a chat service's "text" (Slack,
// Mattermost) or "content" (Discord). `place`: the location's display name.
std::string webhook_text(const protocol::Alert& alert, Change change, std::string_view place);

struct AlertCounters {
  std::uint64_t opened = 0;
  std::uint64_t updated = 0;
  std::uint64_t acked = 0;
  std::uint64_t resolved = 0;
  std::uint64_t repeated = 0;
  std::uint64_t escalated = 0;
  std::uint64_t acks_rejected = 0;
  std::uint64_t publish_failures = 0;  // retried on the next tick
  std::uint64_t store_errors = 0;
  std::uint64_t time_zone_updates = 0;        // new rules from a tzdata update, in force
  std::uint64_t time_zone_update_errors = 0;  // a changed zone file that could not be used
};

class AlertService {
 public:
  // Loads active alerts and the id counter, warms the detectors up from stored presses and
  // registers with the hub (press observer, alert acks, /api/alerts). Call before hub.start().
  // Throws on a database error (startup boundary).
  AlertService(Hub& hub, AlertConfig config);
  ~AlertService();
  AlertService(const AlertService&) = delete;
  AlertService& operator=(const AlertService&) = delete;

  // Stops the timer and webhook posts in flight (queued posts stay for the next start).
  void stop();

  const AlertCounters& counters() const { return counters_; }
  const WebhookSender::Counters& webhook_counters() const { return webhooks_.counters(); }
  // Venue local time as in force now (follows tzdata updates).
  const TimeZone& time_zone() const { return config_.time_zone; }
  // Active alerts with their times on the wall clock.
  std::vector<TrackedAlert> active_alerts() const;
  // Prometheus text for the hub's /metrics (kiosk_alerts_*, kiosk_webhook_*).
  std::string render_metrics();

 private:
  void on_press(const PressRecord& row, bool inserted);
  void on_ack(const protocol::Topic& topic, const std::string& payload);
  void on_http(const HttpRequest& req, const std::shared_ptr<HttpSession>& session);
  void tick();
  void schedule_tick();
  // The report's view of the settings: venue time, what is bad, call buttons.
  ReportSettings report_settings() const;
  // A tzdata update replaced the venue's zone file: its new rules from now on, without a restart.
  void follow_time_zone_file();
  // Now on the timeline (timers) and on the wall clock as it reads now (on-duty hours).
  EventTime event_time() const;
  // A wall clock behind the stored alerts and presses (no RTC, no NTP yet): the timeline starts at them.
  void continue_from_stored_times(const std::vector<TrackedAlert>& active);
  void warm_up();
  void run(std::vector<Effect> effects);
  bool publish(const protocol::Alert& alert, Change change);
  void republish_pending();
  // An alert change the database refused, and its webhook posts: kept, then stored on a later
  // write or tick (store_what_waits), so the record catches up once the database takes writes.
  void keep_unstored(std::vector<Effect> persists, std::vector<WebhookPost> posts);
  void store_what_waits();
  // The newest change of alert `id` that waits in memory for the database, or nullopt.
  std::optional<protocol::Alert> unstored(std::string_view id) const;
  // The store's alerts in `states` (all when empty), newest first, with the changes that wait in
  // memory laid over them: what the API lists while the database refuses writes.
  std::vector<protocol::Alert> list_alerts(const std::vector<protocol::AlertState>& states, std::size_t limit);
  void reject_ack(const std::string& reason, const std::string& detail);
  std::string display_name(const std::string& location) const;
  // The machine and the detectors run on timeline_; what leaves the service is on the wall clock.
  protocol::Alert on_wall_clock(protocol::Alert alert) const;
  TrackedAlert on_wall_clock(TrackedAlert tracked) const;

  Hub& hub_;
  Timeline timeline_;
  AlertConfig config_;
  AlertStore store_;
  AlertMachine machine_;
  // SiteDetectors makes a location's detector on first sight without telling which location;
  // this names it for the factory so each location gets its own settings.
  std::string making_for_;
  SiteDetectors detectors_;
  std::map<std::string, WallTime> last_fed_;  // per location: keeps the detector's input in time order
  WebhookSender webhooks_;
  boost::asio::steady_timer tick_timer_;
  std::optional<ZoneFileWatch> zone_file_;  // when "time_zone" names a zone of the tz database
  std::map<std::string, protocol::Alert> unpublished_;  // by location: the last state the broker has not taken
  // Alert changes and webhook posts the database refused (disk full, database locked): kept here
  // and stored on a later write or tick, so the record is right again and a manager is still
  // told once the database takes writes again.
  std::vector<Effect> unstored_;
  std::vector<WebhookPost> unqueued_posts_;
  bool was_connected_ = false;
  LogLimiter<std::string> reject_log_{std::chrono::minutes(1)};  // by reason
  AlertCounters counters_;
  bool stopped_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace kiosk::hub
