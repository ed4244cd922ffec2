// kiosk-hub: parse settings, run the hub on one io_context thread until SIGINT/SIGTERM.
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>

#include "kiosk/hub/alert_service.hpp"
#include "kiosk/hub/broker_accounts.hpp"
#include "kiosk/hub/hub.hpp"

int main(int argc, char** argv) {
  using namespace kiosk::hub;
  auto cli = parse_command_line(std::vector<std::string>(argv + 1, argv + argc));
  switch (cli.kind) {
    case CommandLine::Kind::help:
      std::cout << help_text();
      return 0;
    case CommandLine::Kind::version:
      std::cout << "kiosk-hub " << KIOSK_VERSION << "\n";
      return 0;
    case CommandLine::Kind::usage_error:
      std::cerr << "kiosk-hub: " << cli.message << " (see kiosk-hub --help)\n";
      return 2;
    case CommandLine::Kind::run:
      break;
  }
  Log log(parse_log_level(cli.config.log_level));
  // Alerting is the product: on by default with the documented defaults (retained MQTT alerts,
  // SSE, HTTP acks); --alerts FILE adds per-location settings, contacts and webhooks. A mistake
  // in it is a settings error (exit 2, which systemd does not restart into), found before
  // anything starts.
  AlertConfig alert_config;
  if (!cli.config.alerts_file.empty()) {
    try {
      alert_config = load_alert_config(cli.config.alerts_file);
    } catch (const std::exception& e) {  // std::invalid_argument with the reason, by its contract
      log.error("hub", e.what());
      std::cerr << "kiosk-hub: " << e.what() << "\n";
      return 2;
    }
  }
  try {
    boost::asio::io_context io(1);
    SystemClock clock;
    const auto& c = cli.config;
    auto accounts = c.dynsec ? make_dynsec_accounts(io, DynsecSettings{c.broker_url, c.username, c.password, c.site,
                                                                       c.ca_file, c.cert_file, c.key_file,
                                                                       c.tls_verify_host},
                                                    log)
                             : make_open_accounts(io);
    Hub hub(io, cli.config, clock, log, std::move(accounts));
    auto alerts = std::make_unique<AlertService>(hub, std::move(alert_config));
    boost::asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](boost::system::error_code ec, int sig) {
      if (ec) return;
      log.info("hub", std::string("received ") + (sig == SIGINT ? "SIGINT" : "SIGTERM"));
      hub.shutdown();  // its last batch still goes through the detectors
      if (alerts) alerts->stop();
      io.stop();
    });
    hub.start();
    io.run();
  } catch (const std::exception& e) {
    log.error("hub", e.what());
    std::cerr << "kiosk-hub: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
