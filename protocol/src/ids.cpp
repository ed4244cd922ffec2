// Identifier rules shared by site, device, location, manager and alert ids.
#include "kiosk/protocol/ids.hpp"

#include "text.hpp"

namespace kiosk::protocol {

namespace detail {

std::string quote(std::string_view text) {
  constexpr std::size_t kShown = 64;
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "\"";
  const std::size_t n = text.size() < kShown ? text.size() : kShown;
  for (std::size_t i = 0; i < n; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    }
  }
  if (text.size() > kShown) out += "...";
  out += '"';
  return out;
}

std::string id_problem(std::string_view id) {
  return quote(id) +
         " is not a valid identifier (1-63 of a-z, 0-9, '-', starting with a letter or digit)";
}

}  // namespace detail

bool is_valid_id(std::string_view id) {
  if (id.empty() || id.size() > kMaxIdLength || id.front() == '-') return false;
  for (const char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<Error> check_id(std::string_view field, std::string_view id) {
  if (is_valid_id(id)) return std::nullopt;
  return Error{std::string(field), detail::id_problem(id)};
}

}  // namespace kiosk::protocol
