// Detector specification: baseline learning, the CUSUM tests, distinct guests, resolution, naive rule.
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

RatedPress from(const char* device, WallTime at, int rating) {
  RatedPress p = press(at, rating);
  p.device = device;
  return p;
}

// A sensitivity at which two guests can be enough (the tuned default needs three or more).
DetectorSettings two_guest_settings() {
  DetectorSettings s;
  s.prior_bad_share = 0.03;
  s.p_threshold = 0.01;
  s.spike_rate_ratio = 0;  // the share test alone, so the arithmetic below is the whole story
  return s;
}

// A location with a long, calm history at 3% bad (one press a minute from two terminals) and
// its history aged out of the window; returns the time of the last press.
WallTime three_percent_location(BaselineDetector& d) {
  WallTime t = monday_10h();
  for (int i = 1; i <= 400; ++i) d.observe(from(i % 2 ? "t-1" : "t-2", t += 1min, i % 33 == 0 ? 1 : 4));
  return t;
}

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
  const TimeZone utc;
  CHECK(hour_of_week(mon, utc) == 0);
  CHECK(hour_of_week(mon + 10h, utc) == 10);
  CHECK(hour_of_week(mon - 1h, utc) == 167);  // Sunday 23:30
  CHECK(hour_of_week(mon, TimeZone::fixed(120min)) == 2);  // UTC+2
  CHECK(hour_of_week(mon, TimeZone::fixed(-60min)) == 167);
  // Daylight saving time: Monday 00:30 is 22:30 UTC in summer, 23:30 UTC in winter.
  const auto berlin = load_time_zone("Europe/Berlin");
  REQUIRE(berlin);
  CHECK(hour_of_week(kiosk::protocol::parse_time("2026-10-18T22:30:00.000Z").value(), *berlin) == 0);
  CHECK(hour_of_week(kiosk::protocol::parse_time("2026-10-25T23:30:00.000Z").value(), *berlin) == 0);
  CHECK(hour_of_week(kiosk::protocol::parse_time("2026-10-25T22:30:00.000Z").value(), *berlin) == 167);
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

TEST_CASE("two bad presses from different terminals at a 3% location open a spike") {
  BaselineDetector d(two_guest_settings());
  WallTime t = three_percent_location(d);
  REQUIRE(d.baseline_at(t) == Approx(0.03).margin(0.01));
  CHECK_FALSE(d.observe(from("t-1", t += 20s, 1)).spike);
  const Verdict v = d.observe(from("t-2", t += 10s, 1));
  CHECK(v.spike);
  CHECK(v.bad == 2);
  CHECK(v.total == 2);
  CHECK(v.log_lr >= std::log(1 / 0.01));
  CHECK(v.p_value < 0.01);
}

TEST_CASE("two bad presses from one terminal seconds apart are one guest and no spike") {
  BaselineDetector d(two_guest_settings());
  WallTime t = three_percent_location(d);
  CHECK_FALSE(d.observe(from("t-1", t += 20s, 1)).spike);
  const Verdict v = d.observe(from("t-1", t += 12s, 1));  // past the 10 s repeat window, not the 30 s gap
  CHECK_FALSE(v.spike);
  CHECK_FALSE(d.in_incident());
  // Long enough apart at the same terminal: a second guest.
  CHECK(d.observe(from("t-1", t += 40s, 1)).spike);
}

TEST_CASE("unhappy guests queueing at a one-terminal location every 20 s open a spike") {
  BaselineDetector d;  // the shipped settings
  WallTime t = monday_10h();
  for (int i = 1; i <= 400; ++i) d.observe(from("t-1", t += 1min, i % 33 == 0 ? 1 : 4));
  for (int i = 0; i < 70; ++i) d.observe(from("t-1", t += 1min, 4));  // no bad press left in the window
  bool spike = false;
  for (int i = 0; i < 8 && !spike; ++i) spike = d.observe(from("t-1", t += 20s, 1)).spike;
  CHECK(spike);
}

TEST_CASE("a lone bad press never opens a spike however sensitive the detector") {
  DetectorSettings s = two_guest_settings();
  s.p_threshold = 0.5;
  s.spike_rate_ratio = 3;
  BaselineDetector d(s);
  WallTime t = three_percent_location(d);
  const Verdict v = d.observe(from("t-1", t += 20s, 1));
  CHECK_FALSE(v.spike);
  CHECK(v.back_to_normal);
}

TEST_CASE("repeat presses never count, not even from another terminal") {
  BaselineDetector d(two_guest_settings());
  WallTime t = three_percent_location(d);
  CHECK_FALSE(d.observe(from("t-1", t += 20s, 1)).spike);
  for (int i = 0; i < 5; ++i) {
    RatedPress p = from(i % 2 ? "t-1" : "t-2", t += 15s, 1);
    p.repeat = true;
    CHECK_FALSE(d.observe(p).spike);
  }
  CHECK_FALSE(d.in_incident());
}

TEST_CASE("a sustained incident keeps one spike until the location is back to normal") {
  BaselineDetector d;  // the tuned defaults
  WallTime t = monday_10h();
  for (int day = 0; day < 14; ++day) {
    // Two weeks of 08:00-20:00 traffic, one press every 3 minutes, 10% bad.
    const WallTime open = monday_10h() - 2h + std::chrono::hours(24 * day);
    for (int i = 0; i < 240; ++i) d.observe(from(i % 2 ? "t-1" : "t-2", open + std::chrono::minutes(3 * i), i % 10 == 0 ? 1 : 4));
    t = open + 12h;
    d.check(t);
  }
  // The next Monday at 10:00: 40 minutes of twice the presses, 70% bad.
  t = monday_10h() + std::chrono::hours(24 * 14);
  d.check(t);
  bool opened = false;
  bool ended_early = false;
  for (int i = 0; i < 27; ++i) {
    const Verdict v = d.observe(from(i % 2 ? "t-1" : "t-2", t += 90s, i % 10 < 7 ? 1 : 4));
    opened = opened || v.spike;
    if (opened && v.back_to_normal) ended_early = true;
    if (opened) ended_early = ended_early || d.check(t + 30s).back_to_normal;
  }
  CHECK(opened);
  CHECK_FALSE(ended_early);
  // Fixed: usual traffic again. Not back to normal within resolve_after ...
  for (int i = 0; i < 3; ++i) d.observe(from("t-1", t += 3min, 4));
  CHECK_FALSE(d.check(t + 1min).back_to_normal);
  // ... and back to normal once the incident's presses left the window.
  for (int i = 0; i < 25; ++i) d.observe(from(i % 2 ? "t-1" : "t-2", t += 3min, 4));
  CHECK(d.check(t + 1min).back_to_normal);
  CHECK_FALSE(d.in_incident());
}

TEST_CASE("bad presses coming much faster than usual are a spike even at an often-unhappy location") {
  // 25% bad is usual here, so three bad of four is no surprise as a share; but bad presses
  // usually come once an hour and these come within two minutes.
  DetectorSettings s;
  s.prior_bad_share = 0.25;
  BaselineDetector with_rate(s);
  s.spike_rate_ratio = 0;
  BaselineDetector share_only(s);
  WallTime t = monday_10h();
  for (int day = 0; day < 7; ++day) {
    const WallTime open = monday_10h() - 2h + std::chrono::hours(24 * day);
    for (int i = 0; i < 48; ++i) {
      const RatedPress p = from(i % 2 ? "t-1" : "t-2", open + std::chrono::minutes(15 * i), i % 4 == 0 ? 1 : 4);
      with_rate.observe(p);
      share_only.observe(p);
    }
    t = open + 12h;
    with_rate.check(t);
    share_only.check(t);
  }
  t = monday_10h() + std::chrono::hours(24 * 7);
  with_rate.check(t);
  share_only.check(t);
  Verdict rate_v;
  Verdict share_v;
  for (int i = 0; i < 5; ++i) {
    const RatedPress p = from(i % 2 ? "t-1" : "t-2", t += 40s, 1);
    rate_v = with_rate.observe(p);
    share_v = share_only.observe(p);
    if (rate_v.spike) break;
  }
  CHECK(rate_v.spike);
  CHECK_FALSE(share_v.spike);
}

TEST_CASE("a burst of bad presses is a spike with its counts and the baseline") {
  BaselineDetector d;
  WallTime t = monday_10h();
  feed(d, t, 15, 0);
  Verdict v;
  // A new location: its baseline is the prior and trusted little, so it takes six in a row.
  for (int i = 0; i < 6; ++i) v = d.observe(press(t += 30s, 1));
  REQUIRE(v.spike);
  CHECK(v.bad >= 3);
  CHECK(v.total >= v.bad);
  CHECK(v.baseline == Approx(0.10).margin(0.02));
  CHECK(v.p_value < DetectorSettings{}.p_threshold);
  CHECK(v.log_lr >= std::log(1 / DetectorSettings{}.p_threshold));
  CHECK_FALSE(v.back_to_normal);
  CHECK(d.in_incident());
}

TEST_CASE("a good press neither extends a spike nor ends it") {
  BaselineDetector d;
  WallTime t = monday_10h();
  for (int i = 0; i < 6; ++i) d.observe(press(t += 30s, 1));
  REQUIRE(d.in_incident());
  const Verdict v = d.observe(press(t += 30s, 4));
  CHECK_FALSE(v.spike);
  CHECK_FALSE(v.back_to_normal);
  CHECK(v.bad == 6);
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
  // The share baseline alone: with traffic on Mondays only, the rate test's hour-of-day
  // fallback (used until an hour of week was seen twice) would find Monday 10h busier than the
  // other weekdays' 10h in week two and flag it.
  DetectorSettings s;
  s.spike_rate_ratio = 0;
  BaselineDetector d(s);
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

  // New rules for the venue's clock (a tzdata update): what was learned stays with the venue's
  // hours, which now fall five hours earlier in UTC.
  d.set_time_zone(TimeZone::fixed(5h));
  CHECK(d.baseline_at(later - 5h + 30min) == Approx(busy));
  CHECK(d.baseline_at(later + 30min) == Approx(calm));
}

TEST_CASE("presses during a spike do not teach the baseline that spikes are normal") {
  BaselineDetector d;
  WallTime t = monday_10h();
  feed(d, t, 200, 10);  // 10% bad
  const double before = d.baseline_at(t);
  for (int i = 0; i < 20; ++i) d.observe(from(i % 2 ? "t-1" : "t-2", t += 20s, 1));
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
  for (int i = 0; i < 6; ++i) d.observe(press(t += 30s, 1));
  REQUIRE(d.in_incident());
  CHECK_FALSE(d.check(t + 9min).back_to_normal);
  // The window (60 min) still holds the burst: not near the baseline yet.
  CHECK_FALSE(d.check(t + 11min).back_to_normal);
  CHECK(d.check(t + 61min).back_to_normal);
  CHECK_FALSE(d.in_incident());
}

TEST_CASE("severity is critical when the burst is overwhelming and warning when borderline") {
  DetectorSettings s;
  s.prior_bad_share = 0.05;
  BaselineDetector d(s);
  WallTime t = monday_10h();
  feed(d, t, 20, 0);
  Verdict v;
  // Bad and good in turn: the evidence creeps up, the first spike is borderline.
  for (int i = 0; i < 20 && !v.spike; ++i) {
    v = d.observe(from("t-1", t += 40s, 1));
    if (!v.spike) d.observe(from("t-2", t += 40s, 4));
  }
  REQUIRE(v.spike);
  CHECK(v.severity == Severity::warning);
  for (int i = 0; i < 6; ++i) v = d.observe(from(i % 2 ? "t-1" : "t-2", t += 20s, 1));
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

TEST_CASE("site detectors keep one detector per location and feed the calm locations' bad share as prior") {
  SiteDetectors site([] { return std::make_unique<BaselineDetector>(); }, 0.10);
  WallTime t = monday_10h();
  for (int i = 0; i < 200; ++i) site.observe("front-desk", press(t += 1min, i % 5 == 0 ? 1 : 4));
  const double calm = site.site_bad_share();
  CHECK(calm == Approx(0.2).margin(0.03));
  // An incident at the spa: once it is one, its bad presses do not teach the site that bad is usual.
  bool spiked = false;
  for (int i = 0; i < 40; ++i) spiked = site.observe("spa", from(i % 2 ? "s-1" : "s-2", t += 40s, 1)).spike || spiked;
  CHECK(spiked);
  CHECK(site.site_bad_share() < calm + 0.03);  // the few before it was one (all 40: +0.12)
  const auto checks = site.check(t + 1min);
  REQUIRE(checks.size() == 2);
  CHECK(checks[0].first == "front-desk");
  CHECK(checks[1].first == "spa");
}
