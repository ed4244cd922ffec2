// tools/kiosk-pki's files: keys for their owner alone, folders and certificates readable, and the
// broker's key for the mosquitto user that reads it.
#include <catch2/catch.hpp>

#include <grp.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kiosk_test.hpp"

using namespace kiosk::test;
using namespace std::chrono_literals;

namespace {

gid_t group_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_gid;
}

}  // namespace

TEST_CASE("kiosk-pki makes readable folders and certificates, private keys, and a broker key mosquitto can read") {
  TempDir tmp;
  const auto pki = tmp / "etc" / "kiosk" / "pki";  // parents made on the way, as for /etc/kiosk/pki
  REQUIRE(run_kiosk_pki({"init", "--dir", pki.string(), "--venue", "hotel"}, tmp / "init.log") == 0);
  REQUIRE(run_kiosk_pki({"broker", "--dir", pki.string(), "--host", "hub.local"}, tmp / "broker.log") == 0);
  REQUIRE(run_kiosk_pki({"device", "--dir", pki.string(), "--id", "desk-1"}, tmp / "device.log") == 0);

  // mosquitto, started as root, reads the CA and its certificate as the mosquitto user.
  CHECK(file_mode(tmp / "etc") == 0755);
  CHECK(file_mode(tmp / "etc" / "kiosk") == 0755);
  CHECK(file_mode(pki) == 0755);
  CHECK(file_mode(pki / "devices") == 0755);
  CHECK(file_mode(pki / "ca.crt") == 0644);
  CHECK(file_mode(pki / "broker.crt") == 0644);
  CHECK(file_mode(pki / "devices" / "desk-1.crt") == 0644);
  CHECK(file_mode(pki / "ca.key") == 0600);
  CHECK(file_mode(pki / "devices" / "desk-1.key") == 0600);

  const group* mosquitto = ::getgrnam("mosquitto");
  if (::geteuid() == 0 && mosquitto != nullptr) {
    // As root (how a venue sets up its broker), the key goes to mosquitto's group, read-only.
    CHECK(file_mode(pki / "broker.key") == 0640);
    CHECK(group_of(pki / "broker.key") == mosquitto->gr_gid);
    CHECK(slurp(tmp / "broker.log").find("readable by group mosquitto") != std::string::npos);
  } else {
    CHECK(file_mode(pki / "broker.key") == 0600);
  }
}
