// kiosk-sim, the real binary: --rates writes the model's usual numbers without changing the presses,
// and they are the numbers the presses outside incidents were drawn from.
#include <catch2/catch.hpp>

#include <cmath>
#include <map>
#include <sstream>

#include "kiosk/hub/detector.hpp"
#include "kiosk/hub/replay.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
using kiosk::hub::Incident;
using kiosk::hub::PressRow;
using kiosk::protocol::WallTime;

namespace {

std::vector<std::string> sim(const TempDir& dir, const std::string& name) {
  return {(bin_dir() / "kiosk-sim").string(), "--days", "3", "--locations", "4", "--incidents", "3", "--seed", "7",
          "--out", (dir / (name + "-presses.csv")).string(), "--truth", (dir / (name + "-truth.csv")).string()};
}

struct Usual {
  double presses = 0;
  double bad = 0;
};

WallTime minute_of(WallTime t) { return std::chrono::floor<std::chrono::minutes>(t); }

}  // namespace

TEST_CASE("kiosk-sim --rates writes the usual rate and bad share the presses were drawn from, and changes no press") {
  TempDir dir;
  REQUIRE(run_to_end(sim(dir, "plain"), dir / "plain.log") == 0);
  auto with_rates = sim(dir, "rated");
  with_rates.insert(with_rates.end(), {"--rates", (dir / "rates.csv").string()});
  REQUIRE(run_to_end(with_rates, dir / "rated.log") == 0);

  // Writing the rates draws nothing: the same venue, incidents and presses.
  const std::string presses_text = slurp(dir / "rated-presses.csv");
  REQUIRE(!presses_text.empty());
  CHECK(presses_text == slurp(dir / "plain-presses.csv"));
  CHECK(slurp(dir / "rated-truth.csv") == slurp(dir / "plain-truth.csv"));

  const auto presses = kiosk::hub::parse_press_csv(presses_text);
  REQUIRE(presses);
  REQUIRE(presses->problems.empty());
  const auto truth = kiosk::hub::parse_truth_csv(slurp(dir / "rated-truth.csv"));
  REQUIRE(truth);
  REQUIRE(truth->rows.size() == 3);

  // One row per location-minute with traffic.
  std::istringstream rates(slurp(dir / "rates.csv"));
  std::string line;
  REQUIRE(std::getline(rates, line));
  CHECK(line == "time,location,presses_per_minute,bad_share");
  std::map<std::pair<std::string, WallTime>, std::pair<double, double>> usual;  // (location, minute) -> rate, share
  while (std::getline(rates, line)) {
    std::istringstream cells(line);
    std::string time, location, rate, share;
    REQUIRE(std::getline(cells, time, ','));
    REQUIRE(std::getline(cells, location, ','));
    REQUIRE(std::getline(cells, rate, ','));
    REQUIRE(std::getline(cells, share));
    const auto at = kiosk::protocol::parse_time(time);
    REQUIRE(at);
    const double r = std::stod(rate);
    const double b = std::stod(share);
    CHECK(r > 0);
    CHECK((b > 0 && b < 1));
    CHECK(usual.emplace(std::pair{location, *at}, std::pair{r, b}).second);
  }
  REQUIRE(usual.size() > 3 * 4 * 60);  // well over an hour of traffic per location-day

  const auto in_incident = [&](const std::string& location, WallTime minute) {
    return std::any_of(truth->rows.begin(), truth->rows.end(), [&](const Incident& i) {
      return i.location == location && minute + std::chrono::minutes(1) > i.start && minute < i.end;
    });
  };
  // Expected against drawn, per location, outside incidents: Poisson, so within 5 standard
  // deviations (a wrong rate, a missed day factor or a shifted minute is far outside).
  std::map<std::string, Usual> expected, drawn;
  for (const auto& [key, value] : usual) {
    if (in_incident(key.first, key.second)) continue;
    expected[key.first].presses += value.first;
    expected[key.first].bad += value.first * value.second;
  }
  for (const PressRow& p : presses->rows) {
    const WallTime m = minute_of(p.at);
    INFO(p.location << " at " << kiosk::protocol::format_time(p.at));
    REQUIRE(usual.count({p.location, m}) == 1);  // no press in a minute the model gives no traffic
    if (in_incident(p.location, m)) continue;
    drawn[p.location].presses += 1;
    drawn[p.location].bad += kiosk::hub::is_bad_rating(p.rating, p.scale) ? 1 : 0;
  }
  REQUIRE(expected.size() == 4);
  for (const auto& [location, e] : expected) {
    INFO(location << ": expected " << e.presses << " presses, " << e.bad << " bad; drawn " << drawn[location].presses
                  << ", " << drawn[location].bad);
    CHECK(std::abs(drawn[location].presses - e.presses) < 5 * std::sqrt(e.presses) + 5);
    CHECK(std::abs(drawn[location].bad - e.bad) < 5 * std::sqrt(e.bad) + 5);
  }
}

TEST_CASE("kiosk-sim refuses an unwritable --rates file and a --rates without a name") {
  TempDir dir;
  auto args = sim(dir, "x");
  args.insert(args.end(), {"--rates", (dir / "no-such-folder" / "rates.csv").string()});
  CHECK(run_to_end(args, dir / "unwritable.log") == 1);
  CHECK_THAT(slurp(dir / "unwritable.log"), Catch::Contains("cannot write") && Catch::Contains("rates.csv"));
  CHECK_FALSE(std::filesystem::exists(dir / "x-presses.csv"));

  auto missing = sim(dir, "y");
  missing.emplace_back("--rates");
  CHECK(run_to_end(missing, dir / "missing.log") == 2);
  CHECK_THAT(slurp(dir / "missing.log"), Catch::Contains("--rates needs a value"));
}
