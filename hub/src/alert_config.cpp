// The alert settings file: strict JSON (unknown keys are typos, reported), every key optional.
//
// {
//   "time_zone": "Europe/Berlin",    venue local time for duty windows, baselines, reports, with its
//                                    daylight saving time: a tz database name or a POSIX TZ rule [UTC];
//                                    read from $TZDIR or /usr/share/zoneinfo, and again after a tzdata update
//   "utc_offset_min": 60,            or a fixed offset instead (no daylight saving time); a multiple of 15
//   "tick_ms": 1000,                 resolution / repeat / escalation check period [1000]
//   "repeat_interval_s": 300,        re-notify an unacknowledged alert [300]
//   "escalate_after_s": 600,         no ack this long: the next escalation level [600]
//   "update_interval_s": 60,         republish changed counts at most this often [60]
//   "max_press_age_s": 600,          older presses (device backlog) do not feed detectors [600]
//   "warmup_hours": 168, "warmup_presses": 20000,   history replayed into detectors at start
//   "detector": {"kind": "baseline", "bad_max_rating": 2, "window_s": 3600, "last_n": 200,
//                "min_bad": 2, "same_guest_gap_s": 30, "p_threshold": 0.0007, "spike_share": 0.7,
//                "spike_ratio": 2, "spike_rate_ratio": 3, "rate_memory_days": 4,
//                "max_baseline_weight": 200, "prior_bad_share": 0.1, "prior_weight": 40,
//                "resolve_after_s": 600, "calm_p": 0.05}   (defaults: DetectorSettings, detector.hpp)
//             or {"kind": "naive", "bad": 3, "window_s": 600, "resolve_after_s": 600, "bad_max_rating": 2},
//   "detectors": {"front-desk": {...same keys, over "detector"...}},
//   "contacts": [{"id": "alice", "name": "Alice", "webhook": "https://hooks.example.com/T1/abc",
//                 "locations": ["front-desk"], "on_duty": "mon-fri 08:00-18:00", "level": 0}],
//   "escalation": ["alice", ["bob", "carol"]],   optional: levels by order (overrides "level")
//   "call_manager": [{"location": "front-desk", "button": 3}, {"device": "t-7", "button": 0}],
//   "webhooks": {"timeout_ms": 5000, "backoff_initial_ms": 1000, "backoff_max_ms": 300000,
//                "jitter": 0.2, "max_attempts": 0, "max_age_s": 86400, "max_in_flight": 4,
//                "ca_file": "/etc/kiosk/relay-ca.pem"}   (https: the system's CAs and these)
//       An alert's posts go to a contact one at a time in queue order (max_in_flight counts all); a
//       newer post of an alert replaces its older ones still queued; headers X-Kiosk-Delivery: <site>-<run>-<n>
//       (same on retries, never reused), X-Kiosk-Alert, X-Kiosk-Change.
// }
#include "kiosk/hub/alert_config.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <stdexcept>

#include <boost/json.hpp>

#include "kiosk/net/url.hpp"
#include "kiosk/protocol/ids.hpp"

namespace kiosk::hub {

namespace json = boost::json;
using protocol::Error;
using protocol::Result;

std::unique_ptr<Detector> DetectorChoice::make() const {
  if (kind == Kind::naive) return std::make_unique<NaiveRuleDetector>(naive);
  return std::make_unique<BaselineDetector>(baseline);
}

std::chrono::seconds DetectorChoice::resolve_after() const {
  return kind == Kind::naive ? naive.resolve_after : baseline.resolve_after;
}

const DetectorChoice& AlertConfig::detector_for(std::string_view location) const {
  auto it = detectors.find(std::string(location));
  return it == detectors.end() ? default_detector : it->second;
}

bool is_call_manager(const std::vector<CallManagerButton>& buttons, std::string_view device, std::string_view location,
                     int button) {
  return std::any_of(buttons.begin(), buttons.end(), [&](const CallManagerButton& b) {
    if (b.button != button) return false;
    if (!b.device.empty()) return b.device == device;
    return b.location == "*" || b.location == location;
  });
}

bool AlertConfig::is_call_manager(std::string_view device, std::string_view location, int button) const {
  return kiosk::hub::is_call_manager(call_manager, device, location, button);
}

namespace {

// `text` in double quotes, then `rest`. Built by appending: g++ 12 -O2 warns (-Wrestrict, a false
// positive) on "\"" + std::string(...) chains.
std::string quoted(std::string_view text, std::string_view rest) {
  std::string out = "\"";
  out.append(text).append("\"").append(rest);
  return out;
}

// Reads one JSON object's keys, remembering which were used so the rest can be reported.
class Fields {
 public:
  Fields(const json::object& o, std::string path) : o_(o), path_(std::move(path)) {}

  const json::value* get(std::string_view key) {
    used_.insert(std::string(key));
    return o_.if_contains(key);
  }
  std::string where(std::string_view key) const { return path_.empty() ? std::string(key) : path_ + "." + std::string(key); }

  std::optional<Error> number(std::string_view key, double lo, double hi, double& out) {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    double d = 0;
    if (v->is_int64()) d = static_cast<double>(v->as_int64());
    else if (v->is_uint64()) d = static_cast<double>(v->as_uint64());
    else if (v->is_double()) d = v->as_double();
    else return Error{where(key), "must be a number"};
    if (!(d >= lo && d <= hi)) return Error{where(key), json::serialize(*v) + " is outside " + fmt(lo) + ".." + fmt(hi)};
    out = d;
    return std::nullopt;
  }
  template <class Int>
  std::optional<Error> integer(std::string_view key, double lo, double hi, Int& out) {
    double d = 0;
    bool present = o_.if_contains(key) != nullptr;
    if (auto e = number(key, lo, hi, d)) return e;
    if (!present) return std::nullopt;
    if (d != std::floor(d)) return Error{where(key), "must be a whole number"};
    out = static_cast<Int>(d);
    return std::nullopt;
  }
  template <class Duration>
  std::optional<Error> duration(std::string_view key, double lo, double hi, Duration& out) {
    typename Duration::rep n = out.count();
    if (auto e = integer(key, lo, hi, n)) return e;
    out = Duration{n};
    return std::nullopt;
  }
  std::optional<Error> string(std::string_view key, std::string& out) {
    const auto* v = get(key);
    if (!v) return std::nullopt;
    if (!v->is_string()) return Error{where(key), "must be a string"};
    out = std::string(v->as_string());
    return std::nullopt;
  }
  std::optional<Error> unknown_keys() const {
    for (const auto& kv : o_)
      if (!used_.count(std::string(kv.key()))) return Error{where(kv.key()), "unknown setting (a typo?)"};
    return std::nullopt;
  }

 private:
  static std::string fmt(double d) {
    std::ostringstream s;
    s << d;
    return s.str();
  }
  const json::object& o_;
  std::string path_;
  std::set<std::string> used_;
};

std::optional<Error> parse_detector(const json::value& v, const std::string& path, DetectorChoice& d) {
  if (!v.is_object()) return Error{path, "must be an object"};
  Fields f(v.as_object(), path);
  std::string kind = d.kind == DetectorChoice::Kind::naive ? "naive" : "baseline";
  if (auto e = f.string("kind", kind)) return e;
  if (kind == "baseline") d.kind = DetectorChoice::Kind::baseline;
  else if (kind == "naive") d.kind = DetectorChoice::Kind::naive;
  else return Error{f.where("kind"), quoted(kind, " is not baseline or naive")};

  // Keys shared by both detectors apply to both, so switching "kind" per location keeps them.
  int bad_max = d.baseline.bad_max_rating.value_or(0);
  bool has_bad_max = v.as_object().contains("bad_max_rating");
  if (auto e = f.integer("bad_max_rating", 1, 9, bad_max)) return e;
  if (has_bad_max) d.baseline.bad_max_rating = d.naive.bad_max_rating = bad_max;
  auto window = d.kind == DetectorChoice::Kind::naive ? d.naive.window : d.baseline.window;
  if (auto e = f.duration("window_s", 1, 7 * 86400, window)) return e;
  d.baseline.window = d.naive.window = window;
  auto resolve = d.resolve_after();
  if (auto e = f.duration("resolve_after_s", 0, 7 * 86400, resolve)) return e;
  d.baseline.resolve_after = d.naive.resolve_after = resolve;

  auto& b = d.baseline;
  if (auto e = f.integer("last_n", 1, 10000, b.last_n)) return e;
  if (auto e = f.integer("min_bad", 1, 10000, b.min_bad)) return e;
  if (auto e = f.number("p_threshold", 1e-300, 1, b.p_threshold)) return e;
  if (auto e = f.number("prior_bad_share", 0, 1, b.prior_bad_share)) return e;
  if (auto e = f.number("prior_weight", 0, 1e9, b.prior_weight)) return e;
  if (auto e = f.number("hour_weight", 0, 1e9, b.hour_weight)) return e;
  if (auto e = f.number("memory_presses", 1, 1e12, b.memory_presses)) return e;
  if (auto e = f.number("hour_memory_presses", 1, 1e12, b.hour_memory_presses)) return e;
  if (auto e = f.number("calm_p", 0, 1, b.calm_p)) return e;
  if (auto e = f.duration("same_guest_gap_s", 0, 3600, b.same_guest_gap)) return e;
  if (auto e = f.number("spike_share", 0.01, 0.99, b.spike_share)) return e;
  if (auto e = f.number("spike_ratio", 1, 100, b.spike_ratio)) return e;
  if (auto e = f.number("spike_rate_ratio", 0, 1000, b.spike_rate_ratio)) return e;
  if (auto e = f.number("rate_memory_days", 1, 1000, b.rate_memory_days)) return e;
  if (auto e = f.number("max_baseline_weight", 1, 1e9, b.max_baseline_weight)) return e;
  if (auto e = f.integer("bad", 1, 10000, d.naive.bad)) return e;
  return f.unknown_keys();
}

std::optional<Error> parse_contact(const json::value& v, const std::string& path, Contact& c) {
  if (!v.is_object()) return Error{path, "must be an object"};
  Fields f(v.as_object(), path);
  if (!f.get("id")) return Error{f.where("id"), "is required"};
  if (auto e = f.string("id", c.id)) return e;
  if (auto e = protocol::check_id(f.where("id"), c.id)) return e;
  c.name = c.id;
  if (auto e = f.string("name", c.name)) return e;
  if (auto e = f.string("webhook", c.webhook)) return e;
  if (!c.webhook.empty() && c.webhook.rfind("http://", 0) != 0 && c.webhook.rfind("https://", 0) != 0)
    return Error{f.where("webhook"), quoted(c.webhook, " must start with https:// or http://")};
  // Checked here, not at the first page: a URL the sender cannot use would drop every post to
  // this contact while the hub looked healthy.
  if (std::string why; !c.webhook.empty() && !net::parse_url(c.webhook, &why))
    return Error{f.where("webhook"), quoted(c.webhook, " is not a usable URL: " + why)};
  if (const auto* l = f.get("locations")) {
    if (!l->is_array()) return Error{f.where("locations"), "must be an array of location ids or \"*\""};
    c.locations.clear();
    for (const auto& x : l->as_array()) {
      if (!x.is_string()) return Error{f.where("locations"), "must be an array of location ids or \"*\""};
      std::string id(x.as_string());
      if (id != "*")
        if (auto e = protocol::check_id(f.where("locations"), id)) return e;
      c.locations.push_back(std::move(id));
    }
  }
  std::string schedule;
  if (auto e = f.string("on_duty", schedule)) return e;
  auto windows = parse_schedule(schedule);
  if (!windows) return Error{f.where("on_duty"), windows.error().message()};
  c.on_duty = std::move(*windows);
  if (auto e = f.integer("level", 0, 100, c.level)) return e;
  return f.unknown_keys();
}

Result<AlertConfig> parse_root(const json::object& root) {
  AlertConfig c;
  Fields f(root, "");
  std::chrono::minutes offset{0};
  if (auto e = f.duration("utc_offset_min", -14 * 60, 14 * 60, offset)) return *e;
  // Every real time zone is a whole quarter hour from UTC (Nepal +05:45, Chatham +12:45), and the
  // report's 15-minute press slots are whole local quarter hours only for such offsets.
  if (offset.count() % 15 != 0)
    return Error{f.where("utc_offset_min"), "must be a multiple of 15 minutes (e.g. 60, 330, 345), not " +
                                                std::to_string(offset.count())};
  c.time_zone = TimeZone::fixed(offset);
  std::string zone_name;
  if (auto e = f.string("time_zone", zone_name)) return *e;
  if (root.contains("time_zone")) {
    if (root.contains("utc_offset_min"))
      return Error{f.where("time_zone"), "give time_zone or utc_offset_min, not both (time_zone follows daylight "
                                         "saving time, utc_offset_min is fixed)"};
    auto zone = load_venue_time_zone(zone_name);
    if (!zone) return zone.error();
    c.time_zone = std::move(*zone);
    c.time_zone_setting = zone_name;
  }
  c.default_detector.baseline.time_zone = c.time_zone;
  if (auto e = f.duration("tick_ms", 10, 60000, c.tick)) return *e;
  if (auto e = f.duration("repeat_interval_s", 1, 7 * 86400, c.alert.repeat_interval)) return *e;
  if (auto e = f.duration("escalate_after_s", 1, 7 * 86400, c.alert.escalate_after)) return *e;
  if (auto e = f.duration("update_interval_s", 0, 86400, c.alert.update_interval)) return *e;
  if (auto e = f.duration("max_press_age_s", 0, 7 * 86400, c.max_press_age)) return *e;
  if (auto e = f.duration("warmup_hours", 0, 24 * 366, c.warmup)) return *e;
  if (auto e = f.integer("warmup_presses", 0, 1e7, c.warmup_presses)) return *e;
  if (const auto* d = f.get("detector"))
    if (auto e = parse_detector(*d, "detector", c.default_detector)) return *e;
  if (const auto* ds = f.get("detectors")) {
    if (!ds->is_object()) return Error{"detectors", "must be an object of location id -> detector settings"};
    for (const auto& kv : ds->as_object()) {
      std::string location(kv.key());
      if (auto e = protocol::check_id("detectors", location)) return *e;
      DetectorChoice choice = c.default_detector;
      if (auto e = parse_detector(kv.value(), "detectors." + location, choice)) return *e;
      c.detectors.emplace(location, std::move(choice));
    }
  }
  if (const auto* cs = f.get("contacts")) {
    if (!cs->is_array()) return Error{"contacts", "must be an array"};
    std::set<std::string> ids;
    for (std::size_t i = 0; i < cs->as_array().size(); ++i) {
      Contact contact;
      std::string path = "contacts[" + std::to_string(i) + "]";
      if (auto e = parse_contact(cs->as_array()[i], path, contact)) return *e;
      if (!ids.insert(contact.id).second) return Error{path + ".id", contact.id + " appears twice"};
      c.contacts.push_back(std::move(contact));
    }
  }
  if (const auto* esc = f.get("escalation")) {
    if (!esc->is_array()) return Error{"escalation", "must be an array of contact ids (or arrays of them), first level first"};
    auto set_level = [&](const json::value& id, int level) -> std::optional<Error> {
      if (!id.is_string()) return Error{"escalation", "entries must be contact ids"};
      auto it = std::find_if(c.contacts.begin(), c.contacts.end(), [&](const Contact& x) { return x.id == id.as_string(); });
      if (it == c.contacts.end()) return Error{"escalation", quoted(id.as_string(), " is not a contact")};
      it->level = level;
      return std::nullopt;
    };
    int level = 0;
    for (const auto& entry : esc->as_array()) {
      if (entry.is_array()) {
        for (const auto& id : entry.as_array())
          if (auto e = set_level(id, level)) return *e;
      } else if (auto e = set_level(entry, level)) {
        return *e;
      }
      ++level;
    }
  }
  if (const auto* cm = f.get("call_manager")) {
    if (!cm->is_array()) return Error{"call_manager", "must be an array of {location|device, button}"};
    for (std::size_t i = 0; i < cm->as_array().size(); ++i) {
      const auto& v = cm->as_array()[i];
      std::string path = "call_manager[" + std::to_string(i) + "]";
      if (!v.is_object()) return Error{path, "must be an object"};
      Fields b(v.as_object(), path);
      CallManagerButton button;
      if (!b.get("button")) return Error{b.where("button"), "is required"};
      if (auto e = b.integer("button", 0, 255, button.button)) return *e;
      if (auto e = b.string("location", button.location)) return *e;
      if (auto e = b.string("device", button.device)) return *e;
      if (button.location != "*")
        if (auto e = protocol::check_id(b.where("location"), button.location)) return *e;
      if (!button.device.empty())
        if (auto e = protocol::check_id(b.where("device"), button.device)) return *e;
      if (auto e = b.unknown_keys()) return *e;
      c.call_manager.push_back(std::move(button));
    }
  }
  if (const auto* w = f.get("webhooks")) {
    if (!w->is_object()) return Error{"webhooks", "must be an object"};
    Fields b(w->as_object(), "webhooks");
    auto& p = c.webhooks;
    if (auto e = b.duration("timeout_ms", 10, 600000, p.timeout)) return *e;
    if (auto e = b.duration("backoff_initial_ms", 1, 3600000, p.backoff_initial)) return *e;
    if (auto e = b.duration("backoff_max_ms", 1, 86400000, p.backoff_max)) return *e;
    if (auto e = b.number("jitter", 0, 0.9, p.jitter)) return *e;
    if (auto e = b.integer("max_attempts", 0, 1e6, p.max_attempts)) return *e;
    if (auto e = b.duration("max_age_s", 1, 30 * 86400, p.max_age)) return *e;
    if (auto e = b.integer("max_in_flight", 1, 64, p.max_in_flight)) return *e;
    if (auto e = b.string("ca_file", p.ca_file)) return *e;
    // Checked here: a file the sender cannot use (missing, a folder, not PEM) would fail every
    // https post while the hub looked healthy. The sender's own load says what else is wrong.
    if (!p.ca_file.empty()) {
      std::error_code ec;
      std::string text;
      if (std::filesystem::is_regular_file(p.ca_file, ec)) {
        std::ifstream in(p.ca_file);
        text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
      if (text.find("-----BEGIN CERTIFICATE-----") == std::string::npos)
        return Error{b.where("ca_file"), quoted(p.ca_file, " is not a usable PEM file of CA certificates (no "
                                                           "\"-----BEGIN CERTIFICATE-----\" in it, or it cannot be read)")};
    }
    if (auto e = b.unknown_keys()) return *e;
    if (p.backoff_max < p.backoff_initial) p.backoff_max = p.backoff_initial;
  }
  if (auto e = f.unknown_keys()) return *e;
  // The venue's time zone applies to every detector, also those given per location.
  for (auto& [location, d] : c.detectors) d.baseline.time_zone = c.time_zone;
  return c;
}

}  // namespace

Result<TimeZone> load_venue_time_zone(std::string_view name, const std::string& zoneinfo) {
  auto zone = load_time_zone(name, zoneinfo);
  if (!zone) return zone.error();
  // As for utc_offset_min: the report's 15-minute press slots must be whole local quarter hours.
  const WallTime since_1980{std::chrono::sys_days{std::chrono::year{1980} / 1 / 1}};
  if (const auto odd = zone->off_quarter_offset_from(since_1980)) {
    const auto seconds = std::abs(odd->count() % 60);
    return Error{"time_zone", quoted(name, " has an offset of " + utc_offset_name(*odd) +
                                               (seconds ? " and " + std::to_string(seconds) + " s" : std::string()) +
                                               ", not a whole quarter hour from UTC")};
  }
  return zone;
}

Result<AlertConfig> parse_alert_config(std::string_view text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec) return Error{"alerts", "not valid JSON: " + ec.message()};
  if (!v.is_object()) return Error{"alerts", "must be a JSON object"};
  return parse_root(v.as_object());
}

AlertConfig load_alert_config(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot read the alert settings " + path + "; check the path given to --alerts");
  std::stringstream s;
  s << in.rdbuf();
  auto c = parse_alert_config(s.str());
  if (!c) throw std::invalid_argument("alert settings " + path + ": " + c.error().message());
  return std::move(*c);
}

}  // namespace kiosk::hub
