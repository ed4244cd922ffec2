// kiosk-firmware: parses the device file and flags, loads the board, runs the daemon.
#include <signal.h>
#include <sys/signalfd.h>

#include <cstdio>
#include <exception>
#include <iostream>

#include "kiosk/firmware/board.hpp"
#include "kiosk/firmware/daemon.hpp"
#include "kiosk/firmware/device_config.hpp"
#include "kiosk/firmware/log.hpp"

#ifndef KIOSK_BOARDS_DIR
#define KIOSK_BOARDS_DIR "/usr/share/kiosk/boards"
#endif

int main(int argc, char** argv) {
  using namespace kiosk::firmware;
  // Block the stop signals before any thread exists (Paho's threads inherit the mask), so
  // they arrive only through the daemon loop's signalfd.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> args(argv + 1, argv + argc);
  auto cl = parse_command_line(args, KIOSK_BOARDS_DIR);
  if (!cl) {
    std::cerr << "kiosk-firmware: " << cl.error().message() << " (see --help)\n";
    return 2;
  }
  if (cl->help) {
    std::cout << usage(KIOSK_BOARDS_DIR);
    return 0;
  }
  if (cl->version) {
    std::cout << "kiosk-firmware " << KIOSK_VERSION << "\n";
    return 0;
  }
  auto board = load_board(cl->config.boards_dir, cl->config.board);
  if (!board) {
    std::cerr << "kiosk-firmware: " << board.error().message() << "\n";
    return 2;
  }
  auto config = resolve_for_board(cl->config, *board);
  if (!config) {
    std::cerr << "kiosk-firmware: " << config.error().message() << " (fix the device file or flags)\n";
    return 2;
  }
  Log log(config->log_level);
  int signal_fd = ::signalfd(-1, &stop, SFD_CLOEXEC);
  if (signal_fd < 0) {
    log.error("daemon", "cannot create signalfd");
    return 1;
  }
  try {
    Daemon daemon(*config, *board, log);
    return daemon.run(signal_fd);
  } catch (const std::exception& e) {
    log.error("daemon", std::string("cannot start: ") + e.what());
    return 1;
  }
}
