// Device file, flags and board definitions: defaults, overrides, precise errors.
#include <catch2/catch.hpp>

#include <fstream>

#include "kiosk/firmware/board.hpp"
#include "kiosk/firmware/device_config.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::firmware;

namespace {

const char* kFullFile = R"({"site":"demo","device":"desk-1","broker":"tcp://127.0.0.1:1883","username":"desk-1",
  "password":"pw","tls":{"ca":"","cert":"","key":""},"board":"sim-4","boards_dir":"/b","ratings":[1,2,3,4],
  "scale":4,"data_dir":"/var/lib/kiosk/desk-1","debounce_ms":30,"lockout_ms":1500,"repeat_window_ms":10000,
  "thanks_ms":800,"telemetry_s":60,"outbox_max":100000})";

std::string write(const kiosk::test::TempDir& dir, const std::string& name, const std::string& text) {
  auto path = dir / name;
  std::ofstream(path) << text;
  return path.string();
}

}  // namespace

TEST_CASE("a full device file as kioskctl writes it is accepted") {
  auto c = parse_device_file(kFullFile);
  REQUIRE(c.ok());
  CHECK(c->site == "demo");
  CHECK(c->device == "desk-1");
  CHECK(c->password == "pw");
  CHECK(c->ratings == std::vector<int>{1, 2, 3, 4});
  CHECK(c->outbox_max == 100000);
}

TEST_CASE("an unknown key in the device file is an error naming the key") {
  auto c = parse_device_file(R"({"site":"demo","devcie":"desk-1"})");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().field == "device.devcie");
  auto tls = parse_device_file(R"({"tls":{"cafile":"x"}})");
  REQUIRE_FALSE(tls.ok());
  CHECK(tls.error().field == "device.tls.cafile");
}

TEST_CASE("wrong types and out-of-range values in the device file are precise errors") {
  CHECK(parse_device_file(R"({"lockout_ms":"1500"})").error().message() == "device.lockout_ms: must be an integer");
  CHECK(parse_device_file(R"({"debounce_ms":0})").error().message() == "device.debounce_ms: 0 is outside 1..1000");
  CHECK(parse_device_file(R"({"scale":11})").error().field == "device.scale");
  CHECK(parse_device_file(R"({"ratings":[1,"2"]})").error().field == "device.ratings");
  CHECK_FALSE(parse_device_file("{not json").ok());
  CHECK_FALSE(parse_device_file("[1]").ok());
}

TEST_CASE("flags override the device file and defaults fill the rest") {
  kiosk::test::TempDir dir;
  auto file = write(dir, "d.json", R"({"site":"demo","device":"desk-1","broker":"tcp://127.0.0.1:1","board":"sim-4"})");
  auto pw = write(dir, "pw", "s3cret\n");
  auto cl = parse_command_line({"--lockout-ms", "0", "--config", file, "--device=desk-2", "--password-file", pw},
                               "/default/boards");
  REQUIRE(cl.ok());
  CHECK(cl->config.device == "desk-2");
  CHECK(cl->config.site == "demo");
  CHECK(cl->config.lockout_ms == 0);
  CHECK(cl->config.password == "s3cret");
  CHECK(cl->config.debounce_ms == 30);
  CHECK(cl->config.repeat_window_ms == 10000);
  CHECK(cl->config.telemetry_s == 60);
  CHECK(cl->config.outbox_max == 100000);
  CHECK(cl->config.keepalive_s == 30);
  CHECK(cl->config.boards_dir == "/default/boards");
  CHECK(cl->config.data_dir == "/var/lib/kiosk/desk-2");
}

TEST_CASE("missing required settings and bad flags are usage errors") {
  auto missing = parse_command_line({"--site", "demo", "--broker", "tcp://h:1", "--board", "sim-4"}, "/b");
  REQUIRE_FALSE(missing.ok());
  CHECK(missing.error().field == "device");
  CHECK(parse_command_line({"--bogus", "1"}, "/b").error().field == "--bogus");
  CHECK(parse_command_line({"--lockout-ms", "abc"}, "/b").error().field == "--lockout-ms");
  CHECK(parse_command_line({"--device"}, "/b").error().reason == "needs a value");
  auto bad_id = parse_command_line({"--site", "Demo Site", "--device", "d", "--broker", "tcp://h:1", "--board", "b"}, "/b");
  REQUIRE_FALSE(bad_id.ok());
  CHECK(bad_id.error().field == "site");
  CHECK(parse_command_line({"--help"}, "/b")->help);
}

TEST_CASE("a broker address the terminal cannot dial is a settings error that says what is wrong") {
  const auto problem = [](const char* broker) {
    auto r = parse_command_line({"--site", "demo", "--device", "d", "--broker", broker, "--board", "sim-4"}, "/b");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().field == "broker");
    return r.error().reason;
  };
  CHECK_THAT(problem("10.0.0.5"), Catch::Contains("must start with tcp://, ssl://, mqtt:// or mqtts://"));
  CHECK_THAT(problem("http://10.0.0.5:1883"), Catch::Contains("must start with tcp://"));
  CHECK_THAT(problem("tcp://hub.local:99999"), Catch::Contains("port must be a number in 1..65535"));
  CHECK_THAT(problem("tcp://:1883"), Catch::Contains("\"tcp://:1883\""));
  for (const char* good : {"tcp://10.0.0.5:1883", "ssl://hub.local:8883", "mqtt://hub.local", "tcp://[fd00::5]:1883"})
    CHECK(parse_command_line({"--site", "demo", "--device", "d", "--broker", good, "--board", "sim-4"}, "/b").ok());
}

TEST_CASE("the broker's certificate must name its host unless the device turns that off") {
  kiosk::test::TempDir dir;
  const std::string base = R"({"site":"demo","device":"desk-1","broker":"ssl://hub.local:8883","board":"sim-4")";
  auto on = parse_command_line({"--config", write(dir, "on.json", base + "}")}, "/b");
  REQUIRE(on.ok());
  CHECK(on->config.tls_verify_host);
  auto off = parse_command_line({"--config", write(dir, "off.json", base + R"(,"tls":{"verify_host":false}})")}, "/b");
  REQUIRE(off.ok());
  CHECK_FALSE(off->config.tls_verify_host);
  auto flag = parse_command_line({"--config", write(dir, "on2.json", base + "}"), "--tls-verify-host", "false"}, "/b");
  REQUIRE(flag.ok());
  CHECK_FALSE(flag->config.tls_verify_host);
  // The same words as the hub's flags.
  auto off_word = parse_command_line({"--config", write(dir, "on4.json", base + "}"), "--tls-verify-host", "off"}, "/b");
  REQUIRE(off_word.ok());
  CHECK_FALSE(off_word->config.tls_verify_host);
  auto wrong_type = parse_command_line({"--config", write(dir, "bad.json", base + R"(,"tls":{"verify_host":"no"}})")}, "/b");
  REQUIRE_FALSE(wrong_type.ok());
  CHECK(wrong_type.error().field == "device.tls.verify_host");
  auto bad_flag = parse_command_line({"--config", write(dir, "on3.json", base + "}"), "--tls-verify-host", "maybe"}, "/b");
  REQUIRE_FALSE(bad_flag.ok());
  CHECK(bad_flag.error().field == "--tls-verify-host");
  CHECK(bad_flag.error().reason == "\"maybe\" is not one of true/yes/on/1 or false/no/off/0");
  // The terminal's TLS library cannot check an IPv6 address: said at once, not at every connect.
  const std::vector<std::string> v6{"--site", "demo", "--device", "d", "--board", "sim-4", "--broker",
                                    "ssl://[fd00::5]:8883"};
  auto v6_checked = parse_command_line(v6, "/b");
  REQUIRE_FALSE(v6_checked.ok());
  CHECK(v6_checked.error().field == "broker");
  CHECK_THAT(v6_checked.error().reason, Catch::Contains("IPv6"));
  auto v6_args = v6;
  v6_args.insert(v6_args.end(), {"--tls-verify-host", "false"});
  CHECK(parse_command_line(v6_args, "/b").ok());
}

TEST_CASE("ratings and scale default from the board and are checked against it") {
  Board board;
  board.name = "b4";
  board.buttons.resize(4);
  DeviceConfig c;
  auto r = resolve_for_board(c, board);
  REQUIRE(r.ok());
  CHECK(r->ratings == std::vector<int>{1, 2, 3, 4});
  CHECK(r->scale == 4);
  c.ratings = {1, 2, 3};
  CHECK(resolve_for_board(c, board).error().field == "ratings");
  c.ratings = {1, 2, 3, 5};
  c.scale = 4;
  CHECK(resolve_for_board(c, board).error().field == "ratings");
  c.ratings = {5, 4, 2, 1};
  c.scale = 5;
  CHECK(resolve_for_board(c, board).ok());
}

TEST_CASE("every board file in boards/ loads") {
  auto dir = kiosk::test::source_dir() / "boards";
  auto sim = load_board(dir, "sim-4");
  REQUIRE(sim.ok());
  CHECK(sim->simulated());
  CHECK(sim->buttons.size() == 4);
  REQUIRE(load_board(dir, "sim-2").ok());
  auto pi = load_board(dir, "rpi-zero-2w");
  REQUIRE(pi.ok());
  CHECK_FALSE(pi->simulated());
  CHECK(pi->chip == "gpiochip0");
  REQUIRE(pi->buttons.size() == 4);
  CHECK(pi->buttons[0].offset == 17);
  CHECK(pi->buttons[0].active_low);
  CHECK(pi->buttons[0].bias == Bias::pull_up);
  REQUIRE(pi->leds.size() == 1);
  CHECK(pi->leds[0].offset == 24);
}

TEST_CASE("bad board definitions are rejected with the field at fault") {
  CHECK(parse_board(R"({"name":"x","buttons":[]})").error().field == "board.buttons");
  CHECK(parse_board(R"({"name":"x","chip":"gpiochip0","buttons":[{"label":"a"}]})").error().field ==
        "board.buttons[0].line");
  CHECK(parse_board(R"({"name":"x","buttons":[{"bias":"up"}]})").error().field == "board.buttons[0].bias");
  CHECK(parse_board(R"({"name":"x","buttons":[{}],"pins":[]})").error().field == "board.pins");
  CHECK_FALSE(parse_board(R"({"name":"x","chip":"c","buttons":[{"line":1},{"line":1}]})").ok());
  CHECK(load_board("/nonexistent", "sim-4").error().field == "board");
}

TEST_CASE("a device file that cannot be read is an error with the system's reason and how to fix it") {
  kiosk::test::TempDir dir;
  auto missing = (dir / "x.json").string();
  auto r = parse_command_line({"--config", missing}, "/b");
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().field == "--config");
  CHECK(r.error().reason.find("cannot read " + missing + ": No such file or directory") != std::string::npos);
  CHECK(r.error().reason.find("readable by the kiosk user") != std::string::npos);
  CHECK(r.error().reason.find("install -m 0640 -o root -g kiosk") != std::string::npos);
}
