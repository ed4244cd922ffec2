// libFuzzer target: parse_time never crashes and format_time is its exact inverse on what it accepts.
#include "fuzz_round_trip.hpp"

using namespace kiosk::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  const Result<WallTime> t = parse_time(input);
  if (!t) {
    if (t.error().reason.empty()) fuzz::fail("time error without a reason", input, t.error().field);
    return 0;
  }
  const std::string text = format_time(*t);
  if (text != input) fuzz::fail("format_time differs from the parsed text", input, text);
  // Any instant of the accepted years also survives format -> parse, not only the fuzzed one.
  if (size >= 8) {
    std::uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | data[i];
    const std::int64_t ms = t->time_since_epoch().count() + static_cast<std::int64_t>(bits % 86'400'000);
    const WallTime shifted{std::chrono::milliseconds{ms}};
    const Result<WallTime> back = parse_time(format_time(shifted));
    if (back && *back != shifted) fuzz::fail("format_time/parse_time disagree", input, format_time(shifted));
  }
  return 0;
}
