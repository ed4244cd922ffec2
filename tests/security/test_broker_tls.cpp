// TLS with the venue PKI from tools/kiosk-pki: a real mosquitto TLS listener and Paho clients.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include <mqtt/async_client.h>

#include "kiosk_test.hpp"

using namespace kiosk::test;

namespace {

// A venue PKI and a broker with a TLS listener on its own free port.
struct TlsBroker {
  TempDir tmp;
  fs::path pki = tmp / "pki";
  PortReservation tls_reserved;  // held while the certificates are made and the broker starts
  int tls_port = tls_reserved.port();
  std::unique_ptr<Broker> broker;

  // The certificate names `host` and 127.0.0.1 (kiosk-pki always adds the loopback address).
  explicit TlsBroker(bool require_certificate, const std::string& host = "localhost") {
    REQUIRE(run_kiosk_pki({"init", "--dir", pki.string(), "--venue", "hotel"}, tmp / "init.log") == 0);
    REQUIRE(run_kiosk_pki({"broker", "--dir", pki.string(), "--host", host}, tmp / "broker.log") == 0);
    REQUIRE(run_kiosk_pki({"device", "--dir", pki.string(), "--id", "desk-1"}, tmp / "device.log") == 0);
    std::string conf = "listener " + std::to_string(tls_port) + " 127.0.0.1\n" +
                       "cafile " + (pki / "ca.crt").string() + "\n" +
                       "certfile " + (pki / "broker.crt").string() + "\n" +
                       "keyfile " + (pki / "broker.key").string() + "\n" +
                       "tls_version tlsv1.2\n" +
                       "require_certificate " + (require_certificate ? "true" : "false") + "\n";
    broker = std::make_unique<Broker>(Broker::Options{.dynsec = false, .admin_user = "", .admin_password = "",
                                                      .extra_config = conf});
    REQUIRE(wait_until([&] { return port_accepts(tls_port); }, 10s));
  }

  std::string url() const { return "ssl://127.0.0.1:" + std::to_string(tls_port); }
  // The same listener by a name its certificate does not list (when made for another host).
  std::string url_by_localhost() const { return "ssl://localhost:" + std::to_string(tls_port); }
  std::string ca() const { return (pki / "ca.crt").string(); }
};

// kiosk-firmware with simulated buttons, dialling `url` over TLS with the venue CA.
Child start_terminal(const TlsBroker& b, const std::string& device, const std::string& url,
                     std::vector<std::string> extra = {}) {
  std::vector<std::string> argv{(bin_dir() / "kiosk-firmware").string(), "--site", "venue", "--device", device,
                                "--broker", url, "--ca-file", b.ca(), "--board", "sim-4", "--boards-dir",
                                (source_dir() / "boards").string(), "--data-dir", (b.tmp / device).string(),
                                "--sim-input", (b.tmp / (device + ".fifo")).string(), "--reconnect-max-s", "1"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  return Child(argv, Child::Options{.env = {}, .log_file = b.tmp / (device + ".log"), .working_dir = {}});
}

bool is_online(const Message& m, const std::string& device) {
  return m.topic == "kiosk/v1/venue/device/" + device + "/status" && m.payload.find("\"online\"") != std::string::npos;
}

// Connects over TLS with the given trust store and optional client certificate.
bool tls_connects(const std::string& url, const std::string& ca, const std::string& cert = {},
                  const std::string& key = {}) {
  mqtt::async_client client(url, "tls-probe-" + std::to_string(::getpid()));
  auto ssl = mqtt::ssl_options_builder().enable_server_cert_auth(true).verify(true);
  if (!ca.empty()) ssl.trust_store(ca);
  if (!cert.empty()) ssl.key_store(cert);
  if (!key.empty()) ssl.private_key(key);
  auto opts = mqtt::connect_options_builder().clean_session(true).connect_timeout(5s).ssl(ssl.finalize()).finalize();
  try {
    auto tok = client.connect(opts);
    if (!tok->wait_for(8s) || !client.is_connected()) return false;
    client.disconnect()->wait_for(2s);
    return true;
  } catch (const mqtt::exception&) {
    return false;
  }
}

}  // namespace

TEST_CASE("kiosk-pki creates a CA, a broker and a device certificate with private keys", "[integration]") {
  TempDir tmp;
  const auto pki = tmp / "pki";
  REQUIRE(run_kiosk_pki({"init", "--dir", pki.string(), "--venue", "hotel"}, tmp / "a.log") == 0);
  REQUIRE(run_kiosk_pki({"broker", "--dir", pki.string(), "--host", "hub.local", "--dns", "hub.lan", "--ip", "10.0.0.5"},
                  tmp / "b.log") == 0);
  REQUIRE(run_kiosk_pki({"device", "--dir", pki.string(), "--id", "desk-1"}, tmp / "c.log") == 0);
  CHECK(file_mode(pki / "ca.key") == 0600);
  CHECK(file_mode(pki / "devices" / "desk-1.key") == 0600);  // the broker's key: tests/tools/test_kiosk_pki.cpp
  CHECK(fs::exists(pki / "ca.crt"));
  CHECK(fs::exists(pki / "broker.crt"));
  CHECK(fs::exists(pki / "devices" / "desk-1.crt"));
  Child verify({"openssl", "verify", "-CAfile", (pki / "ca.crt").string(), (pki / "broker.crt").string(),
                (pki / "devices" / "desk-1.crt").string()},
               Child::Options{.env = {}, .log_file = tmp / "verify.log", .working_dir = {}});
  CHECK(verify.wait(10s) == 0);
  Child san({"openssl", "x509", "-noout", "-ext", "subjectAltName", "-in", (pki / "broker.crt").string()},
            Child::Options{.env = {}, .log_file = tmp / "san.log", .working_dir = {}});
  CHECK(san.wait(10s) == 0);
  CHECK_THAT(san.log(), Catch::Contains("DNS:hub.local") && Catch::Contains("DNS:hub.lan") &&
                            Catch::Contains("IP Address:127.0.0.1") && Catch::Contains("IP Address:0:0:0:0:0:0:0:1") &&
                            Catch::Contains("IP Address:10.0.0.5"));
  // No key is ever printed.
  for (const auto* log : {"a.log", "b.log", "c.log"}) {
    std::ifstream in(tmp / log);
    std::string text((std::istreambuf_iterator<char>(in)), {});
    CHECK(text.find("PRIVATE KEY") == std::string::npos);
  }
}

TEST_CASE("kiosk-pki refuses to overwrite a CA and reports usage errors with exit code 2", "[integration]") {
  TempDir tmp;
  const auto pki = tmp / "pki";
  REQUIRE(run_kiosk_pki({"init", "--dir", pki.string(), "--venue", "hotel"}, tmp / "a.log") == 0);
  CHECK(run_kiosk_pki({"init", "--dir", pki.string(), "--venue", "hotel"}, tmp / "b.log") == 1);
  CHECK(run_kiosk_pki({"device", "--dir", pki.string()}, tmp / "c.log") == 2);
  CHECK(run_kiosk_pki({"device", "--dir", pki.string(), "--id", "Bad Id"}, tmp / "d.log") == 2);
  CHECK(run_kiosk_pki({"frobnicate"}, tmp / "e.log") == 2);
  CHECK(run_kiosk_pki({"broker", "--help"}, tmp / "f.log") == 0);
  CHECK(run_kiosk_pki({"broker", "--dir", pki.string(), "--host", "h", "--ip", "hub.lan"}, tmp / "h.log") == 2);
  CHECK(run_kiosk_pki({"device", "--dir", (tmp / "empty").string(), "--id", "desk-1"}, tmp / "g.log") == 1);
}

TEST_CASE("a client that trusts the venue CA connects over TLS and one that does not is refused", "[integration]") {
  TlsBroker b(false);
  CHECK(tls_connects(b.url(), (b.pki / "ca.crt").string()));
  // A different venue's CA must not be accepted for this broker.
  const auto other = b.tmp / "other";
  REQUIRE(run_kiosk_pki({"init", "--dir", other.string(), "--venue", "elsewhere"}, b.tmp / "o.log") == 0);
  CHECK_FALSE(tls_connects(b.url(), (other / "ca.crt").string()));
}

TEST_CASE("a broker that requires client certificates accepts a device certificate only", "[integration]") {
  TlsBroker b(true);
  const auto ca = (b.pki / "ca.crt").string();
  CHECK(tls_connects(b.url(), ca, (b.pki / "devices" / "desk-1.crt").string(),
                     (b.pki / "devices" / "desk-1.key").string()));
  CHECK_FALSE(tls_connects(b.url(), ca));
}

TEST_CASE("a terminal checks that the broker's certificate names the address it dials, unless told not to",
          "[integration]") {
  TlsBroker b(false, "hub.test");  // names hub.test and 127.0.0.1, not localhost
  MqttProbe probe(b.broker->url());
  probe.connect();
  REQUIRE(probe.subscribe("kiosk/v1/venue/device/+/status") == 1);

  auto by_address = start_terminal(b, "tls-ip", b.url());
  CHECK(probe.wait_for([](const Message& m) { return is_online(m, "tls-ip"); }, 15s));

  auto wrong_name = start_terminal(b, "tls-name", b.url_by_localhost());
  CHECK(wait_until([&] { return wrong_name.log().find("TLS refused") != std::string::npos; }, 15s));
  CHECK_THAT(wrong_name.log(), Catch::Contains("names localhost") && Catch::Contains("tls.verify_host false"));
  CHECK(probe.count([](const Message& m) { return is_online(m, "tls-name"); }) == 0);

  auto told = start_terminal(b, "tls-told", b.url_by_localhost(), {"--tls-verify-host", "false"});
  CHECK(probe.wait_for([](const Message& m) { return is_online(m, "tls-told"); }, 15s));
}

TEST_CASE("the hub checks that the broker's certificate names the address it dials, unless told not to",
          "[integration]") {
  TlsBroker b(false, "hub.test");
  MqttProbe probe(b.broker->url());
  probe.connect();
  REQUIRE(probe.subscribe("kiosk/v1/+/hub/status") == 1);
  auto hub = [&](const std::string& site, const std::string& url, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{(bin_dir() / "kiosk-hub").string(), "--site", site, "--broker", url,
                                  "--ca-file", b.ca(), "--db", (b.tmp / (site + ".db")).string(),
                                  "--http", "127.0.0.1:0"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return Child(argv, Child::Options{.env = {}, .log_file = b.tmp / (site + ".log"), .working_dir = {}});
  };
  auto online = [&](const std::string& site) {
    return [site](const Message& m) {
      return m.topic == "kiosk/v1/" + site + "/hub/status" && m.payload.find("\"online\"") != std::string::npos;
    };
  };

  auto by_address = hub("by-ip", b.url());
  CHECK(probe.wait_for(online("by-ip"), 15s));

  auto wrong_name = hub("by-name", b.url_by_localhost());
  CHECK(wait_until([&] { return wrong_name.log().find("cannot connect to " + b.url_by_localhost()) != std::string::npos; },
                   15s));
  CHECK_THAT(wrong_name.log(), Catch::Contains("TLS handshake failed") && Catch::Contains("--tls-verify-host false"));
  CHECK(probe.count(online("by-name")) == 0);

  auto told = hub("told", b.url_by_localhost(), {"--tls-verify-host", "false"});
  CHECK(probe.wait_for(online("told"), 15s));
}
