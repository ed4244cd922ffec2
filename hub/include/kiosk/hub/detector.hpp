// Spike detection per location: a pure core that turns rated presses into verdicts (time is injected).
//
// Two detectors share one interface so they can be compared on the same data:
// - BaselineDetector: learns the usual bad share of a location (site-wide prior while the
//   location is new, then by hour of week with exponential forgetting) and flags a spike when
//   the most surprising run of recent presses (scanning runs that start at a bad press, so an
//   incident is not diluted by the normal presses before it) has too many bad ones under it
//   (beta-binomial upper tail: the binomial with the baseline's own uncertainty), with a
//   minimum count;
// - NaiveRuleDetector: the rule of thumb "N bad in M minutes".
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/time.hpp"

namespace kiosk::hub {

using protocol::WallTime;

// One press as the detector sees it (the hub has already timestamped it).
struct RatedPress {
  WallTime at{};
  int rating = 0;             // 1 .. scale
  int scale = 0;              // 2 .. 10
  bool repeat = false;        // same guest pressing again: not a second opinion, not counted
  bool call_manager = false;  // a button configured as "call a manager": immediate critical alert
};

struct DetectorSettings {
  // Ratings <= this are bad; unset: the lower half of the scale (rating <= scale / 2).
  std::optional<int> bad_max_rating;
  std::chrono::seconds window{std::chrono::minutes(20)};  // recent presses: at most this old ...
  int last_n = 20;                                        // ... and at most this many
  int min_bad = 3;           // fewer bad presses than this never make a spike
  double p_threshold = 8e-4; // sensitivity: a spike when the tail P(X >= bad) is below this (tuned: bench/detection)
  double prior_bad_share = 0.10;  // site-wide prior for a new location
  double prior_weight = 40;       // pseudo-presses behind the prior
  double hour_weight = 25;        // pseudo-presses pulling an hour-of-week bucket to the location mean
  double memory_presses = 2000;   // exponential forgetting of the location mean (~presses)
  double hour_memory_presses = 150;  // ... and of each hour-of-week bucket
  // How many presses' worth the baseline is trusted at most: the usual share itself varies from
  // day to day (about +-20%), so even a long history does not make it exact. Fewer presses
  // learned (a new location, a rare hour) trust it less, and it takes more to be surprising.
  double max_baseline_weight = 200;
  std::chrono::minutes utc_offset{0};   // venue local time, for the hour of week
  std::chrono::seconds resolve_after{std::chrono::minutes(10)};  // back to normal this long
  double calm_p = 0.05;  // "near baseline": the recent window is not even mildly surprising
};

// What the detector concludes after a press or a tick.
struct Verdict {
  enum class Cause { ratings, call_manager };
  bool spike = false;           // the location has a spike right now (open or update an alert)
  bool back_to_normal = false;  // no spike for resolve_after and recent ratings near the baseline
  Cause cause = Cause::ratings;
  protocol::Severity severity = protocol::Severity::warning;
  int bad = 0;        // bad presses in the recent window
  int total = 0;      // presses in the recent window
  int window_s = 0;   // age of the oldest press in the window (the span the counts cover)
  double baseline = 0;  // usual bad share at this hour of week
  double p_value = 1;   // P(X >= bad | total, baseline)
};

// log P(X >= k) for X ~ Binomial(n, p), computed in log space (stable for tiny tails).
double log_binomial_upper_tail(int k, int n, double p);
double binomial_upper_tail(int k, int n, double p);

// log P(X >= k) for X ~ BetaBinomial(n, p * weight, (1 - p) * weight): the binomial tail when the
// share p is itself only known as well as `weight` presses tell (weight -> infinity: binomial).
double log_beta_binomial_upper_tail(int k, int n, double p, double weight);

// 0 = Monday 00:00-00:59 .. 167 = Sunday 23:00-23:59, in the venue's local time.
int hour_of_week(WallTime t, std::chrono::minutes utc_offset);

// One location's detector. Feed presses in time order; call check() from a timer.
class Detector {
 public:
  virtual ~Detector() = default;
  virtual Verdict observe(const RatedPress& press) = 0;
  virtual Verdict check(WallTime now) = 0;
  // The site-wide bad share, used as the prior while this location has little history.
  virtual void set_prior(double bad_share) { (void)bad_share; }
};

class BaselineDetector final : public Detector {
 public:
  explicit BaselineDetector(DetectorSettings settings = {});

  Verdict observe(const RatedPress& press) override;
  Verdict check(WallTime now) override;
  void set_prior(double bad_share) override;

  // The usual bad share at this time (hour of week), as the test uses it.
  double baseline_at(WallTime t) const;
  // How many presses' worth of evidence that baseline stands on (capped by max_baseline_weight).
  double baseline_weight_at(WallTime t) const;
  // Presses learned so far (decayed weight), for "is this location still new".
  double learned_weight() const { return all_.total; }
  bool in_incident() const { return in_incident_; }
  const DetectorSettings& settings() const { return settings_; }

 private:
  struct Recent {
    WallTime at;
    bool bad;
    bool learnable;  // false once it belonged to a spike: spikes must not teach "spikes are normal"
  };
  struct Share {
    double bad = 0;
    double total = 0;
  };

  bool is_bad(const RatedPress& p) const;
  void evict(WallTime now);
  void learn(const Recent& r);
  Verdict assess(WallTime now, bool test) const;
  Verdict settle(Verdict v, WallTime now);

  DetectorSettings settings_;
  std::deque<Recent> recent_;
  Share all_;
  std::array<Share, 168> by_hour_{};
  bool in_incident_ = false;
  std::optional<WallTime> last_spike_;
};

struct NaiveRuleSettings {
  std::optional<int> bad_max_rating;  // as DetectorSettings
  int bad = 3;                        // N bad ...
  std::chrono::seconds window{std::chrono::minutes(10)};  // ... in M minutes
  std::chrono::seconds resolve_after{std::chrono::minutes(10)};
};

class NaiveRuleDetector final : public Detector {
 public:
  explicit NaiveRuleDetector(NaiveRuleSettings settings = {});
  Verdict observe(const RatedPress& press) override;
  Verdict check(WallTime now) override;

 private:
  Verdict assess(WallTime now);
  NaiveRuleSettings settings_;
  std::deque<std::pair<WallTime, bool>> recent_;
  std::optional<WallTime> last_spike_;
  bool in_incident_ = false;
};

// The verdict for a "call a manager" press: always a critical spike.
Verdict call_manager_verdict(const RatedPress& press);

// Every location of a site: one detector each (made by `make` on first sight), plus the
// site-wide bad share that serves as the prior of locations that are still new.
class SiteDetectors {
 public:
  using Factory = std::function<std::unique_ptr<Detector>()>;
  explicit SiteDetectors(Factory make, double initial_prior = 0.10, double memory_presses = 5000);

  Verdict observe(const std::string& location, const RatedPress& press);
  // check(now) of every known location, in location order.
  std::vector<std::pair<std::string, Verdict>> check(WallTime now);
  double site_bad_share() const;

 private:
  Factory make_;
  double prior_;
  double decay_;
  double bad_ = 0;
  double total_ = 0;
  std::map<std::string, std::unique_ptr<Detector>> by_location_;
};

}  // namespace kiosk::hub
