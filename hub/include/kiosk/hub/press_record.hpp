// A press as the hub stores it: validated, placed at a location and timestamped on the hub's wall clock.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "kiosk/protocol/time.hpp"

namespace kiosk::hub {

struct PressRecord {
  std::string device;
  std::uint64_t seq = 0;
  std::string location;
  int button = 0;
  int rating = 0;
  int scale = 0;
  std::vector<std::string> flags;
  std::int64_t pressed_at_ms = 0;   // hub receive wall time - age_ms
  std::int64_t received_at_ms = 0;  // hub receive wall time
  std::string nonce;                // the press's own name from the device (optional; empty: none)
};

// Filters for the recent-presses listing, newest first.
struct PressQuery {
  std::optional<std::string> device;
  std::optional<std::string> location;
  std::optional<protocol::WallTime> since;
  std::size_t limit = 100;
};

}  // namespace kiosk::hub
