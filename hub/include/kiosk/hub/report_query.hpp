// The SQL behind the manager's report: presses grouped by location, local hour, scale, rating and
// button, and the alerts raised in the period. Errors are values.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "kiosk/hub/report.hpp"
#include "kiosk/hub/sqlite_store.hpp"
#include "kiosk/protocol/result.hpp"

namespace kiosk::hub {

// location: only that location. call_manager: for the buttons given with a device, that device's
// presses of that button are read apart too (rows with a device: see PressCount).
protocol::Result<std::vector<PressCount>> read_press_counts(Database& db, const std::string& site,
                                                            const ReportPeriod& period,
                                                            const TimeZone& zone,
                                                            const std::optional<std::string>& location,
                                                            const std::vector<CallManagerButton>& call_manager = {});
protocol::Result<std::vector<AlertTimes>> read_alert_times(Database& db, const std::string& site,
                                                           const ReportPeriod& period,
                                                           const std::optional<std::string>& location);

}  // namespace kiosk::hub
