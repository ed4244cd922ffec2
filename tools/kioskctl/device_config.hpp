// The config file a terminal's firmware reads: what kioskctl writes after add and rotate.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <variant>

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
};

// Only keys the firmware knows: site, device, broker, username, password, tls{ca,cert,key,verify_host},
// board, data_dir.
std::string to_json(const DeviceConfigFile& config);

// A device config file read back (to keep its settings when its credentials change); an error
// line when the text is not one.
std::variant<DeviceConfigFile, std::string> parse_device_config(std::string_view text);

// True when the broker URL's host is a loopback address or localhost: a terminal reads it as itself.
bool broker_is_loopback(std::string_view broker_url);

// The broker a device should use when none is configured: the hub's host on MQTT's port.
std::string default_broker_for(const std::string& hub_host);

// A file for secrets: created 0600 before anything is asked of the hub, filled once the secret
// exists, removed again if nothing was written. "-" means stdout.
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

 private:
  std::string path_;
  std::string temp_path_;  // when replacing: written here, renamed over path_
  int fd_ = -1;
  bool written_ = false;
};

}  // namespace kiosk::ctl
