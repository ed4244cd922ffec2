// kiosk-loadgen: N simulated devices on a few MQTT connections (a small Asio MQTT client, not Paho,
// so the generator is not the bottleneck) publish QoS 1 presses at an aggregate rate. hub mode: waits for the hub's acks and reports the stored+acked rate and ack latency.
// bare mode: a plain subscriber on device/+/press counts what the broker delivers (the ceiling).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <boost/json.hpp>
#include <boost/asio/steady_timer.hpp>
#include <optional>

#include "mqtt_wire.hpp"

#include "kiosk/bench/stats.hpp"
#include "kiosk/protocol/ids.hpp"
#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/topics.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using kiosk::protocol::TopicKind;

struct Options {
  std::string broker = "tcp://127.0.0.1:1883";
  std::string site;
  std::string prefix = "lg";
  std::size_t devices = 100;
  double rate = 1000;       // presses per second, all devices together
  double duration_s = 10;
  std::string mode = "hub";  // hub | bare
  std::size_t clients = 4;   // MQTT connections the devices share
  double drain_s = 10;       // how long to wait for the last acks after sending stops
  std::uint64_t seq_base = 0;  // 0: from the wall clock, so runs against the same hub never collide
  bool json = false;
};

const char* kHelp =
    "kiosk-loadgen: simulated kiosk terminals pressing at a fixed aggregate rate.\n\n"
    "usage: kiosk-loadgen --broker URL --site S --devices N --rate R --duration S [options]\n\n"
    "  --broker URL     MQTT broker [default: tcp://127.0.0.1:1883]\n"
    "  --site S         site id (required)\n"
    "  --devices N      simulated devices, ids PREFIX-0..PREFIX-(N-1) [default: 100]\n"
    "  --prefix P       device id prefix [default: lg]\n"
    "  --rate R         presses per second, all devices together [default: 1000]\n"
    "  --duration S     seconds of sending [default: 10]\n"
    "  --mode M         hub: count the hub's acks; bare: count deliveries to a plain subscriber [default: hub]\n"
    "  --clients C      MQTT connections the devices are spread over (device i on connection i mod C) [default: 4]\n"
    "  --drain S        seconds to wait for outstanding acks/deliveries after sending [default: 10]\n"
    "  --seq-base B     first seq is B+1 [default: from the wall clock]\n"
    "  --json           print the result as one JSON object\n"
    "  --help           this text\n\n"
    "Exit codes: 0 ok, 1 failed (cannot connect, or nothing acknowledged), 2 usage.\n";

[[noreturn]] void usage(const std::string& message) {
  std::cerr << "kiosk-loadgen: " << message << " (see kiosk-loadgen --help)\n";
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  auto number = [](const std::string& name, const std::string& v) {
    try {
      std::size_t used = 0;
      double d = std::stod(v, &used);
      if (used != v.size() || !(d >= 0)) throw std::invalid_argument(v);
      return d;
    } catch (const std::exception&) {
      usage("--" + name + ": \"" + v + "\" is not a non-negative number");
    }
  };
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      std::cout << kHelp;
      std::exit(0);
    }
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) usage("unexpected or incomplete argument " + a);
    std::string name = a.substr(2), v = argv[++i];
    if (name == "broker") o.broker = v;
    else if (name == "site") o.site = v;
    else if (name == "prefix") o.prefix = v;
    else if (name == "devices") o.devices = static_cast<std::size_t>(number(name, v));
    else if (name == "rate") o.rate = number(name, v);
    else if (name == "duration") o.duration_s = number(name, v);
    else if (name == "mode") o.mode = v;
    else if (name == "clients") o.clients = static_cast<std::size_t>(number(name, v));
    else if (name == "drain") o.drain_s = number(name, v);
    else if (name == "seq-base") o.seq_base = static_cast<std::uint64_t>(number(name, v));
    else usage("unknown option --" + name);
  }
  if (o.site.empty() || kiosk::protocol::check_id("site", o.site)) usage("--site needs a valid site id");
  if (o.mode != "hub" && o.mode != "bare") usage("--mode must be hub or bare");
  if (o.devices == 0 || o.rate <= 0 || o.duration_s <= 0 || o.clients == 0) usage("devices, rate, duration and clients must be > 0");
  o.clients = std::min(o.clients, o.devices);
  if (o.seq_base == 0)
    o.seq_base = static_cast<std::uint64_t>(
                     std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
                         .count()) *
                 1'000'000;
  return o;
}

// Send and first-completion times per (device, press index), ns since the run's start; 0 = not yet.
class Ledger {
 public:
  Ledger(std::size_t devices, std::size_t per_device)
      : per_device_(per_device), sent_(devices * per_device, 0), done_(devices * per_device, 0) {}
  std::size_t per_device() const { return per_device_; }
  void sent(std::size_t device, std::size_t index, std::int64_t t) { sent_[device * per_device_ + index] = t; }
  // The latency the first time (device, index) completes; nullopt otherwise.
  std::optional<std::int64_t> complete(std::size_t device, std::size_t index, std::int64_t t) {
    if (index >= per_device_) return std::nullopt;
    auto k = device * per_device_ + index;
    if (k >= done_.size() || done_[k] != 0 || sent_[k] == 0) return std::nullopt;
    done_[k] = t;
    return t - sent_[k];
  }

 private:
  std::size_t per_device_;
  std::vector<std::int64_t> sent_;
  std::vector<std::int64_t> done_;
};

}  // namespace

int main(int argc, char** argv) {
  using kiosk::loadgen::WireClient;
  Options o = parse(argc, argv);
  // tcp://host:port
  std::string host = "127.0.0.1";
  std::uint16_t port = 1883;
  {
    std::string url = o.broker;
    if (url.rfind("tcp://", 0) == 0) url = url.substr(6);
    else if (url.rfind("mqtt://", 0) == 0) url = url.substr(7);
    else usage("--broker must be tcp://HOST:PORT");
    auto colon = url.rfind(':');
    if (colon != std::string::npos) {
      host = url.substr(0, colon);
      port = static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
    } else {
      host = url;
    }
    if (host == "localhost") host = "127.0.0.1";
  }
  auto per_device = static_cast<std::size_t>(std::ceil(o.rate * o.duration_s / static_cast<double>(o.devices))) + 16;
  Ledger ledger(o.devices, per_device);
  boost::asio::io_context io(1);
  std::uint64_t sent = 0, done = 0;
  std::int64_t last_done_ns = 0;
  std::vector<double> latencies_ms;
  latencies_ms.reserve(static_cast<std::size_t>(o.rate * o.duration_s) + 16);
  Clock::time_point start{};
  std::string failure;
  auto on_error = [&](const std::string& what) {
    if (failure.empty()) failure = what;
  };

  // The counter: acks (hub mode) or the presses themselves (bare mode).
  auto on_message = [&](std::string_view topic, std::string_view payload) {
    auto now = std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count();
    auto end = topic.rfind('/');
    auto dash = topic.rfind('-', end);
    if (end == std::string_view::npos || dash == std::string_view::npos) return;
    std::size_t device = std::strtoull(std::string(topic.substr(dash + 1, end - dash - 1)).c_str(), nullptr, 10);
    if (device >= o.devices) return;
    std::vector<std::uint64_t> seqs;
    if (o.mode == "hub") {
      auto ack = kiosk::protocol::parse_ack(payload);
      if (!ack) return;
      seqs = std::move(ack->seqs);
    } else {
      auto press = kiosk::protocol::parse_press(payload);
      if (!press) return;
      seqs.push_back(press->seq);
    }
    for (auto seq : seqs) {
      if (seq <= o.seq_base) continue;
      if (auto latency = ledger.complete(device, seq - o.seq_base - 1, now)) {
        ++done;
        last_done_ns = now;
        latencies_ms.push_back(static_cast<double>(*latency) / 1e6);
      }
    }
  };

  std::vector<std::shared_ptr<WireClient>> publishers;
  std::shared_ptr<WireClient> counter;
  try {
    auto tag = std::to_string(::getpid());
    counter = std::make_shared<WireClient>(io, "loadgen-" + o.mode + "-counter-" + tag, on_message, on_error);
    counter->connect_blocking(host, port);
    counter->subscribe(kiosk::protocol::device_filter(o.site, o.mode == "hub" ? TopicKind::ack : TopicKind::press), 1);
    for (std::size_t c = 0; c < o.clients; ++c) {
      publishers.push_back(std::make_shared<WireClient>(
          io, "loadgen-" + o.mode + "-" + tag + "-" + std::to_string(c), [](std::string_view, std::string_view) {},
          on_error));
      publishers.back()->connect_blocking(host, port);
    }
    while (!counter->subscribed() && failure.empty()) io.run_one_for(std::chrono::milliseconds(100));
  } catch (const std::exception& e) {
    std::cerr << "kiosk-loadgen: cannot connect to " << o.broker << ": " << e.what() << " (is the broker running?)\n";
    return 1;
  }

  std::vector<std::string> topics;
  for (std::size_t d = 0; d < o.devices; ++d)
    topics.push_back(kiosk::protocol::device_topic(o.site, o.prefix + "-" + std::to_string(d), TopicKind::press));
  std::vector<std::size_t> next_index(o.devices, 0);
  auto total = static_cast<std::uint64_t>(std::llround(o.rate * o.duration_s));

  // Pacing: every millisecond, send what is due by now at the target rate, round-robin over devices.
  start = Clock::now();
  boost::asio::steady_timer tick(io);
  std::size_t turn = 0;
  std::function<void()> pace = [&] {
    auto elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    auto due = std::min<std::uint64_t>(total, static_cast<std::uint64_t>(elapsed * o.rate));
    while (sent < due) {
      std::size_t d = turn++ % o.devices;
      std::size_t index = next_index[d]++;
      if (index >= ledger.per_device()) break;
      kiosk::protocol::Press p;
      p.seq = o.seq_base + index + 1;
      p.button = static_cast<int>(index % 4);
      p.rating = static_cast<int>(1 + (index * 7 + d) % 4);
      p.scale = 4;
      ledger.sent(d, index, std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - start).count());
      publishers[d % publishers.size()]->publish(topics[d], kiosk::protocol::to_json(p), 1);
      ++sent;
    }
    if (sent < total && failure.empty()) {
      tick.expires_after(1ms);
      tick.async_wait([&](boost::system::error_code ec) {
        if (!ec) pace();
      });
    }
  };
  pace();
  Clock::time_point send_end{};
  // Run until everything is sent, then until all complete or the drain time passes.
  while (failure.empty()) {
    io.run_one_for(std::chrono::milliseconds(50));
    if (sent >= total) {
      if (send_end == Clock::time_point{}) send_end = Clock::now();
      if (done >= sent || Clock::now() - send_end > std::chrono::duration<double>(o.drain_s)) break;
    }
  }
  if (send_end == Clock::time_point{}) send_end = Clock::now();
  if (!failure.empty()) std::cerr << "kiosk-loadgen: connection failed: " << failure << "\n";
  for (auto& p : publishers) p->close();
  counter->close();

  double send_s = std::chrono::duration<double>(send_end - start).count();
  double last_s = static_cast<double>(last_done_ns) / 1e9;
  // Sustained rate: everything completed over the time from the first send to the last completion.
  double done_per_s = last_s > 0 ? static_cast<double>(done) / last_s : 0;
  double p50 = kiosk::bench::percentile(latencies_ms, 0.50), p99 = kiosk::bench::percentile(latencies_ms, 0.99);
  double max = latencies_ms.empty() ? 0 : *std::max_element(latencies_ms.begin(), latencies_ms.end());
  const std::string what = o.mode == "hub" ? "acked" : "received";
  if (o.json) {
    boost::json::object j{{"mode", o.mode},        {"devices", o.devices},     {"clients", o.clients},
                          {"rate_target", o.rate}, {"duration_s", o.duration_s}, {"sent", sent},
                          {"sent_per_s", static_cast<double>(sent) / send_s},
                          {what, done},            {what + "_per_s", done_per_s}, {"missing", sent - done},
                          {"latency_p50_ms", p50}, {"latency_p99_ms", p99},     {"latency_max_ms", max}};
    std::cout << boost::json::serialize(j) << "\n";
  } else {
    std::printf("mode %s: %zu devices on %zu connections, target %.0f/s for %.1f s\n", o.mode.c_str(), o.devices,
                o.clients, o.rate, o.duration_s);
    std::printf("sent %llu (%.0f/s), %s %llu (%.0f/s sustained), missing %llu\n", static_cast<unsigned long long>(sent),
                static_cast<double>(sent) / send_s, what.c_str(), static_cast<unsigned long long>(done), done_per_s,
                static_cast<unsigned long long>(sent - done));
    std::printf("latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", p50, p99, max);
  }
  return done > 0 && failure.empty() ? 0 : 1;
}
