// Random bytes from the kernel (getrandom), as lower-case hex: tokens and per-run tags.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace kiosk::hub {

// `bytes` random bytes as 2 x bytes hex digits. Waits for the kernel's pool at early boot rather
// than hand out guessable values; throws std::runtime_error if the kernel refuses.
std::string random_hex(std::size_t bytes);

// `bytes` as lower-case hex, two digits each (a digest, random bytes).
std::string to_hex(std::string_view bytes);

}  // namespace kiosk::hub
