// The HTTP API's request bodies and shared answers (hub_api.cpp), for the API's other files.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <boost/json.hpp>

#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk/hub/http_server.hpp"

namespace kiosk::hub {

// The JSON object body of a write, or nullopt with `error` set.
std::optional<boost::json::object> body_object(const HttpRequest& req, std::string& error);
// A string member: nullopt when absent (`error` set if required) or not a string (`error` set).
std::optional<std::string> string_field(const boost::json::object& o, std::string_view key, bool required,
                                        std::string& error);
// Broker credentials as the API shows them once: {"username", "password"}, or null.
boost::json::value credentials_json(const std::optional<BrokerCredentials>& c);

}  // namespace kiosk::hub
