// One line per event, level and component first: "info press: seq=12 button=0 rating=1".
#pragma once

#include <cstdio>
#include <string>
#include <string_view>

#include "kiosk/firmware/device_config.hpp"

namespace kiosk::firmware {

class Log {
 public:
  explicit Log(LogLevel level, std::FILE* out = stderr) : level_(level), out_(out) {}
  void set_level(LogLevel level) { level_ = level; }
  bool enabled(LogLevel level) const { return level >= level_; }

  void debug(std::string_view component, const std::string& message) { write(LogLevel::debug, component, message); }
  void info(std::string_view component, const std::string& message) { write(LogLevel::info, component, message); }
  void warn(std::string_view component, const std::string& message) { write(LogLevel::warn, component, message); }
  void error(std::string_view component, const std::string& message) { write(LogLevel::error, component, message); }

 private:
  void write(LogLevel level, std::string_view component, const std::string& message);

  LogLevel level_;
  std::FILE* out_;
};

}  // namespace kiosk::firmware
