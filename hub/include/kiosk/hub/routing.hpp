// Who hears about an alert: contacts, the locations they cover, their on-duty hours, the escalation chain (pure).
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/protocol/result.hpp"
#include "kiosk/hub/time_zone.hpp"
#include "kiosk/protocol/time.hpp"

namespace kiosk::hub {

using protocol::WallTime;

// A weekly window in venue local time: days first_day..last_day (0 = Monday, may wrap, e.g.
// fri-mon), minutes start..end after midnight; end < start runs past midnight into the next day.
struct DutyWindow {
  int first_day = 0;
  int last_day = 6;
  int start_min = 0;
  int end_min = 24 * 60;
  friend bool operator==(const DutyWindow&, const DutyWindow&) = default;
};

// "mon-fri 08:00-18:00, sat 10:00-14:00, daily 22:00-06:00"; days: mon..sun, a range, or "daily".
// An empty text means "always on duty" (no windows).
protocol::Result<std::vector<DutyWindow>> parse_schedule(std::string_view text);

struct Contact {
  std::string id;       // identifier, e.g. "alice"
  std::string name;     // display name
  std::string webhook;  // URL for JSON POSTs; empty: MQTT/dashboard only
  std::vector<std::string> locations{"*"};  // the locations covered; "*" = every location
  std::vector<DutyWindow> on_duty;          // empty = always on duty
  int level = 0;  // escalation chain: 0 hears first, 1 when 0 does not acknowledge, ...
  friend bool operator==(const Contact&, const Contact&) = default;
};

bool covers(const Contact& c, std::string_view location);
bool on_duty(const Contact& c, WallTime now, const TimeZone& zone);

struct Recipients {
  int level = -1;  // the escalation level these contacts are at; -1: nobody
  std::vector<Contact> contacts;
  bool empty() const { return contacts.empty(); }
};

class Routing {
 public:
  Routing() = default;
  Routing(std::vector<Contact> contacts, TimeZone zone);

  // The on-duty contacts covering `location` at the lowest escalation level >= `level` that has
  // anyone: when nobody on a level is on duty, the alert goes one level up rather than nowhere.
  Recipients who_gets(std::string_view location, WallTime now, int level) const;

  const std::vector<Contact>& contacts() const { return contacts_; }

 private:
  std::vector<Contact> contacts_;
  TimeZone zone_;
};

}  // namespace kiosk::hub
