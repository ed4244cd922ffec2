// poll() relay: one thread, non-blocking sockets, a wake-up pipe for commands from the run.
#include "link_cutter.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <list>
#include <stdexcept>
#include <string>

#include "kiosk/net/loopback.hpp"

namespace kiosk::faults {
namespace {

using Clock = std::chrono::steady_clock;

void close_with_reset(int fd) {
  if (fd < 0) return;
  linger l{1, 0};  // an abortive close: the peer sees a reset, as when a link really breaks
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
  ::close(fd);
}

int listen_loopback() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
  const sockaddr_in a = net::loopback_address(0);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 64) != 0) {
    int e = errno;
    ::close(fd);
    throw std::runtime_error(std::string("relay listener: ") + std::strerror(e));
  }
  return fd;
}

int bound_port(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

int connect_to_broker(int port) {
  // Loopback connects complete or fail at once; blocking keeps the relay simple.
  const int fd = net::connect_loopback(port);
  if (fd < 0) return -1;
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

enum class Mode { open, cut, stall };

struct Pipe {
  int terminal = -1;  // accepted from the terminal
  int broker = -1;    // -1 while held by a stall
  std::string to_broker;
  std::string to_terminal;
  bool dead = false;
};

struct Link {
  int listener = -1;
  int port = 0;
  Mode mode = Mode::open;  // set by the run under the mutex
  Clock::time_point until{};
  Mode seen = Mode::open;  // the relay thread's copy, taken under the mutex once per round
  std::list<Pipe> pipes;
};

}  // namespace

struct LinkCutter::State {
  int broker_port = 0;
  std::vector<Link> links;
  int wake[2] = {-1, -1};
  std::atomic<bool> stopping{false};
  std::atomic<int> open_pipes{0};
  mutable std::mutex mutex;  // guards the mode/until of links (set by the run, read by the relay)
};

LinkCutter::LinkCutter(int links, int broker_port) : state_(std::make_unique<State>()) {
  state_->broker_port = broker_port;
  if (::pipe2(state_->wake, O_CLOEXEC | O_NONBLOCK) != 0) throw std::runtime_error("relay wake-up pipe");
  state_->links.resize(static_cast<std::size_t>(links));
  for (auto& l : state_->links) {
    l.listener = listen_loopback();
    l.port = bound_port(l.listener);
  }
  thread_ = std::thread([this] { run(); });
}

LinkCutter::~LinkCutter() {
  state_->stopping = true;
  [[maybe_unused]] auto w = ::write(state_->wake[1], "x", 1);
  if (thread_.joinable()) thread_.join();
  for (auto& l : state_->links) {
    for (auto& p : l.pipes) {
      close_with_reset(p.terminal);
      close_with_reset(p.broker);
    }
    ::close(l.listener);
  }
  ::close(state_->wake[0]);
  ::close(state_->wake[1]);
}

int LinkCutter::port(int link) const { return state_->links.at(static_cast<std::size_t>(link)).port; }

int LinkCutter::connections() const { return state_->open_pipes.load(); }

void LinkCutter::cut(int link, std::chrono::milliseconds how_long) {
  {
    std::lock_guard lock(state_->mutex);
    auto& l = state_->links.at(static_cast<std::size_t>(link));
    l.mode = Mode::cut;
    l.until = Clock::now() + how_long;
  }
  [[maybe_unused]] auto w = ::write(state_->wake[1], "x", 1);
}

void LinkCutter::stall(int link, std::chrono::milliseconds how_long) {
  {
    std::lock_guard lock(state_->mutex);
    auto& l = state_->links.at(static_cast<std::size_t>(link));
    l.mode = Mode::stall;
    l.until = Clock::now() + how_long;
  }
  [[maybe_unused]] auto w = ::write(state_->wake[1], "x", 1);
}

void LinkCutter::run() {
  auto& s = *state_;
  // What each pollfd entry stands for.
  struct Slot {
    Link* link;
    Pipe* pipe;  // nullptr: the listener (or the wake-up pipe when link is nullptr too)
    bool terminal_side;
  };
  std::vector<pollfd> fds;
  std::vector<Slot> slots;
  char buf[65536];
  while (!s.stopping) {
    auto now = Clock::now();
    int timeout_ms = 1000;
    {
      std::lock_guard lock(s.mutex);
      for (auto& l : s.links) {
        if (l.mode != Mode::open && now >= l.until) {
          if (l.mode == Mode::stall) {
            for (auto& p : l.pipes) p.dead = true;  // a stalled link ends as a broken one
          }
          l.mode = Mode::open;
        }
        if (l.mode == Mode::cut) {
          for (auto& p : l.pipes) p.dead = true;
        }
        l.seen = l.mode;
        if (l.mode != Mode::open) {
          auto left = std::chrono::duration_cast<std::chrono::milliseconds>(l.until - now).count() + 1;
          timeout_ms = std::min<int>(timeout_ms, static_cast<int>(std::max<long>(left, 1)));
        }
      }
    }
    for (auto& l : s.links) {
      for (auto it = l.pipes.begin(); it != l.pipes.end();) {
        if (it->dead) {
          close_with_reset(it->terminal);
          close_with_reset(it->broker);
          it = l.pipes.erase(it);
          --s.open_pipes;
        } else {
          ++it;
        }
      }
    }

    fds.clear();
    slots.clear();
    fds.push_back({s.wake[0], POLLIN, 0});
    slots.push_back({nullptr, nullptr, false});
    for (auto& l : s.links) {
      fds.push_back({l.listener, POLLIN, 0});
      slots.push_back({&l, nullptr, false});
      if (l.seen == Mode::stall) continue;  // nothing moves on a stalled link
      for (auto& p : l.pipes) {
        if (p.broker < 0) continue;
        short t_events = static_cast<short>((p.to_broker.empty() ? POLLIN : 0) | (p.to_terminal.empty() ? 0 : POLLOUT));
        short b_events = static_cast<short>((p.to_terminal.empty() ? POLLIN : 0) | (p.to_broker.empty() ? 0 : POLLOUT));
        fds.push_back({p.terminal, t_events, 0});
        slots.push_back({&l, &p, true});
        fds.push_back({p.broker, b_events, 0});
        slots.push_back({&l, &p, false});
      }
    }
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      return;
    }
    if (fds[0].revents & POLLIN) {
      while (::read(s.wake[0], buf, sizeof buf) > 0) {
      }
    }
    for (std::size_t i = 1; i < fds.size(); ++i) {
      auto re = fds[i].revents;
      if (re == 0) continue;
      auto& slot = slots[i];
      Link& l = *slot.link;
      if (!slot.pipe) {
        for (;;) {
          int c = ::accept4(l.listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (c < 0) break;
          Mode mode;
          {
            std::lock_guard lock(s.mutex);
            mode = l.mode;
          }
          if (mode == Mode::cut) {
            close_with_reset(c);  // refused while the link is cut
            continue;
          }
          int one = 1;
          ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          Pipe p;
          p.terminal = c;
          if (mode == Mode::open) {
            p.broker = connect_to_broker(s.broker_port);
            if (p.broker < 0) {
              close_with_reset(c);  // broker down: the terminal sees a failed connect
              continue;
            }
          }
          l.pipes.push_back(std::move(p));
          ++s.open_pipes;
        }
        continue;
      }
      Pipe& p = *slot.pipe;
      if (p.dead) continue;
      int from = slot.terminal_side ? p.terminal : p.broker;
      std::string& out_to_peer = slot.terminal_side ? p.to_broker : p.to_terminal;
      std::string& out_to_me = slot.terminal_side ? p.to_terminal : p.to_broker;
      if (re & POLLOUT && !out_to_me.empty()) {
        ssize_t w = ::send(from, out_to_me.data(), out_to_me.size(), MSG_NOSIGNAL);
        if (w > 0) out_to_me.erase(0, static_cast<std::size_t>(w));
        else if (w < 0 && errno != EAGAIN && errno != EINTR) p.dead = true;
      }
      if (re & (POLLIN | POLLHUP | POLLERR)) {
        ssize_t r = ::recv(from, buf, sizeof buf, 0);
        if (r > 0) {
          int to = slot.terminal_side ? p.broker : p.terminal;
          out_to_peer.append(buf, static_cast<std::size_t>(r));
          ssize_t w = ::send(to, out_to_peer.data(), out_to_peer.size(), MSG_NOSIGNAL);
          if (w > 0) out_to_peer.erase(0, static_cast<std::size_t>(w));
          else if (w < 0 && errno != EAGAIN && errno != EINTR) p.dead = true;
        } else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          p.dead = true;  // one side closed: close both (MQTT has no half-close)
        }
      }
    }
  }
}

}  // namespace kiosk::faults
