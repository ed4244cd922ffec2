// kiosk-bench-alert-latency: press-to-alert latency under background load. Starts mosquitto on a free
// loopback port, the hub (Hub + AlertService, in this process on its own io thread, as kiosk-hub runs
// them) with a temp database, and kiosk-loadgen at --rate presses/s in the background; then, per
// sample, a fresh location gets two bad presses (waited for until acknowledged) and the third, which
// completes the spike: the time from that publish to the retained alert's arrival (state open) at a
// subscribed manager client is one sample. Reports p50/p99/max.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>
#include <mqtt/async_client.h>

#include "kiosk/bench/spawn.hpp"
#include "kiosk/bench/stats.hpp"
#include "kiosk/net/loopback.hpp"
#include "kiosk/hub/alert_service.hpp"
#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk/hub/hub.hpp"

namespace {

using kiosk::net::free_tcp_port;
using kiosk::net::port_accepts;

namespace fs = std::filesystem;
namespace json = boost::json;
using Steady = std::chrono::steady_clock;
using namespace std::chrono_literals;

struct Options {
  int samples = 200;
  double rate = 1000;
  int devices = 100;
  bool json = false;
  bool keep = false;
  bool hub_nodelay = false;
  std::string log_level = "warn";
};

const char* kHelp =
    "kiosk-bench-alert-latency: press-to-alert latency (p50/p99) under background load, on loopback.\n\n"
    "usage: kiosk-bench-alert-latency [--samples N] [--rate R] [--devices D] [--hub-nodelay] [--json] [--keep]\n\n"
    "  --samples N   spikes to measure, each at a fresh location [default: 200]\n"
    "  --rate R      background presses per second from kiosk-loadgen [default: 1000]\n"
    "  --devices D   background devices [default: 100]\n"
    "  --log-level L the hub's log level [default: warn]\n"
    "  --json        also print the result as one JSON object\n"
    "  --keep        keep the temp directory (database, logs)\n"
    "  --hub-nodelay turn Nagle off on the hub's sockets too (what-if: the hub's MQTT link does not)\n"
    "  --help        this text\n\n"
    "Needs mosquitto on PATH and kiosk-loadgen next to this program.\n"
    "Exit codes: 0 ok, 1 failed (a sample timed out, or something did not start), 2 usage.\n";

[[noreturn]] void usage(const std::string& m) {
  std::cerr << "kiosk-bench-alert-latency: " << m << " (see --help)\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--help" || a == "-h") {
        std::cout << kHelp;
        std::exit(0);
      } else if (a == "--samples") o.samples = std::stoi(value());
      else if (a == "--rate") o.rate = std::stod(value());
      else if (a == "--devices") o.devices = std::stoi(value());
      else if (a == "--log-level") o.log_level = value();
      else if (a == "--json") o.json = true;
      else if (a == "--keep") o.keep = true;
      else if (a == "--hub-nodelay") o.hub_nodelay = true;
      else usage("unknown option " + a);
    } catch (const std::logic_error&) {
      usage(a + ": not a number");
    }
  }
  if (o.samples < 1 || o.devices < 1 || o.rate < 0) usage("--samples and --devices must be >= 1, --rate >= 0");
  return o;
}

// A child process with its output in a file; SIGTERM and reaped on destruction.
class Process {
 public:
  Process(const std::vector<std::string>& argv, const fs::path& log) : pid_(kiosk::bench::spawn_logged(argv, log)) {}
  ~Process() { stop(); }
  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    for (int i = 0; i < 300 && ::waitpid(pid_, &status, WNOHANG) == 0; ++i) std::this_thread::sleep_for(10ms);
    if (::waitpid(pid_, &status, WNOHANG) == 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status, 0);
    }
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

// Arrival times of alerts (state open) by location, taken in Paho's callback.
class Manager : public mqtt::callback {
 public:
  void message_arrived(mqtt::const_message_ptr msg) override {
    const auto now = Steady::now();
    json::error_code ec;
    auto v = json::parse(msg->get_payload_str(), ec);
    if (ec || !v.is_object()) return;
    const auto* state = v.as_object().if_contains("state");
    const auto* location = v.as_object().if_contains("location");
    if (!state || !location || !state->is_string() || state->as_string() != "open" || !location->is_string()) return;
    std::lock_guard lock(mutex_);
    arrivals_.try_emplace(std::string(location->as_string()), now);
    cv_.notify_all();
  }
  std::optional<Steady::time_point> wait(const std::string& location, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return arrivals_.count(location) > 0; })) return std::nullopt;
    return arrivals_.at(location);
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, Steady::time_point> arrivals_;
};

// Acks to the probe devices: which seqs each has had acknowledged.
class Acks : public mqtt::callback {
 public:
  void message_arrived(mqtt::const_message_ptr msg) override {
    json::error_code ec;
    auto v = json::parse(msg->get_payload_str(), ec);
    if (ec || !v.is_object() || !v.as_object().contains("seqs")) return;
    const std::string topic = msg->get_topic();
    const auto now = Steady::now();
    std::lock_guard lock(mutex_);
    for (const auto& s : v.at("seqs").as_array()) {
      acked_[topic].insert(s.to_number<std::uint64_t>());
      arrived_.try_emplace({topic, s.to_number<std::uint64_t>()}, now);
    }
    cv_.notify_all();
  }
  std::optional<Steady::time_point> arrival(const std::string& topic, std::uint64_t seq, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    if (!cv_.wait_for(lock, timeout, [&] { return arrived_.count({topic, seq}) > 0; })) return std::nullopt;
    return arrived_.at({topic, seq});
  }
  bool wait(const std::string& topic, std::set<std::uint64_t> seqs, std::chrono::milliseconds timeout) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] {
      for (auto s : seqs)
        if (!acked_[topic].count(s)) return false;
      return true;
    });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::map<std::string, std::set<std::uint64_t>> acked_;
  std::map<std::pair<std::string, std::uint64_t>, Steady::time_point> arrived_;
};

// The process's TCP sockets (to tell the bench's own MQTT clients from the hub's).
std::set<int> tcp_sockets() {
  std::set<int> out;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) {
    int fd = std::atoi(e.path().filename().c_str());
    int type = 0;
    socklen_t len = sizeof type;
    sockaddr_storage addr{};
    socklen_t alen = sizeof addr;
    if (fd <= 2 || ::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) continue;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &alen) != 0 ||
        (addr.ss_family != AF_INET && addr.ss_family != AF_INET6))
      continue;
    out.insert(fd);
  }
  return out;
}

// Paho C leaves Nagle on and has no socket hook. A terminal or a manager's app that turns it off
// (kiosk-firmware does) must not see 40 ms delayed-ACK stalls the bench's clients would add.
void no_delay(const std::set<int>& fds) {
  for (int fd : fds) {
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
}

using kiosk::bench::percentile;

int run(const Options& o) {
  using namespace kiosk::hub;
  const fs::path bin = fs::canonical("/proc/self/exe").parent_path();
  const fs::path work = fs::temp_directory_path() / ("kiosk-bench-alert-" + std::to_string(::getpid()));
  fs::create_directories(work);
  struct Cleanup {
    fs::path dir;
    bool keep;
    ~Cleanup() {
      if (keep) std::cerr << "kept " << dir << "\n";
      else fs::remove_all(dir);
    }
  } cleanup{work, o.keep};

  // The broker, configured like bench/hub/run.sh so the hub and loadgen are not throttled by it.
  const int port = free_tcp_port();
  {
    std::ofstream conf(work / "mosquitto.conf");
    conf << "listener " << port << " 127.0.0.1\nallow_anonymous true\npersistence false\n"
         << "max_inflight_messages 1000\nmax_queued_messages 1000000\n"
         // Nagle on the broker's sockets against the clients' delayed ACKs costs up to 40 ms per hop.
         << "set_tcp_nodelay true\n";
    if (::geteuid() == 0) conf << "user root\n";
  }
  Process broker({"mosquitto", "-c", (work / "mosquitto.conf").string()}, work / "mosquitto.log");
  for (int i = 0; i < 200 && !port_accepts(port); ++i) std::this_thread::sleep_for(10ms);
  if (!port_accepts(port)) throw std::runtime_error("mosquitto did not start (see " + (work / "mosquitto.log").string() + ")");
  const std::string url = "tcp://127.0.0.1:" + std::to_string(port);
  const std::string site = "bench";

  // The hub, as kiosk-hub runs it: one io thread, real clock, default batching.
  HubConfig config;
  config.broker_url = url;
  config.site = site;
  config.db_path = (work / "data" / "hub.db").string();
  config.http_port = 0;
  config.log_level = o.log_level;
  config.register_devices = "lg:" + std::to_string(o.devices) + ":bench-load";
  // Every spike location: "3 bad in 10 minutes". The background location never alerts (its
  // ratings are half bad by construction), so only the measured spikes make alerts.
  auto alert_config = parse_alert_config(R"({
    "detector": {"kind": "naive", "bad": 3, "window_s": 600, "resolve_after_s": 3600},
    "detectors": {"bench-load": {"kind": "naive", "bad": 10000, "window_s": 1}}})");
  if (!alert_config) throw std::runtime_error(alert_config.error().message());
  boost::asio::io_context io(1);
  auto work_guard = boost::asio::make_work_guard(io);
  SystemClock clock;
  Log log(parse_log_level(o.log_level));
  Hub hub(io, config, clock, log, make_open_accounts(io));
  std::vector<std::string> probes;
  for (int i = 0; i < o.samples; ++i) {
    std::string location = "spike-" + std::to_string(i);
    LocationRecord l{location, "Spike " + std::to_string(i)};
    DeviceRecord d;
    d.id = "probe-" + std::to_string(i);
    d.location = location;
    d.registered_at = clock.wall_now();
    if (auto e = hub.store().save_location(l)) throw std::runtime_error(*e);
    if (auto e = hub.store().save_device(d)) throw std::runtime_error(*e);
    hub.registry().put_location(l);
    hub.registry().put_device(d);
    probes.push_back(d.id);
  }
  AlertService alerts(hub, std::move(*alert_config));
  hub.start();
  std::thread io_thread([&] { io.run(); });
  auto on_io = [&](auto f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto r = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return r.get();
  };
  struct StopHub {
    std::function<void()> f;
    ~StopHub() { f(); }
  } stop_hub{[&] {
    on_io([&] {
      alerts.stop();
      hub.shutdown();
      return 0;
    });
    work_guard.reset();
    io.stop();
    io_thread.join();
  }};
  for (int i = 0; i < 500 && !on_io([&] { return hub.mqtt().connected(); }); ++i) std::this_thread::sleep_for(10ms);

  // Managers and the probe terminals.
  const auto hub_sockets = tcp_sockets();
  if (o.hub_nodelay) no_delay(hub_sockets);
  Manager manager_cb;
  mqtt::async_client manager(url, "bench-manager");
  manager.set_callback(manager_cb);
  manager.connect(mqtt::connect_options_builder().clean_session().finalize())->wait();
  manager.subscribe(kiosk::protocol::alert_filter(site), 1)->wait();
  Acks acks_cb;
  mqtt::async_client device(url, "bench-probes");
  device.set_callback(acks_cb);
  device.connect(mqtt::connect_options_builder().clean_session().max_inflight(1000).finalize())->wait();
  {
    std::vector<std::string> topics;
    for (const auto& p : probes) topics.push_back(kiosk::protocol::device_topic(site, p, kiosk::protocol::TopicKind::ack));
    device.subscribe(mqtt::string_collection::create(topics), std::vector<int>(topics.size(), 1))->wait();
  }
  {
    std::set<int> ours;
    for (int fd : tcp_sockets())
      if (!hub_sockets.count(fd)) ours.insert(fd);
    no_delay(ours);
  }

  // Background load, long enough to cover every sample; stopped when the samples are done.
  const double duration = 5 + o.samples * 0.2;
  std::unique_ptr<Process> loadgen;
  if (o.rate > 0) {
    loadgen = std::make_unique<Process>(
        std::vector<std::string>{(bin / "kiosk-loadgen").string(), "--broker", url, "--site", site, "--devices",
                                 std::to_string(o.devices), "--prefix", "lg", "--rate", std::to_string(o.rate),
                                 "--duration", std::to_string(duration), "--mode", "hub", "--drain", "1"},
        work / "loadgen.log");
    // Until the load is flowing at full rate.
    const auto before = on_io([&] { return hub.counters().presses_stored; });
    for (int i = 0; i < 500; ++i) {
      std::this_thread::sleep_for(10ms);
      if (on_io([&] { return hub.counters().presses_stored; }) - before >= static_cast<std::uint64_t>(o.rate)) break;
    }
  }

  auto press = [](std::uint64_t seq) {
    return R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":1,"scale":4,"age_ms":0})";
  };
  std::vector<double> latencies_ms;
  std::vector<double> ack_ms;  // the same press's ack at the device: the hub's ingest share of the latency
  std::vector<double> after_ack_ms;  // alert arrival minus that ack's arrival: the alerting share
  int timeouts = 0;
  const auto stored_before = on_io([&] { return hub.counters().presses_stored; });
  const auto t_begin = Steady::now();
  for (int i = 0; i < o.samples; ++i) {
    const std::string& id = probes[static_cast<std::size_t>(i)];
    const std::string topic = kiosk::protocol::device_topic(site, id, kiosk::protocol::TopicKind::press);
    const std::string ack_topic = kiosk::protocol::device_topic(site, id, kiosk::protocol::TopicKind::ack);
    device.publish(topic, press(1), 1, false);
    device.publish(topic, press(2), 1, false);
    if (!acks_cb.wait(ack_topic, {1, 2}, 5s)) {
      ++timeouts;
      continue;
    }
    const auto t0 = Steady::now();
    device.publish(topic, press(3), 1, false);
    auto arrived = manager_cb.wait("spike-" + std::to_string(i), 5s);
    if (!arrived) {
      ++timeouts;
      continue;
    }
    latencies_ms.push_back(std::chrono::duration<double, std::milli>(*arrived - t0).count());
    if (auto acked = acks_cb.arrival(ack_topic, 3, 5s)) {
      ack_ms.push_back(std::chrono::duration<double, std::milli>(*acked - t0).count());
      after_ack_ms.push_back(std::chrono::duration<double, std::milli>(*arrived - *acked).count());
    }
  }
  const double elapsed = std::chrono::duration<double>(Steady::now() - t_begin).count();
  const auto stored_after = on_io([&] { return hub.counters().presses_stored; });
  const double background = (static_cast<double>(stored_after - stored_before) - 3.0 * o.samples) / elapsed;
  const auto counters = on_io([&] { return alerts.counters(); });
  if (loadgen) loadgen->stop();
  manager.disconnect()->wait_for(2s);
  device.disconnect()->wait_for(2s);

  if (latencies_ms.empty()) {
    std::cerr << "kiosk-bench-alert-latency: no alert arrived; see the hub log above\n";
    return 1;
  }
  double sum = 0;
  for (double l : latencies_ms) sum += l;
  const double p50 = percentile(latencies_ms, 0.50);
  const double p99 = percentile(latencies_ms, 0.99);
  const double max = *std::max_element(latencies_ms.begin(), latencies_ms.end());
  std::printf("press-to-alert latency over %zu samples (%d timed out), background %.0f presses/s stored+acked:\n",
              latencies_ms.size(), timeouts, background);
  std::printf("  p50 %.2f ms   p99 %.2f ms   max %.2f ms   mean %.2f ms   (alerts opened: %llu)\n", p50, p99, max,
              sum / static_cast<double>(latencies_ms.size()), static_cast<unsigned long long>(counters.opened));
  if (!ack_ms.empty())
    std::printf("  the completing press's own ack at the device: p50 %.2f ms   p99 %.2f ms; the alert after that ack: "
                "p50 %.2f ms   p99 %.2f ms\n",
                percentile(ack_ms, 0.5), percentile(ack_ms, 0.99), percentile(after_ack_ms, 0.5),
                percentile(after_ack_ms, 0.99));
  if (o.json) {
    json::object j{{"samples", latencies_ms.size()}, {"timeouts", timeouts},  {"background_per_s", background},
                   {"p50_ms", p50},                  {"p99_ms", p99},         {"max_ms", max},
                   {"mean_ms", sum / static_cast<double>(latencies_ms.size())}};
    if (!ack_ms.empty()) {
      j["ack_p50_ms"] = percentile(ack_ms, 0.5);
      j["ack_p99_ms"] = percentile(ack_ms, 0.99);
      j["alert_after_ack_p50_ms"] = percentile(after_ack_ms, 0.5);
      j["alert_after_ack_p99_ms"] = percentile(after_ack_ms, 0.99);
    }
    std::cout << json::serialize(j) << "\n";
  }
  return timeouts == 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  try {
    return run(o);
  } catch (const std::exception& e) {
    std::cerr << "kiosk-bench-alert-latency: " << e.what() << "\n";
    return 1;
  }
}
