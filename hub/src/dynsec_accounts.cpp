// Broker accounts over mosquitto's dynamic-security plugin: commands on $CONTROL/dynamic-security/v1.
#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <map>
#include <memory>
#include <stdexcept>
#include <utility>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <mqtt/async_client.h>

#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk/hub/dynsec_commands.hpp"

namespace kiosk::hub {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;

constexpr auto kAnswerTimeout = 5s;
constexpr auto kConnectTimeout = 10s;

// 24 random bytes, base64url: 32 characters a device stores in its 0600 config file.
std::string generate_password() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::array<std::uint8_t, 24> bytes{};
  if (!urandom.read(reinterpret_cast<char*>(bytes.data()), bytes.size())) {
    throw std::runtime_error("cannot read /dev/urandom");
  }
  return dynsec::base64url(bytes);
}

// What to make of the responses of one batch: an error or success (with credentials to hand out).
struct Operation {
  std::function<bool(const dynsec::Response&)> tolerated;
  std::optional<BrokerCredentials> credentials;
  AccountsDone done;
  std::unique_ptr<asio::steady_timer> timer;
};

// Everything that Paho's threads may reach lives here, owned by a shared_ptr; Paho callbacks
// hold a weak_ptr and only post into the io_context, where all state is touched.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::io_context& io, DynsecSettings settings)
      : io_(io),
        settings_(std::move(settings)),
        client_(settings_.broker_url, "kiosk-hub-" + settings_.site + "-dynsec") {}

  void start() {
    std::weak_ptr<Session> weak = shared_from_this();
    client_.set_message_callback([weak](::mqtt::const_message_ptr msg) {
      auto self = weak.lock();
      if (!self) return;
      auto payload = msg->to_string();
      if (self->take_sync_answer(payload)) return;
      asio::post(self->io_, [weak, payload = std::move(payload)] {
        if (auto s = weak.lock()) s->on_response(payload);
      });
    });
    // After an automatic reconnect the clean session has lost the subscription.
    client_.set_connected_handler([weak](const std::string&) {
      auto self = weak.lock();
      if (!self) return;
      try {
        self->client_.subscribe(std::string(dynsec::kResponseTopic), 1);
      } catch (const ::mqtt::exception&) {
      }
      std::lock_guard lock(self->sync_mutex_);
      ++self->connects_;
      self->sync_cv_.notify_all();
    });
    auto builder = ::mqtt::connect_options_builder()
                       .clean_session(true)
                       .keep_alive_interval(30s)
                       .connect_timeout(kConnectTimeout)
                       .automatic_reconnect(1s, 30s)
                       .user_name(settings_.username)
                       .password(settings_.password);
    if (!settings_.ca_file.empty() || settings_.broker_url.rfind("ssl://", 0) == 0) {
      // Without a CA file the system's trust store decides; the server is verified either way.
      auto ssl = ::mqtt::ssl_options_builder().enable_server_cert_auth(true).verify(true);
      if (!settings_.ca_file.empty()) ssl.trust_store(settings_.ca_file);
      if (!settings_.cert_file.empty()) ssl.key_store(settings_.cert_file);
      if (!settings_.key_file.empty()) ssl.private_key(settings_.key_file);
      builder.ssl(ssl.finalize());
    }
    // Start-up is a boundary: wrong admin credentials or an unreachable broker fail loudly here.
    try {
      auto tok = client_.connect(builder.finalize());
      if (!tok->wait_for(kConnectTimeout + 1s) || !client_.is_connected()) {
        throw std::runtime_error("no answer");
      }
      auto sub = client_.subscribe(std::string(dynsec::kResponseTopic), 1);
      if (!sub->wait_for(kConnectTimeout)) throw std::runtime_error("no SUBACK for the response topic");
    } catch (const std::exception& e) {
      throw std::runtime_error("dynamic-security: cannot connect to " + settings_.broker_url + " as " +
                               settings_.username + ": " + e.what() +
                               " (check the broker URL and the admin credentials)");
    }
    bootstrap();
  }

  void stop() {
    stopped_ = true;
    try {
      if (client_.is_connected()) client_.disconnect()->wait_for(2s);
    } catch (const ::mqtt::exception&) {
    }
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [tag, op] : pending) finish(op, AccountsResult{"dynamic-security: stopped", std::nullopt});
  }

  // Sends one batch; `done` runs on the io_context with the outcome.
  void submit(std::vector<boost::json::object> commands, std::function<bool(const dynsec::Response&)> tolerated,
              std::optional<BrokerCredentials> credentials, AccountsDone done) {
    auto self = shared_from_this();
    asio::post(io_, [self, commands = std::move(commands), tolerated = std::move(tolerated),
                     credentials = std::move(credentials), done = std::move(done)]() mutable {
      self->send(std::move(commands), std::move(tolerated), std::move(credentials), std::move(done));
    });
  }

  const DynsecSettings& settings() const { return settings_; }

 private:
  // The site's hub and manager roles, and the hub's own rights; idempotent on every start.
  // Runs before the io_context does, with blocking waits: granting the hub role to the admin
  // client makes mosquitto disconnect every session of that client, this one included.
  void bootstrap() {
    const auto& site = settings_.site;
    auto first = sync_call({dynsec::set_default_acl_access(),
                            dynsec::create_role(dynsec::hub_role(site), dynsec::hub_acls(site)),
                            dynsec::create_role(dynsec::manager_role(site), dynsec::manager_acls(site)),
                            dynsec::get_client(settings_.username)});
    if (auto error = dynsec::first_error(first, dynsec::is_already_exists)) {
      throw std::runtime_error("dynamic-security: cannot set up the site roles: " + *error);
    }
    if (has_hub_role(first.back())) return;
    int connects_before = 0;
    {
      std::lock_guard lock(sync_mutex_);
      connects_before = connects_;
    }
    const auto grant = dynsec::batch("grant", {dynsec::add_client_role(settings_.username, dynsec::hub_role(site))});
    try {
      client_.publish(std::string(dynsec::kCommandTopic), grant.data(), grant.size(), 1, false)->wait_for(kAnswerTimeout);
    } catch (const ::mqtt::exception&) {
      // The kick may beat the PUBACK; the check below tells whether the grant happened.
    }
    {
      std::unique_lock lock(sync_mutex_);
      sync_cv_.wait_for(lock, kConnectTimeout, [&] { return connects_ > connects_before && client_.is_connected(); });
    }
    try {
      client_.subscribe(std::string(dynsec::kResponseTopic), 1)->wait_for(kAnswerTimeout);
    } catch (const ::mqtt::exception&) {
      // sync_call's retries cover a subscription that is late or lost.
    }
    auto check = sync_call({dynsec::get_client(settings_.username)});
    if (check.empty() || !has_hub_role(check.back())) {
      throw std::runtime_error("dynamic-security: could not give " + settings_.username + " the role " +
                               dynsec::hub_role(site));
    }
  }

  bool has_hub_role(const dynsec::Response& get_client) const {
    auto roles = dynsec::client_roles(get_client);
    if (!roles) {
      throw std::runtime_error("dynamic-security: the broker does not know the admin client " + settings_.username);
    }
    return std::find(roles->begin(), roles->end(), dynsec::hub_role(settings_.site)) != roles->end();
  }

  // Publishes a batch and waits for its answer on the calling thread (start-up only).
  std::vector<dynsec::Response> sync_call(std::vector<boost::json::object> commands) {
    const auto tag = "s" + std::to_string(++next_tag_);
    const auto payload = dynsec::batch(tag, std::move(commands));
    std::unique_lock lock(sync_mutex_);
    sync_tag_ = tag;
    sync_answer_.reset();
    lock.unlock();
    try {
      // The subscription made by the connected handler may still be in flight; a retry after
      // a short wait covers it without a race on the very first command.
      for (int attempt = 0; attempt < 3; ++attempt) {
        client_.publish(std::string(dynsec::kCommandTopic), payload.data(), payload.size(), 1, false);
        lock.lock();
        bool answered = sync_cv_.wait_for(lock, attempt < 2 ? 2s : kAnswerTimeout, [&] { return sync_answer_.has_value(); });
        lock.unlock();
        if (answered) break;
      }
    } catch (const ::mqtt::exception& e) {
      throw std::runtime_error(std::string("dynamic-security: publish failed: ") + e.what());
    }
    lock.lock();
    sync_tag_.reset();
    if (!sync_answer_) throw std::runtime_error("dynamic-security: no answer from the broker (is the plugin loaded?)");
    auto answer = dynsec::parse_responses(*sync_answer_);
    if (!answer) throw std::runtime_error("dynamic-security: unreadable answer from the broker");
    return *answer;
  }

  // Called on Paho's thread: true when the message answers the pending start-up call.
  bool take_sync_answer(const std::string& payload) {
    std::lock_guard lock(sync_mutex_);
    if (!sync_tag_) return false;
    auto responses = dynsec::parse_responses(payload);
    if (!responses || responses->empty()) return false;
    auto corr = dynsec::parse_correlation(responses->front().correlation);
    if (!corr || corr->tag != *sync_tag_) return false;
    if (!sync_answer_) sync_answer_ = payload;
    sync_cv_.notify_all();
    return true;
  }

  void send(std::vector<boost::json::object> commands, std::function<bool(const dynsec::Response&)> tolerated,
            std::optional<BrokerCredentials> credentials, AccountsDone done) {
    Operation op{std::move(tolerated), std::move(credentials), std::move(done), nullptr};
    if (stopped_) return finish(op, AccountsResult{"dynamic-security: stopped", std::nullopt});
    const auto tag = "k" + std::to_string(++next_tag_);
    const auto payload = dynsec::batch(tag, std::move(commands));
    try {
      if (!client_.is_connected()) {
        return finish(op, AccountsResult{"dynamic-security: not connected to the broker", std::nullopt});
      }
      client_.publish(std::string(dynsec::kCommandTopic), payload.data(), payload.size(), 1, false);
    } catch (const ::mqtt::exception& e) {
      return finish(op, AccountsResult{std::string("dynamic-security: publish failed: ") + e.what(), std::nullopt});
    }
    op.timer = std::make_unique<asio::steady_timer>(io_, kAnswerTimeout);
    std::weak_ptr<Session> weak = shared_from_this();
    op.timer->async_wait([weak, tag](const boost::system::error_code& ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->on_timeout(tag);
    });
    pending_.emplace(tag, std::move(op));
  }

  void on_timeout(const std::string& tag) {
    auto it = pending_.find(tag);
    if (it == pending_.end()) return;
    auto op = std::move(it->second);
    pending_.erase(it);
    finish(op, AccountsResult{"dynamic-security: no answer from the broker within 5 s", std::nullopt});
  }

  void on_response(const std::string& payload) {
    auto responses = dynsec::parse_responses(payload);
    if (!responses || responses->empty()) return;
    auto corr = dynsec::parse_correlation(responses->front().correlation);
    if (!corr) return;  // another admin's answer (e.g. mosquitto_ctrl on the same broker)
    auto it = pending_.find(corr->tag);
    if (it == pending_.end()) return;
    auto op = std::move(it->second);
    pending_.erase(it);
    if (op.timer) op.timer->cancel();
    AccountsResult result;
    result.error = dynsec::first_error(*responses, op.tolerated);
    if (!result.error) result.credentials = std::move(op.credentials);
    finish(op, std::move(result));
  }

  void finish(Operation& op, AccountsResult result) {
    if (op.timer) op.timer->cancel();
    asio::post(io_, [done = std::move(op.done), result = std::move(result)]() mutable { done(std::move(result)); });
  }

  asio::io_context& io_;
  DynsecSettings settings_;
  ::mqtt::async_client client_;
  std::map<std::string, Operation> pending_;
  std::uint64_t next_tag_ = 0;
  bool stopped_ = false;
  // Start-up handshake with Paho's threads (see bootstrap()).
  std::mutex sync_mutex_;
  std::condition_variable sync_cv_;
  std::optional<std::string> sync_tag_;
  std::optional<std::string> sync_answer_;
  int connects_ = 0;
};

bool nothing_tolerated(const dynsec::Response&) { return false; }

class DynsecAccounts final : public BrokerAccounts {
 public:
  DynsecAccounts(asio::io_context& io, DynsecSettings settings)
      : session_(std::make_shared<Session>(io, std::move(settings))) {}
  ~DynsecAccounts() override {
    try {
      session_->stop();
    } catch (...) {
    }
  }

  void start() override { session_->start(); }
  void stop() override { session_->stop(); }

  void add_device(const std::string& device, AccountsDone done) override {
    const auto& site = session_->settings().site;
    BrokerCredentials creds{device, generate_password()};
    // The role may survive from an earlier life of the device; the client must not.
    session_->submit({dynsec::create_role(dynsec::device_role(device), dynsec::device_acls(site, device)),
                      dynsec::create_client(creds.username, creds.password, {dynsec::device_role(device)})},
                     [](const dynsec::Response& r) { return r.command == "createRole" && dynsec::is_already_exists(r); },
                     creds, std::move(done));
  }

  void rotate_device(const std::string& device, AccountsDone done) override {
    // mosquitto 2.0 disconnects the client's sessions when its password changes.
    BrokerCredentials creds{device, generate_password()};
    session_->submit({dynsec::set_client_password(device, creds.password)}, nothing_tolerated, creds, std::move(done));
  }

  void retire_device(const std::string& device, AccountsDone done) override {
    session_->submit({dynsec::delete_client(device), dynsec::delete_role(dynsec::device_role(device))},
                     dynsec::is_not_found, std::nullopt, std::move(done));
  }

  void add_manager(const std::string& manager, AccountsDone done) override {
    BrokerCredentials creds{manager, generate_password()};
    session_->submit({dynsec::create_client(creds.username, creds.password,
                                            {dynsec::manager_role(session_->settings().site)})},
                     nothing_tolerated, creds, std::move(done));
  }

  void remove_manager(const std::string& manager, AccountsDone done) override {
    session_->submit({dynsec::delete_client(manager)}, dynsec::is_not_found, std::nullopt, std::move(done));
  }

 private:
  std::shared_ptr<Session> session_;
};

}  // namespace

std::unique_ptr<BrokerAccounts> make_dynsec_accounts(asio::io_context& io, DynsecSettings settings) {
  return std::make_unique<DynsecAccounts>(io, std::move(settings));
}

}  // namespace kiosk::hub
