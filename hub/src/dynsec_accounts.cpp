// Broker accounts over mosquitto's dynamic-security plugin: commands on $CONTROL/dynamic-security/v1.
#include <algorithm>
#include <array>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk/hub/dynsec_commands.hpp"
#include "kiosk/mqtt/client.hpp"

namespace kiosk::hub {
// Named so that a unity build of the hub can put this file next to others without collisions.
namespace dynsec_accounts_impl {
namespace {

namespace asio = boost::asio;
using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;

constexpr auto kAnswerTimeout = 5s;
constexpr auto kConnectTimeout = 10s;
// Connect, set-up batch, grant and reconnect, check: each step has its own timeout; this only
// bounds start() should a step never report at all.
constexpr auto kStartDeadline = kConnectTimeout * 2 + kAnswerTimeout * 3;

// 24 random bytes, base64url: 32 characters a device stores in its 0600 config file.
std::string generate_password() {
  std::ifstream urandom("/dev/urandom", std::ios::binary);
  std::array<std::uint8_t, 24> bytes{};
  if (!urandom.read(reinterpret_cast<char*>(bytes.data()), bytes.size())) {
    throw std::runtime_error("cannot read /dev/urandom");
  }
  return dynsec::base64url(bytes);
}

using Tolerated = std::function<bool(const dynsec::Response&)>;
bool nothing_tolerated(const dynsec::Response&) { return false; }
// The outcome of one batch: why it has no answer, or the plugin's responses.
using Answered = std::function<void(std::optional<std::string> error, std::vector<dynsec::Response> responses)>;

// One batch on its way: its answer timer and what to do with the answer.
struct Pending {
  std::unique_ptr<asio::steady_timer> timer;
  Answered answered;
};

// The admin connection and its batches. Everything runs on the hub's io_context thread; timers
// and the start-up kick hold a weak_ptr so a late completion finds nothing to touch.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(asio::io_context& io, DynsecSettings settings, Log log)
      : io_(io), settings_(std::move(settings)), log_(log), step_timer_(io) {}

  // Start-up is a boundary: wrong admin credentials, an untrusted broker or a missing plugin
  // fail loudly here. The hub must not take provisioning requests before its roles exist, so
  // this runs the io_context (other handlers included) until the bootstrap is done.
  void start() {
    kiosk::mqtt::ClientOptions o;
    o.url = settings_.broker_url;
    o.client_id = "kiosk-hub-" + settings_.site + "-dynsec";
    o.clean_session = true;
    o.keepalive = 30s;
    o.username = settings_.username;
    o.password = settings_.password;
    // Re-sent after every CONNACK, ahead of anything published: answers are never missed.
    o.subscriptions = {{std::string(dynsec::kResponseTopic), 1}};
    // Without a CA file the system's trust store decides; the server is checked either way, and
    // its name as the hub's own link checks it.
    o.ca_file = settings_.ca_file;
    o.cert_file = settings_.cert_file;
    o.key_file = settings_.key_file;
    o.verify_host_name = settings_.verify_host;
    o.connect_timeout = kConnectTimeout;
    // As the hub's main link (mqtt_link.cpp): the broker is local, so after its restart accounts
    // must work again as soon as presses flow, not after a backoff grown to half a minute.
    o.reconnect_min = 500ms;
    o.reconnect_max = 5s;
    try {
      client_ = std::make_unique<kiosk::mqtt::Client>(
          io_, std::move(o),
          kiosk::mqtt::Client::Handlers{[this](const kiosk::mqtt::Message& m) { on_message(m); },
                                        [this](const kiosk::mqtt::LinkEvent& e) { on_link(e); }});
    } catch (const std::exception& e) {
      throw std::runtime_error(connect_error(e.what()));
    }
    state_ = State::connecting;
    stopped_ = false;
    // From a timer so that, should start() be called inside a handler, the connection starts in
    // the nested run below rather than after that handler returns.
    auto kick = std::make_shared<asio::steady_timer>(io_, SteadyClock::time_point::min());
    kick->async_wait([weak = weak_from_this(), kick](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec && !self->stopped_) self->client_->start();
    });
    if (io_.stopped()) io_.restart();  // ran out of work earlier; this caller wants it to run
    const auto deadline = SteadyClock::now() + kStartDeadline;
    while (state_ != State::ready && state_ != State::failed && !stopped_ && !io_.stopped() &&
           SteadyClock::now() < deadline) {
      io_.run_one_until(deadline);
    }
    if (stopped_ || state_ == State::ready) return;  // stopped meanwhile (SIGTERM): nothing to report
    if (state_ != State::failed) {
      fail_start(io_.stopped() ? "dynamic-security: start-up interrupted"
                               : "dynamic-security: the broker did not finish the set-up in time");
    }
    throw std::runtime_error(failure_);
  }

  void stop() {
    stopped_ = true;
    step_timer_.cancel();
    fail_everything("dynamic-security: stopped");
    if (client_) client_->disconnect();
  }

  // Sends one batch; `done` runs on the io_context with the outcome.
  void submit(std::vector<boost::json::object> commands, Tolerated tolerated,
              std::optional<BrokerCredentials> credentials, AccountsDone done) {
    send(std::move(commands), [this, tolerated = std::move(tolerated), credentials = std::move(credentials),
                               done = std::move(done)](std::optional<std::string> error,
                                                       std::vector<dynsec::Response> responses) mutable {
      AccountsResult result;
      result.error = error ? std::move(error) : dynsec::first_error(responses, tolerated);
      if (!result.error) result.credentials = std::move(credentials);
      finish(std::move(done), std::move(result));
    });
  }

  // Sends one batch whose responses the caller reads itself (a step of a longer exchange);
  // `answered` runs on the io_context thread, once.
  void send(std::vector<boost::json::object> commands, Answered answered) {
    if (stopped_) return answered("dynamic-security: stopped", {});
    // Requests that come in while the bootstrap runs (the hub serves HTTP meanwhile) wait for it.
    if (state_ != State::idle && state_ != State::ready && state_ != State::failed) {
      waiting_.push_back([this, commands = std::move(commands), answered = std::move(answered)]() mutable {
        call(std::move(commands), std::move(answered));
      });
      return;
    }
    call(std::move(commands), std::move(answered));
  }

  // Hands `result` to `done` from the io_context, never from inside the caller's stack.
  void finish(AccountsDone done, AccountsResult result) {
    asio::post(io_, [done = std::move(done), result = std::move(result)]() mutable { done(std::move(result)); });
  }

  // Ready and linked: a batch sent now would reach the plugin.
  bool connected() const { return state_ == State::ready && client_ && client_->connected() && refused_.empty(); }

  const DynsecSettings& settings() const { return settings_; }

 private:
  enum class State { idle, connecting, setting_up, granting, checking, ready, failed };
  std::string refused_;  // the broker refused the response subscription on this connection

  // ---- batches ---------------------------------------------------------------------------------

  // Publishes a batch; `answered` runs once, with the responses or why there are none.
  void call(std::vector<boost::json::object> commands, Answered answered, int qos = 1) {
    if (stopped_) return answered("dynamic-security: stopped", {});
    if (state_ == State::failed) return answered(failure_, {});
    if (!client_ || !client_->connected()) return answered("dynamic-security: not connected to the broker", {});
    if (!refused_.empty()) return answered(refused_, {});  // no answer could come back
    const auto tag = "k" + std::to_string(++next_tag_);
    const auto payload = dynsec::batch(tag, std::move(commands));
    if (!client_->publish(dynsec::kCommandTopic, payload, qos, false)) {
      return answered("dynamic-security: publish failed: " + client_->last_refusal(), {});
    }
    auto timer = std::make_unique<asio::steady_timer>(io_, kAnswerTimeout);
    timer->async_wait([weak = weak_from_this(), tag](boost::system::error_code ec) {
      if (ec) return;
      if (auto self = weak.lock()) self->answer(tag, "dynamic-security: no answer from the broker within 5 s", {});
    });
    pending_.emplace(tag, Pending{std::move(timer), std::move(answered)});
  }

  void answer(const std::string& tag, std::optional<std::string> error, std::vector<dynsec::Response> responses) {
    auto it = pending_.find(tag);
    if (it == pending_.end()) return;
    auto pending = std::move(it->second);
    pending_.erase(it);
    pending.timer->cancel();
    pending.answered(std::move(error), std::move(responses));
  }

  void on_message(const kiosk::mqtt::Message& m) {
    if (m.topic != dynsec::kResponseTopic) return;
    auto responses = dynsec::parse_responses(m.payload);
    if (!responses || responses->empty()) return;
    auto corr = dynsec::parse_correlation(responses->front().correlation);
    if (!corr) return;  // another admin's answer (e.g. mosquitto_ctrl on the same broker)
    answer(corr->tag, std::nullopt, std::move(*responses));
  }

  void on_link(const kiosk::mqtt::LinkEvent& e) {
    switch (e.kind) {
      case kiosk::mqtt::LinkEvent::Kind::connected:
        refused_.clear();  // this connection's SUBACK tells again
        if (state_ == State::connecting) return set_up();
        if (state_ == State::granting) return check_grant(std::nullopt);
        if (down_since_) {  // the client has subscribed again by itself
          const auto down = std::chrono::duration_cast<std::chrono::seconds>(SteadyClock::now() - *down_since_);
          log_.info("accounts", "connected to the broker again after " + std::to_string(down.count()) +
                                    " s: devices and managers can be added and removed");
          down_since_.reset();
        }
        return;
      case kiosk::mqtt::LinkEvent::Kind::connect_failed:
        if (state_ == State::connecting) return fail_start(connect_error(e.reason));
        // Later on the client keeps retrying; batches meanwhile report "not connected". Said once
        // per outage: the main link's log already tells each retry.
        if (down_since_ && !told_failing_ && !stopped_) {
          told_failing_ = true;
          log_.warn("accounts", "cannot reconnect to " + settings_.broker_url + ": " + e.reason +
                                    "; retrying every 5 s at most");
        }
        return;
      case kiosk::mqtt::LinkEvent::Kind::subscription_refused: {
        // No answers can come: every batch would wait for its timeout.
        const std::string why = "dynamic-security: the broker refused " + settings_.username +
                                " the subscription to " + e.reason +
                                " (the account needs the plugin's admin role, as mosquitto_ctrl dynsec init makes it)";
        if (state_ != State::ready) return fail_start(why);
        refused_ = why;
        fail_pending(why);  // their answers cannot come either
        log_.error("accounts", why + "; adding, rotating and removing devices and managers fail until it is fixed");
        return;
      }
      case kiosk::mqtt::LinkEvent::Kind::lost:
        // Answers to what is pending went with the link (the session is clean): say so now.
        fail_pending("dynamic-security: lost the connection to the broker (" + e.reason + ")");
        if (state_ == State::ready && !stopped_ && !down_since_) {
          down_since_ = SteadyClock::now();
          told_failing_ = false;
          log_.warn("accounts", "lost the connection to the broker (" + e.reason +
                                    "); adding, rotating and removing devices and managers fail until it is back");
        }
        return;
    }
  }

  // ---- bootstrap -------------------------------------------------------------------------------

  // The site's hub and manager roles, and the hub's own rights; idempotent on every start.
  void set_up() {
    state_ = State::setting_up;
    const auto& site = settings_.site;
    call({dynsec::set_default_acl_access(),
          dynsec::create_role(dynsec::hub_role(site), dynsec::hub_acls(site)),
          dynsec::create_role(dynsec::manager_role(site), dynsec::manager_acls(site)),
          dynsec::get_client(settings_.username)},
         [this](std::optional<std::string> error, std::vector<dynsec::Response> responses) {
           if (state_ != State::setting_up) return;
           if (error) {
             return fail_start("dynamic-security: cannot set up the site roles: " + *error +
                               (client_->connected() ? " (is the dynamic-security plugin loaded?)" : ""));
           }
           if (auto refused = dynsec::first_error(responses, dynsec::is_already_exists)) {
             return fail_start("dynamic-security: cannot set up the site roles: " + *refused);
           }
           auto has_role = has_hub_role(responses.back());
           if (!has_role) return fail_start(unknown_admin());
           if (*has_role) return become_ready();
           grant();
         });
  }

  // Granting the hub role to the admin client makes mosquitto disconnect every session of that
  // client, this one included, usually before it answers: the check after the reconnect (or
  // after an answer that says nothing changed) tells whether the grant happened.
  void grant() {
    state_ = State::granting;
    // QoS 0: a QoS 1 copy would be sent again after the kick. An answer comes only when the
    // broker refused (no kick follows): then check at once.
    call({dynsec::add_client_role(settings_.username, dynsec::hub_role(settings_.site))},
         [this](std::optional<std::string> error, std::vector<dynsec::Response> responses) {
           if (state_ != State::granting || error) return;  // lost with the kick, or no answer: wait
           if (auto refused = dynsec::first_error(responses, nothing_tolerated))
             check_grant(*refused);
         },
         0);
    step_timer_.expires_after(kConnectTimeout);
    step_timer_.async_wait([weak = weak_from_this()](boost::system::error_code ec) {
      if (auto self = weak.lock(); self && !ec && self->state_ == State::granting) self->check_grant(std::nullopt);
    });
  }

  // `refused`: the plugin's answer to the grant, when it came.
  void check_grant(std::optional<std::string> refused) {
    state_ = State::checking;
    step_timer_.cancel();
    call({dynsec::get_client(settings_.username)},
         [this, refused](std::optional<std::string> error, std::vector<dynsec::Response> responses) {
           if (state_ != State::checking) return;
           const auto not_granted = "dynamic-security: could not give " + settings_.username + " the role " +
                                    dynsec::hub_role(settings_.site);
           if (error) return fail_start(not_granted + ": " + *error);
           auto has_role = has_hub_role(responses.back());
           if (!has_role) return fail_start(unknown_admin());
           if (!*has_role) return fail_start(not_granted + (refused ? ": " + *refused : std::string()));
           become_ready();
         });
  }

  // nullopt: the answer names no such client.
  std::optional<bool> has_hub_role(const dynsec::Response& get_client) const {
    auto roles = dynsec::client_roles(get_client);
    if (!roles) return std::nullopt;
    return std::find(roles->begin(), roles->end(), dynsec::hub_role(settings_.site)) != roles->end();
  }

  std::string unknown_admin() const {
    return "dynamic-security: the broker does not know the admin client " + settings_.username;
  }

  void become_ready() {
    state_ = State::ready;
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& send : waiting) send();
  }

  void fail_start(std::string why) {
    if (state_ == State::failed) return;
    state_ = State::failed;
    failure_ = std::move(why);
    step_timer_.cancel();
    fail_everything(failure_);
    if (client_) client_->disconnect();  // no reconnecting behind a hub that will not run
  }

  std::string connect_error(const std::string& reason) const {
    return "dynamic-security: cannot connect to " + settings_.broker_url + " as " + settings_.username + ": " +
           reason + " (check the broker URL and the admin credentials)";
  }

  void fail_pending(const std::string& why) {
    auto pending = std::move(pending_);
    pending_.clear();
    for (auto& [tag, p] : pending) {
      p.timer->cancel();
      p.answered(why, {});
    }
  }

  void fail_everything(const std::string& why) {
    fail_pending(why);
    auto waiting = std::move(waiting_);
    waiting_.clear();
    for (auto& send : waiting) send();  // call() reports stopped / not connected
  }

  asio::io_context& io_;
  DynsecSettings settings_;
  std::unique_ptr<kiosk::mqtt::Client> client_;
  State state_ = State::idle;
  bool stopped_ = false;
  Log log_;
  std::optional<SteadyClock::time_point> down_since_;  // the link was lost after start-up, not back yet
  bool told_failing_ = false;                          // this outage's failed reconnect was logged
  std::string failure_;
  asio::steady_timer step_timer_;  // the grant's wait for the kick and reconnect
  std::map<std::string, Pending> pending_;
  std::vector<std::function<void()>> waiting_;  // submitted before the bootstrap finished
  std::uint64_t next_tag_ = 0;
};

// A refusal that is the request's fault (HTTP 409), not the broker's.
AccountsResult conflict(std::string why) {
  AccountsResult r;
  r.error = std::move(why);
  r.conflict = true;
  return r;
}

// The broker refused or did not answer (HTTP 502).
AccountsResult failure(std::string why) {
  AccountsResult r;
  r.error = std::move(why);
  return r;
}

bool contains(const std::vector<std::string>& names, const std::string& name) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

class DynsecAccounts final : public BrokerAccounts {
 public:
  DynsecAccounts(asio::io_context& io, DynsecSettings settings, Log log)
      : session_(std::make_shared<Session>(io, std::move(settings), log)),
        adding_(std::make_shared<std::set<std::string>>()) {}
  ~DynsecAccounts() override { session_->stop(); }

  void start() override { session_->start(); }
  void stop() override { session_->stop(); }
  std::optional<bool> connected() const override { return session_->connected(); }

  // Creates the device's role and client. When the client exists already, a terminal's account
  // was left behind by an earlier attempt that failed after the broker created it (no answer in
  // time, link lost, the hub's database refused): it is taken over so that the retry succeeds.
  void add_device(const std::string& device, AccountsDone done) override {
    // Two requests for one id at once would take the account from each other.
    if (!adding_->insert(device).second) {
      return session_->finish(std::move(done),
                              conflict("device " + device + " is being added by another request; retry when it is done"));
    }
    AccountsDone finished = [adding = adding_, device, done = std::move(done)](AccountsResult r) {
      adding->erase(device);
      done(std::move(r));
    };
    const auto& site = session_->settings().site;
    const auto role = dynsec::device_role(device);
    const auto acls = dynsec::device_acls(site, device);
    BrokerCredentials creds{device, generate_password()};
    // The role may survive from an earlier life of the device, with ACLs of an older release:
    // modifyRole makes them the current ones.
    session_->send(
        {dynsec::create_role(role, acls), dynsec::modify_role_acls(role, acls),
         dynsec::create_client(creds.username, creds.password, {role}, device)},
        [this, device, creds, done = std::move(finished)](std::optional<std::string> error,
                                                          std::vector<dynsec::Response> responses) mutable {
          if (error) return session_->finish(std::move(done), failure(std::move(*error)));
          const auto client_exists = [](const dynsec::Response& r) {
            return r.command == "createClient" && dynsec::is_already_exists(r);
          };
          if (auto refused = dynsec::first_error(responses, [&](const dynsec::Response& r) {
                return (r.command == "createRole" && dynsec::is_already_exists(r)) || client_exists(r);
              })) {
            return session_->finish(std::move(done), failure(std::move(*refused)));
          }
          if (std::none_of(responses.begin(), responses.end(), client_exists)) {
            AccountsResult created;
            created.credentials = std::move(creds);
            return session_->finish(std::move(done), std::move(created));
          }
          const bool role_created = std::any_of(responses.begin(), responses.end(), [](const dynsec::Response& r) {
            return r.command == "createRole" && !r.error;
          });
          take_over_device(device, role_created, std::move(creds), std::move(done));
        });
  }

  void rotate_device(const std::string& device, AccountsDone done) override {
    // mosquitto 2.0 disconnects the client's sessions when its password changes.
    BrokerCredentials creds{device, generate_password()};
    // The client id binding too: an account made before it existed gets it with its new password.
    session_->submit({dynsec::set_client_password(device, creds.password), dynsec::set_client_id(device, device)},
                     nothing_tolerated, creds, std::move(done));
  }

  void retire_device(const std::string& device, AccountsDone done) override {
    session_->submit({dynsec::delete_client(device), dynsec::delete_role(dynsec::device_role(device))},
                     dynsec::is_not_found, std::nullopt, std::move(done));
  }

  void add_manager(const std::string& manager, AccountsDone done) override {
    BrokerCredentials creds{manager, generate_password()};
    session_->submit({dynsec::create_client(creds.username, creds.password,
                                            {dynsec::manager_role(session_->settings().site)}, manager)},
                     nothing_tolerated, creds, std::move(done));
  }

  // Devices, managers and the hub share the broker's one namespace of client names: a mistyped
  // manager id must not delete a terminal's (or the hub's own) account.
  void remove_manager(const std::string& manager, AccountsDone done) override {
    session_->send({dynsec::get_client(manager)}, [this, manager, done = std::move(done)](
                                                      std::optional<std::string> error,
                                                      std::vector<dynsec::Response> responses) mutable {
      if (error) return session_->finish(std::move(done), failure(std::move(*error)));
      const auto& answer = responses.back();
      if (dynsec::is_not_found(answer)) {
        // A mistyped id must not look like a removed account: the real one would keep working.
        AccountsResult none = conflict("the broker has no account " + manager +
                                       " (check the manager id; a manager removed before is gone already)");
        none.not_found = true;
        return session_->finish(std::move(done), std::move(none));
      }
      auto roles = dynsec::client_roles(answer);
      if (!roles) {
        return session_->finish(std::move(done),
                                failure("getClient: " + answer.error.value_or("the answer names no client")));
      }
      const auto role = dynsec::manager_role(session_->settings().site);
      if (!contains(*roles, role)) {
        // An account an operator put in a group with the manager role (mosquitto_ctrl) was made
        // there, for more than this site perhaps: it is taken out there, not deleted from here.
        const auto groups = dynsec::client_groups(answer).value_or(std::vector<std::string>{});
        std::string why;
        if (contains(*roles, dynsec::device_role(manager))) {
          why = manager + " is a terminal, not a manager: use kioskctl device retire " + manager;
        } else if (!groups.empty()) {
          std::string commands;
          for (const auto& g : groups)
            commands += (commands.empty() ? "" : ", ") + std::string("mosquitto_ctrl dynsec removeGroupClient ") + g +
                        " " + manager;
          why = "the broker account " + manager + " was made at the broker and may read alerts through its group" +
                (groups.size() > 1 ? "s " : " ") + "(it lacks the role " + role + " itself): take it out there (" +
                commands + ", or deleteClient " + manager + "); nothing was removed at the broker";
        } else {
          why = "the broker account " + manager + " is not a manager's (it lacks the role " + role +
                "): nothing was removed";
        }
        return session_->finish(std::move(done), conflict(std::move(why)));
      }
      session_->submit({dynsec::delete_client(manager)}, dynsec::is_not_found, std::nullopt, std::move(done));
    });
  }

  // Accounts that hold the manager role themselves or through a group (an operator's mosquitto_ctrl).
  void list_managers(ManagersDone done) override {
    session_->send({dynsec::list_groups(), dynsec::list_clients()},
                   [this, done = std::move(done)](std::optional<std::string> error,
                                                  std::vector<dynsec::Response> responses) {
                     if (error) return done(std::move(error), {});
                     if (responses.size() != 2) return done("listGroups, listClients: no answer to both", {});
                     const auto role = dynsec::manager_role(session_->settings().site);
                     auto groups = dynsec::groups_with_role(responses[0], role);
                     if (!groups)
                       return done("listGroups: " + responses[0].error.value_or("the answer lists no groups"), {});
                     auto managers = dynsec::clients_with_role(responses[1], role, *groups);
                     if (!managers)
                       return done("listClients: " + responses[1].error.value_or("the answer lists no clients"), {});
                     done(std::nullopt, std::move(*managers));
                   });
  }

 private:
  // The account exists: take it over only when it is plainly a terminal's, never a manager's,
  // the hub's own or anything else someone made at the broker.
  // `role_created`: the device role is new, made for an account that may turn out not to be a terminal's.
  void take_over_device(const std::string& device, bool role_created, BrokerCredentials creds, AccountsDone done) {
    session_->send({dynsec::get_client(device)}, [this, device, role_created, creds = std::move(creds),
                                                  done = std::move(done)](std::optional<std::string> error,
                                                                          std::vector<dynsec::Response> responses) mutable {
      if (error) return session_->finish(std::move(done), failure(std::move(*error)));
      const auto refuse = [&](std::string why) {
        // Leave the broker as it was; the answer does not matter (a stray role grants nothing).
        if (role_created) session_->send({dynsec::delete_role(dynsec::device_role(device))}, [](auto&&...) {});
        session_->finish(std::move(done), conflict(std::move(why)));
      };
      const auto& answer = responses.back();
      auto roles = dynsec::client_roles(answer);
      auto groups = dynsec::client_groups(answer);
      if (!roles || !groups) {  // deleted meanwhile, or an answer without the client
        return session_->finish(std::move(done), failure("getClient: " + answer.error.value_or("no client in the answer") +
                                                         " (the account changed meanwhile; retry)"));
      }
      const auto& settings = session_->settings();
      const auto role = dynsec::device_role(device);
      if (contains(*roles, dynsec::manager_role(settings.site))) {
        return refuse(device + " is a manager's broker account, not a terminal's: pick another device id");
      }
      const bool foreign_role = std::any_of(roles->begin(), roles->end(), [&](const auto& r) { return r != role; });
      if (device == settings.username || foreign_role || !groups->empty()) {
        return refuse("the broker has an account " + device + " that is not a terminal's: pick another device id");
      }
      std::vector<boost::json::object> commands{dynsec::set_client_password(device, creds.password),
                                                dynsec::set_client_id(device, device)};
      // Only when missing: mosquitto 2.0 answers a second grant of a role with an internal error.
      if (!contains(*roles, role)) commands.push_back(dynsec::add_client_role(device, role));
      session_->submit(std::move(commands), nothing_tolerated, std::move(creds), std::move(done));
    });
  }

  std::shared_ptr<Session> session_;
  std::shared_ptr<std::set<std::string>> adding_;  // devices whose add_device has not finished
};

}  // namespace
}  // namespace dynsec_accounts_impl

std::unique_ptr<BrokerAccounts> make_dynsec_accounts(boost::asio::io_context& io, DynsecSettings settings, Log log) {
  return std::make_unique<dynsec_accounts_impl::DynsecAccounts>(io, std::move(settings), log);
}

}  // namespace kiosk::hub
