// Hub settings: a JSON config file plus command-line flags that override it, each with a documented default.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace kiosk::hub {

struct HubConfig {
  std::string broker_url = "tcp://127.0.0.1:1883";
  std::string site;                 // required
  std::string db_path = "kiosk-hub.db";
  std::string http_host = "127.0.0.1";
  std::uint16_t http_port = 8080;   // 0: any free port (see port_file)
  std::string username;
  std::string password;
  std::string password_file;
  std::string ca_file;
  std::string cert_file;
  std::string key_file;
  bool tls_verify_host = true;      // the broker's certificate must name the host of --broker
  std::string token_file;           // empty: <db dir>/hub.token
  bool dynsec = false;
  std::string client_id;            // empty: kiosk-hub-<site>
  std::string log_level = "info";   // debug, info, warn, error
  std::string port_file;            // written with the bound HTTP port once listening
  std::size_t batch_max = 512;      // presses per commit at most
  std::uint32_t batch_window_us = 2000;  // how long a batch waits for company before committing
  std::string register_devices;     // PREFIX:COUNT[:LOCATION], a benchmark/demo shortcut
  std::string alerts_file;          // alert settings (JSON, see alert_config.cpp); empty: no spike alerts
  bool open_reads = true;           // GET requests without a token (documented: loopback by default)
  // Host names those requests may be sent to, besides IP addresses and localhost; empty: this
  // machine's host name and <host name>.local.
  std::vector<std::string> http_names;
  int ack_qos = 1;                  // protocol v1 says 1; 0 trades broker-level retries for throughput

  std::string effective_client_id() const { return client_id.empty() ? "kiosk-hub-" + site : client_id; }
  std::string effective_token_file() const;
};

struct CommandLine {
  enum class Kind { run, help, version, usage_error };
  Kind kind = Kind::run;
  HubConfig config;
  std::string message;  // the usage error, one line
};

// Flags override the --config file wherever they appear on the line. Reads the config and
// password files (startup only).
CommandLine parse_command_line(const std::vector<std::string>& args);

// Applies a JSON object of settings (keys are the flag names without "--"). Throws std::invalid_argument.
void apply_config_json(HubConfig& config, const std::string& json_text);

std::string help_text();

}  // namespace kiosk::hub
