// Where the LED level goes: GPIO output lines, or log lines in simulation.
#pragma once

#include <memory>
#include <vector>

#include "kiosk/firmware/board.hpp"
#include "kiosk/firmware/led_signal.hpp"
#include "kiosk/firmware/log.hpp"

namespace gpiod {
class chip;
class line;
}  // namespace gpiod

namespace kiosk::firmware {

class Leds {
 public:
  virtual ~Leds() = default;
  // Called whenever the pattern or the level changes; every LED of the board shows it.
  virtual void show(LedMode mode, bool lit) = 0;
};

// Simulation: logs each change of pattern at debug level, and the level changes of the refused
// pattern (its blinks); other levels change too often to log.
class LogLeds : public Leds {
 public:
  explicit LogLeds(Log& log) : log_(log) {}
  void show(LedMode mode, bool lit) override;

 private:
  Log& log_;
  LedMode last_ = LedMode::idle;
  bool last_lit_ = false;
};

class GpiodLeds : public Leds {
 public:
  explicit GpiodLeds(const Board& board);  // throws on failure
  ~GpiodLeds() override;
  void show(LedMode mode, bool lit) override;

 private:
  std::unique_ptr<gpiod::chip> chip_;
  std::vector<gpiod::line> lines_;
  int last_ = -1;
};

}  // namespace kiosk::firmware
