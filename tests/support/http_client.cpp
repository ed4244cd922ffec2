// Synchronous Beast client: connect, write one request, read one response, close.
#include "http_client.hpp"

#include <array>

#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace kiosk::test {

namespace http = boost::beast::http;
using boost::asio::ip::tcp;

HttpResult http_request(int port, const std::string& method, const std::string& target, const std::string& body,
                        const std::string& token, std::chrono::milliseconds timeout, const std::string& host) {
  HttpResult result;
  try {
    boost::asio::io_context io;
    boost::beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
    http::request<http::string_body> req{http::string_to_verb(method), target, 11};
    req.set(http::field::host, host);
    if (!token.empty()) req.set(http::field::authorization, "Bearer " + token);
    if (!body.empty()) req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(stream, req);
    boost::beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(64u << 20);
    // An answer to HEAD has a Content-Length but no body: wait for the body and the read times out.
    parser.skip(req.method() == http::verb::head);
    http::read(stream, buffer, parser);
    const auto& res = parser.get();
    result.status = static_cast<int>(res.result_int());
    result.body = res.body();
    result.content_type = std::string(res[http::field::content_type]);
    boost::system::error_code ec;
    stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  } catch (const std::exception&) {
    result.status = 0;
  }
  return result;
}

}  // namespace kiosk::test

namespace kiosk::test {

struct EventStreamClient::Impl {
  boost::asio::io_context io;
  boost::beast::tcp_stream stream{io};
};

EventStreamClient::EventStreamClient(int port, const std::string& token) : impl_(std::make_unique<Impl>()) {
  impl_->stream.expires_after(std::chrono::seconds(10));
  impl_->stream.connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)));
  std::string req = "GET /api/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n" +
                    (token.empty() ? std::string() : "Authorization: Bearer " + token + "\r\n") + "\r\n";
  boost::asio::write(impl_->stream, boost::asio::buffer(req));
}

EventStreamClient::~EventStreamClient() = default;

EventStreamClient::Read EventStreamClient::read_until(std::chrono::steady_clock::time_point deadline) {
  const auto left = deadline - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) return Read::timed_out;
  std::array<char, 4096> buf{};
  impl_->stream.expires_after(left);
  boost::system::error_code ec;
  const auto n = impl_->stream.read_some(boost::asio::buffer(buf), ec);
  if (ec == boost::beast::error::timeout) return Read::timed_out;
  if (ec) return Read::closed;  // end of stream or reset
  received_.append(buf.data(), n);
  return Read::data;
}

bool EventStreamClient::wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (received_.find(needle) == std::string::npos)
    if (read_until(deadline) != Read::data) return received_.find(needle) != std::string::npos;
  return true;
}

bool EventStreamClient::wait_closed(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    const auto read = read_until(deadline);
    if (read != Read::data) return read == Read::closed;
  }
}

}  // namespace kiosk::test
