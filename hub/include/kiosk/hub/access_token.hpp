// The API bearer token: created once (random, 32 bytes as hex) in a file readable only by the hub's user.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiosk::hub {

// Reads the token, or creates the file with O_CREAT|O_EXCL and mode 0600 if it does not exist.
// Throws std::runtime_error when neither works.
std::string load_or_create_token(const std::string& path);

// The token of an "Authorization: Bearer <token>" header (the scheme in any case), if it is one.
std::optional<std::string_view> bearer_token(std::string_view authorization_header);

// "Bearer <token>" matches, compared in constant time.
bool bearer_matches(std::string_view authorization_header, std::string_view token);

// Whether a request without the token was sent to one of the hub's own names: an IP address,
// "localhost", or one of `names` (case-insensitive; a port and a trailing dot are ignored). A web
// page that re-points its own DNS name at the hub (DNS rebinding) sends its name, not these.
// No Host header at all (HTTP/1.0 tools) passes: browsers always send one.
bool host_is_ours(std::string_view host_header, const std::vector<std::string>& names);

}  // namespace kiosk::hub
