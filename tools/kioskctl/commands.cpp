// kioskctl's commands: each one a few hub API calls and a human or JSON rendering of the answer.
#include "commands.hpp"

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <functional>
#include <iomanip>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "device_config.hpp"
#include "hub_client.hpp"
#include "report_table.hpp"
#include "kiosk/net/url.hpp"
#include "kiosk/protocol/ids.hpp"
#include "kiosk/protocol/switch_word.hpp"

namespace kiosk::ctl {
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// A failure with its one-line message; thrown inside a command, printed once by run_command.
struct Failure {
  std::string what;
  std::string todo;
};

// A bad argument found once the command runs (exit 2, like the parser's usage errors).
struct UsageError {
  std::string what;
};

std::string text_of(const json::value& v) {
  if (v.is_string()) return std::string(v.get_string());
  if (v.is_null()) return "-";
  if (v.is_bool()) return v.get_bool() ? "yes" : "no";
  return json::serialize(v);
}

std::string field(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  return v ? text_of(*v) : "-";
}

std::string percent_encode(const std::string& s) {
  std::ostringstream out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out << c;
    } else {
      out << '%' << std::uppercase << std::hex << std::setw(2) << std::setfill('0') << int(c) << std::dec;
    }
  }
  return out.str();
}

class Session {
 public:
  Session(const Invocation& inv, const Settings& settings, std::ostream& out, std::ostream& err)
      : inv_(inv), settings_(settings), out_(out), err_(err), url_(parse_url(settings.hub)), client_(url_, settings.token) {}

  int run() {
    const auto& path = inv_.command->path;
    const auto name = path[0] + (path.size() > 1 ? " " + path[1] : "");
    if (inv_.command->writes && !settings_.token) {
      throw Failure{"'" + name + "' changes the hub and needs its API token",
                    "pass --token-file <hub db dir>/hub.token, set KIOSK_TOKEN_FILE, or add \"token_file\" to the config file"};
    }
    if (name == "status") return status();
    if (name == "device add") return device_add();
    if (name == "device list") return device_list();
    if (name == "device show") return device_show();
    if (name == "device move") return device_move();
    if (name == "device rotate") return device_rotate();
    if (name == "device retire") return device_retire();
    if (name == "device test") return device_test();
    if (name == "location list") return location_list();
    if (name == "location add") return location_add();
    if (name == "location rename") return location_rename();
    if (name == "alerts") return inv_.has("follow") ? alerts_follow() : alerts_list();
    if (name == "alerts ack") return alerts_ack();
    if (name == "report") return report();
    if (name == "manager add") return manager_add();
    if (name == "manager token") return manager_token();
    if (name == "manager remove") return manager_remove();
    if (name == "manager list") return manager_list();
    throw Failure{"'" + name + "' is not implemented", "see kioskctl --help"};
  }

 private:
  static HubUrl parse_url(const std::string& hub) {
    auto url = HubUrl::parse(hub);
    if (!url) throw UsageError{"'" + hub + "' is not a hub URL (use --hub http://HOST:PORT)"};
    return *url;
  }

  const std::string& id() const { return inv_.args.at(0); }

  // Why the hub could not be reached, and where to look.
  Failure unreachable(const HubUnreachable& e) const {
    return Failure{e.what(), "check --hub (" + settings_.hub + ") and that kiosk-hub is running"};
  }

  // One request whatever its HTTP status; only an unreachable hub becomes a Failure.
  HttpReply send(bool post, const std::string& target, const json::object& body = {}) {
    try {
      return post ? client_.post(target, json::serialize(body)) : client_.get(target);
    } catch (const HubUnreachable& e) {
      throw unreachable(e);
    }
  }

  // One API call; HTTP errors and unreachable hubs become Failures with a hint.
  json::value call(bool post, const std::string& target, const json::object& body = {}) {
    return parse_ok(send(post, target, body));
  }

  // The body of a reply the hub accepted; a refusal, or a body that is not `expected`, is a Failure.
  // A 400 is the hub saying an argument is wrong (a bad id, say): a usage error, like the parser's.
  json::value parse_ok(const HttpReply& reply, std::string_view expected = "JSON") const {
    if (reply.status == 400) throw UsageError{"the hub refused: " + hub_error_message(reply)};
    if (reply.status >= 400) throw Failure{"the hub refused: " + hub_error_message(reply), hint_for(reply)};
    json::error_code ec;
    auto v = json::parse(reply.body, ec);
    if (ec) throw not_an_answer(expected);
    return v;
  }

  static Failure not_an_answer(std::string_view expected) {
    return Failure{"the hub answered something that is not " + std::string(expected),
                   "check that --hub points at kiosk-hub"};
  }

  static std::string manager_exists_hint(const std::string& manager) {
    return "the broker has that account already (--force only replaces the file): run 'kioskctl manager remove " +
           manager + "' first, then add it again";
  }

  // What to do about a refusal, in the words of the command that got it.
  std::string hint_for(const HttpReply& reply) const {
    const auto& path = inv_.command->path;
    const auto group = path[0];
    const auto name = group + (path.size() > 1 ? " " + path[1] : "");
    const auto arg = inv_.args.empty() ? std::string("<id>") : inv_.args[0];
    switch (reply.status) {
      case 401:
      case 403:
        if (hub_error_message(reply).find("manager's token") != std::string::npos)
          return "this needs the hub's token (--token-file <hub db dir>/hub.token); a manager's token reads and "
                 "acknowledges alerts as that manager";
        if (group == "alerts" && hub_error_message(reply).find("acknowledges as") != std::string::npos)
          return "leave out --by: a manager's token acknowledges as that manager";
        return "check the API token (the hub's: --token-file <hub db dir>/hub.token; a manager's: its .manager.json, "
               "renewed with kioskctl manager token <id>), or reach the hub by a name it answers to (kiosk-hub "
               "--http-names)";
      case 404:
        if (group == "alerts") return "check the alert id (kioskctl alerts)";
        if (group == "location") return "check the id (kioskctl location list)";
        if (group == "manager") return "check the manager id";
        if (group == "device") return "check the id (kioskctl device list)";
        return "check the id (kioskctl device list, kioskctl location list)";
      case 409:
        if (name == "location add") return "see kioskctl location list; to change its name: kioskctl location rename " + arg + " --name ...";
        if (name == "device add" && hub_error_message(reply).find("is a manager") != std::string::npos)
          return "terminals and managers share the broker's account names";
        if (name == "device add" && hub_error_message(reply).find("is registered") != std::string::npos)
          return "for new credentials: kioskctl device rotate " + arg + "; to provision it anew: kioskctl device retire " + arg + " first";
        // A terminal's id: the hub's message names the way out ("pick another manager id",
        // "use kioskctl device retire"); nothing else to add.
        if (group == "manager" && hub_error_message(reply).find("is a terminal") != std::string::npos)
          return "terminals and managers share the broker's account names";
        if (name == "manager add" && hub_error_message(reply).find("hub's own") != std::string::npos)
          return "the hub's account cannot be a manager's";
        if (name == "manager add" && hub_error_message(reply).find("API token") != std::string::npos)
          return "a lost API token: kioskctl manager token " + arg + "; to start over: kioskctl manager remove " + arg +
                 ", then add it again";
        if (name == "manager add") return manager_exists_hint(arg);
        if (group == "manager") return "that name is not a manager's account; check the id";
        if (group == "alerts" && hub_error_message(reply).find("already acknowledged") != std::string::npos)
          return "the first ack stands: that manager holds the alert (kioskctl alerts)";
        if (group == "alerts") return "see kioskctl alerts --state all";
        return "see kioskctl device show " + arg;
      case 502:
        // The broker's own refusal of a name it already has: --force only covers the output file.
        if (name == "manager add" && hub_error_message(reply).find("exist") != std::string::npos)
          return manager_exists_hint(arg);
        return "check the broker and the hub's --dynsec settings, then retry";
      case 503: return "check the hub's database and broker (kioskctl status), then retry";
      default: return "fix the request (kioskctl <command> --help)";
    }
  }

  void print_json(const json::value& v) { out_ << json::serialize(v) << "\n"; }

  // The hub's /health answer: its HTTP status (503 still carries a report) and its body, null when not JSON.
  struct Health {
    unsigned status = 0;
    json::value body;
  };
  Health health() {
    const auto reply = send(false, "/health");
    json::error_code ec;
    auto v = json::parse(reply.body, ec);
    return {reply.status, ec ? json::value(nullptr) : std::move(v)};
  }

  // The event stream of /api/events until on_event stops it, the deadline passes or the hub closes it.
  HubClient::StreamEnd follow_events(const std::function<void()>& opened,
                                     const std::function<bool(const ServerEvent&)>& on_event,
                                     std::chrono::steady_clock::time_point deadline) {
    try {
      return client_.events("/api/events", opened, on_event, deadline);
    } catch (const HubUnreachable& e) {
      throw unreachable(e);
    } catch (const std::runtime_error& e) {
      throw refused_stream(e);
    }
  }

  static Failure refused_stream(const std::runtime_error& e) {
    return Failure{std::string("the hub refused the event stream: ") + e.what(), "check the API token"};
  }

  int status() {
    const auto [http_status, v] = health();
    if (!v.is_object()) throw Failure{"the hub answered something that is not JSON", "check --hub"};
    if (inv_.globals.json) {
      print_json(v);
    } else {
      out_ << render_status(settings_.hub, v.get_object());
    }
    return http_status == 200 ? 0 : 1;
  }

  // --- devices ---------------------------------------------------------------------------------
  void print_device(const json::object& d) {
    const auto state = field(d, "state");
    const auto queued = field(d, "queued");
    out_ << "device      " << field(d, "id") << "\n"
         << "location    " << field(d, "location") << "\n"
         << "board       " << field(d, "board") << "\n"
         << "firmware    " << field(d, "fw") << "\n"
         << "online      " << (state == "online" ? "yes" : state == "offline" ? "no" : state);
    if (field(d, "flapping") == "yes")
      out_ << " (flapping: " << field(d, "state_changes_1m")
           << " changes in the last minute; two terminals with one device file?)";
    out_ << "\n"
         << "last press  " << field(d, "last_press") << "\n"
         << "last seen   " << field(d, "last_seen") << "\n"
         << "outbox      " << (queued == "-" ? "unknown" : queued + " queued");
    if (const auto dropped = field(d, "dropped"); dropped != "-" && dropped != "0")
      out_ << ", " << dropped << " dropped when it was full (lost)";
    out_ << "\n";
    if (field(d, "retired") == "yes") out_ << "retired     yes (broker credentials removed, history kept)\n";
  }

  int device_list() {
    auto v = call(false, "/api/devices");
    if (inv_.globals.json) return print_json(v), 0;
    if (!v.is_array()) throw Failure{"unexpected answer from the hub", "check the hub version"};
    out_ << std::left << std::setw(20) << "ID" << std::setw(20) << "LOCATION" << std::setw(16) << "BOARD" << std::setw(10)
         << "FW" << std::setw(9) << "STATE" << std::setw(26) << "LAST PRESS" << "QUEUED\n";
    for (const auto& item : v.get_array()) {
      if (!item.is_object()) continue;
      const auto& d = item.get_object();
      auto state = field(d, "retired") == "yes" ? std::string("retired") : field(d, "state");
      out_ << std::left << std::setw(20) << field(d, "id") << std::setw(20) << field(d, "location") << std::setw(16)
           << field(d, "board") << std::setw(10) << field(d, "fw") << std::setw(9) << state << std::setw(26)
           << field(d, "last_press") << field(d, "queued") << "\n";
    }
    return 0;
  }

  int device_show() {
    auto v = call(false, "/api/devices/" + percent_encode(id()));
    if (inv_.globals.json) return print_json(v), 0;
    if (!v.is_object()) throw Failure{"unexpected answer from the hub", "check the hub version"};
    print_device(v.get_object());
    return 0;
  }

  // A location the hub made for this request: a typo would otherwise go unnoticed into every report.
  void note_new_location(const json::value& answer) {
    const auto* created = answer.is_object() ? answer.get_object().if_contains("location_created") : nullptr;
    if (!created || !created->is_bool() || !created->get_bool()) return;
    const auto& location = inv_.options.at("location");
    err_ << "note: " << location << " is a new location (named \"" << location
         << "\" until 'kioskctl location rename " << location
         << " --name ...'); if that is a typo, move the device to the right one\n";
  }

  int device_move() {
    auto v = call(true, "/api/devices/" + percent_encode(id()) + "/move", {{"location", inv_.options.at("location")}});
    if (inv_.globals.json) return print_json(v), 0;
    out_ << "moved " << id() << " to " << inv_.options.at("location") << "\n";
    note_new_location(v);
    return 0;
  }

  int device_retire() {
    auto v = call(true, "/api/devices/" + percent_encode(id()) + "/retire");
    if (inv_.globals.json) return print_json(v), 0;
    out_ << "retired " << id() << ": its broker credentials are removed, its history is kept\n";
    return 0;
  }

  int manager_add() {
    check_broker_flag(true);
    auto file = open_out(id() + ".manager.json");
    const auto site_id = site();
    json::object body{{"id", id()}};
    auto v = call(true, "/api/managers", body);
    const auto* credentials = v.is_object() ? v.get_object().if_contains("credentials") : nullptr;
    const bool has_credentials = credentials && credentials->is_object();
    json::object settings{{"manager", id()},
                          {"site", site_id},
                          {"broker", inv_.option_or("broker", settings_.broker.value_or(default_broker_for(url_.host)))},
                          {"subscribe", "kiosk/v1/" + site_id + "/alert/#"},
                          {"ack_topic", "kiosk/v1/" + site_id + "/alert/<location>/ack"},
                          {"ack_payload", json::object{{"id", "<alert id>"}, {"by", id()}}}};
    // kioskctl reads this file as its config (--config): the manager's own API token reads and
    // acknowledges alerts as this manager, nothing else.
    const auto* api_token = v.is_object() ? v.get_object().if_contains("api_token") : nullptr;
    const bool has_token = api_token && api_token->is_string();
    settings["hub"] = settings_.hub;
    if (has_token) settings["api_token"] = *api_token;
    if (has_credentials) {
      const auto& c = credentials->get_object();
      settings["username"] = c.contains("username") ? c.at("username") : json::value(id());
      settings["password"] = c.contains("password") ? c.at("password") : json::value(nullptr);
      // The broker lets this account connect with this client id only (one phone at a time).
      settings["client_id"] = settings["username"];
    }
    try {
      file.write(json::serialize(settings) + "\n");
    } catch (const std::runtime_error& e) {
      throw Failure{e.what(), "the broker has the account; run 'kioskctl manager remove " + id() + "' and add it again"};
    }
    warn_about_owner(file);
    const auto* note = v.is_object() ? v.get_object().if_contains("note") : nullptr;
    if (note && note->is_string()) err_ << "warning: " << std::string_view(note->get_string()) << "\n";
    // A phone reads 127.0.0.1 or localhost as itself.
    if (!inv_.has("broker") && url_is_loopback(std::string(settings["broker"].as_string())))
      err_ << "warning: the manager's file says broker " << std::string_view(settings["broker"].as_string())
           << ", which a phone reads as itself; pass --broker tcp://<hub's LAN address>:1883\n";
    if (has_token && url_is_loopback(settings_.hub))
      err_ << "warning: the manager's file says hub " << settings_.hub
           << ", which is this machine; for kioskctl elsewhere, set \"hub\" in it to the hub's LAN address\n";
    if (inv_.globals.json) {
      print_json(json::object{{"manager", id()},
                              {"settings", file.path()},
                              {"broker_credentials", has_credentials},
                              {"api_token", has_token}});
      return 0;
    }
    if (file.is_stdout()) return 0;
    out_ << "added manager " << id() << "; settings written to " << file.path() << " (mode " << mode_text(file)
         << ", holds the broker password" << (has_token ? " and the manager's API token" : "")
         << ": hand it to the manager and delete it here)\n";
    if (has_token)
      out_ << "the manager's kioskctl: kioskctl --config " << file.path()
           << " alerts --follow | alerts ack <id> (acknowledges as " << id() << ")\n";
    if (!has_credentials) out_ << "note: the broker has no per-client accounts (hub without --dynsec); no password needed\n";
    return 0;
  }

  // Whether `settings` (an existing file's JSON object) is manager `id`'s own file: no terminal's
  // keys, and its manager, username, client id or example ack names `id` (files made before
  // "manager" was written name it only in the others).
  static bool is_managers_file(const json::object& settings, const std::string& id) {
    if (settings.contains("device")) return false;
    const auto names = [&](const json::value* v) { return v && v->is_string() && v->get_string() == id; };
    const auto* ack = settings.if_contains("ack_payload");
    return names(settings.if_contains("manager")) || names(settings.if_contains("username")) ||
           names(settings.if_contains("client_id")) ||
           (ack && ack->is_object() && names(ack->get_object().if_contains("by")));
  }

  // A new API token for a manager, put into the manager's file (every other key kept) or a new one.
  int manager_token() {
    const auto path = default_out(id() + ".manager.json");
    if (path == "-" && inv_.globals.json)
      throw Failure{"--json and --out - would both write to stdout", "write the token to a file with --out FILE"};
    json::object settings{{"manager", id()}};
    if (path != "-") {
      // Read before the hub is asked: a file that is not this manager's changes nothing.
      const auto existing = read_existing(path);
      if (existing.unreadable)
        throw Failure{"cannot read " + path + ": " + *existing.unreadable, "make it readable or pass --out another path"};
      if (existing.exists) {
        json::error_code ec;
        auto old = json::parse(existing.text, ec);
        if (ec || !old.is_object() || !is_managers_file(old.get_object(), id()))
          throw Failure{path + " is not manager " + id() + "'s settings file (a terminal's or another manager's?)",
                        "pass --out " + id() + "'s .manager.json, or a new path; nothing was changed at the hub"};
        settings = std::move(old.get_object());
        settings["manager"] = id();
      }
    }
    // Made before the hub is asked, too: a path that cannot be written leaves the old token working.
    SecretFile file = [&] {
      try {
        return SecretFile(path, true);
      } catch (const std::runtime_error& e) {
        throw Failure{e.what(), "pass --out a path you may write; nothing was changed at the hub"};
      }
    }();
    auto v = call(true, "/api/managers/" + percent_encode(id()) + "/token");
    const auto* token = v.is_object() ? v.get_object().if_contains("api_token") : nullptr;
    if (!token || !token->is_string()) throw not_an_answer("a manager's API token");
    const auto* replaced = v.get_object().if_contains("replaced");
    const bool had_one = replaced && replaced->is_bool() && replaced->get_bool();
    settings["hub"] = settings_.hub;
    settings["api_token"] = *token;
    try {
      file.write(json::serialize(settings) + "\n");
    } catch (const std::runtime_error& e) {
      throw Failure{e.what(), "the hub made the token, which is now lost: run 'kioskctl manager token " + id() +
                                  " --out <path>' again"};
    }
    warn_about_owner(file);
    if (inv_.globals.json)
      return print_json(json::object{{"manager", id()}, {"settings", file.path()}, {"replaced", had_one}}), 0;
    if (file.is_stdout()) return 0;
    out_ << "new API token for manager " << id() << " in " << file.path() << " (mode " << mode_text(file) << ")"
         << (had_one ? "; the one before no longer works" : "") << "\n";
    return 0;
  }

  int manager_list() {
    auto v = call(false, "/api/managers");
    const auto* list = v.is_object() ? v.get_object().if_contains("accounts") : nullptr;
    if (!list || !list->is_array()) throw not_an_answer("a list of managers");
    if (inv_.globals.json) return print_json(v), 0;
    if (const auto* note = v.get_object().if_contains("note"); note && note->is_string())
      err_ << "note: " << std::string_view(note->get_string()) << "\n";
    if (list->get_array().empty()) {
      out_ << "no managers\n";
      return 0;
    }
    std::size_t id_width = 2;
    for (const auto& m : list->get_array())
      if (m.is_object()) id_width = std::max(id_width, field(m.get_object(), "id").size());
    const auto yes_no = [](const json::object& o, std::string_view key) {
      const auto* b = o.if_contains(key);
      return b && b->is_bool() && b->get_bool() ? "yes" : "no";
    };
    out_ << std::left << std::setw(static_cast<int>(id_width + 2)) << "ID" << "BROKER ACCOUNT  API TOKEN\n";
    for (const auto& m : list->get_array()) {
      if (!m.is_object()) continue;
      const auto& o = m.get_object();
      out_ << std::left << std::setw(static_cast<int>(id_width + 2)) << field(o, "id") << std::setw(16)
           << yes_no(o, "broker_account") << yes_no(o, "api_token") << "\n";
    }
    return 0;
  }

  int manager_remove() {
    auto v = call(true, "/api/managers/" + percent_encode(id()) + "/remove");
    if (inv_.globals.json) return print_json(v), 0;
    out_ << "removed manager " << id() << ": its broker account and API token can no longer read or acknowledge alerts\n";
    return 0;
  }

  std::string default_out(const std::string& fallback) const { return inv_.option_or("out", fallback); }

  SecretFile open_out(bool replace = false) { return open_out(id() + ".json", replace); }
  // --tls-verify-host as given (nullopt when not given); a word that is not a switch is a usage error.
  std::optional<bool> verify_host_flag() const {
    if (!inv_.has("tls-verify-host")) return std::nullopt;
    const auto& word = inv_.options.at("tls-verify-host");
    if (const auto on = protocol::parse_switch_word(word)) return on;
    throw UsageError{"--tls-verify-host is one of " + std::string(protocol::kSwitchWords) + ", not \"" + word + "\""};
  }
  // `replace`: overwrite an existing file even without --force (rotate, over the device's own file).
  SecretFile open_out(const std::string& fallback, bool replace = false) {
    // Checked before the file and the hub: a wrong flag changes nothing.
    (void)verify_host_flag();
    const auto path = default_out(fallback);
    if (path == "-" && inv_.globals.json) {
      throw Failure{"--json and --out - would both write to stdout", "write the config to a file with --out FILE"};
    }
    try {
      return SecretFile(path, replace || inv_.has("force"));
    } catch (const std::runtime_error& e) {
      throw Failure{e.what(), "nothing was changed at the hub"};
    }
  }

  // The device's own config file at the output path (this device, this site), to keep all its
  // settings when only the credentials change; nullopt for anything else. Something there that
  // cannot be read is a Failure, --force or not: whether it is the device's own file is unknown.
  std::optional<DeviceConfigFile> own_config_file(const std::string& site_id) const {
    const auto path = default_out(id() + ".json");
    if (path == "-") return std::nullopt;
    const auto existing = read_existing(path);
    if (existing.unreadable) {
      throw Failure{"cannot read " + path + ": " + *existing.unreadable,
                    "make it readable (it may be " + id() + "'s config file) or pass --out another path; nothing was "
                    "changed at the hub"};
    }
    if (!existing.exists) return std::nullopt;
    auto parsed = parse_device_config(existing.text);
    auto* config = std::get_if<DeviceConfigFile>(&parsed);
    if (config == nullptr || config->device != id() || config->site != site_id) return std::nullopt;
    return std::move(*config);
  }

  std::string site() {
    const auto v = health().body;
    if (v.is_object()) {
      if (const auto* s = v.get_object().if_contains("site"); s && s->is_string()) return std::string(s->get_string());
    }
    throw Failure{"the hub did not say which site it serves", "check that --hub points at kiosk-hub"};
  }

  // The new config: `kept` (the device's previous file, every key of it) or the defaults, with the
  // flags on top and the new credentials.
  DeviceConfigFile config_for(const std::string& site_id, const json::value& credentials, const std::string& board,
                              const std::optional<DeviceConfigFile>& kept = std::nullopt) {
    DeviceConfigFile c;
    if (kept) {
      c = *kept;
      c.username.reset();
      c.password.reset();
    }
    c.site = site_id;
    c.device = id();
    c.broker = inv_.option_or("broker", kept ? kept->broker : settings_.broker.value_or(default_broker_for(url_.host)));
    if (credentials.is_object()) {
      const auto& o = credentials.get_object();
      if (const auto* u = o.if_contains("username"); u && u->is_string()) c.username = std::string(u->get_string());
      if (const auto* p = o.if_contains("password"); p && p->is_string()) c.password = std::string(p->get_string());
    }
    if (inv_.has("ca")) c.tls_ca = inv_.options.at("ca");
    if (inv_.has("cert")) c.tls_cert = inv_.options.at("cert");
    if (inv_.has("key")) c.tls_key = inv_.options.at("key");
    if (const auto on = verify_host_flag()) c.tls_verify_host = *on;
    if (!kept && !board.empty() && board != "-") c.board = board;  // a kept file's board (or none) stays
    if (inv_.has("data-dir")) c.data_dir = inv_.options.at("data-dir");
    return c;
  }

  static std::string mode_text(const SecretFile& file) {
    std::ostringstream text;
    text << std::oct << std::setw(4) << std::setfill('0') << file.mode();
    return text.str();
  }

  // A replaced file whose owner could not be kept: its reader (the daemon's user) may be locked out.
  void warn_about_owner(const SecretFile& file) {
    if (!file.warning().empty()) err_ << "warning: " << file.warning() << "\n";
  }

  // Human or JSON report after a config file was written; never the password.
  void report_config(const std::string& verb, const SecretFile& file, const json::value& device, bool has_credentials) {
    warn_about_owner(file);
    if (inv_.globals.json) {
      json::object o{{"device", device}, {"config", file.path()}, {"broker_credentials", has_credentials}};
      print_json(o);
      return;
    }
    if (file.is_stdout()) return;  // stdout holds the config itself
    out_ << verb << " " << id() << "; config written to " << file.path() << " (mode " << mode_text(file) << ", holds the broker password: copy it to the device and delete it here)\n";
    if (!has_credentials) out_ << "note: the broker has no per-device accounts (hub without --dynsec); the config has no password\n";
  }

  // A terminal reads 127.0.0.1 or localhost as itself: say so unless the broker was asked for.
  void warn_if_loopback(const DeviceConfigFile& config) {
    if (inv_.has("broker") || !url_is_loopback(config.broker)) return;
    err_ << "warning: the device file says broker " << config.broker
         << ", which a terminal reads as itself; pass --broker tcp://<hub's LAN address>:1883 for a real terminal\n";
  }

  // The terminal refuses to start without <boards_dir>/<board>.json: a typo found at the venue
  // costs a visit. Checked against the board files this machine has (the source tree's, or the
  // package's); a warning, as the terminal may carry a board file this machine lacks.
  void check_board(const std::string& board) {
    if (auto e = protocol::check_id("board", board)) throw UsageError{e->message() + " (e.g. --board rpi-zero-2w)"};
    std::vector<std::string> dirs, known;
    for (const auto& dir : {fs::path(KIOSK_BOARDS_DIR), fs::path("/usr/share/kiosk/boards")}) {
      std::error_code ec;
      if (!fs::is_directory(dir, ec)) continue;
      if (fs::exists(dir / (board + ".json"), ec)) return;
      dirs.push_back(dir.string());
      for (const auto& f : fs::directory_iterator(dir, ec))
        if (f.path().extension() == ".json") known.push_back(f.path().stem().string());
    }
    if (dirs.empty()) return;
    std::sort(known.begin(), known.end());
    known.erase(std::unique(known.begin(), known.end()), known.end());
    std::string names;
    for (const auto& k : known) names.append(names.empty() ? "" : ", ").append(k);
    std::string where;
    for (const auto& d : dirs) where.append(where.empty() ? "" : " or ").append(d);
    err_ << "warning: no board \"" << board << "\" in " << where << " (boards: " << names
         << "); the terminal will not start unless its boards folder has " << board << ".json\n";
  }

  // A broker address the terminal would refuse (or dial for ever) is found here, not at the venue.
  // Managers' apps may also dial MQTT over WebSockets (ws://, wss://).
  void check_broker_flag(bool websockets_too = false) {
    if (!inv_.has("broker")) return;
    const auto& broker = inv_.options.at("broker");
    if (websockets_too && (broker.rfind("ws://", 0) == 0 || broker.rfind("wss://", 0) == 0)) {
      std::string why;
      if (!net::parse_url(broker, &why)) throw UsageError{"--broker \"" + broker + "\": " + why};
      return;
    }
    if (auto problem = net::broker_url_problem(broker)) throw UsageError{"--broker " + *problem};
  }

  int device_add() {
    check_broker_flag();
    auto file = open_out();
    const auto site_id = site();
    json::object body{{"id", id()}, {"location", inv_.options.at("location")}};
    if (inv_.has("board")) {
      check_board(inv_.options.at("board"));
      body["board"] = inv_.options.at("board");
    }
    auto v = call(true, "/api/devices", body);
    if (!v.is_object()) throw Failure{"unexpected answer from the hub", "check the hub version"};
    const auto& o = v.get_object();
    const json::value credentials = o.contains("credentials") ? o.at("credentials") : json::value(nullptr);
    const json::value device = o.contains("device") ? o.at("device") : json::value(nullptr);
    const auto config = config_for(site_id, credentials, inv_.option_or("board", ""));
    write_config(file, config);
    report_config("registered", file, device, credentials.is_object());
    if (!inv_.globals.json) note_new_location(v);
    warn_if_loopback(config);
    return 0;
  }

  int device_rotate() {
    check_broker_flag();
    // The site first (a read): it tells whether the file at --out is this device's own config.
    const auto site_id = site();
    const auto kept = own_config_file(site_id);
    // Replacing the device's own file is what rotation is for; anything else needs --force. The
    // file is created (next to the old one, renamed over it) before the hub is asked to rotate.
    const auto path = default_out(id() + ".json");
    std::error_code ec;
    if (!kept && !inv_.has("force") && path != "-" && std::filesystem::exists(std::filesystem::symlink_status(path, ec))) {
      throw Failure{path + " exists and is not " + id() + "'s config file for site " + site_id +
                        "; pass --force to replace it or --out another path",
                    "nothing was changed at the hub"};
    }
    auto file = open_out(kept.has_value());
    // Without the device's file its settings would be the defaults: a terminal on TLS, or dialling
    // the hub's LAN address, would get a file that cannot reach the broker, while its old
    // credentials are already revoked.
    if (!kept && !inv_.has("broker") && !settings_.broker) {
      throw UsageError{"no config file of " + id() + " at " + (path == "-" ? std::string("stdout") : path) +
                       " to keep its settings from (broker, TLS, data_dir): pass --out with the device's current "
                       "file, or give --broker (and --ca/--cert/--key, --data-dir as at device add); nothing was "
                       "changed at the hub"};
    }
    auto device = call(false, "/api/devices/" + percent_encode(id()));
    auto v = call(true, "/api/devices/" + percent_encode(id()) + "/rotate");
    const json::value credentials = v.is_object() && v.get_object().contains("credentials") ? v.get_object().at("credentials") : json::value(nullptr);
    const auto board = device.is_object() ? field(device.get_object(), "board") : std::string();
    const auto config = config_for(site_id, credentials, board, kept);
    write_config(file, config);
    report_config("new credentials for", file, device, credentials.is_object());
    warn_if_loopback(config);
    return 0;
  }

  void write_config(SecretFile& file, const DeviceConfigFile& config) {
    try {
      file.write(to_json(config));
    } catch (const std::runtime_error& e) {
      throw Failure{e.what(), "the hub has the device; run 'kioskctl device rotate " + id() + " --out FILE' for a new config"};
    }
  }

  int device_test() {
    int timeout_s = 120;
    if (inv_.has("timeout")) {
      const auto& t = inv_.options.at("timeout");
      std::size_t used = 0;
      try {
        timeout_s = std::stoi(t, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != t.size() || timeout_s < 1 || timeout_s > 86400) {
        throw UsageError{"--timeout must be a number of seconds in 1..86400, e.g. --timeout 120"};
      }
    }
    auto device = call(false, "/api/devices/" + percent_encode(id()));
    const auto location = device.is_object() ? field(device.get_object(), "location") : std::string("-");
    if (device.is_object() && field(device.get_object(), "retired") == "yes") {
      throw Failure{id() + " is retired", "register it again with kioskctl device add"};
    }
    std::optional<json::object> press;
    const auto end = follow_events(
        [&] {
          if (!inv_.globals.json) {
            out_ << "waiting for a press from " << id() << " at " << location << " (up to " << timeout_s << " s)...\n"
                 << std::flush;
          }
        },
        [&](const ServerEvent& e) {
          if (e.event != "press") return true;
          json::error_code ec;
          auto v = json::parse(e.data, ec);
          if (ec || !v.is_object() || field(v.get_object(), "device") != id()) return true;
          press = v.get_object();
          return false;
        },
        std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s));
    if (!press) {
      if (end == HubClient::StreamEnd::closed) throw Failure{"the hub closed the event stream", "retry; check the hub's log"};
      if (end == HubClient::StreamEnd::silent)
        throw Failure{"no word from the hub for " + std::to_string(HubClient::kStreamSilence.count()) + " s",
                      "check the hub is running and reachable, then retry"};
      throw Failure{"no press from " + id() + " within " + std::to_string(timeout_s) + " s",
                    "check the device's power and network, its config file (site, broker, password), and "
                    "'kioskctl device show " + id() + "'"};
    }
    const bool stored = field(*press, "stored") == "yes";
    const bool acked = field(*press, "acked") == "yes";
    if (inv_.globals.json) {
      print_json(*press);
    } else {
      out_ << "press received: seq " << field(*press, "seq") << " rating " << field(*press, "rating") << " at "
           << field(*press, "location") << "\n"
           << (stored ? "stored\n" : "stored (already, a re-sent press)\n")
           << (acked ? "acknowledged\n" : "NOT acknowledged: the hub could not send the ack\n");
    }
    if (!acked) throw Failure{"the press was stored but not acknowledged", "check the hub's broker link (kioskctl status)"};
    return 0;
  }

  // --- locations -------------------------------------------------------------------------------
  int location_list() {
    auto v = call(false, "/api/locations");
    if (inv_.globals.json) return print_json(v), 0;
    if (!v.is_array()) throw Failure{"unexpected answer from the hub", "check the hub version"};
    // Columns as wide as their longest entry (names are up to 200 characters), two spaces apart.
    std::size_t id_width = 2;
    std::size_t name_width = 4;
    for (const auto& item : v.get_array()) {
      if (!item.is_object()) continue;
      id_width = std::max(id_width, field(item.get_object(), "id").size());
      name_width = std::max(name_width, field(item.get_object(), "name").size());
    }
    const auto width = [](std::size_t w) { return static_cast<int>(w + 2); };
    out_ << std::left << std::setw(width(id_width)) << "ID" << std::setw(width(name_width)) << "NAME" << "DEVICES\n";
    for (const auto& item : v.get_array()) {
      if (!item.is_object()) continue;
      const auto& l = item.get_object();
      out_ << std::left << std::setw(width(id_width)) << field(l, "id") << std::setw(width(name_width)) << field(l, "name")
           << field(l, "devices") << "\n";
    }
    return 0;
  }

  int location_add() {
    json::object body{{"id", id()}};
    if (inv_.has("name")) body["name"] = inv_.options.at("name");
    auto v = call(true, "/api/locations", body);
    if (inv_.globals.json) return print_json(v), 0;
    out_ << "added location " << id() << "\n";
    return 0;
  }

  int location_rename() {
    auto v = call(true, "/api/locations/" + percent_encode(id()) + "/rename", {{"name", inv_.options.at("name")}});
    if (inv_.globals.json) return print_json(v), 0;
    out_ << "renamed " << id() << " to \"" << inv_.options.at("name") << "\"\n";
    return 0;
  }

  // --- alerts ----------------------------------------------------------------------------------
  void print_alert(const json::object& a) {
    out_ << field(a, "id") << "  " << field(a, "state") << "  " << field(a, "severity") << "  " << field(a, "location")
         << "  since " << field(a, "since") << "  " << field(a, "reason");
    if (a.contains("acked_by")) out_ << "  (acked by " << field(a, "acked_by") << ")";
    out_ << "\n";
  }

  int alerts_list() {
    // Active by default: an acknowledged alert is still going on until it resolves.
    const auto state = inv_.option_or("state", "active");
    if (state != "open" && state != "acked" && state != "active" && state != "resolved" && state != "all") {
      throw UsageError{"--state must be open, acked, active, resolved or all, e.g. --state all"};
    }
    auto v = call(false, "/api/alerts?state=" + state);
    if (inv_.globals.json) return print_json(v), 0;
    if (!v.is_array()) throw Failure{"unexpected answer from the hub", "check the hub version"};
    if (v.get_array().empty()) out_ << "no " << (state == "all" ? "" : state + " ") << "alerts\n";
    for (const auto& item : v.get_array()) {
      if (item.is_object()) print_alert(item.get_object());
    }
    return 0;
  }

  int alerts_ack() {
    // Without --by: a manager's own token acks as that manager (the hub's token needs --by).
    json::object body;
    if (inv_.has("by")) body["by"] = inv_.options.at("by");
    auto v = call(true, "/api/alerts/" + percent_encode(id()) + "/ack", body);
    if (inv_.globals.json) return print_json(v), 0;
    if (v.is_object()) {
      print_alert(v.get_object());
      if (const auto* note = v.get_object().if_contains("note"); note && note->is_string())
        err_ << "warning: " << std::string_view(note->get_string()) << "\n";
    }
    return 0;
  }

  // One line of alerts --follow: when and what changed, then the alert ("active" when listed at the start).
  void print_follow_line(const json::object& a, std::string_view change) {
    out_ << field(a, "updated") << "  " << std::left << std::setw(9) << change << std::right << " ";
    print_alert(a);
  }

  // What is active when following starts (or starts again): the changes before it are not replayed.
  void print_active_alerts() {
    auto v = call(false, "/api/alerts?state=active");
    if (!v.is_array()) throw Failure{"unexpected answer from the hub", "check the hub version"};
    if (v.get_array().empty() && !inv_.globals.json) out_ << "no active alerts\n";
    for (auto& item : v.get_array()) {
      if (!item.is_object()) continue;
      if (inv_.globals.json) {
        item.get_object()["change"] = "active";
        print_json(item);
      } else {
        print_follow_line(item.get_object(), "active");
      }
    }
  }

  // Like tail -F: the active alerts, then every change as it comes. A hub that goes away after the
  // first connection (a restart, a network blip) is waited for, and the active alerts listed again.
  int alerts_follow() {
    bool followed = false;
    std::chrono::seconds pause{1};
    const auto on_event = [&](const ServerEvent& e) {
      if (e.event != "alert") return true;
      if (inv_.globals.json) {
        out_ << e.data << "\n" << std::flush;
        return true;
      }
      json::error_code ec;
      auto v = json::parse(e.data, ec);
      if (!ec && v.is_object()) print_follow_line(v.get_object(), field(v.get_object(), "change"));
      out_ << std::flush;
      return true;
    };
    while (true) {
      std::string why;
      try {
        const auto end = client_.events(
            "/api/events",
            [&] {
              if (!inv_.globals.json)
                out_ << (followed ? "following again" : "following alerts") << " at " << settings_.hub
                     << " (Ctrl-C to stop)\n";
              print_active_alerts();
              out_ << std::flush;
              followed = true;
              pause = std::chrono::seconds(1);
            },
            on_event, std::chrono::steady_clock::time_point::max());
        why = end == HubClient::StreamEnd::silent
                  ? "no word from the hub for " + std::to_string(HubClient::kStreamSilence.count()) + " s"
                  : "the hub closed the event stream";
      } catch (const HubUnreachable& e) {
        if (!followed) throw unreachable(e);  // a wrong --hub: say so and stop
        why = e.what();                       // a hub restarting: wait for it
      } catch (const Failure& f) {
        if (!followed) throw;
        why = f.what;  // listing the active alerts failed (a hub still starting): try again
      } catch (const std::runtime_error& e) {
        // Refused (a token that no longer works, a name the hub does not answer to): waiting
        // will not change that.
        throw refused_stream(e);
      }
      err_ << "lost the hub: " << why << "; trying again in " << pause.count() << " s\n" << std::flush;
      std::this_thread::sleep_for(pause);
      pause = std::min(pause * 2, std::chrono::seconds(30));
    }
  }

  // --- report ----------------------------------------------------------------------------------
  int report() {
    // The hub checks dates and times (it knows the venue's UTC offset); what needs no hub is checked here.
    if (inv_.has("days")) {
      const auto& d = inv_.options.at("days");
      std::size_t used = 0;
      long n = 0;
      try {
        n = std::stol(d, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != d.size() || n < 1 || n > 366) throw UsageError{"--days must be a number of days in 1..366"};
      if (inv_.has("from") && inv_.has("to")) throw UsageError{"give at most two of --from, --to and --days"};
    }
    std::string query;
    for (const char* name : {"from", "to", "days", "location"})
      if (inv_.has(name)) query += (query.empty() ? "?" : "&") + std::string(name) + "=" + percent_encode(inv_.options.at(name));
    const auto reply = send(false, "/api/report" + query);
    if (reply.status == 400) throw UsageError{hub_error_message(reply)};
    const auto v = parse_ok(reply, "a report");
    if (!v.is_object()) throw not_an_answer("a report");
    if (inv_.globals.json) return print_json(v), 0;
    out_ << render_report(v.get_object(), inv_.has("daily"));
    return 0;
  }

  const Invocation& inv_;
  const Settings& settings_;
  std::ostream& out_;
  std::ostream& err_;
  HubUrl url_;
  HubClient client_;
};

}  // namespace

std::string render_status(const std::string& hub, const json::object& o) {
  std::ostringstream out;
  out << "hub      " << hub << " (" << field(o, "status") << ")\n"
      << "site     " << field(o, "site") << "\n"
      << "broker   " << field(o, "broker") << "\n";
  if (o.contains("accounts")) out << "accounts " << field(o, "accounts") << "\n";
  if (const auto* refused = o.if_contains("refused_subscriptions"); refused && refused->is_array())
    for (const auto& f : refused->get_array())
      out << "refused  " << text_of(f) << " (the broker will not let the hub read it: check the hub's broker account)\n";
  out << "database " << field(o, "db") << "\n"
      << "version  " << field(o, "version") << "\n";
  return out.str();
}

int run_command(const Invocation& invocation, const Settings& settings, std::ostream& out, std::ostream& err) {
  try {
    return Session(invocation, settings, out, err).run();
  } catch (const Failure& f) {
    err << "kioskctl: " << f.what << "; " << f.todo << "\n";
    return 1;
  } catch (const UsageError& u) {
    std::string path;
    for (const auto& word : invocation.command->path) path += word + " ";
    err << "kioskctl: " << u.what << "; see 'kioskctl " << path << "--help'\n";
    return 2;
  }
}

}  // namespace kiosk::ctl
