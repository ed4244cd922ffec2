// kiosk-firmware against a real mosquitto, the test playing the hub: presses, outage, kill -9, Will,
// seq seeding, a corrupt outbox (at start and at run time), a broker that refuses the ack
// subscription (and the backoff that follows), the thank-you light before the commit.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timex.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>

#include <sqlite3.h>

#include "kiosk/protocol/protocol.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
namespace proto = kiosk::protocol;

namespace {

const std::string kSite = "demo";
const std::string kDevice = "desk-1";
std::string topic(proto::TopicKind kind) { return proto::device_topic(kSite, kDevice, kind); }

std::size_t count_lines(const std::string& log, const std::string& prefix) {
  std::size_t n = 0;
  std::size_t pos = 0;
  while ((pos = log.find(prefix, pos)) != std::string::npos) {
    if (pos == 0 || log[pos - 1] == '\n') ++n;
    pos += prefix.size();
  }
  return n;
}

// One terminal process with its data dir and simulated buttons; restartable on the same data.
class Terminal {
 public:
  Terminal(const Broker& broker, std::vector<std::string> extra = {})
      : broker_url_(broker.url()), extra_(std::move(extra)) {
    start();
  }

  void start() {
    ++runs_;
    std::vector<std::string> argv{(bin_dir() / "kiosk-firmware").string(),
                                  "--site", kSite, "--device", kDevice, "--broker", broker_url_,
                                  "--board", "sim-4", "--boards-dir", (source_dir() / "boards").string(),
                                  "--data-dir", (dir_ / "data").string(), "--sim-input", fifo(),
                                  "--log-level", "debug", "--reconnect-max-s", "1",
                                  // Seqs from 1 keep the checks readable; the default (wall-clock
                                  // seed) has its own test and "--first-seq 0" in extra restores it.
                                  "--first-seq", "1"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    child_ = std::make_unique<Child>(argv, Child::Options{.env = {}, .log_file = log_path(), .working_dir = {}});
    bool started = wait_until([&] { return log().find("info daemon: started") != std::string::npos || !child_->running(); });
    REQUIRE(started);
    REQUIRE(child_->running());
  }

  std::string outbox_path() const { return (dir_ / "data" / "outbox.db").string(); }
  fs::path data_dir() const { return dir_ / "data"; }
  std::string fifo() const { return (dir_ / "buttons.fifo").string(); }
  std::string log_path() const { return (dir_ / ("fw-" + std::to_string(runs_) + ".log")).string(); }
  std::string log() const { return child_ ? child_->log() : std::string{}; }
  Child& child() { return *child_; }
  std::size_t presses_taken() const { return count_lines(log(), "info press: "); }

  void write(const std::string& lines) {
    int fd = ::open(fifo().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::size_t off = 0;
    while (off < lines.size()) {
      auto n = ::write(fd, lines.data() + off, lines.size() - off);
      if (n > 0) off += static_cast<std::size_t>(n);
      else REQUIRE(wait_until([] { return true; }, 1ms));  // FIFO full: the reader drains it
    }
    ::close(fd);
  }
  void press(int button) { write("press " + std::to_string(button) + "\n"); }

 private:
  std::string broker_url_;
  std::vector<std::string> extra_;
  TempDir dir_;
  int runs_ = 0;
  std::unique_ptr<Child> child_;
};

std::unique_ptr<MqttProbe> hub_probe(const Broker& broker) {
  auto probe = std::make_unique<MqttProbe>(broker.url());
  probe->connect();
  REQUIRE(probe->subscribe(topic(proto::TopicKind::press)) == 1);
  REQUIRE(probe->subscribe(topic(proto::TopicKind::status)) == 1);
  return probe;
}

bool is_status(const Message& m, proto::DeviceState state) {
  if (m.topic != topic(proto::TopicKind::status)) return false;
  auto s = proto::parse_status(m.payload);
  return s.ok() && s->state == state;
}

std::optional<proto::Press> next_press(MqttProbe& probe, std::chrono::milliseconds timeout = 5s) {
  auto m = probe.wait_for_topic(topic(proto::TopicKind::press), timeout);
  if (!m) return std::nullopt;
  auto p = proto::parse_press(m->payload);
  REQUIRE(p.ok());
  return *p;
}

void ack(MqttProbe& probe, std::vector<std::uint64_t> seqs) {
  REQUIRE(probe.publish(topic(proto::TopicKind::ack), proto::to_json(proto::Ack{std::move(seqs)})));
}

// Plays the hub until `count` distinct presses arrived, acknowledging each; returns them in the
// order they first arrived.
std::vector<proto::Press> receive_and_ack(MqttProbe& probe, std::size_t count, std::chrono::seconds timeout) {
  std::vector<proto::Press> first_arrivals;
  std::set<std::uint64_t> seen;
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (seen.size() < count && std::chrono::steady_clock::now() < deadline) {
    auto p = next_press(probe, 1s);
    if (!p) continue;
    if (seen.insert(p->seq).second) first_arrivals.push_back(*p);
    ack(probe, {p->seq});
  }
  return first_arrivals;
}

}  // namespace

TEST_CASE("a press arrives on the device's press topic with the right payload and is deleted on ack",
          "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker, {"--lockout-ms", "0"});

  auto online = probe->wait_for([](const Message& m) { return is_status(m, proto::DeviceState::online); });
  REQUIRE(online);
  auto status = proto::parse_status(online->payload);
  CHECK(status->fw == std::string(KIOSK_VERSION));
  CHECK(status->board == std::string("sim-4"));
  CHECK(status->buttons == 4);
  {
    MqttProbe late(broker.url());  // a live delivery clears the retain flag; a late subscriber sees it
    late.connect();
    late.subscribe(topic(proto::TopicKind::status));
    auto retained = late.wait_for([](const Message& m) { return is_status(m, proto::DeviceState::online); });
    REQUIRE(retained);
    CHECK(retained->retained);
  }

  terminal.press(2);
  auto p = next_press(*probe);
  REQUIRE(p);
  CHECK(p->seq == 1);
  CHECK(p->button == 2);
  CHECK(p->rating == 3);
  CHECK(p->scale == 4);
  CHECK(p->age_ms < 1000);
  CHECK(p->flags.empty());
  CHECK(terminal.log().find("info press: seq=1 button=2 rating=3") != std::string::npos);

  // The next guest within the repeat window is flagged.
  terminal.press(0);
  auto second = next_press(*probe);
  REQUIRE(second);
  CHECK(second->seq == 2);
  CHECK(second->rating == 1);
  CHECK(second->is_repeat());

  ack(*probe, {1, 2});
  CHECK(wait_until([&] { return terminal.log().find("debug ack: seqs=1..2 deleted=2 queued=0") != std::string::npos; }));
}

TEST_CASE("with the broker stopped 500 presses are taken and all arrive in order after it restarts",
          "[integration]") {
  Broker broker;
  Terminal terminal(broker, {"--lockout-ms", "0", "--debounce-ms", "1"});
  {
    auto probe = hub_probe(broker);
    REQUIRE(probe->wait_for([](const Message& m) { return is_status(m, proto::DeviceState::online); }));
  }
  broker.stop();
  REQUIRE(wait_until([&] { return terminal.log().find("warn mqtt:") != std::string::npos; }));

  std::string lines;
  for (int i = 0; i < 500; ++i) lines += "press " + std::to_string(i % 4) + "\n";
  terminal.write(lines);
  REQUIRE(wait_until([&] { return terminal.presses_taken() == 500; }, 30s));

  // Hold the firmware still until the hub is listening again, so no first send goes unseen.
  terminal.child().signal(SIGSTOP);
  broker.start();
  auto probe = hub_probe(broker);
  terminal.child().signal(SIGCONT);
  auto presses = receive_and_ack(*probe, 500, 40s);
  REQUIRE(presses.size() == 500);
  for (std::size_t i = 0; i < presses.size(); ++i) {
    INFO("arrival " << i);
    REQUIRE(presses[i].seq == i + 1);
    REQUIRE(presses[i].button == static_cast<int>(i % 4));
  }
  // Taken while offline, so their age says how long ago the guest pressed.
  CHECK(presses.front().age_ms > presses.back().age_ms);
  CHECK(wait_until([&] { return terminal.log().find("queued=0\n") != std::string::npos; }));
}

TEST_CASE("after kill -9 with unacknowledged presses a restart re-sends them and no seq repeats",
          "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker, {"--lockout-ms", "0", "--debounce-ms", "1"});
  terminal.write("press 0\npress 1\npress 2\npress 3\npress 0\n");
  std::vector<proto::Press> before;
  for (int i = 0; i < 5; ++i) {
    auto p = next_press(*probe);
    REQUIRE(p);
    before.push_back(*p);
  }
  ack(*probe, {before[0].seq});  // the hub stored only the first one
  REQUIRE(wait_until([&] { return terminal.log().find("debug ack: seqs=1 ") != std::string::npos; }));
  terminal.child().kill9();

  terminal.start();
  terminal.write("press 3\npress 3\n");  // one button: one after the other
  auto after = receive_and_ack(*probe, 6, 20s);
  REQUIRE(after.size() == 6);
  std::vector<std::uint64_t> seqs;
  for (const auto& p : after) seqs.push_back(p.seq);
  CHECK(seqs == std::vector<std::uint64_t>{2, 3, 4, 5, 6, 7});
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(after[i].button == before[i + 1].button);
    CHECK(after[i].rating == before[i + 1].rating);
    CHECK(after[i].age_ms >= before[i + 1].age_ms);
  }
  CHECK(after[4].button == 3);
  CHECK(after[5].button == 3);
}

TEST_CASE("a press that cannot be stored is refused with its own LED pattern and the next one is kept",
          "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker, {"--lockout-ms", "0", "--debounce-ms", "1"});
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(terminal.outbox_path().c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);  // writes now fail
  terminal.press(0);
  REQUIRE(wait_until([&] { return terminal.log().find("error outbox: press refused") != std::string::npos; }));
  CHECK(terminal.log().find("debug led: pattern=refused") != std::string::npos);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  terminal.press(1);
  auto p = next_press(*probe);
  REQUIRE(p);
  CHECK(p->seq == 1);  // the refused press did not use a seq and was never published
  CHECK(p->button == 1);
  CHECK(terminal.child().running());
}

TEST_CASE("the Last Will marks the device offline when the firmware dies", "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker, {"--keepalive-s", "1"});
  REQUIRE(probe->wait_for([](const Message& m) { return is_status(m, proto::DeviceState::online); }));
  terminal.child().kill9();
  auto offline = probe->wait_for([](const Message& m) { return is_status(m, proto::DeviceState::offline); }, 5s);
  REQUIRE(offline);
  // Retained: someone who looks later sees it too.
  MqttProbe late(broker.url());
  late.connect();
  late.subscribe(topic(proto::TopicKind::status));
  auto retained = late.wait_for([](const Message& m) { return is_status(m, proto::DeviceState::offline); });
  REQUIRE(retained);
  CHECK(retained->retained);
}

TEST_CASE("SIGTERM publishes the offline status and exits 0", "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker);
  REQUIRE(probe->wait_for([](const Message& m) { return is_status(m, proto::DeviceState::online); }));
  terminal.child().signal(SIGTERM);
  CHECK(terminal.child().wait(5s) == 0);
  CHECK(probe->wait_for([](const Message& m) { return is_status(m, proto::DeviceState::offline); }));
}

TEST_CASE("telemetry reports uptime and outbox depth", "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  REQUIRE(probe->subscribe(topic(proto::TopicKind::telemetry), 0) == 0);
  Terminal terminal(broker, {"--telemetry-s", "1"});
  terminal.press(1);
  REQUIRE(next_press(*probe));  // not acknowledged: stays queued
  auto m = probe->wait_for([](const Message& msg) {
    if (msg.topic != topic(proto::TopicKind::telemetry)) return false;
    auto t = proto::parse_telemetry(msg.payload);
    return t.ok() && t->queued == 1;
  }, 5s);
  REQUIRE(m);
  CHECK(m->payload.find("\"dropped\":0") != std::string::npos);
}

TEST_CASE("a retained config from the hub changes the lockout at run time", "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  REQUIRE(probe->publish(topic(proto::TopicKind::config), R"({"lockout_ms":0,"thanks_ms":100})", 1, true));
  Terminal terminal(broker, {"--debounce-ms", "1"});  // default lockout 1500 ms
  REQUIRE(wait_until([&] { return terminal.log().find("info config: applied lockout_ms=0 thanks_ms=100") != std::string::npos; }));
  terminal.write("press 0\npress 1\n");
  REQUIRE(next_press(*probe));
  REQUIRE(next_press(*probe));
}

TEST_CASE("--help documents the flags and bad settings are usage errors", "[integration]") {
  TempDir dir;
  auto fw = (bin_dir() / "kiosk-firmware").string();
  Child help({fw, "--help"}, Child::Options{.env = {}, .log_file = dir / "help.log", .working_dir = {}});
  CHECK(help.wait(5s) == 0);
  for (const char* flag : {"--config", "--device", "--site", "--broker", "--username", "--password",
                           "--password-file", "--ca-file", "--cert-file", "--key-file", "--board", "--boards-dir",
                           "--data-dir", "--sim-input", "--debounce-ms", "--lockout-ms", "--repeat-window-ms",
                           "--telemetry-s", "--outbox-max", "--log-level", "--keepalive-s", "--first-seq",
                           "--version"}) {
    CHECK(help.log().find(flag) != std::string::npos);
  }
  std::ofstream(dir / "d.json") << R"({"site":"demo","device":"d1","broker":"tcp://127.0.0.1:1","board":"sim-4","lockot_ms":1})";
  Child bad({fw, "--config", (dir / "d.json").string()},
            Child::Options{.env = {}, .log_file = dir / "bad.log", .working_dir = {}});
  CHECK(bad.wait(5s) == 2);
  CHECK(bad.log().find("lockot_ms") != std::string::npos);
}

namespace {

std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The kernel's verdict, by the rule systemd's timedatectl uses (as the firmware does).
bool clock_synchronised() {
  timex tx{};
  int rc = ::ntp_adjtime(&tx);
  return rc >= 0 && tx.maxerror < 16'000'000;
}

}  // namespace

TEST_CASE("a terminal with a new outbox numbers its presses from the synchronised wall clock, else from a random start",
          "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  auto before = wall_now_ms();
  bool synced_before = clock_synchronised();
  Terminal terminal(broker, {"--first-seq", "0", "--lockout-ms", "0"});
  terminal.press(1);
  auto p = next_press(*probe);
  REQUIRE(p);
  auto after = wall_now_ms();
  INFO(terminal.log());
  if (synced_before && clock_synchronised()) {
    REQUIRE(before >= 1'767'225'600'000);  // this machine's clock is set (2026 or later)
    CHECK(p->seq >= static_cast<std::uint64_t>(before));
    CHECK(p->seq <= static_cast<std::uint64_t>(after));
    CHECK(terminal.log().find("from the wall clock (ms)") != std::string::npos);
    CHECK(terminal.log().find("info clock: wall clock synchronised") != std::string::npos);
  } else if (!synced_before && !clock_synchronised()) {
    // A clock that merely looks right (fake-hwclock, no NTP) may be behind seqs used before.
    CHECK(p->seq >= (std::uint64_t{1} << 30));
    CHECK(p->seq < (std::uint64_t{1} << 40));
    CHECK(terminal.log().find("picked at random: the wall clock is not synchronised") != std::string::npos);
    CHECK(terminal.log().find("warn clock: wall clock not synchronised") != std::string::npos);
    CHECK(count_lines(terminal.log(), "warn clock: ") == 1);  // once, not per press
  }
}

namespace {

// A dynsec broker account for kDevice whose role may publish under its own topics and read its
// config, not its acks.
void add_device_without_acks(const Broker& broker) {
  const auto ctrl = [&](const std::vector<std::string>& args) { broker.dynsec(args); };
  ctrl({"createRole", "device"});
  ctrl({"addRoleACL", "device", "publishClientSend", "kiosk/v1/demo/device/desk-1/#", "allow"});
  ctrl({"addRoleACL", "device", "subscribeLiteral", topic(proto::TopicKind::config), "allow"});
  ctrl({"createClient", kDevice, "-p", "device-secret"});
  ctrl({"addClientRole", kDevice, "device"});
}

// The N of every "retry in N ms" after a refused ack subscription, in order.
std::vector<long> refusal_retry_delays(const std::string& log) {
  std::vector<long> out;
  const std::string start = "warn mqtt: ack subscription refused;";
  for (auto pos = log.find(start); pos != std::string::npos; pos = log.find(start, pos + 1)) {
    auto eol = log.find('\n', pos);
    auto line = log.substr(pos, eol == std::string::npos ? std::string::npos : eol - pos);
    auto at = line.find("retry in ");
    if (at != std::string::npos) out.push_back(std::stol(line.substr(at + 9)));
  }
  return out;
}

// A broker with accounts on which the device may not subscribe to its ack topic, and the terminal
// connecting to it with that account.
struct RefusedAcks {
  RefusedAcks() : terminal(with_device(broker), {"--username", kDevice, "--password", "device-secret"}) {}
  static const Broker& with_device(const Broker& broker) {
    add_device_without_acks(broker);
    return broker;
  }
  Broker broker{Broker::Options{.dynsec = true, .admin_user = "admin", .admin_password = "admin-secret",
                                .extra_config = ""}};
  Terminal terminal;
};

}  // namespace

TEST_CASE("repeated refusals of the ack subscription back off to the configured maximum instead of reconnecting at once",
          "[integration]") {
  // --reconnect-max-s 1 (Terminal's default): delays are drawn from [250, 500] ms, then [500, 1000]
  // ms from the second retry on. A backoff reset on every CONNACK keeps every one in [250, 500).
  RefusedAcks setup;
  auto& terminal = setup.terminal;
  bool four = wait_until([&] { return refusal_retry_delays(terminal.log()).size() >= 4; }, 15s);
  INFO(terminal.log());
  REQUIRE(four);
  auto delays = refusal_retry_delays(terminal.log());
  CHECK(delays[0] >= 250);
  CHECK(delays[0] <= 500);
  for (std::size_t i = 1; i < delays.size(); ++i) {
    CHECK(delays[i] >= 500);  // grown to the 1 s cap: drawn from [cap/2, cap]
    CHECK(delays[i] <= 1000);
  }
  CHECK(terminal.child().running());
}

TEST_CASE("a terminal whose outbox file is not a database moves it aside, says so and keeps taking presses",
          "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker, {"--first-seq", "0", "--lockout-ms", "0"});
  CHECK(terminal.child().stop() == 0);
  for (const char* name : {"outbox.db", "outbox.db-wal", "outbox.db-shm"}) fs::remove(terminal.data_dir() / name);
  std::ofstream(terminal.data_dir() / "outbox.db", std::ios::binary) << std::string(8192, 'x');
  terminal.start();  // today: throws at start, systemd restarts it every 2 s, forever
  CHECK(terminal.log().find("error outbox: ") != std::string::npos);
  CHECK(terminal.log().find("no press in it could be read back") != std::string::npos);
  bool moved = false;
  for (const auto& entry : fs::directory_iterator(terminal.data_dir())) {
    const auto name = entry.path().filename().string();
    if (name.rfind("outbox.db.corrupt-", 0) == 0) moved = true;
    CHECK(name.find(".salvage") == std::string::npos);  // the copy it read from is gone
  }
  CHECK(moved);
  terminal.press(2);
  auto p = next_press(*probe);
  REQUIRE(p);
  CHECK(p->button == 2);
}

TEST_CASE("a broker that refuses the ack subscription is a link failure, logged with the account to check, and retried",
          "[integration]") {
  RefusedAcks setup;
  auto& terminal = setup.terminal;
  auto refused_line = "error mqtt: subscription to " + topic(proto::TopicKind::ack) + " refused by the broker";
  bool refused = wait_until([&] { return terminal.log().find(refused_line) != std::string::npos; }, 10s);
  INFO(terminal.log());
  REQUIRE(refused);
  CHECK(terminal.log().find("check the device's broker account") != std::string::npos);
  // Logged right after the refusal, as a line of its own: it may not be written yet.
  CHECK(wait_until([&] { return terminal.log().find("warn mqtt: ack subscription refused;") != std::string::npos; },
                   10s));
  // It comes back (after its backoff) and is refused again, rather than waiting for acks forever.
  CHECK(wait_until([&] { return count_lines(terminal.log(), refused_line) >= 2; }, 10s));
  CHECK(count_lines(terminal.log(), "error mqtt: subscription to " + topic(proto::TopicKind::config)) == 0);
  CHECK(terminal.child().running());
}

TEST_CASE("SIGTERM while the connect to the broker is still in progress exits 0 instead of aborting",
          "[integration]") {
  // A listener that never answers CONNECT: the firmware's connect attempt stays in progress.
  int silent = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(silent >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(silent, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  REQUIRE(::listen(silent, 4) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(silent, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  TempDir dir;
  Child fw({(bin_dir() / "kiosk-firmware").string(), "--site", kSite, "--device", kDevice, "--broker",
            "tcp://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)), "--board", "sim-4", "--boards-dir",
            (source_dir() / "boards").string(), "--data-dir", (dir / "data").string(), "--sim-input",
            (dir / "buttons.fifo").string(), "--log-level", "debug"},
           Child::Options{.env = {}, .log_file = dir / "fw.log", .working_dir = {}});
  REQUIRE(wait_until([&] { return fw.log().find("debug mqtt: connecting to") != std::string::npos; }));
  fw.signal(SIGTERM);
  auto status = fw.wait(5s);
  ::close(silent);
  INFO(fw.log());
  CHECK(status == 0);
  CHECK(fw.log().find("info daemon: stopped;") != std::string::npos);
}

TEST_CASE("under systemd the daemon says ready once started, pings the watchdog, and says stopping", "[integration]") {
  Broker broker;
  TempDir dir;
  // systemd's side: a datagram socket at $NOTIFY_SOCKET.
  const auto path = (dir / "notify.sock").string();
  const int sock = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  REQUIRE(sock >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  REQUIRE(path.size() < sizeof addr.sun_path);
  path.copy(addr.sun_path, path.size());
  REQUIRE(::bind(sock, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0);
  timeval tv{5, 0};
  ::setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  const auto next = [&]() -> std::string {
    char buf[256];
    const auto n = ::recv(sock, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("(nothing within 5 s)");
  };
  Child fw({(bin_dir() / "kiosk-firmware").string(), "--site", kSite, "--device", kDevice, "--broker", broker.url(),
            "--board", "sim-4", "--boards-dir", (source_dir() / "boards").string(), "--data-dir",
            (dir / "data").string(), "--sim-input", (dir / "buttons.fifo").string()},
           Child::Options{.env = {{"NOTIFY_SOCKET", path}, {"WATCHDOG_USEC", "200000"}},
                          .log_file = dir / "fw.log",
                          .working_dir = {}});
  INFO(fw.log());
  CHECK(next() == "READY=1");
  CHECK(fw.log().find("info daemon: started") != std::string::npos);  // ready means started
  // At half the 200 ms watchdog period, also while nothing else happens.
  for (int i = 0; i < 3; ++i) CHECK(next() == "WATCHDOG=1");
  fw.signal(SIGTERM);
  std::string last;
  for (int i = 0; i < 10 && last != "STOPPING=1"; ++i) last = next();
  CHECK(last == "STOPPING=1");
  CHECK(fw.wait(5s) == 0);
  ::close(sock);
}

TEST_CASE("the thank-you light shows before the press's commit returns, and turns to refused when it fails",
          "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker, {"--lockout-ms", "0", "--debounce-ms", "1"});
  REQUIRE(probe->wait_for([](const Message& m) { return is_status(m, proto::DeviceState::online); }));
  // A commit that cannot finish (another writer holds the file: like an SD card stalled in fsync,
  // the outbox waits its busy timeout, then fails).
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(terminal.outbox_path().c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);
  terminal.press(0);
  bool refused = wait_until([&] { return terminal.log().find("error outbox: press refused") != std::string::npos; });
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  auto log = terminal.log();
  INFO(log);
  REQUIRE(refused);
  auto thanks = log.find("debug led: pattern=thanks");
  auto failed = log.find("error outbox: press refused");
  REQUIRE(thanks != std::string::npos);
  CHECK(thanks < failed);  // shown while the commit was still waiting
  CHECK(log.find("debug led: pattern=refused", failed) != std::string::npos);
  // Never published: the refused press used no seq, the next one is seq 1.
  terminal.press(1);
  auto p = next_press(*probe);
  REQUIRE(p);
  CHECK(p->seq == 1);
}

namespace {

// Damages the outbox under the running daemon (as a failing SD card can): the presses table now
// points far past the end of the file; the bumped schema cookie makes the daemon re-read it.
void damage_presses_table(const std::string& path) {
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  sqlite3_busy_timeout(other, 5000);  // the outbox may be writing (an ack) right now
  sqlite3_stmt* st = nullptr;
  REQUIRE(sqlite3_prepare_v2(other, "PRAGMA schema_version", -1, &st, nullptr) == SQLITE_OK);
  REQUIRE(sqlite3_step(st) == SQLITE_ROW);
  int version = sqlite3_column_int(st, 0);
  sqlite3_finalize(st);
  auto sql = "PRAGMA writable_schema=ON; UPDATE sqlite_master SET rootpage = 100000 WHERE name = 'presses';"
             " PRAGMA schema_version=" + std::to_string(version + 1) + "; PRAGMA writable_schema=OFF;";
  REQUIRE(sqlite3_exec(other, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
  sqlite3_close(other);
}

}  // namespace

// The files in `dir` whose names contain `part`.
std::vector<fs::path> files_named(const fs::path& dir, const std::string& part) {
  std::vector<fs::path> out;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().filename().string().find(part) != std::string::npos) out.push_back(entry.path());
  }
  return out;
}

// One press, played through the hub and acknowledged: the terminal's outbox exists and is empty.
void press_and_ack(Terminal& terminal, MqttProbe& probe) {
  terminal.press(0);
  auto first = next_press(probe);
  REQUIRE(first);
  ack(probe, {first->seq});
}

TEST_CASE("a press that finds the outbox damaged gets the whole refused light before the daemon exits 1",
          "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker, {"--lockout-ms", "0", "--debounce-ms", "1"});
  press_and_ack(terminal, *probe);
  REQUIRE(wait_until([&] { return terminal.log().find("queued=0\n") != std::string::npos; }));
  // With the broker away nothing reads the outbox on its own: the press is what finds the damage.
  broker.stop();
  REQUIRE(wait_until([&] { return terminal.log().find("warn mqtt:") != std::string::npos; }));
  damage_presses_table(terminal.outbox_path());
  terminal.press(1);
  auto status = terminal.child().wait(10s);
  const auto log = terminal.log();
  INFO(log);
  CHECK(status == 1);
  const auto refused = log.find("error outbox: press refused, not stored");
  REQUIRE(refused != std::string::npos);
  // The guest sees the refused pattern blink, and the light goes out, before the process ends.
  const auto pattern = log.find("debug led: pattern=refused", refused);
  REQUIRE(pattern != std::string::npos);
  const auto blink = log.find("debug led: level=", pattern);
  CHECK(blink != std::string::npos);
  CHECK(log.find("debug led: pattern=idle", pattern) != std::string::npos);
}

TEST_CASE("an outbox damaged while the daemon runs is moved aside by the daemon before it exits 1, and the "
          "restart starts a new outbox",
          "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker, {"--lockout-ms", "0", "--debounce-ms", "1"});
  press_and_ack(terminal, *probe);
  damage_presses_table(terminal.outbox_path());
  // A press makes it touch the outbox; it may have found the damage already on its own (a pending
  // read), and then nobody reads the FIFO any more.
  // If it exits between our open and write, the write raises SIGPIPE: held and discarded here.
  sigset_t pipe;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &pipe, nullptr);
  if (int fd = ::open(terminal.fifo().c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC); fd >= 0) {
    std::string line = "press 1\n";
    [[maybe_unused]] auto n = ::write(fd, line.data(), line.size());
    ::close(fd);
  }
  timespec none{0, 0};
  while (sigtimedwait(&pipe, nullptr, &none) == SIGPIPE) {
  }
  pthread_sigmask(SIG_UNBLOCK, &pipe, nullptr);
  auto status = terminal.child().wait(10s);
  INFO(terminal.log());
  CHECK(status == 1);  // systemd's Restart=always starts it again
  CHECK(count_lines(terminal.log(), "error outbox: ") == 1);  // one line, not one per loop pass
  CHECK(terminal.log().find("the outbox file is damaged; moved it to " + terminal.outbox_path() + ".corrupt-") !=
        std::string::npos);
  CHECK(terminal.log().find("kept for inspection") != std::string::npos);
  // Aside already, before any restart: a start-up check that missed the damage would reopen it.
  CHECK_FALSE(fs::exists(terminal.outbox_path()));
  auto aside = files_named(terminal.data_dir(), "outbox.db.corrupt-");
  CHECK_FALSE(aside.empty());
  terminal.start();
  CHECK(terminal.log().find("the presses in it could not be read") == std::string::npos);  // nothing to move
  CHECK(terminal.log().find("info outbox: new outbox") != std::string::npos);
  terminal.press(2);
  auto p = next_press(*probe);
  REQUIRE(p);
  CHECK(p->button == 2);
}

TEST_CASE("an outbox damaged while the daemon runs that cannot be moved aside keeps the daemon up, refusing "
          "presses visibly, with one error",
          "[integration]") {
  Broker broker;
  auto probe = hub_probe(broker);
  Terminal terminal(broker, {"--lockout-ms", "0", "--debounce-ms", "1"});
  terminal.press(0);
  auto first = next_press(*probe);
  REQUIRE(first);
  damage_presses_table(terminal.outbox_path());
  // Its name gone from the directory (the daemon's connection keeps the file open): the rename
  // fails, as on a card that ext4 remounted read-only after the I/O errors. A restart could not
  // move it either, so exiting would only loop.
  fs::remove(terminal.outbox_path());
  terminal.press(1);
  REQUIRE(wait_until([&] { return terminal.log().find("warn outbox: press refused") != std::string::npos; }));
  terminal.press(2);
  REQUIRE(wait_until([&] { return count_lines(terminal.log(), "warn outbox: press refused") == 2; }));
  auto log = terminal.log();
  INFO(log);
  CHECK(terminal.child().running());
  CHECK(count_lines(log, "error outbox: ") == 1);  // one clear error, not one per press
  CHECK(log.find("the outbox file is damaged and cannot be replaced") != std::string::npos);
  CHECK(log.find("check the storage card and its filesystem") != std::string::npos);
  CHECK(count_lines(log, "debug led: pattern=refused") == 2);  // each press, visibly
  CHECK(log.find("still cannot move") == std::string::npos);    // not retried on every press
  CHECK_FALSE(next_press(*probe, 500ms));                      // nothing unstored was published
  terminal.child().signal(SIGTERM);
  CHECK(terminal.child().wait(5s) == 0);
}
