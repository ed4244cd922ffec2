// kiosk-hub as the hub's integration tests run it (a HubChild in port-file mode), with the API calls
// they make: register a device, read JSON, name a device's topics on the hub's site.
#pragma once

#include <catch2/catch.hpp>

#include <stdexcept>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "http_client.hpp"
#include "kiosk_test.hpp"

namespace kiosk::test {

class HubUnderTest : public HubChild {
 public:
  // Its database in <dir>/data (a folder the hub makes), the port it bound read from --port-file,
  // debug logging, then `extra_args`.
  HubUnderTest(const Broker& broker, const fs::path& dir, std::string site = "test-site",
               std::vector<std::string> extra_args = {})
      : HubChild(broker, dir, options(dir, std::move(site), std::move(extra_args))) {}

  // Starts the hub (again, after stop or kill -9), or fails the test with the hub's log.
  void start_or_fail() {
    if (!start()) FAIL("kiosk-hub did not start: " << log());
  }

  // Registers a device through the API at a location; throws unless the hub answers 201.
  void register_device(const std::string& id, const std::string& location) const {
    auto r = http_post(port(), "/api/devices", R"({"id":")" + id + R"(","location":")" + location + R"("})", token());
    if (r.status != 201) throw std::runtime_error("register " + id + " failed: " + std::to_string(r.status) + " " + r.body);
  }

  // GET `target` as JSON; throws unless the hub answers 200.
  boost::json::value get_json(const std::string& target) const {
    auto r = http_get(port(), target);
    if (r.status != 200) throw std::runtime_error("GET " + target + " -> " + std::to_string(r.status) + " " + r.body);
    return boost::json::parse(r.body);
  }

  std::string topic(const std::string& device, const std::string& kind) const {
    return "kiosk/v1/" + site() + "/device/" + device + "/" + kind;
  }

 private:
  static Options options(const fs::path& dir, std::string site, std::vector<std::string> extra_args) {
    extra_args.insert(extra_args.begin(), {"--log-level", "debug"});
    return Options{.site = std::move(site), .db = dir / "data" / "hub.db", .token_file = {}, .port_file = true,
                   .extra_args = std::move(extra_args)};
  }
};

}  // namespace kiosk::test
