// The run: start everything, press, inject faults on schedule, restore, drain, stop, judge.
#include "fault_run.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <iomanip>
#include <optional>
#include <sstream>
#include <thread>

#include <boost/json.hpp>

#include "evidence.hpp"
#include "fault_plan.hpp"
#include "hub_http.hpp"
#include "link_cutter.hpp"
#include "presser.hpp"
#include "processes.hpp"
#include "terminal_logs.hpp"
#include "kiosk/net/loopback.hpp"

namespace kiosk::faults {

// Set by SIGINT/SIGTERM (main installs the handler): the run stops pressing and cleans up.
std::atomic<bool> g_interrupted{false};

namespace {

using kiosk::net::free_tcp_port;
using kiosk::net::port_accepts;

namespace fs = std::filesystem;
using Steady = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr const char* kSite = "faults";
constexpr int kButtons = 4;

bool wait_for(const std::function<bool()>& condition, milliseconds timeout) {
  auto until = Steady::now() + timeout;
  for (;;) {
    if (condition()) return true;
    if (Steady::now() >= until || g_interrupted) return false;
    std::this_thread::sleep_for(milliseconds(20));
  }
}

std::string terminal_id(int i) {
  char id[16];
  std::snprintf(id, sizeof id, "t-%02d", i);
  return id;
}

std::string read_first_line(const fs::path& p) {
  std::ifstream in(p);
  std::string line;
  std::getline(in, line);
  return line;
}

class Run {
 public:
  explicit Run(const RunSettings& s) : s_(s) { report_.settings = s; }
  RunReport go();

 private:
  void say(const std::string& line) {
    if (!s_.progress) return;
    auto t = std::chrono::duration<double>(Steady::now() - t0_).count();
    std::fprintf(stderr, "info faults: [%7.2f s] %s\n", t, line.c_str());
  }
  void problem(const std::string& p) {
    report_.problems.push_back(p);
    if (s_.progress) std::fprintf(stderr, "error faults: %s\n", p.c_str());
  }
  void prepare();
  bool start_broker();
  bool start_hub(bool first);
  void register_devices();
  void start_terminal(int i);
  void inject(const Fault& f);
  void check_unexpected_exits();
  void sample();
  bool drain();
  void stop_all();
  void judge();

  RunSettings s_;
  RunReport report_;
  Steady::time_point t0_ = Steady::now();
  fs::path work_;
  int broker_port_ = 0;
  int hub_port_ = 0;
  std::string token_;
  std::unique_ptr<Process> broker_;
  std::unique_ptr<Process> hub_;
  std::vector<std::unique_ptr<Process>> terminals_;
  std::vector<bool> terminal_up_;
  std::vector<int> kills_;
  bool broker_up_ = false;
  bool hub_up_ = false;
  std::unique_ptr<LinkCutter> cutter_;
  std::unique_ptr<TerminalLogs> logs_;
  std::unique_ptr<Presser> presser_;
  struct Restore {
    Steady::time_point at;
    std::function<void()> action;
  };
  std::vector<Restore> restores_;
  void watch_hub();
  std::optional<Steady::time_point> hub_unavailable_since_;  // not running, or not connected to the broker
  Steady::time_point next_watch_{};
  Steady::time_point next_sample_{};
  std::ofstream csv_;
  Steady::time_point pressing_started_{};
};

void Run::prepare() {
  if (s_.work.empty()) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/kiosk-faults-XXXXXX";
    if (!::mkdtemp(pattern.data())) throw std::runtime_error("cannot create a work directory under " + pattern);
    work_ = pattern;
  } else {
    work_ = s_.work;
    fs::create_directories(work_);
  }
  report_.work = work_.string();
  fs::create_directories(work_ / "broker");
  fs::create_directories(work_ / "hub");
  for (int i = 0; i < s_.terminals; ++i) fs::create_directories(work_ / terminal_id(i));
  for (const char* bin : {"kiosk-hub", "kiosk-firmware"})
    if (!fs::exists(s_.bin_dir / bin))
      throw std::runtime_error((s_.bin_dir / bin).string() + " is missing; build it (cmake --build <build> --target " +
                               bin + ")");
}

bool Run::start_broker() {
  if (!broker_) {
    broker_port_ = free_tcp_port();
    std::ofstream conf(work_ / "broker" / "mosquitto.conf");
    conf << "listener " << broker_port_ << " 127.0.0.1\n"
         << "allow_anonymous true\n"
         // As the product's broker config (tools/mosquitto): the hub's persistent session and its
         // queue survive a clean broker restart; a SIGKILL loses what was not saved yet.
         << "persistence true\n"
         << "persistence_location " << (work_ / "broker").string() << "/\n"
         << "max_queued_messages 100000\n"
         << "log_dest stderr\n"
         << "log_type error\nlog_type warning\nlog_type notice\n"
         << "connection_messages true\n";
    // mosquitto started as root drops to user "mosquitto" unless told otherwise.
    if (::geteuid() == 0) conf << "user root\n";
    conf.close();
    broker_ = std::make_unique<Process>(
        "broker", std::vector<std::string>{"mosquitto", "-c", (work_ / "broker" / "mosquitto.conf").string()},
        work_ / "broker" / "mosquitto.log", Process::Output::file);
  }
  broker_->start();
  // The old listener may linger a moment after a SIGKILL; mosquitto retries nothing, so retry here.
  if (!wait_for([&] { return port_accepts(broker_port_); }, milliseconds(5000))) {
    if (!broker_->running()) {
      broker_->start();
      if (wait_for([&] { return port_accepts(broker_port_); }, milliseconds(5000))) {
        broker_up_ = true;
        return true;
      }
    }
    problem("mosquitto did not listen on port " + std::to_string(broker_port_) + " within 10 s (see " +
            (work_ / "broker" / "mosquitto.log").string() + ")");
    return false;
  }
  broker_up_ = true;
  return true;
}

bool Run::start_hub(bool first) {
  auto port_file = work_ / "hub" / "http.port";
  if (!hub_) {
    hub_ = std::make_unique<Process>(
        "hub",
        std::vector<std::string>{(s_.bin_dir / "kiosk-hub").string(), "--broker",
                                 "tcp://127.0.0.1:" + std::to_string(broker_port_), "--site", kSite, "--db",
                                 (work_ / "hub" / "hub.db").string(), "--http", "127.0.0.1:0", "--port-file",
                                 port_file.string(), "--log-level", "info"},
        work_ / "hub" / "hub.log", Process::Output::file);
  }
  fs::remove(port_file);
  hub_->start();
  if (!wait_for([&] { return fs::exists(port_file) || !hub_->running(); }, milliseconds(15000)) ||
      !hub_->running()) {
    problem("the hub did not start (see " + (work_ / "hub" / "hub.log").string() + ")");
    return false;
  }
  hub_port_ = std::stoi(read_first_line(port_file));
  hub_up_ = true;
  if (first) {
    // Healthy = database fine and connected to the broker.
    if (!wait_for(
            [&] {
              auto r = http_request(hub_port_, "GET", "/health");
              return r && r->status == 200;
            },
            milliseconds(15000))) {
      problem("the hub did not report healthy within 15 s");
      return false;
    }
    token_ = read_first_line(work_ / "hub" / "hub.token");
  }
  return true;
}

void Run::register_devices() {
  for (int i = 0; i < s_.terminals; ++i) {
    boost::json::object body{{"id", terminal_id(i)}, {"location", "lab-" + std::to_string(i % 4)}, {"board", "sim-4"}};
    auto r = http_request(hub_port_, "POST", "/api/devices", boost::json::serialize(body), token_);
    if (!r || (r->status != 201 && r->status != 200 && r->status != 409)) {
      throw std::runtime_error("cannot register " + terminal_id(i) + " at the hub: " +
                               (r ? std::to_string(r->status) + " " + r->body : std::string("no answer")));
    }
  }
}

void Run::start_terminal(int i) {
  auto& t = terminals_[static_cast<std::size_t>(i)];
  if (!t) {
    auto dir = work_ / terminal_id(i);
    t = std::make_unique<Process>(
        terminal_id(i),
        std::vector<std::string>{(s_.bin_dir / "kiosk-firmware").string(),
                                 "--device", terminal_id(i),
                                 "--site", kSite,
                                 "--broker", "tcp://127.0.0.1:" + std::to_string(cutter_->port(i)),
                                 "--board", "sim-4",
                                 // Seqs from 1, so the verdict can name every gap (a new outbox
                                 // otherwise starts at the wall clock in ms).
                                 "--first-seq", "1",
                                 "--boards-dir", s_.boards_dir.string(),
                                 "--data-dir", dir.string(),
                                 "--sim-input", (dir / "input.fifo").string(),
                                 // Continuous pressing: no lockout, shortest debounce.
                                 "--lockout-ms", "0", "--debounce-ms", "1", "--thanks-ms", "0",
                                 // A dead link is noticed within seconds, and reconnects are quick.
                                 "--keepalive-s", "2", "--reconnect-max-s", "2",
                                 "--telemetry-s", "10", "--log-level", "info"},
        fs::path{}, Process::Output::pipe);
  }
  int fd = t->start();
  logs_->attach(i, fd);
  terminal_up_[static_cast<std::size_t>(i)] = true;
}

void Run::inject(const Fault& f) {
  auto now = Steady::now();
  auto later = now + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(f.down_s));
  auto ms = milliseconds(static_cast<long>(f.down_s * 1000));
  std::ostringstream d;
  d << std::fixed << std::setprecision(1) << f.down_s << " s";
  switch (f.kind) {
    case FaultKind::hub_kill:
      if (!hub_up_) return;
      hub_->kill9();
      hub_up_ = false;
      say("fault hub_kill: SIGKILL hub, restart in " + d.str());
      restores_.push_back({later, [this] {
                             say("restore: starting the hub");
                             start_hub(false);
                           }});
      break;
    case FaultKind::broker_term:
    case FaultKind::broker_kill:
      if (!broker_up_) return;
      if (f.kind == FaultKind::broker_kill) {
        broker_->kill9();
      } else {
        broker_->signal(SIGTERM);
        if (!broker_->wait(milliseconds(5000))) {
          problem("mosquitto ignored SIGTERM for 5 s");
          broker_->kill9();
        }
      }
      broker_up_ = false;
      say(std::string("fault ") + std::string(name(f.kind)) + ": broker stopped, restart in " + d.str());
      restores_.push_back({later, [this] {
                             say("restore: starting the broker");
                             start_broker();
                           }});
      break;
    case FaultKind::terminal_kill: {
      int i = f.terminal;
      for (int k = 0; k < s_.terminals && !terminal_up_[static_cast<std::size_t>(i)]; ++k) i = (i + 1) % s_.terminals;
      if (!terminal_up_[static_cast<std::size_t>(i)]) return;
      terminals_[static_cast<std::size_t>(i)]->kill9();
      terminal_up_[static_cast<std::size_t>(i)] = false;
      kills_[static_cast<std::size_t>(i)] += 1;
      say("fault terminal_kill: SIGKILL " + terminal_id(i) + ", restart in " + d.str());
      restores_.push_back({later, [this, i] {
                             say("restore: starting " + terminal_id(i));
                             start_terminal(i);
                           }});
      break;
    }
    case FaultKind::link_cut:
      cutter_->cut(f.terminal, ms);
      say("fault link_cut: " + terminal_id(f.terminal) + " cut off for " + d.str());
      break;
    case FaultKind::link_stall:
      cutter_->stall(f.terminal, ms);
      say("fault link_stall: " + terminal_id(f.terminal) + " link silent for " + d.str());
      break;
  }
  report_.faults[std::string(name(f.kind))] += 1;
}

void Run::check_unexpected_exits() {
  if (broker_up_ && !broker_->running()) {
    problem("mosquitto exited on its own (status " + std::to_string(broker_->last_status().value_or(-1)) + ")");
    start_broker();
  }
  if (hub_up_ && !hub_->running()) {
    problem("the hub exited on its own (status " + std::to_string(hub_->last_status().value_or(-1)) + "; see " +
            (work_ / "hub" / "hub.log").string() + ")");
    start_hub(false);
  }
  for (int i = 0; i < s_.terminals; ++i) {
    auto& t = terminals_[static_cast<std::size_t>(i)];
    if (terminal_up_[static_cast<std::size_t>(i)] && !t->running()) {
      problem(terminal_id(i) + " exited on its own (status " + std::to_string(t->last_status().value_or(-1)) +
              "; see " + (work_ / (terminal_id(i) + ".log")).string() + ")");
      start_terminal(i);
    }
  }
}

void Run::watch_hub() {
  auto now = Steady::now();
  if (now < next_watch_) return;
  next_watch_ = now + milliseconds(200);
  bool available = false;
  if (hub_up_) {
    auto r = http_request(hub_port_, "GET", "/health", {}, {}, milliseconds(1000));
    available = r && r->body.find("\"broker\":\"connected\"") != std::string::npos;
  }
  now = Steady::now();
  if (!available) {
    if (!hub_unavailable_since_) hub_unavailable_since_ = now;
    return;
  }
  if (hub_unavailable_since_) {
    auto out = std::chrono::duration_cast<milliseconds>(now - *hub_unavailable_since_).count();
    report_.hub_outage_max_ms = std::max<std::int64_t>(report_.hub_outage_max_ms, out);
    if (out >= 5000) say("hub was unavailable (down, off the broker or not answering /health) for " + std::to_string(out) + " ms");
    hub_unavailable_since_.reset();
  }
}

void Run::sample() {
  auto now = Steady::now();
  if (s_.samples_csv.empty() || now < next_sample_) return;
  next_sample_ = now + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(s_.sample_every_s));
  Sample x;
  x.t_s = std::chrono::duration<double>(now - pressing_started_).count();
  auto h = sample_process(hub_up_ ? hub_->pid() : -1);
  auto b = sample_process(broker_up_ ? broker_->pid() : -1);
  auto f = sample_process(terminal_up_[0] ? terminals_[0]->pid() : -1);
  x.hub_rss_kb = h.rss_kb;
  x.hub_fds = h.fds;
  x.broker_rss_kb = b.rss_kb;
  x.broker_fds = b.fds;
  x.fw_rss_kb = f.rss_kb;
  x.fw_fds = f.fds;
  x.presses = logs_->press_count();
  report_.samples.push_back(x);
  csv_ << std::fixed << std::setprecision(1) << x.t_s << ',' << x.hub_rss_kb << ',' << x.hub_fds << ','
       << x.broker_rss_kb << ',' << x.broker_fds << ',' << x.fw_rss_kb << ',' << x.fw_fds << ',' << x.presses
       << std::endl;
}

bool Run::drain() {
  auto hub_db = work_ / "hub" / "hub.db";
  std::string last;
  bool done = wait_for(
      [&] {
        std::string error;
        auto stored = read_stored(hub_db, kSite, error);
        if (!stored) {
          last = "hub database: " + error;
          return false;
        }
        for (int i = 0; i < s_.terminals; ++i) {
          auto logged = logs_->presses(i);
          auto it = stored->find(terminal_id(i));
          std::size_t have = it == stored->end() ? 0 : it->second.size();
          std::uint64_t max_logged = 0;
          for (const auto& p : logged) max_logged = std::max(max_logged, p.seq);
          std::uint64_t max_stored = have ? it->second.back().seq : 0;
          if (max_stored < max_logged) {
            last = terminal_id(i) + ": hub has up to seq " + std::to_string(max_stored) + ", terminal logged " +
                   std::to_string(max_logged);
            return false;
          }
          auto depth = outbox_depth(work_ / terminal_id(i) / "outbox.db");
          if (!depth || *depth != 0) {
            last = terminal_id(i) + ": outbox holds " + (depth ? std::to_string(*depth) : std::string("?")) +
                   " presses";
            return false;
          }
        }
        return true;
      },
      milliseconds(static_cast<long>(s_.drain_timeout_s * 1000)));
  if (!done) problem("not drained within " + std::to_string(static_cast<int>(s_.drain_timeout_s)) + " s: " + last);
  return done;
}

void Run::stop_all() {
  for (int i = 0; i < s_.terminals; ++i) {
    auto& t = terminals_[static_cast<std::size_t>(i)];
    if (!t || !terminal_up_[static_cast<std::size_t>(i)]) continue;
    int status = t->stop(milliseconds(5000));
    terminal_up_[static_cast<std::size_t>(i)] = false;
    if (status != 0) problem(terminal_id(i) + " did not stop cleanly on SIGTERM (status " + std::to_string(status) + ")");
  }
  // Every line a terminal wrote is read before the verdict.
  if (logs_ && !logs_->drained(5000)) problem("terminal logs still open 5 s after the terminals stopped");
  if (hub_ && hub_up_) {
    int status = hub_->stop(milliseconds(10000));
    hub_up_ = false;
    if (status != 0) problem("the hub did not stop cleanly on SIGTERM (status " + std::to_string(status) + ")");
  }
  if (broker_ && broker_up_) {
    broker_->stop(milliseconds(5000));
    broker_up_ = false;
  }
}

void Run::judge() {
  std::string error;
  auto stored = read_stored(work_ / "hub" / "hub.db", kSite, error);
  if (!stored) {
    problem("cannot read the hub's presses: " + error);
    stored.emplace();
  }
  std::vector<DeviceEvidence> evidence;
  for (int i = 0; i < s_.terminals; ++i) {
    DeviceEvidence e;
    e.device = terminal_id(i);
    e.logged = logs_->presses(i);
    if (auto it = stored->find(e.device); it != stored->end()) e.stored = it->second;
    e.kills = kills_[static_cast<std::size_t>(i)];
    evidence.push_back(std::move(e));
  }
  for (const auto& [device, rows] : *stored)
    if (device.rfind("t-", 0) != 0) problem("presses stored for a device nobody ran: " + device);
  // A press published while the hub is down or disconnected waits in the broker's queue for the
  // hub's persistent session; its age_ms was measured at sending, so its hub time is late by up to
  // that outage (measured by watch_hub, 200 ms resolution).
  report_.bounds.late_ms = 1000 + report_.hub_outage_max_ms;
  report_.bounds.order_slack_ms = report_.bounds.late_ms;
  report_.verdict = faults::judge(evidence, report_.bounds);
}

RunReport Run::go() {
  prepare();
  say("work directory " + work_.string());
  if (!s_.samples_csv.empty()) {
    csv_.open(s_.samples_csv);
    csv_ << "t_s,hub_rss_kb,hub_fds,broker_rss_kb,broker_fds,fw_rss_kb,fw_fds,presses_logged" << std::endl;
  }
  for (auto k : kAllFaultKinds) report_.faults[std::string(name(k))] = 0;
  if (!start_broker()) return report_;
  if (!start_hub(true)) return report_;
  register_devices();
  say("hub on http://127.0.0.1:" + std::to_string(hub_port_) + ", broker on 127.0.0.1:" + std::to_string(broker_port_) +
      ", " + std::to_string(s_.terminals) + " devices registered");
  cutter_ = std::make_unique<LinkCutter>(s_.terminals, broker_port_);
  logs_ = std::make_unique<TerminalLogs>(s_.terminals, work_);
  terminals_.resize(static_cast<std::size_t>(s_.terminals));
  terminal_up_.assign(static_cast<std::size_t>(s_.terminals), false);
  kills_.assign(static_cast<std::size_t>(s_.terminals), 0);
  for (int i = 0; i < s_.terminals; ++i) start_terminal(i);
  if (!wait_for(
          [&] {
            for (int i = 0; i < s_.terminals; ++i)
              if (logs_->stats(i).connects == 0) return false;
            return true;
          },
          milliseconds(20000))) {
    problem("not every terminal connected within 20 s");
    stop_all();
    return report_;
  }
  say("all terminals connected; pressing at " + std::to_string(static_cast<int>(s_.rate)) + "/s for " +
      std::to_string(static_cast<int>(s_.duration_s)) + " s");

  std::vector<fs::path> fifos;
  for (int i = 0; i < s_.terminals; ++i) fifos.push_back(work_ / terminal_id(i) / "input.fifo");
  pressing_started_ = Steady::now();
  presser_ = std::make_unique<Presser>(fifos, s_.rate, kButtons, s_.seed * 7919 + 1);
  std::vector<Fault> plan;
  if (s_.faults) {
    PlanSettings ps;
    ps.duration_s = s_.duration_s;
    ps.mean_gap_s = s_.fault_gap_s;
    ps.terminals = s_.terminals;
    ps.seed = s_.seed;
    plan = plan_faults(ps);
  }
  std::size_t next_fault = 0;
  auto end = pressing_started_ + std::chrono::duration_cast<Steady::duration>(std::chrono::duration<double>(s_.duration_s));
  while (Steady::now() < end && !g_interrupted) {
    double t = std::chrono::duration<double>(Steady::now() - pressing_started_).count();
    while (next_fault < plan.size() && plan[next_fault].at_s <= t) inject(plan[next_fault++]);
    auto now = Steady::now();
    for (std::size_t k = 0; k < restores_.size();) {
      if (restores_[k].at <= now) {
        auto action = std::move(restores_[k].action);
        restores_.erase(restores_.begin() + static_cast<std::ptrdiff_t>(k));
        action();
      } else {
        ++k;
      }
    }
    check_unexpected_exits();
    watch_hub();
    sample();
    std::this_thread::sleep_for(milliseconds(20));
  }
  presser_->stop();
  report_.pressing_s = std::chrono::duration<double>(Steady::now() - pressing_started_).count();
  report_.written = presser_->written();
  report_.skipped = presser_->skipped();
  for (auto& r : restores_) r.action();  // anything still down comes back before the drain
  restores_.clear();
  if (g_interrupted) problem("interrupted");
  say("pressing stopped after " + std::to_string(logs_->press_count()) + " accepted presses; draining");
  auto drain_start = Steady::now();
  report_.drained = !g_interrupted && drain();
  report_.drain_s = std::chrono::duration<double>(Steady::now() - drain_start).count();
  check_unexpected_exits();
  sample();
  stop_all();
  judge();
  report_.total_s = std::chrono::duration<double>(Steady::now() - t0_).count();
  return report_;
}

std::string format_faults(const std::map<std::string, int>& faults) {
  std::string out;
  int total = 0;
  for (const auto& [k, n] : faults) {
    out += (out.empty() ? "" : " ") + k + "=" + std::to_string(n);
    total += n;
  }
  return out + " (total " + std::to_string(total) + ")";
}

}  // namespace

RunReport run_faults(const RunSettings& settings) {
  Run run(settings);
  auto report = run.go();
  if (report.ok() && !settings.keep && settings.work.empty()) {
    std::error_code ec;
    fs::remove_all(report.work, ec);
  }
  return report;
}

boost::json::value to_json(const RunReport& r) {
  boost::json::object faults;
  for (const auto& [k, n] : r.faults) faults[k] = n;
  boost::json::array problems;
  for (const auto& p : r.problems) problems.emplace_back(p);
  boost::json::object o{{"ok", r.ok()},
                        {"terminals", r.settings.terminals},
                        {"rate", r.settings.rate},
                        {"duration_s", r.settings.duration_s},
                        {"seed", r.settings.seed},
                        {"verdict", to_json(r.verdict)},
                        {"bounds", boost::json::object{{"early_ms", r.bounds.early_ms},
                                                       {"late_ms", r.bounds.late_ms},
                                                       {"order_slack_ms", r.bounds.order_slack_ms}}},
                        {"faults", faults},
                        {"presses_written", r.written},
                        {"presses_skipped", r.skipped},
                        {"pressing_s", r.pressing_s},
                        {"drain_s", r.drain_s},
                        {"total_s", r.total_s},
                        {"drained", r.drained},
                        {"hub_outage_max_ms", r.hub_outage_max_ms},
                        {"problems", problems},
                        {"work", r.work}};
  if (!r.samples.empty()) {
    auto sample_json = [](const Sample& s) {
      return boost::json::object{{"t_s", s.t_s},           {"hub_rss_kb", s.hub_rss_kb}, {"hub_fds", s.hub_fds},
                                 {"broker_rss_kb", s.broker_rss_kb}, {"broker_fds", s.broker_fds},
                                 {"fw_rss_kb", s.fw_rss_kb}, {"fw_fds", s.fw_fds},     {"presses", s.presses}};
    };
    o["samples"] = boost::json::object{{"first", sample_json(r.samples.front())},
                                       {"last", sample_json(r.samples.back())},
                                       {"count", r.samples.size()}};
  }
  return o;
}

std::string summary(const RunReport& r) {
  const auto& v = r.verdict;
  std::ostringstream o;
  o << std::fixed << std::setprecision(1);
  o << "kiosk-faults: " << r.settings.terminals << " terminals, " << r.settings.rate << " presses/s, "
    << r.settings.duration_s << " s, seed " << r.settings.seed << (r.settings.faults ? "" : ", no faults") << "\n";
  o << "presses made (accepted and logged by the terminals): " << v.made << "\n";
  o << "presses stored at the hub: " << v.stored << "\n";
  o << "missing: " << v.missing << "  duplicated: " << v.duplicated << "  gaps: " << v.gaps
    << "  reused seqs: " << v.reused << "  mismatched: " << v.mismatched
    << "  stored-but-unlogged (killed between commit and log): " << v.unlogged << "\n";
  o << "timestamps: stored time up to " << v.max_early_ms << " ms before / " << v.max_late_ms
    << " ms after the terminal's log line (bounds " << r.bounds.early_ms << " / " << r.bounds.late_ms
    << " ms; longest hub outage (down or off the broker) " << r.hub_outage_max_ms << " ms); out of bounds: " << v.out_of_bounds
    << ", out of order: " << v.disorder << "\n";
  o << "slowest delivery (hub receive - press): " << v.max_delivery_ms << " ms\n";
  o << "faults injected: " << format_faults(r.faults) << "\n";
  o << "press lines written: " << r.written << ", skipped while a terminal was down: " << r.skipped << "\n";
  o << "time: pressing " << r.pressing_s << " s, drain " << r.drain_s << " s, total " << r.total_s << " s\n";
  if (!r.samples.empty()) {
    const auto& a = r.samples.front();
    const auto& b = r.samples.back();
    o << "memory (VmRSS kB) first/last: hub " << a.hub_rss_kb << "/" << b.hub_rss_kb << ", broker " << a.broker_rss_kb
      << "/" << b.broker_rss_kb << ", t-00 " << a.fw_rss_kb << "/" << b.fw_rss_kb << "; fds first/last: hub "
      << a.hub_fds << "/" << b.hub_fds << ", broker " << a.broker_fds << "/" << b.broker_fds << ", t-00 "
      << a.fw_fds << "/" << b.fw_fds << "\n";
  }
  for (const auto& p : r.problems) o << "problem: " << p << "\n";
  for (const auto& d : v.devices)
    for (const auto& p : d.problems) o << "problem: " << p << "\n";
  o << "work directory: " << r.work << (r.ok() && !r.settings.keep && r.settings.work.empty() ? " (removed)" : "")
    << "\n";
  o << "verdict: " << (r.ok() ? "PASS" : "FAIL") << "\n";
  return o.str();
}

}  // namespace kiosk::faults
