// Read-only looks into the hub's database and the terminals' outboxes (SQLite, WAL: safe while
// the hub and the terminals keep writing).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "verdict.hpp"

namespace kiosk::faults {

// Every stored press of the site, by device, in seq order (duplicates, if any, kept).
// nullopt (and `error` set) when the database cannot be read.
std::optional<std::map<std::string, std::vector<StoredRow>>> read_stored(const std::filesystem::path& hub_db,
                                                                        const std::string& site, std::string& error);

// Rows still waiting in a terminal's outbox; nullopt when it cannot be read.
std::optional<std::uint64_t> outbox_depth(const std::filesystem::path& outbox_db);

}  // namespace kiosk::faults
