// Spike detection per location: baseline learning, binomial tail test, naive rule for comparison.
#include "kiosk/hub/detector.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace kiosk::hub {
namespace {

constexpr double kMinBaseline = 0.01;  // nothing is ever "never bad": keeps p-values finite
constexpr double kMaxBaseline = 0.95;

bool default_bad(int rating, int scale, const std::optional<int>& bad_max) {
  return rating <= bad_max.value_or(scale / 2);
}

int span_s(WallTime oldest, WallTime now) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(now - oldest).count());
}

}  // namespace

double log_binomial_upper_tail(int k, int n, double p) {
  if (k <= 0) return 0.0;
  if (k > n) return -std::numeric_limits<double>::infinity();
  p = std::clamp(p, 1e-12, 1.0 - 1e-12);
  const double lp = std::log(p);
  const double lq = std::log1p(-p);
  const double lfn = std::lgamma(n + 1.0);
  // log-sum-exp over the terms i = k..n; the largest term anchors the sum.
  double top = -std::numeric_limits<double>::infinity();
  for (int i = k; i <= n; ++i) {
    const double t = lfn - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + i * lp + (n - i) * lq;
    top = std::max(top, t);
  }
  double sum = 0;
  for (int i = k; i <= n; ++i) {
    const double t = lfn - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + i * lp + (n - i) * lq;
    sum += std::exp(t - top);
  }
  return std::min(0.0, top + std::log(sum));
}

double log_beta_binomial_upper_tail(int k, int n, double p, double weight) {
  if (k <= 0) return 0.0;
  if (k > n) return -std::numeric_limits<double>::infinity();
  p = std::clamp(p, 1e-9, 1.0 - 1e-9);
  const double a = p * weight;
  const double b = (1.0 - p) * weight;
  const auto lbeta = [](double x, double y) { return std::lgamma(x) + std::lgamma(y) - std::lgamma(x + y); };
  const double lfn = std::lgamma(n + 1.0);
  const double lb = lbeta(a, b);
  std::vector<double> terms;
  terms.reserve(static_cast<std::size_t>(n - k + 1));
  for (int i = k; i <= n; ++i)
    terms.push_back(lfn - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + lbeta(i + a, n - i + b) - lb);
  const double top = *std::max_element(terms.begin(), terms.end());
  double sum = 0;
  for (double t : terms) sum += std::exp(t - top);
  return std::min(0.0, top + std::log(sum));
}

double binomial_upper_tail(int k, int n, double p) {
  return std::exp(log_binomial_upper_tail(k, n, p));
}

int hour_of_week(WallTime t, std::chrono::minutes utc_offset) {
  const auto local = std::chrono::floor<std::chrono::hours>(t + utc_offset).time_since_epoch().count();
  // 1970-01-01 was a Thursday: shift by three days so that 0 is Monday 00:00.
  const long long h = (local + 72) % 168;
  return static_cast<int>(h < 0 ? h + 168 : h);
}

Verdict call_manager_verdict(const RatedPress& press) {
  (void)press;
  Verdict v;
  v.spike = true;
  v.cause = Verdict::Cause::call_manager;
  v.severity = protocol::Severity::critical;
  v.p_value = 0;
  return v;
}

// ---------------------------------------------------------------- BaselineDetector

BaselineDetector::BaselineDetector(DetectorSettings settings) : settings_(std::move(settings)) {}

void BaselineDetector::set_prior(double bad_share) {
  settings_.prior_bad_share = std::clamp(bad_share, kMinBaseline, kMaxBaseline);
}

bool BaselineDetector::is_bad(const RatedPress& p) const {
  return default_bad(p.rating, p.scale, settings_.bad_max_rating);
}

double BaselineDetector::baseline_at(WallTime t) const {
  const double w0 = settings_.prior_weight;
  const double location = (all_.bad + w0 * settings_.prior_bad_share) / (all_.total + w0);
  // The hour itself counts fully, its neighbours half: an hour of week sees little data.
  const int h = hour_of_week(t, settings_.utc_offset);
  double bad = 0;
  double total = 0;
  for (int d = -1; d <= 1; ++d) {
    const auto& s = by_hour_[static_cast<std::size_t>((h + d + 168) % 168)];
    const double w = d == 0 ? 1.0 : 0.5;
    bad += w * s.bad;
    total += w * s.total;
  }
  const double wh = settings_.hour_weight;
  return std::clamp((bad + wh * location) / (total + wh), kMinBaseline, kMaxBaseline);
}

double BaselineDetector::baseline_weight_at(WallTime t) const {
  const int h = hour_of_week(t, settings_.utc_offset);
  double total = 0;
  for (int d = -1; d <= 1; ++d)
    total += (d == 0 ? 1.0 : 0.5) * by_hour_[static_cast<std::size_t>((h + d + 168) % 168)].total;
  return std::min(settings_.max_baseline_weight, total + settings_.hour_weight);
}

void BaselineDetector::learn(const Recent& r) {
  const double d_all = 1.0 - 1.0 / std::max(1.0, settings_.memory_presses);
  const double d_hour = 1.0 - 1.0 / std::max(1.0, settings_.hour_memory_presses);
  all_.bad = all_.bad * d_all + (r.bad ? 1.0 : 0.0);
  all_.total = all_.total * d_all + 1.0;
  auto& s = by_hour_[static_cast<std::size_t>(hour_of_week(r.at, settings_.utc_offset))];
  s.bad = s.bad * d_hour + (r.bad ? 1.0 : 0.0);
  s.total = s.total * d_hour + 1.0;
}

void BaselineDetector::evict(WallTime now) {
  // Presses leave the window by age or by count; only then are they learned, so the test
  // never compares the window with a baseline that already contains it.
  while (!recent_.empty() &&
         (now - recent_.front().at > settings_.window ||
          recent_.size() > static_cast<std::size_t>(std::max(1, settings_.last_n)))) {
    if (recent_.front().learnable) learn(recent_.front());
    recent_.pop_front();
  }
}

Verdict BaselineDetector::assess(WallTime now, bool test) const {
  Verdict v;
  v.total = static_cast<int>(recent_.size());
  v.bad = static_cast<int>(std::count_if(recent_.begin(), recent_.end(), [](const Recent& r) { return r.bad; }));
  v.window_s = recent_.empty() ? 0 : span_s(recent_.front().at, now);
  v.baseline = baseline_at(now);
  if (!test) return v;
  const double weight = baseline_weight_at(now);
  const auto tail = [&](int bad, int n) { return log_beta_binomial_upper_tail(bad, n, v.baseline, weight); };
  // Scan: the most surprising run of the latest presses, each run starting at a bad press. An
  // incident that began five presses ago is not diluted by the fifteen normal presses before it.
  std::optional<double> best;
  int k = 0;
  for (std::size_t i = recent_.size(); i-- > 0;) {
    if (!recent_[i].bad || ++k < settings_.min_bad) continue;
    const int n = static_cast<int>(recent_.size() - i);
    const double l = tail(k, n);
    if (!best || l < *best) {
      best = l;
      v.bad = k;
      v.total = n;
      v.window_s = span_s(recent_[i].at, now);
    }
  }
  // Fewer than min_bad bad presses: the whole window, for information; it cannot be a spike.
  const double lp = best ? *best : tail(v.bad, v.total);
  v.p_value = std::exp(lp);
  const double lthr = std::log(settings_.p_threshold);
  const double share = v.total > 0 ? static_cast<double>(v.bad) / v.total : 0.0;
  v.spike = v.bad >= settings_.min_bad && lp < lthr;
  if (v.spike && (lp < 2 * lthr || (v.bad >= 5 && share >= 0.8))) v.severity = protocol::Severity::critical;
  return v;
}

Verdict BaselineDetector::settle(Verdict v, WallTime now) {
  if (v.spike) {
    last_spike_ = now;
    in_incident_ = true;
    for (auto& r : recent_) r.learnable = false;
  } else if (in_incident_) {
    const bool quiet_long_enough = !last_spike_ || now - *last_spike_ >= settings_.resolve_after;
    const bool near_baseline = v.bad < settings_.min_bad || v.p_value >= settings_.calm_p;
    if (quiet_long_enough && near_baseline) in_incident_ = false;
  }
  v.back_to_normal = !in_incident_;
  return v;
}

Verdict BaselineDetector::observe(const RatedPress& press) {
  if (press.call_manager) return call_manager_verdict(press);
  evict(press.at);
  if (!press.repeat) recent_.push_back(Recent{press.at, is_bad(press), !in_incident_});
  evict(press.at);
  Verdict v = assess(press.at, true);
  // Only a new bad press can start or extend a spike; a good press or a repeat cannot.
  if (press.repeat || !is_bad(press)) v.spike = false;
  return settle(v, press.at);
}

Verdict BaselineDetector::check(WallTime now) {
  evict(now);
  // Outside an incident a tick only needs the counts; the test is for "back to normal".
  Verdict v = assess(now, in_incident_);
  v.spike = false;
  return settle(v, now);
}

// ---------------------------------------------------------------- NaiveRuleDetector

NaiveRuleDetector::NaiveRuleDetector(NaiveRuleSettings settings) : settings_(std::move(settings)) {}

Verdict NaiveRuleDetector::assess(WallTime now) {
  while (!recent_.empty() && now - recent_.front().first > settings_.window) recent_.pop_front();
  Verdict v;
  v.total = static_cast<int>(recent_.size());
  v.bad = static_cast<int>(std::count_if(recent_.begin(), recent_.end(), [](const auto& r) { return r.second; }));
  v.window_s = static_cast<int>(settings_.window.count());
  v.p_value = 1;
  return v;
}

Verdict NaiveRuleDetector::observe(const RatedPress& press) {
  if (press.call_manager) return call_manager_verdict(press);
  const bool bad = default_bad(press.rating, press.scale, settings_.bad_max_rating);
  if (!press.repeat) recent_.emplace_back(press.at, bad);
  Verdict v = assess(press.at);
  v.spike = bad && !press.repeat && v.bad >= settings_.bad;
  if (v.spike) {
    last_spike_ = press.at;
    in_incident_ = true;
  } else if (in_incident_ && press.at - *last_spike_ >= settings_.resolve_after) {
    in_incident_ = false;
  }
  v.back_to_normal = !in_incident_;
  return v;
}

Verdict NaiveRuleDetector::check(WallTime now) {
  Verdict v = assess(now);
  if (in_incident_ && now - *last_spike_ >= settings_.resolve_after) in_incident_ = false;
  v.back_to_normal = !in_incident_;
  return v;
}

// ---------------------------------------------------------------- SiteDetectors

SiteDetectors::SiteDetectors(Factory make, double initial_prior, double memory_presses)
    : make_(std::move(make)), prior_(initial_prior), decay_(1.0 - 1.0 / std::max(1.0, memory_presses)) {}

double SiteDetectors::site_bad_share() const {
  // The initial prior weighs like 20 presses, so the first few presses of a site do not swing it.
  constexpr double kWeight = 20;
  return (bad_ + kWeight * prior_) / (total_ + kWeight);
}

Verdict SiteDetectors::observe(const std::string& location, const RatedPress& press) {
  auto it = by_location_.find(location);
  if (it == by_location_.end()) it = by_location_.emplace(location, make_()).first;
  if (!press.repeat && !press.call_manager) {
    bad_ = bad_ * decay_ + (default_bad(press.rating, press.scale, std::nullopt) ? 1.0 : 0.0);
    total_ = total_ * decay_ + 1.0;
  }
  it->second->set_prior(site_bad_share());
  return it->second->observe(press);
}

std::vector<std::pair<std::string, Verdict>> SiteDetectors::check(WallTime now) {
  std::vector<std::pair<std::string, Verdict>> out;
  out.reserve(by_location_.size());
  for (auto& [location, detector] : by_location_) out.emplace_back(location, detector->check(now));
  return out;
}

}  // namespace kiosk::hub
