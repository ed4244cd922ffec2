// kiosk-bench-detector: measures the detector's cost per press (ns/press) on synthetic venue traffic.
//
// 20 locations, presses every 0.1 s of replayed time spread over them (10 per second), 10% bad,
// with a bad spell now and then so spikes open and resolve; timers ticked every replayed second as
// the hub does. Run once with the default settings and once with a window of a day and 10,000
// presses, to show that the cost does not grow with the window.
#include <chrono>
#include <cstdio>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "kiosk/hub/detector.hpp"
#include "kiosk/protocol/time.hpp"

namespace {

using namespace kiosk::hub;

struct Result {
  double ns_per_press;
  long long spikes;
};

Result run(const DetectorSettings& settings, int presses) {
  SiteDetectors site([&] { return std::make_unique<BaselineDetector>(settings); });
  std::vector<std::string> locations;
  for (int i = 0; i < 20; ++i) locations.push_back("location-" + std::to_string(i));
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> unit(0, 1);
  // Inputs made up front so only the detector is timed.
  std::vector<std::pair<int, RatedPress>> input;
  input.reserve(static_cast<std::size_t>(presses));
  WallTime t = kiosk::protocol::parse_time("2026-10-05T00:00:00.000Z").value();
  for (int i = 0; i < presses; ++i) {
    t += std::chrono::milliseconds(100);
    const int l = static_cast<int>(unit(rng) * 20) % 20;
    // Every ~3 hours of replayed time, location 3 has a 20-minute bad spell.
    const bool spell = l == 3 && (i / 12000) % 10 == 0 && i % 12000 < 12000 / 9;
    const bool bad = unit(rng) < (spell ? 0.8 : 0.1);
    input.emplace_back(l, RatedPress{.at = t, .rating = bad ? 1 : 4, .scale = 4,
                                     .device = "t-" + std::to_string(static_cast<int>(unit(rng) * 2))});
  }
  long long spikes = 0;
  const auto begin = std::chrono::steady_clock::now();
  WallTime next_tick = input.front().second.at;
  for (const auto& [l, p] : input) {
    if (p.at >= next_tick) {
      for (const auto& [name, v] : site.check(p.at)) spikes += v.spike ? 1 : 0;
      next_tick = p.at + std::chrono::seconds(1);
    }
    spikes += site.observe(locations[static_cast<std::size_t>(l)], p).spike ? 1 : 0;
  }
  const auto ns = std::chrono::duration<double, std::nano>(std::chrono::steady_clock::now() - begin).count();
  return {ns / presses, spikes};
}

}  // namespace

int main(int argc, char** argv) {
  int presses = 2000000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << "usage: kiosk-bench-detector [--presses N]\n"
                   "Feeds N synthetic presses (default 2000000, 20 locations, ticks every second) through the\n"
                   "spike detector and prints ns/press, with the default window and with a 24 h / 10000-press one.\n";
      return 0;
    }
    if (a == "--presses" && i + 1 < argc) {
      try {
        presses = std::stoi(argv[++i]);
      } catch (const std::exception&) {
        presses = 0;
      }
      if (presses < 1000) {
        std::cerr << "error kiosk-bench-detector: --presses must be an integer >= 1000 (see --help)\n";
        return 2;
      }
      continue;
    }
    std::cerr << "error kiosk-bench-detector: unknown option " << a << " (see --help)\n";
    return 2;
  }
  DetectorSettings large;
  large.window = std::chrono::hours(24);
  large.last_n = 10000;
  const Result d = run(DetectorSettings{}, presses);
  const Result w = run(large, presses);
  std::printf("detector default window (60 min / 200 presses): %.0f ns/press (%lld spike verdicts)\n", d.ns_per_press, d.spikes);
  std::printf("detector large window (24 h / 10000 presses):   %.0f ns/press (%lld spike verdicts)\n", w.ns_per_press, w.spikes);
  return 0;
}
