// One line per event on stderr: "<level> <component>: <message>". No secrets go through here.
#pragma once

#include <string>
#include <string_view>

namespace kiosk::hub {

enum class LogLevel { debug, info, warn, error };
LogLevel parse_log_level(std::string_view text);  // unknown text -> info

class Log {
 public:
  explicit Log(LogLevel min = LogLevel::info) : min_(min) {}
  bool enabled(LogLevel level) const { return level >= min_; }
  void write(LogLevel level, std::string_view component, std::string_view message) const;
  void debug(std::string_view c, std::string_view m) const { write(LogLevel::debug, c, m); }
  void info(std::string_view c, std::string_view m) const { write(LogLevel::info, c, m); }
  void warn(std::string_view c, std::string_view m) const { write(LogLevel::warn, c, m); }
  void error(std::string_view c, std::string_view m) const { write(LogLevel::error, c, m); }

 private:
  LogLevel min_;
};

}  // namespace kiosk::hub
