// The guests: a thread that writes "press <button>" lines into the terminals' simulated-input
// FIFOs at a steady total rate, round robin, skipping a terminal that is down at that moment.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <thread>
#include <vector>

namespace kiosk::faults {

class Presser {
 public:
  Presser(std::vector<std::filesystem::path> fifos, double presses_per_s, int buttons, std::uint64_t seed);
  ~Presser();  // stops
  Presser(const Presser&) = delete;
  Presser& operator=(const Presser&) = delete;

  void stop();
  std::uint64_t written() const { return written_; }  // lines delivered into a FIFO with a reader
  std::uint64_t skipped() const { return skipped_; }  // presses on a terminal that was down

 private:
  void run(std::uint64_t seed);
  std::vector<std::filesystem::path> fifos_;
  std::vector<int> fds_;
  double rate_;
  int buttons_;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> skipped_{0};
  std::thread thread_;
};

}  // namespace kiosk::faults
