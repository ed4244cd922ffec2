// Identifiers (site, device, location, manager, alert id): 1-63 of a-z 0-9 '-', first a letter or digit.
#pragma once

#include <optional>
#include <string_view>

#include "kiosk/protocol/result.hpp"

namespace kiosk::protocol {

inline constexpr std::size_t kMaxIdLength = 63;

bool is_valid_id(std::string_view id);

// nullopt when valid; otherwise Error{field, "\"Front Desk\" is not a valid identifier (1-63 of a-z, 0-9, '-', ...)"}.
std::optional<Error> check_id(std::string_view field, std::string_view id);

}  // namespace kiosk::protocol
