// Child processes of a run: each dies with the orchestrator (PR_SET_PDEATHSIG) and is reaped.
#pragma once

#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace kiosk::faults {

// One program the orchestrator runs, possibly many times (restart after a kill). Must be started,
// signalled and reaped from the thread that lives for the whole run: PR_SET_PDEATHSIG fires when
// the *thread* that forked exits.
class Process {
 public:
  enum class Output { file, pipe };
  Process(std::string name, std::vector<std::string> argv, std::filesystem::path log_file, Output output);
  ~Process();  // SIGKILL and reap if still running
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  // Starts a new incarnation. With Output::pipe returns the read end of its stdout+stderr (the
  // caller owns it); otherwise -1. Throws std::runtime_error if fork/exec setup fails.
  int start();
  bool running();                 // reaps if it exited; remembers the status
  void signal(int sig);           // no-op when not running
  // Waits for exit; returns the status (exit code, or 128+signal), nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  int kill9();                    // SIGKILL and reap; returns the status
  int stop(std::chrono::milliseconds grace);  // SIGTERM, wait, then SIGKILL
  int pid() const { return pid_; }
  const std::string& name() const { return name_; }
  std::optional<int> last_status() const { return status_; }
  int starts() const { return starts_; }

 private:
  std::string name_;
  std::vector<std::string> argv_;
  std::filesystem::path log_file_;
  Output output_;
  int pid_ = -1;
  int starts_ = 0;
  std::optional<int> status_;
};

// VmRSS in kB and the number of open fds of a live process; -1 when unknown.
struct ProcessSample {
  long rss_kb = -1;
  long fds = -1;
};
ProcessSample sample_process(int pid);

}  // namespace kiosk::faults
