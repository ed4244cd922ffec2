// The hub's HTTP server under clients that misbehave: idle and trickling connections are closed,
// event streams are pinged, connections beyond the cap are refused, the rest keep working.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <future>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "kiosk/hub/http_server.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
using kiosk::hub::HttpLimits;
using kiosk::hub::HttpRequest;
using kiosk::hub::HttpServer;
using kiosk::hub::HttpSession;

namespace {

// An HttpServer on 127.0.0.1 with its own io thread; GET /events streams, GET /big gets 32 MB
// (more than the sockets' buffers hold), anything else gets "ok".
struct Server {
  boost::asio::io_context io;
  HttpServer server;
  std::thread thread;

  explicit Server(HttpLimits limits)
      : server(io, "127.0.0.1", 0,
               [](const HttpRequest& req, std::shared_ptr<HttpSession> s) {
                 if (req.target() == "/events") return s->start_events();
                 if (req.target() == "/throw") throw std::runtime_error("disk I/O error");
                 if (req.target() == "/big")
                   return s->send(kiosk::hub::json_response(req, 200, "\"" + std::string(32 << 20, 'x') + "\""));
                 s->send(kiosk::hub::json_response(req, 200, R"({"ok":true})"));
               },
               limits) {
    server.start();
    thread = std::thread([this] { io.run(); });
  }
  ~Server() {
    boost::asio::post(io, [this] { server.stop(); });
    thread.join();
  }
};

// A raw client socket whose reads give up after `timeout`.
struct Client {
  int fd;
  explicit Client(int port, std::chrono::milliseconds timeout = 5s) : fd(kiosk::net::connect_loopback(port)) {
    REQUIRE(fd >= 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  }
  ~Client() { ::close(fd); }
  void send(const std::string& s) { REQUIRE(::send(fd, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size())); }
  // Reads until `want` is in what arrived, the server closes (returns what came), or the timeout.
  std::string read_until(const std::string& want, bool& closed) {
    std::string got;
    closed = false;
    char buf[4096];
    while (got.find(want) == std::string::npos) {
      const auto n = ::recv(fd, buf, sizeof buf, 0);
      if (n == 0) {
        closed = true;
        break;
      }
      if (n < 0) {
        closed = errno == ECONNRESET;  // else the read timed out
        break;
      }
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }
  // True when the server closes the connection within the read timeout.
  bool closed_by_server() {
    bool closed = false;
    read_until("\x01never\x01", closed);
    return closed;
  }
};

const std::string kGet = "GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";

// A GET on `c`, answered: the connection is one of the server's sessions.
void require_served(Client& c) {
  bool closed = false;
  c.send(kGet);
  REQUIRE_THAT(c.read_until(R"({"ok":true})", closed), Catch::Contains("200 OK"));
}

}  // namespace

TEST_CASE("an idle connection and a trickled request are closed after the request timeout", "[http]") {
  Server s(HttpLimits{.request_timeout = 200ms});
  const auto started = std::chrono::steady_clock::now();
  Client idle(s.server.port());
  Client slow(s.server.port());
  slow.send("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\n");  // the blank line never comes
  CHECK(idle.closed_by_server());
  CHECK(slow.closed_by_server());
  // Closed by the limit, not by the client's own 5 s read timeout.
  CHECK(std::chrono::steady_clock::now() - started < 4s);
}

TEST_CASE("a kept-alive client is answered, then closed once it stays idle", "[http]") {
  Server s(HttpLimits{.request_timeout = 300ms});
  Client c(s.server.port());
  bool closed = false;
  c.send(kGet);
  CHECK_THAT(c.read_until(R"({"ok":true})", closed), Catch::Contains("200 OK"));
  CHECK_FALSE(closed);
  c.send(kGet);  // the same connection serves the next request
  CHECK_THAT(c.read_until(R"({"ok":true})", closed), Catch::Contains("200 OK"));
  CHECK(c.closed_by_server());
}

TEST_CASE("an event stream outlives the request timeout and gets a ping comment line", "[http]") {
  Server s(HttpLimits{.request_timeout = 100ms, .ping_interval = 150ms});
  Client c(s.server.port(), 3s);
  c.send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  bool closed = false;
  const auto got = c.read_until(": ping\n\n", closed);
  CHECK_FALSE(closed);
  CHECK_THAT(got, Catch::Contains("text/event-stream") && Catch::Contains(": ping\n\n"));
  // Still open after several request timeouts: streams are not requests.
  CHECK_THAT(c.read_until(": ping\n\n", closed), Catch::Contains(": ping"));
  CHECK_FALSE(closed);
}

TEST_CASE("a client that stops reading its answer or its event stream is closed after the write timeout", "[http]") {
  // One connection allowed: while a stalled client holds it, others are turned away; once the
  // write timeout closes the stalled one, the next client is served.
  Server s(HttpLimits{.request_timeout = 5s, .write_timeout = 300ms, .max_sessions = 1});
  bool closed = false;
  {
    Client stalled(s.server.port());
    stalled.send("GET /big HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");  // and never reads
    CHECK(wait_until([&] {
      Client next(s.server.port(), 2s);
      next.send(kGet);
      return next.read_until(R"({"ok":true})", closed).find("200 OK") != std::string::npos;
    }, 10s, 50ms));
  }
  // An event stream whose client reads nothing while frames pile up: the same. (The last client
  // above may still hold the one slot for a moment: the server sees its close when it reads.)
  std::unique_ptr<Client> listener;
  REQUIRE(wait_until([&] {
    listener = std::make_unique<Client>(s.server.port(), 2s);
    listener->send("GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    return listener->read_until("kiosk-hub events", closed).find("text/event-stream") != std::string::npos;
  }, 10s, 50ms));
  const std::string frame(1 << 20, 'y');
  CHECK(wait_until([&] {
    boost::asio::post(s.io, [&s, frame] { s.server.streams().broadcast("big", "\"" + frame + "\""); });
    Client next(s.server.port(), 2s);
    next.send(kGet);
    return next.read_until(R"({"ok":true})", closed).find("200 OK") != std::string::npos;
  }, 10s, 50ms));
}

TEST_CASE("a handler that throws gets its client a 503 with the reason, and the server goes on", "[http]") {
  Server s(HttpLimits{});
  Client c(s.server.port());
  bool closed = false;
  c.send("GET /throw HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  CHECK_THAT(c.read_until("}", closed), Catch::Contains("503") && Catch::Contains("the hub could not answer: disk I/O error"));
  c.send(kGet);
  CHECK_THAT(c.read_until(R"({"ok":true})", closed), Catch::Contains("200 OK"));
}

TEST_CASE("a body or headers over the limits get 413 and 431 with a reason", "[http]") {
  Server s(HttpLimits{});
  bool closed = false;
  Client big(s.server.port());
  big.send("POST /x HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100000\r\n\r\n");
  CHECK_THAT(big.read_until("}", closed), Catch::Contains("413") && Catch::Contains("over 64 KiB"));
  Client headers(s.server.port());
  headers.send("GET /x HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Junk: " + std::string(20000, 'j') + "\r\n\r\n");
  CHECK_THAT(headers.read_until("}", closed), Catch::Contains("431") && Catch::Contains("over 16 KiB"));
}


TEST_CASE("HEAD gets GET's header with its Content-Length and no body, and the connection goes on", "[http]") {
  Server s(HttpLimits{});
  Client c(s.server.port());
  bool closed = false;
  c.send("HEAD /x HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
  const auto head = c.read_until("\r\n\r\n", closed);
  CHECK_THAT(head, Catch::Contains("200 OK") && Catch::Contains("Content-Length: 11"));
  // The next answer on the same connection starts right after that header: a body sent for the
  // HEAD would come first and be taken for the start of it.
  c.send(kGet);
  const auto next = c.read_until(R"({"ok":true})", closed);
  CHECK(next.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK_FALSE(closed);
}

namespace {
kiosk::hub::HttpRefusals refusals_of(Server& s) {
  std::promise<kiosk::hub::HttpRefusals> got;
  boost::asio::post(s.io, [&] { got.set_value(s.server.refusals()); });
  return got.get_future().get();
}
}  // namespace

TEST_CASE("event streams beyond their own cap get a 503 that says why, and requests still get in", "[http]") {
  Server s(HttpLimits{.ping_interval = 10s, .max_sessions = 8, .max_streams = 2});
  Client one(s.server.port()), two(s.server.port()), three(s.server.port());
  bool closed = false;
  const std::string events = "GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
  one.send(events);
  REQUIRE_THAT(one.read_until("kiosk-hub events\n\n", closed), Catch::Contains("text/event-stream"));
  two.send(events);
  REQUIRE_THAT(two.read_until("kiosk-hub events\n\n", closed), Catch::Contains("text/event-stream"));
  three.send(events);
  const auto refused = three.read_until("retry later\"}", closed);
  CHECK_THAT(refused, Catch::Contains("503") && Catch::Contains("too many event streams are open (2)"));
  CHECK_FALSE(closed);
  three.send(kGet);  // the refused connection goes on as an ordinary one
  CHECK_THAT(three.read_until(R"({"ok":true})", closed), Catch::Contains("200 OK"));
  CHECK(refusals_of(s).streams == 1);
  CHECK(refusals_of(s).full == 0);
}

TEST_CASE("a connection beyond a cap, of all sessions or of one address's, is closed at once and counted while the "
          "others are served",
          "[http]") {
  struct Cap {
    HttpLimits limits;
    std::uint64_t full, per_address;  // refusals expected
  };
  for (const auto& cap : {Cap{HttpLimits{.max_sessions = 2}, 1, 0},
                          Cap{HttpLimits{.max_sessions = 8, .max_sessions_per_address = 2, .limit_loopback = true}, 0, 1}}) {
    Server s(cap.limits);
    Client a(s.server.port());
    Client b(s.server.port());
    // Both are sessions once they have been answered.
    require_served(a);
    require_served(b);
    {
      Client extra(s.server.port());
      CHECK(extra.closed_by_server());
    }
    require_served(a);
    CHECK(refusals_of(s).full == cap.full);
    CHECK(refusals_of(s).per_address == cap.per_address);
  }
}

TEST_CASE("loopback clients are not capped per address by default (a local reverse proxy, kioskctl)", "[http]") {
  Server s(HttpLimits{.max_sessions = 8, .max_sessions_per_address = 1});
  Client a(s.server.port());
  Client b(s.server.port());
  require_served(a);
  require_served(b);
  CHECK(refusals_of(s).per_address == 0);
}
