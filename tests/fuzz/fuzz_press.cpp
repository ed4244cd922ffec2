// libFuzzer target: parse_press never crashes and what it accepts round-trips through to_json.
#include "fuzz_round_trip.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  kiosk::protocol::fuzz::check_round_trip(kiosk::protocol::fuzz::as_text(data, size), &kiosk::protocol::parse_press);
  return 0;
}
