// The API bearer token: created once (random, 32 bytes as hex) in a file readable only by the hub's user.
#pragma once

#include <string>
#include <string_view>

namespace kiosk::hub {

// Reads the token, or creates the file with O_CREAT|O_EXCL and mode 0600 if it does not exist.
// Throws std::runtime_error when neither works.
std::string load_or_create_token(const std::string& path);

// "Bearer <token>" matches, compared in constant time.
bool bearer_matches(std::string_view authorization_header, std::string_view token);

}  // namespace kiosk::hub
