// Topic layout of protocol v1: kiosk/v1/<site>/device/<device>/<kind>, .../alert/<location>[/ack], .../hub/status.
#pragma once

#include <string>
#include <string_view>

#include "kiosk/protocol/result.hpp"

namespace kiosk::protocol {

enum class TopicKind {
  press,      // device/<device>/press      device -> hub
  ack,        // device/<device>/ack        hub -> device
  status,     // device/<device>/status     device -> anyone (retained, Last Will)
  telemetry,  // device/<device>/telemetry  device -> hub
  config,     // device/<device>/config     hub -> device (retained)
  alert,      // alert/<location>           hub -> managers (retained)
  alert_ack,  // alert/<location>/ack       manager -> hub
  hub_status  // hub/status                 hub -> anyone (retained, Last Will)
};

std::string_view to_string(TopicKind kind);

// A parsed topic: `device` is set for the device kinds, `location` for the alert kinds.
struct Topic {
  TopicKind kind{};
  std::string site;
  std::string device;
  std::string location;
  friend bool operator==(const Topic&, const Topic&) = default;
};

inline constexpr std::string_view kTopicRoot = "kiosk/v1";

std::string site_prefix(std::string_view site);  // "kiosk/v1/<site>"
std::string device_topic(std::string_view site, std::string_view device, TopicKind kind);
std::string alert_topic(std::string_view site, std::string_view location);
std::string alert_ack_topic(std::string_view site, std::string_view location);
std::string hub_status_topic(std::string_view site);
std::string to_topic(const Topic& topic);

// Subscription filters, e.g. device_filter("s", press) = "kiosk/v1/s/device/+/press".
std::string device_filter(std::string_view site, TopicKind kind);
std::string alert_filter(std::string_view site);      // "kiosk/v1/<site>/alert/+"
std::string alert_ack_filter(std::string_view site);  // "kiosk/v1/<site>/alert/+/ack"

// Parses any v1 topic; errors name the "topic" field and what is wrong with it.
Result<Topic> parse_topic(std::string_view topic);

}  // namespace kiosk::protocol
