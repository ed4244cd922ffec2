// On/off words in flags and settings files: the same set in the hub, the terminal and kioskctl.
#include <catch2/catch.hpp>

#include "kiosk/protocol/switch_word.hpp"

namespace kiosk::protocol {
namespace {

TEST_CASE("switch words: true/yes/on/1 and false/no/off/0, nothing else", "[protocol]") {
  for (const char* w : {"true", "yes", "on", "1"}) CHECK(parse_switch_word(w) == std::optional<bool>(true));
  for (const char* w : {"false", "no", "off", "0"}) CHECK(parse_switch_word(w) == std::optional<bool>(false));
  // Case and spaces are not guessed at: a settings file with "True " is told so.
  for (const char* w : {"", "True", "YES", " on", "1 ", "2", "enabled", "maybe"}) CHECK_FALSE(parse_switch_word(w));
}

}  // namespace
}  // namespace kiosk::protocol
