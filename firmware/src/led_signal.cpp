// LED patterns as a function of time: thank-you, refused, offline.
#include "kiosk/firmware/led_signal.hpp"

namespace kiosk::firmware {

void LedSignal::thanks(TimePoint now, Millis duration) {
  foreground_ = LedMode::thanks;
  fg_start_ = now;
  fg_end_ = now + duration;
}

void LedSignal::refused(TimePoint now) {
  foreground_ = LedMode::refused;
  fg_start_ = now;
  fg_end_ = now + 2 * kBlink * kRefusedBlinks;
}

void LedSignal::set_offline(bool offline, TimePoint now) {
  if (offline && !offline_) offline_since_ = now;
  offline_ = offline;
}

LedMode LedSignal::mode(TimePoint now) const {
  if (foreground_ != LedMode::idle && now < fg_end_) return foreground_;
  return offline_ ? LedMode::offline : LedMode::idle;
}

bool LedSignal::lit(TimePoint now) const {
  switch (mode(now)) {
    case LedMode::thanks:
      return true;
    case LedMode::refused:
      return ((now - fg_start_) / kBlink) % 2 == 0;
    case LedMode::offline:
      return (now - offline_since_) % kOfflinePeriod < kOfflineBlip;
    case LedMode::idle:
      break;
  }
  return false;
}

std::optional<TimePoint> LedSignal::next_change(TimePoint now) const {
  switch (mode(now)) {
    case LedMode::thanks:
      return fg_end_;
    case LedMode::refused: {
      auto n = (now - fg_start_) / kBlink + 1;
      return fg_start_ + n * kBlink;
    }
    case LedMode::offline: {
      auto into = (now - offline_since_) % kOfflinePeriod;
      auto period_start = now - into;
      return into < kOfflineBlip ? period_start + kOfflineBlip : period_start + kOfflinePeriod;
    }
    case LedMode::idle:
      break;
  }
  return std::nullopt;
}

}  // namespace kiosk::firmware
