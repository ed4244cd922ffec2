// Internal: how the protocol quotes untrusted text inside error reasons (bounded, printable).
#pragma once

#include <string>
#include <string_view>

namespace kiosk::protocol::detail {

// "Front Desk" with quotes; non-printable bytes as \xNN; long text cut after 64 bytes with "...",
// so an error built from a hostile payload stays one short, printable line.
std::string quote(std::string_view text);

// The reason check_id gives, without the field: "\"Front Desk\" is not a valid identifier (...)".
std::string id_problem(std::string_view id);

}  // namespace kiosk::protocol::detail
