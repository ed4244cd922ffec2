// kiosk-sim: writes a CSV of simulated presses for a venue (realistic days, injected incidents) and its ground truth.
//
// The model, so that the numbers it produces can be judged:
// - each location has a kind (front desk, breakfast room, restroom, bar, spa, lift lobby) with
//   an hourly traffic profile for weekdays and weekends: quiet nights, check-out 7-11h and
//   check-in 15-18h at the desk, meal times in the restaurant, evenings at the bar;
// - a daily volume per location (log-uniform 60..300 presses on a weekday) times a day-to-day
//   factor (log-normal, sd 0.25) for occupancy;
// - a usual bad share per location (3..20%), a little higher when busy (x0.8 quiet .. x1.2
//   peak), and a day-to-day factor (log-normal, sd 0.2): some days are simply worse;
// - presses are Poisson per minute; a bad press is one of the lower half of the scale;
// - incidents (--incident-model realistic, the default since 2026-11-22): what a venue calls an
//   incident - a dirty restroom, a broken lift, a queue at check-in - lasts until someone fixes
//   it, so 20..120 minutes (log-uniform); it happens while guests are there, so it starts only in
//   the busy part of the day (hours with at least a third of the day's peak traffic), picked in
//   proportion to traffic; and unhappy guests press more readily than content ones
//   (self-selection), so the press rate is 1.5..3x the usual and the bad share 50..90%. At most
//   one per location per 6 hours. The normal traffic model above is unchanged.
// - --incident-model weak is the model used before 2026-11-22, kept for a sensitivity line in
//   bench/detection: 10..90 minutes, any hour in proportion to traffic (quiet nights included),
//   bad share 40..90%, 1.0..1.5x the presses. About a third of those incidents left fewer than
//   3 bad presses (a 10-minute incident at 3 a.m.), which no rule with a minimum count can
//   catch and which a manager would not call an incident. Its random draws are made in the same
//   order as before, so the same seed gives the same venue and incidents as the old tool.
// - --rates FILE writes the model's own usual numbers for every location-minute with traffic:
//   the expected presses per minute and the bad share, day factors included, incidents not.
//   A detector cannot know them; bench/detection/oracle.py uses them for an upper bound on what
//   any detector could find in these presses. Writing them draws nothing: same seed, same presses.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "kiosk/hub/replay.hpp"
#include "kiosk/protocol/time.hpp"

namespace {

using kiosk::hub::Incident;
using kiosk::hub::PressRow;
using kiosk::protocol::WallTime;
using Hours = std::array<double, 24>;

struct Kind {
  const char* name;
  const char* display;
  Hours weekday;
  Hours weekend;
  double weekend_volume;  // weekend day volume relative to a weekday
  int scale;
};

// Relative traffic per hour of the day (0 = 00:00-00:59).
const std::array<Kind, 6> kKinds{{
    {"front-desk", "Front desk",
     {0.3, 0.2, 0.1, 0.1, 0.1, 0.3, 1.0, 3.0, 5.0, 5.5, 4.5, 3.0, 1.5, 1.2, 1.5, 4.0, 5.0, 4.5, 3.0, 2.0, 1.5, 1.2, 0.8, 0.5},
     {0.3, 0.3, 0.2, 0.1, 0.1, 0.2, 0.5, 1.5, 3.0, 4.5, 5.5, 5.0, 3.0, 1.5, 1.5, 3.5, 4.5, 4.0, 3.0, 2.0, 1.5, 1.2, 0.8, 0.5},
     0.9, 4},
    {"breakfast-room", "Breakfast room",
     {0, 0, 0, 0, 0, 0, 2.0, 6.0, 7.0, 5.0, 2.0, 0.5, 3.0, 3.5, 1.0, 0.2, 0.2, 0.5, 2.0, 3.5, 3.0, 1.5, 0.3, 0},
     {0, 0, 0, 0, 0, 0, 0.5, 3.0, 6.0, 7.5, 6.0, 2.5, 3.5, 3.5, 1.0, 0.2, 0.2, 0.5, 2.5, 4.0, 3.5, 1.5, 0.3, 0},
     1.3, 4},
    {"restroom", "Restroom",
     {0.2, 0.1, 0.1, 0.1, 0.1, 0.2, 0.8, 2.0, 2.5, 2.0, 1.8, 2.0, 2.8, 2.8, 2.0, 1.8, 2.0, 2.2, 2.5, 2.8, 2.5, 1.8, 1.0, 0.5},
     {0.3, 0.2, 0.1, 0.1, 0.1, 0.1, 0.4, 1.2, 2.2, 2.6, 2.5, 2.4, 2.8, 2.8, 2.3, 2.0, 2.0, 2.2, 2.6, 3.0, 2.8, 2.2, 1.4, 0.7},
     1.1, 4},
    {"lobby-bar", "Lobby bar",
     {0.5, 0.2, 0, 0, 0, 0, 0, 0, 0, 0, 0.2, 0.5, 1.0, 1.0, 0.8, 1.0, 1.5, 2.5, 4.0, 5.0, 5.5, 5.0, 3.5, 1.5},
     {1.0, 0.5, 0.2, 0, 0, 0, 0, 0, 0, 0, 0.3, 0.8, 1.5, 1.5, 1.2, 1.5, 2.0, 3.0, 4.5, 5.5, 6.0, 6.0, 4.5, 2.5},
     1.4, 5},
    {"spa", "Spa",
     {0, 0, 0, 0, 0, 0, 1.0, 3.0, 2.5, 1.5, 1.2, 1.2, 1.5, 1.2, 1.2, 1.5, 2.0, 3.5, 4.0, 3.0, 1.5, 0.5, 0, 0},
     {0, 0, 0, 0, 0, 0, 0.3, 1.5, 2.5, 3.5, 4.0, 4.0, 3.5, 3.0, 3.0, 3.0, 3.0, 3.0, 2.5, 1.5, 0.8, 0.3, 0, 0},
     1.2, 5},
    {"lift-lobby", "Lift lobby",
     {0.2, 0.1, 0.1, 0.1, 0.1, 0.3, 1.0, 3.0, 3.5, 2.5, 1.5, 1.5, 2.0, 2.0, 1.5, 2.0, 2.5, 3.0, 2.5, 2.0, 1.8, 1.5, 0.8, 0.4},
     {0.4, 0.2, 0.1, 0.1, 0.1, 0.2, 0.5, 1.5, 2.5, 3.0, 2.5, 2.0, 2.0, 2.0, 1.8, 2.0, 2.5, 2.5, 2.5, 2.2, 2.0, 1.8, 1.2, 0.6},
     1.0, 4},
}};

struct Location {
  std::string id;
  const Kind* kind;
  double volume;     // presses on an average weekday
  double bad_share;  // usual bad share
  int devices;
};

struct Options {
  int days = 28;
  int locations = 20;
  int incidents = 40;
  unsigned long long seed = 1;
  std::string start = "2026-10-01";
  std::string out = "presses.csv";
  std::string truth = "truth.csv";
  std::string rates;  // --rates: the usual rate and bad share per location-minute (empty: not written)
  bool weak_incidents = false;  // --incident-model weak: the pre-2026-11-22 incidents
};

void usage(std::ostream& os) {
  os << "usage: kiosk-sim [--days N] [--locations N] [--incidents N] [--seed N] [--start YYYY-MM-DD]\n"
        "                 [--out presses.csv] [--truth truth.csv] [--incident-model realistic|weak]\n"
        "                 [--rates rates.csv]\n"
        "Simulates a venue's rating terminals: realistic days per location kind, a usual bad share per\n"
        "location, and incidents with a known start and end. Writes the presses (time,location,device,\n"
        "rating,scale) and the ground truth (location,start,end,bad_share). Same seed, same output.\n"
        "Incident models: realistic (default) lasts 20..120 min, starts in busy hours, 1.5..3x the\n"
        "presses with 50..90% bad (unhappy guests press more readily); weak is the older model\n"
        "(10..90 min at any hour, 1..1.5x the presses, 40..90% bad), for comparison.\n"
        "--rates writes the model's usual presses per minute and bad share for every location-minute\n"
        "with traffic (time,location,presses_per_minute,bad_share; incidents not included), for an\n"
        "oracle bound on detection (bench/detection/oracle.py). It does not change the presses.\n"
        "defaults: --days 28 --locations 20 --incidents 40 --seed 1 --start 2026-10-01\n"
        "          --incident-model realistic\n";
}

int fail_usage(const std::string& what) {
  std::cerr << "error kiosk-sim: " << what << " (see kiosk-sim --help)\n";
  return 2;
}

double profile(const Location& l, int weekday, int hour) {
  const bool weekend = weekday >= 5;
  const Hours& h = weekend ? l.kind->weekend : l.kind->weekday;
  return h[static_cast<std::size_t>(hour)];
}

double profile_sum(const Location& l, int weekday) {
  double s = 0;
  for (int h = 0; h < 24; ++h) s += profile(l, weekday, h);
  return s;
}

// A whole decimal number, nothing after it ("1x", "-5" and "" are refused; stoi/stoull take them).
std::uint64_t whole_number(const std::string& name, const std::string& text) {
  if (text.empty() || text.size() > 19 || text.find_first_not_of("0123456789") != std::string::npos)
    throw std::invalid_argument(name + " must be a whole number, not \"" + text + "\"");
  return std::stoull(text);
}

double profile_peak(const Location& l, int weekday) {
  double m = 0;
  for (int h = 0; h < 24; ++h) m = std::max(m, profile(l, weekday, h));
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      if (a == "--help" || a == "-h") {
        usage(std::cout);
        return 0;
      } else if (a == "--days") {
        o.days = static_cast<int>(std::min<std::uint64_t>(whole_number(a, value()), 1'000'000));
      } else if (a == "--locations") {
        o.locations = static_cast<int>(std::min<std::uint64_t>(whole_number(a, value()), 1'000'000));
      } else if (a == "--incidents") {
        o.incidents = static_cast<int>(std::min<std::uint64_t>(whole_number(a, value()), 1'000'000));
      } else if (a == "--seed") {
        o.seed = whole_number(a, value());
      } else if (a == "--start") {
        o.start = value();
      } else if (a == "--out") {
        o.out = value();
      } else if (a == "--truth") {
        o.truth = value();
      } else if (a == "--rates") {
        o.rates = value();
        if (o.rates.empty()) throw std::invalid_argument("--rates needs a file name");
      } else if (a == "--incident-model") {
        const auto m = value();
        if (m != "realistic" && m != "weak") return fail_usage("--incident-model is realistic or weak, not " + m);
        o.weak_incidents = m == "weak";
      } else {
        return fail_usage("unknown option " + a);
      }
    }
  } catch (const std::exception& e) {
    return fail_usage(std::string("bad option value: ") + e.what());
  }
  if (o.days < 1 || o.days > 3660) return fail_usage("--days must be 1..3660");
  if (o.locations < 1 || o.locations > 1000) return fail_usage("--locations must be 1..1000");
  if (o.incidents < 0) return fail_usage("--incidents must be >= 0");
  const auto start = kiosk::protocol::parse_time(o.start + "T00:00:00.000Z", "start");
  if (!start) return fail_usage("--start must be a date like 2026-10-01");

  std::mt19937_64 rng(o.seed);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  const auto uniform = [&](double lo, double hi) { return lo + (hi - lo) * unit(rng); };
  const auto log_uniform = [&](double lo, double hi) { return std::exp(uniform(std::log(lo), std::log(hi))); };
  std::normal_distribution<double> normal(0.0, 1.0);

  // Locations: kinds in turn, numbered when a kind repeats ("restroom-2").
  std::vector<Location> locs;
  for (int i = 0; i < o.locations; ++i) {
    const Kind& k = kKinds[static_cast<std::size_t>(i) % kKinds.size()];
    const int n = i / static_cast<int>(kKinds.size()) + 1;
    Location l{n == 1 ? std::string(k.name) : std::string(k.name) + "-" + std::to_string(n), &k,
               log_uniform(60, 300), uniform(0.03, 0.20), unit(rng) < 0.3 ? 2 : 1};
    locs.push_back(l);
  }

  const auto weekday_of = [&](int day) {
    const auto days = std::chrono::floor<std::chrono::days>(*start).time_since_epoch().count() + day;
    return static_cast<int>(((days + 3) % 7 + 7) % 7);  // 1970-01-01 was a Thursday; 0 = Monday
  };

  // Incidents first, so traffic can follow them.
  std::vector<Incident> truth;
  struct Boost {
    double share;
    double rate;
  };
  std::vector<Boost> boosts;
  for (int made = 0, tries = 0; made < o.incidents && tries < o.incidents * 1000; ++tries) {
    const auto li = static_cast<std::size_t>(unit(rng) * static_cast<double>(locs.size())) % locs.size();
    const Location& l = locs[li];
    const int day = static_cast<int>(unit(rng) * o.days) % o.days;
    const int wd = weekday_of(day);
    // The hour where it starts, in proportion to the traffic of that hour; realistic incidents
    // only in the busy part of the day (a third of the peak or more): nobody reports a dirty
    // restroom at 3 a.m., and the weak model's night incidents were mostly invisible.
    const double busy = o.weak_incidents ? 0.0 : profile_peak(l, wd) / 3.0;
    const auto eligible = [&](int h) { return profile(l, wd, h) >= busy ? profile(l, wd, h) : 0.0; };
    double eligible_sum = 0;
    for (int h = 0; h < 24; ++h) eligible_sum += eligible(h);
    double pick = unit(rng) * eligible_sum;
    int hour = 0;
    for (; hour < 23; ++hour) {
      pick -= eligible(hour);
      if (pick <= 0 && eligible(hour) > 0) break;
    }
    const auto begin = *start + std::chrono::days(day) + std::chrono::hours(hour) +
                       std::chrono::milliseconds(static_cast<long long>(unit(rng) * 3600000.0));
    // Realistic: until someone fixes it, 20..120 minutes.
    const auto minutes = o.weak_incidents ? log_uniform(10, 90) : log_uniform(20, 120);
    const auto end = begin + std::chrono::milliseconds(static_cast<long long>(minutes * 60000.0));
    if (end > *start + std::chrono::days(o.days)) continue;
    const bool clash = std::any_of(truth.begin(), truth.end(), [&](const Incident& t) {
      return t.location == l.id && t.start < end + std::chrono::hours(6) && begin < t.end + std::chrono::hours(6);
    });
    if (clash) continue;
    // Self-selection: during an incident the unhappy guests press more readily than content ones.
    if (o.weak_incidents) {
      truth.push_back(Incident{l.id, begin, end, uniform(0.4, 0.9)});
      boosts.push_back(Boost{truth.back().bad_share, uniform(1.0, 1.5)});
    } else {
      truth.push_back(Incident{l.id, begin, end, uniform(0.5, 0.9)});
      boosts.push_back(Boost{truth.back().bad_share, uniform(1.5, 3.0)});
    }
    ++made;
  }

  std::ofstream rates;
  if (!o.rates.empty()) {
    rates.open(o.rates);
    if (!rates) {
      std::cerr << "error kiosk-sim: cannot write " << o.rates << " (check the folder exists and is writable)\n";
      return 1;
    }
    rates << "time,location,presses_per_minute,bad_share\n";
  }
  char number[64];
  std::vector<PressRow> rows;
  for (int day = 0; day < o.days; ++day) {
    const int wd = weekday_of(day);
    for (const auto& l : locs) {
      const double volume = l.volume * (wd >= 5 ? l.kind->weekend_volume : 1.0) * std::exp(0.25 * normal(rng));
      const double day_bad = std::exp(0.2 * normal(rng));
      const double sum = profile_sum(l, wd);
      const double peak = profile_peak(l, wd);
      for (int minute = 0; minute < 24 * 60; ++minute) {
        const double w = profile(l, wd, minute / 60);
        if (w <= 0) continue;
        const auto at_minute = *start + std::chrono::days(day) + std::chrono::minutes(minute);
        double rate = volume * w / sum / 60.0;
        double bad = std::min(0.95, l.bad_share * day_bad * (0.8 + 0.4 * w / peak));
        if (rates.is_open()) {
          std::snprintf(number, sizeof number, ",%.6g,%.6g\n", rate, bad);
          rates << kiosk::protocol::format_time(at_minute) << ',' << l.id << number;
        }
        for (std::size_t k = 0; k < truth.size(); ++k) {
          if (truth[k].location == l.id && at_minute >= truth[k].start && at_minute < truth[k].end) {
            rate *= boosts[k].rate;
            bad = boosts[k].share;
          }
        }
        std::poisson_distribution<int> presses(rate);
        for (int n = presses(rng); n > 0; --n) {
          PressRow r;
          r.at = at_minute + std::chrono::milliseconds(static_cast<long long>(unit(rng) * 60000.0));
          r.location = l.id;
          r.device = l.id + "-t" + std::to_string(1 + static_cast<int>(unit(rng) * l.devices) % l.devices);
          r.scale = l.kind->scale;
          const int cut = r.scale / 2;
          if (unit(rng) < bad) {
            r.rating = 1 + static_cast<int>(unit(rng) * cut) % cut;
          } else {
            // Good ratings lean to the top of the scale.
            const int good = r.scale - cut;
            double total = 0;
            for (int g = 1; g <= good; ++g) total += g;
            double x = unit(rng) * total;
            int g = 1;
            for (; g < good; ++g) {
              x -= g;
              if (x <= 0) break;
            }
            r.rating = cut + g;
          }
          rows.push_back(std::move(r));
        }
      }
    }
  }
  std::stable_sort(rows.begin(), rows.end(), [](const PressRow& a, const PressRow& b) { return a.at < b.at; });
  std::sort(truth.begin(), truth.end(), [](const Incident& a, const Incident& b) { return a.start < b.start; });

  std::ofstream out(o.out);
  if (!out) {
    std::cerr << "error kiosk-sim: cannot write " << o.out << " (check the folder exists and is writable)\n";
    return 1;
  }
  out << kiosk::hub::press_csv_header() << '\n';
  for (const auto& r : rows) out << kiosk::hub::to_csv(r) << '\n';
  std::ofstream t(o.truth);
  if (!t) {
    std::cerr << "error kiosk-sim: cannot write " << o.truth << " (check the folder exists and is writable)\n";
    return 1;
  }
  t << kiosk::hub::truth_csv_header() << '\n';
  for (const auto& i : truth) t << kiosk::hub::to_csv(i) << '\n';
  out.flush();
  t.flush();
  if (rates.is_open()) rates.flush();
  if (!out || !t || (rates.is_open() && !rates)) {
    std::cerr << "error kiosk-sim: writing the output failed (disk full?)\n";
    return 1;
  }
  std::cerr << "info kiosk-sim: " << rows.size() << " presses at " << locs.size() << " locations over " << o.days
            << " days, " << truth.size() << " incidents; wrote " << o.out << " and " << o.truth << '\n';
  if (static_cast<int>(truth.size()) < o.incidents) {
    std::cerr << "warn kiosk-sim: only " << truth.size() << " of " << o.incidents
              << " incidents fit (at most one per location per 6 hours)\n";
  }
  return 0;
}
