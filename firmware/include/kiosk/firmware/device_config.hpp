// The device file (JSON written by `kioskctl device add`) plus command-line flags that override it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/firmware/board.hpp"
#include "kiosk/protocol/result.hpp"

namespace kiosk::firmware {

enum class LogLevel { debug, info, warn, error };
std::optional<LogLevel> parse_log_level(std::string_view text);

struct DeviceConfig {
  // Required (file or flags).
  std::string site;
  std::string device;
  std::string broker;  // tcp://host:port or ssl://host:port
  std::string board;
  // Optional, with defaults.
  std::string username;
  std::string password;  // never logged
  std::string tls_ca;
  std::string tls_cert;
  std::string tls_key;
  bool tls_verify_host = true;     // the broker's certificate must name the host of `broker`
  std::string boards_dir;          // default: compile-time <repo>/boards
  std::vector<int> ratings;        // button index -> rating; empty: 1..buttons
  int scale = 0;                   // 0: number of buttons
  std::string data_dir;            // default: /var/lib/kiosk/<device>
  std::uint32_t debounce_ms = 30;
  std::uint32_t lockout_ms = 1500;
  std::uint32_t repeat_window_ms = 10000;
  std::uint32_t thanks_ms = 800;
  std::uint32_t telemetry_s = 60;
  std::uint64_t outbox_max = 100000;
  std::uint32_t keepalive_s = 30;
  std::uint32_t reconnect_max_s = 30;
  LogLevel log_level = LogLevel::info;
  std::string sim_input;  // flag only: FIFO path; forces simulated buttons
  std::uint64_t first_seq = 0;  // flag only: first seq of a NEW outbox; 0: synchronised wall clock ms, else random
};

// Parses a device file; unknown keys are errors naming the key. Fills only what the file has.
protocol::Result<DeviceConfig> parse_device_file(std::string_view json, DeviceConfig base = {});

struct CommandLine {
  DeviceConfig config;
  bool help = false;
  bool version = false;
};

// Reads --config (if given) then applies every other flag over it, then checks the result
// (required fields, identifiers, ranges). Errors are usage errors (exit code 2).
protocol::Result<CommandLine> parse_command_line(const std::vector<std::string>& args,
                                                 const std::string& default_boards_dir);

// Checks a complete configuration against its board: ratings default to 1..buttons, scale to
// the number of buttons; a ratings map of the wrong length or out of 1..scale is an error.
protocol::Result<DeviceConfig> resolve_for_board(DeviceConfig config, const Board& board);

std::string usage(const std::string& default_boards_dir);

}  // namespace kiosk::firmware
