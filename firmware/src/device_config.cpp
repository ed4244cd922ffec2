// Device file parsing, flag overrides and validation.
#include "kiosk/firmware/device_config.hpp"

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <sstream>

#include "json_reader.hpp"
#include "kiosk/net/url.hpp"
#include "kiosk/protocol/ids.hpp"
#include "kiosk/protocol/switch_word.hpp"
#include "kiosk/protocol/messages.hpp"

namespace kiosk::firmware {
namespace jr = json_reader;
namespace {

template <class T>
std::optional<protocol::Error> read_number(const boost::json::object& o, std::string_view key, std::int64_t lo,
                                           std::int64_t hi, T& out) {
  std::int64_t n = static_cast<std::int64_t>(out);
  if (auto e = jr::read_int(o, "device", key, lo, hi, n)) return e;
  out = static_cast<T>(n);
  return std::nullopt;
}

// nullopt with errno set (by open()) when the file cannot be read.
std::optional<std::string> read_text_file(const std::string& path) {
  errno = 0;
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::optional<protocol::Error> check_ranges(const DeviceConfig& c) {
  auto range = [](const char* field, std::uint64_t v, std::uint64_t lo,
                  std::uint64_t hi) -> std::optional<protocol::Error> {
    if (v < lo || v > hi) {
      return protocol::Error{field, std::to_string(v) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi)};
    }
    return std::nullopt;
  };
  if (auto e = range("debounce_ms", c.debounce_ms, 1, 1000)) return e;
  if (auto e = range("lockout_ms", c.lockout_ms, 0, 60000)) return e;
  if (auto e = range("repeat_window_ms", c.repeat_window_ms, 0, 3600000)) return e;
  if (auto e = range("thanks_ms", c.thanks_ms, 0, 10000)) return e;
  if (auto e = range("telemetry_s", c.telemetry_s, 1, 86400)) return e;
  if (auto e = range("outbox_max", c.outbox_max, 1, 100000000)) return e;
  if (auto e = range("keepalive_s", c.keepalive_s, 1, 3600)) return e;
  if (auto e = range("reconnect_max_s", c.reconnect_max_s, 1, 3600)) return e;
  return std::nullopt;
}

}  // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::debug;
  if (text == "info") return LogLevel::info;
  if (text == "warn") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  return std::nullopt;
}

protocol::Result<DeviceConfig> parse_device_file(std::string_view json, DeviceConfig c) {
  auto parsed = jr::parse(json, "device");
  if (!parsed) return parsed.error();
  if (!parsed->is_object()) return jr::error("device", "must be a JSON object");
  const auto& o = parsed->as_object();
  if (auto e = jr::unknown_key(o, "device",
                               {"site", "device", "broker", "username", "password", "tls", "board", "boards_dir",
                                "ratings", "scale", "data_dir", "debounce_ms", "lockout_ms", "repeat_window_ms",
                                "thanks_ms", "telemetry_s", "outbox_max", "keepalive_s", "reconnect_max_s",
                                "log_level"})) {
    return *e;
  }
  for (auto [key, field] : {std::pair{"site", &c.site}, std::pair{"device", &c.device},
                            std::pair{"broker", &c.broker}, std::pair{"username", &c.username},
                            std::pair{"password", &c.password}, std::pair{"board", &c.board},
                            std::pair{"boards_dir", &c.boards_dir}, std::pair{"data_dir", &c.data_dir}}) {
    if (auto e = jr::read(o, "device", key, *field)) return *e;
  }
  if (auto* tls = o.if_contains("tls"); tls && !tls->is_null()) {
    if (!tls->is_object()) return jr::error("device.tls", "must be an object");
    const auto& t = tls->as_object();
    if (auto e = jr::unknown_key(t, "device.tls", {"ca", "cert", "key", "verify_host"})) return *e;
    if (auto e = jr::read(t, "device.tls", "ca", c.tls_ca)) return *e;
    if (auto e = jr::read(t, "device.tls", "cert", c.tls_cert)) return *e;
    if (auto e = jr::read(t, "device.tls", "key", c.tls_key)) return *e;
    if (auto e = jr::read(t, "device.tls", "verify_host", c.tls_verify_host)) return *e;
  }
  if (auto* r = o.if_contains("ratings"); r && !r->is_null()) {
    if (!r->is_array()) return jr::error("device.ratings", "must be an array of integers");
    c.ratings.clear();
    for (const auto& v : r->as_array()) {
      if (!v.is_int64() || v.as_int64() < 1 || v.as_int64() > protocol::kMaxScale) {
        return jr::error("device.ratings", "each rating must be an integer in 1..10");
      }
      c.ratings.push_back(static_cast<int>(v.as_int64()));
    }
  }
  if (auto e = read_number(o, "scale", protocol::kMinScale, protocol::kMaxScale, c.scale)) return *e;
  if (auto e = read_number(o, "debounce_ms", 1, 1000, c.debounce_ms)) return *e;
  if (auto e = read_number(o, "lockout_ms", 0, 60000, c.lockout_ms)) return *e;
  if (auto e = read_number(o, "repeat_window_ms", 0, 3600000, c.repeat_window_ms)) return *e;
  if (auto e = read_number(o, "thanks_ms", 0, 10000, c.thanks_ms)) return *e;
  if (auto e = read_number(o, "telemetry_s", 1, 86400, c.telemetry_s)) return *e;
  if (auto e = read_number(o, "outbox_max", 1, 100000000, c.outbox_max)) return *e;
  if (auto e = read_number(o, "keepalive_s", 1, 3600, c.keepalive_s)) return *e;
  if (auto e = read_number(o, "reconnect_max_s", 1, 3600, c.reconnect_max_s)) return *e;
  std::string level;
  if (auto e = jr::read(o, "device", "log_level", level)) return *e;
  if (!level.empty()) {
    auto l = parse_log_level(level);
    if (!l) return jr::error("device.log_level", "\"" + level + "\" is not one of debug, info, warn, error");
    c.log_level = *l;
  }
  return c;
}

protocol::Result<CommandLine> parse_command_line(const std::vector<std::string>& args,
                                                 const std::string& default_boards_dir) {
  CommandLine cl;
  cl.config.boards_dir = default_boards_dir;
  // The file comes first whatever its position, so every flag overrides it.
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::string value;
    bool inline_value = false;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_value = true;
    }
    if (a != "--config") continue;
    if (!inline_value) {
      if (i + 1 >= args.size()) return protocol::Error{"--config", "needs a value"};
      value = args[++i];
    }
    auto text = read_text_file(value);
    if (!text) {
      // The reason matters on a terminal: a file root made 0600 reads as "Permission denied" for the service.
      return protocol::Error{"--config", "cannot read " + value + ": " + std::strerror(errno ? errno : EIO) +
                                             " (it must be readable by the kiosk user: install -m 0640 -o root -g kiosk)"};
    }
    auto parsed = parse_device_file(*text, cl.config);
    if (!parsed) return protocol::Error{parsed.error().field, parsed.error().reason + " (in " + value + ")"};
    cl.config = std::move(*parsed);
  }

  auto& c = cl.config;
  for (std::size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    std::optional<std::string> inline_value;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      inline_value = a.substr(eq + 1);
      a = a.substr(0, eq);
    }
    if (a == "--help" || a == "-h") {
      cl.help = true;
      continue;
    }
    if (a == "--version") {
      cl.version = true;
      continue;
    }
    std::string value;
    if (inline_value) {
      value = *inline_value;
    } else {
      if (i + 1 >= args.size() || a.rfind("--", 0) != 0) {
        if (a.rfind("--", 0) != 0) return protocol::Error{"", "unexpected argument \"" + a + "\" (see --help)"};
        return protocol::Error{a, "needs a value"};
      }
      value = args[++i];
    }
    auto number = [&](auto& out, std::uint64_t hi) -> std::optional<protocol::Error> {
      std::uint64_t n = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (ec != std::errc{} || p != value.data() + value.size() || n > hi) {
        return protocol::Error{a, "\"" + value + "\" is not a number in 0.." + std::to_string(hi)};
      }
      out = static_cast<std::remove_reference_t<decltype(out)>>(n);
      return std::nullopt;
    };
    std::optional<protocol::Error> err;
    if (a == "--config") continue;
    else if (a == "--device") c.device = value;
    else if (a == "--site") c.site = value;
    else if (a == "--broker") c.broker = value;
    else if (a == "--username") c.username = value;
    else if (a == "--password") c.password = value;
    else if (a == "--password-file") {
      auto text = read_text_file(value);
      if (!text) return protocol::Error{a, "cannot read " + value};
      while (!text->empty() && (text->back() == '\n' || text->back() == '\r')) text->pop_back();
      c.password = *text;
    } else if (a == "--ca-file") c.tls_ca = value;
    else if (a == "--cert-file") c.tls_cert = value;
    else if (a == "--key-file") c.tls_key = value;
    else if (a == "--tls-verify-host") {
      const auto on = protocol::parse_switch_word(value);
      if (!on) return protocol::Error{a, "\"" + value + "\" is not one of " + std::string(protocol::kSwitchWords)};
      c.tls_verify_host = *on;
    }
    else if (a == "--board") c.board = value;
    else if (a == "--boards-dir") c.boards_dir = value;
    else if (a == "--data-dir") c.data_dir = value;
    else if (a == "--sim-input") c.sim_input = value;
    else if (a == "--debounce-ms") err = number(c.debounce_ms, 1000000);
    else if (a == "--lockout-ms") err = number(c.lockout_ms, 100000000);
    else if (a == "--repeat-window-ms") err = number(c.repeat_window_ms, 100000000);
    else if (a == "--thanks-ms") err = number(c.thanks_ms, 100000000);
    else if (a == "--telemetry-s") err = number(c.telemetry_s, 100000000);
    else if (a == "--outbox-max") err = number(c.outbox_max, 1000000000000);
    else if (a == "--first-seq") err = number(c.first_seq, 9000000000000000000ull);
    else if (a == "--keepalive-s") err = number(c.keepalive_s, 100000);
    else if (a == "--reconnect-max-s") err = number(c.reconnect_max_s, 100000);
    else if (a == "--log-level") {
      auto l = parse_log_level(value);
      if (!l) return protocol::Error{a, "\"" + value + "\" is not one of debug, info, warn, error"};
      c.log_level = *l;
    } else {
      return protocol::Error{a, "unknown option (see --help)"};
    }
    if (err) return *err;
  }
  if (cl.help || cl.version) return cl;

  for (auto [name, value] : {std::pair{"site", &c.site}, std::pair{"device", &c.device},
                             std::pair{"broker", &c.broker}, std::pair{"board", &c.board}}) {
    if (value->empty()) {
      return protocol::Error{name, std::string("is required: set it in the device file or with --") + name};
    }
  }
  if (auto e = protocol::check_id("site", c.site)) return *e;
  if (auto e = protocol::check_id("device", c.device)) return *e;
  if (auto problem = net::broker_url_problem(c.broker)) return protocol::Error{"broker", *problem};
  // Paho checks the name against "[fd00::5" (it keeps the bracket): an IPv6 address can never match.
  const bool tls = c.broker.rfind("ssl://", 0) == 0 || c.broker.rfind("mqtts://", 0) == 0;
  if (tls && c.tls_verify_host && c.broker.find("://[") != std::string::npos) {
    return protocol::Error{"broker", "\"" + c.broker + "\": the terminal cannot check a certificate against an IPv6 "
                                     "address; dial the broker by name, or set tls.verify_host false"};
  }
  if (auto e = check_ranges(c)) return *e;
  if (c.data_dir.empty()) c.data_dir = "/var/lib/kiosk/" + c.device;
  return cl;
}

protocol::Result<DeviceConfig> resolve_for_board(DeviceConfig c, const Board& board) {
  int buttons = static_cast<int>(board.buttons.size());
  if (c.scale == 0) c.scale = buttons;
  if (c.scale < protocol::kMinScale || c.scale > protocol::kMaxScale) {
    return protocol::Error{"scale", std::to_string(c.scale) + " is outside 2..10 (set \"scale\" for board " +
                                        board.name + ")"};
  }
  if (c.ratings.empty()) {
    for (int i = 1; i <= buttons; ++i) c.ratings.push_back(i);
  }
  if (static_cast<int>(c.ratings.size()) != buttons) {
    return protocol::Error{"ratings", "lists " + std::to_string(c.ratings.size()) + " ratings but board " +
                                          board.name + " has " + std::to_string(buttons) + " buttons"};
  }
  for (int r : c.ratings) {
    if (r < 1 || r > c.scale) {
      return protocol::Error{"ratings", std::to_string(r) + " is outside 1.." + std::to_string(c.scale)};
    }
  }
  return c;
}

std::string usage(const std::string& default_boards_dir) {
  return "Usage: kiosk-firmware [--config FILE] [options]\n"
         "\n"
         "The rating terminal daemon: reads buttons (GPIO or simulated), debounces them, stores each\n"
         "press durably in an outbox and publishes it over MQTT until the hub acknowledges it.\n"
         "Settings come from the device file (--config) and flags override them.\n"
         "\n"
         "Required (file or flag):\n"
         "  --device ID            device id (also the MQTT client id)\n"
         "  --site ID              site id (topic prefix kiosk/v1/<site>)\n"
         "  --broker URL           tcp://host:port or ssl://host:port\n"
         "  --board NAME           board definition <boards-dir>/<NAME>.json\n"
         "Options:\n"
         "  --config FILE          device file (JSON), e.g. written by `kioskctl device add`\n"
         "  --username USER        broker user name\n"
         "  --password SECRET      broker password (prefer --password-file)\n"
         "  --password-file FILE   read the broker password from FILE\n"
         "  --ca-file FILE         CA certificate for TLS\n"
         "  --cert-file FILE       client certificate for TLS\n"
         "  --key-file FILE        client private key for TLS\n"
         "  --tls-verify-host BOOL the broker's certificate must name the broker's host (default true;\n"
         "                         false: the CA alone decides, for an address the certificate lacks)\n"
         "  --boards-dir DIR       board definitions (default: " + default_boards_dir + ")\n"
         "  --data-dir DIR         outbox location (default: /var/lib/kiosk/<device>)\n"
         "  --sim-input PATH       simulated buttons from a FIFO (created if missing), even on a GPIO\n"
         "                         board; lines: press N | down N | up N | bounce N\n"
         "  --debounce-ms N        a level must hold N ms to count (default 30)\n"
         "  --lockout-ms N         ignore presses N ms after an accepted one (default 1500)\n"
         "  --repeat-window-ms N   flag a press \"repeat\" within N ms of the previous one (default 10000)\n"
         "  --thanks-ms N          thank-you light duration (default 800)\n"
         "  --telemetry-s N        telemetry period (default 60)\n"
         "  --outbox-max N         presses kept unacknowledged; when full the oldest are dropped and\n"
         "                         counted (default 100000)\n"
         "  --first-seq N          first seq of a NEW outbox (an existing one keeps its own); default:\n"
         "                         the wall clock in ms when synchronised (NTP), so a re-flashed or\n"
         "                         replaced terminal stays above the seqs the hub knows; else a random\n"
         "                         start clear of the seqs it can have used before\n"
         "  --keepalive-s N        MQTT keepalive; the broker publishes the Will after 1.5x (default 30)\n"
         "  --reconnect-max-s N    cap of the reconnect backoff (default 30); it starts again from 0.5 s\n"
         "                         only once the broker has granted the ack subscription\n"
         "  --log-level LEVEL      debug, info, warn or error (default info)\n"
         "  --help                 this text\n"
         "  --version              print the firmware version\n"
         "\n"
         "Exit codes: 0 clean shutdown (SIGTERM/SIGINT), 1 failed to start or the outbox file was found\n"
         "damaged while running and moved aside (the service manager restarts it on a new outbox; a\n"
         "damaged file that cannot be moved keeps it running, refusing presses), 2 usage error.\n";
}

}  // namespace kiosk::firmware
