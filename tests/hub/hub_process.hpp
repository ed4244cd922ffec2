// Runs build/bin/kiosk-hub as a child process against a test broker, with its own db, token and port.
#pragma once

#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <boost/json.hpp>

#include "http_client.hpp"
#include "kiosk_test.hpp"

namespace kiosk::test {

class HubProcess {
 public:
  HubProcess(const Broker& broker, const fs::path& dir, std::string site = "test-site",
             std::vector<std::string> extra_args = {})
      : broker_url_(broker.url()), dir_(dir), site_(std::move(site)), extra_(std::move(extra_args)) {}

  // Starts the hub and waits until its HTTP API answers and it is connected to the broker.
  void start() {
    fs::remove(port_file());
    ++starts_;
    std::vector<std::string> argv = {(bin_dir() / "kiosk-hub").string(), "--broker", broker_url_, "--site", site_,
                                     "--db", db_path().string(), "--http", "127.0.0.1:0", "--port-file",
                                     port_file().string(), "--log-level", "debug"};
    argv.insert(argv.end(), extra_.begin(), extra_.end());
    child_ = std::make_unique<Child>(argv, Child::Options{.env = {}, .log_file = log_file(), .working_dir = {}});
    if (!wait_until([&] { return read_port() > 0 || !child_->running(); }, 15s) || !child_->running())
      throw std::runtime_error("kiosk-hub did not start: " + log());
    port_ = read_port();
    if (!wait_until([&] { return http_get(port_, "/health").status == 200; }, 15s))
      throw std::runtime_error("kiosk-hub did not become healthy: " + log());
  }

  int port() const { return port_; }
  Child& child() { return *child_; }
  fs::path db_path() const { return dir_ / "data" / "hub.db"; }
  fs::path port_file() const { return dir_ / "hub.port"; }
  fs::path log_file() const { return dir_ / ("hub-" + std::to_string(starts_) + ".log"); }
  fs::path token_file() const { return dir_ / "data" / "hub.token"; }
  std::string log() const { return child_ ? child_->log() : std::string(); }
  const std::string& site() const { return site_; }

  std::string token() const {
    std::ifstream in(token_file());
    std::string t;
    std::getline(in, t);
    return t;
  }

  // Registers a device through the API (asserting 201) at a location.
  void register_device(const std::string& id, const std::string& location) {
    auto r = http_post(port_, "/api/devices", R"({"id":")" + id + R"(","location":")" + location + R"("})", token());
    if (r.status != 201) throw std::runtime_error("register " + id + " failed: " + std::to_string(r.status) + " " + r.body);
  }

  boost::json::value get_json(const std::string& target) const {
    auto r = http_get(port_, target);
    if (r.status != 200) throw std::runtime_error("GET " + target + " -> " + std::to_string(r.status) + " " + r.body);
    return boost::json::parse(r.body);
  }

  std::string topic(const std::string& device, const std::string& kind) const {
    return "kiosk/v1/" + site_ + "/device/" + device + "/" + kind;
  }

 private:
  int read_port() const {
    std::ifstream in(port_file());
    int p = 0;
    in >> p;
    return p;
  }

  std::string broker_url_;
  fs::path dir_;
  std::string site_;
  std::vector<std::string> extra_;
  std::unique_ptr<Child> child_;
  int port_ = 0;
  int starts_ = 0;
};

}  // namespace kiosk::test
