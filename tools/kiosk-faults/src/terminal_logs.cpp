// One poll() thread over the terminals' output pipes; lines are timestamped as they are read.
#include "terminal_logs.hpp"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>

namespace kiosk::faults {
namespace {

std::int64_t wall_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

struct TerminalLogs::State {
  struct Terminal {
    std::FILE* file = nullptr;
    std::vector<LoggedPress> presses;
    TerminalLogStats stats;
  };
  struct Stream {
    int terminal;
    std::string partial;
  };
  mutable std::mutex mutex;
  mutable std::condition_variable changed;
  std::vector<Terminal> terminals;
  std::map<int, Stream> streams;  // fd -> stream (owned by the reader thread once attached)
  std::vector<std::pair<int, int>> incoming;  // (terminal, fd) not yet picked up
  std::uint64_t presses = 0;
  int wake[2] = {-1, -1};
  std::atomic<bool> stopping{false};
};

TerminalLogs::TerminalLogs(int terminals, const std::filesystem::path& dir) : state_(std::make_unique<State>()) {
  state_->terminals.resize(static_cast<std::size_t>(terminals));
  for (int i = 0; i < terminals; ++i) {
    char name[32];
    std::snprintf(name, sizeof name, "t-%02d.log", i);
    state_->terminals[static_cast<std::size_t>(i)].file = std::fopen((dir / name).c_str(), "ae");
  }
  if (::pipe2(state_->wake, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("log wake-up pipe");
  thread_ = std::thread([this] { run(); });
}

TerminalLogs::~TerminalLogs() {
  state_->stopping = true;
  [[maybe_unused]] auto w = ::write(state_->wake[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  for (auto& [fd, s] : state_->streams) ::close(fd);
  for (auto& [t, fd] : state_->incoming) ::close(fd);
  for (auto& t : state_->terminals)
    if (t.file) std::fclose(t.file);
  ::close(state_->wake[0]);
  ::close(state_->wake[1]);
}

void TerminalLogs::attach(int terminal, int fd) {
  {
    std::lock_guard lock(state_->mutex);
    state_->incoming.emplace_back(terminal, fd);
  }
  [[maybe_unused]] auto w = ::write(state_->wake[1], "x", 1);
}

std::vector<LoggedPress> TerminalLogs::presses(int terminal) const {
  std::lock_guard lock(state_->mutex);
  return state_->terminals.at(static_cast<std::size_t>(terminal)).presses;
}

std::uint64_t TerminalLogs::press_count() const {
  std::lock_guard lock(state_->mutex);
  return state_->presses;
}

TerminalLogStats TerminalLogs::stats(int terminal) const {
  std::lock_guard lock(state_->mutex);
  return state_->terminals.at(static_cast<std::size_t>(terminal)).stats;
}

bool TerminalLogs::drained(int timeout_ms) const {
  std::unique_lock lock(state_->mutex);
  return state_->changed.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                  [&] { return state_->streams.empty() && state_->incoming.empty(); });
}

void TerminalLogs::run() {
  auto& s = *state_;
  std::vector<pollfd> fds;
  char buf[16384];
  while (!s.stopping) {
    fds.clear();
    fds.push_back({s.wake[0], POLLIN, 0});
    {
      std::lock_guard lock(s.mutex);
      for (auto& [t, fd] : s.incoming) s.streams.emplace(fd, State::Stream{t, {}});
      s.incoming.clear();
      for (auto& [fd, st] : s.streams) fds.push_back({fd, POLLIN, 0});
    }
    if (::poll(fds.data(), fds.size(), 1000) < 0) continue;
    if (fds[0].revents) {
      while (::read(s.wake[0], buf, sizeof buf) > 0) {
      }
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      int fd = fds[i].fd;
      ssize_t n = ::read(fd, buf, sizeof buf);
      auto now = wall_now_ms();
      std::lock_guard lock(s.mutex);
      auto& stream = s.streams.at(fd);
      auto& term = s.terminals.at(static_cast<std::size_t>(stream.terminal));
      if (n <= 0) {
        if (n < 0 && errno == EINTR) continue;
        ::close(fd);
        s.streams.erase(fd);
        s.changed.notify_all();
        continue;
      }
      stream.partial.append(buf, static_cast<std::size_t>(n));
      std::size_t start = 0;
      for (auto nl = stream.partial.find('\n'); nl != std::string::npos; nl = stream.partial.find('\n', start)) {
        std::string line = stream.partial.substr(start, nl - start);
        start = nl + 1;
        if (term.file) std::fprintf(term.file, "%lld %s\n", static_cast<long long>(now), line.c_str());
        LoggedPress p;
        if (parse_press_line(line, p)) {
          p.logged_at_ms = now;
          term.presses.push_back(p);
          ++s.presses;
        } else if (line.rfind("info mqtt: connected", 0) == 0) {
          ++term.stats.connects;
        } else if (line.rfind("error ", 0) == 0) {
          ++term.stats.errors;
          term.stats.last_error = line;
        }
      }
      stream.partial.erase(0, start);
      if (term.file) std::fflush(term.file);
    }
  }
}

}  // namespace kiosk::faults
