// A tiny synchronous HTTP/1.1 client (Beast) for tests that talk to kiosk-hub's API.
#pragma once

#include <chrono>
#include <string>

namespace kiosk::test {

struct HttpResult {
  int status = 0;   // 0: could not connect
  std::string body;
  std::string content_type;
};

// One request on a fresh connection to 127.0.0.1:port; token empty = no Authorization header.
// Status 0 when nothing answers within `timeout` (connect, write and read together). `host` is
// the Host header.
HttpResult http_request(int port, const std::string& method, const std::string& target,
                        const std::string& body = "", const std::string& token = "",
                        std::chrono::milliseconds timeout = std::chrono::seconds(10),
                        const std::string& host = "127.0.0.1");

inline HttpResult http_get(int port, const std::string& target) { return http_request(port, "GET", target); }
inline HttpResult http_post(int port, const std::string& target, const std::string& body, const std::string& token) {
  return http_request(port, "POST", target, body, token);
}

}  // namespace kiosk::test

#include <memory>

namespace kiosk::test {

// A client of GET /api/events (Server-Sent Events) that collects what arrives.
class EventStreamClient {
 public:
  // token empty: no Authorization header.
  explicit EventStreamClient(int port, const std::string& token = "");
  ~EventStreamClient();
  // Reads until the collected text contains `needle` or the timeout passes.
  bool wait_for(const std::string& needle, std::chrono::milliseconds timeout);
  // Reads until the hub closes the stream (true) or the timeout passes (false).
  bool wait_closed(std::chrono::milliseconds timeout);
  const std::string& received() const { return received_; }

 private:
  // One read, waiting at most until `deadline`: what came of it (data is appended to received_).
  enum class Read { data, timed_out, closed };
  Read read_until(std::chrono::steady_clock::time_point deadline);

  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string received_;
};

}  // namespace kiosk::test
