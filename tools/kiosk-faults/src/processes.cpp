// fork/exec with PR_SET_PDEATHSIG, output to a log file or a pipe, and reaping with timeouts.
#include "processes.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>
#include <thread>

namespace kiosk::faults {
namespace {

int status_of(int raw) {
  if (WIFEXITED(raw)) return WEXITSTATUS(raw);
  if (WIFSIGNALED(raw)) return 128 + WTERMSIG(raw);
  return -1;
}

}  // namespace

Process::Process(std::string name, std::vector<std::string> argv, std::filesystem::path log_file, Output output)
    : name_(std::move(name)), argv_(std::move(argv)), log_file_(std::move(log_file)), output_(output) {}

Process::~Process() {
  if (pid_ > 0) kill9();
}

int Process::start() {
  if (running()) throw std::runtime_error(name_ + " is already running");
  int fds[2] = {-1, -1};
  if (output_ == Output::pipe && ::pipe2(fds, O_CLOEXEC) != 0)
    throw std::runtime_error("pipe for " + name_ + ": " + std::strerror(errno));
  int log_fd = -1;
  if (output_ == Output::file) {
    log_fd = ::open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (log_fd < 0) throw std::runtime_error("cannot open " + log_file_.string() + ": " + std::strerror(errno));
  }
  std::vector<char*> argv;
  for (auto& a : argv_) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork for " + name_ + ": " + std::strerror(errno));
  if (pid == 0) {
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(127);  // the orchestrator is already gone
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::signal(SIGPIPE, SIG_DFL);  // an ignored disposition would survive exec
    int out = output_ == Output::pipe ? fds[1] : log_fd;
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::dup2(out, 1);
    ::dup2(out, 2);
    ::execvp(argv[0], argv.data());
    const char msg[] = "kiosk-faults: exec failed\n";
    [[maybe_unused]] auto w = ::write(2, msg, sizeof msg - 1);
    ::_exit(127);
  }
  pid_ = pid;
  status_.reset();
  ++starts_;
  if (log_fd >= 0) ::close(log_fd);
  if (output_ == Output::pipe) {
    ::close(fds[1]);
    return fds[0];
  }
  return -1;
}

bool Process::running() {
  if (pid_ <= 0) return false;
  int raw = 0;
  pid_t r = ::waitpid(pid_, &raw, WNOHANG);
  if (r == pid_) {
    status_ = status_of(raw);
    pid_ = -1;
    return false;
  }
  return r == 0;
}

void Process::signal(int sig) {
  if (pid_ > 0) ::kill(pid_, sig);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    if (!running()) return status_;
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

int Process::kill9() {
  if (pid_ <= 0) return status_.value_or(-1);
  ::kill(pid_, SIGKILL);
  int raw = 0;
  while (::waitpid(pid_, &raw, 0) < 0 && errno == EINTR) {
  }
  status_ = status_of(raw);
  pid_ = -1;
  return *status_;
}

int Process::stop(std::chrono::milliseconds grace) {
  if (!running()) return status_.value_or(-1);
  signal(SIGTERM);
  if (auto s = wait(grace)) return *s;
  return kill9();
}

ProcessSample sample_process(int pid) {
  ProcessSample s;
  if (pid <= 0) return s;
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) s.rss_kb = std::stol(line.substr(6));
  }
  std::error_code ec;
  long n = 0;
  for (std::filesystem::directory_iterator it("/proc/" + std::to_string(pid) + "/fd", ec), end; !ec && it != end;
       it.increment(ec))
    ++n;
  if (!ec) s.fds = n;
  return s;
}

}  // namespace kiosk::faults
