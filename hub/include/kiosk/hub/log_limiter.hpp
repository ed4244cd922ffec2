// Repeated warnings, logged at most once per period: a confused client, a full disk or a cloned
// terminal must not flood the log, and the next line says how many were held back meanwhile.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "kiosk/hub/clock.hpp"

namespace kiosk::hub {

// One warning's gate.
class LogGate {
 public:
  explicit LogGate(SteadyTime::duration every) : every_(every) {}
  // nullopt while too early (the occurrence is counted); else how many were held back since the
  // last one logged (0 the first time).
  std::optional<std::uint64_t> allow(SteadyTime now) {
    if (said_ && now - said_at_ < every_) {
      ++held_;
      return std::nullopt;
    }
    said_ = true;
    said_at_ = now;
    return std::exchange(held_, 0);
  }
  // The condition is over: the next occurrence is logged at once.
  void reset() {
    said_ = false;
    held_ = 0;
  }

 private:
  SteadyTime::duration every_;
  bool said_ = false;
  SteadyTime said_at_{};
  std::uint64_t held_ = 0;
};

// A gate per key (a device, a reason). Bounded: past `max_keys` keys it starts over (a flood of
// made-up device ids gets a line per id at most once more).
template <typename Key>
class LogLimiter {
 public:
  explicit LogLimiter(SteadyTime::duration every, std::size_t max_keys = 10000) : every_(every), max_keys_(max_keys) {}
  std::optional<std::uint64_t> allow(const Key& key, SteadyTime now) {
    if (gates_.size() >= max_keys_ && !gates_.count(key)) gates_.clear();
    return gates_.try_emplace(key, every_).first->second.allow(now);
  }

 private:
  SteadyTime::duration every_;
  std::size_t max_keys_;
  std::map<Key, LogGate> gates_;
};

// " (N more since the last warning)", or "" for none: for the line a gate lets through.
inline std::string held_back(std::uint64_t n, const std::string& what = "more since the last warning") {
  return n == 0 ? std::string() : " (" + std::to_string(n) + " " + what + ")";
}

}  // namespace kiosk::hub
