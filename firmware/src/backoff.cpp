// Capped exponential backoff with "equal jitter".
#include "kiosk/firmware/backoff.hpp"

#include <algorithm>

namespace kiosk::firmware {

Millis Backoff::next(double unit) {
  Millis cap = min_;
  for (int i = 0; i < attempt_ && cap < max_; ++i) cap *= 2;
  cap = std::min(cap, max_);
  if (attempt_ < 64) ++attempt_;
  unit = std::clamp(unit, 0.0, 1.0);
  auto half = cap.count() / 2;
  return Millis{half + static_cast<Millis::rep>(unit * static_cast<double>(cap.count() - half))};
}

}  // namespace kiosk::firmware
