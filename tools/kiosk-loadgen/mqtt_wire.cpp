// MQTT 3.1.1 framing over an Asio socket: packets are appended to a buffer and written in batches.
#include "mqtt_wire.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

namespace kiosk::loadgen {

namespace {
void put16(std::string& out, std::size_t v) {
  out += static_cast<char>((v >> 8) & 0xff);
  out += static_cast<char>(v & 0xff);
}
void put_str(std::string& out, std::string_view s) {
  put16(out, s.size());
  out.append(s);
}
std::string packet(std::uint8_t header, const std::string& body) {
  std::string out;
  out += static_cast<char>(header);
  std::size_t len = body.size();
  do {
    std::uint8_t byte = len % 128;
    len /= 128;
    if (len > 0) byte |= 0x80;
    out += static_cast<char>(byte);
  } while (len > 0);
  return out + body;
}
}  // namespace

WireClient::WireClient(boost::asio::io_context& io, std::string client_id, OnMessage on_message, OnError on_error)
    : socket_(io), client_id_(std::move(client_id)), on_message_(std::move(on_message)), on_error_(std::move(on_error)) {}

void WireClient::connect_blocking(const std::string& host, std::uint16_t port) {
  socket_.connect({boost::asio::ip::make_address(host), port});
  socket_.set_option(boost::asio::ip::tcp::no_delay(true));
  std::string body;
  put_str(body, "MQTT");
  body += static_cast<char>(4);     // 3.1.1
  body += static_cast<char>(0x02);  // clean session
  put16(body, 0);                   // no keep-alive: runs are short
  put_str(body, client_id_);
  auto p = packet(0x10, body);
  boost::asio::write(socket_, boost::asio::buffer(p));
  std::array<char, 4> connack{};
  boost::asio::read(socket_, boost::asio::buffer(connack));
  if (static_cast<std::uint8_t>(connack[0]) != 0x20 || connack[3] != 0)
    throw std::runtime_error("broker refused the connection (CONNACK code " + std::to_string(connack[3]) + ")");
  connected_ = true;
  read();
}

void WireClient::subscribe(const std::string& filter, int qos) {
  std::string body;
  put16(body, next_id_++);
  put_str(body, filter);
  body += static_cast<char>(qos);
  send(packet(0x82, body));
}

void WireClient::publish(std::string_view topic, std::string_view payload, int qos) {
  std::string body;
  body.reserve(topic.size() + payload.size() + 4);
  put_str(body, topic);
  if (qos > 0) {
    if (next_id_ == 0) next_id_ = 1;
    put16(body, next_id_++);
  }
  body.append(payload);
  send(packet(static_cast<std::uint8_t>(0x30 | (qos << 1)), body));
}

void WireClient::send(std::string p) {
  if (closed_) return;
  pending_ += p;
  flush();
}

void WireClient::flush() {
  if (write_busy_ || pending_.empty() || closed_) return;
  write_busy_ = true;
  writing_.swap(pending_);
  pending_.clear();
  boost::asio::async_write(socket_, boost::asio::buffer(writing_),
                           [self = shared_from_this()](boost::system::error_code ec, std::size_t) {
                             self->write_busy_ = false;
                             self->writing_.clear();
                             if (ec) {
                               if (!self->closed_) self->on_error_("write: " + ec.message());
                               return;
                             }
                             self->flush();
                           });
}

void WireClient::read() {
  socket_.async_read_some(boost::asio::buffer(chunk_), [self = shared_from_this()](boost::system::error_code ec,
                                                                                  std::size_t n) {
    if (ec) {
      if (!self->closed_) self->on_error_("read: " + ec.message());
      return;
    }
    self->in_.append(self->chunk_.data(), n);
    std::size_t pos = 0;
    while (true) {
      if (self->in_.size() - pos < 2) break;
      std::size_t len = 0, mult = 1, i = pos + 1;
      bool complete = false;
      for (; i < self->in_.size() && i < pos + 5; ++i) {
        auto byte = static_cast<std::uint8_t>(self->in_[i]);
        len += (byte & 0x7f) * mult;
        mult *= 128;
        if (!(byte & 0x80)) {
          complete = true;
          ++i;
          break;
        }
      }
      if (!complete || self->in_.size() - i < len) break;
      self->handle(static_cast<std::uint8_t>(self->in_[pos]), std::string_view(self->in_).substr(i, len));
      pos = i + len;
    }
    self->in_.erase(0, pos);
    self->read();
  });
}

void WireClient::handle(std::uint8_t header, std::string_view body) {
  switch (header >> 4) {
    case 3: {  // PUBLISH
      int qos = (header >> 1) & 3;
      if (body.size() < 2) return;
      std::size_t tlen = (static_cast<std::uint8_t>(body[0]) << 8) | static_cast<std::uint8_t>(body[1]);
      auto topic = body.substr(2, tlen);
      std::size_t at = 2 + tlen;
      if (qos > 0) {
        std::string ack;
        ack += body[at];
        ack += body[at + 1];
        send(packet(0x40, ack));
        at += 2;
      }
      on_message_(topic, body.substr(at));
      break;
    }
    case 4:  // PUBACK
      ++pubacks_;
      break;
    case 9:  // SUBACK
      subscribed_ = true;
      break;
    default:
      break;
  }
}

void WireClient::close() {
  if (closed_) return;
  closed_ = true;
  boost::system::error_code ec;
  std::string disconnect("\xe0\x00", 2);
  boost::asio::write(socket_, boost::asio::buffer(disconnect), ec);
  socket_.close(ec);
}

}  // namespace kiosk::loadgen
