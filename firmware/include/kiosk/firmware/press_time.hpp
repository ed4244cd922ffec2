// When a press happened, in a form that still yields its age after a restart or a reboot.
//
// Choice: we store CLOCK_BOOTTIME (monotonic, counts suspend, survives process restarts)
// together with the kernel boot id, plus the wall clock as a fallback. Same boot id: age is
// the BOOTTIME difference (exact, immune to wall-clock steps). Different boot (power loss):
// BOOTTIME restarted, so the wall-clock difference is the only estimate, and only when both
// wall times were known. The wall clock is recorded only while the kernel says it is
// synchronised (NTP): a board without a battery-backed clock boots on a restored (fake-hwclock)
// or built-in time that looks plausible but is behind by the downtime, and a venue LAN may have
// no NTP at all; such a time is stored as 0, "unknown". An age that cannot be known is not
// invented: the press goes out with age 0 and the "age-unknown" flag, and the hub dates it by
// its receipt.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "kiosk/protocol/messages.hpp"

namespace kiosk::firmware {

struct PressTime {
  std::string boot_id;         // /proc/sys/kernel/random/boot_id
  std::int64_t boottime_ns = 0;  // CLOCK_BOOTTIME
  std::int64_t wall_ms = 0;      // CLOCK_REALTIME, ms since the epoch; 0: unknown (not synchronised)
  friend bool operator==(const PressTime&, const PressTime&) = default;
};

// The earliest wall time this firmware believes (2026-01-01T00:00:00Z, ms since the epoch): it
// was built later, so an earlier clock is one that was never set. Seeds of new outboxes' seqs and
// cross-boot press ages both depend on it.
inline constexpr std::int64_t kPlausibleWallMs = 1'767'225'600'000;
inline bool wall_clock_plausible(std::int64_t wall_ms) { return wall_ms >= kPlausibleWallMs; }

using protocol::kAgeUnknownFlag;  // sent with age_ms 0 when the age cannot be known

// The press's nonce (protocol extension): 16 hex digits of a hash of its boot id and boot-clock
// time, the same on every re-send and, for another press, another one (two presses are never at
// the same nanosecond of one boot). Lets the hub tell a re-send from a new press under a seq it
// already holds.
std::string press_nonce(const PressTime& at);

// Milliseconds from `then` to `now`; nullopt when it cannot be known: across boots with an
// implausible or backwards wall clock, or beyond the protocol's age cap (a broken clock).
std::optional<std::uint64_t> age_ms(const PressTime& then, const PressTime& now);

// Whether the kernel's wall clock is synchronised, from ntp_adjtime()/adjtimex()'s result and
// reported maximum error: the test systemd's timedatectl uses (ntp_synced(): the call succeeded
// and maxerror is below 16 s; STA_UNSYNC is ignored).
inline constexpr long kSyncedMaxErrorUs = 16'000'000;
inline bool wall_clock_synchronized(int adjtimex_result, long maxerror_us) {
  return adjtimex_result >= 0 && maxerror_us < kSyncedMaxErrorUs;
}

// Reads the clocks of this machine (the only non-pure part, kept next to the type it fills).
class SystemPressClock {
 public:
  SystemPressClock();  // reads the boot id once
  // wall_ms is 0 ("unknown") while the kernel does not call the wall clock synchronised.
  PressTime now() const;
  static bool synchronized();  // asks the kernel now

 private:
  std::string boot_id_;
};

}  // namespace kiosk::firmware
