// Settings of a hub run in the test's own process (kiosk::hub::Hub on the test's io_context) on a
// real broker: site s1, its database and token in `dir`, an HTTP port of the system's choosing.
// Header-only: only tests that link kiosk_hub_core include it.
#pragma once

#include <string>

#include "kiosk/hub/hub_config.hpp"
#include "kiosk_test.hpp"

namespace kiosk::test {

inline hub::HubConfig in_process_hub_config(const Broker& broker, const TempDir& dir, std::string register_devices) {
  hub::HubConfig c;
  c.broker_url = broker.url();
  c.site = "s1";
  c.db_path = (dir / "hub.db").string();
  c.http_port = 0;
  c.token_file = (dir / "hub.token").string();
  c.register_devices = std::move(register_devices);
  c.log_level = "warn";
  return c;
}

}  // namespace kiosk::test
