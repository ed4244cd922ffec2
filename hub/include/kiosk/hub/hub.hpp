// The venue hub: wires MQTT, ingest, the registry, SQLite and the HTTP API together on one
// io_context thread, and offers the extension points the alerts part plugs into.
#pragma once

#include <chrono>
#include <functional>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/json/object.hpp>

#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/http_server.hpp"
#include "kiosk/hub/hub_config.hpp"
#include "kiosk/hub/ingest.hpp"
#include "kiosk/hub/log.hpp"
#include "kiosk/hub/log_limiter.hpp"
#include "kiosk/hub/manager_tokens.hpp"
#include "kiosk/hub/metrics.hpp"
#include "kiosk/hub/mqtt_link.hpp"
#include "kiosk/hub/registry.hpp"
#include "kiosk/hub/report.hpp"
#include "kiosk/hub/sqlite_store.hpp"
#include "kiosk/protocol/topics.hpp"

namespace kiosk::hub {

// Online/offline changes of one device in a minute that mean flapping: three sessions lost in a
// minute is no flaky Wi-Fi any more but two terminals with one device file (each login closes the
// other's session: the broker binds the account to one client id).
inline constexpr std::size_t kFlappingChanges = 6;

class Hub final : private IngestPorts {
 public:
  // Opens the database (migrating it) and the HTTP listener; throws on failure (startup boundary).
  Hub(boost::asio::io_context& io, HubConfig config, const Clock& clock, const Log& log,
      std::unique_ptr<BrokerAccounts> accounts);
  ~Hub() override;

  // Starts listening, connecting and the periodic persistence. Logs "hub: listening on http://...".
  void start();
  // Stops HTTP, commits and acks the pending batch, publishes hub offline, disconnects.
  void shutdown();
  std::uint16_t http_port() const { return http_.port(); }

  // ---- extension points (alerts and later parts) -------------------------------------------
  // Called after each batch commit+ack, once per press (inserted false: it was a duplicate; a press
  // kept as a seq conflict is new guest feedback, inserted true).
  using PressObserver = std::function<void(const PressRecord&, bool inserted)>;
  void add_press_observer(PressObserver observer) { press_observers_.push_back(std::move(observer)); }
  // Messages on other subscribed topics (e.g. alert acks) go to the handler for their kind.
  using TopicHandler = std::function<void(const protocol::Topic&, const std::string& payload, Received at)>;
  void add_topic_handler(protocol::TopicKind kind, TopicHandler handler) {
    topic_handlers_[kind] = std::move(handler);
  }
  // Who may write through an extra route: the hub's token only (the default, as for every built-in
  // route), or managers' own tokens too (the handler then decides what each may do).
  enum class Writers { hub, hub_and_managers };
  // Extra HTTP routes, tried before the built-in ones: exact method and a path prefix.
  void add_route(std::string method, std::string path_prefix, HttpHandler handler, Writers writers = Writers::hub) {
    routes_.push_back({std::move(method), std::move(path_prefix), std::move(handler), writers});
  }
  // More Prometheus text appended to /metrics (e.g. the alert counters).
  void add_metrics_source(std::function<std::string()> source) { metrics_sources_.push_back(std::move(source)); }
  // The venue's UTC offset and bad-rating rule for /api/report: the alert service, which owns
  // those settings, hands them over; without it the report is in UTC with bad = rating <= scale / 2.
  void set_report_settings(ReportSettings settings) { report_settings_ = std::move(settings); }
  // How the alert settings read a press: a call for a manager, or a rating that is bad or not
  // (the detectors' and the report's rule), for the dashboard and the API.
  struct PressReading {
    bool call_manager = false;
    bool bad = false;
  };
  PressReading read_press(const std::string& device, const std::string& location, int button, int rating,
                          int scale) const;
  // A stored press as the API and the event stream show it, with its reading.
  boost::json::object press_json(const PressRecord& press) const;
  // Tells the dashboard's event stream about a device's new state (registered, moved, retired, liveness).
  void device_changed(const DeviceRecord& device);
  // A device as the API shows it: its record and how often it went online or offline in the last
  // minute (flapping: two terminals with one device file close each other's session).
  boost::json::object device_view(const DeviceRecord& device);
  std::size_t recent_state_changes(const std::string& device);
  // A Server-Sent Event to every /api/events client (data: one JSON object).
  void publish_event(std::string_view type, const std::string& json) { http_.streams().broadcast(type, json); }
  bool has_event_listeners() { return !http_.streams().empty(); }
  // Who sent an HTTP request: the hub's token (technicians and tools: everything), a manager's own
  // token (reads, and acknowledging alerts as that manager), or no token that works.
  struct Caller {
    enum class Kind { anonymous, hub, manager } kind = Kind::anonymous;
    std::string manager;  // kind == manager
  };
  Caller caller(const HttpRequest& req) const;
  // Writes need a token; returns nullopt after answering 401.
  std::optional<Caller> authorize_write(const HttpRequest& req, const std::shared_ptr<HttpSession>& session);

  boost::asio::io_context& io() { return io_; }
  const Clock& clock() const { return clock_; }
  const Log& log() const { return log_; }
  const HubConfig& config() const { return config_; }
  SqliteStore& store() { return store_; }
  Registry& registry() { return registry_; }
  MqttLink& mqtt() { return *mqtt_; }
  HubCounters& counters() { return counters_; }

 private:
  // MQTT
  // Views valid during the call only (MqttLink::Handlers).
  void on_message(std::string_view topic, std::string_view payload, Received at);
  void on_oversized(std::string_view topic, std::size_t bytes, Received at);
  void on_connection(bool connected, const std::string& why);
  void on_status(const std::string& device, std::string_view payload, Received at);
  void on_telemetry(const std::string& device, std::string_view payload, Received at);
  void publish_device_config(const DeviceRecord& d);
  void count_reject(const std::string& device, const std::string& reason, const std::string& detail);

  // IngestPorts
  DeviceLookup lookup(const std::string& device) override { return registry_.lookup(device); }
  std::optional<std::string> commit_presses(const std::vector<PressRecord>& rows,
                                            std::vector<PressOutcome>& outcomes) override;
  bool publish_ack(const std::string& device, const std::string& payload) override;
  void rejected(const std::string& device, const std::string& reason, const std::string& detail,
                protocol::WallTime at) override;
  void acknowledged(const PressRecord& row, bool inserted, bool acked) override;
  void commit_failed(const std::string& error, std::size_t presses) override;
  void seq_conflict(const std::string&, const std::string& detail) override { log_.warn("ingest", detail); }
  struct FailingCommits {
    std::uint64_t batches = 0;  // since the last good commit
    std::uint64_t presses = 0;
  };

  void arm_batch_timer();
  void flush_batch();
  void persist_runtime();
  void schedule_persist();
  void register_devices_shortcut();

  // HTTP (hub_api.cpp)
  void handle_http(const HttpRequest& req, std::shared_ptr<HttpSession> session);
  void route_api(const HttpRequest& req, const std::shared_ptr<HttpSession>& session);
  // /api/managers (manager_api.cpp)
  void route_managers(const HttpRequest& req, const std::shared_ptr<HttpSession>& session,
                      const std::vector<std::string>& seg);
  void list_managers(const HttpRequest& req, const std::shared_ptr<HttpSession>& session);
  void add_manager(const HttpRequest& req, const std::shared_ptr<HttpSession>& session);
  void issue_manager_token(const HttpRequest& req, const std::shared_ptr<HttpSession>& session, const std::string& id);
  void remove_manager(const HttpRequest& req, const std::shared_ptr<HttpSession>& session, const std::string& id);
  // Why `id` cannot be a manager (a terminal, the hub's own account), or nullopt.
  std::optional<std::string> not_a_manager_id(const std::string& id) const;

  boost::asio::io_context& io_;
  HubConfig config_;
  const Clock& clock_;
  const Log& log_;
  std::unique_ptr<BrokerAccounts> accounts_;
  SqliteStore store_;
  std::string token_;
  ManagerTokens manager_tokens_;
  std::uint64_t manager_removals_ = 0;  // a token renewal waiting on the broker checks none came meanwhile
  Registry registry_;
  HubCounters counters_;
  LatencyHistogram latency_;
  Ingest ingest_;
  HttpServer http_;
  std::unique_ptr<MqttLink> mqtt_;
  boost::asio::steady_timer batch_timer_;
  bool batch_timer_armed_ = false;
  std::uint64_t batch_generation_ = 0;
  boost::asio::steady_timer persist_timer_;
  bool rejected_dirty_ = false;
  bool stopped_ = false;
  SteadyTime started_at_{};
  std::optional<std::string> last_db_error_;
  FailingCommits failing_commits_;
  LogGate commit_log_{std::chrono::minutes(1)};  // failed commits: at once, then once a minute
  LogLimiter<std::pair<std::string, std::string>> reject_log_{std::chrono::minutes(1)};  // by (device, reason)
  std::set<std::string> configs_pending_;  // retained configs to publish once the broker is back
  // Devices whose new password the broker has not answered yet: a second rotation meanwhile would
  // hand out a password the first one overwrites.
  std::set<std::string> rotating_;
  // When each device went online or offline, the last minute of it; when flapping was last warned of.
  std::map<std::string, std::deque<SteadyTime>> state_changes_;
  LogLimiter<std::string> flap_log_{std::chrono::hours(1)};
  // Saving device state fails (a full disk): how often since the last success; logged once a minute.
  std::uint64_t persist_failures_ = 0;
  LogGate persist_log_{std::chrono::minutes(1)};

  std::vector<PressObserver> press_observers_;
  std::vector<std::function<std::string()>> metrics_sources_;
  ReportSettings report_settings_;
  std::map<protocol::TopicKind, TopicHandler> topic_handlers_;
  struct Route {
    std::string method;
    std::string prefix;
    HttpHandler handler;
    Writers writers = Writers::hub;
  };
  std::vector<Route> routes_;
};

}  // namespace kiosk::hub
