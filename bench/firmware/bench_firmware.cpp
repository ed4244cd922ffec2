// Benchmark of kiosk-firmware against a real mosquitto on a free loopback port: press-to-PUBLISH
// latency after debounce (p50/p99), resident memory, idle CPU. Prints figures; asserts nothing.
//
// Method: the bench writes `press B` to the firmware's FIFO at T0. The simulated input puts the
// down edge at the instant the line is read (microseconds after T0); the debouncer accepts the
// press exactly debounce_ms after that edge (the acceptance is dated by the pure core, the loop
// wakes on that deadline). A subscriber on the same machine and clock stamps the PUBLISH at T1.
// Latency after debounce = T1 - T0 - debounce_ms: loop wake-up, SQLite commit with fsync
// (synchronous=FULL), JSON, Paho publish, broker routing and delivery to the subscriber.
// Presses are paced (one at a time, each acknowledged like the hub would) so none queues behind
// another; the 20 first are warm-up and not counted.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <mqtt/async_client.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kiosk/bench/spawn.hpp"
#include "kiosk/bench/stats.hpp"
#include "kiosk/net/loopback.hpp"
#include "kiosk/protocol/protocol.hpp"

namespace {

using kiosk::net::free_tcp_port;
using kiosk::net::port_accepts;

namespace fs = std::filesystem;
namespace proto = kiosk::protocol;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  int presses = 1000;
  int idle_s = 10;
  int debounce_ms = 30;
  fs::path firmware;
  fs::path tmp = "/tmp";  // where the broker config and the outbox go (its file system sets the fsync cost)
};

// A child process with stdout+stderr to `log`; SIGKILLed by the destructor if still running.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const fs::path& log) : pid_(kiosk::bench::spawn_logged(argv, log)) {}
  ~Process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  int pid() const { return pid_; }
  int stop() {
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }

 private:
  pid_t pid_ = -1;
};

std::string proc_field(int pid, const std::string& key) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) {
      auto v = line.substr(key.size() + 1);
      v.erase(0, v.find_first_not_of(" \t"));
      return v;
    }
  }
  return "?";
}

long cpu_ticks(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::istringstream rest(text.substr(text.rfind(')') + 2));
  std::string field;
  long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stol(field);
    if (i == 15) stime = std::stol(field);
  }
  return utime + stime;
}

using kiosk::bench::percentile;

struct Arrivals {
  std::mutex mutex;
  std::condition_variable cv;
  std::map<std::uint64_t, Clock::time_point> at;
  bool online = false;
};

int run(const Options& o) {
  std::string tmpl = (o.tmp / "kiosk-bench-fw-XXXXXX").string();
  if (!::mkdtemp(tmpl.data())) throw std::runtime_error("cannot create a directory under " + o.tmp.string());
  fs::path dir = tmpl;
  int port = free_tcp_port();
  std::ofstream(dir / "mosquitto.conf") << "listener " << port << " 127.0.0.1\npersistence false\n"
                                        << "allow_anonymous true\nlog_dest stderr\nset_tcp_nodelay true\n"
                                        << (::geteuid() == 0 ? "user root\n" : "");
  Process broker({"mosquitto", "-c", (dir / "mosquitto.conf").string()}, dir / "mosquitto.log");
  auto deadline = Clock::now() + 10s;
  while (!port_accepts(port)) {
    if (Clock::now() > deadline) throw std::runtime_error("mosquitto did not start");
    std::this_thread::sleep_for(10ms);
  }
  std::string url = "tcp://127.0.0.1:" + std::to_string(port);
  std::string site = "bench", device = "bench-1";
  auto press_topic = proto::device_topic(site, device, proto::TopicKind::press);
  auto status_topic = proto::device_topic(site, device, proto::TopicKind::status);
  auto ack_topic = proto::device_topic(site, device, proto::TopicKind::ack);

  Arrivals arrivals;
  mqtt::async_client hub(url, "bench-hub");
  hub.set_message_callback([&](mqtt::const_message_ptr m) {
    auto now = Clock::now();
    std::lock_guard lock(arrivals.mutex);
    if (m->get_topic() == press_topic) {
      auto p = proto::parse_press(m->to_string());
      if (p) arrivals.at.emplace(p->seq, now);
    } else if (m->get_topic() == status_topic) {
      auto s = proto::parse_status(m->to_string());
      arrivals.online = s && s->state == proto::DeviceState::online;
    }
    arrivals.cv.notify_all();
  });
  hub.connect(mqtt::connect_options_builder().clean_session(true).finalize())->wait();
  hub.subscribe(press_topic, 1)->wait();
  hub.subscribe(status_topic, 1)->wait();

  auto fifo = dir / "buttons.fifo";
  Process firmware({o.firmware.string(), "--site", site, "--device", device, "--broker", url, "--board", "sim-4", "--first-seq", "1",
                    "--data-dir", (dir / "data").string(), "--sim-input", fifo.string(), "--lockout-ms", "0",
                    "--debounce-ms", std::to_string(o.debounce_ms), "--log-level", "warn"},
                   dir / "firmware.log");
  {
    std::unique_lock lock(arrivals.mutex);
    if (!arrivals.cv.wait_for(lock, 10s, [&] { return arrivals.online; })) {
      throw std::runtime_error("firmware did not come online; see " + (dir / "firmware.log").string());
    }
  }
  int fd = ::open(fifo.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error("cannot open the firmware FIFO");

  const int warmup = 20;
  std::vector<double> latencies_ms;
  for (int i = 0; i < warmup + o.presses; ++i) {
    std::uint64_t seq = static_cast<std::uint64_t>(i) + 1;
    std::string line = "press " + std::to_string(i % 4) + "\n";
    auto t0 = Clock::now();
    if (::write(fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      throw std::runtime_error("FIFO write failed");
    }
    Clock::time_point t1;
    {
      std::unique_lock lock(arrivals.mutex);
      if (!arrivals.cv.wait_for(lock, 5s, [&] { return arrivals.at.count(seq) > 0; })) {
        throw std::runtime_error("press " + std::to_string(seq) + " did not arrive");
      }
      t1 = arrivals.at[seq];
    }
    hub.publish(ack_topic, proto::to_json(proto::Ack{{seq}}), 1, false);
    if (i >= warmup) {
      latencies_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count() - o.debounce_ms);
    }
    // Each button is reused every 4th press: leave it time to be released and settle (50 ms hold).
    std::this_thread::sleep_until(t0 + 16ms + std::chrono::milliseconds(o.debounce_ms / 4));
  }
  ::close(fd);
  auto rss = proc_field(firmware.pid(), "VmRSS");
  auto hwm = proc_field(firmware.pid(), "VmHWM");
  auto anon = proc_field(firmware.pid(), "RssAnon");
  auto file = proc_field(firmware.pid(), "RssFile");
  std::string pss = "?";
  {
    std::ifstream in("/proc/" + std::to_string(firmware.pid()) + "/smaps_rollup");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("Pss:", 0) == 0) pss = line.substr(line.find_first_not_of(" \t", 4));
    }
  }

  std::this_thread::sleep_for(1s);  // let the last acks and LED timers finish
  long ticks0 = cpu_ticks(firmware.pid());
  auto idle0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::seconds(o.idle_s));
  long ticks1 = cpu_ticks(firmware.pid());
  double idle_s = std::chrono::duration<double>(Clock::now() - idle0).count();
  double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double idle_cpu_pct = static_cast<double>(ticks1 - ticks0) / hz / idle_s * 100.0;
  auto rss_idle = proc_field(firmware.pid(), "VmRSS");
  int exit_code = firmware.stop();
  hub.disconnect()->wait();

  double sum = 0;
  for (double v : latencies_ms) sum += v;
  std::printf("kiosk-firmware benchmark (%d presses after %d warm-up, debounce %d ms, outbox on %s)\n",
              o.presses, warmup, o.debounce_ms, dir.c_str());
  std::printf("press-to-PUBLISH latency after debounce: p50 %.2f ms, p99 %.2f ms, max %.2f ms, mean %.2f ms\n",
              percentile(latencies_ms, 0.50), percentile(latencies_ms, 0.99),
              *std::max_element(latencies_ms.begin(), latencies_ms.end()), sum / static_cast<double>(latencies_ms.size()));
  int buckets[5] = {0, 0, 0, 0, 0};
  for (double v : latencies_ms) buckets[v < 2 ? 0 : v < 5 ? 1 : v < 20 ? 2 : v < 50 ? 3 : 4]++;
  std::printf("distribution: <2 ms %d, 2-5 ms %d, 5-20 ms %d, 20-50 ms %d, >=50 ms %d\n", buckets[0], buckets[1],
              buckets[2], buckets[3], buckets[4]);
  std::printf("resident memory after the run: VmRSS %s (peak VmHWM %s; after idle %s)\n", rss.c_str(), hwm.c_str(),
              rss_idle.c_str());
  std::printf("  of which private anonymous RssAnon %s, shared library/file pages RssFile %s; Pss %s\n", anon.c_str(),
              file.c_str(), pss.c_str());
  std::printf("idle CPU over %.1f s: %ld ticks = %.3f %% of one core\n", idle_s, ticks1 - ticks0, idle_cpu_pct);
  std::printf("firmware exit code on SIGTERM: %d\n", exit_code);
  fs::remove_all(dir);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  o.firmware = fs::canonical("/proc/self/exe").parent_path() / "kiosk-firmware";
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "kiosk-bench-firmware: " << a << " needs a value (see --help)\n";
        std::exit(2);
      }
      return argv[++i];
    };
    try {
      if (a == "--help" || a == "-h") {
        std::cout << "Usage: kiosk-bench-firmware [--presses N] [--idle-s S] [--debounce-ms D] [--firmware PATH] [--tmp DIR]\n"
                     "Starts mosquitto on a free loopback port and kiosk-firmware with simulated buttons, then\n"
                     "prints press-to-PUBLISH latency after debounce (p50/p99 over N presses, default 1000),\n"
                     "resident memory, and idle CPU over S seconds (default 10). The outbox lives in a temp dir\n"
                     "under --tmp (default /tmp): its file system decides what an fsync costs.\n";
        return 0;
      } else if (a == "--presses") o.presses = std::stoi(value());
      else if (a == "--idle-s") o.idle_s = std::stoi(value());
      else if (a == "--debounce-ms") o.debounce_ms = std::stoi(value());
      else if (a == "--firmware") o.firmware = value();
      else if (a == "--tmp") o.tmp = value();
      else {
        std::cerr << "kiosk-bench-firmware: unknown option " << a << " (see --help)\n";
        return 2;
      }
    } catch (const std::exception&) {
      std::cerr << "kiosk-bench-firmware: " << a << " needs a number (see --help)\n";
      return 2;
    }
  }
  if (o.presses < 1 || o.idle_s < 1 || o.debounce_ms < 1) {
    std::cerr << "kiosk-bench-firmware: values must be >= 1 (see --help)\n";
    return 2;
  }
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "kiosk-bench-firmware: " << e.what() << "\n";
    return 1;
  }
}
