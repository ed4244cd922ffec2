// Identifier rules: what is accepted, what is refused, and how the refusal reads.
#include <catch2/catch.hpp>

#include "protocol_test.hpp"

namespace kiosk::protocol {
namespace {

TEST_CASE("identifiers of lower-case letters, digits and dashes are valid", "[protocol][ids]") {
  CHECK(is_valid_id("front-desk"));
  CHECK(is_valid_id("a-000017"));
  CHECK(is_valid_id("0"));
  CHECK(is_valid_id("rpi-zero-2w"));
  CHECK(is_valid_id("x-"));
}

TEST_CASE("an identifier is 1 to 63 characters long", "[protocol][ids]") {
  CHECK_FALSE(is_valid_id(""));
  CHECK(is_valid_id(std::string(1, 'a')));
  CHECK(is_valid_id(std::string(63, 'a')));
  CHECK_FALSE(is_valid_id(std::string(64, 'a')));
  CHECK(kMaxIdLength == 63);
}

TEST_CASE("an identifier starts with a letter or a digit, never a dash", "[protocol][ids]") {
  CHECK_FALSE(is_valid_id("-a"));
  CHECK_FALSE(is_valid_id("-"));
  CHECK(is_valid_id("a-"));
  CHECK(is_valid_id("9-"));
}

TEST_CASE("upper case, spaces, punctuation, wildcards and bytes outside ASCII are refused", "[protocol][ids]") {
  for (const std::string_view bad : {"A", "front desk", "a_b", "a.b", "a/b", "+", "#", "caf\xc3\xa9", "a\tb"}) {
    INFO(bad);
    CHECK_FALSE(is_valid_id(bad));
  }
  CHECK_FALSE(is_valid_id(std::string_view("a\0b", 3)));
}

TEST_CASE("check_id names the field and quotes the refused identifier", "[protocol][ids]") {
  CHECK_FALSE(check_id("config.location", "front-desk").has_value());
  const auto e = check_id("config.location", "Front Desk");
  REQUIRE(e.has_value());
  CHECK(e->field == "config.location");
  CHECK(e->message() ==
        "config.location: \"Front Desk\" is not a valid identifier (1-63 of a-z, 0-9, '-', starting with a letter or digit)");
}

TEST_CASE("a refused identifier is quoted printably and cut short in the error", "[protocol][ids]") {
  const auto e = check_id("id", std::string(200, 'Z') + "\n");
  REQUIRE(e.has_value());
  CHECK(e->reason.rfind("\"" + std::string(64, 'Z') + "...\" is not a valid identifier", 0) == 0);
  const auto ctl = check_id("id", std::string_view("a\0\x7f\"", 4));
  REQUIRE(ctl.has_value());
  CHECK(ctl->reason.rfind(R"("a\x00\x7f\"" is not)", 0) == 0);
}

TEST_CASE("an error without a field reads as its reason alone", "[protocol][ids]") {
  CHECK(Error{"", "is empty"}.message() == "is empty");
  CHECK(Error{"press.seq", "is missing"}.message() == "press.seq: is missing");
}

}  // namespace
}  // namespace kiosk::protocol
