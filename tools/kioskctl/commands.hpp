// Runs a parsed kioskctl command against the hub; returns the exit code (0 ok, 1 failed).
#pragma once

#include <ostream>

#include "cli.hpp"
#include "settings.hpp"

namespace kiosk::ctl {

int run_command(const Invocation& invocation, const Settings& settings, std::ostream& out, std::ostream& err);

}  // namespace kiosk::ctl
