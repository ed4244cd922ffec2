// Press age across restarts: CLOCK_BOOTTIME within a boot, wall clock across boots.
#include "kiosk/firmware/press_time.hpp"

#include <sys/timex.h>
#include <time.h>

#include <algorithm>
#include <fstream>

#include "kiosk/protocol/messages.hpp"

namespace kiosk::firmware {

std::optional<std::uint64_t> age_ms(const PressTime& then, const PressTime& now) {
  std::int64_t diff = 0;
  if (then.boot_id == now.boot_id && !then.boot_id.empty()) {
    // BOOTTIME never goes back within a boot; clamp anyway rather than send a negative age.
    diff = std::max<std::int64_t>(0, (now.boottime_ns - then.boottime_ns) / 1'000'000);
  } else {
    if (!wall_clock_plausible(then.wall_ms) || !wall_clock_plausible(now.wall_ms)) return std::nullopt;
    diff = now.wall_ms - then.wall_ms;
    // A reboot takes seconds: a press "after" now means one of the two clocks was wrong.
    if (diff < 0) return std::nullopt;
  }
  auto age = static_cast<std::uint64_t>(diff);
  if (age > protocol::kMaxPressAgeMs) return std::nullopt;  // the hub would refuse it forever
  return age;
}

SystemPressClock::SystemPressClock() {
  std::ifstream in("/proc/sys/kernel/random/boot_id");
  std::getline(in, boot_id_);
}

bool SystemPressClock::synchronized() {
  timex tx{};  // modes 0: read only, no privilege needed
  int rc = ::ntp_adjtime(&tx);
  return wall_clock_synchronized(rc, tx.maxerror);
}

PressTime SystemPressClock::now() const {
  timespec boot{};
  timespec wall{};
  clock_gettime(CLOCK_BOOTTIME, &boot);
  clock_gettime(CLOCK_REALTIME, &wall);
  std::int64_t wall_ms = synchronized() ? std::int64_t{wall.tv_sec} * 1000 + wall.tv_nsec / 1'000'000 : 0;
  return PressTime{boot_id_, std::int64_t{boot.tv_sec} * 1'000'000'000 + boot.tv_nsec, wall_ms};
}

std::string press_nonce(const PressTime& at) {
  // FNV-1a, 64 bits: not a secret, only distinct for distinct presses.
  std::uint64_t h = 0xcbf29ce484222325ULL;
  const auto mix = [&](std::string_view bytes) {
    for (unsigned char c : bytes) {
      h ^= c;
      h *= 0x100000001b3ULL;
    }
  };
  mix(at.boot_id);
  mix(":");
  mix(std::to_string(at.boottime_ns));
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(16, '0');
  for (int i = 15; i >= 0; --i, h >>= 4) out[static_cast<std::size_t>(i)] = kHex[h & 0xf];
  return out;
}

}  // namespace kiosk::firmware
