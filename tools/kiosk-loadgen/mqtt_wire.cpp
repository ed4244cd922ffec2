// MQTT 3.1.1 over an Asio socket with the shared codec: packets are appended to a buffer and
// written in batches; reads go straight into the decoder.
#include "mqtt_wire.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <stdexcept>

namespace kiosk::loadgen {

WireClient::WireClient(boost::asio::io_context& io, std::string client_id, OnMessage on_message, OnError on_error)
    : io_(io), socket_(io), client_id_(std::move(client_id)), on_message_(std::move(on_message)), on_error_(std::move(on_error)) {}

void WireClient::connect_blocking(const std::string& host, std::uint16_t port) {
  socket_.connect({boost::asio::ip::make_address(host), port});
  socket_.set_option(boost::asio::ip::tcp::no_delay(true));
  std::string p;
  // Clean session, no keep-alive: runs are short.
  mqtt::encode_connect(p, mqtt::ConnectRequest{client_id_, true, 0, std::nullopt, std::nullopt, std::nullopt});
  boost::asio::write(socket_, boost::asio::buffer(p));
  std::array<char, 4> connack{};
  boost::asio::read(socket_, boost::asio::buffer(connack));
  mqtt::Packet packet{static_cast<std::uint8_t>(connack[0]), std::string_view(connack.data() + 2, 2)};
  auto ack = mqtt::parse_connack(packet);
  if (!ack) throw std::runtime_error("unexpected answer to CONNECT: " + ack.error().message());
  if (ack->return_code != 0) throw std::runtime_error("broker refused the connection: " + mqtt::connack_reason(ack->return_code));
  connected_ = true;
  read();
}

void WireClient::subscribe(const std::string& filter, int qos) {
  if (closed_) return;
  mqtt::encode_subscribe(pending_, next_id_++, {{filter, qos}});
  flush();
}

void WireClient::publish(std::string_view topic, std::string_view payload, int qos) {
  if (closed_) return;
  std::uint16_t id = 0;
  if (qos > 0) {
    if (next_id_ == 0) next_id_ = 1;
    id = next_id_++;
  }
  mqtt::encode_publish(pending_, topic, payload, qos, false, false, id);
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
  char* at = in_.prepare(65536);
  socket_.async_read_some(boost::asio::buffer(at, in_.capacity_after_prepare()),
                          [self = shared_from_this()](boost::system::error_code ec, std::size_t n) {
                            if (ec) {
                              if (!self->closed_) self->on_error_("read: " + ec.message());
                              return;
                            }
                            self->in_.commit(n);
                            mqtt::Packet packet;
                            mqtt::Decoder::Status status;
                            while ((status = self->in_.next(packet)) == mqtt::Decoder::Status::packet)
                              self->handle(packet);
                            if (status == mqtt::Decoder::Status::failed) {
                              if (!self->closed_) self->on_error_("read: " + self->in_.error());
                              return;
                            }
                            self->read();
                          });
}

void WireClient::handle(const mqtt::Packet& packet) {
  switch (packet.type()) {
    case mqtt::PacketType::publish: {
      auto m = mqtt::parse_publish(packet);
      if (!m) return;
      if (m->qos > 0) {
        mqtt::encode_puback(pending_, m->packet_id);
        flush();
      }
      on_message_(m->topic, m->payload);
      break;
    }
    case mqtt::PacketType::puback:
      ++pubacks_;
      break;
    case mqtt::PacketType::suback:
      subscribed_ = true;
      break;
    default:
      break;
  }
}

void WireClient::close() {
  if (closed_) return;
  closed_ = true;  // no new writes start; errors are no longer reported
  // The write under way finishes first: a DISCONNECT written into the middle of its packets would
  // garble the stream (the broker would drop the connection as a protocol error). Then what is
  // still queued (PUBACKs) and the DISCONNECT last.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (write_busy_ && !io_.stopped() && std::chrono::steady_clock::now() < deadline) io_.run_one_until(deadline);
  boost::system::error_code ec;
  if (!write_busy_) {
    mqtt::encode_disconnect(pending_);
    boost::asio::write(socket_, boost::asio::buffer(pending_), ec);
    pending_.clear();
  }
  socket_.close(ec);
}

}  // namespace kiosk::loadgen
