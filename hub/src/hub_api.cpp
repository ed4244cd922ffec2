// The hub's HTTP API: health, devices, locations, presses, report, counters, events, metrics and the dashboard.
// Reads are open (loopback by default, see --open-reads); writes need the bearer token.
#include <algorithm>

#include <boost/json.hpp>

#include "api_json.hpp"
#include "kiosk/hub/access_token.hpp"
#include "kiosk/hub/dashboard_page.hpp"
#include "kiosk/hub/hub.hpp"
#include "kiosk/hub/report.hpp"
#include "kiosk/hub/report_query.hpp"
#include "kiosk/protocol/ids.hpp"
#include "kiosk/protocol/time.hpp"

namespace kiosk::hub {

namespace http = boost::beast::http;
namespace json = boost::json;

namespace {

json::value time_or_null(const std::optional<WallTime>& t) {
  if (!t) return nullptr;
  return json::value(protocol::format_time(*t));
}

json::object device_json(const DeviceRecord& d) {
  json::object o;
  o["id"] = d.id;
  o["location"] = d.location;
  o["board"] = d.board;
  o["fw"] = d.fw;
  o["state"] = d.retired ? std::string_view("offline") : to_string(d.state);
  o["last_seen"] = time_or_null(d.last_seen);
  o["last_press"] = time_or_null(d.last_press);
  o["queued"] = d.queued ? json::value(*d.queued) : json::value(nullptr);
  o["dropped"] = d.dropped ? json::value(*d.dropped) : json::value(nullptr);
  o["retired"] = d.retired;
  o["buttons"] = d.buttons ? json::value(*d.buttons) : json::value(nullptr);
  o["uptime_s"] = d.uptime_s ? json::value(*d.uptime_s) : json::value(nullptr);
  o["registered_at"] = protocol::format_time(d.registered_at);
  return o;
}

}  // namespace

json::value credentials_json(const std::optional<BrokerCredentials>& c) {
  if (!c) return nullptr;
  return json::object{{"username", c->username}, {"password", c->password}};
}

std::optional<json::object> body_object(const HttpRequest& req, std::string& error) {
  json::error_code ec;
  auto v = json::parse(req.body(), ec);
  if (ec || !v.is_object()) {
    error = "the body must be a JSON object";
    return std::nullopt;
  }
  return v.as_object();
}

std::optional<std::string> string_field(const json::object& o, std::string_view key, bool required,
                                        std::string& error) {
  const auto* v = o.if_contains(key);
  if (!v) {
    if (required) error = "\"" + std::string(key) + "\" is required";
    return std::nullopt;
  }
  if (!v->is_string()) {
    error = "\"" + std::string(key) + "\" must be a string";
    return std::nullopt;
  }
  return std::string(v->as_string());
}

json::object Hub::device_view(const DeviceRecord& device) {
  json::object o = device_json(device);
  const auto changes = recent_state_changes(device.id);
  o["state_changes_1m"] = changes;
  o["flapping"] = changes >= kFlappingChanges;
  return o;
}

void Hub::device_changed(const DeviceRecord& device) {
  if (!has_event_listeners()) return;
  json::object o = device_view(device);
  o["device"] = device.id;  // as press events name it
  publish_event("device", json::serialize(o));
}

namespace {

std::string url_decode(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '+') out += ' ';
    else if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
             std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string(s.substr(i + 1, 2)), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::map<std::string, std::string> query_params(std::string_view query) {
  std::map<std::string, std::string> out;
  while (!query.empty()) {
    auto amp = query.find('&');
    auto part = query.substr(0, amp);
    auto eq = part.find('=');
    if (!part.empty()) out[url_decode(part.substr(0, eq))] = eq == std::string_view::npos ? "" : url_decode(part.substr(eq + 1));
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return out;
}

// A location's display name: shown on the dashboard, in kioskctl's tables and in managers' alerts.
// Control characters would garble (or drive) a technician's terminal.
std::optional<std::string> check_location_name(const std::string& name) {
  if (name.empty() || name.size() > 200) return "name: must be 1..200 characters";
  if (std::any_of(name.begin(), name.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }))
    return "name: must not contain control characters (tabs, newlines, escapes)";
  return std::nullopt;
}

// Splits "/api/devices/x/move" into {"api","devices","x","move"}.
std::vector<std::string> segments(std::string_view path) {
  std::vector<std::string> out;
  while (!path.empty()) {
    if (path.front() == '/') {
      path.remove_prefix(1);
      continue;
    }
    auto slash = path.find('/');
    out.emplace_back(url_decode(path.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash);
  }
  return out;
}

}  // namespace

Hub::Caller Hub::caller(const HttpRequest& req) const {
  const auto authorization = req[http::field::authorization];
  if (bearer_matches(authorization, token_)) return {Caller::Kind::hub, {}};
  if (auto manager = manager_tokens_.manager_for(authorization)) return {Caller::Kind::manager, std::move(*manager)};
  return {};
}

std::optional<Hub::Caller> Hub::authorize_write(const HttpRequest& req, const std::shared_ptr<HttpSession>& session) {
  auto who = caller(req);
  if (who.kind != Caller::Kind::anonymous) return who;
  auto res = error_response(req, 401, "this needs 'Authorization: Bearer <token>' (the hub's token is in " +
                                          config_.effective_token_file() + "; a manager's is in its .manager.json)");
  res.set(http::field::www_authenticate, "Bearer");
  session->send(std::move(res));
  return std::nullopt;
}

void Hub::handle_http(const HttpRequest& req, std::shared_ptr<HttpSession> session) {
  std::string_view target(req.target().data(), req.target().size());
  std::string_view path = target.substr(0, target.find('?'));
  bool read = req.method() == http::verb::get || req.method() == http::verb::head;
  // A manager's token reads, and writes only through routes made for it (the alert ack, which
  // acks as that manager): refused everywhere else, whatever the path says.
  std::optional<std::string> manager_writing;
  if (!read || !config_.open_reads) {
    auto who = authorize_write(req, session);
    if (!who) return;
    if (!read && who->kind == Caller::Kind::manager) manager_writing = who->manager;
  } else if (const auto host = req[http::field::host];
             !host_is_ours(host, config_.http_names) && caller(req).kind == Caller::Kind::anonymous) {
    std::string names = "its IP address, localhost";
    for (const auto& n : config_.http_names) names += ", " + n;
    session->send(error_response(req, 403, "this hub does not answer to the name '" +
                                               std::string(host.substr(0, 100)) +
                                               "' without a token: use " + names + " (or name it with --http-names)"));
    return;
  }
  // HEAD is answered as GET is (the session leaves the body out).
  const std::string_view method = read ? std::string_view("GET")
                                       : std::string_view(req.method_string().data(), req.method_string().size());
  const auto refuse_manager = [&] {
    session->send(error_response(req, 403, "a manager's token (" + *manager_writing +
                                               ") may read and acknowledge alerts only; this needs the hub's token"));
  };
  for (auto& route : routes_)
    if (method == route.method && path.substr(0, route.prefix.size()) == route.prefix) {
      if (manager_writing && route.writers != Writers::hub_and_managers) return refuse_manager();
      route.handler(req, session);
      return;
    }
  if (manager_writing) return refuse_manager();  // the built-in routes: the hub's token only
  route_api(req, session);
}

void Hub::route_api(const HttpRequest& req, const std::shared_ptr<HttpSession>& session) {
  std::string_view target(req.target().data(), req.target().size());
  auto qpos = target.find('?');
  auto seg = segments(target.substr(0, qpos));
  auto params = query_params(qpos == std::string_view::npos ? std::string_view() : target.substr(qpos + 1));
  auto method = req.method();
  auto reply = [&](unsigned status, const json::value& v) { session->send(json_response(req, status, json::serialize(v))); };
  auto fail = [&](unsigned status, const std::string& message) { session->send(error_response(req, status, message)); };
  bool get = method == http::verb::get || method == http::verb::head;
  bool post = method == http::verb::post;

  if (seg.empty() && get) {
    HttpResponse res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/html; charset=utf-8");
    res.keep_alive(req.keep_alive());
    res.body() = std::string(dashboard_page());
    res.prepare_payload();
    session->send(std::move(res));
    return;
  }
  if (seg.size() == 1 && seg[0] == "health" && get) {
    auto db = store_.check();
    if (!db && last_db_error_) db = last_db_error_;
    const auto& refused = mqtt_->refused_subscriptions();
    bool ok = mqtt_->connected() && refused.empty() && !db;
    json::object o{{"status", ok ? "ok" : "degraded"},
                   {"site", config_.site},
                   {"broker", mqtt_->connected() ? "connected" : "disconnected"},
                   {"db", db ? "error: " + *db : std::string("ok")},
                   {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(clock_.steady_now() - started_at_).count()},
                   {"version", KIOSK_VERSION}};
    // The account link is separate from the main one and may lag it after a broker restart; it is
    // reported, not folded into status: presses flow without it, and tools wait on a 200 here.
    if (auto accounts = accounts_->connected()) o["accounts"] = *accounts ? "connected" : "disconnected";
    // Connected, yet deaf to these topics (the hub's broker account lacks the right): degraded.
    if (!refused.empty()) o["refused_subscriptions"] = json::array(refused.begin(), refused.end());
    reply(ok ? 200 : 503, o);
    return;
  }
  if (seg.size() == 1 && seg[0] == "metrics" && get) {
    HttpResponse res{http::status::ok, req.version()};
    res.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
    res.keep_alive(req.keep_alive());
    const auto& refused = http_.refusals();
    res.body() = render_prometheus(MetricsSnapshot{
        counters_, latency_, registry_.online_count(), registry_.unknown_devices().size(), mqtt_->connected(),
        {{"full", refused.full}, {"per_address", refused.per_address}, {"streams", refused.streams}}});
    for (const auto& source : metrics_sources_) res.body() += source();
    res.prepare_payload();
    session->send(std::move(res));
    return;
  }
  if (seg.empty() || seg[0] != "api") return fail(404, "no such resource");
  seg.erase(seg.begin());
  if (seg.empty()) return fail(404, "no such resource");
  const std::string& what = seg[0];

  if (what == "events" && seg.size() == 1 && get) {
    if (method == http::verb::head) {
      // The stream's header, and no stream: a HEAD answer has no body, and this one would never end.
      HttpResponse res{http::status::ok, req.version()};
      res.set(http::field::content_type, "text/event-stream");
      res.set(http::field::cache_control, "no-store");
      res.keep_alive(req.keep_alive());
      return session->send(std::move(res));
    }
    // A manager's stream ends when the manager's token is taken back (manager remove, a new token).
    session->start_events(caller(req).manager);
    return;
  }
  if (what == "counters" && seg.size() == 1 && get) {
    json::object rejected;
    for (const auto& [reason, n] : counters_.rejected) rejected[reason] = n;
    reply(200, json::object{{"presses_stored", counters_.presses_stored},
                            {"duplicates", counters_.duplicates},
                            {"seq_conflicts", counters_.seq_conflicts},
                            {"acks_sent", counters_.acks_sent},
                            {"rejected", rejected},
                            {"unknown_devices", registry_.unknown_devices().size()},
                            {"commit_errors", counters_.commit_errors},
                            {"batches", counters_.batches}});
    return;
  }
  if (what == "unknown-devices" && seg.size() == 1 && get) {
    json::array a;
    for (const auto& [id, u] : registry_.unknown_devices())
      a.push_back(json::object{{"device", u.device},
                               {"first_seen", protocol::format_time(u.first_seen)},
                               {"last_seen", protocol::format_time(u.last_seen)},
                               {"count", u.count},
                               {"reason", u.reason}});
    reply(200, a);
    return;
  }
  if (what == "presses" && seg.size() == 1 && get) {
    PressQuery q;
    if (auto it = params.find("device"); it != params.end() && !it->second.empty()) {
      if (auto e = protocol::check_id("device", it->second)) return fail(400, e->message());
      q.device = it->second;
    }
    if (auto it = params.find("location"); it != params.end() && !it->second.empty()) {
      if (auto e = protocol::check_id("location", it->second)) return fail(400, e->message());
      q.location = it->second;
    }
    if (auto it = params.find("since"); it != params.end() && !it->second.empty()) {
      auto t = protocol::parse_time(it->second, "since");
      if (!t) return fail(400, t.error().message());
      q.since = *t;
    }
    if (auto it = params.find("limit"); it != params.end() && !it->second.empty()) {
      std::size_t used = 0;
      long n = 0;
      try {
        n = std::stol(it->second, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != it->second.size() || n < 1 || n > 10000) return fail(400, "limit: must be a number in 1..10000");
      q.limit = static_cast<std::size_t>(n);
    }
    json::array a;
    for (const auto& p : store_.presses(q)) a.push_back(press_json(p));
    reply(200, a);
    return;
  }

  if (what == "report" && seg.size() == 1 && get) {
    for (const auto& [name, value] : params)
      if (name != "from" && name != "to" && name != "days" && name != "location")
        return fail(400, "unknown parameter '" + name + "' (the report takes from, to, days and location)");
    const auto param = [&](const char* name) -> std::optional<std::string> {
      auto it = params.find(name);
      if (it == params.end() || it->second.empty()) return std::nullopt;
      return it->second;
    };
    const auto location = param("location");
    if (location) {
      if (auto e = protocol::check_id("location", *location)) return fail(400, e->message());
      if (!registry_.location(*location)) return fail(404, "no location " + *location);
    }
    const auto& settings = report_settings_;
    const auto now = clock_.wall_now();
    const auto period = resolve_period(PeriodRequest{param("from"), param("to"), param("days")}, now, settings.time_zone);
    if (!period) return fail(400, period.error().message());
    auto counts =
        read_press_counts(store_.database(), config_.site, *period, settings.time_zone, location, settings.call_manager);
    if (!counts) return fail(503, counts.error().message());
    auto alerts = read_alert_times(store_.database(), config_.site, *period, location);
    if (!alerts) return fail(503, alerts.error().message());
    std::map<std::string, std::string> names;
    for (const auto& [id, l] : registry_.locations())
      if (!location || id == *location) names[id] = l.name;
    auto o = to_json(build_report(*period, settings, names, *counts, *alerts));
    o["site"] = config_.site;
    if (auto note = period_note(*period, now, settings.time_zone)) o["note"] = *note;
    reply(200, o);
    return;
  }

  if (what == "managers") return route_managers(req, session, seg);
  if (what == "locations") {
    if (seg.size() == 1 && get) {
      json::array a;
      for (const auto& [id, l] : registry_.locations())
        a.push_back(json::object{{"id", l.id}, {"name", l.name}, {"devices", registry_.devices_at(l.id)}});
      reply(200, a);
      return;
    }
    std::string error;
    if (seg.size() == 1 && post) {
      auto body = body_object(req, error);
      if (!body) return fail(400, error);
      auto id = string_field(*body, "id", true, error);
      if (!id) return fail(400, error);
      if (auto e = protocol::check_id("id", *id)) return fail(400, e->message());
      auto name = string_field(*body, "name", false, error);
      if (!error.empty()) return fail(400, error);
      if (name)
        if (auto e = check_location_name(*name)) return fail(400, *e);
      if (registry_.location(*id)) return fail(409, "location " + *id + " exists");
      LocationRecord l{*id, name.value_or(*id)};
      if (auto e = store_.save_location(l)) return fail(503, *e);
      registry_.put_location(l);
      reply(201, json::object{{"id", l.id}, {"name", l.name}, {"devices", 0}});
      return;
    }
    if (seg.size() == 3 && seg[2] == "rename" && post) {
      const auto* existing = registry_.location(seg[1]);
      if (!existing) return fail(404, "no location " + seg[1]);
      auto body = body_object(req, error);
      if (!body) return fail(400, error);
      auto name = string_field(*body, "name", true, error);
      if (!name) return fail(400, error);
      if (auto e = check_location_name(*name)) return fail(400, *e);
      LocationRecord l{seg[1], *name};
      if (auto e = store_.save_location(l)) return fail(503, *e);
      registry_.put_location(l);
      reply(200, json::object{{"id", l.id}, {"name", l.name}, {"devices", registry_.devices_at(l.id)}});
      return;
    }
    return fail(404, "no such resource");
  }

  if (what != "devices") return fail(404, "no such resource");
  if (seg.size() == 1 && get) {
    json::array a;
    for (const auto& [id, d] : registry_.devices()) a.push_back(device_view(d));
    reply(200, a);
    return;
  }
  if (seg.size() == 2 && get) {
    const auto* d = registry_.device(seg[1]);
    if (!d) return fail(404, "no device " + seg[1]);
    reply(200, device_view(*d));
    return;
  }
  if (!post) return fail(seg.size() <= 3 ? 405 : 404, "method not allowed here");

  // Makes sure a location exists (created with its id as its name), persisting it; `created` says
  // whether it is new (a mistyped id makes a new location: the answer says so).
  auto ensure_location = [this](const std::string& id, bool& created) -> std::optional<std::string> {
    created = false;
    if (registry_.location(id)) return std::nullopt;
    LocationRecord l{id, id};
    if (auto e = store_.save_location(l)) return e;
    registry_.put_location(l);
    created = true;
    log_.info("registry", "created location " + id);
    return std::nullopt;
  };

  std::string error;
  if (seg.size() == 1) {  // register
    auto body = body_object(req, error);
    if (!body) return fail(400, error);
    auto id = string_field(*body, "id", true, error);
    if (!id) return fail(400, error);
    auto location = string_field(*body, "location", true, error);
    if (!location) return fail(400, error);
    auto board = string_field(*body, "board", false, error);
    if (!error.empty()) return fail(400, error);
    if (auto e = protocol::check_id("id", *id)) return fail(400, e->message());
    if (auto e = protocol::check_id("location", *location)) return fail(400, e->message());
    if (board)
      if (auto e = protocol::check_id("board", *board)) return fail(400, e->message());
    if (const auto* d = registry_.device(*id); d && !d->retired) return fail(409, "device " + *id + " is registered");
    // Terminals and managers share names (the broker's accounts): not a manager's, even one
    // without a broker account (a hub without --dynsec).
    if (manager_tokens_.has_token(*id))
      return fail(409, *id + " is a manager: pick another device id, or kioskctl manager remove " + *id + " first");
    accounts_->add_device(*id, [this, req, session, id = *id, location = *location, board,
                                ensure_location](AccountsResult result) {
      auto fail = [&](unsigned status, const std::string& m) { session->send(error_response(req, status, m)); };
      if (result.error) return fail(result.conflict ? 409 : 502, "the broker refused the device account: " + *result.error);
      if (const auto* d = registry_.device(id); d && !d->retired) return fail(409, "device " + id + " is registered");
      bool created = false;
      if (auto e = ensure_location(location, created)) return fail(503, *e);
      DeviceRecord d;
      if (const auto* old = registry_.device(id)) d = *old;  // re-registering a retired device keeps its history
      d.id = id;
      d.location = location;
      if (board) d.board = *board;
      d.retired = false;
      d.state = Liveness::unknown;
      d.registered_at = clock_.wall_now();
      if (auto e = store_.save_device(d)) return fail(503, *e);
      registry_.put_device(d);
      if (registry_.unknown_devices().count(id)) {
        store_.forget_unknown(id);
        registry_.forget_unknown(id);
      }
      publish_device_config(d);
      device_changed(d);
      log_.info("registry", "registered device " + id + " at " + location);
      json::object answer{{"device", device_json(d)}, {"credentials", credentials_json(result.credentials)}};
      if (created) answer["location_created"] = true;
      session->send(json_response(req, 201, json::serialize(answer)));
    });
    return;
  }
  const std::string& id = seg[1];
  const auto* existing = registry_.device(id);
  if (!existing) return fail(404, "no device " + id);
  if (seg.size() != 3) return fail(404, "no such resource");
  const std::string& action = seg[2];
  if (action == "move") {
    if (existing->retired) return fail(409, "device " + id + " is retired; register it again");
    auto body = body_object(req, error);
    if (!body) return fail(400, error);
    auto location = string_field(*body, "location", true, error);
    if (!location) return fail(400, error);
    if (auto e = protocol::check_id("location", *location)) return fail(400, e->message());
    bool created = false;
    if (auto e = ensure_location(*location, created)) return fail(503, *e);
    DeviceRecord d = *existing;
    d.location = *location;
    if (auto e = store_.save_device(d)) return fail(503, *e);
    registry_.put_device(d);
    publish_device_config(d);
    device_changed(d);
    log_.info("registry", "moved device " + id + " to " + *location);
    auto answer = device_json(d);
    if (created) answer["location_created"] = true;
    reply(200, answer);
    return;
  }
  if (action == "rotate") {
    if (existing->retired) return fail(409, "device " + id + " is retired");
    if (!rotating_.insert(id).second)
      return fail(409, "new credentials for " + id + " are being made by another request; retry when it is done");
    accounts_->rotate_device(id, [this, req, session, id](AccountsResult result) {
      rotating_.erase(id);
      if (result.error) {
        session->send(error_response(req, 502, "the broker refused the new password: " + *result.error));
        return;
      }
      session->send(json_response(req, 200, json::serialize(json::object{{"credentials", credentials_json(result.credentials)}})));
    });
    return;
  }
  if (action == "retire") {
    accounts_->retire_device(id, [this, req, session, id](AccountsResult result) {
      if (result.error) {
        session->send(error_response(req, 502, "the broker refused to remove the device account: " + *result.error));
        return;
      }
      const auto* current = registry_.device(id);
      if (!current) {
        session->send(error_response(req, 404, "no device " + id));
        return;
      }
      DeviceRecord d = *current;
      d.retired = true;
      if (auto e = store_.save_device(d)) {
        session->send(error_response(req, 503, *e));
        return;
      }
      registry_.put_device(d);
      device_changed(d);
      log_.info("registry", "retired device " + id);
      session->send(json_response(req, 200, json::serialize(device_json(d))));
    });
    return;
  }
  fail(404, "no such resource");
}

}  // namespace kiosk::hub
