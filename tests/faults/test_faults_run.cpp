// The short fault run: 20 real terminals, mosquitto and the hub while the hub is SIGKILLed, the
// broker restarted (SIGTERM and SIGKILL), terminals SIGKILLed and links cut and stalled.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include <sstream>

#include "kiosk_test.hpp"

using namespace kiosk::test;

TEST_CASE("every press of 20 terminals is stored exactly once through hub, broker, terminal and link faults",
          "[integration][faults]") {
  TempDir dir;
  auto log = dir / "kiosk-faults.log";
  Child run({(bin_dir() / "kiosk-faults").string(), "--duration", "45", "--terminals", "20", "--rate", "200",
             "--seed", std::to_string(std::random_device{}() % 1000 + 1), "--drain-timeout", "40", "--json"},
            Child::Options{{}, log, {}});
  auto status = run.wait(115s);
  if (!status) run.kill9();
  auto output = run.log();
  INFO(output);
  REQUIRE(status);

  // The report is the one line of JSON on stdout; the human summary and progress are on stderr.
  std::istringstream lines(output);
  std::string line;
  boost::json::value report;
  while (std::getline(lines, line))
    if (line.rfind("{\"ok\"", 0) == 0) report = boost::json::parse(line);
  REQUIRE(report.is_object());
  const auto& r = report.as_object();
  const auto& v = r.at("verdict").as_object();
  CHECK(v.at("missing").as_int64() == 0);
  CHECK(v.at("duplicated").as_int64() == 0);
  CHECK(v.at("gaps").as_int64() == 0);
  CHECK(v.at("mismatched").as_int64() == 0);
  CHECK(v.at("out_of_bounds").as_int64() == 0);
  CHECK(v.at("made").as_int64() > 5000);  // 200/s for 45 s, less what was pressed on a dead terminal
  CHECK(v.at("stored").as_int64() >= v.at("made").as_int64());
  for (const auto& [kind, n] : r.at("faults").as_object()) {
    INFO(std::string(kind));
    CHECK(n.as_int64() >= 1);
  }
  CHECK(r.at("drained").as_bool());
  CHECK(r.at("problems").as_array().empty());
  CHECK(r.at("ok").as_bool());
  CHECK(*status == 0);
}
