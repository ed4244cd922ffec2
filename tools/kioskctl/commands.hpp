// Runs a parsed kioskctl command against the hub; returns the exit code (0 ok, 1 failed, 2 usage).
#pragma once

#include <ostream>
#include <string>

#include <boost/json/object.hpp>

#include "cli.hpp"
#include "settings.hpp"

namespace kiosk::ctl {

// `kioskctl status` for people, from the hub's /health JSON (pure). "accounts" only when the hub
// manages broker accounts.
std::string render_status(const std::string& hub, const boost::json::object& health);

int run_command(const Invocation& invocation, const Settings& settings, std::ostream& out, std::ostream& err);

}  // namespace kiosk::ctl
