// The dynamic-security payloads the hub sends, and how it reads the plugin's answers.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "kiosk/hub/dynsec_commands.hpp"

namespace dynsec = kiosk::hub::dynsec;
namespace json = boost::json;

namespace {
bool has_acl(const std::vector<dynsec::Acl>& acls, std::string_view type, std::string_view topic) {
  for (const auto& a : acls) {
    if (a.type == type && a.topic == topic && a.allow) return true;
  }
  return false;
}
}  // namespace

TEST_CASE("a device role lets the device send only its own press, status and telemetry") {
  auto acls = dynsec::device_acls("hotel", "desk-1");
  CHECK(has_acl(acls, "publishClientSend", "kiosk/v1/hotel/device/desk-1/press"));
  CHECK(has_acl(acls, "publishClientSend", "kiosk/v1/hotel/device/desk-1/status"));
  CHECK(has_acl(acls, "publishClientSend", "kiosk/v1/hotel/device/desk-1/telemetry"));
  CHECK_FALSE(has_acl(acls, "publishClientSend", "kiosk/v1/hotel/device/desk-1/ack"));
  CHECK_FALSE(has_acl(acls, "publishClientSend", "kiosk/v1/hotel/device/desk-1/config"));
  CHECK(has_acl(acls, "subscribeLiteral", "kiosk/v1/hotel/device/desk-1/ack"));
  CHECK(has_acl(acls, "subscribeLiteral", "kiosk/v1/hotel/device/desk-1/config"));
  for (const auto& a : acls) {
    CHECK(a.topic.rfind("kiosk/v1/hotel/device/desk-1/", 0) == 0);
    CHECK(a.topic.find_first_of("#+") == std::string::npos);
  }
  CHECK(dynsec::device_role("desk-1") == "device-desk-1");
}

TEST_CASE("a manager role reads the site's alerts and may send alert acks only") {
  auto acls = dynsec::manager_acls("hotel");
  CHECK(has_acl(acls, "subscribePattern", "kiosk/v1/hotel/alert/#"));
  CHECK(has_acl(acls, "publishClientSend", "kiosk/v1/hotel/alert/+/ack"));
  for (const auto& a : acls) {
    if (a.type == "publishClientSend") CHECK(a.topic == "kiosk/v1/hotel/alert/+/ack");
  }
  CHECK(dynsec::manager_role("hotel") == "manager-hotel");
}

TEST_CASE("a batch numbers each command's correlationData after its tag") {
  auto payload = dynsec::batch("k7", {dynsec::create_role("device-d", dynsec::device_acls("s", "d")),
                                      dynsec::create_client("d", "pw", {"device-d"}, "d")});
  auto v = json::parse(payload).as_object();
  auto& cmds = v.at("commands").as_array();
  REQUIRE(cmds.size() == 2);
  CHECK(cmds[0].at("command") == "createRole");
  CHECK(cmds[0].at("correlationData") == "k7.0");
  CHECK(cmds[0].at("acls").as_array().size() == dynsec::device_acls("s", "d").size());
  CHECK(cmds[1].at("command") == "createClient");
  CHECK(cmds[1].at("username") == "d");
  CHECK(cmds[1].at("password") == "pw");
  CHECK(cmds[1].at("clientid") == "d");
  CHECK(cmds[1].at("roles").as_array()[0].at("rolename") == "device-d");
  CHECK(cmds[1].at("correlationData") == "k7.1");
}

TEST_CASE("other commands carry exactly the fields the plugin expects") {
  CHECK(json::serialize(dynsec::delete_client("d")) == R"({"command":"deleteClient","username":"d"})");
  CHECK(json::serialize(dynsec::delete_role("device-d")) == R"({"command":"deleteRole","rolename":"device-d"})");
  CHECK(json::serialize(dynsec::set_client_password("d", "p")) ==
        R"({"command":"setClientPassword","username":"d","password":"p"})");
  CHECK(json::serialize(dynsec::set_client_id("d", "d")) == R"({"command":"setClientId","username":"d","clientid":"d"})");
  CHECK(json::serialize(dynsec::add_client_role("hub", "hub-s", 0)) ==
        R"({"command":"addClientRole","username":"hub","rolename":"hub-s","priority":0})");
  auto def = dynsec::set_default_acl_access();
  CHECK(def.at("command") == "setDefaultACLAccess");
  CHECK(def.at("acls").as_array().size() == 4);
}

TEST_CASE("responses are parsed with their errors and correlation") {
  auto r = dynsec::parse_responses(
      R"({"responses":[{"command":"createRole","correlationData":"k3.0"},)"
      R"({"command":"createClient","error":"Client already exists","correlationData":"k3.1"}]})");
  REQUIRE(r);
  REQUIRE(r->size() == 2);
  CHECK_FALSE((*r)[0].error);
  CHECK((*r)[1].error == "Client already exists");
  CHECK(dynsec::is_already_exists((*r)[1]));
  CHECK_FALSE(dynsec::is_not_found((*r)[1]));
  auto c = dynsec::parse_correlation((*r)[1].correlation);
  REQUIRE(c);
  CHECK(c->tag == "k3");
  CHECK(c->index == 1);
  CHECK(dynsec::first_error(*r, [](const dynsec::Response&) { return false; }) == "createClient: Client already exists");
  CHECK_FALSE(dynsec::first_error(*r, dynsec::is_already_exists));
}

TEST_CASE("malformed responses and foreign correlations are recognised as such") {
  CHECK_FALSE(dynsec::parse_responses("not json"));
  CHECK_FALSE(dynsec::parse_responses(R"({"responses":5})"));
  CHECK_FALSE(dynsec::parse_responses(R"([1,2])"));
  CHECK_FALSE(dynsec::parse_correlation(""));
  CHECK_FALSE(dynsec::parse_correlation("k3"));
  CHECK_FALSE(dynsec::parse_correlation("k3."));
  CHECK_FALSE(dynsec::parse_correlation("k3.x"));
  CHECK_FALSE(dynsec::parse_correlation(".1"));
}

TEST_CASE("base64url spells bytes without padding or URL-unsafe characters") {
  const std::uint8_t f[] = {'f', 'o', 'o', 'b', 'a', 'r'};
  CHECK(dynsec::base64url(std::span(f, 1)) == "Zg");
  CHECK(dynsec::base64url(std::span(f, 2)) == "Zm8");
  CHECK(dynsec::base64url(std::span(f, 3)) == "Zm9v");
  CHECK(dynsec::base64url(std::span(f, 6)) == "Zm9vYmFy");
  const std::uint8_t hi[] = {0xfb, 0xff, 0xbf};
  CHECK(dynsec::base64url(hi) == "-_-_");
  std::array<std::uint8_t, 24> zeros{};
  CHECK(dynsec::base64url(zeros).size() == 32);
}

TEST_CASE("modifyRole replaces a surviving role's ACLs with the given ones") {
  auto m = dynsec::modify_role_acls("device-d", {{"subscribeLiteral", "t/ack", true, 0}});
  CHECK(json::serialize(m) ==
        R"({"command":"modifyRole","rolename":"device-d","acls":[{"acltype":"subscribeLiteral","topic":"t/ack","allow":true,"priority":0}]})");
}

TEST_CASE("a getClient answer gives the client's roles and groups, and none for an unknown client") {
  auto r = dynsec::parse_responses(
      R"({"responses":[{"command":"getClient","data":{"client":{"username":"d","roles":[{"rolename":"device-d"}],)"
      R"("groups":[{"groupname":"staff","priority":1}]}},"correlationData":"k1.0"},)"
      R"({"command":"getClient","data":{"client":{"username":"e"}},"correlationData":"k1.1"},)"
      R"({"command":"getClient","error":"Client not found","correlationData":"k1.2"}]})");
  REQUIRE(r);
  REQUIRE(r->size() == 3);
  CHECK(dynsec::client_roles((*r)[0]) == std::vector<std::string>{"device-d"});
  CHECK(dynsec::client_groups((*r)[0]) == std::vector<std::string>{"staff"});
  CHECK(dynsec::client_roles((*r)[1]) == std::vector<std::string>{});
  CHECK(dynsec::client_groups((*r)[1]) == std::vector<std::string>{});
  CHECK_FALSE(dynsec::client_roles((*r)[2]));
  CHECK_FALSE(dynsec::client_groups((*r)[2]));
  CHECK(dynsec::is_not_found((*r)[2]));
}

TEST_CASE("the managers are the clients with the manager role, themselves or through a group that has it") {
  auto r = dynsec::parse_responses(
      R"({"responses":[{"command":"listGroups","data":{"groups":[)"
      R"({"groupname":"duty","roles":[{"rolename":"manager-v","priority":0}]},)"
      R"({"groupname":"cleaners","roles":[{"rolename":"other"}]}]}},)"
      R"({"command":"listClients","data":{"clients":[)"
      R"({"username":"zoe","roles":[{"rolename":"manager-v"}],"groups":[]},)"
      R"({"username":"carol","roles":[],"groups":[{"groupname":"duty"}]},)"
      R"({"username":"dan","roles":[],"groups":[{"groupname":"cleaners"}]},)"
      R"({"username":"t-1","roles":[{"rolename":"device-t-1"}]}]}},)"
      R"({"command":"listGroups","error":"Permission denied"}]})");
  REQUIRE(r);
  REQUIRE(r->size() == 3);
  const auto groups = dynsec::groups_with_role((*r)[0], "manager-v");
  REQUIRE(groups == std::vector<std::string>{"duty"});
  CHECK(dynsec::clients_with_role((*r)[1], "manager-v", *groups) == std::vector<std::string>{"carol", "zoe"});
  CHECK(dynsec::clients_with_role((*r)[1], "manager-v") == std::vector<std::string>{"zoe"});
  CHECK_FALSE(dynsec::groups_with_role((*r)[2], "manager-v"));
  CHECK_FALSE(dynsec::clients_with_role((*r)[0], "manager-v"));  // a group list is no client list
}
