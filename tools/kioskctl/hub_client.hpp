// A small synchronous HTTP client for the hub's API (Boost.Beast), with Server-Sent Events.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace kiosk::ctl {

// http://host[:port][/base]; only plain HTTP (the hub listens on loopback or the venue LAN).
struct HubUrl {
  std::string host;
  std::string port = "80";
  std::string base;  // path prefix without a trailing '/', usually ""
  static std::optional<HubUrl> parse(std::string_view url);
};

struct HttpReply {
  unsigned status = 0;
  std::string body;
};

// One Server-Sent Event: "event: <name>" and the joined "data:" lines.
struct ServerEvent {
  std::string event = "message";
  std::string data;
};

// Splits an event stream into events as bytes arrive (pure; comments and unknown fields ignored).
class EventStreamParser {
 public:
  std::vector<ServerEvent> feed(std::string_view bytes);

 private:
  std::string line_;
  ServerEvent current_;
  bool has_data_ = false;
};

// The hub could not be reached or broke the connection (not an HTTP error status).
struct HubUnreachable : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class HubClient {
 public:
  HubClient(HubUrl url, std::optional<std::string> token, std::chrono::seconds timeout = std::chrono::seconds(15));

  HttpReply get(const std::string& target);
  HttpReply post(const std::string& target, const std::string& json_body);

  enum class StreamEnd { stopped, timeout, closed, silent };
  // The hub writes a comment line to every event stream every 20 s: this long without a byte
  // means it is gone without closing (powered off, network lost).
  static constexpr std::chrono::seconds kStreamSilence{60};
  // GETs an event stream; calls `opened` once the hub answered 200, then `on_event` for each
  // event until it returns false (stopped), the deadline passes (timeout), the hub closes
  // (closed) or nothing arrives for `silence` (silent).
  // Throws HubUnreachable, or std::runtime_error with the hub's error for a non-200 answer.
  StreamEnd events(const std::string& target, const std::function<void()>& opened,
                   const std::function<bool(const ServerEvent&)>& on_event,
                   std::chrono::steady_clock::time_point deadline,
                   std::chrono::milliseconds silence = kStreamSilence);

 private:
  HttpReply request(bool post, const std::string& target, const std::string& body);
  HubUrl url_;
  std::optional<std::string> token_;
  std::chrono::seconds timeout_;
};

// The "error" of a hub error body, or the body itself when it is not that JSON.
std::string hub_error_message(const HttpReply& reply);

}  // namespace kiosk::ctl
