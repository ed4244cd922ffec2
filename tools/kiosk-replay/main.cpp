// kiosk-replay: runs the spike detector (or the naive rule) over a CSV of presses and prints the alerts as JSON lines.
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "kiosk/hub/replay.hpp"
#include "kiosk/protocol/messages.hpp"

namespace {

using namespace kiosk::hub;
namespace protocol = kiosk::protocol;

void usage(std::ostream& os) {
  os << "usage: kiosk-replay --csv PRESSES.csv [--rule baseline|naive] [settings]\n"
        "       kiosk-replay --evaluate TRUTH.csv --csv PRESSES.csv --alerts NAME=ALERTS.jsonl ... [--grace-minutes 10]\n"
        "\n"
        "Replay: reads presses (header: time,location,device,rating,scale; time RFC 3339 UTC with or\n"
        "without milliseconds), runs the detector and the alert lifecycle with a replayed clock and\n"
        "prints every alert state change as one JSON line (the payload of alert/<location>).\n"
        "Bad lines are reported on stderr with their number and skipped.\n"
        "\n"
        "  --rule baseline|naive     detector (default baseline) or the rule \"N bad in M minutes\"\n"
        "  --naive-bad N             naive rule: N bad presses (default 3)\n"
        "  --naive-minutes M         naive rule: within M minutes (default 10)\n"
        "  --bad-max-rating R        ratings <= R are bad (default: lower half of the scale)\n"
        "  --window-minutes M        a run starts at most M minutes ago (default 60)\n"
        "  --last-n N                ... and at most N presses ago (default 200)\n"
        "  --min-bad N               fewest bad presses from distinct guests for a spike (default 2)\n"
        "  --same-guest-seconds S    bad presses at one device closer than this are one guest (default 30)\n"
        "  --p-threshold P           sensitivity: a spike when the likelihood ratio exceeds 1/P (default 0.0007)\n"
        "  --spike-share S           incident bad share the test looks for, at least (default 0.7)\n"
        "  --spike-ratio R           ... and at least R x the usual share (default 2)\n"
        "  --spike-rate-ratio C      rate test: bad presses C, 3C, 9C x faster than usual; 0 = off (default 3)\n"
        "  --rate-memory-days D      forgetting of the learned hourly press rate (default 4)\n"
        "  --baseline-weight W       most presses' worth of trust in the baseline (default 200)\n"
        "  --prior SHARE             site-wide bad share before any data (default 0.10)\n"
        "  --resolve-minutes M       back to normal this long before resolving (default 10)\n"
        "  --time-zone NAME          venue local time for the hour of week: a tz database name\n"
        "                            (Europe/Berlin) or a POSIX TZ rule (default UTC)\n"
        "  --utc-offset-minutes M    ... or a fixed offset from UTC\n"
        "\n"
        "Evaluate: scores alert files against the ground truth of kiosk-sim and prints a table:\n"
        "incidents detected (an alert opened at the location between start and end + grace), median\n"
        "delay in bad presses and seconds, false alerts (overlapping no incident) per location-week.\n"
        "  --json                    one JSON object per rule instead of the table, with the delay\n"
        "                            of every incident in truth order ([bad, seconds] or null)\n"
        "exit: 0 ok, 1 failed (unreadable file, bad header), 2 usage\n";
}

int fail_usage(const std::string& what) {
  std::cerr << "error kiosk-replay: " << what << " (see kiosk-replay --help)\n";
  return 2;
}

int fail(const std::string& what) {
  std::cerr << "error kiosk-replay: " << what << '\n';
  return 1;
}

bool read_file(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return true;
}

void report_problems(const std::string& path, const std::vector<CsvProblem>& problems) {
  constexpr std::size_t kShown = 20;  // enough to see the pattern, not a wall of text
  for (std::size_t i = 0; i < problems.size() && i < kShown; ++i)
    std::cerr << "warn kiosk-replay: " << path << " line " << problems[i].line << ": " << problems[i].reason
              << " (skipped)\n";
  if (problems.size() > kShown)
    std::cerr << "warn kiosk-replay: " << path << ": " << problems.size() - kShown << " more bad lines skipped\n";
}

struct Named {
  std::string name;
  std::string path;
};

}  // namespace

int main(int argc, char** argv) {
  std::string csv;
  std::string truth_path;
  std::vector<Named> alert_files;
  int grace_minutes = 10;
  bool json = false;
  ReplaySettings s;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string a = argv[i];
      const auto value = [&]() -> std::string {
        if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
        return argv[++i];
      };
      const auto minutes = [&]() { return std::chrono::seconds(std::lround(std::stod(value()) * 60)); };
      if (a == "--help" || a == "-h") {
        usage(std::cout);
        return 0;
      } else if (a == "--csv") {
        csv = value();
      } else if (a == "--rule") {
        const auto r = value();
        if (r == "baseline")
          s.rule = ReplaySettings::Rule::baseline;
        else if (r == "naive")
          s.rule = ReplaySettings::Rule::naive;
        else
          return fail_usage("--rule is baseline or naive, not " + r);
      } else if (a == "--naive-bad") {
        s.naive.bad = std::stoi(value());
      } else if (a == "--naive-minutes") {
        s.naive.window = minutes();
      } else if (a == "--bad-max-rating") {
        s.detector.bad_max_rating = std::stoi(value());
        s.naive.bad_max_rating = s.detector.bad_max_rating;
      } else if (a == "--window-minutes") {
        s.detector.window = minutes();
      } else if (a == "--last-n") {
        s.detector.last_n = std::stoi(value());
      } else if (a == "--min-bad") {
        s.detector.min_bad = std::stoi(value());
      } else if (a == "--same-guest-seconds") {
        s.detector.same_guest_gap = std::chrono::seconds(std::stoi(value()));
      } else if (a == "--spike-share") {
        s.detector.spike_share = std::stod(value());
      } else if (a == "--spike-rate-ratio") {
        s.detector.spike_rate_ratio = std::stod(value());
      } else if (a == "--rate-memory-days") {
        s.detector.rate_memory_days = std::stod(value());
      } else if (a == "--spike-ratio") {
        s.detector.spike_ratio = std::stod(value());
      } else if (a == "--p-threshold") {
        s.detector.p_threshold = std::stod(value());
      } else if (a == "--baseline-weight") {
        s.detector.max_baseline_weight = std::stod(value());
      } else if (a == "--prior") {
        s.detector.prior_bad_share = std::stod(value());
      } else if (a == "--resolve-minutes") {
        s.detector.resolve_after = minutes();
        s.naive.resolve_after = s.detector.resolve_after;
      } else if (a == "--utc-offset-minutes") {
        s.detector.time_zone = TimeZone::fixed(std::chrono::minutes(std::stoi(value())));
      } else if (a == "--time-zone") {
        auto zone = load_time_zone(value());
        if (!zone) return fail_usage("--time-zone: " + zone.error().reason);
        s.detector.time_zone = std::move(*zone);
      } else if (a == "--evaluate") {
        truth_path = value();
      } else if (a == "--alerts") {
        const auto v = value();
        const auto eq = v.find('=');
        alert_files.push_back(eq == std::string::npos ? Named{v, v} : Named{v.substr(0, eq), v.substr(eq + 1)});
      } else if (a == "--grace-minutes") {
        grace_minutes = std::stoi(value());
      } else if (a == "--json") {
        json = true;
      } else {
        return fail_usage("unknown option " + a);
      }
    }
  } catch (const std::exception& e) {
    return fail_usage(std::string("bad option value: ") + e.what());
  }
  if (csv.empty()) return fail_usage("--csv PRESSES.csv is required");
  if (s.detector.p_threshold <= 0 || s.detector.p_threshold >= 1) return fail_usage("--p-threshold must be in (0, 1)");
  if (s.detector.min_bad < 1 || s.naive.bad < 1) return fail_usage("--min-bad and --naive-bad must be >= 1");
  if (!truth_path.empty() && alert_files.empty()) return fail_usage("--evaluate needs at least one --alerts NAME=FILE");

  std::string text;
  if (!read_file(csv, text)) return fail("cannot read " + csv + " (check the path)");
  auto presses = parse_press_csv(text);
  if (!presses) return fail(csv + ": " + presses.error().message());
  report_problems(csv, presses->problems);

  if (truth_path.empty()) {
    std::size_t states = 0;
    const auto used = replay(presses->rows, s, [&](const protocol::Alert& a) {
      std::cout << protocol::to_json(a) << '\n';
      ++states;
    });
    std::cout.flush();
    std::cerr << "info kiosk-replay: " << used << " presses, " << presses->problems.size() << " bad lines, " << states
              << " alert states (" << (s.rule == ReplaySettings::Rule::naive ? "naive rule" : "baseline detector")
              << ")\n";
    return std::cout ? 0 : 1;
  }

  if (!read_file(truth_path, text)) return fail("cannot read " + truth_path + " (check the path)");
  auto truth = parse_truth_csv(text);
  if (!truth) return fail(truth_path + ": " + truth.error().message());
  report_problems(truth_path, truth->problems);

  std::vector<Evaluation> results;
  for (const auto& f : alert_files) {
    if (!read_file(f.path, text)) return fail("cannot read " + f.path + " (check the path)");
    std::vector<protocol::Alert> alerts;
    int line = 0;
    std::istringstream in(text);
    for (std::string l; std::getline(in, l);) {
      ++line;
      if (l.empty()) continue;
      auto a = protocol::parse_alert(l);
      if (!a) {
        std::cerr << "warn kiosk-replay: " << f.path << " line " << line << ": " << a.error().message()
                  << " (skipped)\n";
        continue;
      }
      alerts.push_back(std::move(a).value());
    }
    results.push_back(evaluate(presses->rows, truth->rows, alerts, std::chrono::minutes(grace_minutes)));
  }
  // Paired delays: only the incidents that both the first rule and this one detected, so a rule
  // is not rewarded for skipping the slow, hard incidents.
  const auto paired = [&](std::size_t other) {
    std::vector<double> mine_bad, mine_s, theirs_bad, theirs_s;
    for (std::size_t i = 0; i < results[0].delays.size(); ++i) {
      const auto& a = results[0].delays[i];
      const auto& b = results[other].delays[i];
      if (!a || !b) continue;
      mine_bad.push_back(a->bad);
      mine_s.push_back(a->seconds);
      theirs_bad.push_back(b->bad);
      theirs_s.push_back(b->seconds);
    }
    struct P {
      std::size_t n;
      double first_bad, first_s, other_bad, other_s;
    };
    return P{mine_bad.size(), median(mine_bad), median(mine_s), median(theirs_bad), median(theirs_s)};
  };
  if (json) {
    for (std::size_t i = 0; i < results.size(); ++i) {
      const auto& ev = results[i];
      const auto p = paired(i);
      std::printf(
          "{\"rule\":\"%s\",\"incidents\":%d,\"detected\":%d,\"detectable\":%d,\"detected_detectable\":%d,"
          "\"evident\":%d,\"detected_evident\":%d,\"median_delay_bad\":%.1f,\"median_delay_s\":%.0f,"
          "\"paired_n\":%zu,\"paired_delay_bad\":%.1f,\"paired_delay_s\":%.0f,\"alerts\":%d,"
          "\"false_alerts\":%d,\"location_weeks\":%.2f,\"false_per_location_week\":%.3f,\"delays\":[",
          alert_files[i].name.c_str(), ev.incidents, ev.detected, ev.detectable, ev.detected_detectable, ev.evident,
          ev.detected_evident, ev.median_delay_bad, ev.median_delay_s, p.n, p.other_bad, p.other_s, ev.alerts,
          ev.false_alerts, ev.location_weeks, ev.false_per_location_week());
      // Per incident in truth order ([bad presses, seconds] or null), so runs can be pooled.
      for (std::size_t k = 0; k < ev.delays.size(); ++k) {
        if (k) std::printf(",");
        if (ev.delays[k])
          std::printf("[%.0f,%.1f]", ev.delays[k]->bad, ev.delays[k]->seconds);
        else
          std::printf("null");
      }
      std::printf("]}\n");
    }
    return 0;
  }
  std::printf("%-10s %9s %15s %11s %9s %10s %8s %6s %6s %12s\n", "rule", "incidents", "detected", "detectable",
              "evident", "delay(bad)", "delay(s)", "alerts", "false", "false/loc-wk");
  for (std::size_t i = 0; i < results.size(); ++i) {
    const auto& ev = results[i];
    char detected[32], detectable[32], evident[32];
    std::snprintf(detected, sizeof detected, "%d (%.1f%%)", ev.detected, 100.0 * ev.detected_share());
    std::snprintf(detectable, sizeof detectable, "%d/%d", ev.detected_detectable, ev.detectable);
    std::snprintf(evident, sizeof evident, "%d/%d", ev.detected_evident, ev.evident);
    std::printf("%-10s %9d %15s %11s %9s %10.1f %8.0f %6d %6d %12.3f\n", alert_files[i].name.c_str(), ev.incidents,
                detected, detectable, evident, ev.median_delay_bad, ev.median_delay_s, ev.alerts, ev.false_alerts,
                ev.false_per_location_week());
  }
  if (results.size() > 1) {
    std::printf("\npaired median delay on the incidents both detect (%s vs each):\n", alert_files[0].name.c_str());
    for (std::size_t i = 1; i < results.size(); ++i) {
      const auto p = paired(i);
      std::printf("  %-10s vs %-10s %3zu incidents: %.1f vs %.1f bad presses, %.0f s vs %.0f s\n",
                  alert_files[0].name.c_str(), alert_files[i].name.c_str(), p.n, p.first_bad, p.other_bad, p.first_s,
                  p.other_s);
    }
  }
  return 0;
}
