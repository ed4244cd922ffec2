// On/off settings written as words, the same in every program's flags and settings files (not on
// the wire: JSON payloads and device files use JSON true/false).
#pragma once

#include <optional>
#include <string_view>

namespace kiosk::protocol {

// true/yes/on/1 and false/no/off/0, lower case; nullopt for anything else.
constexpr std::optional<bool> parse_switch_word(std::string_view word) {
  for (std::string_view w : {"true", "yes", "on", "1"})
    if (word == w) return true;
  for (std::string_view w : {"false", "no", "off", "0"})
    if (word == w) return false;
  return std::nullopt;
}

// For error messages: "\"maybe\" is not one of true/yes/on/1 or false/no/off/0".
inline constexpr std::string_view kSwitchWords = "true/yes/on/1 or false/no/off/0";

}  // namespace kiosk::protocol
