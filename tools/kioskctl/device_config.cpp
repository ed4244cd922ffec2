// Device config JSON and its 0600 file: the only place a device's broker password is ever written.
#include "device_config.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <random>
#include <stdexcept>

#include <boost/json.hpp>

namespace kiosk::ctl {
namespace json = boost::json;

std::string to_json(const DeviceConfigFile& c) {
  json::object o{{"site", c.site}, {"device", c.device}, {"broker", c.broker}};
  if (c.username) o["username"] = *c.username;
  if (c.password) o["password"] = *c.password;
  if (c.tls_ca || c.tls_cert || c.tls_key || c.tls_verify_host) {
    json::object tls;
    if (c.tls_ca) tls["ca"] = *c.tls_ca;
    if (c.tls_cert) tls["cert"] = *c.tls_cert;
    if (c.tls_key) tls["key"] = *c.tls_key;
    if (c.tls_verify_host) tls["verify_host"] = *c.tls_verify_host;
    o["tls"] = std::move(tls);
  }
  if (c.board) o["board"] = *c.board;
  if (c.data_dir) o["data_dir"] = *c.data_dir;
  return json::serialize(o) + "\n";
}

std::variant<DeviceConfigFile, std::string> parse_device_config(std::string_view text) {
  json::error_code ec;
  auto v = json::parse(text, ec);
  if (ec || !v.is_object()) return std::string("not a JSON object");
  const auto& o = v.get_object();
  std::string error;
  auto str = [&](const json::object& from, std::string_view key, std::string_view where) -> std::optional<std::string> {
    const auto* f = from.if_contains(key);
    if (f == nullptr) return std::nullopt;
    if (!f->is_string()) {
      error = std::string(where) + std::string(key) + ": must be a string";
      return std::nullopt;
    }
    return std::string(f->get_string());
  };
  DeviceConfigFile c;
  auto site = str(o, "site", "");
  auto device = str(o, "device", "");
  auto broker = str(o, "broker", "");
  c.username = str(o, "username", "");
  c.password = str(o, "password", "");
  c.board = str(o, "board", "");
  c.data_dir = str(o, "data_dir", "");
  if (const auto* tls = o.if_contains("tls")) {
    if (!tls->is_object()) return std::string("tls: must be an object");
    const auto& t = tls->get_object();
    c.tls_ca = str(t, "ca", "tls.");
    c.tls_cert = str(t, "cert", "tls.");
    c.tls_key = str(t, "key", "tls.");
    if (const auto* vh = t.if_contains("verify_host")) {
      if (!vh->is_bool()) return std::string("tls.verify_host: must be true or false");
      c.tls_verify_host = vh->get_bool();
    }
  }
  if (!error.empty()) return error;
  if (!site || !device || !broker) return std::string("a device config needs site, device and broker");
  c.site = *site;
  c.device = *device;
  c.broker = *broker;
  return c;
}

bool broker_is_loopback(std::string_view url) {
  auto rest = url;
  if (auto scheme = rest.find("://"); scheme != std::string_view::npos) rest = rest.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest = rest.substr(at + 1);
  std::string host;
  if (!rest.empty() && rest.front() == '[') {
    host = std::string(rest.substr(1, rest.find(']') - 1));
  } else {
    host = std::string(rest.substr(0, rest.find(':')));
  }
  for (auto& ch : host) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  while (!host.empty() && host.back() == '.') host.pop_back();  // "localhost." is localhost too
  const auto ends_with = [&](std::string_view tail) {
    return host.size() >= tail.size() && host.compare(host.size() - tail.size(), tail.size(), tail) == 0;
  };
  return host == "localhost" || ends_with(".localhost") || host.rfind("127.", 0) == 0 || host == "::1" || host == "0.0.0.0" ||
         host == "0:0:0:0:0:0:0:1" || host.rfind("::ffff:127.", 0) == 0;
}

std::string default_broker_for(const std::string& hub_host) {
  const bool ipv6 = hub_host.find(':') != std::string::npos;
  return "tcp://" + (ipv6 ? "[" + hub_host + "]" : hub_host) + ":1883";
}

namespace {
std::string errno_text() { return std::strerror(errno); }
}  // namespace

SecretFile::SecretFile(std::string path, bool replace) : path_(std::move(path)) {
  if (is_stdout()) return;
  if (replace) {
    std::random_device rd;
    temp_path_ = path_ + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(rd() % 1000000);
  }
  const auto& target = replace ? temp_path_ : path_;
  fd_ = ::open(target.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd_ < 0) {
    if (errno == EEXIST) throw std::runtime_error(path_ + " exists; pass --force to replace it or --out another path");
    throw std::runtime_error("cannot create " + target + ": " + errno_text() + "; choose a writable --out path");
  }
  ::fchmod(fd_, 0600);  // whatever the umask said
}

SecretFile::~SecretFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!written_ && !is_stdout()) ::unlink((temp_path_.empty() ? path_ : temp_path_).c_str());
}

void SecretFile::write(const std::string& content) {
  if (is_stdout()) {
    std::cout << content << std::flush;
    written_ = true;
    return;
  }
  std::size_t done = 0;
  while (done < content.size()) {
    auto n = ::write(fd_, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw std::runtime_error("cannot write " + path_ + ": " + errno_text());
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd_) != 0) throw std::runtime_error("cannot write " + path_ + ": " + errno_text());
  ::close(fd_);
  fd_ = -1;
  if (!temp_path_.empty() && ::rename(temp_path_.c_str(), path_.c_str()) != 0) {
    throw std::runtime_error("cannot replace " + path_ + ": " + errno_text());
  }
  written_ = true;
}

}  // namespace kiosk::ctl
