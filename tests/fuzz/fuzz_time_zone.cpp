// libFuzzer target: TZif files and POSIX TZ rules never crash the hub, and a zone they give maps
// every instant to a local time that maps back to the same instant (or to the repeated hour's
// first pass).
#include "fuzz_round_trip.hpp"

#include "kiosk/hub/time_zone.hpp"

using namespace kiosk::hub;
using namespace kiosk::protocol;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input = fuzz::as_text(data, size);
  for (auto zone : {TimeZone::from_tzif("fuzz", input), TimeZone::from_posix(input)}) {
    if (!zone) {
      if (zone.error().reason.empty()) fuzz::fail("time zone error without a reason", input, zone.error().field);
      continue;
    }
    // Instants from 1900 to 2500, spread by the input.
    std::uint64_t bits = 0;
    for (std::size_t i = 0; i < size && i < 8; ++i) bits = (bits << 8) | data[i];
    for (int k = 0; k < 16; ++k) {
      const auto s = -2'208'988'800LL + static_cast<std::int64_t>((bits + 7919ULL * k * k) % 18'934'000'000ULL);
      const WallTime t{std::chrono::seconds{s}};
      const auto local = zone->local(t);
      const auto back = zone->from_local(local);
      if (back > t || zone->local(back) != local) fuzz::fail("from_local does not invert local", input, format_time(t));
      if (const auto next = zone->next_change(t); next && *next <= t)
        fuzz::fail("next_change is not after the instant", input, format_time(t));
    }
  }
  return 0;
}
