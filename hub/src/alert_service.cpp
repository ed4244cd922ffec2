// Alerting in the hub: detectors and the alert machine fed on the io thread right after each commit+ack,
// their effects carried out (store, then retained publish, webhooks, SSE), acks, the alert API and a tick.
#include "kiosk/hub/alert_service.hpp"

#include <algorithm>
#include <sstream>

#include <boost/json.hpp>

#include "kiosk/protocol/ids.hpp"
#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/topics.hpp"

namespace kiosk::hub {

namespace http = boost::beast::http;
namespace json = boost::json;
using protocol::Alert;
using protocol::AlertState;

namespace {

std::vector<std::string> path_segments(std::string_view path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i < path.size()) {
    if (path[i] == '/') {
      ++i;
      continue;
    }
    auto slash = path.find('/', i);
    out.emplace_back(path.substr(i, slash == std::string_view::npos ? std::string_view::npos : slash - i));
    if (slash == std::string_view::npos) break;
    i = slash;
  }
  return out;
}

// "state=open&limit=5" -> value of `key` ("" when absent). Alert ids and states need no decoding.
std::string query_value(std::string_view query, std::string_view key) {
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    auto eq = part.find('=');
    if (part.substr(0, eq) == key) return eq == std::string_view::npos ? std::string() : std::string(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

json::value alert_value(const Alert& a) { return json::parse(protocol::to_json(a)); }

// Who holds `t` when it is not `by`: the first manager's ack stands (the same manager again is a retry).
std::optional<std::string> held_by_other(const TrackedAlert* t, const std::string& by) {
  if (!t || t->alert.state != AlertState::acked || !t->alert.acked_by || *t->alert.acked_by == by) return std::nullopt;
  return t->alert.acked_by;
}

bool has_flag(const PressRecord& r, std::string_view flag) {
  return std::find(r.flags.begin(), r.flags.end(), flag) != r.flags.end();
}

void counter(std::ostringstream& out, const char* name, const char* help, std::uint64_t value,
             const char* type = "counter") {
  out << "# HELP " << name << " " << help << "\n# TYPE " << name << " " << type << "\n" << name << " " << value << "\n";
}

}  // namespace

AlertService::AlertService(Hub& hub, AlertConfig config)
    : hub_(hub),
      timeline_(hub.clock()),
      config_(std::move(config)),
      store_(hub.store().database(), hub.config().site),
      machine_(config_.alert, config_.routing(), store_.load_next_id()),
      detectors_([this] { return config_.detector_for(making_for_).make(); }),
      webhooks_(hub.io(), store_, hub.clock(), hub.log(), config_.webhooks),
      tick_timer_(hub.io()) {
  if (!config_.time_zone_setting.empty()) zone_file_.emplace(config_.time_zone_setting);
  hub_.set_report_settings(report_settings());
  auto active = store_.load_active();
  continue_from_stored_times(active);
  for (auto& t : active) {
    unpublished_[t.alert.location] = t.alert;  // the broker may have lost it: republish once connected
    machine_.restore(std::move(t));
  }
  warm_up();
  auto alive = alive_;
  hub_.add_press_observer([this, alive](const PressRecord& row, bool inserted) {
    if (*alive) on_press(row, inserted);
  });
  hub_.add_topic_handler(protocol::TopicKind::alert_ack,
                         [this, alive](const protocol::Topic& topic, const std::string& payload, Received) {
                           if (*alive) on_ack(topic, payload);
                         });
  auto http = [this, alive](const HttpRequest& req, std::shared_ptr<HttpSession> session) {
    if (*alive) on_http(req, session);
  };
  hub_.add_route("GET", "/api/alerts", http);
  // Managers' own tokens reach these POSTs: the ack acks as the manager; any other write here must
  // ask hub_.caller(req) for the hub's token.
  hub_.add_route("POST", "/api/alerts", http, Hub::Writers::hub_and_managers);
  hub_.add_metrics_source([this, alive] { return *alive ? render_metrics() : std::string(); });
  hub_.log().info("alerts", std::to_string(machine_.active_alerts().size()) + " active alerts restored, next id " +
                                format_alert_id(machine_.next_id()) + ", " + std::to_string(config_.contacts.size()) +
                                " contacts, venue time " + config_.time_zone.name() + " (" +
                                utc_offset_name(config_.time_zone.offset_at(hub_.clock().wall_now())) + " now)");
  webhooks_.start();
  schedule_tick();
}

ReportSettings AlertService::report_settings() const {
  ReportSettings report;
  report.time_zone = config_.time_zone;
  // "bad_max_rating" sets the baseline and the naive detector alike (alert_config.cpp).
  report.bad_max_rating = config_.default_detector.baseline.bad_max_rating;
  for (const auto& [location, d] : config_.detectors) report.bad_max_by_location[location] = d.baseline.bad_max_rating;
  report.call_manager = config_.call_manager;  // calls for a manager are counted apart from ratings
  return report;
}

void AlertService::follow_time_zone_file() {
  if (!zone_file_ || !zone_file_->changed()) return;
  const std::string& name = config_.time_zone_setting;
  auto zone = load_venue_time_zone(name, zone_file_->zoneinfo());
  if (!zone) {
    ++counters_.time_zone_update_errors;
    hub_.log().error("alerts", "venue time " + name + ": its tz database file changed and cannot be used (" +
                                   zone.error().message() +
                                   "); the rules read before stay in force until the hub restarts, which this "
                                   "setting would stop: install the zone again (tzdata) or set time_zone to a zone "
                                   "that exists");
    return;
  }
  if (*zone == config_.time_zone) return;  // the update left this zone's rules as they were
  ++counters_.time_zone_updates;
  config_.time_zone = *zone;
  config_.default_detector.baseline.time_zone = *zone;
  for (auto& [location, d] : config_.detectors) d.baseline.time_zone = *zone;
  detectors_.set_time_zone(*zone);
  machine_.set_routing(config_.routing());
  hub_.set_report_settings(report_settings());
  hub_.log().info("alerts", "venue time " + name + ": new rules from the tz database (" +
                                utc_offset_name(zone->offset_at(hub_.clock().wall_now())) +
                                " now); on-duty hours, baselines and reports follow them");
}

AlertService::~AlertService() {
  *alive_ = false;
  stop();
}

void AlertService::stop() {
  stopped_ = true;
  tick_timer_.cancel();
  webhooks_.stop();
}

Alert AlertService::on_wall_clock(Alert alert) const {
  const auto offset = timeline_.offset();
  alert.since += offset;
  alert.updated += offset;
  return alert;
}

TrackedAlert AlertService::on_wall_clock(TrackedAlert tracked) const {
  const auto offset = timeline_.offset();
  tracked.alert = on_wall_clock(std::move(tracked.alert));
  tracked.last_notice += offset;
  tracked.level_since += offset;
  tracked.last_publish += offset;
  return tracked;
}

EventTime AlertService::event_time() const { return EventTime(timeline_.now(), hub_.clock().wall_now()); }

std::vector<TrackedAlert> AlertService::active_alerts() const {
  auto alerts = machine_.active_alerts();
  for (auto& t : alerts) t = on_wall_clock(std::move(t));
  return alerts;
}

std::string webhook_text(const Alert& a, Change change, std::string_view place) {
  std::string what;
  switch (change) {
    case Change::opened: what = "Bad ratings at " + std::string(place); break;
    case Change::updated: what = "Still bad at " + std::string(place); break;
    case Change::repeated: what = "Not acknowledged yet: " + std::string(place); break;
    case Change::escalated: what = "Escalated, nobody acknowledged: " + std::string(place); break;
    case Change::acked:
      return std::string(place) + ": acknowledged by " + a.acked_by.value_or("a manager") + " (alert " + a.id + ")";
    case Change::resolved: return std::string(place) + ": back to normal (alert " + a.id + ")";
  }
  return what + ": " + a.reason + " (alert " + a.id + "; acknowledge: kioskctl alerts ack " + a.id + ")";
}

std::string AlertService::display_name(const std::string& location) const {
  const auto* l = hub_.registry().location(location);
  return l && !l->name.empty() ? l->name : location;
}

void AlertService::continue_from_stored_times(const std::vector<TrackedAlert>& active) {
  WallTime newest{};
  for (const auto& t : active) newest = std::max({newest, t.alert.updated, t.last_notice, t.level_since});
  PressQuery last;
  last.limit = 1;
  for (const auto& p : hub_.store().presses(last)) newest = std::max({newest, from_ms(p.pressed_at_ms), from_ms(p.received_at_ms)});
  const auto moved = timeline_.not_before(newest);
  if (moved.count() > 0) {
    hub_.log().warn("alerts", "the wall clock is " + std::to_string(moved.count() / 1000) +
                                  " s behind the newest stored time: alert timers continue from that time (is the "
                                  "clock set? a board without RTC needs NTP before the hub starts)");
  }
}

// Baselines and an incident in progress carry over a restart: the stored presses are replayed into
// the detectors (verdicts ignored; the restored alerts already say what was going on).
void AlertService::warm_up() {
  if (config_.warmup.count() == 0 || config_.warmup_presses == 0) return;
  const auto now = timeline_.now();  // the wall clock at start: stored times are on the same axis
  PressQuery q;
  q.since = now - config_.warmup;
  q.limit = config_.warmup_presses;
  auto rows = hub_.store().presses(q);  // newest first
  for (auto it = rows.rbegin(); it != rows.rend(); ++it) {
    if (config_.is_call_manager(it->device, it->location, it->button)) continue;
    if (has_flag(*it, protocol::kAgeUnknownFlag)) continue;  // dated by arrival: see on_press
    auto& last = last_fed_[it->location];
    RatedPress p{.at = std::max(from_ms(it->pressed_at_ms), last), .rating = it->rating, .scale = it->scale,
                 .repeat = has_flag(*it, protocol::kRepeatFlag), .call_manager = false, .device = it->device};
    last = p.at;
    making_for_ = it->location;
    detectors_.observe(it->location, p);
  }
  if (!rows.empty()) hub_.log().info("alerts", "detectors warmed up with " + std::to_string(rows.size()) + " stored presses");
}

// ---- presses: the latency-critical path ----------------------------------------------------------

void AlertService::on_press(const PressRecord& row, bool inserted) {
  if (!inserted || stopped_) return;  // a duplicate was seen the first time
  // The press's age is measured on the wall clock it was dated with (a step since is
  // milliseconds away at most); the detectors get it on the timeline, where windows do not jump.
  const auto age = hub_.clock().wall_now() - from_ms(row.pressed_at_ms);
  if (age > config_.max_press_age) return;
  const bool call_manager = config_.is_call_manager(row.device, row.location, row.button);
  // A rating the terminal could not date (stored before a reboot with its clock unset) is dated by
  // its arrival: a night's worth arriving together at power-on is not a spike. A call for a
  // manager is still passed on: better a late page than none.
  if (has_flag(row, protocol::kAgeUnknownFlag) && !call_manager) return;
  const EventTime now = event_time();
  auto& last = last_fed_[row.location];
  // A late re-send may be older than a press already seen: the detectors need time order.
  RatedPress p{.at = std::max(now.at - age, last), .rating = row.rating, .scale = row.scale,
               .repeat = has_flag(row, protocol::kRepeatFlag), .call_manager = call_manager, .device = row.device};
  last = p.at;
  making_for_ = row.location;
  const Verdict v = detectors_.observe(row.location, p);
  if (!v.spike && !(v.back_to_normal && machine_.active(row.location))) return;
  auto effects = machine_.on_verdict(row.location, display_name(row.location), v, now);
  if (!effects.empty()) run(std::move(effects));
}

// ---- effects -------------------------------------------------------------------------------------

void AlertService::run(std::vector<Effect> effects) {
  if (timeline_.offset().count() != 0) {
    for (auto& e : effects) {
      e.alert = on_wall_clock(std::move(e.alert));
      if (e.record) e.record = on_wall_clock(std::move(*e.record));
    }
  }
  const auto now = hub_.clock().wall_now();  // history and the webhook queue are on the wall clock
  std::vector<const Effect*> persists;
  std::vector<WebhookPost> posts;
  for (const auto& e : effects) {
    if (e.kind == Effect::Kind::persist) {
      persists.push_back(&e);
      switch (e.change) {
        case Change::opened: ++counters_.opened; break;
        case Change::updated: ++counters_.updated; break;
        case Change::acked: ++counters_.acked; break;
        case Change::repeated: ++counters_.repeated; break;
        case Change::escalated: ++counters_.escalated; break;
        case Change::resolved: ++counters_.resolved; break;
      }
    } else if (e.kind == Effect::Kind::notify && e.contact && !e.contact->webhook.empty()) {
      // "text" and "content": what chat services show of a post as it is (no relay needed).
      const auto text = webhook_text(e.alert, e.change, display_name(e.alert.location));
      json::object body{{"site", hub_.config().site},
                        {"event", to_string(e.change)},
                        {"text", text},
                        {"content", text},
                        {"contact", json::object{{"id", e.contact->id}, {"name", e.contact->name}}},
                        {"topic", protocol::alert_topic(hub_.config().site, e.alert.location)},
                        {"alert", alert_value(e.alert)}};
      posts.push_back(WebhookPost{.alert_id = e.alert.id,
                                  .change = std::string(to_string(e.change)),
                                  .contact = e.contact->id,
                                  .url = e.contact->webhook,
                                  .body = json::serialize(body)});
    }
  }
  // One transaction before anything leaves the hub: what managers are told has been stored. It
  // waits for the OS, not for the disk: the fsync (milliseconds) follows the publish, so a manager
  // hears of a spike that much sooner, and only a power cut in that instant could lose the record.
  const bool relaxed = std::any_of(effects.begin(), effects.end(), [](const Effect& e) { return e.kind == Effect::Kind::publish; });
  bool stored = false;
  if (!persists.empty() || !posts.empty()) {
    // Changes an earlier write could not store go first, in order: the row ends at the newest
    // state and the history keeps every change.
    std::vector<const Effect*> all;
    all.reserve(unstored_.size() + persists.size());
    for (const auto& e : unstored_) all.push_back(&e);
    all.insert(all.end(), persists.begin(), persists.end());
    auto err = store_.write(all, machine_.next_id(), posts, now,
                            relaxed ? AlertStore::Durability::crash_safe : AlertStore::Durability::power_safe);
    stored = !err;
    if (err) {
      ++counters_.store_errors;
      // Telling the manager matters more than the record: publish anyway, from memory, and keep
      // the change and its webhook posts to store once the database takes writes again
      // (store_what_waits).
      hub_.log().error("alerts", "cannot store an alert change (publishing it anyway; it and " +
                                     std::to_string(posts.size()) + " webhook posts wait in memory): " + *err);
      std::vector<Effect> copies;
      for (const Effect* e : persists) copies.push_back(*e);
      keep_unstored(std::move(copies), std::move(posts));
      posts.clear();
    } else if (!unstored_.empty()) {
      hub_.log().info("alerts", "stored " + std::to_string(unstored_.size()) +
                                    " alert changes that waited in memory for the database");
      unstored_.clear();
    }
  }
  for (const auto& e : effects) {
    if (e.kind != Effect::Kind::publish) continue;
    publish(e.alert, e.change);
    if (e.change == Change::opened || e.change == Change::resolved || e.change == Change::acked)
      hub_.log().info("alerts", "alert " + e.alert.id + " at " + e.alert.location + " " + std::string(to_string(e.change)) +
                                    (e.change == Change::acked && e.alert.acked_by ? " by " + *e.alert.acked_by : "") +
                                    (e.change == Change::opened ? ": " + e.alert.reason : ""));
  }
  if (stored && relaxed)
    if (auto err = store_.sync()) {
      ++counters_.store_errors;
      hub_.log().error("alerts", "cannot sync an alert change to disk: " + *err);
    }
  for (const auto& e : effects)
    if (e.kind == Effect::Kind::persist && (e.change == Change::escalated || e.change == Change::repeated))
      hub_.log().info("alerts", "alert " + e.alert.id + " at " + e.alert.location + " not acknowledged: " +
                                    std::string(to_string(e.change)) + " (level " +
                                    std::to_string(e.record ? e.record->level : 0) + ")");
  if (!posts.empty()) webhooks_.kick();
}

bool AlertService::publish(const Alert& alert, Change change) {
  const std::string payload = protocol::to_json(alert);
  const bool ok = hub_.mqtt().publish(protocol::alert_topic(hub_.config().site, alert.location), payload, 1, true);
  if (ok) {
    unpublished_.erase(alert.location);
  } else {
    ++counters_.publish_failures;
    unpublished_[alert.location] = alert;
  }
  if (hub_.has_event_listeners()) {
    json::value v = alert_value(alert);
    v.as_object()["change"] = to_string(change);
    hub_.publish_event("alert", json::serialize(v));
  }
  return ok;
}

void AlertService::republish_pending() {
  const bool connected = hub_.mqtt().connected();
  if (connected && !was_connected_) {
    // After every (re)connect, each location's latest alert is published again, whatever its state:
    // a broker without persistence forgot the retained messages, and one with persistence may still
    // hold "open" for an alert whose "resolved" could not be published before a hub restart (it
    // lived in memory only). The newest state wins: an active alert, else one that failed to go
    // out from memory, else the store's latest.
    for (const auto& t : machine_.active_alerts()) unpublished_[t.alert.location] = on_wall_clock(t.alert);
    for (auto& alert : store_.latest_by_location()) unpublished_.try_emplace(alert.location, std::move(alert));
  }
  was_connected_ = connected;
  if (!connected || unpublished_.empty()) return;
  auto pending = unpublished_;
  for (const auto& [location, alert] : pending) {
    const bool ok = hub_.mqtt().publish(protocol::alert_topic(hub_.config().site, location), protocol::to_json(alert), 1, true);
    if (ok) unpublished_.erase(location);
  }
}

// ---- acks ----------------------------------------------------------------------------------------

void AlertService::reject_ack(const std::string& reason, const std::string& detail) {
  ++counters_.acks_rejected;
  hub_.counters().rejected[reason] += 1;
  // Once per reason per minute: a confused client must not flood the log.
  const auto held = reject_log_.allow(reason, hub_.clock().steady_now());
  if (!held) return;
  hub_.log().warn("alerts", "rejected alert ack (" + reason + "): " + detail +
                                held_back(*held, "more like it since the last warning"));
}

void AlertService::on_ack(const protocol::Topic& topic, const std::string& payload) {
  if (stopped_) return;
  auto ack = protocol::parse_alert_ack(payload);
  if (!ack) return reject_ack("bad_alert_ack", ack.error().message());
  const auto* t = machine_.active(topic.location);
  if (!t || t->alert.id != ack->id)
    return reject_ack("unknown_alert", ack->id + " is not an open alert at " + topic.location + " (unknown or resolved)");
  if (const auto holder = held_by_other(t, ack->by))
    return reject_ack("already_acked", ack->id + " was already acknowledged by " + *holder);
  auto effects = machine_.ack(ack->id, ack->by, event_time());
  if (!effects) return reject_ack("unknown_alert", effects.error().message());
  run(std::move(*effects));
}

// ---- HTTP ----------------------------------------------------------------------------------------

void AlertService::on_http(const HttpRequest& req, const std::shared_ptr<HttpSession>& session) {
  std::string_view target(req.target().data(), req.target().size());
  const auto qpos = target.find('?');
  const auto query = qpos == std::string_view::npos ? std::string_view() : target.substr(qpos + 1);
  auto seg = path_segments(target.substr(0, qpos));
  auto fail = [&](unsigned status, const std::string& message) { session->send(error_response(req, status, message)); };
  auto reply = [&](unsigned status, const json::value& v) { session->send(json_response(req, status, json::serialize(v))); };
  if (seg.size() < 2 || seg[0] != "api" || seg[1] != "alerts") return fail(404, "no such resource");
  const bool get = req.method() == http::verb::get || req.method() == http::verb::head;

  if (seg.size() == 2 && get) {
    std::string state = query_value(query, "state");
    if (state.empty()) state = "all";
    std::vector<AlertState> filter;  // empty: all
    if (state == "open") filter = {AlertState::open};
    else if (state == "acked") filter = {AlertState::acked};
    else if (state == "active") filter = {AlertState::open, AlertState::acked};  // not resolved yet
    else if (state == "resolved") filter = {AlertState::resolved};
    else if (state != "all") return fail(400, "state: must be open, acked, active, resolved or all");
    std::size_t limit = 100;
    if (auto l = query_value(query, "limit"); !l.empty()) {
      if (l.size() > 5 || !std::all_of(l.begin(), l.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
          std::stoul(l) < 1 || std::stoul(l) > 10000)
        return fail(400, "limit: must be a number in 1..10000");
      limit = std::stoul(l);
    }
    json::array a;
    for (const auto& alert : list_alerts(filter, limit)) a.push_back(alert_value(alert));
    return reply(200, a);
  }
  if (seg.size() == 3 && get) {
    auto alert = store_.find(seg[2]);
    if (auto newer = unstored(seg[2])) alert = std::move(newer);
    if (!alert) return fail(404, "no alert " + seg[2]);
    json::value v = alert_value(*alert);
    json::array history;
    for (const auto& h : store_.history(seg[2])) {
      json::object o{{"change", h.change}, {"at", protocol::format_time(h.at)}, {"state", to_string(h.state)},
                     {"level", h.level},   {"bad", h.bad},                       {"total", h.total}};
      if (h.by) o["by"] = *h.by;
      history.push_back(std::move(o));
    }
    v.as_object()["history"] = std::move(history);
    return reply(200, v);
  }
  if (seg.size() == 4 && seg[3] == "ack" && req.method() == http::verb::post) {
    const auto caller = hub_.authorize_write(req, session);
    if (!caller) return;
    json::error_code ec;
    auto body = json::parse(req.body().empty() ? std::string_view("{}") : std::string_view(req.body()), ec);
    if (ec || !body.is_object()) return fail(400, "the body must be a JSON object like {\"by\": \"alice\"}");
    const auto* by = body.as_object().if_contains("by");
    if (by && !by->is_string()) return fail(400, "\"by\" must be a string: the manager's id, e.g. {\"by\": \"alice\"}");
    // A manager's own token acks as that manager; the hub's token acks for whoever it names.
    const bool as_manager = caller->kind == Hub::Caller::Kind::manager;
    if (as_manager && by && by->as_string() != caller->manager)
      return fail(403, "this is " + caller->manager + "'s token: it acknowledges as " + caller->manager + " only");
    if (!by && !as_manager)
      return fail(400, "\"by\" is required with the hub's token: the manager's id, e.g. {\"by\": \"alice\"} (a "
                       "manager's own token, from its .manager.json, acknowledges as that manager)");
    const std::string who = as_manager ? caller->manager : std::string(by->as_string());
    if (auto e = protocol::check_id("by", who)) return fail(400, e->message());
    const std::string& id = seg[2];
    if (const auto holder = held_by_other(machine_.find(id), who))
      return fail(409, "alert " + id + " was already acknowledged by " + *holder);
    auto effects = machine_.ack(id, who, event_time());
    if (!effects) {
      auto stored = store_.find(id);
      if (stored && stored->state == AlertState::resolved) return fail(409, "alert " + id + " is resolved");
      return fail(404, "no open alert " + id);
    }
    run(std::move(*effects));
    // From memory: the database may be refusing writes just now (the change waits in memory).
    json::value v;
    if (const auto* t = machine_.find(id)) {
      v = alert_value(on_wall_clock(t->alert));
    } else {
      auto stored = store_.find(id);
      if (!stored) return fail(503, "the alert was acknowledged but cannot be read back");
      v = alert_value(*stored);
    }
    if (unstored(id)) {
      // In force (paging stopped, managers told), but only in memory: say what that means.
      v.as_object()["stored"] = false;
      v.as_object()["note"] =
          "the hub's database refuses writes (see kioskctl status): the ack is in force and is stored once the "
          "database takes writes again; a hub restart before that would bring the alert back as open";
    }
    return reply(200, v);
  }
  return fail(seg.size() <= 4 ? 405 : 404, "no such resource or method");
}

// ---- timers --------------------------------------------------------------------------------------

void AlertService::schedule_tick() {
  if (stopped_) return;
  tick_timer_.expires_after(config_.tick);
  tick_timer_.async_wait([this, alive = alive_](boost::system::error_code ec) {
    if (ec || !*alive || stopped_) return;
    tick();
    schedule_tick();
  });
}

void AlertService::tick() {
  follow_time_zone_file();
  const EventTime now = event_time();
  std::set<std::string> checked;
  for (auto& [location, verdict] : detectors_.check(now.at)) {
    checked.insert(location);
    if (!machine_.active(location)) continue;  // nothing to resolve; a tick never opens an alert
    auto effects = machine_.on_verdict(location, display_name(location), verdict, now);
    if (!effects.empty()) run(std::move(effects));
  }
  // A restored alert at a location with no presses since: quiet for resolve_after is back to normal.
  for (const auto& t : machine_.active_alerts()) {
    if (checked.count(t.alert.location)) continue;
    if (now.at - t.alert.updated < config_.detector_for(t.alert.location).resolve_after()) continue;
    Verdict calm;
    calm.back_to_normal = true;
    auto effects = machine_.on_verdict(t.alert.location, t.display_name, calm, now);
    if (!effects.empty()) run(std::move(effects));
  }
  auto effects = machine_.tick(now);
  if (!effects.empty()) run(std::move(effects));
  republish_pending();
  store_what_waits();
  webhooks_.housekeep();
}

namespace {
// Bounded: a database that stays unwritable for days must not grow the hub without end. The
// oldest go first; what is dropped is said once per drop.
template <class T>
void keep_bounded(std::vector<T>& kept, std::vector<T> more, const char* what, const Log& log) {
  constexpr std::size_t kMax = 10000;
  for (auto& m : more) kept.push_back(std::move(m));
  if (kept.size() <= kMax) return;
  const auto drop = kept.size() - kMax;
  log.error("alerts", "dropping the " + std::to_string(drop) + " oldest " + what + " kept in memory (" +
                          std::to_string(kMax) + " at most); free the database's disk");
  kept.erase(kept.begin(), kept.begin() + static_cast<std::ptrdiff_t>(drop));
}
}  // namespace

void AlertService::keep_unstored(std::vector<Effect> persists, std::vector<WebhookPost> posts) {
  keep_bounded(unstored_, std::move(persists), "alert changes", hub_.log());
  keep_bounded(unqueued_posts_, std::move(posts), "webhook posts", hub_.log());
}

std::optional<protocol::Alert> AlertService::unstored(std::string_view id) const {
  for (auto it = unstored_.rbegin(); it != unstored_.rend(); ++it)
    if (it->alert.id == id) return it->alert;
  return std::nullopt;
}

std::vector<protocol::Alert> AlertService::list_alerts(const std::vector<AlertState>& states, std::size_t limit) {
  const auto wanted = [&](const Alert& a) {
    return states.empty() || std::find(states.begin(), states.end(), a.state) != states.end();
  };
  // Each alert's newest change still waiting in memory (the database refuses writes): in force.
  std::map<std::string_view, const Alert*> newest;
  for (const auto& e : unstored_) newest[e.alert.id] = &e.alert;
  // Each of those may drop out of the stored list (its state in force no longer matches): asking
  // for as many more keeps the list full when more matching alerts exist.
  std::vector<Alert> out;
  for (auto& a : store_.list(states, limit + newest.size())) {
    if (newest.count(a.id)) continue;  // listed below as it is in force
    out.push_back(std::move(a));
  }
  for (const auto& [id, a] : newest)
    if (wanted(*a)) out.push_back(*a);
  std::sort(out.begin(), out.end(), [](const Alert& x, const Alert& y) {
    return x.since != y.since ? x.since > y.since : x.id > y.id;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

void AlertService::store_what_waits() {
  if (unstored_.empty() && unqueued_posts_.empty()) return;
  std::vector<const Effect*> persists;
  for (const auto& e : unstored_) persists.push_back(&e);
  // The webhook queue is on the wall clock, as in run().
  if (store_.write(persists, machine_.next_id(), unqueued_posts_, hub_.clock().wall_now(),
                   AlertStore::Durability::power_safe))
    return;  // still failing: already said when the change was not stored
  hub_.log().info("alerts", "stored " + std::to_string(unstored_.size()) + " alert changes and queued " +
                                std::to_string(unqueued_posts_.size()) +
                                " webhook posts that waited in memory for the database");
  unstored_.clear();
  unqueued_posts_.clear();
  webhooks_.kick();
}

std::string AlertService::render_metrics() {
  std::ostringstream out;
  counter(out, "kiosk_alerts_opened_total", "Alerts opened.", counters_.opened);
  counter(out, "kiosk_alerts_updated_total", "Alert updates published while a spike went on.", counters_.updated);
  counter(out, "kiosk_alerts_acked_total", "Alerts acknowledged by a manager.", counters_.acked);
  counter(out, "kiosk_alerts_resolved_total", "Alerts resolved.", counters_.resolved);
  counter(out, "kiosk_alerts_repeated_total", "Reminders of unacknowledged alerts.", counters_.repeated);
  counter(out, "kiosk_alerts_escalated_total", "Escalations to the next contact level.", counters_.escalated);
  counter(out, "kiosk_alert_acks_rejected_total", "Alert acks rejected (malformed, unknown or resolved alert).",
          counters_.acks_rejected);
  counter(out, "kiosk_alert_publish_failures_total", "Alert publishes the broker did not take (retried).",
          counters_.publish_failures);
  counter(out, "kiosk_alert_store_errors_total", "Alert changes that could not be stored.", counters_.store_errors);
  counter(out, "kiosk_time_zone_updates_total", "New rules for the venue's time zone taken from a tzdata update.",
          counters_.time_zone_updates);
  counter(out, "kiosk_time_zone_update_errors_total",
          "Changes of the venue's zone file that could not be used (the rules before stay).",
          counters_.time_zone_update_errors);
  counter(out, "kiosk_webhook_posts_unqueued", "Webhook posts waiting in memory for the database to take them.",
          unqueued_posts_.size(), "gauge");
  counter(out, "kiosk_alert_changes_unstored", "Alert changes waiting in memory for the database to take them.",
          unstored_.size(), "gauge");
  std::uint64_t open = 0;
  std::uint64_t acked = 0;
  for (const auto& t : machine_.active_alerts()) (t.alert.state == AlertState::acked ? acked : open) += 1;
  out << "# HELP kiosk_alerts_active Alerts not yet resolved, by state.\n# TYPE kiosk_alerts_active gauge\n"
      << "kiosk_alerts_active{state=\"open\"} " << open << "\nkiosk_alerts_active{state=\"acked\"} " << acked << "\n";
  const auto& w = webhooks_.counters();
  counter(out, "kiosk_webhook_posts_delivered_total", "Webhook posts a contact's server accepted.", w.delivered);
  counter(out, "kiosk_webhook_post_failures_total", "Failed webhook attempts (retried with backoff).", w.failed_attempts);
  counter(out, "kiosk_webhook_posts_given_up_total",
          "Webhook posts given up: refused (4xx), or after max attempts or age.", w.given_up);
  counter(out, "kiosk_webhook_posts_superseded_total",
          "Webhook posts not sent: a newer post of the same alert to the same contact was queued.", w.superseded);
  counter(out, "kiosk_webhook_queue_pending", "Webhook posts waiting to be delivered.", store_.pending_posts(), "gauge");
  return out.str();
}

}  // namespace kiosk::hub
