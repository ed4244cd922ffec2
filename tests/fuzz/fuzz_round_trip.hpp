// Shared libFuzzer check: a parser never crashes, errors always say something, and every value it
// accepts serializes to JSON that parses back to an equal value with the same canonical text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>

#include "kiosk/protocol/protocol.hpp"

namespace kiosk::protocol::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

[[noreturn]] inline void fail(const char* what, std::string_view input, std::string_view detail) {
  std::fprintf(stderr, "kiosk fuzz: %s\n  input:  %.*s\n  detail: %.*s\n", what, static_cast<int>(input.size()),
               input.data(), static_cast<int>(detail.size()), detail.data());
  __builtin_trap();
}

template <class T>
void check_round_trip(std::string_view input, Result<T> (*parse)(std::string_view)) {
  const Result<T> first = parse(input);
  if (!first) {
    if (first.error().reason.empty()) fail("error without a reason", input, first.error().field);
    return;
  }
  const std::string json = to_json(*first);
  const Result<T> second = parse(json);
  if (!second) fail("to_json output does not parse", input, json + " -> " + second.error().message());
  if (!(*second == *first)) fail("to_json output parses to a different value", input, json);
  if (to_json(*second) != json) fail("canonical JSON is not stable", input, json + " vs " + to_json(*second));
}

}  // namespace kiosk::protocol::fuzz
