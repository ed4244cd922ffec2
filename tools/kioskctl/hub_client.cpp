// HubClient over Boost.Beast: one connection per request, timeouts on every step.
#include "hub_client.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "kiosk/net/url.hpp"

namespace kiosk::ctl {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

std::optional<HubUrl> HubUrl::parse(std::string_view text) {
  auto url = net::parse_url(text);
  if (!url || url->scheme != "http") return std::nullopt;
  HubUrl out;
  out.host = url->host;
  if (!url->port.empty()) out.port = url->port;
  out.base = url->path;
  while (!out.base.empty() && out.base.back() == '/') out.base.pop_back();
  return out;
}

std::vector<ServerEvent> EventStreamParser::feed(std::string_view bytes) {
  std::vector<ServerEvent> out;
  for (char c : bytes) {
    if (c != '\n') {
      line_ += c;
      continue;
    }
    if (!line_.empty() && line_.back() == '\r') line_.pop_back();
    if (line_.empty()) {  // a blank line ends an event
      if (has_data_) out.push_back(std::move(current_));
      current_ = ServerEvent{};
      has_data_ = false;
    } else if (line_.front() != ':') {
      auto colon = line_.find(':');
      std::string field = line_.substr(0, colon);
      std::string value = colon == std::string::npos ? "" : line_.substr(colon + 1);
      if (!value.empty() && value.front() == ' ') value.erase(0, 1);
      if (field == "event") {
        current_.event = value;
      } else if (field == "data") {
        current_.data += (has_data_ ? "\n" : "") + value;
        has_data_ = true;
      }
    }
    line_.clear();
  }
  return out;
}

HubClient::HubClient(HubUrl url, std::optional<std::string> token, std::chrono::seconds timeout)
    : url_(std::move(url)), token_(std::move(token)), timeout_(timeout) {}

namespace {

template <class Request>
void add_headers(Request& req, const HubUrl& url, const std::optional<std::string>& token) {
  // An IPv6 address goes back into its brackets (RFC 7230 5.4).
  const bool v6 = url.host.find(':') != std::string::npos;
  req.set(http::field::host, (v6 ? "[" + url.host + "]" : url.host) + ":" + url.port);
  req.set(http::field::user_agent, "kioskctl/" KIOSK_VERSION);
  if (token) req.set(http::field::authorization, "Bearer " + *token);
}

// Runs one asynchronous operation to completion: tcp_stream's timeouts apply to async operations only.
template <class Start>
beast::error_code complete(asio::io_context& io, Start start) {
  beast::error_code result;
  start([&result](beast::error_code ec, auto&&...) { result = ec; });
  io.restart();
  io.run();
  return result;
}

void connect(asio::io_context& io, beast::tcp_stream& stream, const HubUrl& url, std::chrono::seconds timeout) {
  tcp::resolver resolver(io);
  beast::error_code ec;
  auto endpoints = resolver.resolve(url.host, url.port, ec);
  if (ec) throw HubUnreachable("cannot resolve " + url.host + ": " + ec.message());
  stream.expires_after(timeout);
  ec = complete(io, [&](auto handler) { stream.async_connect(endpoints, std::move(handler)); });
  if (ec) throw HubUnreachable("cannot connect to the hub at " + url.host + ":" + url.port + ": " + ec.message());
}

}  // namespace

HttpReply HubClient::request(bool post, const std::string& target, const std::string& body) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  connect(io, stream, url_, timeout_);
  http::request<http::string_body> req{post ? http::verb::post : http::verb::get, url_.base + target, 11};
  add_headers(req, url_, token_);
  if (post) {
    req.set(http::field::content_type, "application/json");
    req.body() = body;
  }
  req.prepare_payload();
  stream.expires_after(timeout_);
  auto ec = complete(io, [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
  if (ec) throw HubUnreachable("sending to the hub failed: " + ec.message());
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(64 * 1024 * 1024);
  stream.expires_after(timeout_);
  ec = complete(io, [&](auto handler) { http::async_read(stream, buffer, parser, std::move(handler)); });
  if (ec) throw HubUnreachable("no answer from the hub: " + ec.message());
  stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  auto res = parser.release();
  return HttpReply{res.result_int(), std::move(res.body())};
}

HttpReply HubClient::get(const std::string& target) { return request(false, target, {}); }
HttpReply HubClient::post(const std::string& target, const std::string& json_body) { return request(true, target, json_body); }

HubClient::StreamEnd HubClient::events(const std::string& target, const std::function<void()>& opened,
                                       const std::function<bool(const ServerEvent&)>& on_event,
                                       std::chrono::steady_clock::time_point deadline,
                                       std::chrono::milliseconds silence) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  connect(io, stream, url_, timeout_);
  http::request<http::empty_body> req{http::verb::get, url_.base + target, 11};
  add_headers(req, url_, token_);
  req.set(http::field::accept, "text/event-stream");
  stream.expires_after(timeout_);
  auto ec = complete(io, [&](auto handler) { http::async_write(stream, req, std::move(handler)); });
  if (ec) throw HubUnreachable("sending to the hub failed: " + ec.message());

  // The header first; the body is an endless stream read as it comes.
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  parser.body_limit(boost::none);
  stream.expires_after(timeout_);
  ec = complete(io, [&](auto handler) { http::async_read_header(stream, buffer, parser, std::move(handler)); });
  if (ec) throw HubUnreachable("no answer from the hub: " + ec.message());
  if (parser.get().result_int() != 200) {
    // Drain a small error body for the message.
    std::string body;
    char chunk[4096];
    while (!parser.is_done()) {
      parser.get().body().data = chunk;
      parser.get().body().size = sizeof(chunk);
      stream.expires_after(timeout_);
      ec = complete(io, [&](auto handler) { http::async_read_some(stream, buffer, parser, std::move(handler)); });
      body.append(chunk, sizeof(chunk) - parser.get().body().size);
      if (ec && ec != http::error::need_buffer) break;
      if (body.size() > 65536) break;
    }
    throw std::runtime_error(hub_error_message(HttpReply{parser.get().result_int(), body}));
  }
  if (opened) opened();
  EventStreamParser events;
  char chunk[8192];
  while (true) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return StreamEnd::timeout;
    const bool silence_first = deadline - now > silence;
    stream.expires_after(silence_first ? std::chrono::steady_clock::duration(silence) : deadline - now);
    parser.get().body().data = chunk;
    parser.get().body().size = sizeof(chunk);
    // read_some: an event must come out as soon as its bytes do, not when the buffer is full.
    ec = complete(io, [&](auto handler) { http::async_read_some(stream, buffer, parser, std::move(handler)); });
    const auto got = sizeof(chunk) - parser.get().body().size;
    for (const auto& e : events.feed(std::string_view(chunk, got))) {
      if (!on_event(e)) return StreamEnd::stopped;
    }
    if (ec == beast::error::timeout) return silence_first ? StreamEnd::silent : StreamEnd::timeout;
    if (ec == http::error::need_buffer) continue;
    if (ec || parser.is_done()) return StreamEnd::closed;
  }
}

std::string hub_error_message(const HttpReply& reply) {
  boost::json::error_code ec;
  auto v = boost::json::parse(reply.body, ec);
  if (!ec && v.is_object()) {
    if (const auto* e = v.get_object().if_contains("error"); e != nullptr && e->is_string()) {
      return std::string(e->get_string());
    }
  }
  std::string body = reply.body.substr(0, 200);
  while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
  return "HTTP " + std::to_string(reply.status) + (body.empty() ? "" : ": " + body);
}

}  // namespace kiosk::ctl
