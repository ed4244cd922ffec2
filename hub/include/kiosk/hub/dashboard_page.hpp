// The live dashboard: one self-contained HTML page (no external assets) fed by /api/events.
#pragma once

#include <string_view>

namespace kiosk::hub {

std::string_view dashboard_page();

}  // namespace kiosk::hub
