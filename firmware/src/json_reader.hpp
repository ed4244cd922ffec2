// Strict reading of JSON files (board, device file): typed fields, unknown keys rejected.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include "kiosk/protocol/result.hpp"

namespace kiosk::firmware::json_reader {

inline protocol::Error error(const std::string& field, const std::string& reason) {
  return protocol::Error{field, reason};
}

inline protocol::Result<boost::json::value> parse(std::string_view text, const std::string& what) {
  boost::system::error_code ec;
  auto v = boost::json::parse(text, ec);
  if (ec) return error(what, "not valid JSON (" + ec.message() + ")");
  return v;
}

// nullopt if every key is allowed, else an error naming the first unknown key.
inline std::optional<protocol::Error> unknown_key(const boost::json::object& o, const std::string& where,
                                                  std::initializer_list<std::string_view> allowed) {
  for (const auto& kv : o) {
    bool ok = false;
    for (auto a : allowed) ok = ok || kv.key() == a;
    if (!ok) return error(where + "." + std::string(kv.key()), "unknown key (typo?)");
  }
  return std::nullopt;
}

// Each reader: nullopt = absent; error = wrong type; else sets `out`.
inline std::optional<protocol::Error> read(const boost::json::object& o, const std::string& where,
                                           std::string_view key, std::string& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) return error(where + "." + std::string(key), "must be a string");
  out = std::string(v->as_string());
  return std::nullopt;
}

inline std::optional<protocol::Error> read(const boost::json::object& o, const std::string& where,
                                           std::string_view key, bool& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_bool()) return error(where + "." + std::string(key), "must be true or false");
  out = v->as_bool();
  return std::nullopt;
}

inline std::optional<protocol::Error> read_int(const boost::json::object& o, const std::string& where,
                                               std::string_view key, std::int64_t lo, std::int64_t hi,
                                               std::int64_t& out) {
  auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  std::int64_t n = 0;
  if (v->is_int64()) {
    n = v->as_int64();
  } else if (v->is_uint64() && v->as_uint64() <= static_cast<std::uint64_t>(INT64_MAX)) {
    n = static_cast<std::int64_t>(v->as_uint64());
  } else {
    return error(where + "." + std::string(key), "must be an integer");
  }
  if (n < lo || n > hi) {
    return error(where + "." + std::string(key),
                 std::to_string(n) + " is outside " + std::to_string(lo) + ".." + std::to_string(hi));
  }
  out = n;
  return std::nullopt;
}

}  // namespace kiosk::firmware::json_reader
