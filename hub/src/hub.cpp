// Hub wiring: MQTT messages into ingest and the registry, group-commit timing, acks after commit,
// periodic persistence of liveness and counters, start-up and graceful shutdown.
#include "kiosk/hub/hub.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <boost/json.hpp>

#include "kiosk/hub/access_token.hpp"
#include "kiosk/hub/detector.hpp"
#include "kiosk/protocol/ids.hpp"
#include "kiosk/protocol/messages.hpp"

namespace kiosk::hub {

using protocol::TopicKind;

namespace {
std::string make_dir_for(const std::string& file) {
  auto dir = std::filesystem::path(file).parent_path();
  if (!dir.empty()) std::filesystem::create_directories(dir);
  return file;
}

// This machine's host name, short and full, and its mDNS name: what a browser in the venue
// reaches the hub by. Names from the router's DNS (hub.fritz.box, hub.lan) are for --http-names.
std::vector<std::string> own_host_names() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0 || buf[0] == '\0') return {};
  const std::string name(buf);
  const std::string short_name = name.substr(0, name.find('.'));
  std::vector<std::string> names{short_name, short_name + ".local"};
  if (name != short_name) names.push_back(name);
  return names;
}
}  // namespace

Hub::Hub(boost::asio::io_context& io, HubConfig config, const Clock& clock, const Log& log,
         std::unique_ptr<BrokerAccounts> accounts)
    : io_(io),
      config_(std::move(config)),
      clock_(clock),
      log_(log),
      accounts_(std::move(accounts)),
      store_(make_dir_for(config_.db_path), config_.site),
      token_(load_or_create_token(config_.effective_token_file())),
      manager_tokens_(store_.database(), config_.site),
      ingest_(*this, clock_, counters_, latency_, IngestSettings{config_.batch_max}),
      http_(io_, config_.http_host, config_.http_port,
            [this](const HttpRequest& req, std::shared_ptr<HttpSession> s) { handle_http(req, std::move(s)); }),
      batch_timer_(io_),
      persist_timer_(io_) {
  if (config_.http_names.empty()) config_.http_names = own_host_names();
  registry_.load(store_.load_locations(), store_.load_devices(), store_.load_unknown_devices());
  counters_.rejected = store_.load_rejected();
  MqttSettings mqtt{config_.broker_url, config_.effective_client_id(), config_.username, config_.password,
                    config_.ca_file,    config_.cert_file,              config_.key_file, config_.site,
                    config_.tls_verify_host};
  mqtt_ = std::make_unique<MqttLink>(
      io_, clock_, log_, std::move(mqtt),
      MqttLink::Handlers{
          [this](std::string_view topic, std::string_view payload, Received at) { on_message(topic, payload, at); },
          [this](bool connected, const std::string& why) { on_connection(connected, why); },
          [this](std::string_view topic, std::size_t bytes, Received at) { on_oversized(topic, bytes, at); }});
  started_at_ = clock_.steady_now();
}

Hub::~Hub() = default;

void Hub::start() {
  register_devices_shortcut();
  http_.start();
  log_.info("hub", "listening on http://" + config_.http_host + ":" + std::to_string(http_.port()));
  if (!config_.port_file.empty()) {
    // Written whole under a temporary name, then renamed, so a reader never sees half a port.
    std::string tmp = config_.port_file + ".tmp";
    {
      std::ofstream out(tmp);
      out << http_.port() << "\n";
    }
    std::filesystem::rename(tmp, config_.port_file);
  }
  log_.info("hub", "site " + config_.site + ", database " + config_.db_path + " (schema v" +
                       std::to_string(latest_schema_version()) + "), " +
                       std::to_string(registry_.devices().size()) + " devices");
  accounts_->start();
  mqtt_->start();
  schedule_persist();
}

void Hub::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  log_.info("hub", "shutting down");
  http_.stop();
  batch_timer_.cancel();
  persist_timer_.cancel();
  flush_batch();
  persist_runtime();
  mqtt_->stop(std::chrono::seconds(3));
  accounts_->stop();
  log_.info("hub", "stopped");
}

void Hub::register_devices_shortcut() {
  if (config_.register_devices.empty()) return;
  std::string spec = config_.register_devices;
  auto c1 = spec.find(':');
  if (c1 == std::string::npos) throw std::invalid_argument("--register-devices: expected PREFIX:N[:LOCATION]");
  std::string prefix = spec.substr(0, c1);
  auto rest = spec.substr(c1 + 1);
  auto c2 = rest.find(':');
  std::string location = c2 == std::string::npos ? "bench" : rest.substr(c2 + 1);
  std::size_t n = std::stoul(rest.substr(0, c2));
  if (auto e = protocol::check_id("location", location)) throw std::invalid_argument(e->message());
  if (!registry_.location(location)) {
    LocationRecord l{location, location};
    if (auto e = store_.save_location(l)) throw std::runtime_error(*e);
    registry_.put_location(l);
  }
  std::vector<DeviceRecord> fresh;
  for (std::size_t i = 0; i < n; ++i) {
    std::string id = prefix + "-" + std::to_string(i);
    if (registry_.device(id)) continue;
    if (auto e = protocol::check_id("device", id)) throw std::invalid_argument(e->message());
    DeviceRecord d;
    d.id = id;
    d.location = location;
    d.registered_at = clock_.wall_now();
    fresh.push_back(std::move(d));
  }
  if (auto e = store_.save_devices(fresh)) throw std::runtime_error(*e);
  for (auto& d : fresh) registry_.put_device(std::move(d));
  log_.info("hub", "registered " + std::to_string(fresh.size()) + " devices " + prefix + "-* at " + location);
}

// ---- MQTT ------------------------------------------------------------------------------------

void Hub::on_connection(bool connected, const std::string& why) {
  if (connected) {
    log_.info("mqtt", "connected to " + config_.broker_url);
    auto pending = std::move(configs_pending_);
    configs_pending_.clear();
    for (const auto& id : pending)
      if (const auto* d = registry_.device(id)) publish_device_config(*d);
  } else log_.warn("mqtt", "disconnected from " + config_.broker_url + ": " + why + "; reconnecting");
}

void Hub::on_message(std::string_view topic, std::string_view payload, Received at) {
  auto parsed = protocol::parse_topic(topic);
  if (!parsed || parsed->site != config_.site) {
    std::string detail = parsed ? "topic " + std::string(topic) + " is for another site" : parsed.error().message();
    counters_.rejected["bad_topic"] += 1;
    rejected_dirty_ = true;
    count_reject("?", "bad_topic", detail);
    return;
  }
  switch (parsed->kind) {
    case TopicKind::press: {
      auto next = ingest_.on_press(parsed->device, payload, at);
      if (next == Ingest::Next::flush_now) flush_batch();
      else if (next == Ingest::Next::arm_timer) arm_batch_timer();
      return;
    }
    case TopicKind::status:
      on_status(parsed->device, payload, at);
      return;
    case TopicKind::telemetry:
      on_telemetry(parsed->device, payload, at);
      return;
    default:
      break;
  }
  // Extension handlers take their own copy (alert acks: rare, and they may keep it).
  if (auto it = topic_handlers_.find(parsed->kind); it != topic_handlers_.end())
    it->second(*parsed, std::string(payload), at);
}

void Hub::on_oversized(std::string_view topic, std::size_t bytes, Received at) {
  auto parsed = protocol::parse_topic(topic);
  const std::string device = parsed && !parsed->device.empty() ? parsed->device : "?";
  ingest_.on_oversized(device, topic, bytes, MqttLink::kMaxMessageBytes, at);
}

void Hub::on_status(const std::string& device, std::string_view payload, Received at) {
  auto status = protocol::parse_status(payload);
  if (!status) {
    std::string reason = reject_reason(payload, status.error(), protocol::kMaxDeviceMessageBytes);
    counters_.rejected[reason] += 1;
    rejected_dirty_ = true;
    count_reject(device, reason, status.error().message());
    return;
  }
  if (!registry_.device(device)) return;  // liveness of unregistered devices is not tracked
  bool changed = registry_.on_status(device, *status, at.wall);
  if (changed) {
    const auto* d = registry_.device(device);
    log_.info("registry", "device " + device + " is " + std::string(to_string(d->state)));
    state_changes_[device].push_back(at.steady);
    const auto changes = recent_state_changes(device);
    if (changes >= kFlappingChanges) {
      if (flap_log_.allow(device, at.steady)) {
        log_.warn("registry", "device " + device + " went online or offline " + std::to_string(changes) +
                                  " times in the last minute: two terminals with one device file (a cloned card "
                                  "or a copied config) close each other's session; give each terminal its own "
                                  "device (kioskctl device add), or check its network");
      }
    }
    device_changed(*d);
  }
}

std::size_t Hub::recent_state_changes(const std::string& device) {
  auto it = state_changes_.find(device);
  if (it == state_changes_.end()) return 0;
  auto& times = it->second;
  const auto since = clock_.steady_now() - std::chrono::minutes(1);
  while (!times.empty() && times.front() < since) times.pop_front();
  if (times.empty()) {
    state_changes_.erase(it);
    return 0;
  }
  return times.size();
}

Hub::PressReading Hub::read_press(const std::string& device, const std::string& location, int button, int rating,
                                  int scale) const {
  if (is_call_manager(report_settings_.call_manager, device, location, button)) return {.call_manager = true};
  return {.bad = is_bad_rating(rating, scale, bad_max_for(report_settings_, location))};
}

boost::json::object Hub::press_json(const PressRecord& press) const {
  boost::json::array flags;
  for (const auto& f : press.flags) flags.emplace_back(f);
  const auto reading = read_press(press.device, press.location, press.button, press.rating, press.scale);
  return {{"device", press.device},
          {"seq", press.seq},
          {"location", press.location},
          {"rating", press.rating},
          {"scale", press.scale},
          {"button", press.button},
          {"bad", reading.bad},
          {"call_manager", reading.call_manager},
          {"flags", std::move(flags)},
          {"pressed_at", protocol::format_time(from_ms(press.pressed_at_ms))},
          {"received_at", protocol::format_time(from_ms(press.received_at_ms))}};
}

void Hub::on_telemetry(const std::string& device, std::string_view payload, Received at) {
  auto t = protocol::parse_telemetry(payload);
  if (!t) {
    std::string reason = reject_reason(payload, t.error(), protocol::kMaxDeviceMessageBytes);
    counters_.rejected[reason] += 1;
    rejected_dirty_ = true;
    count_reject(device, reason, t.error().message());
    return;
  }
  const auto* before = registry_.device(device);
  const auto dropped_before = before && before->dropped ? *before->dropped : 0;
  registry_.on_telemetry(device, *t, at.wall);
  // Presses lost on the terminal before they reached the hub: the one loss the hub cannot see in
  // its own data. Said when the count rises (after a hub restart, the first report counts as a rise).
  if (t->dropped && *t->dropped > 0 && !(before && before->dropped))
    // The first report since the hub started: its life's count, which may be old news.
    log_.info("registry", "device " + device + " reports " + std::to_string(*t->dropped) +
                              " presses dropped by its full outbox in its life");
  else if (t->dropped && *t->dropped > dropped_before)
    log_.warn("registry", "device " + device + "'s outbox was full: it dropped " +
                              std::to_string(*t->dropped - dropped_before) + " of its oldest presses (" +
                              std::to_string(*t->dropped) + " in its life); it could not reach the hub for long, "
                              "or its outbox is too small (--outbox-max)");
}

void Hub::publish_device_config(const DeviceRecord& d) {
  protocol::DeviceConfig cfg;
  cfg.location = d.location;
  if (!mqtt_->publish(protocol::device_topic(config_.site, d.id, TopicKind::config), protocol::to_json(cfg), 1, true)) {
    log_.warn("mqtt", "could not publish the config of " + d.id + " yet (broker disconnected); will on reconnect");
    configs_pending_.insert(d.id);
  }
}

void Hub::count_reject(const std::string& device, const std::string& reason, const std::string& detail) {
  // Once per (device, reason) per minute: a misbehaving terminal must not flood the log.
  const auto held = reject_log_.allow({device, reason}, clock_.steady_now());
  if (!held) return;
  log_.warn("ingest", "rejected message from " + device + " (" + reason + "): " + detail +
                          held_back(*held, "more like it since the last warning"));
}

// ---- Ingest ports --------------------------------------------------------------------------

std::optional<std::string> Hub::commit_presses(const std::vector<PressRecord>& rows,
                                               std::vector<PressOutcome>& outcomes) {
  auto e = store_.commit_presses(rows, outcomes);
  if (!e && failing_commits_.batches > 0) {
    log_.info("store", "commits succeed again after " + std::to_string(failing_commits_.batches) + " failed batches (" +
                           std::to_string(failing_commits_.presses) + " presses left to the devices' re-sends)");
    failing_commits_ = {};
    commit_log_.reset();
  }
  last_db_error_ = e;
  return e;
}

bool Hub::publish_ack(const std::string& device, const std::string& payload) {
  return mqtt_->publish(protocol::device_topic(config_.site, device, TopicKind::ack), payload, config_.ack_qos, false);
}

void Hub::rejected(const std::string& device, const std::string& reason, const std::string& detail,
                   protocol::WallTime at) {
  rejected_dirty_ = true;
  if (reason == "unknown_device" || reason == "retired_device") registry_.note_unknown(device, reason, at);
  count_reject(device, reason, detail);
}

void Hub::acknowledged(const PressRecord& row, bool inserted, bool acked) {
  registry_.on_press_stored(row.device, from_ms(row.pressed_at_ms), from_ms(row.received_at_ms));
  for (auto& observer : press_observers_) observer(row, inserted);
  if (has_event_listeners()) {
    boost::json::object o = press_json(row);
    o["stored"] = inserted;
    o["acked"] = acked;
    publish_event("press", boost::json::serialize(o));
  }
}

void Hub::commit_failed(const std::string& error, std::size_t presses) {
  // A full disk fails every batch until someone frees space: say it at once, then once a minute.
  const bool first = failing_commits_.batches == 0;
  ++failing_commits_.batches;
  failing_commits_.presses += presses;
  if (!commit_log_.allow(clock_.steady_now())) return;
  log_.error("store", (first ? "commit of " + std::to_string(presses) + " presses failed"
                             : std::to_string(failing_commits_.batches) + " batches (" +
                                   std::to_string(failing_commits_.presses) + " presses) failed so far") +
                          ", not acknowledged (devices re-send): " + error);
}

void Hub::arm_batch_timer() {
  if (batch_timer_armed_) return;
  batch_timer_armed_ = true;
  // A cancelled wait still runs its handler later; the generation tells it apart from the live one.
  auto generation = ++batch_generation_;
  batch_timer_.expires_after(std::chrono::microseconds(config_.batch_window_us));
  batch_timer_.async_wait([this, generation](boost::system::error_code ec) {
    if (ec || generation != batch_generation_) return;
    batch_timer_armed_ = false;
    flush_batch();
  });
}

void Hub::flush_batch() {
  if (batch_timer_armed_) {
    batch_timer_armed_ = false;
    ++batch_generation_;
    batch_timer_.cancel();
  }
  ingest_.flush();
}

void Hub::schedule_persist() {
  persist_timer_.expires_after(std::chrono::seconds(1));
  persist_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    persist_runtime();
    schedule_persist();
  });
}

void Hub::persist_runtime() {
  auto devices = registry_.take_dirty_devices();
  auto unknown = registry_.take_dirty_unknown();
  if (devices.empty() && unknown.empty() && !rejected_dirty_) return;
  std::map<std::string, std::uint64_t> rejected;
  if (rejected_dirty_) rejected = counters_.rejected;
  if (auto e = store_.save_runtime(devices, unknown, rejected)) {
    last_db_error_ = e;
    // Once a minute (with how many failed since): every second would add to a full disk's log.
    ++persist_failures_;
    if (persist_log_.allow(clock_.steady_now()))
      log_.error("store", "cannot save device state and counters (retrying every second; " +
                              std::to_string(persist_failures_) + " failed tries so far): " + *e);
    // Keep them dirty for the next round.
    registry_.mark_dirty(devices, unknown);
    return;
  }
  if (persist_failures_ > 0) {
    log_.info("store", "device state and counters saved again after " + std::to_string(persist_failures_) +
                           " failed tries");
    persist_failures_ = 0;
    persist_log_.reset();
  }
  rejected_dirty_ = false;
}

}  // namespace kiosk::hub
