// Hub settings: flags override the config file, every setting is documented with its default.
#include <catch2/catch.hpp>

#include <fstream>

#include "kiosk/hub/hub_config.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::hub;

TEST_CASE("the required flags give a runnable configuration with documented defaults") {
  auto cli = parse_command_line({"--broker", "tcp://127.0.0.1:1884", "--site", "hotel-1", "--db", "/var/lib/k/hub.db",
                                 "--http", "0.0.0.0:9090"});
  REQUIRE(cli.kind == CommandLine::Kind::run);
  CHECK(cli.config.broker_url == "tcp://127.0.0.1:1884");
  CHECK(cli.config.site == "hotel-1");
  CHECK(cli.config.http_host == "0.0.0.0");
  CHECK(cli.config.http_port == 9090);
  CHECK(cli.config.effective_token_file() == "/var/lib/k/hub.token");
  CHECK(cli.config.effective_client_id() == "kiosk-hub-hotel-1");
  CHECK(cli.config.batch_max == 512);
  CHECK_FALSE(cli.config.dynsec);
}

TEST_CASE("flags override the config file wherever they appear") {
  kiosk::test::TempDir dir;
  auto file = dir / "hub.json";
  std::ofstream(file) << R"({"site":"from-file","broker":"tcp://127.0.0.1:1","batch-max":64,"dynsec":true})";
  auto cli = parse_command_line({"--site", "from-flag", "--config", file.string()});
  REQUIRE(cli.kind == CommandLine::Kind::run);
  CHECK(cli.config.site == "from-flag");
  CHECK(cli.config.broker_url == "tcp://127.0.0.1:1");
  CHECK(cli.config.batch_max == 64);
  CHECK(cli.config.dynsec);
}

TEST_CASE("a password file supplies the broker password without it appearing on the command line") {
  kiosk::test::TempDir dir;
  std::ofstream(dir / "pw") << "s3cret\n";
  auto cli = parse_command_line({"--site", "s", "--password-file", (dir / "pw").string()});
  REQUIRE(cli.kind == CommandLine::Kind::run);
  CHECK(cli.config.password == "s3cret");
}

TEST_CASE("bad settings are usage errors that say what is wrong") {
  CHECK(parse_command_line({}).kind == CommandLine::Kind::usage_error);
  CHECK(parse_command_line({"--site", "Bad Site"}).kind == CommandLine::Kind::usage_error);
  auto unknown = parse_command_line({"--site", "s", "--frobnicate", "1"});
  CHECK(unknown.kind == CommandLine::Kind::usage_error);
  CHECK(unknown.message.find("--frobnicate") != std::string::npos);
  auto port = parse_command_line({"--site", "s", "--http", "127.0.0.1:99999"});
  CHECK(port.kind == CommandLine::Kind::usage_error);
  CHECK(port.message.find("--http") != std::string::npos);
  CHECK(parse_command_line({"--site", "s", "--http"}).kind == CommandLine::Kind::usage_error);
  auto names = parse_command_line({"--site", "s", "--http-names", "hub.lan,,x"});
  CHECK(names.kind == CommandLine::Kind::usage_error);
  CHECK(names.message.find("--http-names: \"\" is not a host name") != std::string::npos);
  kiosk::test::TempDir dir;
  std::ofstream(dir / "bad.json") << R"({"nope":1})";
  CHECK(parse_command_line({"--site", "s", "--config", (dir / "bad.json").string()}).kind ==
        CommandLine::Kind::usage_error);
}

TEST_CASE("--help documents every setting with its default") {
  CHECK(parse_command_line({"--help"}).kind == CommandLine::Kind::help);
  CHECK(parse_command_line({"--version"}).kind == CommandLine::Kind::version);
  auto text = help_text();
  for (const char* flag : {"--broker", "--site", "--db", "--http", "--config", "--username", "--password",
                           "--password-file", "--ca-file", "--cert-file", "--key-file", "--token-file", "--dynsec",
                           "--client-id", "--log-level", "--port-file", "--batch-max", "--batch-window-us"})
    CHECK(text.find(flag) != std::string::npos);
  CHECK(text.find("[default: 127.0.0.1:8080]") != std::string::npos);
}

TEST_CASE("the names a browser reaches the hub by (--http-names) drop a trailing dot") {
  auto cli = parse_command_line({"--site", "s", "--http-names", "hub.fritz.box.,Reception-PC"});
  REQUIRE(cli.kind == CommandLine::Kind::run);
  CHECK(cli.config.http_names == std::vector<std::string>{"hub.fritz.box", "Reception-PC"});
  CHECK(parse_command_line({"--site", "s"}).config.http_names.empty());  // the hub fills in its own names
}

TEST_CASE("the broker's certificate must name its host unless tls-verify-host is false") {
  auto base = std::vector<std::string>{"--site", "s", "--broker", "ssl://hub.local:8883"};
  auto on = parse_command_line(base);
  REQUIRE(on.kind == CommandLine::Kind::run);
  CHECK(on.config.tls_verify_host);
  auto with = [&](const std::string& v) {
    auto args = base;
    args.insert(args.end(), {"--tls-verify-host", v});
    return parse_command_line(args);
  };
  CHECK_FALSE(with("false").config.tls_verify_host);
  CHECK_FALSE(with("no").config.tls_verify_host);
  CHECK(with("true").config.tls_verify_host);
  auto bad = with("sometimes");
  CHECK(bad.kind == CommandLine::Kind::usage_error);
  CHECK(bad.message.find("--tls-verify-host: \"sometimes\" is not one of true/yes/on/1 or false/no/off/0") !=
        std::string::npos);
}
