// The API token file: created once with mode 0600, then reused; bearer headers compared exactly.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "kiosk/hub/access_token.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::hub;

TEST_CASE("the token is created once, readable only by its owner, and reused on the next start") {
  kiosk::test::TempDir dir;
  auto path = (dir / "hub.token").string();
  auto first = load_or_create_token(path);
  CHECK(first.size() == 64);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  CHECK(load_or_create_token(path) == first);
}

TEST_CASE("only the exact bearer token authorizes") {
  CHECK(bearer_matches("Bearer abcdef0123456789", "abcdef0123456789"));
  CHECK(bearer_matches("bearer abcdef0123456789", "abcdef0123456789"));  // the scheme ignores case
  CHECK(bearer_matches("BEARER abcdef0123456789", "abcdef0123456789"));
  CHECK_FALSE(bearer_matches("Bearer ABCDEF0123456789", "abcdef0123456789"));  // the token does not
  CHECK_FALSE(bearer_matches("Basic abcdef0123456789", "abcdef0123456789"));
  CHECK_FALSE(bearer_matches("Bearer abcdef012345678", "abcdef0123456789"));
  CHECK_FALSE(bearer_matches("Bearer abcdef01234567890", "abcdef0123456789"));
  CHECK_FALSE(bearer_matches("abcdef0123456789", "abcdef0123456789"));
  CHECK_FALSE(bearer_matches("", "abcdef0123456789"));
  CHECK_FALSE(bearer_matches("Bearer ", ""));
}

TEST_CASE("reads without the token answer to the hub's own names only, not to a page that rebinds its DNS name") {
  const std::vector<std::string> names{"venue-hub", "venue-hub.local"};
  CHECK(host_is_ours("127.0.0.1:8080", names));
  CHECK(host_is_ours("192.168.1.20", names));
  CHECK(host_is_ours("[::1]:8080", names));
  CHECK(host_is_ours("::1", names));  // a bare IPv6 address (no port) is no DNS name either
  CHECK(host_is_ours("localhost:8080", names));
  CHECK(host_is_ours("LocalHost.", names));
  CHECK(host_is_ours("venue-hub:8080", names));
  CHECK(host_is_ours("Venue-Hub.local.:8080", names));
  CHECK(host_is_ours("", names));  // HTTP/1.0 tools; browsers always send a Host
  CHECK_FALSE(host_is_ours("attacker.example:8080", names));
  CHECK_FALSE(host_is_ours("127.0.0.1.attacker.example", names));
  CHECK_FALSE(host_is_ours("localhost.attacker.example", names));
  CHECK_FALSE(host_is_ours("venue-hub.attacker.example", names));
  CHECK_FALSE(host_is_ours("venue-hub:80x", names));
  CHECK_FALSE(host_is_ours("[::1", names));
  CHECK_FALSE(host_is_ours("[evil]:8080", names));
  CHECK_FALSE(host_is_ours("venue-hub", {}));
}
