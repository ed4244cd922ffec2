// Log lines to stderr, one fwrite each so lines from Paho threads and the io thread do not interleave.
#include "kiosk/hub/log.hpp"

#include <cstdio>

namespace kiosk::hub {

LogLevel parse_log_level(std::string_view text) {
  if (text == "debug") return LogLevel::debug;
  if (text == "warn") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  return LogLevel::info;
}

void Log::write(LogLevel level, std::string_view component, std::string_view message) const {
  if (!enabled(level)) return;
  static constexpr const char* names[] = {"debug", "info", "warn", "error"};
  std::string line;
  line.reserve(component.size() + message.size() + 16);
  line += names[static_cast<int>(level)];
  line += ' ';
  line += component;
  line += ": ";
  for (char c : message) line += (c == '\n' || c == '\r') ? ' ' : c;
  line += '\n';
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace kiosk::hub
