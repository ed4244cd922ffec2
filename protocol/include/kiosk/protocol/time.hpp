// Wall-clock times on the wire: RFC 3339 UTC with milliseconds, "2026-11-22T14:03:05.120Z".
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "kiosk/protocol/result.hpp"

namespace kiosk::protocol {

using WallTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

std::string format_time(WallTime t);

// For people rather than the wire, same calendar as format_time. UTC: add a UTC offset to `t`
// first for a venue's local date or time.
std::string format_date(WallTime t);    // "2026-11-22"
std::string format_minute(WallTime t);  // "2026-11-22 14:03" (seconds dropped, not rounded)

// Strict: exactly YYYY-MM-DDTHH:MM:SS.mmmZ, a real calendar date. `field` names the error.
Result<WallTime> parse_time(std::string_view text, std::string_view field = "time");

}  // namespace kiosk::protocol
