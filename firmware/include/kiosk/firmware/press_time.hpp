// When a press happened, in a form that still yields its age after a restart or a reboot.
//
// Choice: we store CLOCK_BOOTTIME (monotonic, counts suspend, survives process restarts)
// together with the kernel boot id, plus the wall clock as a fallback. Same boot id: age is
// the BOOTTIME difference (exact, immune to wall-clock steps). Different boot (power loss):
// BOOTTIME restarted, so the wall-clock difference is the only estimate; a negative one (clock
// not yet set after boot) is reported as 0 rather than invented.
#pragma once

#include <cstdint>
#include <string>

namespace kiosk::firmware {

struct PressTime {
  std::string boot_id;         // /proc/sys/kernel/random/boot_id
  std::int64_t boottime_ns = 0;  // CLOCK_BOOTTIME
  std::int64_t wall_ms = 0;      // CLOCK_REALTIME, ms since the epoch
  friend bool operator==(const PressTime&, const PressTime&) = default;
};

// Milliseconds from `then` to `now`, never negative.
std::uint64_t age_ms(const PressTime& then, const PressTime& now);

// Reads the clocks of this machine (the only non-pure part, kept next to the type it fills).
class SystemPressClock {
 public:
  SystemPressClock();  // reads the boot id once
  PressTime now() const;

 private:
  std::string boot_id_;
};

}  // namespace kiosk::firmware
