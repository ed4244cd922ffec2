// kioskctl's command table and a small, strict parser: unknown options and missing values are usage errors.
#include "cli.hpp"

#include <algorithm>
#include <sstream>

namespace kiosk::ctl {
namespace {

const std::vector<OptionSpec>& global_specs() {
  static const std::vector<OptionSpec> specs{
      {"hub", "URL", "hub API (default http://127.0.0.1:8080, or \"hub\" in the config file)"},
      {"token", "T", "API token for writes (prefer --token-file or KIOSK_TOKEN_FILE: argv is visible to others)"},
      {"token-file", "F", "file holding the API token (the hub writes <db dir>/hub.token; or $KIOSK_TOKEN_FILE)"},
      {"config", "F", "config file (default $KIOSKCTL_CONFIG or ~/.config/kioskctl.json)"},
      {"json", "", "machine-readable output (JSON, no secrets)"},
      {"help", "", "show help"},
  };
  return specs;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : " ") + p;
  return out;
}

}  // namespace

const std::vector<CommandSpec>& commands() {
  static const std::vector<OptionSpec> out_options{
      {"out", "FILE", "where to write the device's config file, '-' for stdout (default ./<id>.json)"},
      {"force", "", "replace an existing config file"},
      {"broker", "URL", "broker URL the device uses (default \"broker\" in the config file, else tcp://<hub host>:1883)"},
      {"ca", "FILE", "TLS: CA certificate path on the device"},
      {"cert", "FILE", "TLS: client certificate path on the device"},
      {"key", "FILE", "TLS: client key path on the device"},
      {"tls-verify-host", "BOOL",
       "TLS: false lets the device accept a broker certificate that does not name the broker's host (default true)"},
      {"data-dir", "DIR", "data folder on the device"},
  };
  auto with = [&](std::vector<OptionSpec> own) {
    own.insert(own.end(), out_options.begin(), out_options.end());
    return own;
  };
  static const std::vector<CommandSpec> table{
      {{"status"}, {}, {}, {}, "show the hub's health (site, broker link, database)", "", false},
      {{"device", "add"},
       {"id"},
       with({{"location", "LOC", "where the terminal is placed (created if new)"},
             {"board", "NAME", "board definition of the terminal"}}),
       {"location"},
       "register a device, create its broker credentials and write its config file",
       "The config file holds the device's broker password: it is created with mode 0600\n"
       "and the password is shown nowhere else. Copy it to the device (e.g. /etc/kiosk/device.json).\n"
       "Without --broker the device dials the hub's host (tcp://127.0.0.1:1883 with the default hub),\n"
       "right for a demo on this machine: a real terminal needs --broker tcp://<hub's LAN address>:1883.",
       true},
      {{"device", "list"}, {}, {}, {}, "list devices", "", false},
      {{"device", "show"}, {"id"}, {}, {}, "show one device: location, board, firmware, online, last press, last seen, outbox", "", false},
      {{"device", "move"}, {"id"}, {{"location", "LOC", "the new location (created if new)"}}, {"location"}, "move a device to another location", "", true},
      {{"device", "rotate"},
       {"id"},
       out_options,
       {},
       "give a device new broker credentials (the old ones stop working) and write its new config file",
       "When --out (default ./<id>.json) is this device's own config file, it is replaced atomically\n"
       "without --force, keeping its owner, mode and every setting (broker, TLS, board, data_dir,\n"
       "ratings, scale, timings, log_level, ...) unless a flag says otherwise: only the credentials\n"
       "change. Any other existing file needs --force (its owner and mode are kept too; a new file is\n"
       "0600). A file that cannot be read is an error. The file is prepared before the hub is asked,\n"
       "so a wrong --out changes nothing at the hub.",
       true},
      {{"device", "retire"}, {"id"}, {}, {}, "retire a device: its broker credentials are removed, its history is kept", "", true},
      {{"device", "test"},
       {"id"},
       {{"timeout", "S", "seconds to wait for a press (default 120)"}},
       {},
       "wait for a press from the device and show it end to end (received, stored, acknowledged)",
       "Press any button on the terminal after the 'waiting' line appears.",
       false},
      {{"location", "list"}, {}, {}, {}, "list locations", "", false},
      {{"location", "add"}, {"id"}, {{"name", "NAME", "display name (default: the id)"}}, {}, "add a location", "", true},
      {{"location", "rename"}, {"id"}, {{"name", "NAME", "the new display name"}}, {"name"}, "rename a location", "", true},
      {{"alerts"},
       {},
       {{"state", "S", "open, acked, active (open or acked), resolved or all (default active)"},
        {"follow", "", "the active alerts, then every change as it happens, until interrupted (waits for a hub that restarts)"}},
       {},
       "list alerts, or follow them live",
       "",
       false},
      {{"alerts", "ack"},
       {"id"},
       {{"by", "MANAGER", "who acknowledges: a manager id (a-z, 0-9 and -), e.g. alice; needed with the hub's token"}},
       {},
       "acknowledge an alert",
       "With a manager's own token (kioskctl --config <id>.manager.json) the ack is that manager's,\n"
       "and --by may only name that manager. With the hub's token, --by names who acknowledges.",
       true},
      {{"report"},
       {},
       {{"from", "D", "start: a date YYYY-MM-DD (venue time) or an RFC 3339 time"},
        {"to", "D", "end: a date (that whole day included) or an RFC 3339 time (default now)"},
        {"days", "N", "the N days ending with --to, today so far included (default 7)"},
        {"location", "LOC", "only this location"},
        {"daily", "", "add a line per location and day"}},
       {},
       "the manager's report: presses, bad share, score, alerts and worst hours per location",
       "Bad presses are the lower half of the scale (rating <= scale / 2, or the detector's\n"
       "bad_max_rating); the score is the average rating on 0..100 (0 all worst, 100 all best),\n"
       "comparable across terminals with different scales. Repeat presses (the same guest again)\n"
       "are not counted. Presses of \"call a manager\" buttons (the alert settings' call_manager) are\n"
       "not ratings: they are counted apart, as calls for a manager. Worst hours: the hours of day\n"
       "with the highest bad share, among those with at least 20 presses. Times are the venue's\n"
       "(the hub's alert settings: time_zone, with daylight saving time, or utc_offset_min) or UTC.\n"
       "Give at most two of --from, --to and --days.",
       false},
      {{"manager", "add"},
       {"id"},
       {{"out", "FILE", "where to write the manager's broker settings, '-' for stdout (default ./<id>.manager.json)"},
        {"force", "", "replace an existing file"},
        {"broker", "URL", "broker URL the manager's app uses (default \"broker\" in the config file, else tcp://<hub host>:1883)"}},
       {},
       "give a manager's phone or pager a broker account that can read alerts and acknowledge them",
       "The file holds the account's password (mode 0600) and the topics to use; the password is\n"
       "shown nowhere else. The account can subscribe to kiosk/v1/<site>/alert/# and publish\n"
       "acknowledgements to kiosk/v1/<site>/alert/<location>/ack, nothing else. The file also holds\n"
       "the manager's own API token and the hub's URL: 'kioskctl --config <file>' reads alerts and\n"
       "acknowledges them as this manager (the hub records the ack under this manager's id).",
       true},
      {{"manager", "token"},
       {"id"},
       {{"out", "FILE", "the manager's file to put the token in, '-' for stdout (default ./<id>.manager.json)"}},
       {},
       "give a manager a new API token (the one before stops working)",
       "For a lost token, or a manager added before API tokens. An existing file keeps every other\n"
       "setting; only \"api_token\" and \"hub\" change. The token reads and acknowledges alerts as\n"
       "this manager: kioskctl --config <file> alerts ack <id>.",
       true},
      {{"manager", "remove"}, {"id"}, {}, {}, "remove a manager's broker account and API token (connected sessions are closed)", "", true},
      {{"manager", "list"}, {}, {}, {}, "list the managers: broker accounts and API tokens (who can read and acknowledge alerts)", "", false},
  };
  return table;
}

Invocation parse_command_line(const std::vector<std::string>& argv) {
  Invocation inv;
  bool help = false;
  std::vector<std::string> words;  // command words and positionals, in order
  std::vector<std::pair<std::string, std::optional<std::string>>> raw;  // command options seen

  auto usage = [&](std::string message) {
    inv.kind = Invocation::Kind::usage_error;
    inv.text = std::move(message);
    return inv;
  };

  for (std::size_t i = 0; i < argv.size(); ++i) {
    const auto& a = argv[i];
    if (a == "--version") {
      inv.kind = Invocation::Kind::version;
      return inv;
    }
    if (a == "-h" || a == "--help") {
      help = true;
      continue;
    }
    if (a == "--") {
      for (++i; i < argv.size(); ++i) words.push_back(argv[i]);
      break;
    }
    if (a.rfind("--", 0) != 0 || a.size() == 2) {
      if (a.size() > 1 && a[0] == '-' && a != "-") return usage("unknown option '" + a + "'");
      words.push_back(a);
      continue;
    }
    std::string name = a.substr(2);
    std::optional<std::string> value;
    if (auto eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
    }
    if (name == "json") {
      if (value) return usage("--json takes no value");
      inv.globals.json = true;
      continue;
    }
    if (name == "hub" || name == "token" || name == "token-file" || name == "config") {
      if (!value) {
        if (i + 1 >= argv.size()) return usage("--" + name + " needs a value");
        value = argv[++i];
      }
      if (value->empty()) return usage("--" + name + " needs a non-empty value");
      if (name == "hub") inv.globals.hub = value;
      if (name == "token") inv.globals.token = value;
      if (name == "token-file") inv.globals.token_file = value;
      if (name == "config") inv.globals.config = value;
      continue;
    }
    // A command option; whether it takes a value is known once the command is, so peek by name.
    bool takes_value = false;
    bool known = false;
    for (const auto& c : commands()) {
      for (const auto& o : c.options) {
        if (o.name == name) {
          known = true;
          takes_value = !o.value_name.empty();
        }
      }
    }
    if (!known) return usage("unknown option '--" + name + "'");
    if (takes_value && !value) {
      if (i + 1 >= argv.size()) return usage("--" + name + " needs a value");
      value = argv[++i];
    }
    if (!takes_value && value) return usage("--" + name + " takes no value");
    raw.emplace_back(name, value);
  }

  // The longest command path that prefixes the words.
  const CommandSpec* best = nullptr;
  for (const auto& c : commands()) {
    if (c.path.size() <= words.size() && std::equal(c.path.begin(), c.path.end(), words.begin())) {
      if (!best || c.path.size() > best->path.size()) best = &c;
    }
  }
  if (!best) {
    if (words.empty()) {
      if (help) {
        inv.kind = Invocation::Kind::help;
        inv.text = top_help();
        return inv;
      }
      return usage("a command is needed");
    }
    // "device" alone, or "device frobnicate": help for the group if asked, else a usage error.
    bool group = std::any_of(commands().begin(), commands().end(), [&](const CommandSpec& c) { return c.path[0] == words[0]; });
    if (group && (help || words.size() == 1)) {
      if (help) {
        inv.kind = Invocation::Kind::help;
        inv.text = top_help();
        return inv;
      }
      return usage("'" + words[0] + "' needs a subcommand");
    }
    return usage("unknown command '" + joined(words) + "'");
  }
  inv.command = best;
  if (help) {
    inv.kind = Invocation::Kind::help;
    inv.text = command_help(*best);
    return inv;
  }
  std::vector<std::string> positionals(words.begin() + static_cast<std::ptrdiff_t>(best->path.size()), words.end());
  if (positionals.size() > best->positionals.size()) {
    // "alerts foo": a group command with a wrong subcommand is not an extra argument.
    if (best->positionals.empty()) return usage("unknown command '" + joined(words) + "'");
    return usage("'" + joined(best->path) + "' takes " + std::to_string(best->positionals.size()) +
                 " argument(s), got '" + joined(positionals) + "'");
  }
  if (positionals.size() < best->positionals.size()) {
    return usage("'" + joined(best->path) + "' needs <" + best->positionals[positionals.size()] + ">");
  }
  for (const auto& [name, value] : raw) {
    bool allowed = std::any_of(best->options.begin(), best->options.end(), [&](const OptionSpec& o) { return o.name == name; });
    if (!allowed) return usage("'" + joined(best->path) + "' has no option --" + name);
    if (inv.options.count(name)) return usage("--" + name + " given twice");
    inv.options[name] = value.value_or("");
  }
  for (const auto& r : best->required) {
    if (!inv.options.count(r)) return usage("'" + joined(best->path) + "' needs --" + r);
  }
  inv.args = std::move(positionals);
  inv.kind = Invocation::Kind::run;
  return inv;
}

std::string top_help() {
  std::ostringstream out;
  out << "Usage: kioskctl [global options] <command> [arguments] [options]\n\n"
         "Provision, place, move, test, rotate and retire kiosk terminals, follow alerts and\n"
         "report on a period, through the venue hub's HTTP API.\n\nCommands:\n";
  for (const auto& c : commands()) {
    std::string usage = joined(c.path);
    for (const auto& p : c.positionals) usage += " <" + p + ">";
    out << "  " << usage << std::string(usage.size() < 24 ? 24 - usage.size() : 1, ' ') << c.summary << "\n";
  }
  out << "\nGlobal options:\n";
  for (const auto& o : global_specs()) {
    std::string name = "--" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    out << "  " << name << std::string(name.size() < 20 ? 20 - name.size() : 1, ' ') << o.help << "\n";
  }
  out << "  --version           show the version\n"
         "\nThe token is taken from --token, --token-file, $KIOSK_TOKEN_FILE (a file), $KIOSK_TOKEN,\n"
         "then \"token_file\" or \"api_token\" in the config file ({\"hub\": URL, \"token_file\": F, \"broker\": URL});\n"
         "a config file named with --config comes before the environment.\n"
         "A manager's file from 'manager add' is a config file: kioskctl --config alice.manager.json alerts.\n"
         "Exit codes: 0 ok, 1 failed, 2 usage. 'kioskctl <command> --help' for details.\n";
  return out.str();
}

std::string command_help(const CommandSpec& c) {
  std::ostringstream out;
  std::string usage = joined(c.path);
  for (const auto& p : c.positionals) usage += " <" + p + ">";
  for (const auto& o : c.options) {
    bool required = std::find(c.required.begin(), c.required.end(), o.name) != c.required.end();
    std::string spelled = "--" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
    usage += required ? " " + spelled : " [" + spelled + "]";
  }
  out << "Usage: kioskctl " << usage << "\n\n" << c.summary << ".\n";
  if (!c.details.empty()) out << "\n" << c.details << "\n";
  if (!c.options.empty()) {
    out << "\nOptions:\n";
    for (const auto& o : c.options) {
      std::string name = "--" + o.name + (o.value_name.empty() ? "" : " " + o.value_name);
      out << "  " << name << std::string(name.size() < 20 ? 20 - name.size() : 1, ' ') << o.help << "\n";
    }
  }
  out << "\nGlobal options: --hub URL, --token T, --token-file F, --config F, --json (see kioskctl --help).\n";
  if (c.writes) out << "This command changes the hub: it needs the API token.\n";
  return out.str();
}

}  // namespace kiosk::ctl
