// Reconnect delays: capped exponential backoff with jitter, randomness injected.
#pragma once

#include "kiosk/firmware/press_logic.hpp"

namespace kiosk::firmware {

// Delay n (0-based) is uniformly drawn in [cap_n/2, cap_n] with cap_n = min(max, min * 2^n):
// terminals that lost the broker together do not all come back in the same instant.
class Backoff {
 public:
  Backoff(Millis min, Millis max) : min_(min), max_(max) {}
  // `unit` is a random number in [0, 1).
  Millis next(double unit);
  void reset() { attempt_ = 0; }
  int attempt() const { return attempt_; }

 private:
  Millis min_;
  Millis max_;
  int attempt_ = 0;
};

}  // namespace kiosk::firmware
