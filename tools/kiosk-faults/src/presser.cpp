// Non-blocking FIFO writes: a terminal that is down (no reader) or behind (pipe full) is skipped.
#include "presser.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <string>

namespace kiosk::faults {

Presser::Presser(std::vector<std::filesystem::path> fifos, double presses_per_s, int buttons, std::uint64_t seed)
    : fifos_(std::move(fifos)), fds_(fifos_.size(), -1), rate_(presses_per_s), buttons_(buttons) {
  thread_ = std::thread([this, seed] { run(seed); });
}

Presser::~Presser() {
  stop();
  for (int fd : fds_)
    if (fd >= 0) ::close(fd);
}

void Presser::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void Presser::run(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_int_distribution<int> button(0, buttons_ - 1);
  auto period = std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(1.0 / rate_));
  auto next = std::chrono::steady_clock::now();
  std::size_t turn = 0;
  while (!stopping_) {
    next += period;
    std::this_thread::sleep_until(next);
    std::size_t i = turn++ % fifos_.size();
    int& fd = fds_[i];
    if (fd < 0) {
      // Opening for writing without a reader fails (ENXIO): the terminal is down right now.
      fd = ::open(fifos_[i].c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
      if (fd < 0) {
        ++skipped_;
        continue;
      }
    }
    std::string line = "press " + std::to_string(button(rng)) + "\n";
    ssize_t w = ::write(fd, line.data(), line.size());
    if (w == static_cast<ssize_t>(line.size())) {
      ++written_;
    } else {
      ++skipped_;
      if (w < 0 && errno != EAGAIN) {
        ::close(fd);  // EPIPE: the terminal died; reopen once it is back
        fd = -1;
      }
    }
  }
}

}  // namespace kiosk::faults
