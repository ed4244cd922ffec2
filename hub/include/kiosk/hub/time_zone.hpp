// Venue local time: the offset from UTC at any instant, from the tz database (TZif files, RFC 8536)
// or a POSIX TZ rule, so on-duty hours, hour-of-week baselines and report days follow daylight
// saving time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/protocol/result.hpp"
#include "kiosk/protocol/time.hpp"

namespace kiosk::hub {

using protocol::WallTime;

// Where Debian's tzdata package puts the tz database.
inline constexpr std::string_view kZoneinfo = "/usr/share/zoneinfo";
// The tz database to read: $TZDIR when set (as for the C library), else kZoneinfo.
std::string zoneinfo_dir();

// An immutable, cheaply copied time zone. The default is UTC.
class TimeZone {
 public:
  TimeZone() = default;

  // A fixed offset, named "UTC" or like "UTC+01:00", "UTC-03:30".
  static TimeZone fixed(std::chrono::minutes offset);
  // A POSIX TZ rule, as in the last line of a TZif file: "CET-1CEST,M3.5.0,M10.5.0/3",
  // "<+0530>-5:30", "EST5EDT" (US rules when a daylight saving name comes without its rule).
  static protocol::Result<TimeZone> from_posix(std::string_view rule);
  // A TZif file's bytes (version 2 or later), to be called `name`.
  static protocol::Result<TimeZone> from_tzif(std::string name, std::string_view bytes);

  std::chrono::seconds offset_at(WallTime t) const;
  // The venue's wall clock at t, as a time point: t + offset_at(t).
  WallTime local(WallTime t) const { return t + offset_at(t); }
  // The first instant whose wall clock reads `local` (the earlier one when the clocks go back).
  // In the hour the clocks skip, the instant as if they had not gone forward yet: 02:30 is read
  // as standard time, which the clocks show as 03:30.
  WallTime from_local(WallTime local) const;
  // The first instant after t where the offset changes; none when it never changes again.
  std::optional<WallTime> next_change(WallTime t) const;
  // "Europe/Berlin", the POSIX rule, or "UTC+01:00".
  const std::string& name() const;
  // The first offset in force from t on that is not a whole quarter hour (every zone's since 1980).
  std::optional<std::chrono::seconds> off_quarter_offset_from(WallTime t) const;

  // Same name and the same offsets at every instant.
  friend bool operator==(const TimeZone& a, const TimeZone& b);

 private:
  struct Change {
    std::int64_t at_s;      // from this second since the epoch (UTC) ...
    std::int32_t offset_s;  // ... local time is UTC + this
  };
  struct Rules {
    std::string name;
    std::int32_t initial_s = 0;   // before the first change
    std::vector<Change> changes;  // by time; every change changes the offset
  };
  explicit TimeZone(std::shared_ptr<const Rules> rules) : rules_(std::move(rules)) {}
  // The first change after t (rules_ set); changes.end() when none.
  std::vector<Change>::const_iterator first_change_after(WallTime t) const;
  friend struct TimeZoneBuilder;

  std::shared_ptr<const Rules> rules_;  // none: UTC
};

// "UTC", "UTC+01:00", "UTC-03:30" (seconds dropped).
std::string utc_offset_name(std::chrono::seconds offset);

// A time zone by name: a tz database name ("Europe/Berlin", "UTC", read from `zoneinfo`) or a
// POSIX TZ rule. The error says what was tried and what to do.
protocol::Result<TimeZone> load_time_zone(std::string_view name, const std::string& zoneinfo = zoneinfo_dir());

// Notices when the tz database file behind a zone name is replaced, changed, appears or goes (a
// tzdata update installs new rules while the hub runs for months). Compares the file's device,
// inode, size and modification time; a POSIX rule, which has no file, never changes.
class ZoneFileWatch {
 public:
  explicit ZoneFileWatch(std::string name, std::string zoneinfo = zoneinfo_dir());
  // Whether the file differs from what it was at the last call (or at construction).
  bool changed();
  const std::string& name() const { return name_; }
  const std::string& zoneinfo() const { return zoneinfo_; }

 private:
  struct Identity {
    bool exists = false;
    unsigned long long device = 0, inode = 0;
    long long size = 0, mtime_ns = 0;
    bool operator==(const Identity&) const = default;
  };
  Identity identity() const;

  std::string name_;
  std::string zoneinfo_;
  Identity seen_;
};

}  // namespace kiosk::hub
