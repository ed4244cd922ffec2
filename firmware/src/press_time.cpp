// Press age across restarts: CLOCK_BOOTTIME within a boot, wall clock across boots.
#include "kiosk/firmware/press_time.hpp"

#include <time.h>

#include <fstream>

namespace kiosk::firmware {

std::uint64_t age_ms(const PressTime& then, const PressTime& now) {
  std::int64_t diff = then.boot_id == now.boot_id && !then.boot_id.empty()
                          ? (now.boottime_ns - then.boottime_ns) / 1'000'000
                          : now.wall_ms - then.wall_ms;
  return diff > 0 ? static_cast<std::uint64_t>(diff) : 0;
}

SystemPressClock::SystemPressClock() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::getline(in, boot_id_);
}

PressTime SystemPressClock::now() const {
  timespec boot{};
  timespec wall{};
  clock_gettime(CLOCK_BOOTTIME, &boot);
  clock_gettime(CLOCK_REALTIME, &wall);
  return PressTime{boot_id_, std::int64_t{boot.tv_sec} * 1'000'000'000 + boot.tv_nsec,
                   std::int64_t{wall.tv_sec} * 1000 + wall.tv_nsec / 1'000'000};
}

}  // namespace kiosk::firmware
