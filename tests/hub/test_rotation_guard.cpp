// An in-process hub whose broker accounts answer only when the test says: a second rotation of a
// device while the broker has not answered the first is refused, not raced.
#include <catch2/catch.hpp>

#include <future>
#include <thread>

#include <boost/asio/post.hpp>

#include "http_client.hpp"
#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/hub.hpp"
#include "in_process_hub.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::test;
using namespace kiosk::hub;

namespace {

// Rotations wait in `held` until the test answers them; everything else succeeds at once.
class HeldAccounts final : public BrokerAccounts {
 public:
  explicit HeldAccounts(boost::asio::io_context& io) : io_(io) {}
  void start() override {}
  void stop() override {}
  void add_device(const std::string&, AccountsDone done) override { succeed(std::move(done)); }
  void rotate_device(const std::string& device, AccountsDone done) override {
    held.push_back(std::move(done));
    (void)device;
  }
  void retire_device(const std::string&, AccountsDone done) override { succeed(std::move(done)); }
  void add_manager(const std::string&, AccountsDone done) override { succeed(std::move(done)); }
  void remove_manager(const std::string&, AccountsDone done) override { succeed(std::move(done)); }
  void list_managers(ManagersDone done) override { done(std::nullopt, {}); }
  std::vector<AccountsDone> held;  // io thread only

 private:
  void succeed(AccountsDone done) {
    boost::asio::post(io_, [done = std::move(done)] { done(AccountsResult{}); });
  }
  boost::asio::io_context& io_;
};

struct HeldHub {
  HeldHub() {
    broker.start();
    auto held = std::make_unique<HeldAccounts>(io);
    accounts = held.get();
    hub = std::make_unique<Hub>(io, in_process_hub_config(broker, dir, "d:1:lab"), clock, log, std::move(held));
    hub->start();
    thread = std::thread([this] { io.run(); });
    token = slurp(dir / "hub.token");
    while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  }
  ~HeldHub() {
    boost::asio::post(io, [this] {
      hub->shutdown();
      io.stop();
    });
    thread.join();
  }
  // Runs `f` on the io thread and waits for it.
  template <class F>
  auto on_io(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto result = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return result.get();
  }
  std::size_t held() { return on_io([this] { return accounts->held.size(); }); }
  void answer(std::size_t i) {
    on_io([this, i] {
      AccountsResult r;
      r.credentials = BrokerCredentials{"d-0", "new-password-" + std::to_string(i)};
      accounts->held[i](r);
      return 0;
    });
  }
  HttpResult rotate() { return http_post(hub->http_port(), "/api/devices/d-0/rotate", "{}", token); }

  TempDir dir;
  Broker broker;
  boost::asio::io_context io;
  SystemClock clock;
  Log log{LogLevel::warn};
  HeldAccounts* accounts = nullptr;
  std::unique_ptr<Hub> hub;
  std::thread thread;
  std::string token;
};

}  // namespace

TEST_CASE("a second rotation of a device while the broker has not answered the first is refused, and a later one "
          "goes ahead",
          "[integration]") {
  HeldHub h;
  auto first = std::async(std::launch::async, [&] { return h.rotate(); });
  REQUIRE(wait_until([&] { return h.held() == 1; }, 10s));
  const auto second = h.rotate();
  CHECK(second.status == 409);
  CHECK_THAT(second.body, Catch::Contains("new credentials for d-0 are being made by another request"));
  CHECK(h.held() == 1);  // the broker was not asked twice

  h.answer(0);
  const auto done = first.get();
  CHECK(done.status == 200);
  CHECK_THAT(done.body, Catch::Contains("new-password-0"));

  auto third = std::async(std::launch::async, [&] { return h.rotate(); });
  REQUIRE(wait_until([&] { return h.held() == 2; }, 10s));
  h.answer(1);
  CHECK(third.get().status == 200);
}
