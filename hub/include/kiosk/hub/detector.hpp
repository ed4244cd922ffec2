// Spike detection per location: a pure core that turns rated presses into verdicts (time is injected).
//
// Two detectors share one interface so they can be compared on the same data:
// - BaselineDetector: learns the usual bad share of a location (site-wide prior while the
//   location is new, then by hour of week with exponential forgetting) and runs a windowed
//   Bernoulli CUSUM against it: every press adds its log likelihood ratio "incident share" vs
//   "usual share at its hour", and a spike is the best run of recent presses (starting at a bad
//   press, within the window) whose sum passes log(1 / p_threshold) and that holds at least
//   min_bad bad presses from distinct guests (another device, or the same device more than
//   same_guest_gap apart). Next to it, a Poisson CUSUM on the rate of bad presses against the
//   usual press rate at that hour (by hour of week once seen twice, until then by hour of day,
//   weekdays and weekends apart) times
//   the usual share: unhappy guests press more readily, so an incident shows as bad presses
//   coming much faster than usual even when the share test has few presses to go on. Either
//   test passing is a spike. O(1) amortised per press whatever the window;
// - NaiveRuleDetector: the rule of thumb "N bad in M minutes".
#pragma once

#include <array>
#include <chrono>
#include <cmath>
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
#include "kiosk/hub/time_zone.hpp"
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
  // The terminal that sent it: bad presses from two devices are two guests. Empty: unknown, all
  // such presses are taken as one device (only the time gap tells guests apart).
  std::string device;
};

struct DetectorSettings {
  // Ratings <= this are bad; unset: the lower half of the scale (rating <= scale / 2).
  std::optional<int> bad_max_rating;
  // A run starts at most this long ago and at most this many presses ago (incidents last
  // 20..120 minutes; a longer window lets a slow, quiet-hour incident add up).
  std::chrono::seconds window{std::chrono::minutes(60)};
  int last_n = 200;
  // Fewest bad presses from distinct guests in a spike: one unhappy guest is not an incident.
  int min_bad = 2;
  // Two bad presses at one device are two guests only this far apart (the terminal's lockout is
  // 1.5 s and its repeat window 10 s; a guest who tries again does so within seconds, the next
  // guest needs to walk up).
  std::chrono::seconds same_guest_gap{30};
  // Sensitivity: a spike when the run's likelihood ratio (incident vs usual) exceeds 1 / p.
  double p_threshold = 7e-4;  // tuned on seeds 2..7: bench/detection
  // The bad share the test looks for in an incident: at least this, and at least
  // spike_ratio x the usual share (so a location that is often bad needs a real jump).
  double spike_share = 0.7;
  double spike_ratio = 2.0;
  // The rate test looks for bad presses at least this many times faster than usual (and 3x, 9x
  // that: a bank of three CUSUMs, each best at its own ratio); 0 turns it off.
  double spike_rate_ratio = 3.0;
  double rate_memory_days = 4;  // exponential forgetting of the hourly press rate (~visits of that hour)
  double prior_bad_share = 0.10;  // site-wide prior for a new location
  double prior_weight = 40;       // pseudo-presses behind the prior
  double hour_weight = 25;        // pseudo-presses pulling an hour-of-week bucket to the location mean
  double memory_presses = 2000;   // exponential forgetting of the location mean (~presses)
  double hour_memory_presses = 150;  // ... and of each hour-of-week bucket
  // How many presses' worth the baseline is trusted at most: the usual share itself varies from
  // day to day (about +-20%), so even a long history does not make it exact. The test uses the
  // baseline plus one standard deviation of that uncertainty, so a new location or a rare hour
  // (fewer presses learned) takes more to be surprising.
  double max_baseline_weight = 200;
  TimeZone time_zone;  // venue local time, for the hour of week
  std::chrono::seconds resolve_after{std::chrono::minutes(10)};  // back to normal this long
  // "Near baseline": no run in the window has a likelihood ratio over 1 / calm_p.
  double calm_p = 0.05;
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
  // P(X >= bad | total, baseline) of the reported run, computed for a spike (1 otherwise).
  double p_value = 1;
  double log_lr = 0;    // the best run's log likelihood ratio, incident vs usual (0: none)
  // On the detector's clock (press times): the press (or tick) this verdict is for, and where the
  // run of spikes it belongs to began (its first spike's first press; spikes no more than
  // resolve_after apart are one run).
  WallTime at{};
  WallTime run_start{};
};

// Whether a rating counts as bad: rating <= bad_max_rating, unset: the lower half of the scale
// (rating <= scale / 2). The one definition for the detectors and the manager's report.
bool is_bad_rating(int rating, int scale, const std::optional<int>& bad_max_rating = std::nullopt);

// log P(X >= k) for X ~ Binomial(n, p), computed in log space (stable for tiny tails).
double log_binomial_upper_tail(int k, int n, double p);
double binomial_upper_tail(int k, int n, double p);

// log P(X >= k) for X ~ BetaBinomial(n, p * weight, (1 - p) * weight): the binomial tail when the
// share p is itself only known as well as `weight` presses tell (weight -> infinity: binomial).
double log_beta_binomial_upper_tail(int k, int n, double p, double weight);

// 0 = Monday 00:00-00:59 .. 167 = Sunday 23:00-23:59, in the venue's local time.
int hour_of_week(WallTime t, const TimeZone& zone);

// One location's detector. Feed presses in time order; call check() from a timer.
class Detector {
 public:
  virtual ~Detector() = default;
  virtual Verdict observe(const RatedPress& press) = 0;
  virtual Verdict check(WallTime now) = 0;
  // The site-wide bad share, used as the prior while this location has little history.
  virtual void set_prior(double bad_share) { (void)bad_share; }
  // The venue's rules changed (a tzdata update): hours of week from now on follow `zone`.
  virtual void set_time_zone(const TimeZone& zone) { (void)zone; }
};

class BaselineDetector final : public Detector {
 public:
  explicit BaselineDetector(DetectorSettings settings = {});

  Verdict observe(const RatedPress& press) override;
  Verdict check(WallTime now) override;
  void set_prior(double bad_share) override;
  void set_time_zone(const TimeZone& zone) override;

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
    // Running totals up to and including this press (since the detector started), so any run's
    // sums are two subtractions: log likelihood ratio, bad presses, distinct guests among them.
    double cum_llr;
    long long cum_bad;
    long long cum_guests;
    double llr;        // this press's own term
    bool new_guest;    // a bad press from a guest not yet counted
    double known_before;     // rate test: bad presses at a known usual rate, before this one
    double expected_before;  // ... and the bad presses expected at the usual rate by then
  };
  struct Share {
    double bad = 0;
    double total = 0;
  };
  struct Start {       // a bad press where a run may start
    long long seq;
    double before;     // the statistic's running total just before it
  };
  struct Rate {        // presses per hour at one hour of day, weekday or weekend
    double per_hour = 0;
    int hours = 0;     // completed hours learned
  };
  struct Best {
    double llr = 0;
    long long seq = -1;  // -1: no run qualifies
  };

  bool is_bad(const RatedPress& p) const;
  bool new_guest(const RatedPress& p);
  double llr_of(bool bad, WallTime at) const;
  const Recent& at_seq(long long seq) const { return recent_[static_cast<std::size_t>(seq - first_seq_)]; }
  void evict(WallTime now);
  void learn(const Recent& r);
  Best best_run();
  Best best_rate_run() const;
  static void push_start(std::deque<Start>& q, Start s);
  int rate_slot(WallTime t) const;
  std::optional<double> usual_bad_per_s(WallTime t) const;
  void advance(WallTime t);
  double rate_ratio(std::size_t j) const { return settings_.spike_rate_ratio * std::pow(3.0, static_cast<double>(j)); }
  double rate_key(std::size_t j, double known, double expected) const {
    return known * std::log(rate_ratio(j)) - (rate_ratio(j) - 1) * expected;
  }
  Verdict assess(WallTime now, bool test);
  Verdict settle(Verdict v, WallTime now);

  DetectorSettings settings_;
  std::deque<Recent> recent_;
  long long first_seq_ = 0;  // seq of recent_.front()
  long long next_seq_ = 0;
  double cum_llr_ = 0;
  long long cum_bad_ = 0;
  long long cum_guests_ = 0;
  // Bad presses in the window that may start a run: `pending` have fewer than min_bad distinct
  // guests after them yet; `starts` qualify and are kept with increasing `before` (a monotone
  // queue), so the best run is always at its front.
  std::deque<Start> pending_;
  std::deque<Start> starts_;
  static constexpr std::size_t kRateBank = 3;
  std::array<std::deque<Start>, kRateBank> rate_starts_;  // the same starts, keyed per rate ratio
  // The rate test: log(ratio) per bad press where the usual rate is known, minus (ratio - 1) x
  // the bad presses expected at the usual rate since the window was last empty.
  double known_bad_ = 0;
  double expected_bad_ = 0;
  std::optional<WallTime> rate_clock_;  // up to where expected_bad_ is integrated
  std::array<Rate, 48> rates_{};        // 0..23 weekdays, 24..47 weekends: learned within days
  std::array<Rate, 168> week_rates_{};  // by hour of week: preferred once known (a Monday is not a Friday)
  long long hour_index_ = -1;           // the hour being counted (hours since the epoch, local)
  int hour_presses_ = 0;
  bool hour_usable_ = false;            // a whole hour seen, no incident in it
  std::vector<std::pair<std::string, WallTime>> last_bad_by_device_;
  Share all_;
  std::array<Share, 168> by_hour_{};
  bool in_incident_ = false;
  std::optional<WallTime> last_spike_;
  WallTime spikes_since_{};  // the run start of this run of spikes (Verdict::run_start)
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
  WallTime run_start_{};  // the oldest bad press in the window when this run of spikes began
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
  void set_time_zone(const TimeZone& zone);

 private:
  Factory make_;
  double prior_;
  double decay_;
  double bad_ = 0;
  double total_ = 0;
  std::map<std::string, std::unique_ptr<Detector>> by_location_;
};

}  // namespace kiosk::hub
