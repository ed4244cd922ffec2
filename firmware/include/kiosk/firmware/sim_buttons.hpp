// Simulated buttons driven by text lines on a FIFO, for machines without GPIO and for tests.
#pragma once

#include <filesystem>
#include <functional>
#include <string>

#include "kiosk/firmware/button_input.hpp"
#include "kiosk/firmware/log.hpp"
#include "kiosk/firmware/sim_script.hpp"

namespace kiosk::firmware {

class SimButtons : public ButtonInput {
 public:
  // Creates the FIFO if missing; throws std::runtime_error if the path is unusable.
  SimButtons(const std::filesystem::path& fifo, int buttons, Millis settle, Log& log);
  ~SimButtons() override;
  SimButtons(const SimButtons&) = delete;
  SimButtons& operator=(const SimButtons&) = delete;

  void set_settle(Millis settle) { script_.set_settle(settle); }

  std::vector<int> fds() const override { return {read_fd_}; }
  void on_readable(int fd, TimePoint now) override;
  std::vector<ButtonEdge> take(TimePoint now) override { return script_.take(now); }
  std::optional<TimePoint> next_deadline() const override { return script_.next_deadline(); }

 private:
  void open_fifo();

  std::filesystem::path path_;
  Log& log_;
  SimScript script_;
  int read_fd_ = -1;
  int keep_fd_ = -1;  // our own writer: the FIFO never reports EOF as writers come and go
  std::string partial_;
};

}  // namespace kiosk::firmware
