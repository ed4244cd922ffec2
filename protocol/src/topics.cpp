// Building and parsing v1 topics: kiosk/v1/<site>/{device/<device>/<kind>, alert/<location>[/ack], hub/status}.
#include "kiosk/protocol/topics.hpp"

#include <optional>
#include <vector>

#include "kiosk/protocol/ids.hpp"
#include "text.hpp"

namespace kiosk::protocol {
namespace {

constexpr std::string_view kDeviceKinds = "press, ack, status, telemetry or config";

std::optional<TopicKind> device_kind(std::string_view s) {
  if (s == "press") return TopicKind::press;
  if (s == "ack") return TopicKind::ack;
  if (s == "status") return TopicKind::status;
  if (s == "telemetry") return TopicKind::telemetry;
  if (s == "config") return TopicKind::config;
  return std::nullopt;
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> levels;
  std::size_t start = 0;
  while (true) {
    const std::size_t slash = s.find('/', start);
    if (slash == std::string_view::npos) {
      levels.push_back(s.substr(start));
      return levels;
    }
    levels.push_back(s.substr(start, slash - start));
    start = slash + 1;
  }
}

Error topic_error(std::string reason) { return Error{"topic", std::move(reason)}; }

}  // namespace

std::string_view to_string(TopicKind kind) {
  switch (kind) {
    case TopicKind::press: return "press";
    case TopicKind::ack: return "ack";
    case TopicKind::status: return "status";
    case TopicKind::telemetry: return "telemetry";
    case TopicKind::config: return "config";
    case TopicKind::alert: return "alert";
    case TopicKind::alert_ack: return "alert_ack";
    case TopicKind::hub_status: return "hub_status";
  }
  return "unknown";
}

std::string site_prefix(std::string_view site) {
  return std::string(kTopicRoot) + "/" + std::string(site);
}

std::string device_topic(std::string_view site, std::string_view device, TopicKind kind) {
  return site_prefix(site) + "/device/" + std::string(device) + "/" + std::string(to_string(kind));
}

std::string alert_topic(std::string_view site, std::string_view location) {
  return site_prefix(site) + "/alert/" + std::string(location);
}

std::string alert_ack_topic(std::string_view site, std::string_view location) {
  return alert_topic(site, location) + "/ack";
}

std::string hub_status_topic(std::string_view site) { return site_prefix(site) + "/hub/status"; }

std::string to_topic(const Topic& topic) {
  switch (topic.kind) {
    case TopicKind::alert: return alert_topic(topic.site, topic.location);
    case TopicKind::alert_ack: return alert_ack_topic(topic.site, topic.location);
    case TopicKind::hub_status: return hub_status_topic(topic.site);
    default: return device_topic(topic.site, topic.device, topic.kind);
  }
}

std::string device_filter(std::string_view site, TopicKind kind) {
  return device_topic(site, "+", kind);
}

std::string alert_filter(std::string_view site) { return alert_topic(site, "+"); }

std::string alert_ack_filter(std::string_view site) { return alert_ack_topic(site, "+"); }

Result<Topic> parse_topic(std::string_view topic) {
  if (topic.empty()) return topic_error("is empty");
  const std::string q = detail::quote(topic);
  const std::vector<std::string_view> levels = split(topic);
  if (levels.size() < 2 || levels[0] != "kiosk" || levels[1] != "v1") {
    return topic_error(q + " does not start with \"kiosk/v1/\"");
  }
  if (levels.size() < 3) return topic_error(q + " has no site after \"kiosk/v1/\"");
  Topic t;
  t.site = std::string(levels[2]);
  if (!is_valid_id(levels[2])) return topic_error("site " + detail::id_problem(levels[2]));
  if (levels.size() < 4) {
    return topic_error(q + " has nothing after the site (expected device/..., alert/... or hub/status)");
  }
  const std::string_view section = levels[3];
  const std::size_t n = levels.size();
  if (section == "device") {
    if (n < 5) return topic_error(q + " has no device after \"device/\"");
    if (!is_valid_id(levels[4])) return topic_error("device " + detail::id_problem(levels[4]));
    if (n < 6) return topic_error(q + " has no message kind after the device (expected " +
                                  std::string(kDeviceKinds) + ")");
    const auto kind = device_kind(levels[5]);
    if (!kind) {
      return topic_error(detail::quote(levels[5]) + " is not a device message kind (expected " +
                         std::string(kDeviceKinds) + ")");
    }
    if (n > 6) return topic_error(q + " has extra levels after \"" + std::string(levels[5]) + "\"");
    t.kind = *kind;
    t.device = std::string(levels[4]);
    return t;
  }
  if (section == "alert") {
    if (n < 5) return topic_error(q + " has no location after \"alert/\"");
    if (!is_valid_id(levels[4])) return topic_error("location " + detail::id_problem(levels[4]));
    t.location = std::string(levels[4]);
    if (n == 5) {
      t.kind = TopicKind::alert;
      return t;
    }
    if (levels[5] != "ack") {
      return topic_error(detail::quote(levels[5]) +
                         " after the location is not \"ack\" (expected alert/<location> or alert/<location>/ack)");
    }
    if (n > 6) return topic_error(q + " has extra levels after \"ack\"");
    t.kind = TopicKind::alert_ack;
    return t;
  }
  if (section == "hub") {
    if (n < 5 || levels[4] != "status") {
      return topic_error(q + " is not a hub topic (the only one is hub/status)");
    }
    if (n > 5) return topic_error(q + " has extra levels after \"status\"");
    t.kind = TopicKind::hub_status;
    return t;
  }
  return topic_error(detail::quote(section) + " is not a topic section (expected device, alert or hub)");
}

}  // namespace kiosk::protocol
