// The manager's report as a table for people, from the hub's /api/report JSON (pure, no I/O).
#pragma once

#include <string>

#include <boost/json/object.hpp>

namespace kiosk::ctl {

// One line per location and one for the whole site; with `daily`, a line per location and day.
std::string render_report(const boost::json::object& report, bool daily);

// "45s", "4m10s", "2h05m", "1d03h": a median wait, short enough for a table cell.
std::string short_duration(double seconds);

}  // namespace kiosk::ctl
