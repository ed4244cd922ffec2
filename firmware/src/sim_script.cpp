// Parsing and scheduling of simulated-input lines.
#include "kiosk/firmware/sim_script.hpp"

#include <algorithm>
#include <charconv>

namespace kiosk::firmware {
namespace {

// Built by appending: g++ 12 -O2 warns falsely (-Wrestrict) on "literal" + std::string.
std::string quoted(std::string_view text) {
  std::string s;
  s += '"';
  s += text;
  s += '"';
  return s;
}

}  // namespace

std::optional<protocol::Error> SimScript::line(std::string_view text, TimePoint now) {
  while (!text.empty() && (text.back() == '\r' || text.back() == '\n' || text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  if (text.empty()) return std::nullopt;
  auto space = text.find(' ');
  if (space == std::string_view::npos) return protocol::Error{"sim", quoted(text) + ": expected <command> <button>"};
  auto command = text.substr(0, space);
  auto arg = text.substr(space + 1);
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  int button = -1;
  auto [p, ec] = std::from_chars(arg.data(), arg.data() + arg.size(), button);
  if (ec != std::errc{} || p != arg.data() + arg.size() || button < 0 || button >= buttons_) {
    return protocol::Error{"sim", quoted(text) + ": button must be 0.." + std::to_string(buttons_ - 1)};
  }
  auto& free_at = free_at_[static_cast<std::size_t>(button)];
  TimePoint start = std::max(now, free_at);
  if (command == "press") {
    schedule(button, true, start);
    schedule(button, false, start + kHold);
    free_at = start + kHold + settle_;
  } else if (command == "bounce") {
    // Contact chatter: five edges 1 ms apart, then held down, released 50 ms later.
    for (int i = 0; i < 5; ++i) schedule(button, i % 2 == 0, start + Millis{i});
    schedule(button, true, start + Millis{5});
    schedule(button, false, start + Millis{5} + kHold);
    free_at = start + Millis{5} + kHold + settle_;
  } else if (command == "down") {
    schedule(button, true, start);
    free_at = start;
  } else if (command == "up") {
    schedule(button, false, start);
    free_at = start;
  } else {
    return protocol::Error{"sim", quoted(text) + ": unknown command (press, down, up, bounce)"};
  }
  return std::nullopt;
}

void SimScript::schedule(int button, bool pressed, TimePoint at) {
  auto pos = std::upper_bound(queue_.begin(), queue_.end(), at,
                              [](TimePoint t, const ButtonEdge& e) { return t < e.at; });
  queue_.insert(pos, ButtonEdge{button, pressed, at});
}

std::vector<ButtonEdge> SimScript::take(TimePoint now) {
  std::vector<ButtonEdge> out;
  while (!queue_.empty() && queue_.front().at <= now) {
    out.push_back(queue_.front());
    queue_.pop_front();
  }
  return out;
}

std::optional<TimePoint> SimScript::next_deadline() const {
  if (queue_.empty()) return std::nullopt;
  return queue_.front().at;
}

}  // namespace kiosk::firmware
