// Reads every terminal's log through pipes: keeps the accepted presses (with the wall time each line
// was read), counts connects and errors, and copies all lines to one log file per terminal.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "verdict.hpp"

namespace kiosk::faults {

struct TerminalLogStats {
  std::uint64_t connects = 0;  // "info mqtt: connected"
  std::uint64_t errors = 0;    // lines at level error
  std::string last_error;
};

class TerminalLogs {
 public:
  TerminalLogs(int terminals, const std::filesystem::path& dir);  // logs at dir/t-NN.log
  ~TerminalLogs();
  TerminalLogs(const TerminalLogs&) = delete;
  TerminalLogs& operator=(const TerminalLogs&) = delete;

  // Takes ownership of the read end of a new incarnation's output pipe.
  void attach(int terminal, int fd);
  std::vector<LoggedPress> presses(int terminal) const;
  std::uint64_t press_count() const;
  TerminalLogStats stats(int terminal) const;
  // Waits until every attached pipe reached end-of-file (all writers exited), at most `timeout_ms`.
  bool drained(int timeout_ms) const;

 private:
  struct State;
  void run();
  std::unique_ptr<State> state_;
  std::thread thread_;
};

}  // namespace kiosk::faults
