// Spike detection per location: baseline learning, windowed CUSUM with distinct guests, naive rule for comparison.
#include "kiosk/hub/detector.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

namespace kiosk::hub {
namespace {

constexpr double kMinBaseline = 0.01;  // nothing is ever "never bad": keeps p-values finite
constexpr double kMaxBaseline = 0.95;

int span_s(WallTime oldest, WallTime now) {
  return static_cast<int>(std::chrono::duration_cast<std::chrono::seconds>(now - oldest).count());
}

}  // namespace

bool is_bad_rating(int rating, int scale, const std::optional<int>& bad_max_rating) {
  return rating <= bad_max_rating.value_or(scale / 2);
}

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

int hour_of_week(WallTime t, const TimeZone& zone) {
  const auto local = std::chrono::floor<std::chrono::hours>(zone.local(t)).time_since_epoch().count();
  // 1970-01-01 was a Thursday: shift by three days so that 0 is Monday 00:00.
  const long long h = (local + 72) % 168;
  return static_cast<int>(h < 0 ? h + 168 : h);
}

Verdict call_manager_verdict(const RatedPress& press) {
  Verdict v;
  v.at = v.run_start = press.at;
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
  return is_bad_rating(p.rating, p.scale, settings_.bad_max_rating);
}

double BaselineDetector::baseline_at(WallTime t) const {
  const double w0 = settings_.prior_weight;
  const double location = (all_.bad + w0 * settings_.prior_bad_share) / (all_.total + w0);
  // The hour itself counts fully, its neighbours half: an hour of week sees little data.
  const int h = hour_of_week(t, settings_.time_zone);
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
  const int h = hour_of_week(t, settings_.time_zone);
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
  auto& s = by_hour_[static_cast<std::size_t>(hour_of_week(r.at, settings_.time_zone))];
  s.bad = s.bad * d_hour + (r.bad ? 1.0 : 0.0);
  s.total = s.total * d_hour + 1.0;
}

bool BaselineDetector::new_guest(const RatedPress& p) {
  // One entry per device seen with a bad press: a location has a handful of terminals.
  auto it = std::find_if(last_bad_by_device_.begin(), last_bad_by_device_.end(),
                         [&](const auto& e) { return e.first == p.device; });
  if (it == last_bad_by_device_.end()) {
    last_bad_by_device_.emplace_back(p.device, p.at);
    return true;
  }
  // Measured from the last press counted as a guest, not the last bad press: at a busy
  // one-terminal location unhappy guests queue up every 20 s, and they are a new guest every
  // same_guest_gap at the least, not one guest for as long as the stream lasts.
  const bool fresh = p.at - it->second >= settings_.same_guest_gap;
  if (fresh) it->second = p.at;
  return fresh;
}

namespace {

// The usual share plus one standard deviation of what we know about it: a baseline learned
// from few presses (a new location, a rare hour) makes the same bad presses less surprising.
double cautious(double p, double weight) {
  return std::clamp(p + std::sqrt(p * (1 - p) / (weight + 1)), kMinBaseline, kMaxBaseline);
}

// Hours since the epoch on the venue's clock. When the clocks go forward, one local hour has no
// traffic and is learned as such; when they go back, two hours' presses count as one: once a year
// each, in the quietest hour of the week.
long long local_hours(WallTime t, const TimeZone& zone) {
  return std::chrono::floor<std::chrono::hours>(zone.local(t)).time_since_epoch().count();
}

// 0..23 an hour of a weekday, 24..47 of a weekend day; from hours since the epoch (local).
int slot_of(long long local_hour) {
  const long long how = ((local_hour + 72) % 168 + 168) % 168;  // 0 = Monday 00h
  return static_cast<int>((how / 24 >= 5 ? 24 : 0) + how % 24);
}

}  // namespace

void BaselineDetector::set_time_zone(const TimeZone& zone) {
  settings_.time_zone = zone;
  // The hour being counted is renamed on the new clock and not learned (it may be cut short or
  // run long); what was learned by hour of week stays: it was the venue's local time then too.
  if (rate_clock_) hour_index_ = local_hours(*rate_clock_, zone);
  hour_presses_ = 0;
  hour_usable_ = false;
}

double BaselineDetector::llr_of(bool bad, WallTime at) const {
  const double p0 = cautious(baseline_at(at), baseline_weight_at(at));
  const double p1 = std::clamp(std::max(settings_.spike_share, settings_.spike_ratio * p0), p0, 0.99);
  if (p1 <= p0) return 0.0;  // a location that is always bad: no incident share above it to test
  return bad ? std::log(p1 / p0) : std::log((1 - p1) / (1 - p0));
}

std::optional<double> BaselineDetector::usual_bad_per_s(WallTime t) const {
  // The hour itself counts fully, its neighbours (same kind of day) half: smooths the noise of
  // a few presses an hour. Unknown until the hour has been seen twice.
  const long long local = local_hours(t, settings_.time_zone);
  const auto smoothed = [](const auto& rates, int slot, int base, int period) -> std::optional<double> {
    if (rates[static_cast<std::size_t>(slot)].hours < 2) return std::nullopt;
    double sum = 0;
    double w = 0;
    for (int d = -1; d <= 1; ++d) {
      const Rate& n = rates[static_cast<std::size_t>(base + (slot - base + d + period) % period)];
      if (n.hours == 0) continue;
      const double k = d == 0 ? 1.0 : 0.5;
      sum += k * n.per_hour;
      w += k;
    }
    return sum / w;
  };
  const int how = hour_of_week(t, settings_.time_zone);
  const int slot = slot_of(local);
  auto learned = smoothed(week_rates_, how, 0, 168);
  if (!learned) learned = smoothed(rates_, slot, slot < 24 ? 0 : 24, 24);
  if (!learned) return std::nullopt;
  // A quarter more than learned: traffic swings from day to day (occupancy), and a busy day
  // must not look like an incident.
  const double per_hour = 1.25 * *learned;
  return per_hour * cautious(baseline_at(t), baseline_weight_at(t)) / 3600.0;
}

void BaselineDetector::advance(WallTime t) {
  if (settings_.spike_rate_ratio <= 1) return;
  const long long h = local_hours(t, settings_.time_zone);
  if (!rate_clock_) {
    rate_clock_ = t;
    hour_index_ = h;  // a partial first hour is not learned
    return;
  }
  if (t <= *rate_clock_) return;
  // The bad presses expected at the usual rate, hour by hour (at most a week: runs are shorter).
  WallTime from = std::max(*rate_clock_, t - std::chrono::hours(24 * 7));
  while (from < t) {
    // The next local hour, or the clocks' change if that comes first.
    const auto& zone = settings_.time_zone;
    WallTime to = std::min<WallTime>(t, std::chrono::floor<std::chrono::hours>(zone.local(from)) + std::chrono::hours(1) -
                                  zone.offset_at(from));
    if (const auto change = zone.next_change(from)) to = std::min(to, *change);
    if (const auto per_s = usual_bad_per_s(from)) expected_bad_ += *per_s * std::chrono::duration<double>(to - from).count();
    from = to;
  }
  rate_clock_ = t;
  if (h <= hour_index_) return;
  const auto learn_hour = [&](long long index, int presses) {
    for (Rate* r : {&rates_[static_cast<std::size_t>(slot_of(index))],
                    &week_rates_[static_cast<std::size_t>(((index + 72) % 168 + 168) % 168)]}) {
      r->hours = std::min(r->hours + 1, 1000000);
      r->per_hour += (presses - r->per_hour) / std::min<double>(r->hours, std::max(1.0, settings_.rate_memory_days));
    }
  };
  if (hour_usable_) learn_hour(hour_index_, hour_presses_);
  // Whole hours without a press are hours with no traffic (skipped during an incident).
  if (!in_incident_)
    for (long long k = hour_index_ + 1; k < h && k <= hour_index_ + 168; ++k) learn_hour(k, 0);
  hour_index_ = h;
  hour_presses_ = 0;
  hour_usable_ = !in_incident_;
}

void BaselineDetector::push_start(std::deque<Start>& q, Start s) {
  while (!q.empty() && q.back().before >= s.before) q.pop_back();
  q.push_back(s);
}

void BaselineDetector::evict(WallTime now) {
  // Presses leave the window by age or by count; only then are they learned, so the test
  // never compares the window with a baseline that already contains it.
  while (!recent_.empty() &&
         (now - recent_.front().at > settings_.window ||
          recent_.size() > static_cast<std::size_t>(std::max(1, settings_.last_n)))) {
    if (recent_.front().learnable) learn(recent_.front());
    recent_.pop_front();
    ++first_seq_;
  }
  while (!pending_.empty() && pending_.front().seq < first_seq_) pending_.pop_front();
  while (!starts_.empty() && starts_.front().seq < first_seq_) starts_.pop_front();
  for (auto& q : rate_starts_)
    while (!q.empty() && q.front().seq < first_seq_) q.pop_front();
}

BaselineDetector::Best BaselineDetector::best_run() {
  if (recent_.empty()) return {};
  const Recent& last = recent_.back();
  const int need = std::max(1, settings_.min_bad);
  // A pending start qualifies once min_bad distinct guests pressed bad from it on; guests only
  // grow, so it stays qualified, and starts qualify in order.
  while (!pending_.empty()) {
    const Recent& r = at_seq(pending_.front().seq);
    const long long guests = last.cum_guests - (r.cum_guests - (r.new_guest ? 1 : 0));
    if (guests < need) break;
    const Start s = pending_.front();
    pending_.pop_front();
    push_start(starts_, s);
    for (std::size_t j = 0; j < kRateBank; ++j)
      push_start(rate_starts_[j], Start{s.seq, rate_key(j, r.known_before, r.expected_before)});
  }
  if (starts_.empty()) return {};
  return Best{last.cum_llr - starts_.front().before, starts_.front().seq};
}

BaselineDetector::Best BaselineDetector::best_rate_run() const {
  Best best;
  if (settings_.spike_rate_ratio <= 1) return best;
  for (std::size_t j = 0; j < kRateBank; ++j) {
    if (rate_starts_[j].empty()) continue;
    const double llr = rate_key(j, known_bad_, expected_bad_) - rate_starts_[j].front().before;
    if (best.seq < 0 || llr > best.llr) best = Best{llr, rate_starts_[j].front().seq};
  }
  return best;
}

Verdict BaselineDetector::assess(WallTime now, bool test) {
  Verdict v;
  v.at = v.run_start = now;
  v.baseline = baseline_at(now);
  if (recent_.empty()) return v;
  const Recent& last = recent_.back();
  const Recent& first = recent_.front();
  v.run_start = first.at;
  // The whole window, for information, unless a run qualifies.
  v.total = static_cast<int>(recent_.size());
  v.bad = static_cast<int>(last.cum_bad - first.cum_bad + (first.bad ? 1 : 0));
  v.window_s = span_s(first.at, now);
  if (!test) return v;
  Best best = best_run();
  const Best by_rate = best_rate_run();
  if (by_rate.seq >= 0 && (best.seq < 0 || by_rate.llr > best.llr)) best = by_rate;
  if (best.seq < 0) return v;
  const Recent& r = at_seq(best.seq);
  v.log_lr = best.llr;
  v.run_start = r.at;
  v.bad = static_cast<int>(last.cum_bad - r.cum_bad + 1);
  v.total = static_cast<int>(next_seq_ - best.seq);
  v.window_s = span_s(r.at, now);
  const double lthr = std::log(1.0 / settings_.p_threshold);
  v.spike = best.llr >= lthr;
  if (v.spike) {
    v.p_value = std::exp(log_beta_binomial_upper_tail(v.bad, v.total, v.baseline, baseline_weight_at(now)));
    const double share = static_cast<double>(v.bad) / v.total;
    if (best.llr >= 2 * lthr || (v.bad >= 5 && share >= 0.8)) v.severity = protocol::Severity::critical;
  }
  return v;
}

Verdict BaselineDetector::settle(Verdict v, WallTime now) {
  if (v.spike) {
    // One run of spikes while they follow each other within resolve_after: it began with the
    // first of them, however the window slides meanwhile (an acked alert is the same incident).
    if (!in_incident_ || !last_spike_ || now - *last_spike_ >= settings_.resolve_after) spikes_since_ = v.run_start;
    v.run_start = spikes_since_;
    last_spike_ = now;
    in_incident_ = true;
    hour_usable_ = false;  // an incident's presses do not teach the usual rate
    for (auto& r : recent_) r.learnable = false;
  } else if (in_incident_) {
    const bool quiet_long_enough = !last_spike_ || now - *last_spike_ >= settings_.resolve_after;
    // The whole window, the incident's own presses included: while they are in it they can
    // start a new spike with the next bad press, so the alert stays open until they age out
    // (resolving on "no spike since" alone re-opened alerts right after incidents: seeds 2..7
    // went from 0.42 to 0.70 false alerts per location-week).
    const bool near_baseline = v.log_lr < std::log(1.0 / settings_.calm_p);
    if (quiet_long_enough && near_baseline) in_incident_ = false;
  }
  v.back_to_normal = !in_incident_;
  return v;
}

Verdict BaselineDetector::observe(const RatedPress& press) {
  if (press.call_manager) return call_manager_verdict(press);
  advance(press.at);
  evict(press.at);
  const bool bad = is_bad(press);
  if (!press.repeat) {
    ++hour_presses_;
    const bool guest = bad && new_guest(press);
    const double llr = llr_of(bad, press.at);
    // Running totals restart whenever the window is empty, so they never grow large.
    if (recent_.empty()) cum_llr_ = known_bad_ = expected_bad_ = 0;
    const double known_before = known_bad_;
    if (bad && settings_.spike_rate_ratio > 1 && usual_bad_per_s(press.at)) known_bad_ += 1;
    cum_llr_ += llr;
    cum_bad_ += bad ? 1 : 0;
    cum_guests_ += guest ? 1 : 0;
    const Recent r{press.at, bad, !in_incident_, cum_llr_, cum_bad_, cum_guests_, llr, guest, known_before, expected_bad_};
    if (recent_.empty()) first_seq_ = next_seq_;
    recent_.push_back(r);
    if (bad) pending_.push_back(Start{next_seq_, r.cum_llr - llr});
    ++next_seq_;
  }
  evict(press.at);
  Verdict v = assess(press.at, true);
  // Only a new bad press can start or extend a spike; a good press or a repeat cannot.
  if (press.repeat || !bad) v.spike = false;
  return settle(v, press.at);
}

Verdict BaselineDetector::check(WallTime now) {
  advance(now);
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
  v.at = now;
  v.total = static_cast<int>(recent_.size());
  v.bad = static_cast<int>(std::count_if(recent_.begin(), recent_.end(), [](const auto& r) { return r.second; }));
  v.window_s = static_cast<int>(settings_.window.count());
  v.p_value = 1;
  v.run_start = now;
  return v;
}

Verdict NaiveRuleDetector::observe(const RatedPress& press) {
  if (press.call_manager) return call_manager_verdict(press);
  const bool bad = is_bad_rating(press.rating, press.scale, settings_.bad_max_rating);
  if (!press.repeat) recent_.emplace_back(press.at, bad);
  Verdict v = assess(press.at);
  v.spike = bad && !press.repeat && v.bad >= settings_.bad;
  if (v.spike) {
    // One run while spikes follow each other: it began with the oldest bad press in the window
    // of the first of them.
    if (!in_incident_ || press.at - *last_spike_ >= settings_.resolve_after)
      run_start_ = std::find_if(recent_.begin(), recent_.end(), [](const auto& r) { return r.second; })->first;
    v.run_start = run_start_;
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

void SiteDetectors::set_time_zone(const TimeZone& zone) {
  for (auto& [location, detector] : by_location_) detector->set_time_zone(zone);
}

Verdict SiteDetectors::observe(const std::string& location, const RatedPress& press) {
  auto it = by_location_.find(location);
  if (it == by_location_.end()) it = by_location_.emplace(location, make_()).first;
  it->second->set_prior(site_bad_share());
  Verdict v = it->second->observe(press);
  // Only calm locations teach the site what is usual: an incident's bad presses would raise every
  // new location's prior, and a young site's first incident would hide its second one.
  if (!press.repeat && !press.call_manager && !v.spike && v.back_to_normal) {
    bad_ = bad_ * decay_ + (is_bad_rating(press.rating, press.scale, std::nullopt) ? 1.0 : 0.0);
    total_ = total_ * decay_ + 1.0;
  }
  return v;
}

std::vector<std::pair<std::string, Verdict>> SiteDetectors::check(WallTime now) {
  std::vector<std::pair<std::string, Verdict>> out;
  out.reserve(by_location_.size());
  for (auto& [location, detector] : by_location_) out.emplace_back(location, detector->check(now));
  return out;
}

}  // namespace kiosk::hub
