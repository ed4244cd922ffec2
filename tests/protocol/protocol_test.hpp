// Helpers shared by the protocol tests: reading the vectors in protocol/vectors and naming results.
#pragma once

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "kiosk/protocol/protocol.hpp"

namespace kiosk::protocol::testing {

// The parsed JSON document protocol/vectors/<file>; throws (failing the test) when unreadable.
inline boost::json::value load_vectors(std::string_view file) {
  const std::string path = std::string(KIOSK_SOURCE_DIR) + "/protocol/vectors/" + std::string(file);
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open " + path);
  std::stringstream text;
  text << in.rdbuf();
  return boost::json::parse(text.str());
}

inline std::string str(const boost::json::value& v) {
  const boost::json::string& s = v.as_string();
  return std::string(s.data(), s.size());
}

// "ok" for a value, else the error message: lets a CHECK show the actual outcome on failure.
template <class T>
std::string outcome(const Result<T>& r) {
  return r.ok() ? std::string("ok") : r.error().message();
}

// A JSON object as text from a map of already-serialized members, in the given order.
inline std::string object_with(std::initializer_list<std::pair<std::string_view, std::string_view>> members) {
  std::string out = "{";
  for (const auto& [k, v] : members) {
    if (out.size() > 1) out += ',';
    out += '"';
    out += k;
    out += "\":";
    out += v;
  }
  return out + "}";
}

}  // namespace kiosk::protocol::testing
