// Managers' HTTP API tokens, as SHA-256 digests in the table manager_tokens (migration 9).
#include "kiosk/hub/manager_tokens.hpp"

#include <openssl/evp.h>

#include <stdexcept>

#include "kiosk/hub/access_token.hpp"
#include "kiosk/hub/random_hex.hpp"

namespace kiosk::hub {

std::string sha256_hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(text.data(), text.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("SHA-256 is not available (OpenSSL)");
  return to_hex(std::string_view(reinterpret_cast<const char*>(digest), size));
}

ManagerTokens::ManagerTokens(Database& db, std::string site) : db_(db), site_(std::move(site)) {
  Statement s(db_, "SELECT manager, token_sha256 FROM manager_tokens WHERE site = ?");
  s.bind(1, site_);
  while (s.step()) {
    by_manager_[s.column_text(0)] = s.column_text(1);
    by_digest_[s.column_text(1)] = s.column_text(0);
  }
  if (s.failed()) throw StoreError("cannot read the managers' API tokens: " + db_.last_error());
}

ManagerTokens::Issued ManagerTokens::issue(const std::string& manager, std::int64_t now_ms) {
  std::string token = random_hex(32);
  std::string digest = sha256_hex(token);
  Statement s(db_,
              "INSERT INTO manager_tokens (site, manager, token_sha256, issued_at_ms) VALUES (?,?,?,?) "
              "ON CONFLICT (site, manager) DO UPDATE SET token_sha256 = excluded.token_sha256, "
              "issued_at_ms = excluded.issued_at_ms");
  s.bind(1, site_).bind(2, manager).bind(3, digest).bind(4, now_ms);
  s.step();
  if (s.failed()) return {std::nullopt, "save the manager's API token: " + db_.last_error()};
  bool replaced = false;
  if (auto old = by_manager_.find(manager); old != by_manager_.end()) {
    by_digest_.erase(old->second);
    replaced = true;
  }
  by_manager_[manager] = digest;
  by_digest_[digest] = manager;
  return {std::move(token), std::nullopt, replaced};
}

ManagerTokens::Revoked ManagerTokens::revoke(const std::string& manager) {
  auto it = by_manager_.find(manager);
  if (it == by_manager_.end()) return {};
  Statement s(db_, "DELETE FROM manager_tokens WHERE site = ? AND manager = ?");
  s.bind(1, site_).bind(2, manager);
  s.step();
  if (s.failed()) return {true, "remove the manager's API token: " + db_.last_error()};
  by_digest_.erase(it->second);
  by_manager_.erase(it);
  return {true, std::nullopt};
}

std::optional<std::string> ManagerTokens::manager_for(std::string_view authorization_header) const {
  const auto token = bearer_token(authorization_header);
  if (!token || token->empty() || by_digest_.empty()) return std::nullopt;
  // Looked up by digest: the time the lookup takes says nothing about the token's bytes.
  auto it = by_digest_.find(sha256_hex(*token));
  if (it == by_digest_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> ManagerTokens::managers() const {
  std::vector<std::string> out;
  for (const auto& [manager, digest] : by_manager_) out.push_back(manager);
  return out;
}

}  // namespace kiosk::hub
