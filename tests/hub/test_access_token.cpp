// The API token file: created once with mode 0600, then reused; bearer headers compared exactly.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include "kiosk/hub/access_token.hpp"
#include "kiosk/hub/manager_tokens.hpp"
#include "kiosk/hub/sqlite_store.hpp"
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

TEST_CASE("SHA-256 digests are the standard ones") {
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

TEST_CASE("a manager's API token names its manager, a new one replaces it, and both outlive a restart") {
  kiosk::test::TempDir dir;
  const auto path = (dir / "hub.db").string();
  std::string first;
  std::string second;
  std::string bob;
  {
    SqliteStore store(path, "site-a");
    ManagerTokens tokens(store.database(), "site-a");
    CHECK_FALSE(tokens.manager_for("Bearer anything"));
    auto issued = tokens.issue("alice", 1000);
    REQUIRE(issued.token);
    first = *issued.token;
    CHECK(first.size() == 64);
    CHECK(tokens.manager_for("Bearer " + first) == std::optional<std::string>("alice"));
    CHECK(tokens.manager_for("bearer " + first) == std::optional<std::string>("alice"));
    CHECK_FALSE(tokens.manager_for("Bearer " + first.substr(1)));
    CHECK_FALSE(tokens.manager_for(first));  // no scheme
    second = *tokens.issue("alice", 2000).token;
    CHECK(second != first);
    CHECK_FALSE(tokens.manager_for("Bearer " + first));  // the one before stops working at once
    const auto bobs = tokens.issue("bob", 3000);
    REQUIRE(bobs.token);
    bob = *bobs.token;
    CHECK(tokens.managers() == std::vector<std::string>{"alice", "bob"});
  }
  {
    SqliteStore store(path, "site-a");
    ManagerTokens tokens(store.database(), "site-a");
    CHECK(tokens.manager_for("Bearer " + second) == std::optional<std::string>("alice"));
    CHECK_FALSE(tokens.manager_for("Bearer " + first));
    auto revoked = tokens.revoke("alice");
    CHECK(revoked.had_token);
    CHECK_FALSE(revoked.error);
    CHECK_FALSE(tokens.manager_for("Bearer " + second));
    CHECK_FALSE(tokens.revoke("alice").had_token);
    // Another site's hub on the same file sees none of them.
    ManagerTokens other(store.database(), "site-b");
    CHECK(other.managers().empty());
  }
  SqliteStore store(path, "site-a");
  CHECK(ManagerTokens(store.database(), "site-a").managers() == std::vector<std::string>{"bob"});
  // Only digests are stored: the database holds no usable token.
  Statement s(store.database(), "SELECT token_sha256 FROM manager_tokens WHERE manager = 'bob'");
  REQUIRE(s.step());
  CHECK(s.column_text(0) == sha256_hex(bob));
}
