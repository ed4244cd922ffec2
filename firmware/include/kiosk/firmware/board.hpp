// Board definitions (boards/<name>.json): which GPIO chip and lines are the buttons and LEDs.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/protocol/result.hpp"

namespace kiosk::firmware {

enum class Bias { as_is, disable, pull_up, pull_down };

struct BoardLine {
  unsigned offset = 0;      // line offset on the chip (ignored on a simulated board)
  bool active_low = false;  // true: the line reads 0 while the button is pressed / lights the LED at 0
  Bias bias = Bias::as_is;
  std::string label;        // e.g. "very unhappy"
  friend bool operator==(const BoardLine&, const BoardLine&) = default;
};

struct Board {
  std::string name;
  std::string description;
  std::string chip;  // e.g. "gpiochip0"; empty: simulated board
  std::vector<BoardLine> buttons;
  std::vector<BoardLine> leds;
  bool simulated() const { return chip.empty(); }
  friend bool operator==(const Board&, const Board&) = default;
};

// Strict: unknown keys, missing buttons, duplicate offsets are errors naming the field.
protocol::Result<Board> parse_board(std::string_view json);
// Reads <dir>/<name>.json; the file's "name" must match.
protocol::Result<Board> load_board(const std::filesystem::path& dir, std::string_view name);

}  // namespace kiosk::firmware
