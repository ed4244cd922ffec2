// Broker accounts for devices and managers: per-client credentials and ACLs at the broker.
// Implemented over mosquitto's dynamic-security plugin, or "open" when the broker has none.
#pragma once

#include "kiosk/hub/log.hpp"
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

namespace kiosk::hub {

struct BrokerCredentials {
  std::string username;
  std::string password;
};

// error set: the broker refused or did not answer. credentials set: created (shown once).
struct AccountsResult {
  std::optional<std::string> error;
  std::optional<BrokerCredentials> credentials;
  // The error is the request's fault, not the broker's: the name belongs to another kind of
  // account (a terminal's, a manager's, the hub's own) or is being provisioned right now.
  bool conflict = false;
  // The error is that there is no such account (HTTP 404).
  bool not_found = false;
};
using AccountsDone = std::function<void(AccountsResult)>;
// The managers' accounts at the broker, or why they cannot be listed.
using ManagersDone = std::function<void(std::optional<std::string> error, std::vector<std::string> managers)>;

// Every call is asynchronous; `done` runs on the hub's io_context thread.
class BrokerAccounts {
 public:
  virtual ~BrokerAccounts() = default;
  virtual void start() = 0;
  virtual void stop() = 0;
  // Whether the link that manages the accounts is up; nullopt when there are no broker accounts.
  virtual std::optional<bool> connected() const { return std::nullopt; }
  // A client for the device that may publish only under device/<id>/ and read its ack/config.
  // The hub calls it only for ids that are not active devices: a terminal's account left at the
  // broker by an earlier attempt that failed half-way is taken over (new password, device role).
  virtual void add_device(const std::string& device, AccountsDone done) = 0;
  // New password; the old one stops working (connected sessions are kicked).
  virtual void rotate_device(const std::string& device, AccountsDone done) = 0;
  // Client removed; history stays at the hub.
  virtual void retire_device(const std::string& device, AccountsDone done) = 0;
  // A manager client that may read alert/# of the site and publish alert acks only.
  virtual void add_manager(const std::string& manager, AccountsDone done) = 0;
  // Removes only an account that carries the site's manager role (conflict otherwise).
  virtual void remove_manager(const std::string& manager, AccountsDone done) = 0;
  // The accounts that carry the site's manager role; without broker accounts, an error saying so.
  virtual void list_managers(ManagersDone done) = 0;
};

struct DynsecSettings {
  std::string broker_url;  // tcp://host:port or ssl://host:port
  std::string username;    // a client with the dynsec admin role
  std::string password;
  std::string site;
  std::string ca_file;     // TLS, optional
  std::string cert_file;
  std::string key_file;
  bool verify_host = true;  // TLS: the certificate must name the URL's host
};

// No broker-side accounts: every call succeeds without credentials.
std::unique_ptr<BrokerAccounts> make_open_accounts(boost::asio::io_context& io);
// Accounts through $CONTROL/dynamic-security/v1 on the hub's own admin connection. `log` gets the
// link's losses and returns once it is up (start-up failures are thrown instead).
std::unique_ptr<BrokerAccounts> make_dynsec_accounts(boost::asio::io_context& io, DynsecSettings settings,
                                                     Log log = Log{});

}  // namespace kiosk::hub
