// API token file: created exclusively with mode 0600 on first start, read on every later start.
#include "kiosk/hub/access_token.hpp"
#include "kiosk/hub/random_hex.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

#include <boost/algorithm/string/predicate.hpp>
#include <boost/asio/ip/address.hpp>

namespace kiosk::hub {
namespace {

std::string read_token(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read token file " + path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\r' || token.back() == ' ')) token.pop_back();
  if (token.size() < 16) throw std::runtime_error("token file " + path + " holds no usable token; delete it to make a new one");
  return token;
}

}  // namespace

std::string load_or_create_token(const std::string& path) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return read_token(path);
    throw std::runtime_error("cannot create token file " + path + ": " + std::strerror(errno));
  }
  std::string token = random_hex(32);
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) {
    ::unlink(path.c_str());
    throw std::runtime_error("cannot write token file " + path);
  }
  return token;
}

std::optional<std::string_view> bearer_token(std::string_view header) {
  // The scheme name is case-insensitive (RFC 9110 11.1): "bearer x" is as good as "Bearer x".
  constexpr std::string_view prefix = "bearer ";
  if (header.size() < prefix.size()) return std::nullopt;
  for (std::size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(header[i])) != prefix[i]) return std::nullopt;
  return header.substr(prefix.size());
}

bool bearer_matches(std::string_view header, std::string_view token) {
  const auto given = bearer_token(header);
  if (!given || token.empty()) return false;
  unsigned char diff = given->size() == token.size() ? 0 : 1;
  for (std::size_t i = 0; i < token.size(); ++i)
    diff |= static_cast<unsigned char>(token[i] ^ (i < given->size() ? (*given)[i] : 0));
  return diff == 0;
}

bool host_is_ours(std::string_view host, const std::vector<std::string>& names) {
  if (host.empty()) return true;
  if (host.front() == '[') {  // [v6 address]:port
    const auto close = host.find(']');
    if (close == std::string_view::npos) return false;
    boost::system::error_code ec;
    boost::asio::ip::make_address_v6(std::string(host.substr(1, close - 1)), ec);
    return !ec;
  }
  boost::system::error_code ec;
  boost::asio::ip::make_address_v6(std::string(host), ec);  // a bare IPv6 address is no DNS name
  if (!ec) return true;
  const auto colon = host.rfind(':');
  auto name = host.substr(0, colon);
  if (colon != std::string_view::npos) {
    const auto port = host.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string_view::npos) return false;
  }
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  boost::asio::ip::make_address_v4(std::string(name), ec);
  if (!ec || boost::algorithm::iequals(name, "localhost")) return true;
  return std::any_of(names.begin(), names.end(), [&](const std::string& n) { return boost::algorithm::iequals(n, name); });
}

}  // namespace kiosk::hub
