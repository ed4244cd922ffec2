// Line-buffered log writer: each event is one fputs + flush so harnesses can count lines.
#include "kiosk/firmware/log.hpp"

namespace kiosk::firmware {

void Log::write(LogLevel level, std::string_view component, const std::string& message) {
  if (!enabled(level)) return;
  static constexpr const char* kNames[] = {"debug", "info", "warn", "error"};
  std::string line = kNames[static_cast<int>(level)];
  line += ' ';
  line += component;
  line += ": ";
  line += message;
  line += '\n';
  std::fputs(line.c_str(), out_);
  std::fflush(out_);
}

}  // namespace kiosk::firmware
