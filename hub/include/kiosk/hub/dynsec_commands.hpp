// Pure builders of mosquitto dynamic-security command payloads and a parser of its responses.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace kiosk::hub::dynsec {

inline constexpr std::string_view kCommandTopic = "$CONTROL/dynamic-security/v1";
inline constexpr std::string_view kResponseTopic = "$CONTROL/dynamic-security/v1/response";

// One ACL entry of a role. `type` is one of the plugin's acltypes (publishClientSend, ...).
struct Acl {
  std::string type;
  std::string topic;
  bool allow = true;
  int priority = 0;
};

// Role names at the broker, one per device and one per site for managers and the hub.
std::string device_role(std::string_view device);  // "device-<id>"
std::string manager_role(std::string_view site);   // "manager-<site>"
std::string hub_role(std::string_view site);       // "hub-<site>"

// A device may publish its press/status/telemetry and subscribe to its own ack and config only.
std::vector<Acl> device_acls(std::string_view site, std::string_view device);
// A manager may read alert/# (and hub/status) of the site and publish alert acks only.
std::vector<Acl> manager_acls(std::string_view site);
// The hub may publish and read everything under kiosk/v1/<site>/.
std::vector<Acl> hub_acls(std::string_view site);

// Single commands (without correlationData; batch() adds it).
boost::json::object create_role(std::string_view role, const std::vector<Acl>& acls);
boost::json::object delete_role(std::string_view role);
// Replaces the role's ACLs with `acls` (a role that survived may carry others).
boost::json::object modify_role_acls(std::string_view role, const std::vector<Acl>& acls);
// The client may connect only with client id `client_id` (devices and managers: their own name),
// so its login cannot take over another client's session, the hub's included (MQTT lets the
// newest connection with a client id close the older one).
boost::json::object create_client(std::string_view username, std::string_view password,
                                  const std::vector<std::string>& roles, std::string_view client_id);
boost::json::object set_client_id(std::string_view username, std::string_view client_id);
boost::json::object delete_client(std::string_view username);
boost::json::object set_client_password(std::string_view username, std::string_view password);
boost::json::object add_client_role(std::string_view username, std::string_view role, int priority = 0);
boost::json::object get_client(std::string_view username);
// Every client with its roles and groups (verbose), all of them (count -1).
boost::json::object list_clients();
// Every group with its roles (verbose), all of them (count -1).
boost::json::object list_groups();
// Everything not granted by a role is refused, except receiving (clients only get what they may subscribe to).
boost::json::object set_default_acl_access();

// {"commands":[...]} where command i carries correlationData "<tag>.<i>".
std::string batch(std::string_view tag, std::vector<boost::json::object> commands);

// One entry of {"responses":[...]}.
struct Response {
  std::string command;
  std::optional<std::string> error;  // the plugin's words, e.g. "Client already exists"
  std::string correlation;           // "" when the command had none
  boost::json::value data;           // the command's "data" (null when absent)
};

// Parses a response message; nullopt when it is not valid JSON of that shape.
std::optional<std::vector<Response>> parse_responses(std::string_view payload);

// The role names of a getClient response; nullopt when the response carries no client.
std::optional<std::vector<std::string>> client_roles(const Response& get_client_response);
// The usernames of a verbose listClients response whose client carries `role`, itself or through
// one of `role_groups`, sorted; nullopt when the response carries no client list.
std::optional<std::vector<std::string>> clients_with_role(const Response& list_clients_response, std::string_view role,
                                                          const std::vector<std::string>& role_groups = {});
// The names of a verbose listGroups response's groups that carry `role`; nullopt when the
// response carries no group list.
std::optional<std::vector<std::string>> groups_with_role(const Response& list_groups_response, std::string_view role);
// The group names of a getClient response; nullopt when the response carries no client.
std::optional<std::vector<std::string>> client_groups(const Response& get_client_response);

// Splits "<tag>.<i>" back; nullopt for anything else.
struct Correlation {
  std::string tag;
  std::size_t index = 0;
};
std::optional<Correlation> parse_correlation(std::string_view correlation);

// Errors that mean "already as wanted" for idempotent set-up and removal.
bool is_already_exists(const Response& r);
bool is_not_found(const Response& r);

// Base64url (no padding) of raw bytes: how generated passwords are spelled.
std::string base64url(std::span<const std::uint8_t> bytes);

// The first error of a batch as one line, "<command>: <error>", or nullopt when every command
// succeeded; responses whose errors `tolerated` returns true for are skipped.
template <class Tolerated>
std::optional<std::string> first_error(const std::vector<Response>& responses, Tolerated tolerated) {
  for (const auto& r : responses) {
    if (r.error && !tolerated(r)) return r.command + ": " + *r.error;
  }
  return std::nullopt;
}

}  // namespace kiosk::hub::dynsec
