// Seeded fault schedule: a permutation of every kind first so a short run covers them all.
#include "fault_plan.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace kiosk::faults {

std::string_view name(FaultKind kind) {
  switch (kind) {
    case FaultKind::hub_kill: return "hub_kill";
    case FaultKind::broker_term: return "broker_term";
    case FaultKind::broker_kill: return "broker_kill";
    case FaultKind::terminal_kill: return "terminal_kill";
    case FaultKind::link_cut: return "link_cut";
    case FaultKind::link_stall: return "link_stall";
  }
  return "unknown";
}

std::vector<Fault> plan_faults(const PlanSettings& s) {
  std::vector<Fault> out;
  double window = s.duration_s - s.warmup_s - s.quiet_tail_s;
  if (window <= 1 || s.terminals <= 0) return out;
  constexpr int kinds = static_cast<int>(std::size(kAllFaultKinds));
  int n = std::max(kinds, static_cast<int>(std::lround(window / std::max(1.0, s.mean_gap_s))));
  double slot = window / n;
  std::mt19937_64 rng(s.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto between = [&](double lo, double hi) { return lo + (hi - lo) * unit(rng); };

  std::vector<FaultKind> kinds_in_order(std::begin(kAllFaultKinds), std::end(kAllFaultKinds));
  std::shuffle(kinds_in_order.begin(), kinds_in_order.end(), rng);
  std::uniform_int_distribution<int> any_kind(0, kinds - 1);
  std::uniform_int_distribution<int> any_terminal(0, s.terminals - 1);
  double end = s.duration_s - s.quiet_tail_s;
  for (int i = 0; i < n; ++i) {
    Fault f;
    f.kind = i < kinds ? kinds_in_order[static_cast<std::size_t>(i)] : kAllFaultKinds[any_kind(rng)];
    f.at_s = s.warmup_s + slot * (i + between(0.2, 0.5));
    switch (f.kind) {
      case FaultKind::hub_kill:
      case FaultKind::broker_term:
      case FaultKind::broker_kill:
        // Shorter than a slot so two hub or broker faults never overlap.
        f.down_s = std::min(between(1.0, 3.0), slot * 0.45);
        break;
      case FaultKind::terminal_kill:
        f.down_s = between(0.5, 2.0);
        f.terminal = any_terminal(rng);
        break;
      case FaultKind::link_cut:
      case FaultKind::link_stall:
        f.down_s = between(2.0, 6.0);
        f.terminal = any_terminal(rng);
        break;
    }
    f.down_s = std::max(0.2, std::min(f.down_s, end - f.at_s));
    out.push_back(f);
  }
  std::sort(out.begin(), out.end(), [](const Fault& a, const Fault& b) { return a.at_s < b.at_s; });
  return out;
}

std::map<std::string, int> count_by_kind(const std::vector<Fault>& faults) {
  std::map<std::string, int> out;
  for (auto k : kAllFaultKinds) out[std::string(name(k))] = 0;
  for (const auto& f : faults) out[std::string(name(f.kind))] += 1;
  return out;
}

}  // namespace kiosk::faults
