// Test support: temp dirs, free loopback ports, child processes that never outlive the test,
// a real mosquitto broker per test, kiosk-hub as a child, and an MQTT probe client that waits on events
// with timeouts.
#pragma once

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "kiosk/net/loopback.hpp"

namespace boost::asio {
class io_context;
}

namespace kiosk::test {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// Absolute paths baked in by CMake.
fs::path bin_dir();     // build/bin
fs::path source_dir();  // repository root

// A fresh directory under $TMPDIR, removed with its contents on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& name) const { return path_ / name; }

 private:
  fs::path path_;
};

// Sets an environment variable of this process until destruction, then puts back what was there.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const std::string& value);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

// Runs a program to its end, stdout+stderr to `log`; its exit status. Throws when it has not ended
// within `timeout` (it is then killed).
int run_to_end(std::vector<std::string> argv, const fs::path& log, std::chrono::milliseconds timeout = 30s);
// tools/kiosk-pki with `args`, to its end.
int run_kiosk_pki(const std::vector<std::string>& args, const fs::path& log);
// A file's permission bits (st_mode & 0777); throws when it cannot be stat'ed.
unsigned file_mode(const fs::path& path);

// A TCP port on 127.0.0.1 that was free a moment ago; whether something listens on one.
using net::free_tcp_port;
using net::PortReservation;
using net::port_accepts;

// The whole file as text (empty if it cannot be read: the test's own checks say what was expected).
std::string slurp(const fs::path& path);

// Polls `condition` every `poll` until it is true or `timeout` passes; returns its last value.
bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 10s,
                std::chrono::milliseconds poll = 5ms);

// Runs `io` on this thread one handler at a time (restarting it when it runs out of work) until
// `done` holds; false after `timeout`. For tests that drive an Asio component themselves.
bool run_io_until(boost::asio::io_context& io, const std::function<bool()>& done,
                  std::chrono::milliseconds timeout = 10s);

// A child process. It gets PR_SET_PDEATHSIG=SIGKILL so it dies with the test process, and the
// destructor SIGKILLs and reaps it if it still runs. stdout+stderr go to `log_file` (or /dev/null).
class Child {
 public:
  struct Options {
    std::map<std::string, std::string> env;  // added to the inherited environment
    fs::path log_file;                      // empty: /dev/null
    fs::path working_dir;                   // empty: inherit
  };
  Child(std::vector<std::string> argv, Options options);
  explicit Child(std::vector<std::string> argv) : Child(std::move(argv), Options{}) {}
  ~Child();
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  int pid() const { return pid_; }
  bool running();                 // reaps if it has exited
  void signal(int sig);           // no-op if already exited
  // Waits for exit; returns the exit status (128+signal if killed), or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  // SIGTERM, wait up to `grace`, then SIGKILL. Returns the exit status.
  int stop(std::chrono::milliseconds grace = 5s);
  void kill9();                   // SIGKILL and reap
  std::string log() const;        // contents of log_file so far ("" if none)

 private:
  std::vector<std::string> argv_;
  Options options_;
  int pid_ = -1;
  std::optional<int> status_;
};

// A real mosquitto on 127.0.0.1 with its own config dir. Anonymous access is allowed unless
// dynsec is on (then the dynamic-security plugin is loaded with an admin client).
class Broker {
 public:
  struct Options {
    bool dynsec = false;
    std::string admin_user = "admin";
    std::string admin_password = "admin-secret";
    std::string extra_config;  // appended to mosquitto.conf
  };
  Broker() : Broker(Options{}) {}
  explicit Broker(Options options);
  ~Broker();

  int port() const { return port_.port(); }
  std::string url() const;  // "tcp://127.0.0.1:<port>"
  const fs::path& dir() const { return dir_.path(); }
  fs::path dynsec_file() const;  // dynamic-security.json (when dynsec)
  // mosquitto's dynamic-security plugin, in this architecture's library folder (throws if missing).
  static fs::path dynsec_plugin();
  const Options& options() const { return options_; }

  // mosquitto_ctrl dynsec <args> as the admin account (dynsec brokers); throws with its output on failure.
  void dynsec(const std::vector<std::string>& args) const;
  void start();    // starts and waits until the port accepts connections (throws on timeout)
  void stop();     // SIGTERM and wait
  void kill9();    // SIGKILL
  void restart() { stop(); start(); }
  bool running();
  std::string log() const;

 private:
  Options options_;
  TempDir dir_;
  // Held for the broker's lifetime: no other test takes the port while dynsec is initialised or
  // between stop() and start().
  net::PortReservation port_;
  std::unique_ptr<Child> process_;
};

// kiosk-hub as a child serving its HTTP API on 127.0.0.1, with its port file, password file and logs
// in `dir`. On a dynsec broker it logs in as the broker's admin (password from a file in `dir`) and
// manages the broker's accounts (--dynsec). start() again after stop() or kill9() runs it on the same
// database and token (and, unless port_file, the same port): a restart as operators do it.
class HubChild {
 public:
  struct Options {
    std::string site = "venue";
    fs::path db;          // empty: <dir>/hub.db
    fs::path token_file;  // empty: the hub's default, hub.token next to the database
    // The hub binds port 0 and writes the port it got to <dir>/hub.port (--port-file), which the
    // fixture reads; otherwise the fixture picks a free port and passes it.
    bool port_file = false;
    std::vector<std::string> extra_args;  // appended to the command line
  };
  HubChild(const Broker& broker, fs::path dir, Options options);
  HubChild(const Broker& broker, fs::path dir) : HubChild(broker, std::move(dir), Options{}) {}

  // Runs the hub (unless it runs) and waits until GET /health answers 200: API up, broker connected,
  // database fine. False when the hub exited or the timeout passed first (log() says why). Each run
  // logs to its own file, <dir>/hub-<run>.log.
  bool start(std::chrono::milliseconds timeout = 30s);
  int stop(std::chrono::milliseconds grace = 5s);  // SIGTERM, then SIGKILL; the exit status
  void kill9();
  // Waits for the hub to exit by itself; its exit status, or nullopt on timeout.
  std::optional<int> wait(std::chrono::milliseconds timeout);
  bool running() { return process_ && process_->running(); }
  std::string log() const { return process_ ? process_->log() : std::string(); }  // this run's log

  int port() const { return port_; }  // 0 before the first start in port_file mode
  std::string url() const;            // "http://127.0.0.1:<port>"
  const std::string& site() const { return options_.site; }
  const fs::path& db_path() const { return options_.db; }
  fs::path token_file() const;
  std::string token() const;  // the token file's first line

 private:
  std::vector<std::string> command() const;

  std::string broker_url_;
  fs::path dir_;
  Options options_;
  std::vector<std::string> login_args_;  // --username/--password-file/--dynsec on a dynsec broker
  int port_ = 0;
  std::optional<net::PortReservation> reserved_;  // the fixed port, held so restarts find it free
  int runs_ = 0;
  std::unique_ptr<Child> process_;
};

struct Message {
  std::string topic;
  std::string payload;
  int qos = 0;
  bool retained = false;
};

// A Paho-based MQTT client for tests: records every message on its subscriptions and lets
// the test wait for one that matches, with a timeout (no sleeps).
class MqttProbe {
 public:
  struct Options {
    std::string client_id;  // empty: generated
    std::string username;
    std::string password;
  };
  MqttProbe(const std::string& url, Options options);
  explicit MqttProbe(const std::string& url) : MqttProbe(url, Options{}) {}
  ~MqttProbe();

  // Throws on failure (bad credentials, broker down) so tests see why.
  void connect(std::chrono::milliseconds timeout = 5s);
  // Returns false if the broker refused the connection (e.g. bad credentials).
  bool try_connect(std::chrono::milliseconds timeout = 5s);
  void disconnect();
  bool connected() const;

  // Subscribes and waits for SUBACK; returns the granted QoS (0x80 = refused).
  int subscribe(const std::string& filter, int qos = 1);
  // Publishes and waits for completion (PUBACK for QoS 1); false on failure.
  bool publish(const std::string& topic, const std::string& payload, int qos = 1, bool retained = false);

  // Waits until some received message (from the start, including already received ones not yet
  // consumed by a previous wait_for) satisfies `match`; returns it and marks it consumed.
  std::optional<Message> wait_for(const std::function<bool(const Message&)>& match,
                                  std::chrono::milliseconds timeout = 5s);
  std::optional<Message> wait_for_topic(const std::string& topic, std::chrono::milliseconds timeout = 5s);
  std::vector<Message> messages() const;  // everything received so far
  std::size_t count(const std::function<bool(const Message&)>& match) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace kiosk::test
