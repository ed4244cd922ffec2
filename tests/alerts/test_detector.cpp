// Detector specification: baseline learning, the surprise test, minimum count, resolution, naive rule.
#include <catch2/catch.hpp>

#include <cmath>

#include "kiosk/hub/detector.hpp"
#include "kiosk/protocol/time.hpp"

using namespace kiosk::hub;
using namespace std::chrono_literals;
using kiosk::protocol::Severity;

namespace {

// Monday 5 October 2026, 10:00 UTC.
WallTime monday_10h() { return kiosk::protocol::parse_time("2026-10-05T10:00:00.000Z").value(); }

RatedPress press(WallTime at, int rating, int scale = 4) { return RatedPress{.at = at, .rating = rating, .scale = scale}; }

// Feeds `n` presses one minute apart starting at `t` (advanced), every `bad_every`-th one bad.
Verdict feed(Detector& d, WallTime& t, int n, int bad_every) {
  Verdict v;
  for (int i = 1; i <= n; ++i) {
    t += 1min;
    v = d.observe(press(t, bad_every > 0 && i % bad_every == 0 ? 1 : 4));
  }
  return v;
}

}  // namespace

TEST_CASE("the binomial upper tail matches exact values and stays finite far out in the tail") {
  CHECK(binomial_upper_tail(3, 3, 0.1) == Approx(0.001));
  CHECK(binomial_upper_tail(0, 5, 0.3) == 1.0);
  CHECK(binomial_upper_tail(6, 5, 0.3) == 0.0);
  // P(X >= 2 | 4, 0.5) = 11/16
  CHECK(binomial_upper_tail(2, 4, 0.5) == Approx(11.0 / 16));
  const double l = log_binomial_upper_tail(100, 100, 0.01);
  CHECK(std::isfinite(l));
  CHECK(l == Approx(100 * std::log(0.01)).epsilon(1e-9));
}

TEST_CASE("the beta-binomial tail is the binomial one for a well-known share and more cautious for a guessed one") {
  const double known = log_beta_binomial_upper_tail(3, 3, 0.1, 1e7);
  CHECK(known == Approx(std::log(0.001)).epsilon(1e-3));
  const double guessed = log_beta_binomial_upper_tail(3, 3, 0.1, 20);
  CHECK(guessed > known + 0.5);  // e^0.5: well over 1.5 times as likely
  // E[p^3] for p ~ Beta(2, 18): 2*3*4 / (20*21*22)
  CHECK(std::exp(guessed) == Approx(24.0 / 9240).epsilon(1e-6));
  CHECK(log_beta_binomial_upper_tail(0, 4, 0.1, 20) == 0.0);
  CHECK(std::isinf(log_beta_binomial_upper_tail(5, 4, 0.1, 20)));
}

TEST_CASE("hour of week counts from Monday midnight in venue local time") {
  const WallTime mon = kiosk::protocol::parse_time("2026-10-05T00:30:00.000Z").value();
  CHECK(hour_of_week(mon, 0min) == 0);
  CHECK(hour_of_week(mon + 10h, 0min) == 10);
  CHECK(hour_of_week(mon - 1h, 0min) == 167);  // Sunday 23:30
  CHECK(hour_of_week(mon, 120min) == 2);       // UTC+2
  CHECK(hour_of_week(mon, -60min) == 167);
}

TEST_CASE("a lone bad press is no spike") {
  BaselineDetector d;
  WallTime t = monday_10h();
  feed(d, t, 10, 0);
  const Verdict v = d.observe(press(t + 1min, 1));
  CHECK_FALSE(v.spike);
  CHECK(v.bad == 1);
  CHECK(v.back_to_normal);
}

TEST_CASE("two bad presses in a row stay below the minimum count however surprising") {
  DetectorSettings s;
  s.prior_bad_share = 0.01;
  BaselineDetector d(s);
  const WallTime t = monday_10h();
  CHECK_FALSE(d.observe(press(t, 1)).spike);
  const Verdict v = d.observe(press(t + 10s, 1));
  CHECK_FALSE(v.spike);
  CHECK(v.p_value < s.p_threshold);  // surprising, but only two guests
}

TEST_CASE("a burst of bad presses is a spike with its counts and the baseline") {
  BaselineDetector d;
  WallTime t = monday_10h();
  feed(d, t, 15, 0);
  Verdict v;
  for (int i = 0; i < 4; ++i) v = d.observe(press(t += 30s, 1));
  REQUIRE(v.spike);
  CHECK(v.bad >= 3);
  CHECK(v.total >= v.bad);
  CHECK(v.baseline == Approx(0.10).margin(0.02));
  CHECK(v.p_value < DetectorSettings{}.p_threshold);
  CHECK_FALSE(v.back_to_normal);
  CHECK(d.in_incident());
}

TEST_CASE("a good press neither extends a spike nor ends it") {
  BaselineDetector d;
  WallTime t = monday_10h();
  for (int i = 0; i < 4; ++i) d.observe(press(t += 10s, 1));
  REQUIRE(d.in_incident());
  const Verdict v = d.observe(press(t += 10s, 4));
  CHECK_FALSE(v.spike);
  CHECK_FALSE(v.back_to_normal);
  CHECK(v.bad == 4);
}

TEST_CASE("a new location uses the site-wide prior until it has history") {
  BaselineDetector d;
  const WallTime t = monday_10h();
  CHECK(d.baseline_at(t) == Approx(0.10));
  d.set_prior(0.25);
  CHECK(d.baseline_at(t) == Approx(0.25));
  CHECK(d.learned_weight() == 0);
}

TEST_CASE("the baseline is learned per hour of week") {
  BaselineDetector d;
  WallTime t = monday_10h();
  // Four weeks: Monday 10-11h has 1 bad in 3, the 15-16h hour none; other hours are silent.
  for (int week = 0; week < 4; ++week) {
    const WallTime w = monday_10h() + std::chrono::hours(24 * 7 * week);
    for (int i = 0; i < 30; ++i) d.observe(press(w + std::chrono::minutes(2 * i), i % 3 == 0 ? 1 : 4));
    for (int i = 0; i < 30; ++i) d.observe(press(w + 5h + std::chrono::minutes(2 * i), 4));
    t = w + 6h;
  }
  d.check(t + 1h);  // the last window ages out and is learned
  const WallTime later = monday_10h() + std::chrono::hours(24 * 7 * 4);
  const double busy = d.baseline_at(later + 30min);
  const double calm = d.baseline_at(later + 5h + 30min);
  CHECK(busy > 0.2);
  CHECK(calm < 0.06);
  CHECK(d.learned_weight() > 200);
}

TEST_CASE("presses during a spike do not teach the baseline that spikes are normal") {
  BaselineDetector d;
  WallTime t = monday_10h();
  feed(d, t, 200, 10);  // 10% bad
  const double before = d.baseline_at(t);
  for (int i = 0; i < 20; ++i) d.observe(press(t += 20s, 1));
  REQUIRE(d.in_incident());
  // Calm again for long enough; everything ages out of the window.
  t += 40min;
  d.check(t);
  feed(d, t, 40, 10);
  d.check(t + 2h);
  CHECK(d.baseline_at(t) == Approx(before).margin(0.02));
}

TEST_CASE("the location is back to normal only after resolve_after without a spike") {
  BaselineDetector d;
  WallTime t = monday_10h();
  feed(d, t, 15, 0);
  for (int i = 0; i < 4; ++i) d.observe(press(t += 30s, 1));
  REQUIRE(d.in_incident());
  CHECK_FALSE(d.check(t + 9min).back_to_normal);
  // The window (30 min) still holds the burst: not near the baseline yet.
  CHECK_FALSE(d.check(t + 11min).back_to_normal);
  CHECK(d.check(t + 31min).back_to_normal);
  CHECK_FALSE(d.in_incident());
}

TEST_CASE("severity is critical when the burst is overwhelming and warning when borderline") {
  DetectorSettings s;
  s.prior_bad_share = 0.05;
  BaselineDetector d(s);
  WallTime t = monday_10h();
  feed(d, t, 20, 0);
  Verdict v;
  for (int i = 0; i < 3; ++i) {
    v = d.observe(press(t += 30s, 1));
    v = d.observe(press(t += 30s, 4));
  }
  v = d.observe(press(t += 30s, 1));
  v = d.observe(press(t += 30s, 1));
  REQUIRE(v.spike);
  CHECK(v.severity == Severity::warning);
  for (int i = 0; i < 6; ++i) v = d.observe(press(t += 20s, 1));
  REQUIRE(v.spike);
  CHECK(v.severity == Severity::critical);
}

TEST_CASE("repeat presses of one guest are not counted as more opinions") {
  BaselineDetector d;
  const WallTime t = monday_10h();
  Verdict v = d.observe(press(t, 1));
  for (int i = 1; i <= 5; ++i) {
    RatedPress p = press(t + std::chrono::seconds(i), 1);
    p.repeat = true;
    v = d.observe(p);
  }
  CHECK_FALSE(v.spike);
  CHECK(v.bad == 1);
}

TEST_CASE("a call-a-manager press is an immediate critical spike") {
  BaselineDetector d;
  RatedPress p = press(monday_10h(), 4);
  p.call_manager = true;
  const Verdict v = d.observe(p);
  CHECK(v.spike);
  CHECK(v.cause == Verdict::Cause::call_manager);
  CHECK(v.severity == Severity::critical);
}

TEST_CASE("the naive rule flags 3 bad presses within 10 minutes and not when spread out") {
  NaiveRuleDetector fast;
  const WallTime t = monday_10h();
  CHECK_FALSE(fast.observe(press(t, 1)).spike);
  CHECK_FALSE(fast.observe(press(t + 3min, 1)).spike);
  CHECK_FALSE(fast.observe(press(t + 4min, 4)).spike);
  const Verdict v = fast.observe(press(t + 6min, 1));
  CHECK(v.spike);
  CHECK(v.bad == 3);
  CHECK(v.window_s == 600);
  CHECK_FALSE(fast.check(t + 15min).back_to_normal);
  CHECK(fast.check(t + 16min).back_to_normal);

  NaiveRuleDetector slow;
  CHECK_FALSE(slow.observe(press(t, 1)).spike);
  CHECK_FALSE(slow.observe(press(t + 8min, 1)).spike);
  CHECK_FALSE(slow.observe(press(t + 16min, 1)).spike);
}

TEST_CASE("site detectors keep one detector per location and feed the site bad share as prior") {
  SiteDetectors site([] { return std::make_unique<BaselineDetector>(); }, 0.10);
  WallTime t = monday_10h();
  for (int i = 0; i < 200; ++i) site.observe("front-desk", press(t += 1min, i % 2 == 0 ? 1 : 4));
  CHECK(site.site_bad_share() > 0.3);
  site.observe("spa", press(t += 1min, 4));
  const auto checks = site.check(t + 1min);
  REQUIRE(checks.size() == 2);
  CHECK(checks[0].first == "front-desk");
  CHECK(checks[1].first == "spa");
}
