// The config file a terminal's firmware reads: what kioskctl writes after add and rotate.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <boost/json/object.hpp>

namespace kiosk::ctl {

struct DeviceConfigFile {
  std::string site;
  std::string device;
  std::string broker;
  std::optional<std::string> username;  // absent when the broker has no per-device accounts
  std::optional<std::string> password;
  std::optional<std::string> tls_ca;
  std::optional<std::string> tls_cert;
  std::optional<std::string> tls_key;
  std::optional<bool> tls_verify_host;  // absent: the firmware's default (true)
  std::optional<std::string> board;
  std::optional<std::string> data_dir;
  // The file this config was read from, as it was (empty for a new one): every key kioskctl does not
  // set itself (ratings, scale, debounce_ms, log_level, keys of a newer firmware...) is written back
  // unchanged, so a rotation changes the credentials and nothing the technician configured.
  boost::json::object source;
};

// `source` with the fields above written over it: site, device, broker, and each of tls{ca,cert,key,
// verify_host}, board and data_dir that has a value (one without a value leaves the source's key as
// it was); username and password are always the struct's, removed when it has none. A new config
// (empty source) holds only keys the firmware knows, in that order.
std::string to_json(const DeviceConfigFile& config);

// A device config file read back (to keep its settings when its credentials change), with its
// whole object in `source`; an error line when the text is not one. A null value counts as absent,
// as it does for the firmware.
std::variant<DeviceConfigFile, std::string> parse_device_config(std::string_view text);

// What is at a path a config is about to replace: nothing (`exists` false, also a missing
// directory: creating the file will say so), its text, or why it is there but cannot be read.
struct ExistingFile {
  bool exists = false;
  std::string text;
  std::optional<std::string> unreadable;  // e.g. "Is a directory", "Permission denied"
};
ExistingFile read_existing(const std::string& path);

// True when the URL's host (a broker's, the hub's) is a loopback address or localhost: a terminal
// or a manager's phone reads it as itself.
bool url_is_loopback(std::string_view url);

// The broker a device should use when none is configured: the hub's host on MQTT's port.
std::string default_broker_for(const std::string& hub_host);

// A file for secrets: created 0600 before anything is asked of the hub, filled once the secret
// exists, removed again if nothing was written. "-" means stdout. Replacing an existing regular file
// keeps its owner, group and its owner's and group's permissions (a device file installed 0640
// root:kiosk stays readable by the daemon), never any for others; a new file is 0600.
class SecretFile {
 public:
  // Throws std::runtime_error with a kioskctl-style message when the file cannot be created.
  SecretFile(std::string path, bool replace);
  ~SecretFile();
  SecretFile(const SecretFile&) = delete;
  SecretFile& operator=(const SecretFile&) = delete;

  void write(const std::string& content);  // throws on failure (and removes the file)
  const std::string& path() const { return path_; }
  bool is_stdout() const { return path_ == "-"; }
  // The permission bits the file gets (0600, or the owner's and group's of the file it replaces).
  unsigned mode() const { return mode_; }
  // Set when the replaced file's owner or group could not be kept (not root): what to tell the user.
  const std::string& warning() const { return warning_; }

 private:
  std::string path_;
  unsigned mode_ = 0600;
  std::string warning_;
  std::string temp_path_;  // when replacing: written here, renamed over path_
  int fd_ = -1;
  bool written_ = false;
};

}  // namespace kiosk::ctl
