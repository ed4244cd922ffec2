// Alert lifecycle specification with a fake clock: open, update without storms, repeat, escalate, ack, resolve.
#include <catch2/catch.hpp>

#include <algorithm>

#include "kiosk/hub/alert_machine.hpp"
#include "kiosk/protocol/time.hpp"

using namespace kiosk::hub;
using namespace std::chrono_literals;
using kiosk::protocol::AlertState;
using kiosk::protocol::Severity;

namespace {

WallTime t0() { return kiosk::protocol::parse_time("2026-10-05T10:00:00.000Z").value(); }

Verdict spike(int bad, int total, Severity severity = Severity::warning) {
  Verdict v;
  v.spike = true;
  v.bad = bad;
  v.total = total;
  v.window_s = 300;
  v.baseline = 0.12;
  v.p_value = 1e-5;
  v.severity = severity;
  return v;
}

Verdict calm(bool back) {
  Verdict v;
  v.back_to_normal = back;
  v.baseline = 0.12;
  return v;
}

Contact contact(std::string id, int level) {
  Contact c;
  c.id = std::move(id);
  c.name = c.id;
  c.webhook = "http://127.0.0.1:9/" + c.id;
  c.level = level;
  return c;
}

Routing two_levels() { return Routing({contact("alice", 0), contact("bob", 1)}, TimeZone()); }

std::size_t count(const std::vector<Effect>& effects, Effect::Kind kind, std::optional<Change> change = {}) {
  return static_cast<std::size_t>(std::count_if(effects.begin(), effects.end(), [&](const Effect& e) {
    return e.kind == kind && (!change || e.change == *change);
  }));
}

std::vector<std::string> notified(const std::vector<Effect>& effects, Change change) {
  std::vector<std::string> out;
  for (const auto& e : effects)
    if (e.kind == Effect::Kind::notify && e.change == change) out.push_back(e.contact->id);
  return out;
}

void append(std::vector<Effect>& all, const std::vector<Effect>& more) { all.insert(all.end(), more.begin(), more.end()); }

RatedPress from_device(const char* device, WallTime at, int rating) {
  return RatedPress{.at = at, .rating = rating, .scale = 4, .device = device};
}

}  // namespace

TEST_CASE("a lone bad press opens nothing") {
  AlertMachine m({}, two_levels());
  BaselineDetector d;
  WallTime t = t0();
  std::vector<Effect> all;
  for (int i = 0; i < 10; ++i) append(all, m.on_verdict("front-desk", "Front desk", d.observe({t += 1min, 4, 4}), t));
  append(all, m.on_verdict("front-desk", "Front desk", d.observe({t += 1min, 1, 4}), t));
  append(all, m.tick(t + 1h));
  CHECK(all.empty());
  CHECK(m.active("front-desk") == nullptr);
}

TEST_CASE("a burst opens exactly one alert, updates it and resolves it") {
  AlertMachine m({}, two_levels());
  BaselineDetector d;
  WallTime t = t0();
  for (int i = 0; i < 10; ++i) m.on_verdict("front-desk", "Front desk", d.observe({t += 1min, 4, 4}), t);
  std::vector<Effect> all;
  for (int i = 0; i < 8; ++i) {
    t += 30s;
    append(all, m.on_verdict("front-desk", "Front desk", d.observe({t, 1, 4}), t));
    append(all, m.tick(t));
  }
  CHECK(count(all, Effect::Kind::publish, Change::opened) == 1);
  CHECK(count(all, Effect::Kind::publish, Change::updated) >= 1);
  CHECK(notified(all, Change::opened) == std::vector<std::string>{"alice"});
  const TrackedAlert* a = m.active("front-desk");
  REQUIRE(a);
  CHECK(a->alert.id == "a-000001");
  CHECK(a->alert.state == AlertState::open);
  // Calm: the detector ticks until it says "back to normal".
  std::vector<Effect> later;
  for (int i = 0; i < 120 && m.active("front-desk"); ++i) {
    t += 30s;
    append(later, m.on_verdict("front-desk", "Front desk", d.check(t), t));
    append(later, m.tick(t));
  }
  CHECK(m.active("front-desk") == nullptr);
  REQUIRE(count(later, Effect::Kind::publish, Change::resolved) == 1);
  const auto it = std::find_if(later.begin(), later.end(), [](const Effect& e) {
    return e.kind == Effect::Kind::publish && e.change == Change::resolved;
  });
  CHECK(it->alert.id == "a-000001");
  CHECK(it->alert.state == AlertState::resolved);
  CHECK(count(later, Effect::Kind::publish, Change::opened) == 0);
}

TEST_CASE("a sustained incident gives no alert storm") {
  AlertMachine m({}, two_levels());
  WallTime t = t0();
  std::vector<Effect> all;
  // 90 minutes of spike verdicts every 20 s with changing counts, ticks every 10 s.
  for (int i = 0; i < 270; ++i) {
    t += 10s;
    append(all, m.on_verdict("spa", "Spa", spike(3 + i % 7, 10 + i % 5), t));
    t += 10s;
    append(all, m.tick(t));
  }
  CHECK(count(all, Effect::Kind::publish, Change::opened) == 1);
  // Updates at most once a minute: 90 minutes -> at most 90.
  CHECK(count(all, Effect::Kind::publish, Change::updated) <= 90);
  // Notifications: 1 open + 1 escalation + repeats every 5 minutes; no update notifications.
  const auto notes = count(all, Effect::Kind::notify);
  CHECK(notes <= 1 + 1 + 90 / 5);
  CHECK(count(all, Effect::Kind::notify, Change::updated) == 0);
}

TEST_CASE("an unacknowledged alert repeats every repeat interval and escalates after escalate_after") {
  AlertMachine m({}, two_levels());
  const WallTime t = t0();
  m.on_verdict("spa", "Spa", spike(4, 5), t);
  CHECK(m.tick(t + 4min + 59s).empty());
  auto r1 = m.tick(t + 5min);
  CHECK(notified(r1, Change::repeated) == std::vector<std::string>{"alice"});
  CHECK(m.tick(t + 9min + 59s).empty());
  auto e = m.tick(t + 10min);
  CHECK(notified(e, Change::escalated) == std::vector<std::string>{"bob"});
  CHECK(count(e, Effect::Kind::notify, Change::repeated) == 0);
  CHECK(m.active("spa")->level == 1);
  CHECK(m.tick(t + 14min + 59s).empty());
  CHECK(notified(m.tick(t + 15min), Change::repeated) == std::vector<std::string>{"bob"});
  // No level 2: the alert keeps repeating to bob, never escalates into the void.
  CHECK(count(m.tick(t + 20min), Effect::Kind::notify, Change::escalated) == 0);
}

TEST_CASE("a reminder or an escalation is published again, so managers on MQTT alone hear it too") {
  AlertMachine m({}, Routing({}, TimeZone()));  // no contacts at all: MQTT is the only way to hear
  const WallTime t = t0();
  m.on_verdict("spa", "Spa", spike(4, 5), t);
  const auto r = m.tick(t + 5min);
  REQUIRE(count(r, Effect::Kind::publish, Change::repeated) == 1);
  const auto it = std::find_if(r.begin(), r.end(), [](const Effect& e) { return e.kind == Effect::Kind::publish; });
  CHECK(it->alert.state == AlertState::open);
  CHECK(it->alert.updated == t + 5min);
  // The alert itself did not change: its own `updated` is still when it last did.
  CHECK(m.active("spa")->alert.updated == t);
  CHECK(count(r, Effect::Kind::persist, Change::repeated) == 1);

  AlertMachine two({}, two_levels());
  two.on_verdict("spa", "Spa", spike(4, 5), t);
  two.tick(t + 5min);
  const auto e = two.tick(t + 10min);
  CHECK(count(e, Effect::Kind::publish, Change::escalated) == 1);
  // Acked: nobody needs reminding, so nothing is published again either.
  REQUIRE(two.ack(two.active("spa")->alert.id, "bob", t + 11min));
  CHECK(count(two.tick(t + 20min), Effect::Kind::publish) == 0);
}

TEST_CASE("an ack stops repeats and escalation") {
  AlertMachine m({}, two_levels());
  const WallTime t = t0();
  const auto opened = m.on_verdict("spa", "Spa", spike(4, 5), t);
  const std::string id = opened.front().alert.id;
  auto acked = m.ack(id, "alice", t + 2min);
  REQUIRE(acked.ok());
  CHECK(count(*acked, Effect::Kind::publish, Change::acked) == 1);
  CHECK(acked->front().alert.state == AlertState::acked);
  CHECK(acked->front().alert.acked_by == std::optional<std::string>("alice"));
  for (auto at = t + 2min; at < t + 1h; at += 10s) CHECK(count(m.tick(at), Effect::Kind::notify) == 0);
  CHECK(m.active("spa")->level == 0);
}

// A spike verdict for the press at `at` whose run began at `run_start` (both on the detector's clock).
Verdict spike_run(int bad, int total, WallTime at, WallTime run_start) {
  Verdict v = spike(bad, total);
  v.at = at;
  v.run_start = run_start;
  return v;
}

TEST_CASE("an acked alert pages again for a new run of spikes begun after the ack, not for the run that was acked") {
  AlertMachine m({}, two_levels());
  const WallTime t = t0();
  const std::string id = m.on_verdict("spa", "Spa", spike_run(4, 5, t, t - 3min), t).front().alert.id;
  REQUIRE(m.ack(id, "alice", t + 2min).ok());
  // The run that was acked goes on: counts only, however long (also late presses of it).
  CHECK(count(m.on_verdict("spa", "Spa", spike_run(6, 8, t + 4min, t - 3min), t + 4min), Effect::Kind::notify) == 0);
  CHECK(count(m.on_verdict("spa", "Spa", spike_run(9, 12, t + 90min, t - 3min), t + 90min), Effect::Kind::notify) == 0);
  CHECK(m.active("spa")->alert.id == id);
  CHECK(m.active("spa")->alert.state == AlertState::acked);
  // A run of spikes that began after the ack (a calm spell, then bad again): a new alert that pages.
  auto wave = m.on_verdict("spa", "Spa", spike_run(3, 3, t + 100min, t + 2min + 1s), t + 100min);
  CHECK(notified(wave, Change::resolved) == std::vector<std::string>{"alice"});
  CHECK(notified(wave, Change::opened) == std::vector<std::string>{"alice"});
  REQUIRE(m.active("spa"));
  CHECK(m.active("spa")->alert.id != id);
  CHECK(m.active("spa")->alert.state == AlertState::open);
}

TEST_CASE("a restored acked alert keeps its ack time for telling a new wave from the spike that was acked") {
  AlertMachine before({}, two_levels());
  const WallTime t = t0();
  const auto opened = before.on_verdict("spa", "Spa", spike_run(4, 5, t, t - 3min), t);
  const auto acked = before.ack(opened.front().alert.id, "alice", t + 2min);
  REQUIRE(acked.ok());
  TrackedAlert saved = *acked->front().record;
  saved.acked_at.reset();  // as an older hub's row: its last change (the ack) stands in
  AlertMachine after({}, two_levels());
  after.restore(saved);
  CHECK(count(after.on_verdict("spa", "Spa", spike_run(6, 8, t + 6min, t - 3min), t + 6min), Effect::Kind::notify) == 0);
  CHECK(count(after.on_verdict("spa", "Spa", spike_run(6, 8, t + 7min, t + 2min), t + 7min), Effect::Kind::notify) == 0);
  CHECK(count(after.on_verdict("spa", "Spa", spike_run(3, 3, t + 30min, t + 20min), t + 30min), Effect::Kind::notify,
              Change::opened) == 1);
}

TEST_CASE("detector and alert machine: a 90-minute incident acked early pages once; a second incident pages again") {
  AlertMachine m({}, two_levels());
  BaselineDetector d;
  WallTime t = t0();
  std::vector<Effect> all;
  const auto feed = [&](int n, std::chrono::seconds every, int bad_every) {
    for (int i = 1; i <= n; ++i) {
      t += every;
      const int rating = bad_every > 0 && i % bad_every == 0 ? 1 : 4;
      append(all, m.on_verdict("spa", "Spa", d.observe(from_device(i % 2 ? "s-1" : "s-2", t, rating)), t));
    }
  };
  feed(200, 1min, 10);  // a calm history at 10 % bad
  feed(8, 1min, 1);     // the incident begins
  REQUIRE(m.active("spa"));
  const std::string id = m.active("spa")->alert.id;
  REQUIRE(m.ack(id, "alice", t).ok());
  feed(45, 2min, 2);    // it goes on for 90 minutes, half the ratings bad: longer than the window
  CHECK(notified(all, Change::opened).size() == 1);
  CHECK(m.active("spa")->alert.id == id);
  feed(90, 1min, 0);    // fixed: calm until it resolves
  CHECK(m.active("spa") == nullptr);
  feed(8, 1min, 1);     // another incident
  CHECK(notified(all, Change::opened).size() == 2);
}

TEST_CASE("an ack of an unknown or resolved alert is an error and a second ack changes nothing") {
  AlertMachine m({}, two_levels());
  const WallTime t = t0();
  const std::string id = m.on_verdict("spa", "Spa", spike(4, 5), t).front().alert.id;
  CHECK_FALSE(m.ack("a-999999", "alice", t).ok());
  REQUIRE(m.ack(id, "alice", t + 1min).ok());
  auto again = m.ack(id, "bob", t + 2min);
  REQUIRE(again.ok());
  CHECK(again->empty());
  m.on_verdict("spa", "Spa", calm(true), t + 20min);
  REQUIRE(m.active("spa") == nullptr);
  const auto late = m.ack(id, "alice", t + 21min);
  REQUIRE_FALSE(late.ok());
  CHECK(late.error().field == "alert_ack.id");
}

TEST_CASE("every change is persisted before it is published") {
  AlertMachine m;
  const auto effects = m.on_verdict("spa", "Spa", spike(4, 5), t0());
  REQUIRE(effects.size() == 2);
  CHECK(effects[0].kind == Effect::Kind::persist);
  REQUIRE(effects[0].record);
  CHECK(effects[0].record->alert == effects[1].alert);
  CHECK(effects[1].kind == Effect::Kind::publish);
}

TEST_CASE("alert ids continue from the persisted counter and restored alerts carry on after a restart") {
  AlertMachine before({}, two_levels(), 17);
  const WallTime t = t0();
  const auto opened = before.on_verdict("spa", "Spa", spike(4, 5), t);
  CHECK(opened.front().alert.id == "a-000017");
  const TrackedAlert saved = *opened.front().record;

  AlertMachine after({}, two_levels(), 1);
  after.restore(saved);
  CHECK(after.next_id() == 18);
  REQUIRE(after.active("spa"));
  // The repeat timer survived: 5 minutes after the original open, not after the restart.
  CHECK(notified(after.tick(t + 5min), Change::repeated) == std::vector<std::string>{"alice"});
  CHECK(after.ack("a-000017", "alice", t + 6min).ok());
  const auto other = after.on_verdict("front-desk", "Front desk", spike(3, 3), t + 7min);
  CHECK(other.front().alert.id == "a-000018");
  CHECK(format_alert_id(5) == "a-000005");
  CHECK(parse_alert_number("a-000123") == std::optional<std::uint64_t>(123));
  CHECK_FALSE(parse_alert_number("x-1"));
}

TEST_CASE("the reason says in plain words what happened") {
  Verdict v = spike(5, 7);
  CHECK(reason_text(v, "Front desk") == "5 of the last 7 ratings at Front desk were bad (usual: 12%)");
  v.cause = Verdict::Cause::call_manager;
  CHECK(reason_text(v, "Front desk") == "A guest asked for a manager at Front desk");
  AlertMachine m;
  const auto e = m.on_verdict("front-desk", "Front desk", spike(5, 7), t0());
  CHECK(e.front().alert.reason == "5 of the last 7 ratings at Front desk were bad (usual: 12%)");
  CHECK(e.front().alert.window_s == 300);
  CHECK(e.front().alert.baseline == Approx(0.12));
}

TEST_CASE("a call-a-manager alert stays until someone acknowledges it") {
  AlertMachine m({}, two_levels());
  const WallTime t = t0();
  RatedPress p{.at = t, .rating = 4, .scale = 4, .call_manager = true};
  const auto opened = m.on_verdict("spa", "Spa", call_manager_verdict(p), t);
  REQUIRE(count(opened, Effect::Kind::publish, Change::opened) == 1);
  CHECK(opened.front().alert.severity == Severity::critical);
  CHECK(m.on_verdict("spa", "Spa", calm(true), t + 30min).empty());
  REQUIRE(m.active("spa"));
  REQUIRE(m.ack(opened.front().alert.id, "bob", t + 31min).ok());
  CHECK(count(m.on_verdict("spa", "Spa", calm(true), t + 32min), Effect::Kind::publish, Change::resolved) == 1);
}

TEST_CASE("a call pressed again just after the ack goes to the acked alert; later it pages anew") {
  AlertMachine m({}, two_levels());
  const WallTime t = t0();
  RatedPress p{.at = t, .rating = 4, .scale = 4, .call_manager = true};
  const std::string id = m.on_verdict("spa", "Spa", call_manager_verdict(p), t).front().alert.id;
  REQUIRE(m.ack(id, "alice", t + 1min).ok());
  p.at = t + 1min + 40s;  // the guest, still waiting
  const auto again = m.on_verdict("spa", "Spa", call_manager_verdict(p), p.at);
  CHECK(count(again, Effect::Kind::notify) == 0);
  CHECK(count(again, Effect::Kind::publish, Change::updated) == 1);
  CHECK(m.active("spa")->alert.id == id);
  p.at = t + 10min;  // nobody came
  const auto later = m.on_verdict("spa", "Spa", call_manager_verdict(p), p.at);
  CHECK(notified(later, Change::opened) == std::vector<std::string>{"alice"});
  CHECK(m.active("spa")->alert.id != id);
}

TEST_CASE("getting worse is notified once and counts alone are not") {
  AlertMachine m({}, two_levels());
  const WallTime t = t0();
  m.on_verdict("spa", "Spa", spike(3, 4), t);
  const auto same = m.on_verdict("spa", "Spa", spike(4, 5), t + 2min);
  CHECK(count(same, Effect::Kind::publish, Change::updated) == 1);
  CHECK(count(same, Effect::Kind::notify) == 0);
  const auto worse = m.on_verdict("spa", "Spa", spike(8, 9, Severity::critical), t + 2min + 10s);
  CHECK(notified(worse, Change::updated) == std::vector<std::string>{"alice"});
  CHECK(m.active("spa")->alert.severity == Severity::critical);
  // Unchanged counts publish nothing, however often the verdict comes.
  CHECK(m.on_verdict("spa", "Spa", spike(8, 9, Severity::critical), t + 5min).empty());
}

TEST_CASE("resolving tells everyone who was notified") {
  AlertMachine m({}, two_levels());
  const WallTime t = t0();
  m.on_verdict("spa", "Spa", spike(4, 5), t);
  m.tick(t + 10min);  // escalated to bob
  const auto resolved = m.on_verdict("spa", "Spa", calm(true), t + 20min);
  CHECK(notified(resolved, Change::resolved) == std::vector<std::string>{"alice", "bob"});
  // A later spike is a new alert.
  CHECK(m.on_verdict("spa", "Spa", spike(4, 5), t + 30min).front().alert.id == "a-000002");
}
