// Test support: temp dirs, ports, child processes, a real mosquitto, kiosk-hub as a child and an MQTT probe client.
#include "kiosk_test.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <mqtt/async_client.h>

#include "http_client.hpp"

namespace kiosk::test {

fs::path bin_dir() {
  if (const char* env = std::getenv("KIOSK_BIN_DIR"); env != nullptr && *env != '\0') return env;
  return KIOSK_BIN_DIR;
}

fs::path source_dir() { return KIOSK_SOURCE_DIR; }

// ---------------------------------------------------------------------------------------------
TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string pattern = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/kiosk-test-XXXXXX";
  std::vector<char> buf(pattern.begin(), pattern.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + std::string(std::strerror(errno)));
  path_ = buf.data();
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

ScopedEnv::ScopedEnv(std::string name, const std::string& value) : name_(std::move(name)) {
  if (const char* old = std::getenv(name_.c_str())) old_ = old;
  ::setenv(name_.c_str(), value.c_str(), 1);
}

ScopedEnv::~ScopedEnv() {
  if (old_)
    ::setenv(name_.c_str(), old_->c_str(), 1);
  else
    ::unsetenv(name_.c_str());
}

bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout,
                std::chrono::milliseconds poll) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    if (condition()) return true;
    if (std::chrono::steady_clock::now() >= deadline) return condition();
    std::this_thread::sleep_for(poll);
  }
}

bool run_io_until(boost::asio::io_context& io, const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= deadline) return done();
    if (io.run_one_for(std::chrono::milliseconds(10)) == 0 && io.stopped()) io.restart();
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
namespace {

// The program's path as execvp would find it, looked up before fork (see Child::Child).
std::string find_program(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::istringstream dirs(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
  for (std::string dir; std::getline(dirs, dir, ':');) {
    const std::string candidate = (dir.empty() ? std::string(".") : dir) + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return name;  // execve fails with ENOENT, reported through the handshake
}

// This process's environment with `overrides` set, as "KEY=value" strings.
std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry(*e);
    if (!overrides.count(entry.substr(0, entry.find('=')))) out.push_back(entry);
  }
  for (const auto& [k, v] : overrides) out.push_back(k + "=" + v);
  return out;
}

}  // namespace

Child::Child(std::vector<std::string> argv, Options options) : argv_(std::move(argv)), options_(std::move(options)) {
  if (argv_.empty()) throw std::invalid_argument("Child: empty argv");
  // Everything the child needs is made here, before fork: the test process has other threads
  // (io threads, servers), and one of them may hold the allocator's lock at the moment of the
  // fork, so the child may call nothing that allocates (it hung under ASan) - only system calls.
  const std::string program = find_program(argv_[0]);
  std::vector<char*> args;
  for (auto& a : argv_) args.push_back(a.data());
  args.push_back(nullptr);
  std::vector<std::string> env = environment_with(options_.env);
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string out = options_.log_file.empty() ? std::string("/dev/null") : options_.log_file.string();
  const std::string dir = options_.working_dir.string();
  // The exec handshake: the pipe closes on a successful exec, or carries errno if exec failed,
  // so the constructor returns only once the child really runs the program.
  int handshake[2];
  if (::pipe2(handshake, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed: " + std::string(std::strerror(errno)));
  if (pid == 0) {
    ::close(handshake[0]);
    // The test framework's signal handlers must not run in the child.
    for (int sig = 1; sig < NSIG; ++sig) ::signal(sig, SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    // The child must never outlive the test, even if the test crashes.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);
    ::setpgid(0, 0);
    int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      ::dup2(fd, STDOUT_FILENO);
      ::dup2(fd, STDERR_FILENO);
      ::close(fd);
    }
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) {
      ::dup2(devnull, STDIN_FILENO);
      ::close(devnull);
    }
    int err = 0;
    if (!dir.empty() && ::chdir(dir.c_str()) != 0) err = errno;
    if (err == 0) {
      ::execve(program.c_str(), args.data(), envp.data());
      err = errno;
    }
    [[maybe_unused]] auto n = ::write(handshake[1], &err, sizeof err);
    ::_exit(127);
  }
  ::close(handshake[1]);
  int err = 0;
  ssize_t n;
  do {
    n = ::read(handshake[0], &err, sizeof err);
  } while (n < 0 && errno == EINTR);
  ::close(handshake[0]);
  pid_ = pid;
  if (n == static_cast<ssize_t>(sizeof err)) {
    int st = 0;
    ::waitpid(pid, &st, 0);
    status_ = 127;
    throw std::runtime_error("cannot run " + argv_[0] + ": " + std::strerror(err));
  }
}

Child::~Child() {
  if (running()) kill9();
}

bool Child::running() {
  if (status_) return false;
  int st = 0;
  pid_t r = ::waitpid(pid_, &st, WNOHANG);
  if (r == 0) return true;
  if (r == pid_) status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  else status_ = -1;
  return false;
}

void Child::signal(int sig) {
  if (running()) ::kill(pid_, sig);
}

std::optional<int> Child::wait(std::chrono::milliseconds timeout) {
  if (wait_until([this] { return !running(); }, timeout, std::chrono::milliseconds(2))) return status_;
  return std::nullopt;
}

int Child::stop(std::chrono::milliseconds grace) {
  signal(SIGTERM);
  if (auto st = wait(grace)) return *st;
  kill9();
  return status_.value_or(-1);
}

void Child::kill9() {
  if (!running()) return;
  ::kill(pid_, SIGKILL);
  int st = 0;
  if (::waitpid(pid_, &st, 0) == pid_) status_ = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
  else status_ = -1;
}

std::string slurp(const fs::path& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string Child::log() const {
  if (options_.log_file.empty()) return {};
  return slurp(options_.log_file);
}

// ---------------------------------------------------------------------------------------------
Broker::Broker(Options options) : options_(std::move(options)) {
  std::ofstream conf(dir() / "mosquitto.conf");
  conf << "listener " << port() << " 127.0.0.1\n"
       << "persistence false\n"
       << "log_dest stderr\n"
       << "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
       << "connection_messages true\n"
       << "max_keepalive 120\n"
       << "set_tcp_nodelay true\n"
       // A hub briefly behind must not lose QoS 1 presses to the default 1000-message queue.
       << "max_queued_messages 1000000\n";
  // As root mosquitto drops to the "mosquitto" user, which cannot read this private temp dir.
  if (::geteuid() == 0) conf << "user root\n";
  if (options_.dynsec) {
    Child init({"mosquitto_ctrl", "dynsec", "init", dynsec_file().string(), options_.admin_user,
                options_.admin_password},
               Child::Options{.env = {}, .log_file = dir() / "dynsec-init.log", .working_dir = {}});
    auto st = init.wait(std::chrono::seconds(10));
    if (!st || *st != 0) throw std::runtime_error("mosquitto_ctrl dynsec init failed: " + init.log());
    conf << "allow_anonymous false\n"
         << "plugin " << dynsec_plugin().string() << "\n"
         << "plugin_opt_config_file " << dynsec_file().string() << "\n";
  } else {
    conf << "allow_anonymous true\n";
  }
  conf << options_.extra_config << "\n";
  conf.close();
  start();
}

void Broker::dynsec(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{"mosquitto_ctrl", "-h", "127.0.0.1", "-p", std::to_string(port()),
                                "-u", options_.admin_user, "-P", options_.admin_password, "dynsec"};
  argv.insert(argv.end(), args.begin(), args.end());
  Child c(argv, Child::Options{.env = {}, .log_file = dir() / "ctrl.log", .working_dir = {}});
  const auto status = c.wait(std::chrono::seconds(10));
  if (!status || *status != 0) throw std::runtime_error("mosquitto_ctrl dynsec failed: " + c.log());
}

Broker::~Broker() {
  if (process_) process_->kill9();
}

std::string Broker::url() const { return "tcp://127.0.0.1:" + std::to_string(port()); }

int run_to_end(std::vector<std::string> argv, const fs::path& log, std::chrono::milliseconds timeout) {
  const auto program = argv.empty() ? std::string() : argv[0];
  Child child(std::move(argv), Child::Options{.env = {}, .log_file = log, .working_dir = {}});
  auto status = child.wait(timeout);
  if (!status) throw std::runtime_error(program + " did not end within " + std::to_string(timeout.count()) + " ms");
  return *status;
}

int run_kiosk_pki(const std::vector<std::string>& args, const fs::path& log) {
  std::vector<std::string> argv{(source_dir() / "tools" / "kiosk-pki").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return run_to_end(std::move(argv), log);
}

unsigned file_mode(const fs::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + path.string() + ": " + std::strerror(errno));
  return st.st_mode & 0777;
}

fs::path Broker::dynsec_plugin() {
  // /usr/lib/x86_64-linux-gnu/, /usr/lib/aarch64-linux-gnu/, ...: Debian's multiarch folders,
  // this build's own first (on a multiarch machine another architecture's copy would not load).
  std::error_code ec;
#if defined(__x86_64__)
  const fs::path native = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so";
#elif defined(__aarch64__)
  const fs::path native = "/usr/lib/aarch64-linux-gnu/mosquitto_dynamic_security.so";
#elif defined(__arm__)
  const fs::path native = "/usr/lib/arm-linux-gnueabihf/mosquitto_dynamic_security.so";
#else
  const fs::path native;
#endif
  if (!native.empty() && fs::exists(native, ec)) return native;
  for (const auto& entry : fs::directory_iterator("/usr/lib", ec)) {
    auto candidate = entry.path() / "mosquitto_dynamic_security.so";
    if (fs::exists(candidate, ec)) return candidate;
  }
  throw std::runtime_error("mosquitto_dynamic_security.so not found in /usr/lib/<arch>/: run tools/setup.sh");
}

fs::path Broker::dynsec_file() const { return dir() / "dynamic-security.json"; }

void Broker::start() {
  if (process_ && process_->running()) return;
  process_ = std::make_unique<Child>(
      std::vector<std::string>{"mosquitto", "-c", (dir() / "mosquitto.conf").string()},
      Child::Options{.env = {}, .log_file = dir() / "mosquitto.log", .working_dir = {}});
  bool up = wait_until([this] { return port_accepts(port()) || !process_->running(); }, std::chrono::seconds(10));
  if (!up || !process_->running()) throw std::runtime_error("mosquitto did not start on port " + std::to_string(port()) + ": " + log());
}

void Broker::stop() {
  if (process_) process_->stop();
}

void Broker::kill9() {
  if (process_) process_->kill9();
}

bool Broker::running() { return process_ && process_->running(); }

std::string Broker::log() const { return process_ ? process_->log() : std::string{}; }

// ---------------------------------------------------------------------------------------------
namespace {

int read_port(const fs::path& port_file) {
  std::ifstream in(port_file);
  int port = 0;
  in >> port;
  return port;
}

}  // namespace

HubChild::HubChild(const Broker& broker, fs::path dir, Options options)
    : broker_url_(broker.url()), dir_(std::move(dir)), options_(std::move(options)) {
  fs::create_directories(dir_);
  if (options_.db.empty()) options_.db = dir_ / "hub.db";
  if (!options_.port_file) port_ = reserved_.emplace().port();
  if (broker.options().dynsec) {
    std::ofstream(dir_ / "hub.password") << broker.options().admin_password << "\n";
    login_args_ = {"--username", broker.options().admin_user, "--password-file", (dir_ / "hub.password").string(),
                   "--dynsec"};
  }
}

std::vector<std::string> HubChild::command() const {
  std::vector<std::string> argv{(bin_dir() / "kiosk-hub").string(), "--broker", broker_url_, "--site", options_.site,
                                "--db", options_.db.string()};
  if (options_.port_file)
    argv.insert(argv.end(), {"--http", "127.0.0.1:0", "--port-file", (dir_ / "hub.port").string()});
  else
    argv.insert(argv.end(), {"--http", "127.0.0.1:" + std::to_string(port_)});
  if (!options_.token_file.empty()) argv.insert(argv.end(), {"--token-file", options_.token_file.string()});
  argv.insert(argv.end(), login_args_.begin(), login_args_.end());
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  return argv;
}

bool HubChild::start(std::chrono::milliseconds timeout) {
  if (!running()) {
    if (options_.port_file) {
      // A stale port file from the last run would name a port nobody listens on any more.
      fs::remove(dir_ / "hub.port");
      port_ = 0;
    }
    ++runs_;
    process_ = std::make_unique<Child>(
        command(), Child::Options{.env = {}, .log_file = dir_ / ("hub-" + std::to_string(runs_) + ".log"),
                                  .working_dir = {}});
  }
  const bool settled = wait_until(
      [&] {
        if (!process_->running()) return true;
        if (port_ == 0) port_ = read_port(dir_ / "hub.port");
        if (port_ == 0) return false;
        // With the token: a hub started with --open-reads off answers nothing without it.
        std::error_code ec;
        const auto token = fs::exists(token_file(), ec) ? this->token() : std::string();
        return http_request(port_, "GET", "/health", "", token, 1s).status == 200;
      },
      timeout, 10ms);
  return settled && process_->running();
}

int HubChild::stop(std::chrono::milliseconds grace) { return process_ ? process_->stop(grace) : -1; }

void HubChild::kill9() {
  if (process_) process_->kill9();
}

std::optional<int> HubChild::wait(std::chrono::milliseconds timeout) {
  return process_ ? process_->wait(timeout) : std::nullopt;
}

std::string HubChild::url() const { return "http://127.0.0.1:" + std::to_string(port_); }

fs::path HubChild::token_file() const {
  return options_.token_file.empty() ? options_.db.parent_path() / "hub.token" : options_.token_file;
}

std::string HubChild::token() const {
  std::ifstream in(token_file());
  std::string token;
  std::getline(in, token);
  return token;
}

// ---------------------------------------------------------------------------------------------
struct MqttProbe::Impl : public virtual mqtt::callback {
  Impl(const std::string& url, Options o)
      : options(std::move(o)),
        client(url, options.client_id.empty() ? generated_id() : options.client_id) {
    client.set_callback(*this);
  }

  static std::string generated_id() {
    static std::atomic<int> counter{0};
    std::random_device rd;
    return "probe-" + std::to_string(::getpid()) + "-" + std::to_string(counter++) + "-" + std::to_string(rd() % 100000);
  }

  void message_arrived(mqtt::const_message_ptr msg) override {
    std::lock_guard lock(mutex);
    received.push_back(Message{msg->get_topic(), msg->to_string(), msg->get_qos(), msg->is_retained()});
    consumed.push_back(false);
    cv.notify_all();
  }
  void connection_lost(const std::string&) override {}

  Options options;
  mqtt::async_client client;
  mutable std::mutex mutex;
  std::condition_variable cv;
  std::vector<Message> received;
  std::vector<bool> consumed;
};

MqttProbe::MqttProbe(const std::string& url, Options options) : impl_(std::make_unique<Impl>(url, std::move(options))) {}

MqttProbe::~MqttProbe() {
  try {
    if (impl_->client.is_connected()) impl_->client.disconnect()->wait_for(std::chrono::seconds(2));
  } catch (...) {
  }
}

bool MqttProbe::try_connect(std::chrono::milliseconds timeout) {
  auto opts = mqtt::connect_options_builder().clean_session(true).keep_alive_interval(std::chrono::seconds(30)).finalize();
  if (!impl_->options.username.empty()) opts.set_user_name(impl_->options.username);
  if (!impl_->options.password.empty()) opts.set_password(impl_->options.password);
  opts.set_connect_timeout(std::chrono::duration_cast<std::chrono::seconds>(timeout) + std::chrono::seconds(1));
  try {
    auto tok = impl_->client.connect(opts);
    if (!tok->wait_for(timeout)) return false;
    return impl_->client.is_connected();
  } catch (const mqtt::exception&) {
    return false;
  }
}

void MqttProbe::connect(std::chrono::milliseconds timeout) {
  if (!try_connect(timeout)) throw std::runtime_error("MqttProbe: could not connect to " + impl_->client.get_server_uri());
}

void MqttProbe::disconnect() {
  try {
    impl_->client.disconnect()->wait_for(std::chrono::seconds(2));
  } catch (const mqtt::exception&) {
  }
}

bool MqttProbe::connected() const { return impl_->client.is_connected(); }

int MqttProbe::subscribe(const std::string& filter, int qos) {
  try {
    auto tok = impl_->client.subscribe(filter, qos);
    if (!tok->wait_for(std::chrono::seconds(5))) return 0x80;
    auto rsp = tok->get_subscribe_response();
    auto codes = rsp.get_reason_codes();
    return codes.empty() ? qos : static_cast<int>(codes.front());
  } catch (const mqtt::exception& e) {
    return 0x80;
  }
}

bool MqttProbe::publish(const std::string& topic, const std::string& payload, int qos, bool retained) {
  try {
    auto tok = impl_->client.publish(topic, payload.data(), payload.size(), qos, retained);
    return tok->wait_for(std::chrono::seconds(5));
  } catch (const mqtt::exception&) {
    return false;
  }
}

std::optional<Message> MqttProbe::wait_for(const std::function<bool(const Message&)>& match,
                                           std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  std::size_t scanned = 0;
  std::optional<Message> found;
  auto scan = [&] {
    for (; scanned < impl_->received.size(); ++scanned) {
      if (!impl_->consumed[scanned] && match(impl_->received[scanned])) {
        impl_->consumed[scanned] = true;
        found = impl_->received[scanned];
        return true;
      }
    }
    return false;
  };
  impl_->cv.wait_for(lock, timeout, scan);
  return found;
}

std::optional<Message> MqttProbe::wait_for_topic(const std::string& topic, std::chrono::milliseconds timeout) {
  return wait_for([&](const Message& m) { return m.topic == topic; }, timeout);
}

std::vector<Message> MqttProbe::messages() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->received;
}

std::size_t MqttProbe::count(const std::function<bool(const Message&)>& match) const {
  std::lock_guard lock(impl_->mutex);
  std::size_t n = 0;
  for (const auto& m : impl_->received) n += match(m) ? 1 : 0;
  return n;
}

}  // namespace kiosk::test
