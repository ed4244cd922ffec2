// Managers' own HTTP API tokens: a manager's token reads and acknowledges alerts as that manager,
// nothing else (the hub's token does everything, and acks under any name it is given). Kept as
// SHA-256 digests in the hub's database (a copy of the database gives no usable token) and in
// memory for the lookup on every request.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/hub/sqlite_store.hpp"

namespace kiosk::hub {

// Lower-case hex SHA-256 of `text`.
std::string sha256_hex(std::string_view text);

class ManagerTokens {
 public:
  // Loads the site's tokens; throws StoreError when the table cannot be read (startup boundary).
  ManagerTokens(Database& db, std::string site);

  // A new token for `manager`, replacing its previous one (which stops working at once).
  // Returns the token (shown once) or an error when the database refuses the write.
  struct Issued {
    std::optional<std::string> token;
    std::optional<std::string> error;
    bool replaced = false;  // the manager had a token, which no longer works
  };
  Issued issue(const std::string& manager, std::int64_t now_ms);
  // Removes the manager's token; whether it had one, or an error.
  struct Revoked {
    bool had_token = false;
    std::optional<std::string> error;
  };
  Revoked revoke(const std::string& manager);

  // The manager whose token is the bearer token of `authorization_header`, if any.
  std::optional<std::string> manager_for(std::string_view authorization_header) const;
  bool has_token(const std::string& manager) const { return by_manager_.count(manager) > 0; }
  std::vector<std::string> managers() const;

 private:
  Database& db_;
  std::string site_;
  std::map<std::string, std::string> by_digest_;   // digest -> manager
  std::map<std::string, std::string> by_manager_;  // manager -> digest
};

}  // namespace kiosk::hub
