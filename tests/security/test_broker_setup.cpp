// The venue broker as the tools set it up: init-dynsec.sh's files, and the hub's accounts over TLS.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include <boost/asio/io_context.hpp>

#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
using kiosk::hub::AccountsDone;
using kiosk::hub::AccountsResult;

namespace {

AccountsResult run_io(boost::asio::io_context& io, const std::function<void(AccountsDone)>& call) {
  std::optional<AccountsResult> out;
  call([&out](AccountsResult r) { out = std::move(r); });
  REQUIRE(run_io_until(io, [&] { return out.has_value(); }));
  return *out;
}

}  // namespace

TEST_CASE("init-dynsec.sh makes a broker with a generated hub password and no anonymous access", "[integration]") {
  TempDir tmp;
  // The broker may run as the mosquitto user: it must be able to reach its folder.
  fs::permissions(tmp.path(), fs::perms::owner_all | fs::perms::group_exec | fs::perms::others_exec);
  const auto dir = tmp / "broker";
  // Held until this test ends: the script takes seconds between picking the port and mosquitto
  // binding it, long enough for another test's server or connection to take a merely free port.
  const PortReservation reserved;
  const int port = reserved.port();
  const auto script = (source_dir() / "tools" / "mosquitto" / "init-dynsec.sh").string();
  REQUIRE(run_to_end({script, "--dir", dir.string(), "--port", std::to_string(port)}, tmp / "init.log") == 0);
  CHECK(file_mode(dir / "hub.password") == 0600);
  CHECK(file_mode(dir / "dynamic-security.json") == 0600);
  const auto password = slurp(dir / "hub.password").substr(0, slurp(dir / "hub.password").find('\n'));
  CHECK(password.size() == 32);
  CHECK(slurp(tmp / "init.log").find(password) == std::string::npos);
  CHECK_THAT(slurp(dir / "mosquitto.conf"), Catch::Contains("allow_anonymous false") && Catch::Contains("listener " + std::to_string(port)));
  CHECK(run_to_end({script, "--dir", dir.string()}, tmp / "again.log") == 1);
  CHECK(run_to_end({script, "--port", "1"}, tmp / "usage.log") == 2);

  Child broker({"mosquitto", "-c", (dir / "mosquitto.conf").string()},
               Child::Options{.env = {}, .log_file = tmp / "mosquitto.log", .working_dir = {}});
  REQUIRE(wait_until([&] { return port_accepts(port) || !broker.running(); }, 10s));
  INFO(slurp(tmp / "mosquitto.log"));
  REQUIRE(broker.running());
  const auto url = "tcp://127.0.0.1:" + std::to_string(port);
  CHECK_FALSE(MqttProbe(url).try_connect(3s));
  CHECK_FALSE(MqttProbe(url, MqttProbe::Options{.client_id = "", .username = "hub", .password = "wrong"}).try_connect(3s));

  // The hub's accounts work on it, and what they create is saved in the plugin's file.
  boost::asio::io_context io;
  auto accounts = kiosk::hub::make_dynsec_accounts(
      io, kiosk::hub::DynsecSettings{.broker_url = url, .username = "hub", .password = password, .site = "venue",
                                     .ca_file = {}, .cert_file = {}, .key_file = {}});
  accounts->start();
  auto r = run_io(io, [&](AccountsDone d) { accounts->add_device("desk-1", std::move(d)); });
  REQUIRE_FALSE(r.error);
  REQUIRE(r.credentials);
  CHECK(MqttProbe(url, MqttProbe::Options{.client_id = "desk-1", .username = "desk-1", .password = r.credentials->password})
            .try_connect(5s));
  CHECK(wait_until([&] { return slurp(dir / "dynamic-security.json").find("device-desk-1") != std::string::npos; }, 5s));
  CHECK(slurp(dir / "dynamic-security.json").find(r.credentials->password) == std::string::npos);
  accounts->stop();
}

TEST_CASE("the hub's accounts work over TLS with the venue CA", "[integration]") {
  TempDir tmp;
  const auto pki = tmp / "pki";
  const auto kiosk_pki = (source_dir() / "tools" / "kiosk-pki").string();
  REQUIRE(run_to_end({kiosk_pki, "init", "--dir", pki.string(), "--venue", "hotel"}, tmp / "a.log") == 0);
  REQUIRE(run_to_end({kiosk_pki, "broker", "--dir", pki.string(), "--host", "localhost"}, tmp / "b.log") == 0);
  const PortReservation tls_reserved;  // the broker's second listener; held while dynsec initialises
  const int tls_port = tls_reserved.port();
  Broker broker{Broker::Options{
      .dynsec = true, .admin_user = "hub", .admin_password = "hub-pw",
      .extra_config = "listener " + std::to_string(tls_port) + " 127.0.0.1\ncafile " + (pki / "ca.crt").string() +
                      "\ncertfile " + (pki / "broker.crt").string() + "\nkeyfile " + (pki / "broker.key").string() + "\n"}};
  REQUIRE(wait_until([&] { return port_accepts(tls_port); }, 10s));
  const auto url = "ssl://127.0.0.1:" + std::to_string(tls_port);
  boost::asio::io_context io;
  auto accounts = kiosk::hub::make_dynsec_accounts(
      io, kiosk::hub::DynsecSettings{.broker_url = url, .username = "hub", .password = "hub-pw", .site = "venue",
                                     .ca_file = (pki / "ca.crt").string(), .cert_file = {}, .key_file = {}});
  accounts->start();
  auto r = run_io(io, [&](AccountsDone d) { accounts->add_device("desk-1", std::move(d)); });
  CHECK_FALSE(r.error);
  CHECK(r.credentials);

  // Without the venue CA the hub must not talk to this broker at all.
  const auto other = tmp / "other";
  REQUIRE(run_to_end({kiosk_pki, "init", "--dir", other.string(), "--venue", "elsewhere"}, tmp / "c.log") == 0);
  auto untrusting = kiosk::hub::make_dynsec_accounts(
      io, kiosk::hub::DynsecSettings{.broker_url = url, .username = "hub", .password = "hub-pw", .site = "venue",
                                     .ca_file = (other / "ca.crt").string(), .cert_file = {}, .key_file = {}});
  CHECK_THROWS_WITH(untrusting->start(), Catch::Contains("cannot connect"));
}
