// The fake clock's starting point shared by the firmware's unit tests.
#pragma once

#include "kiosk/firmware/press_logic.hpp"

namespace kiosk::firmware::test {

// Far enough from the clock's epoch that "before t0" is representable.
inline const TimePoint t0{std::chrono::seconds(1000)};

}  // namespace kiosk::firmware::test
