// Dynamic-security command payloads and response parsing: plain JSON, no MQTT.
#include "kiosk/hub/dynsec_commands.hpp"

#include <algorithm>
#include <charconv>

#include <boost/json.hpp>

#include "kiosk/protocol/topics.hpp"

namespace kiosk::hub::dynsec {
namespace json = boost::json;

namespace {

std::string site_root(std::string_view site) {
  return std::string(protocol::kTopicRoot) + "/" + std::string(site);
}

std::string device_root(std::string_view site, std::string_view device) {
  return site_root(site) + "/device/" + std::string(device);
}

json::array to_json(const std::vector<Acl>& acls) {
  json::array out;
  for (const auto& a : acls) {
    out.push_back(json::object{{"acltype", a.type}, {"topic", a.topic}, {"allow", a.allow}, {"priority", a.priority}});
  }
  return out;
}

std::string_view string_or_empty(const json::object& o, std::string_view key) {
  const auto* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return {};
  return v->get_string();
}

}  // namespace

std::string device_role(std::string_view device) { return "device-" + std::string(device); }
std::string manager_role(std::string_view site) { return "manager-" + std::string(site); }
std::string hub_role(std::string_view site) { return "hub-" + std::string(site); }

std::vector<Acl> device_acls(std::string_view site, std::string_view device) {
  const auto root = device_root(site, device);
  // Publishing is narrowed to what a device sends: it must not forge its own ack or config.
  return {
      {"publishClientSend", root + "/press", true, 0},
      {"publishClientSend", root + "/status", true, 0},
      {"publishClientSend", root + "/telemetry", true, 0},
      {"subscribeLiteral", root + "/ack", true, 0},
      {"subscribeLiteral", root + "/config", true, 0},
      {"publishClientReceive", root + "/ack", true, 0},
      {"publishClientReceive", root + "/config", true, 0},
  };
}

std::vector<Acl> manager_acls(std::string_view site) {
  const auto root = site_root(site);
  return {
      {"subscribePattern", root + "/alert/#", true, 0},
      {"publishClientReceive", root + "/alert/#", true, 0},
      {"subscribeLiteral", root + "/hub/status", true, 0},
      {"publishClientReceive", root + "/hub/status", true, 0},
      {"publishClientSend", root + "/alert/+/ack", true, 0},
  };
}

std::vector<Acl> hub_acls(std::string_view site) {
  const auto all = site_root(site) + "/#";
  return {
      {"publishClientSend", all, true, 0},
      {"publishClientReceive", all, true, 0},
      {"subscribePattern", all, true, 0},
      {"unsubscribePattern", all, true, 0},
  };
}

json::object create_role(std::string_view role, const std::vector<Acl>& acls) {
  return {{"command", "createRole"}, {"rolename", role}, {"acls", to_json(acls)}};
}

json::object delete_role(std::string_view role) { return {{"command", "deleteRole"}, {"rolename", role}}; }

json::object modify_role_acls(std::string_view role, const std::vector<Acl>& acls) {
  return {{"command", "modifyRole"}, {"rolename", role}, {"acls", to_json(acls)}};
}

json::object create_client(std::string_view username, std::string_view password, const std::vector<std::string>& roles,
                           std::string_view client_id) {
  json::array r;
  for (const auto& name : roles) r.push_back(json::object{{"rolename", name}, {"priority", 0}});
  return {{"command", "createClient"}, {"username", username},     {"password", password},
          {"clientid", client_id},     {"roles", std::move(r)}};
}

json::object set_client_id(std::string_view username, std::string_view client_id) {
  return {{"command", "setClientId"}, {"username", username}, {"clientid", client_id}};
}

json::object delete_client(std::string_view username) { return {{"command", "deleteClient"}, {"username", username}}; }

json::object set_client_password(std::string_view username, std::string_view password) {
  return {{"command", "setClientPassword"}, {"username", username}, {"password", password}};
}

json::object add_client_role(std::string_view username, std::string_view role, int priority) {
  return {{"command", "addClientRole"}, {"username", username}, {"rolename", role}, {"priority", priority}};
}

json::object get_client(std::string_view username) { return {{"command", "getClient"}, {"username", username}}; }

json::object list_clients() { return {{"command", "listClients"}, {"verbose", true}, {"count", -1}}; }

json::object list_groups() { return {{"command", "listGroups"}, {"verbose", true}, {"count", -1}}; }

json::object set_default_acl_access() {
  json::array acls{
      json::object{{"acltype", "publishClientSend"}, {"allow", false}},
      json::object{{"acltype", "publishClientReceive"}, {"allow", true}},
      json::object{{"acltype", "subscribe"}, {"allow", false}},
      json::object{{"acltype", "unsubscribe"}, {"allow", true}},
  };
  return {{"command", "setDefaultACLAccess"}, {"acls", std::move(acls)}};
}

std::string batch(std::string_view tag, std::vector<json::object> commands) {
  json::array list;
  for (std::size_t i = 0; i < commands.size(); ++i) {
    commands[i]["correlationData"] = std::string(tag) + "." + std::to_string(i);
    list.push_back(std::move(commands[i]));
  }
  return json::serialize(json::object{{"commands", std::move(list)}});
}

std::optional<std::vector<Response>> parse_responses(std::string_view payload) {
  json::error_code ec;
  auto v = json::parse(payload, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const auto* list = v.as_object().if_contains("responses");
  if (list == nullptr || !list->is_array()) return std::nullopt;
  std::vector<Response> out;
  for (const auto& item : list->get_array()) {
    if (!item.is_object()) return std::nullopt;
    const auto& o = item.get_object();
    Response r;
    r.command = std::string(string_or_empty(o, "command"));
    r.correlation = std::string(string_or_empty(o, "correlationData"));
    if (const auto* e = o.if_contains("error"); e != nullptr && e->is_string()) r.error = std::string(e->get_string());
    if (const auto* d = o.if_contains("data")) r.data = *d;
    out.push_back(std::move(r));
  }
  return out;
}

namespace {

// The `name_key` of every entry of `o`'s `list_key` array (a client's or group's roles or groups).
std::vector<std::string> entry_names(const json::object& o, std::string_view list_key, std::string_view name_key) {
  std::vector<std::string> out;
  const auto* list = o.if_contains(list_key);
  if (list == nullptr || !list->is_array()) return out;
  for (const auto& item : list->get_array()) {
    if (!item.is_object()) continue;
    const auto name = string_or_empty(item.get_object(), name_key);
    if (!name.empty()) out.emplace_back(name);
  }
  return out;
}

// entry_names of a getClient response's client; nullopt when it carries no client.
std::optional<std::vector<std::string>> client_names(const Response& r, std::string_view list_key,
                                                     std::string_view name_key) {
  if (r.error || !r.data.is_object()) return std::nullopt;
  const auto* client = r.data.get_object().if_contains("client");
  if (client == nullptr || !client->is_object()) return std::nullopt;
  return entry_names(client->get_object(), list_key, name_key);
}

}  // namespace

std::optional<std::vector<std::string>> client_roles(const Response& r) { return client_names(r, "roles", "rolename"); }

namespace {

// Whether one of `entry`'s names in its `list_key` array is one of `names`.
bool lists_one_of(const json::object& entry, std::string_view list_key, std::string_view name_key,
                  const std::vector<std::string>& names) {
  const auto listed = entry_names(entry, list_key, name_key);
  return std::any_of(listed.begin(), listed.end(),
                     [&](const std::string& name) { return std::find(names.begin(), names.end(), name) != names.end(); });
}

// The `key` entries of a list response's `list_key` array for which `keep` holds.
template <typename Keep>
std::optional<std::vector<std::string>> names_in(const Response& r, std::string_view list_key, std::string_view key,
                                                 Keep keep) {
  if (r.error || !r.data.is_object()) return std::nullopt;
  const auto* list = r.data.get_object().if_contains(list_key);
  if (list == nullptr || !list->is_array()) return std::nullopt;
  std::vector<std::string> out;
  for (const auto& entry : list->get_array()) {
    if (!entry.is_object()) continue;
    const auto name = string_or_empty(entry.get_object(), key);
    if (!name.empty() && keep(entry.get_object())) out.emplace_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::optional<std::vector<std::string>> clients_with_role(const Response& r, std::string_view role,
                                                          const std::vector<std::string>& role_groups) {
  const std::vector<std::string> roles{std::string(role)};
  return names_in(r, "clients", "username", [&](const json::object& client) {
    return lists_one_of(client, "roles", "rolename", roles) || lists_one_of(client, "groups", "groupname", role_groups);
  });
}

std::optional<std::vector<std::string>> groups_with_role(const Response& r, std::string_view role) {
  const std::vector<std::string> roles{std::string(role)};
  return names_in(r, "groups", "groupname",
                  [&](const json::object& group) { return lists_one_of(group, "roles", "rolename", roles); });
}

std::optional<std::vector<std::string>> client_groups(const Response& r) {
  return client_names(r, "groups", "groupname");
}

std::optional<Correlation> parse_correlation(std::string_view correlation) {
  const auto dot = correlation.rfind('.');
  if (dot == std::string_view::npos || dot == 0 || dot + 1 == correlation.size()) return std::nullopt;
  Correlation c{std::string(correlation.substr(0, dot)), 0};
  const auto digits = correlation.substr(dot + 1);
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), c.index);
  if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
  return c;
}

bool is_already_exists(const Response& r) { return r.error && r.error->find("already") != std::string::npos; }
bool is_not_found(const Response& r) { return r.error && r.error->find("not found") != std::string::npos; }

std::string base64url(std::span<const std::uint8_t> bytes) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  std::size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8) | bytes[i + 2];
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  const auto rest = bytes.size() - i;
  if (rest == 1) {
    const std::uint32_t n = std::uint32_t{bytes[i]} << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
  } else if (rest == 2) {
    const std::uint32_t n = (std::uint32_t{bytes[i]} << 16) | (std::uint32_t{bytes[i + 1]} << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
  }
  return out;
}

}  // namespace kiosk::hub::dynsec
