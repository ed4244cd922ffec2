// Test support for the alert integration tests: an in-process hub with its AlertService on its own io
// thread, a clock the test moves forward, and a tiny HTTP server that records webhook posts.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <future>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/json.hpp>

#include "http_client.hpp"
#include "kiosk/hub/alert_service.hpp"
#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk/hub/hub.hpp"
#include "kiosk_test.hpp"

namespace kiosk::test {

// The real clocks plus an offset the test advances: time-driven behaviour (escalation, resolution)
// without waiting for it. Thread-safe: the hub reads it on its io thread.
class ShiftedClock final : public hub::Clock {
 public:
  protocol::WallTime wall_now() const override {
    return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()) +
           std::chrono::milliseconds{offset_ms_.load() + wall_step_ms_.load()};
  }
  hub::SteadyTime steady_now() const override {
    return std::chrono::steady_clock::now() + std::chrono::milliseconds{offset_ms_.load()};
  }
  void advance(std::chrono::milliseconds d) { offset_ms_ += d.count(); }
  // The wall clock alone jumps (NTP on a board without RTC, a manual fix); steady time does not.
  void step_wall(std::chrono::milliseconds d) { wall_step_ms_ += d.count(); }

 private:
  std::atomic<long long> offset_ms_{0};
  std::atomic<long long> wall_step_ms_{0};
};

// An HTTP/1.1 server on 127.0.0.1:port that records every request and answers it with `status`.
class HookServer {
 public:
  struct Request {
    std::string method;
    std::string target;
    std::string body;
    std::string headers;  // the header lines as sent, after the request line

    // The value of header `name` (any case), or "" if it was not sent.
    std::string header(std::string_view name) const {
      const auto lower = [](std::string_view t) {
        std::string out;
        for (char ch : t) out += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        return out;
      };
      const std::string all = "\r\n" + lower(headers) + "\r\n";
      const auto at = all.find("\r\n" + lower(name) + ":");
      if (at == std::string::npos) return "";
      const auto from = at + 3 + name.size();
      std::string value = headers.substr(from - 2, all.find("\r\n", from) - from);
      value.erase(0, value.find_first_not_of(' '));
      return value;
    }
  };

  // The port is held from construction, so it stays this server's while it is "down".
  HookServer() = default;
  ~HookServer() {
    stop();
    if (tls_) SSL_CTX_free(tls_);
  }

  int port() const { return port_; }
  std::string url(const std::string& path = "/hook") const {
    return std::string(tls_ ? "https" : "http") + "://127.0.0.1:" + std::to_string(port_) + path;
  }

  // Serves https with this certificate and key (PEM files), before start().
  void use_tls(const std::string& cert_file, const std::string& key_file) {
    tls_ = SSL_CTX_new(TLS_server_method());
    if (!tls_ || SSL_CTX_use_certificate_chain_file(tls_, cert_file.c_str()) != 1 ||
        SSL_CTX_use_PrivateKey_file(tls_, key_file.c_str(), SSL_FILETYPE_PEM) != 1)
      throw std::runtime_error("hook server: cannot load " + cert_file + " / " + key_file);
  }
  // Connections whose TLS handshake failed (the client refused the certificate, say).
  int failed_handshakes() const { return failed_handshakes_; }

  void start(int status = 200) {
    status_ = status;
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    const sockaddr_in addr = net::loopback_address(port_);
    if (::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd_, 16) != 0)
      throw std::runtime_error("hook server cannot listen on " + std::to_string(port_));
    stop_ = false;
    thread_ = std::thread([this] { serve(); });
  }

  void stop() {
    if (!thread_.joinable()) return;
    stop_ = true;
    thread_.join();
    ::close(fd_);
  }

  std::vector<Request> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t count(const std::string& target) const {
    std::lock_guard lock(mutex_);
    std::size_t n = 0;
    for (const auto& r : requests_) n += r.target == target;
    return n;
  }
  std::size_t count() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

 private:
  void serve() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 20) <= 0) continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0) continue;
      const timeval two_seconds{2, 0};
      ::setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &two_seconds, sizeof two_seconds);
      SSL* ssl = nullptr;
      if (tls_) {
        ssl = SSL_new(tls_);
        SSL_set_fd(ssl, c);
        if (SSL_accept(ssl) != 1) {
          ++failed_handshakes_;
          SSL_free(ssl);
          ::close(c);
          continue;
        }
      }
      handle(c, ssl);
      if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
      }
      ::close(c);
    }
  }

  void handle(int c, SSL* ssl) {
    std::string in;
    char buf[4096];
    std::size_t header_end = std::string::npos;
    std::size_t length = 0;
    for (;;) {
      // Waits at most 2 s (SO_RCVTIMEO), through TLS too.
      const auto n = ssl ? SSL_read(ssl, buf, sizeof buf) : ::read(c, buf, sizeof buf);
      if (n <= 0) return;
      in.append(buf, static_cast<std::size_t>(n));
      if (header_end == std::string::npos) {
        header_end = in.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        std::string lower;
        for (char ch : in.substr(0, header_end)) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        if (auto pos = lower.find("content-length:"); pos != std::string::npos) length = std::stoul(lower.substr(pos + 15));
      }
      if (in.size() >= header_end + 4 + length) break;
    }
    Request r;
    auto sp1 = in.find(' ');
    auto sp2 = in.find(' ', sp1 + 1);
    r.method = in.substr(0, sp1);
    r.target = in.substr(sp1 + 1, sp2 - sp1 - 1);
    r.body = in.substr(header_end + 4, length);
    if (auto line_end = in.find("\r\n"); line_end < header_end) r.headers = in.substr(line_end + 2, header_end - line_end - 2);
    {
      // Recorded before it is answered: a client holding the answer finds its request here.
      std::lock_guard lock(mutex_);
      requests_.push_back(std::move(r));
    }
    std::string out = "HTTP/1.1 " + std::to_string(status_) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    if (ssl)
      SSL_write(ssl, out.data(), static_cast<int>(out.size()));
    else
      (void)::write(c, out.data(), out.size());
  }

  PortReservation reserved_;
  int port_ = reserved_.port();
  int fd_ = -1;
  int status_ = 200;
  SSL_CTX* tls_ = nullptr;
  std::atomic<int> failed_handshakes_{0};
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<Request> requests_;
};

// A hub with alerting, in this process, on its own io thread; locations and devices are registered
// directly in its store before it starts.
class AlertHub {
 public:
  struct Device {
    std::string id;
    std::string location;
  };

  AlertHub(const Broker& broker, const fs::path& dir, const std::string& alerts_json, std::vector<Device> devices,
           ShiftedClock& clock, std::string site = "test-site")
      : clock_(clock) {
    config_.broker_url = broker.url();
    config_.site = std::move(site);
    config_.db_path = (dir / "data" / "hub.db").string();
    config_.http_port = 0;
    config_.token_file = (dir / "data" / "hub.token").string();
    config_.log_level = "debug";
    config_.batch_window_us = 500;
    auto parsed = hub::parse_alert_config(alerts_json);
    if (!parsed) throw std::invalid_argument("alert config: " + parsed.error().message());
    hub_ = std::make_unique<hub::Hub>(io_, config_, clock_, log_, hub::make_open_accounts(io_));
    for (const auto& d : devices) {
      if (!hub_->registry().location(d.location)) {
        hub::LocationRecord l{d.location, d.location};
        if (auto e = hub_->store().save_location(l)) throw std::runtime_error(*e);
        hub_->registry().put_location(l);
      }
      if (hub_->registry().device(d.id)) continue;
      hub::DeviceRecord r;
      r.id = d.id;
      r.location = d.location;
      r.registered_at = clock_.wall_now();
      if (auto e = hub_->store().save_device(r)) throw std::runtime_error(*e);
      hub_->registry().put_device(r);
    }
    alerts_ = std::make_unique<hub::AlertService>(*hub_, std::move(*parsed));
    hub_->start();
    thread_ = std::thread([this] { io_.run(); });
    if (!wait_until([&] { return on_io([&] { return hub_->mqtt().connected(); }); }, 10s))
      throw std::runtime_error("the hub did not connect to the broker");
  }

  ~AlertHub() { stop(); }

  void stop() {
    if (!thread_.joinable()) return;
    on_io([&] {
      alerts_->stop();
      hub_->shutdown();
      return true;
    });
    work_.reset();
    io_.stop();
    thread_.join();
  }

  // Runs `f` on the hub's io thread and returns its result.
  template <class F>
  auto on_io(F f) -> decltype(f()) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io_, [&task] { task(); });
    return result.get();
  }

  int port() const { return hub_->http_port(); }
  bool connected() { return on_io([&] { return hub_->mqtt().connected(); }); }
  std::string token() const {
    std::ifstream in(config_.token_file);
    std::string t;
    std::getline(in, t);
    return t;
  }
  const std::string& site() const { return config_.site; }
  std::string press_topic(const std::string& device) const {
    return "kiosk/v1/" + config_.site + "/device/" + device + "/press";
  }
  std::string ack_topic(const std::string& device) const {
    return "kiosk/v1/" + config_.site + "/device/" + device + "/ack";
  }
  std::string alert_topic(const std::string& location) const { return "kiosk/v1/" + config_.site + "/alert/" + location; }
  hub::AlertService& alerts() { return *alerts_; }

 private:
  ShiftedClock& clock_;
  hub::Log log_{hub::LogLevel::info};
  hub::HubConfig config_;
  boost::asio::io_context io_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_{io_.get_executor()};
  std::unique_ptr<hub::Hub> hub_;
  std::unique_ptr<hub::AlertService> alerts_;
  std::thread thread_;
};

inline std::string press_json(std::uint64_t seq, int rating, int button = 0) {
  return R"({"seq":)" + std::to_string(seq) + R"(,"button":)" + std::to_string(button) + R"(,"rating":)" +
         std::to_string(rating) + R"(,"scale":4,"age_ms":0})";
}

}  // namespace kiosk::test
