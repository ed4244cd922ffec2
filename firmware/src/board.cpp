// Loads and checks board definition files.
#include "kiosk/firmware/board.hpp"

#include <fstream>
#include <set>
#include <sstream>

#include "json_reader.hpp"

namespace kiosk::firmware {
namespace jr = json_reader;
namespace {

protocol::Result<BoardLine> parse_line(const boost::json::value& v, const std::string& where) {
  if (!v.is_object()) return jr::error(where, "must be an object");
  const auto& o = v.as_object();
  if (auto e = jr::unknown_key(o, where, {"line", "active_low", "bias", "label"})) return *e;
  BoardLine line;
  std::int64_t offset = 0;
  if (auto e = jr::read_int(o, where, "line", 0, 1023, offset)) return *e;
  line.offset = static_cast<unsigned>(offset);
  if (auto e = jr::read(o, where, "active_low", line.active_low)) return *e;
  if (auto e = jr::read(o, where, "label", line.label)) return *e;
  std::string bias = "as-is";
  if (auto e = jr::read(o, where, "bias", bias)) return *e;
  if (bias == "as-is") line.bias = Bias::as_is;
  else if (bias == "disable") line.bias = Bias::disable;
  else if (bias == "pull-up") line.bias = Bias::pull_up;
  else if (bias == "pull-down") line.bias = Bias::pull_down;
  else return jr::error(where + ".bias", "\"" + bias + "\" is not one of as-is, disable, pull-up, pull-down");
  return line;
}

protocol::Result<std::vector<BoardLine>> parse_lines(const boost::json::object& o, const std::string& key,
                                                     bool required, bool on_chip) {
  std::string where = "board." + key;
  auto* v = o.if_contains(key);
  if (!v) {
    if (required) return jr::error(where, "is required");
    return std::vector<BoardLine>{};
  }
  if (!v->is_array()) return jr::error(where, "must be an array");
  std::vector<BoardLine> lines;
  for (std::size_t i = 0; i < v->as_array().size(); ++i) {
    auto where_i = where + "[" + std::to_string(i) + "]";
    const auto& item = v->as_array()[i];
    if (on_chip && item.is_object() && !item.as_object().contains("line")) {
      return jr::error(where_i + ".line", "is required on a board with a GPIO chip");
    }
    auto line = parse_line(item, where_i);
    if (!line) return line.error();
    lines.push_back(*line);
  }
  return lines;
}

}  // namespace

protocol::Result<Board> parse_board(std::string_view json) {
  auto parsed = jr::parse(json, "board");
  if (!parsed) return parsed.error();
  if (!parsed->is_object()) return jr::error("board", "must be a JSON object");
  const auto& o = parsed->as_object();
  if (auto e = jr::unknown_key(o, "board", {"name", "description", "chip", "buttons", "leds"})) return *e;
  Board b;
  if (auto e = jr::read(o, "board", "name", b.name)) return *e;
  if (b.name.empty()) return jr::error("board.name", "is required");
  if (auto e = jr::read(o, "board", "description", b.description)) return *e;
  if (auto e = jr::read(o, "board", "chip", b.chip)) return *e;
  auto buttons = parse_lines(o, "buttons", true, !b.chip.empty());
  if (!buttons) return buttons.error();
  b.buttons = std::move(*buttons);
  if (b.buttons.empty() || b.buttons.size() > 64) return jr::error("board.buttons", "must list 1..64 buttons");
  auto leds = parse_lines(o, "leds", false, !b.chip.empty());
  if (!leds) return leds.error();
  b.leds = std::move(*leds);
  if (!b.simulated()) {
    std::set<unsigned> used;
    for (const auto* group : {&b.buttons, &b.leds}) {
      for (const auto& line : *group) {
        if (!used.insert(line.offset).second) {
          return jr::error("board", "line " + std::to_string(line.offset) + " is used twice");
        }
      }
    }
  }
  return b;
}

protocol::Result<Board> load_board(const std::filesystem::path& dir, std::string_view name) {
  auto path = dir / (std::string(name) + ".json");
  std::ifstream in(path);
  if (!in) return jr::error("board", "cannot read " + path.string() + " (check --board and --boards-dir)");
  std::stringstream text;
  text << in.rdbuf();
  auto board = parse_board(text.str());
  if (!board) return protocol::Error{board.error().field, board.error().reason + " in " + path.string()};
  if (board->name != name) {
    return jr::error("board.name", "\"" + board->name + "\" does not match the file name " + path.string());
  }
  return board;
}

}  // namespace kiosk::firmware
