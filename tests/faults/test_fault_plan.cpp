// The fault schedule: reproducible from its seed, every kind in a short run, all over before the end.
#include <catch2/catch.hpp>

#include "fault_plan.hpp"

using namespace kiosk::faults;

TEST_CASE("a 45-second run schedules every kind of fault at least once") {
  PlanSettings s;
  s.duration_s = 45;
  for (std::uint64_t seed = 1; seed <= 50; ++seed) {
    s.seed = seed;
    auto counts = count_by_kind(plan_faults(s));
    for (auto k : kAllFaultKinds) CHECK(counts[std::string(name(k))] >= 1);
  }
}

TEST_CASE("the same seed gives the same schedule, another seed another one") {
  PlanSettings s;
  s.duration_s = 600;
  auto a = plan_faults(s);
  auto b = plan_faults(s);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(a[i].kind == b[i].kind);
    CHECK(a[i].at_s == b[i].at_s);
    CHECK(a[i].terminal == b[i].terminal);
  }
  s.seed = 2;
  auto c = plan_faults(s);
  bool differs = false;
  for (std::size_t i = 0; i < std::min(a.size(), c.size()); ++i) differs = differs || a[i].kind != c[i].kind;
  CHECK(differs);
}

TEST_CASE("every fault starts after the warm-up and is over before the quiet tail") {
  PlanSettings s;
  s.duration_s = 600;
  s.terminals = 20;
  auto plan = plan_faults(s);
  CHECK(plan.size() >= 90);  // about one every 6 s
  for (const auto& f : plan) {
    CHECK(f.at_s >= s.warmup_s);
    CHECK(f.at_s + f.down_s <= s.duration_s - s.quiet_tail_s + 1e-9);
    if (f.kind == FaultKind::terminal_kill || f.kind == FaultKind::link_cut || f.kind == FaultKind::link_stall) {
      CHECK(f.terminal >= 0);
      CHECK(f.terminal < 20);
    } else {
      CHECK(f.terminal == -1);
    }
  }
}

TEST_CASE("two hub or broker faults never overlap") {
  PlanSettings s;
  s.duration_s = 600;
  for (std::uint64_t seed = 1; seed <= 20; ++seed) {
    s.seed = seed;
    double busy_until = -1;
    for (const auto& f : plan_faults(s)) {
      if (f.kind == FaultKind::terminal_kill || f.kind == FaultKind::link_cut || f.kind == FaultKind::link_stall)
        continue;
      CHECK(f.at_s >= busy_until);
      busy_until = f.at_s + f.down_s;
    }
  }
}
