// Disk full and read-only storage at the hub and at the terminal, on real filesystems: a full tmpfs
// (ENOSPC -> SQLITE_FULL) and an ext4 card that an injected error turns read-only under open files.
// Each asserts: a clear error, the service stays up, no acknowledgement (hub) or thank-you and
// publish (terminal) for what was not stored, and recovery once space or the card returns.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <optional>
#include <set>

#include "evidence.hpp"
#include "hub_http.hpp"
#include "kiosk_test.hpp"
#include "storage_faults.hpp"

using namespace kiosk::test;

namespace {

constexpr const char* kSite = "s1";

// kiosk-hub as a child with its database at `db` (the port it bound read from --port-file, the token
// in `dir`), device d-0 registered at "lab"; its health and counters as the checks read them.
struct Hub : HubChild {
  Hub(const fs::path& dir, const Broker& broker, fs::path db)
      : HubChild(broker, dir,
                 Options{.site = kSite, .db = std::move(db), .token_file = dir / "hub.token", .port_file = true,
                         .extra_args = {"--register-devices", "d:1:lab", "--log-level", "info"}}) {}
  std::pair<int, std::string> health() const {
    auto r = kiosk::faults::http_request(port(), "GET", "/health", {}, {}, 2s);
    return r ? std::make_pair(r->status, r->body) : std::make_pair(0, std::string());
  }
  std::int64_t counter(const char* name) const {
    auto r = kiosk::faults::http_request(port(), "GET", "/api/counters", {}, {}, 2s);
    if (!r || r->status != 200) return -1;
    return boost::json::parse(r->body).as_object().at(name).as_int64();
  }
};

// Stored seqs of a device, read from the hub's database (read-only, safe while the hub runs).
std::multiset<std::uint64_t> stored_seqs(const fs::path& db, const std::string& device) {
  std::string error;
  auto all = kiosk::faults::read_stored(db, kSite, error);
  INFO(error);
  REQUIRE(all);
  std::multiset<std::uint64_t> out;
  for (const auto& r : (*all)[device]) out.insert(r.seq);
  return out;
}

// A terminal played by the test: publishes presses and collects the hub's acks.
struct FakeDevice {
  explicit FakeDevice(const Broker& broker) : probe(broker.url(), MqttProbe::Options{"d-0", {}, {}}) {
    probe.connect();
    REQUIRE(probe.subscribe(std::string("kiosk/v1/") + kSite + "/device/d-0/ack", 1) == 1);
  }
  void press(std::uint64_t seq) {
    REQUIRE(probe.publish(std::string("kiosk/v1/") + kSite + "/device/d-0/press",
                          R"({"seq":)" + std::to_string(seq) + R"(,"button":0,"rating":1,"scale":4,"age_ms":0})", 1));
  }
  std::set<std::uint64_t> acked() const {
    std::set<std::uint64_t> out;
    for (const auto& m : probe.messages()) {
      auto v = boost::json::parse(m.payload);
      for (const auto& s : v.as_object().at("seqs").as_array()) out.insert(static_cast<std::uint64_t>(s.as_int64()));
    }
    return out;
  }
  bool wait_acked(std::uint64_t from, std::uint64_t to, std::chrono::milliseconds timeout = 10s) const {
    return wait_until(
        [&] {
          auto a = acked();
          for (auto s = from; s <= to; ++s)
            if (!a.count(s)) return false;
          return true;
        },
        timeout, 20ms);
  }
  MqttProbe probe;
};

// A kiosk-firmware child (device t-0) with its outbox under `data_dir` and a FIFO for presses.
struct Terminal {
  Terminal(const fs::path& dir, const Broker& broker, fs::path data) : dir(dir), url(broker.url()), data_dir(std::move(data)) {}
  void start() {
    ++starts;
    child = std::make_unique<Child>(
        std::vector<std::string>{(bin_dir() / "kiosk-firmware").string(), "--device", "d-0", "--site", kSite,
                                 "--broker", url, "--board", "sim-4", "--first-seq", "1", "--boards-dir",
                                 (source_dir() / "boards").string(), "--data-dir", data_dir.string(), "--sim-input",
                                 (dir / "input.fifo").string(), "--lockout-ms", "0", "--debounce-ms", "1",
                                 "--log-level", "debug"},
        Child::Options{{}, dir / ("fw-" + std::to_string(starts) + ".log"), {}});
    REQUIRE(wait_until([&] { return log().find("info mqtt: connected") != std::string::npos; }, 15s));
  }
  void press(int button) {
    int fd = ::open((dir / "input.fifo").c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    REQUIRE(fd >= 0);
    std::string line = "press " + std::to_string(button) + "\n";
    REQUIRE(::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()));
    ::close(fd);
  }
  bool log_has(const std::string& text, std::chrono::milliseconds timeout = 10s) const {
    return wait_until([&] { return log().find(text) != std::string::npos; }, timeout, 20ms);
  }
  std::string log() const { return child ? child->log() : std::string(); }
  fs::path dir;
  std::string url;
  fs::path data_dir;
  std::unique_ptr<Child> child;
  int starts = 0;
};

std::size_t press_messages(const MqttProbe& watcher, std::uint64_t seq) {
  return watcher.count([&](const Message& m) {
    return m.topic.size() > 6 && m.topic.substr(m.topic.size() - 6) == "/press" &&
           m.payload.find("\"seq\":" + std::to_string(seq) + ",") != std::string::npos;
  });
}

// Whether the storage under test could not be mounted here; if so the test says why it is skipped.
bool skipped(const MountPoint& storage, const std::string& needs) {
  if (storage.available()) return false;
  WARN("skipped: " << needs);
  return true;
}

// A broker and a started hub with its database at `db` (on the storage under test), or in the
// temp dir when the storage under test is the terminal's.
struct Site {
  explicit Site(const std::optional<fs::path>& db = std::nullopt)
      : hub(dir.path(), broker, db.value_or(dir / "hub.db")) {
    broker.start();
    REQUIRE(hub.start());
  }
  TempDir dir;
  Broker broker;
  Hub hub;
};

// The hub's storage failed: it counts a commit error and says that it acknowledges nothing unstored.
void hub_commits_fail(const Hub& hub) {
  REQUIRE(wait_until([&] { return hub.counter("commit_errors") > 0; }, 10s));
  CHECK(hub.log().find("not acknowledged") != std::string::npos);
}

// A terminal on `site` with its outbox at `data` (on the storage under test), and a watcher of
// what it publishes.
struct TerminalSite {
  TerminalSite(Site& site, fs::path data)
      : watcher(site.broker.url()), terminal(site.dir.path(), site.broker, std::move(data)) {
    watcher.connect();
    REQUIRE(watcher.subscribe(std::string("kiosk/v1/") + kSite + "/device/d-0/press", 1) == 1);
    terminal.start();
  }
  MqttProbe watcher;
  Terminal terminal;
};

// The first press (seq 1) is stored at the hub and deleted from the terminal's outbox.
void first_press_stored(Terminal& terminal) {
  terminal.press(0);
  REQUIRE(terminal.log_has("info press: seq=1 "));
  REQUIRE(terminal.log_has("debug ack: seqs=1 "));  // stored at the hub, deleted from the outbox
}

// A press while the terminal's storage fails: refused visibly (the thank-you light turns to the
// refused pattern), the terminal stays up and publishes nothing.
void press_refused(Terminal& terminal, const MqttProbe& watcher) {
  terminal.press(1);
  REQUIRE(terminal.log_has("press refused, not stored"));
  CHECK(terminal.log_has("pattern=refused"));  // the guest sees it was not taken, not a thank-you
  CHECK(terminal.child->running());
  CHECK(press_messages(watcher, 2) == 0);
}

// Once the storage is back the next press takes seq 2 (the refused one used up none) and is stored.
void next_press_stored(Terminal& terminal, int button, const fs::path& hub_db) {
  terminal.press(button);
  REQUIRE(terminal.log_has("info press: seq=2 button=" + std::to_string(button)));
  REQUIRE(terminal.log_has("debug ack: seqs=2 "));
  CHECK(stored_seqs(hub_db, "d-0") == std::multiset<std::uint64_t>{1, 2});
}

}  // namespace

TEST_CASE("a hub whose disk is full acknowledges nothing it did not store, says why, stays up and catches up "
          "when space returns",
          "[integration][faults][storage]") {
  SmallDisk disk(4096);
  if (skipped(disk, "mounting a tmpfs needs root and mount rights")) return;
  Site site(disk.path() / "hub.db");
  auto& hub = site.hub;
  FakeDevice device(site.broker);
  device.press(1);
  REQUIRE(device.wait_acked(1, 1));

  REQUIRE(disk.fill() > 0);
  for (std::uint64_t seq = 2; seq <= 30; ++seq) device.press(seq);
  INFO(hub.log());
  hub_commits_fail(hub);
  CHECK(hub.log().find("disk is full") != std::string::npos);

  // Acks first, rows second: whatever was acknowledged must already be stored.
  auto acked = device.acked();
  auto rows = stored_seqs(hub.db_path(), "d-0");
  for (auto seq : acked) CHECK(rows.count(seq) == 1);
  std::vector<std::uint64_t> refused;
  for (std::uint64_t seq = 2; seq <= 30; ++seq)
    if (!acked.count(seq)) refused.push_back(seq);
  CHECK_FALSE(refused.empty());

  CHECK(hub.running());
  auto [status, body] = hub.health();
  CHECK(status == 503);
  CHECK(body.find("full") != std::string::npos);

  disk.free_space();
  for (auto seq : refused) device.press(seq);  // what a terminal does: re-send what was not acked
  CHECK(device.wait_acked(1, 30));
  CHECK(wait_until([&] { return hub.health().first == 200; }, 10s));
  auto after = stored_seqs(hub.db_path(), "d-0");
  CHECK(after.size() == 30);
  for (std::uint64_t seq = 1; seq <= 30; ++seq) CHECK(after.count(seq) == 1);
  // Said once when it starts failing, once when it recovers, not once per failed batch.
  CHECK(wait_until([&] { return hub.log().find("commits succeed again") != std::string::npos; }, 5s));
  const auto log = hub.log();
  std::size_t failures = 0;
  for (auto at = log.find("presses failed"); at != std::string::npos; at = log.find("presses failed", at + 1)) ++failures;
  CHECK(failures == 1);
  // Device state that cannot be saved is retried every second but said at most once a minute.
  std::size_t unsaved = 0;
  for (auto at = log.find("cannot save device state"); at != std::string::npos;
       at = log.find("cannot save device state", at + 1))
    ++unsaved;
  CHECK(unsaved <= 1);
}

TEST_CASE("a hub whose database card turns read-only acknowledges nothing more, says why, keeps serving reads, "
          "and after the card is repaired the re-sent presses are stored once",
          "[integration][faults][storage]") {
  FlakyCard card(32);
  if (skipped(card, "an ext4 loop mount needs root, loop devices and mount rights")) return;
  Site site(card.path() / "hub.db");
  auto& [dir, broker, hub] = site;
  FakeDevice device(broker);
  for (std::uint64_t seq = 1; seq <= 5; ++seq) device.press(seq);
  REQUIRE(device.wait_acked(1, 5));

  REQUIRE(card.fail_read_only());
  for (std::uint64_t seq = 6; seq <= 10; ++seq) device.press(seq);
  INFO(hub.log());
  hub_commits_fail(hub);
  auto acked = device.acked();
  for (std::uint64_t seq = 6; seq <= 10; ++seq) CHECK(acked.count(seq) == 0);
  CHECK(hub.running());
  CHECK(hub.health().first == 503);
  auto presses = kiosk::faults::http_request(hub.port(), "GET", "/api/presses?device=d-0", {}, {}, 2s);
  REQUIRE(presses);
  CHECK(presses->status == 200);
  CHECK(boost::json::parse(presses->body).as_array().size() == 5);

  hub.stop();
  // Started again on the read-only card, the hub refuses to run and says which file and what to do.
  HubChild refused(broker, dir / "refused",
                   HubChild::Options{.site = kSite, .db = card.path() / "hub.db", .token_file = dir / "hub.token"});
  refused.start();  // returns as soon as the hub has exited
  CHECK(refused.wait(15s) == std::optional<int>(1));
  INFO(refused.log());
  CHECK(refused.log().find((card.path() / "hub.db").string()) != std::string::npos);
  CHECK(refused.log().find("writable") != std::string::npos);

  REQUIRE(card.repair());
  REQUIRE(hub.start());
  for (std::uint64_t seq = 6; seq <= 10; ++seq) device.press(seq);
  CHECK(device.wait_acked(6, 10));
  auto rows = stored_seqs(hub.db_path(), "d-0");
  CHECK(rows.size() == 10);
  for (std::uint64_t seq = 1; seq <= 10; ++seq) CHECK(rows.count(seq) == 1);
}

TEST_CASE("a terminal whose disk is full refuses the press visibly, stays up, publishes nothing unstored and "
          "stores the next press when space returns",
          "[integration][faults][storage]") {
  SmallDisk disk(2048);
  if (skipped(disk, "mounting a tmpfs needs root and mount rights")) return;
  Site site;
  TerminalSite at(site, disk.path() / "d-0");
  auto& terminal = at.terminal;
  INFO(terminal.log());

  first_press_stored(terminal);

  REQUIRE(disk.fill() > 0);
  press_refused(terminal, at.watcher);
  CHECK(terminal.log().find("disk is full") != std::string::npos);

  disk.free_space();
  next_press_stored(terminal, 2, site.hub.db_path());
}

TEST_CASE("a terminal whose card turns read-only refuses presses visibly and stays up, and after "
          "the repair goes on with the next seq",
          "[integration][faults][storage]") {
  FlakyCard card(32);
  if (skipped(card, "an ext4 loop mount needs root, loop devices and mount rights")) return;
  Site site;
  TerminalSite at(site, card.path() / "d-0");
  auto& terminal = at.terminal;
  INFO(terminal.log());

  first_press_stored(terminal);

  REQUIRE(card.fail_read_only());
  press_refused(terminal, at.watcher);

  terminal.child->stop();
  REQUIRE(card.repair());
  terminal.start();
  next_press_stored(terminal, 3, site.hub.db_path());
}

TEST_CASE("a terminal whose outbox is restored from an older copy renumbers the presses the hub already holds "
          "seqs for, and every press is stored once",
          "[integration][faults][storage]") {
  // A card re-imaged from a copy taken after setup, or one that lost its latest writes: the
  // terminal's counter goes back and its new presses come under seqs the hub holds for others
  // (the same ratings, so without the press's nonce they would pass for re-sends and be dropped).
  Site site;
  TerminalSite at(site, site.dir / "d-0");
  auto& terminal = at.terminal;
  INFO(terminal.log());
  first_press_stored(terminal);
  REQUIRE(terminal.child->stop() == 0);
  const auto outbox = site.dir / "d-0" / "outbox.db";
  REQUIRE(!fs::exists(site.dir / "d-0" / "outbox.db-wal"));  // a clean stop checkpoints it
  fs::copy_file(outbox, site.dir / "older-outbox.db");

  terminal.start();
  for (int button : {0, 1, 2}) terminal.press(button);
  REQUIRE(terminal.log_has("info press: seq=4 "));
  REQUIRE(wait_until([&] { return stored_seqs(site.hub.db_path(), "d-0").size() == 4; }, 10s, 20ms));
  // Acknowledged, so deleted from the outbox (the stop follows the ack).
  REQUIRE(wait_until(
      [&] {
        const auto log = terminal.log();
        const auto last_ack = log.rfind("debug ack: seqs=");
        return last_ack != std::string::npos && log.find(" queued=0\n", last_ack) != std::string::npos;
      },
      10s, 20ms));
  REQUIRE(terminal.child->stop() == 0);
  CHECK(stored_seqs(site.hub.db_path(), "d-0") == std::multiset<std::uint64_t>{1, 2, 3, 4});

  fs::copy_file(site.dir / "older-outbox.db", outbox, fs::copy_options::overwrite_existing);
  terminal.start();
  for (int button : {0, 1, 2}) terminal.press(button);  // seqs 2, 3, 4 again, the same ratings
  REQUIRE(terminal.log_has("info press: seq=4 "));
  CHECK(terminal.log_has("the hub already holds other presses of this terminal under seqs"));
  // Renumbered from 5 and stored: seven presses, each once.
  REQUIRE(wait_until([&] { return stored_seqs(site.hub.db_path(), "d-0").size() == 7; }, 10s, 20ms));
  CHECK(stored_seqs(site.hub.db_path(), "d-0") == std::multiset<std::uint64_t>{1, 2, 3, 4, 5, 6, 7});
  CHECK(site.hub.log().find("sent a new press under seq 2, which the hub holds for an earlier press") != std::string::npos);
  // The next press continues after them.
  terminal.press(3);
  REQUIRE(terminal.log_has("info press: seq=8 "));
  REQUIRE(terminal.log_has("debug ack: seqs=8 "));
}
