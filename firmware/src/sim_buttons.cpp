// FIFO adapter for the simulated-input protocol.
#include "kiosk/firmware/sim_buttons.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace kiosk::firmware {

SimButtons::SimButtons(const std::filesystem::path& fifo, int buttons, Millis settle, Log& log)
    : path_(fifo), log_(log), script_(buttons, settle) {
  struct stat st {};
  if (::stat(path_.c_str(), &st) == 0) {
    if (!S_ISFIFO(st.st_mode)) throw std::runtime_error(path_.string() + " exists and is not a FIFO");
  } else if (::mkfifo(path_.c_str(), 0660) != 0) {
    throw std::runtime_error("cannot create FIFO " + path_.string() + ": " + std::strerror(errno));
  }
  open_fifo();
}

SimButtons::~SimButtons() {
  if (read_fd_ >= 0) ::close(read_fd_);
  if (keep_fd_ >= 0) ::close(keep_fd_);
}

void SimButtons::open_fifo() {
  if (read_fd_ >= 0) ::close(read_fd_);
  read_fd_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (read_fd_ < 0) throw std::runtime_error("cannot open FIFO " + path_.string() + ": " + std::strerror(errno));
  if (keep_fd_ < 0) keep_fd_ = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
}

void SimButtons::on_readable(int, TimePoint now) {
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(read_fd_, buf, sizeof buf);
    if (n > 0) {
      partial_.append(buf, static_cast<std::size_t>(n));
      continue;
    }
    if (n == 0) {
      // Every writer went away (only if our own writer could not be opened): start over.
      open_fifo();
    } else if (errno == EINTR) {
      continue;
    } else if (errno != EAGAIN) {
      log_.error("sim", std::string("read failed: ") + std::strerror(errno));
    }
    break;
  }
  std::size_t start = 0;
  for (auto nl = partial_.find('\n'); nl != std::string::npos; nl = partial_.find('\n', start)) {
    auto line = std::string_view(partial_).substr(start, nl - start);
    if (auto e = script_.line(line, now)) log_.error("sim", e->reason + " (ignored)");
    start = nl + 1;
  }
  partial_.erase(0, start);
  if (partial_.size() > 4096) partial_.clear();  // a line that long is garbage, not a command
}

}  // namespace kiosk::firmware
