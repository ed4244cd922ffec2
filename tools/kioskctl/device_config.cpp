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
  json::object o = c.source;
  o["site"] = c.site;
  o["device"] = c.device;
  o["broker"] = c.broker;
  // The credentials are always the new ones: a stale password must not survive a rotation.
  for (auto [key, value] : {std::pair{"username", &c.username}, std::pair{"password", &c.password}}) {
    if (*value) {
      o[key] = **value;
    } else {
      o.erase(key);
    }
  }
  if (c.tls_ca || c.tls_cert || c.tls_key || c.tls_verify_host) {
    json::object tls;
    if (const auto* old = o.if_contains("tls"); old != nullptr && old->is_object()) tls = old->get_object();
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
    if (f == nullptr || f->is_null()) return std::nullopt;
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
  if (const auto* tls = o.if_contains("tls"); tls != nullptr && !tls->is_null()) {
    if (!tls->is_object()) return std::string("tls: must be an object");
    const auto& t = tls->get_object();
    c.tls_ca = str(t, "ca", "tls.");
    c.tls_cert = str(t, "cert", "tls.");
    c.tls_key = str(t, "key", "tls.");
    if (const auto* vh = t.if_contains("verify_host"); vh != nullptr && !vh->is_null()) {
      if (!vh->is_bool()) return std::string("tls.verify_host: must be true or false");
      c.tls_verify_host = vh->get_bool();
    }
  }
  if (!error.empty()) return error;
  if (!site || !device || !broker) return std::string("a device config needs site, device and broker");
  c.site = *site;
  c.device = *device;
  c.broker = *broker;
  c.source = std::move(v.get_object());
  return c;
}

bool url_is_loopback(std::string_view url) {
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

ExistingFile read_existing(const std::string& path) {
  // O_NONBLOCK: a FIFO at the path must not hang the command.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ENOENT || errno == ENOTDIR) return {};
    return {true, "", errno_text()};
  }
  ExistingFile file{true, "", std::nullopt};
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    file.unreadable = errno_text();
  } else if (S_ISDIR(st.st_mode)) {
    file.unreadable = std::strerror(EISDIR);
  } else if (!S_ISREG(st.st_mode)) {
    file.unreadable = "not a regular file";
  }
  char buffer[4096];
  while (!file.unreadable) {
    const auto n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) file.unreadable = errno_text();
    if (n <= 0) break;
    file.text.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  if (file.unreadable) file.text.clear();
  return file;
}

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
  // The file it replaces (through a symlink, the file the link names) was installed with an owner
  // and mode its reader needs (0640 root:kiosk on a terminal): the temp file takes them before the
  // secret is written into it. Except "others": no reader needs them, and the file holds a password.
  struct stat old {};
  if (replace && ::stat(path_.c_str(), &old) == 0 && S_ISREG(old.st_mode)) {
    mode_ = old.st_mode & 0770;
    if (::fchown(fd_, old.st_uid, old.st_gid) != 0) {
      // Only root may give a file away; say so rather than leave the reader locked out unnoticed.
      struct stat mine {};
      ::fstat(fd_, &mine);
      warning_ = "could not keep " + path_ + "'s owner " + std::to_string(old.st_uid) + ":" + std::to_string(old.st_gid) +
                 " (" + errno_text() + "); it is now " + std::to_string(mine.st_uid) + ":" + std::to_string(mine.st_gid) +
                 ": chown it back as root";
    }
  }
  ::fchmod(fd_, mode_);  // after fchown (which may clear bits), and whatever the umask said
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
