// Hub settings table: one row per setting drives flags, the config file keys and --help.
#include "kiosk/hub/hub_config.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <stdexcept>

#include "kiosk/protocol/ids.hpp"
#include "kiosk/protocol/switch_word.hpp"

namespace kiosk::hub {
namespace {

struct Setting {
  const char* name;         // flag without "--", and config-file key
  const char* value_name;   // "" for a switch
  const char* default_text;
  const char* description;
  std::function<void(HubConfig&, const std::string&)> apply;
};

std::string read_text_file(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::invalid_argument(std::string("cannot read ") + what + " " + path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::uint64_t to_number(const std::string& name, const std::string& v, std::uint64_t lo, std::uint64_t hi) {
  std::size_t used = 0;
  unsigned long long n = 0;
  try {
    n = std::stoull(v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v.size() || n < lo || n > hi)
    throw std::invalid_argument("--" + name + ": \"" + v + "\" is not a number in " + std::to_string(lo) + ".." +
                                std::to_string(hi));
  return n;
}

bool to_bool(const std::string& name, const std::string& v) {
  if (const auto on = protocol::parse_switch_word(v)) return *on;
  throw std::invalid_argument("--" + name + ": \"" + v + "\" is not one of " + std::string(protocol::kSwitchWords));
}

// "hub.local,reception-pc": DNS names of letters, digits, '-' and '.'.
std::vector<std::string> host_names(const std::string& name, const std::string& v) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= v.size()) {
    const auto end = std::min(v.find(',', start), v.size());
    auto n = v.substr(start, end - start);
    if (n.size() > 1 && n.back() == '.') n.pop_back();  // "hub.lan." is "hub.lan"
    if (n.empty() || n.size() > 253 || n.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.") != std::string::npos)
      throw std::invalid_argument("--" + name + ": \"" + n + "\" is not a host name (letters, digits, '-' and '.', comma-separated)");
    out.push_back(n);
    start = end + 1;
  }
  return out;
}

void set_http(HubConfig& c, const std::string& v) {
  auto colon = v.rfind(':');
  if (colon == std::string::npos || colon == 0)
    throw std::invalid_argument("--http: \"" + v + "\" is not HOST:PORT (e.g. 127.0.0.1:8080)");
  c.http_host = v.substr(0, colon);
  c.http_port = static_cast<std::uint16_t>(to_number("http", v.substr(colon + 1), 0, 65535));
}

const std::vector<Setting>& settings() {
  static const std::vector<Setting> table = {
      {"broker", "URL", "tcp://127.0.0.1:1883", "MQTT broker (tcp:// or ssl://)",
       [](HubConfig& c, const std::string& v) { c.broker_url = v; }},
      {"site", "ID", "(required)", "site identifier; topics are kiosk/v1/<site>/...",
       [](HubConfig& c, const std::string& v) {
         if (auto e = protocol::check_id("site", v)) throw std::invalid_argument("--site: " + e->message());
         c.site = v;
       }},
      {"db", "FILE", "kiosk-hub.db", "SQLite database (WAL mode), created if missing",
       [](HubConfig& c, const std::string& v) { c.db_path = v; }},
      {"http", "HOST:PORT", "127.0.0.1:8080", "HTTP API, dashboard and /metrics; port 0 picks a free one",
       set_http},
      {"username", "U", "(none)", "broker username", [](HubConfig& c, const std::string& v) { c.username = v; }},
      {"password", "P", "(none)", "broker password (prefer --password-file)",
       [](HubConfig& c, const std::string& v) { c.password = v; }},
      {"password-file", "F", "(none)", "file holding the broker password (first line)",
       [](HubConfig& c, const std::string& v) { c.password_file = v; }},
      {"ca-file", "F", "(none)", "CA certificate for an ssl:// broker",
       [](HubConfig& c, const std::string& v) { c.ca_file = v; }},
      {"cert-file", "F", "(none)", "client certificate for an ssl:// broker",
       [](HubConfig& c, const std::string& v) { c.cert_file = v; }},
      {"key-file", "F", "(none)", "client private key for an ssl:// broker",
       [](HubConfig& c, const std::string& v) { c.key_file = v; }},
      {"tls-verify-host", "BOOL", "true",
       "an ssl:// broker's certificate must name the host in --broker (kiosk-pki's do); false: the CA alone decides",
       [](HubConfig& c, const std::string& v) { c.tls_verify_host = to_bool("tls-verify-host", v); }},
      {"token-file", "F", "<db dir>/hub.token",
       "API bearer token for writes; created (mode 0600) on first start",
       [](HubConfig& c, const std::string& v) { c.token_file = v; }},
      {"dynsec", "", "off", "manage device/manager broker accounts via mosquitto dynamic-security",
       [](HubConfig& c, const std::string& v) { c.dynsec = v.empty() ? true : to_bool("dynsec", v); }},
      {"client-id", "ID", "kiosk-hub-<site>", "MQTT client id (persistent session)",
       [](HubConfig& c, const std::string& v) { c.client_id = v; }},
      {"log-level", "L", "info", "debug, info, warn or error",
       [](HubConfig& c, const std::string& v) {
         if (v != "debug" && v != "info" && v != "warn" && v != "error")
           throw std::invalid_argument("--log-level: \"" + v + "\" is not debug, info, warn or error");
         c.log_level = v;
       }},
      {"port-file", "F", "(none)", "write the bound HTTP port to F once listening",
       [](HubConfig& c, const std::string& v) { c.port_file = v; }},
      {"batch-max", "N", "512", "presses per group commit at most",
       [](HubConfig& c, const std::string& v) { c.batch_max = to_number("batch-max", v, 1, 100000); }},
      {"batch-window-us", "US", "2000", "microseconds a batch waits for more presses before its commit",
       [](HubConfig& c, const std::string& v) {
         c.batch_window_us = static_cast<std::uint32_t>(to_number("batch-window-us", v, 0, 1'000'000));
       }},
      {"open-reads", "BOOL", "true",
       "GET requests need no token (the API listens on loopback by default); false: every request needs it",
       [](HubConfig& c, const std::string& v) { c.open_reads = to_bool("open-reads", v); }},
      {"http-names", "NAME,...", "(host name, host name.local)",
       "names a browser reaches the hub by, for reads without a token (IP addresses and localhost always work)",
       [](HubConfig& c, const std::string& v) { c.http_names = host_names("http-names", v); }},
      {"ack-qos", "0|1", "1",
       "QoS of acks to devices; 0 is faster and still safe (an unacked press is re-sent and acked again)",
       [](HubConfig& c, const std::string& v) { c.ack_qos = static_cast<int>(to_number("ack-qos", v, 0, 1)); }},
      {"alerts", "FILE", "(none)",
       "alert settings (JSON: detectors per location, contacts, duty hours, escalation); none: built-in detector defaults, alerts on MQTT, SSE and HTTP only",
       [](HubConfig& c, const std::string& v) { c.alerts_file = v; }},
      {"register-devices", "PREFIX:N[:LOC]", "(none)",
       "register devices PREFIX-0..PREFIX-(N-1) at location LOC (default \"bench\") on start",
       [](HubConfig& c, const std::string& v) { c.register_devices = v; }},
  };
  return table;
}

const Setting* find_setting(const std::string& name) {
  for (const auto& s : settings())
    if (name == s.name) return &s;
  return nullptr;
}

}  // namespace

std::string HubConfig::effective_token_file() const {
  if (!token_file.empty()) return token_file;
  auto dir = std::filesystem::path(db_path).parent_path();
  return (dir / "hub.token").string();
}

void apply_config_json(HubConfig& config, const std::string& json_text) {
  boost::system::error_code ec;
  auto value = boost::json::parse(json_text, ec);
  if (ec) throw std::invalid_argument("config: not JSON (" + ec.message() + ")");
  if (!value.is_object()) throw std::invalid_argument("config: must be a JSON object");
  for (const auto& [key, v] : value.as_object()) {
    const Setting* s = find_setting(std::string(key));
    if (!s || std::string(s->name) == "config")
      throw std::invalid_argument("config: unknown setting \"" + std::string(key) + "\"");
    std::string text;
    if (v.is_string()) text = std::string(v.as_string());
    else if (v.is_bool()) text = v.as_bool() ? "true" : "false";
    else if (v.is_int64() || v.is_uint64()) text = boost::json::serialize(v);
    else throw std::invalid_argument("config: \"" + std::string(key) + "\" must be a string, number or boolean");
    s->apply(config, text);
  }
}

CommandLine parse_command_line(const std::vector<std::string>& args) {
  CommandLine out;
  try {
    // Pass 1: the config file (flags override it wherever they appear).
    for (std::size_t i = 0; i < args.size(); ++i) {
      if (args[i] == "--help" || args[i] == "-h") return CommandLine{CommandLine::Kind::help, {}, {}};
      if (args[i] == "--version") return CommandLine{CommandLine::Kind::version, {}, {}};
      if (args[i] == "--config") {
        if (i + 1 >= args.size()) throw std::invalid_argument("--config needs a FILE");
        apply_config_json(out.config, read_text_file(args[i + 1], "config file"));
      } else if (args[i].rfind("--config=", 0) == 0) {
        apply_config_json(out.config, read_text_file(args[i].substr(9), "config file"));
      }
    }
    for (std::size_t i = 0; i < args.size(); ++i) {
      std::string arg = args[i];
      if (arg.rfind("--", 0) != 0) throw std::invalid_argument("unexpected argument \"" + arg + "\"");
      std::string name = arg.substr(2), value;
      bool has_value = false;
      if (auto eq = name.find('='); eq != std::string::npos) {
        value = name.substr(eq + 1);
        name = name.substr(0, eq);
        has_value = true;
      }
      if (name == "config") {
        if (!has_value) ++i;
        continue;
      }
      const Setting* s = find_setting(name);
      if (!s) throw std::invalid_argument("unknown option --" + name);
      if (!has_value && *s->value_name) {
        if (i + 1 >= args.size()) throw std::invalid_argument("--" + name + " needs a value (" + s->value_name + ")");
        value = args[++i];
      }
      s->apply(out.config, value);
    }
    if (!out.config.password_file.empty()) {
      auto text = read_text_file(out.config.password_file, "password file");
      out.config.password = text.substr(0, text.find_first_of("\r\n"));
    }
    if (out.config.site.empty()) throw std::invalid_argument("--site is required (e.g. --site hotel-1)");
  } catch (const std::invalid_argument& e) {
    return CommandLine{CommandLine::Kind::usage_error, {}, e.what()};
  }
  return out;
}

std::string help_text() {
  std::ostringstream os;
  os << "kiosk-hub: the venue hub. Ingests presses from kiosk terminals over MQTT, stores each exactly once,\n"
        "acknowledges them after a durable commit, and serves an HTTP API, a live dashboard and /metrics.\n\n"
        "usage: kiosk-hub --broker URL --site ID --db FILE --http HOST:PORT [options]\n\n"
        "  --config FILE                 JSON object of settings (keys are the option names below);\n"
        "                                options on the command line override it\n";
  for (const auto& s : settings()) {
    std::string left = std::string("--") + s.name + (*s.value_name ? std::string(" ") + s.value_name : "");
    os << "  " << left << std::string(left.size() < 30 ? 30 - left.size() : 1, ' ') << s.description
       << " [default: " << s.default_text << "]\n";
  }
  os << "  --help                        this text\n"
        "  --version                     print the version\n\n"
        "HTTP API: reads (GET) are open by default, because the API listens on the loopback unless --http says\n"
        "otherwise, to requests sent to the hub's IP address, localhost or a name of --http-names; writes need\n"
        "'Authorization: Bearer <token>' with the token from --token-file.\n"
        "Exit codes: 0 clean shutdown (SIGINT/SIGTERM), 1 failure, 2 usage error or a mistake in the --alerts file.\n";
  return os.str();
}

}  // namespace kiosk::hub
