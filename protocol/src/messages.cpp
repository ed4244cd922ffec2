// Strict parsing and compact serialization of every v1 payload (protocol-v1.md), on Boost.JSON.
//
// Every parse_* checks the size limit first, then JSON syntax, then each field in declaration
// order, and returns the first problem as an Error{"<payload>.<field>", reason}. Nothing here
// throws to the caller: Boost.JSON is used through its error_code API and any remaining exception
// (allocation failure) becomes an Error too.
#include "kiosk/protocol/messages.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <exception>
#include <limits>

#include <boost/json.hpp>

#include "kiosk/protocol/ids.hpp"
#include "text.hpp"

namespace kiosk::protocol {
namespace {

namespace json = boost::json;

constexpr std::uint64_t kNoMax = std::numeric_limits<std::uint64_t>::max();
constexpr std::size_t kMaxFlagBytes = 32;
constexpr std::size_t kMaxFwChars = 32;
constexpr std::size_t kMaxAckSeqs = 1000;
constexpr std::size_t kMinNonceChars = 8;
constexpr std::size_t kMaxNonceChars = 32;
constexpr std::size_t kMaxReasonBytes = 512;
// Boost.JSON 1.81 does not always round decimal text to the nearest double, so doubles are kept
// on a decimal grid whose short text it does read back exactly: to_json -> parse is then the
// identity (checked by the fuzzers). 0.001 degC and 1e-6 of a share are far below any sensor.
constexpr double kTempGrid = 1e3;
constexpr double kBaselineGrid = 1e6;

std::string format_double(double d) {
  if (!std::isfinite(d)) return d > 0 ? "inf" : d < 0 ? "-inf" : "nan";
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  std::string s(buf, r.ptr);
  if (s.find_first_not_of("-0123456789") == std::string::npos) s += ".0";
  return s;
}

// How a JSON value is named in an error: "5", "1.5", "the string \"1\"", "true", "an array".
std::string describe(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null: return "null";
    case json::kind::bool_: return v.get_bool() ? "true" : "false";
    case json::kind::int64: return std::to_string(v.get_int64());
    case json::kind::uint64: return std::to_string(v.get_uint64());
    case json::kind::double_: return format_double(v.get_double());
    case json::kind::string: {
      const json::string& s = v.get_string();
      return "the string " + detail::quote(std::string_view(s.data(), s.size()));
    }
    case json::kind::array: return "an array";
    case json::kind::object: return "an object";
  }
  return "an unknown value";
}

std::string format_bound(double d) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, d);
  return std::string(buf, r.ptr);
}

// Boost.JSON stores an integer beyond 64 bits as a double: say it is too large rather than
// "not an integer", which would puzzle whoever wrote 18446744073709551616.
std::string not_an_integer(const json::value& v) {
  if (v.is_double()) {
    const double d = v.get_double();
    if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) >= 9.2e18) {
      char buf[32];
      std::snprintf(buf, sizeof buf, "%.2g", d);
      return std::string(d < 0 ? "is too small" : "is too large") + " for a 64-bit integer (about " + buf + ")";
    }
  }
  return "expected an integer, got " + describe(v);
}

std::string range_text(std::string_view value, bool negative, std::int64_t min, std::uint64_t max,
                       bool unbounded) {
  std::string v(value);
  if (negative && min == 0) {
    return unbounded ? v + " is negative" : v + " is negative (expected 0.." + std::to_string(max) + ")";
  }
  if (unbounded) return v + " is less than " + std::to_string(min);
  return v + " is outside " + std::to_string(min) + ".." + std::to_string(max);
}

// The fields of one JSON object of one payload kind; errors are named "<payload>.<field>".
class Fields {
 public:
  Fields(const json::object& obj, std::string_view payload) : obj_(obj), payload_(payload) {}

  std::string name(std::string_view field) const { return std::string(payload_) + "." + std::string(field); }
  Error error(std::string_view field, std::string reason) const { return Error{name(field), std::move(reason)}; }
  Error missing(std::string_view field, std::string_view why = {}) const {
    return error(field, why.empty() ? "is missing" : "is missing (" + std::string(why) + ")");
  }

  const json::value* find(std::string_view field) const {
    const auto it = obj_.find(field);
    return it == obj_.end() ? nullptr : &it->value();
  }

  // An unsigned integer in min..max (max == kNoMax: no upper bound).
  Result<std::uint64_t> uint_value(std::string_view field, const json::value& v, std::uint64_t min,
                                   std::uint64_t max) const {
    const bool unbounded = max == kNoMax;
    if (v.is_int64()) {
      const std::int64_t i = v.get_int64();
      if (i < 0 || static_cast<std::uint64_t>(i) < min || static_cast<std::uint64_t>(i) > max) {
        return error(field, range_text(std::to_string(i), i < 0, static_cast<std::int64_t>(min), max, unbounded));
      }
      return static_cast<std::uint64_t>(i);
    }
    if (v.is_uint64()) {
      const std::uint64_t u = v.get_uint64();
      if (u < min || u > max) {
        return error(field, range_text(std::to_string(u), false, static_cast<std::int64_t>(min), max, unbounded));
      }
      return u;
    }
    return error(field, not_an_integer(v));
  }

  // A signed integer in min..max.
  Result<std::int64_t> int_value(std::string_view field, const json::value& v, std::int64_t min,
                                 std::int64_t max) const {
    std::string text;
    bool in_range = false;
    std::int64_t i = 0;
    if (v.is_int64()) {
      i = v.get_int64();
      text = std::to_string(i);
      in_range = i >= min && i <= max;
    } else if (v.is_uint64()) {
      const std::uint64_t u = v.get_uint64();
      text = std::to_string(u);
      in_range = max >= 0 && u <= static_cast<std::uint64_t>(max) && static_cast<std::int64_t>(u) >= min;
      i = in_range ? static_cast<std::int64_t>(u) : 0;
    } else {
      return error(field, not_an_integer(v));
    }
    if (!in_range) {
      const bool negative = !text.empty() && text[0] == '-';
      if (negative && min == 0) return error(field, text + " is negative (expected 0.." + std::to_string(max) + ")");
      return error(field, text + " is outside " + std::to_string(min) + ".." + std::to_string(max));
    }
    return i;
  }

  Result<std::optional<std::uint64_t>> opt_uint(std::string_view field, std::uint64_t min, std::uint64_t max) const {
    const json::value* v = find(field);
    if (!v) return std::optional<std::uint64_t>{};
    auto r = uint_value(field, *v, min, max);
    if (!r) return r.error();
    return std::optional<std::uint64_t>{*r};
  }

  Result<std::uint64_t> req_uint(std::string_view field, std::uint64_t min, std::uint64_t max) const {
    const json::value* v = find(field);
    if (!v) return missing(field);
    return uint_value(field, *v, min, max);
  }

  Result<std::optional<int>> opt_int(std::string_view field, int min, int max) const {
    const json::value* v = find(field);
    if (!v) return std::optional<int>{};
    auto r = int_value(field, *v, min, max);
    if (!r) return r.error();
    return std::optional<int>{static_cast<int>(*r)};
  }

  Result<int> req_int(std::string_view field, int min, int max) const {
    const json::value* v = find(field);
    if (!v) return missing(field);
    auto r = int_value(field, *v, min, max);
    if (!r) return r.error();
    return static_cast<int>(*r);
  }

  // Any JSON number in min..max, snapped to 1/grid.
  Result<std::optional<double>> opt_number(std::string_view field, double min, double max, double grid) const {
    const json::value* v = find(field);
    if (!v) return std::optional<double>{};
    double d = 0;
    if (v->is_double()) {
      d = v->get_double();
    } else if (v->is_int64()) {
      d = static_cast<double>(v->get_int64());
    } else if (v->is_uint64()) {
      d = static_cast<double>(v->get_uint64());
    } else {
      return error(field, "expected a number, got " + describe(*v));
    }
    if (!(d >= min && d <= max)) {
      return error(field, describe(*v) + " is outside " + format_bound(min) + ".." + format_bound(max));
    }
    return std::optional<double>{std::round(d * grid) / grid};
  }

  Result<double> req_number(std::string_view field, double min, double max, double grid) const {
    if (!find(field)) return missing(field);
    auto r = opt_number(field, min, max, grid);
    if (!r) return r.error();
    return **r;
  }

  Result<std::optional<std::string>> opt_string(std::string_view field) const {
    const json::value* v = find(field);
    if (!v) return std::optional<std::string>{};
    if (!v->is_string()) return error(field, "expected a string, got " + describe(*v));
    const json::string& s = v->get_string();
    return std::optional<std::string>{std::string(s.data(), s.size())};
  }

  Result<std::string> req_string(std::string_view field) const {
    if (!find(field)) return missing(field);
    auto r = opt_string(field);
    if (!r) return r.error();
    return std::move(**r);
  }

  Result<std::string> req_id(std::string_view field) const {
    auto r = req_string(field);
    if (!r) return r;
    if (auto e = check_id(name(field), *r)) return *e;
    return r;
  }

  Result<std::optional<std::string>> opt_id(std::string_view field) const {
    auto r = opt_string(field);
    if (!r || !*r) return r;
    if (auto e = check_id(name(field), **r)) return *e;
    return r;
  }

  // A string that must be one of `choices` (listed in the error as "online, offline").
  Result<std::size_t> req_choice(std::string_view field, std::initializer_list<std::string_view> choices) const {
    auto r = req_string(field);
    if (!r) return r.error();
    std::size_t i = 0;
    std::string list;
    for (const std::string_view c : choices) {
      if (*r == c) return i;
      list += (i++ ? ", " : "") + std::string(c);
    }
    return error(field, detail::quote(*r) + " is not one of " + list);
  }

  const json::array* array(std::string_view field) const {
    const json::value* v = find(field);
    return v && v->is_array() ? &v->get_array() : nullptr;
  }

 private:
  const json::object& obj_;
  std::string_view payload_;
};

// Size limit, JSON syntax and "is an object", in that order; the object is handed to `read`.
template <class T, class Read>
Result<T> parse_payload(std::string_view text, std::string_view payload, std::size_t limit, Read read) {
  try {
    if (text.size() > limit) {
      return Error{std::string(payload), std::to_string(text.size()) + " bytes exceeds the " +
                                             std::to_string(limit) + "-byte limit"};
    }
    json::error_code ec;
    const json::value v = json::parse(json::string_view(text.data(), text.size()), ec);
    if (ec) return Error{std::string(payload), "is not valid JSON: " + ec.message()};
    if (!v.is_object()) return Error{std::string(payload), "expected a JSON object, got " + describe(v)};
    return read(Fields(v.get_object(), payload));
  } catch (const std::exception& e) {
    return Error{std::string(payload), std::string("could not be parsed: ") + e.what()};
  } catch (...) {
    return Error{std::string(payload), "could not be parsed"};
  }
}

// Compact JSON, fields in declaration order, optional fields only when present.
class Writer {
 public:
  Writer& u(std::string_view k, std::uint64_t v) { return raw(k, std::to_string(v)); }
  Writer& i(std::string_view k, std::int64_t v) { return raw(k, std::to_string(v)); }
  Writer& d(std::string_view k, double v) {
    if (!std::isfinite(v)) return raw(k, "null");  // not representable; only a hand-built value can hold it
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, v);
    return raw(k, std::string(buf, r.ptr));
  }
  Writer& s(std::string_view k, std::string_view v) {
    return raw(k, json::serialize(json::string_view(v.data(), v.size())));
  }
  Writer& raw(std::string_view k, const std::string& v) {
    out_ += first_ ? "{\"" : ",\"";
    first_ = false;
    out_ += k;
    out_ += "\":";
    out_ += v;
    return *this;
  }
  std::string done() { return first_ ? "{}" : out_ + "}"; }

 private:
  std::string out_;
  bool first_ = true;
};

std::string string_array(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += ',';
    out += json::serialize(json::string_view(items[i].data(), items[i].size()));
  }
  return out + "]";
}

}  // namespace

std::string_view to_string(DeviceState s) { return s == DeviceState::online ? "online" : "offline"; }

std::string_view to_string(AlertState s) {
  switch (s) {
    case AlertState::open: return "open";
    case AlertState::acked: return "acked";
    case AlertState::resolved: return "resolved";
  }
  return "unknown";
}

std::string_view to_string(Severity s) { return s == Severity::critical ? "critical" : "warning"; }

bool Press::is_repeat() const { return std::find(flags.begin(), flags.end(), kRepeatFlag) != flags.end(); }

Result<Press> parse_press(std::string_view text) {
  return parse_payload<Press>(text, "press", kMaxDeviceMessageBytes, [](const Fields& f) -> Result<Press> {
    Press p;
    auto seq = f.req_uint("seq", kMinSeq, kNoMax);
    if (!seq) return seq.error();
    p.seq = *seq;
    auto button = f.req_int("button", 0, kMaxButton);
    if (!button) return button.error();
    p.button = *button;
    auto scale = f.req_int("scale", kMinScale, kMaxScale);
    if (!scale) return scale.error();
    p.scale = *scale;
    auto rating = f.req_int("rating", kMinRating, p.scale);
    if (!rating) return rating.error();
    p.rating = *rating;
    auto age = f.req_uint("age_ms", 0, kNoMax);
    if (!age) return age.error();
    if (*age > kMaxPressAgeMs) {
      return f.error("age_ms",
                     std::to_string(*age) + " is more than 3650 days (" + std::to_string(kMaxPressAgeMs) + " ms)");
    }
    p.age_ms = *age;
    if (const json::value* flags = f.find("flags")) {
      if (!flags->is_array()) return f.error("flags", "expected an array of strings, got " + describe(*flags));
      const json::array& a = flags->get_array();
      for (std::size_t i = 0; i < a.size(); ++i) {
        const std::string item = "flags[" + std::to_string(i) + "]";
        if (!a[i].is_string()) return f.error(item, "expected a string, got " + describe(a[i]));
        const json::string& s = a[i].get_string();
        if (s.empty()) return f.error(item, "is empty (expected 1.." + std::to_string(kMaxFlagBytes) + " bytes)");
        if (s.size() > kMaxFlagBytes) {
          return f.error(item, "is " + std::to_string(s.size()) + " bytes long (expected 1.." +
                                   std::to_string(kMaxFlagBytes) + " bytes)");
        }
        p.flags.emplace_back(s.data(), s.size());
      }
    }
    auto nonce = f.opt_string("nonce");
    if (!nonce) return nonce.error();
    if (*nonce) {
      const std::string& n = **nonce;
      const bool hex = std::all_of(n.begin(), n.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
      if (n.size() < kMinNonceChars || n.size() > kMaxNonceChars || !hex) {
        return f.error("nonce", detail::quote(n) + " is not " + std::to_string(kMinNonceChars) + ".." +
                                    std::to_string(kMaxNonceChars) + " lowercase hex digits");
      }
      p.nonce = n;
    }
    return p;
  });
}

Result<Ack> parse_ack(std::string_view text) {
  return parse_payload<Ack>(text, "ack", kMaxHubMessageBytes, [](const Fields& f) -> Result<Ack> {
    // An array of 0..kMaxAckSeqs seqs; absent is none.
    const auto seq_list = [&](std::string_view field, std::vector<std::uint64_t>& out) -> std::optional<Error> {
      const json::value* v = f.find(field);
      if (!v) return std::nullopt;
      if (!v->is_array()) return f.error(field, "expected an array of integers, got " + describe(*v));
      const json::array& a = v->get_array();
      if (a.size() > kMaxAckSeqs) {
        return f.error(field, "has " + std::to_string(a.size()) + " entries (at most " + std::to_string(kMaxAckSeqs) + ")");
      }
      out.reserve(a.size());
      for (std::size_t i = 0; i < a.size(); ++i) {
        auto seq = f.uint_value(std::string(field) + "[" + std::to_string(i) + "]", a[i], kMinSeq, kNoMax);
        if (!seq) return seq.error();
        out.push_back(*seq);
      }
      return std::nullopt;
    };
    if (!f.find("seqs")) return f.missing("seqs");
    Ack ack;
    if (auto e = seq_list("seqs", ack.seqs)) return *e;
    if (auto e = seq_list("taken", ack.taken)) return *e;
    if (ack.seqs.empty() && ack.taken.empty())
      return f.error("seqs", "is empty (expected 1.." + std::to_string(kMaxAckSeqs) + " sequence numbers)");
    auto next = f.opt_uint("next_seq", kMinSeq, kNoMax);
    if (!next) return next.error();
    ack.next_seq = next->value_or(0);
    return ack;
  });
}

namespace {

Result<std::optional<std::string>> read_fw(const Fields& f) {
  auto fw = f.opt_string("fw");
  if (!fw || !*fw) return fw;
  const std::string& s = **fw;
  const std::string expected = " (expected 1.." + std::to_string(kMaxFwChars) + " printable ASCII characters)";
  if (s.empty()) return f.error("fw", "is empty" + expected);
  if (s.size() > kMaxFwChars) return f.error("fw", "is " + std::to_string(s.size()) + " bytes long" + expected);
  for (const char c : s) {
    if (c < 0x20 || c > 0x7e) return f.error("fw", detail::quote(s) + " has a non-printable character" + expected);
  }
  return fw;
}

}  // namespace

Result<Status> parse_status(std::string_view text) {
  return parse_payload<Status>(text, "status", kMaxDeviceMessageBytes, [](const Fields& f) -> Result<Status> {
    Status st;
    auto state = f.req_choice("state", {"online", "offline"});
    if (!state) return state.error();
    st.state = *state == 0 ? DeviceState::online : DeviceState::offline;
    const bool online = st.state == DeviceState::online;
    auto fw = read_fw(f);
    if (!fw) return fw.error();
    if (!*fw && online) return f.missing("fw", "required when online");
    st.fw = std::move(*fw);
    auto board = f.opt_id("board");
    if (!board) return board.error();
    if (!*board && online) return f.missing("board", "required when online");
    st.board = std::move(*board);
    auto buttons = f.opt_int("buttons", 1, kMaxButtons);
    if (!buttons) return buttons.error();
    if (!*buttons && online) return f.missing("buttons", "required when online");
    st.buttons = *buttons;
    return st;
  });
}

Result<Telemetry> parse_telemetry(std::string_view text) {
  return parse_payload<Telemetry>(text, "telemetry", kMaxDeviceMessageBytes, [](const Fields& f) -> Result<Telemetry> {
    Telemetry t;
    auto uptime = f.req_uint("uptime_s", 0, kNoMax);
    if (!uptime) return uptime.error();
    t.uptime_s = *uptime;
    auto queued = f.req_uint("queued", 0, kNoMax);
    if (!queued) return queued.error();
    t.queued = *queued;
    auto rssi = f.opt_int("rssi_dbm", -150, 0);
    if (!rssi) return rssi.error();
    t.rssi_dbm = *rssi;
    auto temp = f.opt_number("temp_c", -60, 150, kTempGrid);
    if (!temp) return temp.error();
    t.temp_c = *temp;
    auto battery = f.opt_int("battery_pct", 0, 100);
    if (!battery) return battery.error();
    t.battery_pct = *battery;
    auto dropped = f.opt_uint("dropped", 0, kNoMax);
    if (!dropped) return dropped.error();
    t.dropped = *dropped;
    return t;
  });
}

Result<DeviceConfig> parse_device_config(std::string_view text) {
  return parse_payload<DeviceConfig>(text, "config", kMaxHubMessageBytes, [](const Fields& f) -> Result<DeviceConfig> {
    DeviceConfig c;
    const auto read = [&f](std::string_view field, std::uint32_t min, std::uint32_t max,
                           std::optional<std::uint32_t>& out) -> std::optional<Error> {
      auto v = f.opt_uint(field, min, max);
      if (!v) return v.error();
      if (*v) out = static_cast<std::uint32_t>(**v);
      return std::nullopt;
    };
    if (auto e = read("debounce_ms", 1, 1000, c.debounce_ms)) return *e;
    if (auto e = read("lockout_ms", 0, 60000, c.lockout_ms)) return *e;
    if (auto e = read("repeat_window_ms", 0, 3600000, c.repeat_window_ms)) return *e;
    if (auto e = read("telemetry_s", 5, 86400, c.telemetry_s)) return *e;
    if (auto e = read("thanks_ms", 0, 10000, c.thanks_ms)) return *e;
    auto location = f.opt_id("location");
    if (!location) return location.error();
    c.location = std::move(*location);
    return c;
  });
}

Result<Alert> parse_alert(std::string_view text) {
  return parse_payload<Alert>(text, "alert", kMaxHubMessageBytes, [](const Fields& f) -> Result<Alert> {
    Alert a;
    auto id = f.req_id("id");
    if (!id) return id.error();
    a.id = std::move(*id);
    auto location = f.req_id("location");
    if (!location) return location.error();
    a.location = std::move(*location);
    auto state = f.req_choice("state", {"open", "acked", "resolved"});
    if (!state) return state.error();
    a.state = static_cast<AlertState>(*state);
    auto severity = f.req_choice("severity", {"warning", "critical"});
    if (!severity) return severity.error();
    a.severity = static_cast<Severity>(*severity);
    for (const auto& [field, out] : {std::pair{"since", &a.since}, std::pair{"updated", &a.updated}}) {
      auto s = f.req_string(field);
      if (!s) return s.error();
      auto t = parse_time(*s, f.name(field));
      if (!t) return t.error();
      *out = *t;
    }
    auto bad = f.req_int("bad", 0, std::numeric_limits<int>::max());
    if (!bad) return bad.error();
    a.bad = *bad;
    auto total = f.req_int("total", 0, std::numeric_limits<int>::max());
    if (!total) return total.error();
    if (*total < a.bad) {
      return f.error("total", std::to_string(*total) + " is less than bad (" + std::to_string(a.bad) + ")");
    }
    a.total = *total;
    auto window = f.req_int("window_s", 0, std::numeric_limits<int>::max());
    if (!window) return window.error();
    a.window_s = *window;
    auto baseline = f.req_number("baseline", 0, 1, kBaselineGrid);
    if (!baseline) return baseline.error();
    a.baseline = *baseline;
    auto reason = f.req_string("reason");
    if (!reason) return reason.error();
    if (reason->empty()) return f.error("reason", "is empty (expected 1.." + std::to_string(kMaxReasonBytes) + " bytes)");
    if (reason->size() > kMaxReasonBytes) {
      return f.error("reason", "is " + std::to_string(reason->size()) + " bytes long (expected 1.." +
                                   std::to_string(kMaxReasonBytes) + " bytes)");
    }
    a.reason = std::move(*reason);
    auto acked_by = f.opt_id("acked_by");
    if (!acked_by) return acked_by.error();
    a.acked_by = std::move(*acked_by);
    return a;
  });
}

Result<AlertAck> parse_alert_ack(std::string_view text) {
  return parse_payload<AlertAck>(text, "alert_ack", kMaxHubMessageBytes, [](const Fields& f) -> Result<AlertAck> {
    AlertAck ack;
    auto id = f.req_id("id");
    if (!id) return id.error();
    ack.id = std::move(*id);
    auto by = f.req_id("by");
    if (!by) return by.error();
    ack.by = std::move(*by);
    return ack;
  });
}

Result<HubStatus> parse_hub_status(std::string_view text) {
  return parse_payload<HubStatus>(text, "hub_status", kMaxHubMessageBytes, [](const Fields& f) -> Result<HubStatus> {
    auto state = f.req_choice("state", {"online", "offline"});
    if (!state) return state.error();
    return HubStatus{*state == 0 ? DeviceState::online : DeviceState::offline};
  });
}

std::string to_json(const Press& m) {
  Writer w;
  w.u("seq", m.seq).i("button", m.button).i("rating", m.rating).i("scale", m.scale).u("age_ms", m.age_ms);
  if (!m.flags.empty()) w.raw("flags", string_array(m.flags));
  if (!m.nonce.empty()) w.s("nonce", m.nonce);
  return w.done();
}

namespace {
std::string seq_array(const std::vector<std::uint64_t>& seqs) {
  std::string out = "[";
  for (std::size_t i = 0; i < seqs.size(); ++i) {
    if (i != 0) out += ',';
    out += std::to_string(seqs[i]);  // appended, not concatenated: g++ 12 -O2 warns falsely (-Wrestrict)
  }
  return out + "]";
}
}  // namespace

std::string to_json(const Ack& m) {
  Writer w;
  w.raw("seqs", seq_array(m.seqs));
  if (!m.taken.empty()) w.raw("taken", seq_array(m.taken));
  if (m.next_seq > 0) w.u("next_seq", m.next_seq);
  return w.done();
}

std::string to_json(const Status& m) {
  Writer w;
  w.s("state", to_string(m.state));
  if (m.fw) w.s("fw", *m.fw);
  if (m.board) w.s("board", *m.board);
  if (m.buttons) w.i("buttons", *m.buttons);
  return w.done();
}

std::string to_json(const Telemetry& m) {
  Writer w;
  w.u("uptime_s", m.uptime_s).u("queued", m.queued);
  if (m.rssi_dbm) w.i("rssi_dbm", *m.rssi_dbm);
  if (m.temp_c) w.d("temp_c", *m.temp_c);
  if (m.battery_pct) w.i("battery_pct", *m.battery_pct);
  if (m.dropped) w.u("dropped", *m.dropped);
  return w.done();
}

std::string to_json(const DeviceConfig& m) {
  Writer w;
  if (m.debounce_ms) w.u("debounce_ms", *m.debounce_ms);
  if (m.lockout_ms) w.u("lockout_ms", *m.lockout_ms);
  if (m.repeat_window_ms) w.u("repeat_window_ms", *m.repeat_window_ms);
  if (m.telemetry_s) w.u("telemetry_s", *m.telemetry_s);
  if (m.thanks_ms) w.u("thanks_ms", *m.thanks_ms);
  if (m.location) w.s("location", *m.location);
  return w.done();
}

std::string to_json(const Alert& m) {
  Writer w;
  w.s("id", m.id)
      .s("location", m.location)
      .s("state", to_string(m.state))
      .s("severity", to_string(m.severity))
      .s("since", format_time(m.since))
      .s("updated", format_time(m.updated))
      .i("bad", m.bad)
      .i("total", m.total)
      .i("window_s", m.window_s)
      .d("baseline", m.baseline)
      .s("reason", m.reason);
  if (m.acked_by) w.s("acked_by", *m.acked_by);
  return w.done();
}

std::string to_json(const AlertAck& m) { return Writer().s("id", m.id).s("by", m.by).done(); }

std::string to_json(const HubStatus& m) { return Writer().s("state", to_string(m.state)).done(); }

}  // namespace kiosk::protocol
