// The fault schedule of a run: which fault, when, on what, for how long; pure and seeded.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace kiosk::faults {

enum class FaultKind {
  hub_kill,       // SIGKILL the hub, restart it after `down_s`
  broker_term,    // SIGTERM mosquitto, restart it after `down_s`
  broker_kill,    // SIGKILL mosquitto, restart it after `down_s`
  terminal_kill,  // SIGKILL one terminal, restart it after `down_s`
  link_cut,       // reset one terminal's connections and refuse new ones for `down_s`
  link_stall,     // one terminal's link carries nothing for `down_s`, then is reset
};

inline constexpr FaultKind kAllFaultKinds[] = {FaultKind::hub_kill,      FaultKind::broker_term,
                                               FaultKind::broker_kill,   FaultKind::terminal_kill,
                                               FaultKind::link_cut,      FaultKind::link_stall};

std::string_view name(FaultKind kind);

struct Fault {
  FaultKind kind;
  double at_s = 0;    // seconds after pressing started
  double down_s = 0;  // how long the target stays down
  int terminal = -1;  // the terminal for terminal_kill / link_*; -1 otherwise
};

struct PlanSettings {
  double duration_s = 60;  // pressing time
  double warmup_s = 3;     // no fault before this
  double quiet_tail_s = 6; // every fault is over this long before pressing stops
  double mean_gap_s = 6;   // average time between two fault starts
  int terminals = 20;
  std::uint64_t seed = 1;
};

// Every kind at least once (when the run is long enough for one fault per kind), then random
// kinds; evenly spread with jitter; each fault ends before duration - quiet_tail. Sorted by at_s.
std::vector<Fault> plan_faults(const PlanSettings& settings);

// Counts by kind name, every kind present (0 if unused).
std::map<std::string, int> count_by_kind(const std::vector<Fault>& faults);

}  // namespace kiosk::faults
