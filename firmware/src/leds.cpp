// LED adapters: libgpiod output lines and a log-only stand-in.
#include "kiosk/firmware/leds.hpp"

#include <gpiod.hpp>

namespace kiosk::firmware {
namespace {

const char* name(LedMode mode) {
  switch (mode) {
    case LedMode::idle: return "idle";
    case LedMode::thanks: return "thanks";
    case LedMode::refused: return "refused";
    case LedMode::offline: return "offline";
  }
  return "?";
}

}  // namespace

void LogLeds::show(LedMode mode, bool lit) {
  if (mode != last_) {
    last_ = mode;
    last_lit_ = lit;
    log_.debug("led", std::string("pattern=") + name(mode));
    return;
  }
  // The refused blinks are what tells a guest the press was not taken, so they are logged; the
  // offline blip repeats every 2 s for as long as the broker is away.
  if (mode != LedMode::refused || lit == last_lit_) return;
  last_lit_ = lit;
  log_.debug("led", std::string("level=") + (lit ? "on" : "off"));
}

GpiodLeds::GpiodLeds(const Board& board) : chip_(std::make_unique<gpiod::chip>(board.chip)) {
  for (const auto& l : board.leds) {
    auto line = chip_->get_line(l.offset);
    std::bitset<32> flags;
    if (l.active_low) flags |= gpiod::line_request::FLAG_ACTIVE_LOW;
    line.request({"kiosk-firmware", gpiod::line_request::DIRECTION_OUTPUT, flags}, 0);
    lines_.push_back(line);
  }
}

GpiodLeds::~GpiodLeds() {
  for (auto& line : lines_) {
    if (line.is_requested()) {
      line.set_value(0);
      line.release();
    }
  }
}

void GpiodLeds::show(LedMode, bool lit) {
  if (static_cast<int>(lit) == last_) return;
  last_ = lit ? 1 : 0;
  for (auto& line : lines_) line.set_value(last_);
}

}  // namespace kiosk::firmware
