// A loopback TCP relay per terminal between it and the broker, which can cut or stall that
// terminal's link for a while: network outages without network namespaces.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace kiosk::faults {

class LinkCutter {
 public:
  // Listens on `links` free ports of 127.0.0.1, each relaying to 127.0.0.1:broker_port.
  // Throws std::runtime_error if a listener cannot be opened.
  LinkCutter(int links, int broker_port);
  ~LinkCutter();  // stops the relay thread and closes every socket
  LinkCutter(const LinkCutter&) = delete;
  LinkCutter& operator=(const LinkCutter&) = delete;

  int port(int link) const;  // where terminal `link` connects
  // Resets the link's connections (RST) and refuses new ones for `how_long`.
  void cut(int link, std::chrono::milliseconds how_long);
  // Carries no byte either way for `how_long` (connections hang, as behind a dead access point),
  // then resets them.
  void stall(int link, std::chrono::milliseconds how_long);
  int connections() const;  // open relayed connections (for checks and samples)

 private:
  struct State;
  void run();
  std::unique_ptr<State> state_;
  std::thread thread_;
};

}  // namespace kiosk::faults
