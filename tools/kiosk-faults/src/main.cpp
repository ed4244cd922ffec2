// kiosk-faults: runs terminals, broker and hub under injected faults and checks that every press
// a terminal accepted is stored at the hub exactly once, with a bounded timestamp.
#include <signal.h>

#include <atomic>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "fault_run.hpp"

#ifndef KIOSK_FAULTS_SOURCE_DIR
#define KIOSK_FAULTS_SOURCE_DIR "."
#endif

namespace kiosk::faults {
extern std::atomic<bool> g_interrupted;
}

namespace {

const char* kUsage =
    "Usage: kiosk-faults --duration S [options]\n"
    "\n"
    "Starts mosquitto (127.0.0.1, free port), kiosk-hub and N kiosk-firmware terminals with simulated\n"
    "buttons, presses continuously, and meanwhile SIGKILLs and restarts the hub, restarts the broker\n"
    "(SIGTERM and SIGKILL), SIGKILLs and restarts terminals, and cuts or stalls a terminal's link\n"
    "through a loopback relay. Then it stops pressing, waits until every outbox is empty and checks,\n"
    "per terminal, every press it logged as accepted against the hub's database: none missing, none\n"
    "twice, seqs contiguous, timestamps within bounds.\n"
    "\n"
    "Options:\n"
    "  --duration S        seconds of pressing (required)\n"
    "  --terminals N       simulated terminals (default 20)\n"
    "  --rate R            presses per second, all terminals together (default 200)\n"
    "  --seed N            seed of the fault schedule and the presses (default 1)\n"
    "  --no-faults         a clean run (the soak)\n"
    "  --fault-gap S       mean seconds between fault starts (default 6)\n"
    "  --drain-timeout S   how long to wait for every press to reach the hub (default 60)\n"
    "  --work DIR          work directory (default: a fresh one under $TMPDIR, removed after a pass)\n"
    "  --keep              keep the work directory after a pass\n"
    "  --bin-dir DIR       where kiosk-hub and kiosk-firmware are (default: next to this program)\n"
    "  --boards-dir DIR    board definitions (default: <source>/boards)\n"
    "  --samples FILE      write VmRSS and fd counts of hub, broker and terminal t-00 as CSV\n"
    "  --sample-every S    sampling period (default 10)\n"
    "  --json              print the report as one JSON object on stdout (progress stays on stderr)\n"
    "  --quiet             no progress lines\n"
    "  --help              this text\n"
    "\n"
    "Exit codes: 0 every press stored exactly once, 1 a check failed or the run could not be set up,\n"
    "2 usage error.\n";

void on_signal(int) { kiosk::faults::g_interrupted = true; }

bool to_double(const std::string& s, double& out) {
  char* end = nullptr;
  out = std::strtod(s.c_str(), &end);
  return !s.empty() && end == s.c_str() + s.size();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace kiosk::faults;
  RunSettings s;
  bool json = false;
  bool have_duration = false;
  std::vector<std::string> args(argv + 1, argv + argc);
  auto usage_error = [](const std::string& what) {
    std::cerr << "kiosk-faults: " << what << " (see kiosk-faults --help)\n";
    return 2;
  };
  std::error_code ec;
  auto self = std::filesystem::canonical("/proc/self/exe", ec);
  s.bin_dir = ec ? std::filesystem::path(".") : self.parent_path();
  s.boards_dir = std::filesystem::path(KIOSK_FAULTS_SOURCE_DIR) / "boards";
  for (std::size_t i = 0; i < args.size(); ++i) {
    const auto& a = args[i];
    auto value = [&](std::string& out) {
      if (i + 1 >= args.size()) return false;
      out = args[++i];
      return true;
    };
    std::string v;
    double d = 0;
    if (a == "--help" || a == "-h") {
      std::cout << kUsage;
      return 0;
    } else if (a == "--json") {
      json = true;
    } else if (a == "--quiet") {
      s.progress = false;
    } else if (a == "--keep") {
      s.keep = true;
    } else if (a == "--no-faults") {
      s.faults = false;
    } else if (a == "--duration" || a == "--rate" || a == "--fault-gap" || a == "--drain-timeout" ||
               a == "--sample-every") {
      if (!value(v) || !to_double(v, d) || d <= 0) return usage_error(a + " needs a positive number");
      if (a == "--duration") {
        s.duration_s = d;
        have_duration = true;
      } else if (a == "--rate") s.rate = d;
      else if (a == "--fault-gap") s.fault_gap_s = d;
      else if (a == "--drain-timeout") s.drain_timeout_s = d;
      else s.sample_every_s = d;
    } else if (a == "--terminals" || a == "--seed") {
      std::uint64_t n = 0;
      if (!value(v)) return usage_error(a + " needs a number");
      auto [p, e] = std::from_chars(v.data(), v.data() + v.size(), n);
      if (e != std::errc{} || p != v.data() + v.size()) return usage_error(a + ": \"" + v + "\" is not a number");
      if (a == "--terminals") {
        if (n < 1 || n > 100) return usage_error("--terminals must be 1..100");
        s.terminals = static_cast<int>(n);
      } else {
        s.seed = n;
      }
    } else if (a == "--work" || a == "--bin-dir" || a == "--boards-dir" || a == "--samples") {
      if (!value(v)) return usage_error(a + " needs a path");
      if (a == "--work") s.work = v;
      else if (a == "--bin-dir") s.bin_dir = v;
      else if (a == "--boards-dir") s.boards_dir = v;
      else s.samples_csv = v;
    } else {
      return usage_error("unknown option " + a);
    }
  }
  if (!have_duration) return usage_error("--duration is required");

  // Writing to the FIFO of a terminal that just died must not kill the orchestrator.
  ::signal(SIGPIPE, SIG_IGN);
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  ::sigaction(SIGINT, &sa, nullptr);
  ::sigaction(SIGTERM, &sa, nullptr);

  try {
    auto report = run_faults(s);
    if (json) std::cout << boost::json::serialize(to_json(report)) << "\n";
    else std::cout << summary(report);
    if (json) std::cerr << summary(report);
    return report.ok() ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "kiosk-faults: " << e.what() << "\n";
    return 1;
  }
}
