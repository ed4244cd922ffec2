// The alert lifecycle per location (open -> acked -> resolved) as a pure state machine with injected time.
//
// Events in (verdicts, acks, ticks), effects out (persist, publish, notify): the hub's shell
// carries the effects out in order (persist first, so what is published is also durable).
// One active alert per location; updates are rate-limited so a long incident is no alert storm.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/hub/detector.hpp"
#include "kiosk/hub/routing.hpp"
#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/result.hpp"

namespace kiosk::hub {

struct AlertSettings {
  std::chrono::seconds repeat_interval{std::chrono::minutes(5)};  // re-notify while open and not acked
  std::chrono::seconds escalate_after{std::chrono::minutes(10)};  // no ack this long: next level
  std::chrono::seconds update_interval{std::chrono::minutes(1)};  // publish changed counts at most this often
};

// What happened to an alert; also the history entry the store appends.
enum class Change { opened, updated, acked, repeated, escalated, resolved };
std::string_view to_string(Change c);

// An active alert with what the machine needs to carry on after a restart.
struct TrackedAlert {
  protocol::Alert alert;
  std::string display_name;  // "Front desk", for the reason text
  Verdict::Cause cause = Verdict::Cause::ratings;
  int level = 0;               // escalation level notified last
  WallTime last_notice{};      // last open/repeat/escalate notification: the repeat timer
  WallTime level_since{};      // when the current level was first notified: the escalation timer
  WallTime last_publish{};     // the update rate limit
  bool unpublished = false;    // counts changed since the last publish
  // When it was acked, on the timeline (stored as the alert's acked_at; an older row: its `updated`).
  std::optional<WallTime> acked_at;
  friend bool operator==(const TrackedAlert&, const TrackedAlert&) = default;
};

struct Effect {
  enum class Kind {
    persist,  // store `record` (and append `change` to the alert's history)
    publish,  // retained alert/<location> with `alert`
    notify    // tell `contact` (webhook) about `alert`
  };
  Kind kind = Kind::publish;
  Change change = Change::opened;
  protocol::Alert alert;
  std::optional<Contact> contact;     // notify only
  std::optional<TrackedAlert> record; // persist only
};

// "a-000017" <-> 17. Ids come from a counter the caller persists (the highest id stored + 1).
std::string format_alert_id(std::uint64_t n);
std::optional<std::uint64_t> parse_alert_number(std::string_view id);

// "5 of the last 7 ratings at Front desk were bad (usual: 12%)".
std::string reason_text(const Verdict& v, std::string_view display_name);

// When an event happens, on two clocks. `at` is on the hub's timeline (moves with the steady clock
// since start): timers and the alert's times. `wall` is the wall clock as it reads now: on-duty
// hours, which must follow the clock on the wall after NTP stepped it (a board without RTC boots
// with a stale time). The same instant unless the wall clock stepped since start.
struct EventTime {
  WallTime at;
  WallTime wall;
  // One time for both (tests, replay, a hub whose clock never stepped): implicit on purpose.
  EventTime(WallTime t) : at(t), wall(t) {}  // NOLINT(google-explicit-constructor)
  EventTime(WallTime timeline, WallTime wall_clock) : at(timeline), wall(wall_clock) {}
};

class AlertMachine {
 public:
  static constexpr std::chrono::minutes kCallAgain{2};

  explicit AlertMachine(AlertSettings settings = {}, Routing routing = {}, std::uint64_t next_id = 1);

  // A verdict of the location's detector: opens or updates on a spike, resolves when back to normal.
  // A "call a manager" verdict always reaches someone: on an open alert it is published and notified
  // at the current level; an acked alert is resolved and a new critical alert opened (no acked -> open).
  // So is a new wave on an acked alert: a run of spikes that began after the ack (the detector had
  // no spike for resolve_after, the location went bad again). Spikes of the run that was acked only
  // update the counts, and so does a call pressed again within kCallAgain of the ack.
  std::vector<Effect> on_verdict(const std::string& location, std::string_view display_name,
                                 const Verdict& verdict, EventTime now);
  // A manager's ack. Unknown or resolved ids are an error; a second ack changes nothing.
  protocol::Result<std::vector<Effect>> ack(std::string_view id, std::string_view by, EventTime now);
  // Timers: pending updates, repeats and escalation.
  std::vector<Effect> tick(EventTime now);

  // Brings back an active alert from storage after a restart (open or acked).
  void restore(TrackedAlert record);

  std::uint64_t next_id() const { return next_id_; }
  const TrackedAlert* active(std::string_view location) const;
  const TrackedAlert* find(std::string_view id) const;  // an active alert by its id
  std::vector<TrackedAlert> active_alerts() const;
  const Routing& routing() const { return routing_; }
  // New contacts' rules (the venue's time zone changed): the next notice goes by them.
  void set_routing(Routing routing) { routing_ = std::move(routing); }

 private:
  void emit(std::vector<Effect>& out, TrackedAlert& t, Change change, WallTime now);
  void remind(std::vector<Effect>& out, const TrackedAlert& t, Change change, WallTime now);
  void notify(std::vector<Effect>& out, const TrackedAlert& t, Change change, const Recipients& r);
  void notify_up_to_level(std::vector<Effect>& out, const TrackedAlert& t, Change change, WallTime wall,
                          std::string_view except);
  TrackedAlert& open(std::vector<Effect>& out, const std::string& location, std::string_view display_name,
                     const Verdict& v, EventTime now);
  void resolve(std::vector<Effect>& out, TrackedAlert& t, EventTime now);
  void call_manager(std::vector<Effect>& out, TrackedAlert& t, const Verdict& v, EventTime now);

  AlertSettings settings_;
  Routing routing_;
  std::uint64_t next_id_;
  std::map<std::string, TrackedAlert, std::less<>> active_;  // by location
};

}  // namespace kiosk::hub
