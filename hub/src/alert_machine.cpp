// The alert lifecycle: open on a spike, update without storming, repeat and escalate until acked, resolve.
#include "kiosk/hub/alert_machine.hpp"

#include <cmath>
#include <cstdio>

namespace kiosk::hub {

using protocol::Alert;
using protocol::AlertState;
using protocol::Severity;

std::string_view to_string(Change c) {
  switch (c) {
    case Change::opened: return "opened";
    case Change::updated: return "updated";
    case Change::acked: return "acked";
    case Change::repeated: return "repeated";
    case Change::escalated: return "escalated";
    case Change::resolved: return "resolved";
  }
  return "unknown";
}

std::string format_alert_id(std::uint64_t n) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "a-%06llu", static_cast<unsigned long long>(n));
  return buf;
}

std::optional<std::uint64_t> parse_alert_number(std::string_view id) {
  if (id.size() < 3 || id.substr(0, 2) != "a-" || id.size() > 22) return std::nullopt;
  std::uint64_t n = 0;
  for (char c : id.substr(2)) {
    if (c < '0' || c > '9') return std::nullopt;
    n = n * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return n;
}

std::string reason_text(const Verdict& v, std::string_view display_name) {
  if (v.cause == Verdict::Cause::call_manager)
    return "A guest asked for a manager at " + std::string(display_name);
  return std::to_string(v.bad) + " of the last " + std::to_string(v.total) + " ratings at " +
         std::string(display_name) + " were bad (usual: " +
         std::to_string(static_cast<int>(std::lround(v.baseline * 100))) + "%)";
}

AlertMachine::AlertMachine(AlertSettings settings, Routing routing, std::uint64_t next_id)
    : settings_(settings), routing_(std::move(routing)), next_id_(next_id == 0 ? 1 : next_id) {}

const TrackedAlert* AlertMachine::active(std::string_view location) const {
  const auto it = active_.find(location);
  return it == active_.end() ? nullptr : &it->second;
}

const TrackedAlert* AlertMachine::find(std::string_view id) const {
  for (const auto& [location, t] : active_)
    if (t.alert.id == id) return &t;
  return nullptr;
}

std::vector<TrackedAlert> AlertMachine::active_alerts() const {
  std::vector<TrackedAlert> out;
  for (const auto& [location, t] : active_) out.push_back(t);
  return out;
}

void AlertMachine::restore(TrackedAlert record) {
  if (const auto n = parse_alert_number(record.alert.id); n && *n >= next_id_) next_id_ = *n + 1;
  if (record.alert.state == AlertState::resolved) return;
  if (record.alert.state == AlertState::acked && !record.acked_at) record.acked_at = record.alert.updated;
  active_[record.alert.location] = std::move(record);
}

// Persist, then publish: what managers see has been stored.
void AlertMachine::emit(std::vector<Effect>& out, TrackedAlert& t, Change change, WallTime now) {
  t.alert.updated = now;
  t.last_publish = now;
  t.unpublished = false;
  out.push_back(Effect{.kind = Effect::Kind::persist, .change = change, .alert = t.alert, .record = t});
  out.push_back(Effect{.kind = Effect::Kind::publish, .change = change, .alert = t.alert});
}

// A reminder changes nothing about the alert itself: stored as it is (the history gets the
// change), and published again with `updated` set to now, so a manager who follows alert/# over
// MQTT alone, with no webhook, is reminded too. The alert's own `updated` stays the time it last
// changed (a restored alert is resolved by how long it has been quiet).
void AlertMachine::remind(std::vector<Effect>& out, const TrackedAlert& t, Change change, WallTime now) {
  out.push_back(Effect{.kind = Effect::Kind::persist, .change = change, .alert = t.alert, .record = t});
  protocol::Alert again = t.alert;
  again.updated = now;
  out.push_back(Effect{.kind = Effect::Kind::publish, .change = change, .alert = std::move(again)});
}

void AlertMachine::notify(std::vector<Effect>& out, const TrackedAlert& t, Change change, const Recipients& r) {
  for (const auto& c : r.contacts)
    out.push_back(Effect{.kind = Effect::Kind::notify, .change = change, .alert = t.alert, .contact = c});
}

// Everyone who has heard about the alert so far (levels 0 .. t.level), e.g. for "resolved".
void AlertMachine::notify_up_to_level(std::vector<Effect>& out, const TrackedAlert& t, Change change, WallTime wall,
                                      std::string_view except) {
  for (int level = 0;;) {
    Recipients r = routing_.who_gets(t.alert.location, wall, level);
    if (r.empty() || r.level > t.level) break;
    std::erase_if(r.contacts, [&](const Contact& c) { return c.id == except; });
    notify(out, t, change, r);
    level = r.level + 1;
  }
}

TrackedAlert& AlertMachine::open(std::vector<Effect>& out, const std::string& location, std::string_view display_name,
                                 const Verdict& v, EventTime now) {
  TrackedAlert t;
  t.display_name = std::string(display_name);
  t.cause = v.cause;
  t.alert = Alert{.id = format_alert_id(next_id_++),
                  .location = location,
                  .state = AlertState::open,
                  .severity = v.severity,
                  .since = now.at,
                  .updated = now.at,
                  .bad = v.bad,
                  .total = v.total,
                  .window_s = v.window_s,
                  .baseline = v.baseline,
                  .reason = reason_text(v, display_name)};
  const Recipients r = routing_.who_gets(location, now.wall, 0);
  t.level = std::max(0, r.level);
  t.last_notice = now.at;
  t.level_since = now.at;
  auto& stored = active_.insert_or_assign(location, std::move(t)).first->second;
  emit(out, stored, Change::opened, now.at);
  notify(out, stored, Change::opened, r);
  return stored;
}

// The caller forgets `t` (erases it from active_) right after.
void AlertMachine::resolve(std::vector<Effect>& out, TrackedAlert& t, EventTime now) {
  t.alert.state = AlertState::resolved;
  emit(out, t, Change::resolved, now.at);
  notify_up_to_level(out, t, Change::resolved, now.wall, "");
}

// A guest asked for a manager at a location that already has an alert.
void AlertMachine::call_manager(std::vector<Effect>& out, TrackedAlert& t, const Verdict& v, EventTime now) {
  // The same call pressed again right after it was passed on: the repeat timer reminds, not each press.
  if (t.cause == Verdict::Cause::call_manager && now.at - t.last_notice < settings_.update_interval) return;
  t.cause = Verdict::Cause::call_manager;  // calm ratings alone no longer end the alert
  t.alert.severity = Severity::critical;
  t.alert.reason = reason_text(v, t.display_name);
  // Whoever holds the alert now hears of it; if nobody on that level is on duty, the next level does.
  const Recipients r = routing_.who_gets(t.alert.location, now.wall, t.level);
  if (r.level > t.level) {
    t.level = r.level;
    t.level_since = now.at;
  }
  t.last_notice = now.at;  // this notice restarts the repeat timer
  emit(out, t, Change::updated, now.at);
  notify(out, t, Change::updated, r);
}

std::vector<Effect> AlertMachine::on_verdict(const std::string& location, std::string_view display_name,
                                             const Verdict& v, EventTime now) {
  std::vector<Effect> out;
  auto it = active_.find(location);
  if (v.spike) {
    if (it == active_.end()) {
      open(out, location, display_name, v, now);
      return out;
    }
    TrackedAlert& t = it->second;
    if (v.cause == Verdict::Cause::call_manager) {
      if (t.alert.state == AlertState::open) {
        call_manager(out, t, v, now);
        return out;
      }
      // A call acked a moment ago, pressed again (the guest waiting): the manager is on the way.
      if (t.cause == Verdict::Cause::call_manager && t.acked_at && v.at - *t.acked_at < kCallAgain) {
        emit(out, t, Change::updated, now.at);
        return out;
      }
      // Acked: whoever acked it is on the ratings (or an earlier call), not on this guest. An alert
      // never goes from acked back to open, so this one ends and the call is a new alert that pages.
      resolve(out, t, now);
      active_.erase(it);
      open(out, location, display_name, v, now);
      return out;
    }
    // Acked, and this run of spikes began after the ack: the location calmed down once the manager
    // was on it and went bad again. Whoever acked is dealing with what they were told; this is
    // news, so it pages as a new alert.
    if (t.alert.state == AlertState::acked && t.acked_at && v.run_start > *t.acked_at) {
      resolve(out, t, now);
      active_.erase(it);
      open(out, location, display_name, v, now);
      return out;
    }
    const bool worse = v.severity == Severity::critical && t.alert.severity == Severity::warning;
    const bool counts_changed = v.bad != t.alert.bad || v.total != t.alert.total;
    if (counts_changed) {
      t.alert.bad = v.bad;
      t.alert.total = v.total;
      t.alert.window_s = v.window_s;
      t.alert.baseline = v.baseline;
      // A call for a manager keeps its reason: that is what the manager must act on.
      if (t.cause == Verdict::Cause::ratings) t.alert.reason = reason_text(v, t.display_name);
      t.unpublished = true;
    }
    if (worse) {
      t.alert.severity = Severity::critical;
      emit(out, t, Change::updated, now.at);
      // Getting worse is news for whoever currently holds the alert; counts alone are not.
      if (t.alert.state == AlertState::open)
        notify(out, t, Change::updated, routing_.who_gets(location, now.wall, t.level));
    } else if (t.unpublished && now.at - t.last_publish >= settings_.update_interval) {
      emit(out, t, Change::updated, now.at);
    }
    return out;
  }
  if (v.back_to_normal && it != active_.end()) {
    TrackedAlert& t = it->second;
    // Someone asked for a manager: that ends when a manager has acknowledged it, not when ratings calm.
    if (t.cause == Verdict::Cause::call_manager && t.alert.state != AlertState::acked) return out;
    resolve(out, t, now);
    active_.erase(it);
  }
  return out;
}

protocol::Result<std::vector<Effect>> AlertMachine::ack(std::string_view id, std::string_view by, EventTime now) {
  for (auto& [location, t] : active_) {
    if (t.alert.id != id) continue;
    std::vector<Effect> out;
    if (t.alert.state == AlertState::acked) return out;
    t.alert.state = AlertState::acked;
    t.alert.acked_by = std::string(by);
    t.acked_at = now.at;
    emit(out, t, Change::acked, now.at);
    // The others who were told can stop worrying: someone is on it.
    notify_up_to_level(out, t, Change::acked, now.wall, by);
    return out;
  }
  return protocol::Error{"alert_ack.id", std::string(id) + " is not an open alert (unknown or already resolved)"};
}

std::vector<Effect> AlertMachine::tick(EventTime now) {
  std::vector<Effect> out;
  for (auto& [location, t] : active_) {
    if (t.unpublished && now.at - t.last_publish >= settings_.update_interval) emit(out, t, Change::updated, now.at);
    if (t.alert.state != AlertState::open) continue;  // acked: nobody needs reminding
    if (now.at - t.level_since >= settings_.escalate_after) {
      const Recipients next = routing_.who_gets(location, now.wall, t.level + 1);
      if (!next.empty()) {
        t.level = next.level;
        t.level_since = now.at;
        t.last_notice = now.at;
        remind(out, t, Change::escalated, now.at);
        notify(out, t, Change::escalated, next);
        continue;
      }
    }
    if (now.at - t.last_notice >= settings_.repeat_interval) {
      t.last_notice = now.at;
      remind(out, t, Change::repeated, now.at);
      notify(out, t, Change::repeated, routing_.who_gets(location, now.wall, t.level));
    }
  }
  return out;
}

}  // namespace kiosk::hub
