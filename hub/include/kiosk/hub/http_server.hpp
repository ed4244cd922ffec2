// HTTP/1.1 server on Boost.Beast (async, on the hub's io thread): keep-alive request/response
// sessions, and Server-Sent Events streams fed by EventStreams::broadcast. Bounded so that
// clients on a venue LAN cannot wear the hub's only thread or its file descriptors down: a
// request must arrive whole within a time limit, streams are pinged, sessions are capped.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace kiosk::hub {

using HttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using HttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

class HttpSession;
class EventStreams;

struct HttpLimits {
  // A request (or, on a kept-alive connection, the next one) must arrive whole within this;
  // idle and trickling clients are closed.
  std::chrono::milliseconds request_timeout{std::chrono::seconds(30)};
  // An answer, or an event stream's next frame, must be taken by the client within this: one that
  // stops reading would otherwise hold its connection and the answer's memory for ever.
  std::chrono::milliseconds write_timeout{std::chrono::seconds(30)};
  // Event streams get a comment line this often: a client gone without a word (a tablet off
  // the Wi-Fi) is noticed when the writes fail, and proxies keep quiet streams open.
  std::chrono::milliseconds ping_interval{std::chrono::seconds(20)};
  // Connections beyond this are closed at once (a dashboard tab holds one or two).
  std::size_t max_sessions = 256;
  // Event streams need no token: without their own cap, a few hundred of them from one laptop
  // would hold every connection, and kioskctl (status, alerts ack) could not get in. Beyond it,
  // /api/events answers 503.
  std::size_t max_streams = 64;
  // Connections from one address beyond this are closed at once, so no single client on the
  // LAN fills the pool; loopback (kioskctl on the hub's machine, the tests) is not limited.
  std::size_t max_sessions_per_address = 32;
  bool limit_loopback = false;  // true: loopback clients count against max_sessions_per_address too
  // After a failed accept (out of file descriptors) wait this long instead of spinning.
  std::chrono::milliseconds accept_retry{std::chrono::milliseconds(100)};
};

// Connections the server turned away, by why (for the hub's metrics).
struct HttpRefusals {
  std::uint64_t full = 0;         // max_sessions open
  std::uint64_t per_address = 0;  // max_sessions_per_address open from the client's address
  std::uint64_t streams = 0;      // /api/events with max_streams open (answered 503)
};

// The application: called on the io thread for each request; must call session->send(...) or
// session->start_events() exactly once (now or later, e.g. after an async broker call).
using HttpHandler = std::function<void(const HttpRequest&, std::shared_ptr<HttpSession>)>;

class HttpSession : public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(boost::asio::ip::tcp::socket socket, HttpHandler& handler, EventStreams& streams,
              const HttpLimits& limits, HttpRefusals& refusals);
  void start();
  void send(HttpResponse response);
  // Turns this connection into an SSE stream: the response header now, events as they come.
  // `owner`: whose token opened it when that token can be taken back (a manager's), else "".
  void start_events(std::string owner = {});
  void push_event(const std::string& frame);  // "event: x\ndata: {...}\n\n"
  void close();
  bool streaming() const { return streaming_; }

 private:
  void read();
  void write_next_event();
  void watch_for_close();
  // request_timer_ bounds whichever is under way: reading a request or writing an answer/frame.
  void arm_deadline(std::chrono::milliseconds limit);

  boost::asio::ip::tcp::socket socket_;
  HttpHandler& handler_;
  EventStreams& streams_;
  const HttpLimits& limits_;
  HttpRefusals& refusals_;
  boost::asio::steady_timer request_timer_;
  boost::beast::flat_buffer buffer_;
  std::unique_ptr<boost::beast::http::request_parser<boost::beast::http::string_body>> parser_;
  bool keep_alive_ = false;
  bool head_ = false;  // the request was HEAD: the answer goes without its body
  bool answered_ = false;  // send() or start_events() was called for the current request
  bool streaming_ = false;
  bool writing_ = false;
  bool closed_ = false;
  std::deque<std::string> outbox_;
};

// Everyone listening on /api/events. A slow reader that falls far behind is dropped.
class EventStreams {
 public:
  static constexpr std::size_t kMaxQueued = 10000;
  void add(std::weak_ptr<HttpSession> s, std::string owner) { sessions_.push_back({std::move(s), std::move(owner)}); }
  bool empty();
  std::size_t size();
  // data: a JSON object (one line).
  void broadcast(std::string_view event, const std::string& data);
  void ping();  // an SSE comment line to every stream
  void close_all();
  // Ends the streams `owner` opened (its token was taken back); returns how many.
  std::size_t close_owned_by(const std::string& owner);

 private:
  void push(const std::string& frame);
  struct Stream {
    std::weak_ptr<HttpSession> session;
    std::string owner;
  };
  std::list<Stream> sessions_;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, const std::string& host, std::uint16_t port, HttpHandler handler,
             HttpLimits limits = {});
  std::uint16_t port() const { return port_; }
  EventStreams& streams() { return streams_; }
  const HttpRefusals& refusals() const { return refusals_; }
  void start();
  void stop();

 private:
  void accept();
  void ping_streams();

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  HttpHandler handler_;
  HttpLimits limits_;
  boost::asio::steady_timer accept_timer_;
  boost::asio::steady_timer ping_timer_;
  EventStreams streams_;
  struct Open {
    std::weak_ptr<HttpSession> session;
    boost::asio::ip::address from;
  };
  std::list<Open> sessions_;
  HttpRefusals refusals_;
  std::uint16_t port_ = 0;
  bool stopped_ = false;
};

// Helpers for handlers.
HttpResponse json_response(const HttpRequest& req, unsigned status, std::string body);
HttpResponse error_response(const HttpRequest& req, unsigned status, const std::string& message);

}  // namespace kiosk::hub
