// Broker accounts for a broker without access control: nothing to create, nothing to refuse.
#include <boost/asio/post.hpp>

#include "kiosk/hub/broker_accounts.hpp"

namespace kiosk::hub {
namespace {

class OpenAccounts final : public BrokerAccounts {
 public:
  explicit OpenAccounts(boost::asio::io_context& io) : io_(io) {}
  void start() override {}
  void stop() override {}
  void add_device(const std::string&, AccountsDone done) override { succeed(std::move(done)); }
  void rotate_device(const std::string&, AccountsDone done) override { succeed(std::move(done)); }
  void retire_device(const std::string&, AccountsDone done) override { succeed(std::move(done)); }
  void add_manager(const std::string&, AccountsDone done) override { succeed(std::move(done)); }
  void remove_manager(const std::string&, AccountsDone done) override { succeed(std::move(done)); }
  void list_managers(ManagersDone done) override {
    boost::asio::post(io_, [done = std::move(done)] {
      done("the broker has no per-client accounts (hub without --dynsec): anyone on the venue network may read "
           "alerts",
           {});
    });
  }

 private:
  void succeed(AccountsDone done) {
    boost::asio::post(io_, [done = std::move(done)] { done(AccountsResult{}); });
  }
  boost::asio::io_context& io_;
};

}  // namespace

std::unique_ptr<BrokerAccounts> make_open_accounts(boost::asio::io_context& io) {
  return std::make_unique<OpenAccounts>(io);
}

}  // namespace kiosk::hub
