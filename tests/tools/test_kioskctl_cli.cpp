// kioskctl's pure parts: command-line parsing and usage errors, settings resolution, the
// event-stream parser, hub URLs, the device config file (content, reading it back and 0600 mode),
// the status lines and the exit codes of arguments found wrong before any request; and the
// event-stream client against a loopback server that goes quiet.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <thread>
#include <map>
#include <set>
#include <sstream>

#include <boost/json.hpp>

#include "cli.hpp"
#include "commands.hpp"
#include "device_config.hpp"
#include "hub_client.hpp"
#include "kiosk_test.hpp"
#include "settings.hpp"

using namespace kiosk::ctl;
using Kind = Invocation::Kind;
using namespace std::chrono_literals;

namespace {
Invocation parse(std::vector<std::string> argv) { return parse_command_line(argv); }

std::string command_of(const Invocation& inv) {
  std::string out;
  for (const auto& w : inv.command->path) out += (out.empty() ? "" : " ") + w;
  return out;
}

ReadFile files(std::map<std::string, std::string> contents) {
  return [contents](const std::string& path) -> std::optional<std::string> {
    auto it = contents.find(path);
    if (it == contents.end()) return std::nullopt;
    return it->second;
  };
}

Settings settings_of(const std::variant<Settings, std::string>& v) {
  if (const auto* e = std::get_if<std::string>(&v)) FAIL("unexpected error: " << *e);
  return std::get<Settings>(v);
}
}  // namespace

TEST_CASE("device add takes an id, a required location and options in any order") {
  auto inv = parse({"--hub", "http://h:1", "device", "add", "desk-1", "--board", "rpi", "--location=front", "--json"});
  REQUIRE(inv.kind == Kind::run);
  CHECK(command_of(inv) == "device add");
  CHECK(inv.args == std::vector<std::string>{"desk-1"});
  CHECK(inv.options.at("location") == "front");
  CHECK(inv.options.at("board") == "rpi");
  CHECK(inv.globals.hub == "http://h:1");
  CHECK(inv.globals.json);
  CHECK_FALSE(inv.has("force"));
}

TEST_CASE("usage errors say what is wrong") {
  struct Case {
    std::vector<std::string> argv;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {{}, "a command is needed"},
           {{"frobnicate"}, "unknown command 'frobnicate'"},
           {{"device"}, "'device' needs a subcommand"},
           {{"device", "fly"}, "unknown command 'device fly'"},
           {{"device", "add"}, "needs <id>"},
           {{"device", "add", "d1"}, "'device add' needs --location"},
           {{"device", "add", "d1", "--location"}, "--location needs a value"},
           {{"device", "list", "extra"}, "unknown command 'device list extra'"},
           {{"device", "show", "a", "b"}, "takes 1 argument"},
           {{"device", "list", "--location", "x"}, "'device list' has no option --location"},
           {{"device", "list", "--nope"}, "unknown option '--nope'"},
           {{"device", "list", "-x"}, "unknown option '-x'"},
           {{"device", "add", "d", "--location", "a", "--location", "b"}, "--location given twice"},
           {{"device", "add", "d", "--location", "a", "--force=yes"}, "--force takes no value"},
           {{"device", "list", "--json=1"}, "--json takes no value"},
           {{"device", "list", "--hub"}, "--hub needs a value"},
           {{"alerts", "ack"}, "'alerts ack' needs"},
           {{"alerts", "nope"}, "unknown command 'alerts nope'"},
       }) {
    auto inv = parse(c.argv);
    INFO(c.message);
    CHECK(inv.kind == Kind::usage_error);
    CHECK_THAT(inv.text, Catch::Contains(c.message));
  }
}

TEST_CASE("--help works on every command and --version anywhere") {
  auto top = parse({"--help"});
  CHECK(top.kind == Kind::help);
  CHECK_THAT(top.text, Catch::Contains("device add <id>") && Catch::Contains("Exit codes"));
  for (const auto& c : commands()) {
    auto argv = c.path;
    argv.push_back("--help");
    auto inv = parse(argv);
    INFO(argv[0]);
    REQUIRE(inv.kind == Kind::help);
    CHECK_THAT(inv.text, Catch::StartsWith("Usage: kioskctl " + c.path[0]));
    for (const auto& o : c.options) CHECK_THAT(inv.text, Catch::Contains("--" + o.name));
  }
  CHECK(parse({"device", "add", "-h"}).kind == Kind::help);
  CHECK(parse({"device", "--help"}).kind == Kind::help);
  CHECK(parse({"device", "list", "--version"}).kind == Kind::version);
}

TEST_CASE("alerts lists by default, follows with --follow, and alerts ack is its own command") {
  auto list = parse({"alerts", "--state", "all"});
  REQUIRE(list.kind == Kind::run);
  CHECK(command_of(list) == "alerts");
  CHECK(list.options.at("state") == "all");
  auto follow = parse({"alerts", "--follow", "--json"});
  REQUIRE(follow.kind == Kind::run);
  CHECK(follow.has("follow"));
  auto ack = parse({"alerts", "ack", "a-000017", "--by", "alice"});
  REQUIRE(ack.kind == Kind::run);
  CHECK(command_of(ack) == "alerts ack");
  CHECK(ack.args == std::vector<std::string>{"a-000017"});
}

TEST_CASE("write commands are marked as needing the token, reads are not") {
  for (const auto& c : commands()) {
    const bool read = c.path.back() == "list" || c.path.back() == "show" || c.path.back() == "test" ||
                      c.path == std::vector<std::string>{"alerts"} || c.path == std::vector<std::string>{"status"} ||
                      c.path == std::vector<std::string>{"report"};
    INFO(c.path.back());
    CHECK(c.writes == !read);
  }
}

TEST_CASE("settings: defaults without any config") {
  auto s = settings_of(resolve_settings({}, Environment{std::nullopt, std::nullopt, "/home/t", std::nullopt}, files({})));
  CHECK(s.hub == kDefaultHub);
  CHECK_FALSE(s.token);
  CHECK_FALSE(s.broker);
}

TEST_CASE("settings: the config file gives hub, broker and token file, and flags and environment win") {
  auto fs = files({{"/home/t/.config/kioskctl.json", R"({"hub":"http://hub:8080","token_file":"/t/hub.token","broker":"tcp://b:1883"})"},
                   {"/t/hub.token", "file-token\n"},
                   {"/other/token", "other-token\r\n"}});
  Environment env{std::nullopt, std::nullopt, "/home/t", std::nullopt};
  auto s = settings_of(resolve_settings({}, env, fs));
  CHECK(s.hub == "http://hub:8080");
  CHECK(s.broker == "tcp://b:1883");
  CHECK(s.token == "file-token");

  env.kiosk_token = "env-token";
  CHECK(settings_of(resolve_settings({}, env, fs)).token == "env-token");

  GlobalOptions g;
  g.token_file = "/other/token";
  CHECK(settings_of(resolve_settings(g, env, fs)).token == "other-token");
  g.token = "flag-token";
  g.hub = "http://flag:1";
  auto s2 = settings_of(resolve_settings(g, env, fs));
  CHECK(s2.token == "flag-token");
  CHECK(s2.hub == "http://flag:1");
}

TEST_CASE("settings: $KIOSKCTL_CONFIG and --config name a file that must exist and be valid") {
  Environment env{std::nullopt, "/etc/kioskctl.json", "/home/t", std::nullopt};
  auto missing = resolve_settings({}, env, files({}));
  REQUIRE(std::holds_alternative<std::string>(missing));
  CHECK_THAT(std::get<std::string>(missing), Catch::Contains("cannot read config file /etc/kioskctl.json"));

  auto bad = resolve_settings({}, env, files({{"/etc/kioskctl.json", "{not json"}}));
  REQUIRE(std::holds_alternative<std::string>(bad));
  CHECK_THAT(std::get<std::string>(bad), Catch::Contains("is not a JSON object"));

  auto wrong_type = resolve_settings({}, env, files({{"/etc/kioskctl.json", R"({"hub": 5})"}}));
  REQUIRE(std::holds_alternative<std::string>(wrong_type));
  CHECK_THAT(std::get<std::string>(wrong_type), Catch::Contains("\"hub\" must be a non-empty string"));

  GlobalOptions g;
  g.config = "/mine.json";
  auto s = settings_of(resolve_settings(g, env, files({{"/mine.json", R"({"hub":"http://mine:1"})"}})));
  CHECK(s.hub == "http://mine:1");
}

TEST_CASE("settings: a manager's settings file is a config file, and a token file, that gives its API token") {
  const auto manager_file = R"({"site":"v","broker":"tcp://b:1883","hub":"http://hub:8080","api_token":"alice-token"})";
  GlobalOptions g;
  g.config = "/alice.manager.json";
  auto s = settings_of(resolve_settings(g, {}, files({{"/alice.manager.json", manager_file}})));
  CHECK(s.hub == "http://hub:8080");
  CHECK(s.token == "alice-token");
  // A token named anywhere else wins over the config's own.
  g.token_file = "/hub.token";
  CHECK(settings_of(resolve_settings(g, {}, files({{"/alice.manager.json", manager_file}, {"/hub.token", "hub-token\n"}})))
            .token == "hub-token");
  // Named with --config, it beats a token file in the environment (a technician's machine).
  Environment env{std::nullopt, std::nullopt, "/home/t", std::nullopt};
  env.kiosk_token_file = "/hub.token";
  GlobalOptions c;
  c.config = "/alice.manager.json";
  CHECK(settings_of(resolve_settings(c, env, files({{"/alice.manager.json", manager_file}, {"/hub.token", "hub-token\n"}})))
            .token == "alice-token");
  // As a token file: its api_token, not its first line.
  GlobalOptions t;
  t.token_file = "/alice.manager.json";
  CHECK(settings_of(resolve_settings(t, {}, files({{"/alice.manager.json", manager_file}}))).token == "alice-token");
  // A manager's file without a token (a hub before API tokens) gives none: an error, as an empty file.
  auto r = resolve_settings(t, {}, files({{"/alice.manager.json", R"({"site":"v"})"}}));
  REQUIRE(std::holds_alternative<std::string>(r));
  CHECK_THAT(std::get<std::string>(r), Catch::Contains("cannot read a token from /alice.manager.json"));
}

TEST_CASE("settings: an unreadable or empty token file is an error, not a silent anonymous call") {
  GlobalOptions g;
  g.token_file = "/nope";
  auto r = resolve_settings(g, {}, files({}));
  REQUIRE(std::holds_alternative<std::string>(r));
  CHECK_THAT(std::get<std::string>(r), Catch::Contains("cannot read a token from /nope"));
  g.token_file = "/empty";
  CHECK(std::holds_alternative<std::string>(resolve_settings(g, {}, files({{"/empty", "\n"}}))));
}

TEST_CASE("hub URLs: plain http with host, port and an optional base path") {
  auto u = HubUrl::parse("http://127.0.0.1:8080");
  REQUIRE(u);
  CHECK(u->host == "127.0.0.1");
  CHECK(u->port == "8080");
  CHECK(u->base.empty());
  auto v = HubUrl::parse("http://hub.local/kiosk/");
  REQUIRE(v);
  CHECK(v->port == "80");
  CHECK(v->base == "/kiosk");
  auto w = HubUrl::parse("http://[::1]:9000");
  REQUIRE(w);
  CHECK(w->host == "::1");
  CHECK(w->port == "9000");
  for (const auto* bad : {"https://h", "h:80", "http://", "http://h:0", "http://h:99999", "http://h:x", "http://u@h:1"}) {
    INFO(bad);
    CHECK_FALSE(HubUrl::parse(bad));
  }
}

TEST_CASE("the event-stream parser yields events as their bytes arrive, in any split") {
  const std::string stream =
      ": kiosk-hub events\n\nevent: press\ndata: {\"device\":\"d\",\"seq\":1}\n\n"
      "event: alert\r\ndata: {\"id\":\"a-1\"}\r\n\r\ndata: line1\ndata: line2\n\n";
  for (std::size_t split = 1; split <= stream.size(); ++split) {
    EventStreamParser p;
    std::vector<ServerEvent> got;
    for (std::size_t i = 0; i < stream.size(); i += split) {
      for (auto& e : p.feed(std::string_view(stream).substr(i, split))) got.push_back(e);
    }
    REQUIRE(got.size() == 3);
    CHECK(got[0].event == "press");
    CHECK(got[0].data == R"({"device":"d","seq":1})");
    CHECK(got[1].event == "alert");
    CHECK(got[1].data == R"({"id":"a-1"})");
    CHECK(got[2].event == "message");
    CHECK(got[2].data == "line1\nline2");
  }
}

TEST_CASE("an event stream that goes quiet ends as silent, apart from reaching the deadline") {
  // A "hub" that answers the stream's header and one comment, then says nothing and keeps the
  // connection open, as one that lost power behind a switch would.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  const sockaddr_in any = kiosk::net::loopback_address(0);
  REQUIRE(::bind(listener, reinterpret_cast<const sockaddr*>(&any), sizeof any) == 0);
  REQUIRE(::listen(listener, 4) == 0);
  sockaddr_in bound{};
  socklen_t len = sizeof bound;
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&bound), &len);
  std::thread hub([listener] {
    for (int i = 0; i < 2; ++i) {
      const int c = ::accept(listener, nullptr, nullptr);
      if (c < 0) return;
      char buf[2048];
      (void)::recv(c, buf, sizeof buf, 0);
      const std::string head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n\r\n: hello\n\n";
      (void)::send(c, head.data(), head.size(), MSG_NOSIGNAL);
      (void)::recv(c, buf, sizeof buf, 0);  // until the client gives up and closes
      ::close(c);
    }
  });
  auto url = HubUrl::parse("http://127.0.0.1:" + std::to_string(ntohs(bound.sin_port)));
  REQUIRE(url);
  HubClient client(*url, std::nullopt, std::chrono::seconds(5));
  const auto ignore = [](const ServerEvent&) { return true; };
  CHECK(client.events("/api/events", {}, ignore, std::chrono::steady_clock::now() + 10s, 300ms) ==
        HubClient::StreamEnd::silent);
  CHECK(client.events("/api/events", {}, ignore, std::chrono::steady_clock::now() + 300ms, 10s) ==
        HubClient::StreamEnd::timeout);
  hub.join();
  ::close(listener);
}

namespace {

// A device file as `device add` writes it for desk-1 at site hotel, with a CA.
DeviceConfigFile sample_device_config() {
  DeviceConfigFile c;
  c.site = "hotel";
  c.device = "desk-1";
  c.broker = "tcp://hub:1883";
  c.username = "desk-1";
  c.password = "s3cret";
  c.tls_ca = "/etc/kiosk/ca.crt";
  c.board = "rpi-zero-2w";
  return c;
}

}  // namespace

TEST_CASE("the device config holds only keys the firmware knows") {
  DeviceConfigFile c = sample_device_config();
  auto v = boost::json::parse(to_json(c)).as_object();
  CHECK(v.at("site") == "hotel");
  CHECK(v.at("device") == "desk-1");
  CHECK(v.at("broker") == "tcp://hub:1883");
  CHECK(v.at("username") == "desk-1");
  CHECK(v.at("password") == "s3cret");
  CHECK(v.at("tls").as_object().at("ca") == "/etc/kiosk/ca.crt");
  CHECK_FALSE(v.at("tls").as_object().contains("cert"));
  CHECK(v.at("board") == "rpi-zero-2w");
  const std::set<std::string> known{"site", "device", "broker", "username", "password", "tls", "board", "boards_dir",
                                    "ratings", "scale", "data_dir", "debounce_ms", "lockout_ms", "repeat_window_ms",
                                    "thanks_ms", "telemetry_s", "outbox_max"};
  for (const auto& kv : v) CHECK(known.count(std::string(kv.key())) == 1);
  DeviceConfigFile open{"hotel", "desk-2", "tcp://b:1883", {}, {}, {}, {}, {}, {}, {}};
  auto w = boost::json::parse(to_json(open)).as_object();
  CHECK_FALSE(w.contains("password"));
  CHECK_FALSE(w.contains("tls"));
  CHECK(default_broker_for("10.0.0.2") == "tcp://10.0.0.2:1883");
  CHECK(default_broker_for("::1") == "tcp://[::1]:1883");
}

TEST_CASE("a secret file is created 0600, never overwritten without force, and removed if unused") {
  kiosk::test::TempDir tmp;
  const auto path = (tmp / "desk-1.json").string();
  ::umask(022);
  {
    SecretFile f(path, false);
    f.write("{\"password\":\"x\"}\n");
  }
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK_THROWS_WITH(SecretFile(path, false), Catch::Contains("exists; pass --force"));
  {
    SecretFile f(path, true);
    f.write("{\"password\":\"y\"}\n");
  }
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  CHECK(text == "{\"password\":\"y\"}\n");
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  const auto unused = (tmp / "unused.json").string();
  { SecretFile f(unused, false); }
  CHECK_FALSE(std::filesystem::exists(unused));
  CHECK_THROWS_WITH(SecretFile((tmp / "no-such-dir" / "x.json").string(), false), Catch::Contains("cannot create"));
  std::size_t leftovers = 0;
  for (const auto& e : std::filesystem::directory_iterator(tmp.path())) leftovers += e.path().string().find(".tmp-") != std::string::npos;
  CHECK(leftovers == 0);
}

TEST_CASE("a secret file that replaces a file keeps that file's owner, group and mode") {
  kiosk::test::TempDir tmp;
  const auto path = (tmp / "desk-1.json").string();
  std::ofstream(path) << "old\n";
  const bool root = ::geteuid() == 0;
  REQUIRE(::chmod(path.c_str(), 0640) == 0);
  if (root) REQUIRE(::chown(path.c_str(), 12345, 12346) == 0);
  {
    SecretFile f(path, true);
    CHECK(f.mode() == 0640);
    CHECK(f.warning().empty());
    f.write("new\n");
  }
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  if (root) {
    CHECK(st.st_uid == 12345u);
    CHECK(st.st_gid == 12346u);
  }
  SecretFile fresh((tmp / "new.json").string(), true);
  CHECK(fresh.mode() == 0600);
  CHECK(fresh.warning().empty());
}

TEST_CASE("a file about to be replaced is read, found absent, or found unreadable with the reason") {
  kiosk::test::TempDir tmp;
  const auto absent = read_existing((tmp / "none.json").string());
  CHECK_FALSE(absent.exists);
  CHECK_FALSE(absent.unreadable);
  CHECK_FALSE(read_existing((tmp / "no-dir" / "x.json").string()).exists);
  std::ofstream(tmp / "desk-1.json") << "{}\n";
  const auto file = read_existing((tmp / "desk-1.json").string());
  CHECK(file.exists);
  CHECK(file.text == "{}\n");
  CHECK_FALSE(file.unreadable);
  std::filesystem::create_directory(tmp / "dir.json");
  const auto dir = read_existing((tmp / "dir.json").string());
  CHECK(dir.exists);
  CHECK(dir.unreadable == std::string("Is a directory"));
  REQUIRE(::mkfifo((tmp / "fifo.json").c_str(), 0600) == 0);
  const auto fifo = read_existing((tmp / "fifo.json").string());  // returns at once, no writer needed
  CHECK(fifo.exists);
  CHECK(fifo.unreadable == std::string("not a regular file"));
}

TEST_CASE("kioskctl settings: $KIOSK_TOKEN_FILE names the token file, after --token-file and before $KIOSK_TOKEN") {
  auto fs = files({{"/home/t/.config/kioskctl.json", R"({"token_file":"/config/hub.token"})"},
                   {"/config/hub.token", "config-token\n"},
                   {"/env/hub.token", "env-file-token\n"},
                   {"/flag/hub.token", "flag-file-token\n"}});
  Environment env{std::nullopt, std::nullopt, "/home/t", "/env/hub.token"};
  CHECK(settings_of(resolve_settings({}, env, fs)).token == "env-file-token");
  env.kiosk_token = "env-token";
  CHECK(settings_of(resolve_settings({}, env, fs)).token == "env-file-token");
  GlobalOptions g;
  g.token_file = "/flag/hub.token";
  CHECK(settings_of(resolve_settings(g, env, fs)).token == "flag-file-token");
  g.token = "flag-token";
  CHECK(settings_of(resolve_settings(g, env, fs)).token == "flag-token");

  // Empty counts as unset; a file that cannot be read is an error naming the variable.
  env.kiosk_token_file = "";
  CHECK(settings_of(resolve_settings({}, env, fs)).token == "env-token");
  env.kiosk_token_file = "/nope";
  auto r = resolve_settings({}, env, fs);
  REQUIRE(std::holds_alternative<std::string>(r));
  CHECK_THAT(std::get<std::string>(r), Catch::Contains("cannot read a token from /nope ($KIOSK_TOKEN_FILE)"));
  CHECK_THAT(top_help(), Catch::Contains("$KIOSK_TOKEN_FILE"));
}

TEST_CASE("kioskctl treats a broker on a loopback address or localhost as one a terminal reads as itself") {
  for (const char* url : {"tcp://127.0.0.1:1883", "tcp://localhost:1883", "ssl://LOCALHOST:8883", "tcp://127.0.1.1:1883",
                          "tcp://[::1]:1883", "mqtt://localhost.", "tcp://0.0.0.0:1883", "tcp://user@127.0.0.1:1883"}) {
    INFO(url);
    CHECK(url_is_loopback(url));
  }
  for (const char* url : {"tcp://10.0.0.5:1883", "tcp://hub.venue.lan:1883", "ssl://[fd00::5]:8883", "tcp://128.0.0.1:1883",
                          "tcp://localhost-hub:1883"}) {
    INFO(url);
    CHECK_FALSE(url_is_loopback(url));
  }
}

TEST_CASE("kioskctl reads a device config file back as written and rejects anything else") {
  DeviceConfigFile c = sample_device_config();
  c.broker = "tcp://10.0.0.5:1883";
  c.tls_verify_host = false;
  c.data_dir = "/var/lib/kiosk";
  auto parsed = parse_device_config(to_json(c));
  REQUIRE(std::holds_alternative<DeviceConfigFile>(parsed));
  const auto& back = std::get<DeviceConfigFile>(parsed);
  CHECK(to_json(back) == to_json(c));
  CHECK(back.tls_verify_host == false);
  CHECK_FALSE(back.tls_cert);

  CHECK(std::holds_alternative<std::string>(parse_device_config("keep me\n")));
  CHECK(std::holds_alternative<std::string>(parse_device_config(R"({"site":"hotel","device":"desk-1"})")));
  CHECK(std::holds_alternative<std::string>(parse_device_config(R"({"site":"hotel","device":"desk-1","broker":5})")));
  CHECK(std::holds_alternative<std::string>(
      parse_device_config(R"({"site":"h","device":"d","broker":"tcp://b:1883","tls":{"verify_host":"no"}})")));
}

TEST_CASE("a device config read back is written again with every key kioskctl does not set, as it was") {
  const std::string file =
      R"({"site":"hotel","device":"desk-1","broker":"tcp://10.0.0.5:1883","username":"desk-1","password":"old",)"
      R"("tls":{"ca":"/etc/kiosk/ca.crt","future":1},"ratings":[1,2,4,5],"scale":5,"debounce_ms":40,)"
      R"("log_level":"debug","board":null,"next_firmware_key":{"a":[1,2.5,"x",null]}})";
  auto parsed = parse_device_config(file);
  REQUIRE(std::holds_alternative<DeviceConfigFile>(parsed));
  auto c = std::get<DeviceConfigFile>(parsed);
  CHECK_FALSE(c.board);  // null is absent, as for the firmware
  c.password = "new";
  c.tls_verify_host = false;
  auto out = boost::json::parse(to_json(c)).as_object();
  auto expected = boost::json::parse(file).as_object();
  expected["password"] = "new";
  expected["tls"].as_object()["verify_host"] = false;
  CHECK(out == expected);
  // Without credentials (a hub without --dynsec) the old ones go.
  c.username.reset();
  c.password.reset();
  auto open = boost::json::parse(to_json(c)).as_object();
  CHECK_FALSE(open.contains("username"));
  CHECK_FALSE(open.contains("password"));
  CHECK(open.at("ratings") == expected.at("ratings"));
}

TEST_CASE("kioskctl status shows the hub's broker accounts link only when the hub reports one") {
  boost::json::object health{{"status", "ok"}, {"site", "venue"}, {"broker", "connected"}, {"db", "ok"}, {"version", "1.0"}};
  const auto without = render_status("http://hub:8080", health);
  CHECK_THAT(without, Catch::Contains("broker   connected\n") && Catch::Contains("site     venue"));
  CHECK(without.find("accounts") == std::string::npos);
  health["accounts"] = "disconnected";
  const auto with = render_status("http://hub:8080", health);
  CHECK_THAT(with, Catch::Contains("broker   connected\naccounts disconnected\n"));
  // Topics the broker will not let the hub read are named, one a line.
  health["refused_subscriptions"] = boost::json::array{"kiosk/v1/venue/alert/+/ack"};
  CHECK_THAT(render_status("http://hub:8080", health), Catch::Contains("refused  kiosk/v1/venue/alert/+/ack ("));
}

TEST_CASE("kioskctl exits 2 with the command's help for arguments found wrong once it runs, before any request") {
  // Nothing listens on this port: a request would end as "unreachable", exit 1.
  Settings settings;
  settings.hub = "http://127.0.0.1:" + std::to_string(kiosk::test::free_tcp_port());
  settings.token = "t";
  struct Case {
    std::vector<std::string> argv;
    std::string hub;
    std::string message;
  };
  for (const auto& c : std::vector<Case>{
           {{"alerts", "--state", "bogus"}, "", "--state must be open, acked, active, resolved or all"},
           {{"device", "test", "desk-1", "--timeout", "abc"}, "", "--timeout must be a number of seconds"},
           {{"device", "test", "desk-1", "--timeout", "0"}, "", "--timeout must be a number of seconds"},
           {{"status"}, "127.0.0.1:8080", "'127.0.0.1:8080' is not a hub URL"},
           {{"device", "list"}, "ftp://hub", "is not a hub URL"},
       }) {
    auto inv = parse(c.argv);
    REQUIRE(inv.kind == Kind::run);
    auto s = settings;
    if (!c.hub.empty()) s.hub = c.hub;
    std::ostringstream out, err;
    INFO(c.message);
    CHECK(run_command(inv, s, out, err) == 2);
    CHECK_THAT(err.str(), Catch::Contains(c.message) && Catch::Contains("--help"));
  }
}
