// Beast HTTP sessions: read a request, let the hub answer it, write the answer, repeat while
// keep-alive; or stream Server-Sent Events until the client goes away.
#include "kiosk/hub/http_server.hpp"

#include <algorithm>

#include <boost/asio/write.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/json.hpp>

namespace kiosk::hub {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

HttpResponse json_response(const HttpRequest& req, unsigned status, std::string body) {
  HttpResponse res{static_cast<http::status>(status), req.version()};
  res.set(http::field::server, "kiosk-hub");
  res.set(http::field::content_type, "application/json");
  res.set(http::field::cache_control, "no-store");
  res.keep_alive(req.keep_alive());
  res.body() = std::move(body);
  res.prepare_payload();
  return res;
}

HttpResponse error_response(const HttpRequest& req, unsigned status, const std::string& message) {
  boost::json::object o;
  o["error"] = message;
  return json_response(req, status, boost::json::serialize(o));
}

HttpSession::HttpSession(tcp::socket socket, HttpHandler& handler, EventStreams& streams, const HttpLimits& limits,
                         HttpRefusals& refusals)
    : socket_(std::move(socket)),
      handler_(handler),
      streams_(streams),
      limits_(limits),
      refusals_(refusals),
      request_timer_(socket_.get_executor()) {}

void HttpSession::start() { read(); }

void HttpSession::read() {
  head_ = false;  // until this request says otherwise: a 400 for it is sent whole
  parser_ = std::make_unique<http::request_parser<http::string_body>>();
  parser_->body_limit(64 * 1024);
  parser_->header_limit(16 * 1024);
  arm_deadline(limits_.request_timeout);
  http::async_read(socket_, buffer_, *parser_, [self = shared_from_this()](boost::beast::error_code ec, std::size_t) {
    self->request_timer_.cancel();
    if (ec) {
      if (ec != http::error::end_of_stream && !self->closed_) {
        // A malformed request gets a 400 when we still can; then the connection closes.
        if (ec.category() == http::make_error_code(http::error::bad_target).category()) {
          HttpRequest dummy;
          dummy.version(11);
          auto res = ec == http::error::body_limit     ? error_response(dummy, 413, "request body over 64 KiB")
                     : ec == http::error::header_limit ? error_response(dummy, 431, "request headers over 16 KiB")
                                                       : error_response(dummy, 400, "bad request: " + ec.message());
          res.keep_alive(false);
          self->send(std::move(res));
          return;
        }
      }
      self->close();
      return;
    }
    HttpRequest req = self->parser_->release();
    self->keep_alive_ = req.keep_alive();
    self->head_ = req.method() == http::verb::head;
    self->answered_ = false;
    try {
      self->handler_(req, self);
    } catch (const std::exception& e) {
      // A database that fails under a query (an I/O error re-reading its schema on a dying card)
      // must cost this request, not the hub and every terminal's acks with it.
      if (!self->answered_) self->send(error_response(req, 503, std::string("the hub could not answer: ") + e.what()));
      else self->close();
    }
  });
}

void HttpSession::arm_deadline(std::chrono::milliseconds limit) {
  // The timer holds no reference: closing the socket ends the read or write, and with it the session.
  request_timer_.expires_after(limit);
  request_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
    if (ec) return;  // cancelled: done in time
    if (auto self = weak.lock()) self->close();
  });
}

void HttpSession::send(HttpResponse response) {
  if (closed_) return;
  answered_ = true;
  auto res = std::make_shared<HttpResponse>(std::move(response));
  if (!keep_alive_) res->keep_alive(false);
  arm_deadline(limits_.write_timeout);
  auto written = [self = shared_from_this(), res](boost::beast::error_code ec, std::size_t) {
    self->request_timer_.cancel();
    if (ec || !res->keep_alive()) {
      self->close();
      return;
    }
    self->read();
  };
  if (!head_) return http::async_write(socket_, *res, std::move(written));
  // HEAD: the same header, Content-Length included, and no body (RFC 9110 9.3.2); a body here
  // would be read by a keep-alive client as the start of the next answer.
  auto serializer = std::make_shared<http::response_serializer<http::string_body>>(*res);
  http::async_write_header(socket_, *serializer,
                           [serializer, written = std::move(written)](boost::beast::error_code ec, std::size_t n) {
                             written(ec, n);
                           });
}

void HttpSession::start_events(std::string owner) {
  if (closed_) return;
  if (streams_.size() >= limits_.max_streams) {
    ++refusals_.streams;
    return send(error_response(parser_->get(), 503,
                               "too many event streams are open (" + std::to_string(limits_.max_streams) +
                                   "): close a dashboard tab or an 'alerts --follow' elsewhere, or retry later"));
  }
  answered_ = true;
  streaming_ = true;
  outbox_.push_back(
      "HTTP/1.1 200 OK\r\nServer: kiosk-hub\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n"
      "Connection: close\r\n\r\n: kiosk-hub events\n\n");
  streams_.add(weak_from_this(), std::move(owner));
  write_next_event();
  watch_for_close();
}

void HttpSession::watch_for_close() {
  // Reading detects the client going away; whatever it sends meanwhile is ignored, and the read
  // goes on (a stray byte must not end the watch).
  auto buf = std::make_shared<std::array<char, 256>>();
  socket_.async_read_some(boost::asio::buffer(*buf), [self = shared_from_this(), buf](boost::system::error_code ec,
                                                                                     std::size_t) {
    if (ec) return self->close();
    if (!self->closed_) self->watch_for_close();
  });
}

void HttpSession::push_event(const std::string& frame) {
  if (closed_) return;
  if (outbox_.size() >= EventStreams::kMaxQueued) {
    close();
    return;
  }
  outbox_.push_back(frame);
  write_next_event();
}

void HttpSession::write_next_event() {
  if (writing_ || outbox_.empty() || closed_) return;
  writing_ = true;
  arm_deadline(limits_.write_timeout);
  boost::asio::async_write(socket_, boost::asio::buffer(outbox_.front()),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             self->request_timer_.cancel();
                             self->writing_ = false;
                             if (ec) {
                               self->close();
                               return;
                             }
                             self->outbox_.pop_front();
                             self->write_next_event();
                           });
}

void HttpSession::close() {
  if (closed_) return;
  closed_ = true;
  request_timer_.cancel();
  boost::system::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

bool EventStreams::empty() { return size() == 0; }

std::size_t EventStreams::size() {
  sessions_.remove_if([](const Stream& s) { return s.session.expired(); });
  return sessions_.size();
}

void EventStreams::broadcast(std::string_view event, const std::string& data) {
  if (sessions_.empty()) return;
  push("event: " + std::string(event) + "\ndata: " + data + "\n\n");
}

void EventStreams::ping() {
  if (sessions_.empty()) return;
  push(": ping\n\n");
}

void EventStreams::push(const std::string& frame) {
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (auto s = it->session.lock()) {
      s->push_event(frame);
      ++it;
    } else {
      it = sessions_.erase(it);
    }
  }
}

void EventStreams::close_all() {
  for (auto& stream : sessions_)
    if (auto s = stream.session.lock()) s->close();
  sessions_.clear();
}

std::size_t EventStreams::close_owned_by(const std::string& owner) {
  std::size_t closed = 0;
  if (owner.empty()) return closed;  // streams nobody's token can be taken back from
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    if (it->owner != owner) {
      ++it;
      continue;
    }
    if (auto s = it->session.lock()) {
      s->close();
      ++closed;
    }
    it = sessions_.erase(it);
  }
  return closed;
}

HttpServer::HttpServer(boost::asio::io_context& io, const std::string& host, std::uint16_t port, HttpHandler handler,
                       HttpLimits limits)
    : io_(io),
      acceptor_(io),
      handler_(std::move(handler)),
      limits_(limits),
      accept_timer_(io),
      ping_timer_(io) {
  tcp::endpoint endpoint{boost::asio::ip::make_address(host), port};
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(boost::asio::socket_base::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  port_ = acceptor_.local_endpoint().port();
}

void HttpServer::start() {
  accept();
  ping_streams();
}

void HttpServer::accept() {
  acceptor_.async_accept([this](boost::system::error_code ec, tcp::socket socket) {
    if (stopped_) return;
    if (ec) {
      // Out of file descriptors (or another transient failure): accepting again at once would
      // spin the hub's only thread, starving ingest and alerts. Wait, then try again.
      accept_timer_.expires_after(limits_.accept_retry);
      accept_timer_.async_wait([this](boost::system::error_code e) {
        if (!e && !stopped_) accept();
      });
      return;
    }
    sessions_.remove_if([](const auto& o) { return o.session.expired(); });
    boost::system::error_code peer_ec;
    auto from = socket.remote_endpoint(peer_ec).address();
    // On a dual-stack listener IPv4 clients come as ::ffff:a.b.c.d: one address, and loopback.
    if (from.is_v6() && from.to_v6().is_v4_mapped())
      from = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, from.to_v6());
    const auto exempt = !peer_ec && from.is_loopback() && !limits_.limit_loopback;
    const auto same_address = [&] {
      return static_cast<std::size_t>(
          std::count_if(sessions_.begin(), sessions_.end(), [&](const auto& o) { return o.from == from; }));
    };
    // Full, or full for this client: it sees the connection closed and may retry.
    if (sessions_.size() >= limits_.max_sessions) {
      ++refusals_.full;
      socket.close(ec);
    } else if (!exempt && same_address() >= limits_.max_sessions_per_address) {
      ++refusals_.per_address;
      socket.close(ec);
    } else {
      socket.set_option(tcp::no_delay(true), ec);
      auto session = std::make_shared<HttpSession>(std::move(socket), handler_, streams_, limits_, refusals_);
      sessions_.push_back(Open{session, from});
      session->start();
    }
    accept();
  });
}

void HttpServer::ping_streams() {
  ping_timer_.expires_after(limits_.ping_interval);
  ping_timer_.async_wait([this](boost::system::error_code ec) {
    if (ec || stopped_) return;
    streams_.ping();
    ping_streams();
  });
}

void HttpServer::stop() {
  stopped_ = true;
  accept_timer_.cancel();
  ping_timer_.cancel();
  boost::system::error_code ec;
  acceptor_.close(ec);
  streams_.close_all();
  for (auto& o : sessions_)
    if (auto s = o.session.lock()) s->close();
  sessions_.clear();
}

}  // namespace kiosk::hub
