// The terminal daemon: one poll() loop over buttons, MQTT events, signals and timers.
#pragma once

#include <memory>
#include <optional>
#include <random>
#include <string>

#include "kiosk/firmware/backoff.hpp"
#include "kiosk/firmware/board.hpp"
#include "kiosk/firmware/button_input.hpp"
#include "kiosk/firmware/device_config.hpp"
#include "kiosk/firmware/led_signal.hpp"
#include "kiosk/firmware/leds.hpp"
#include "kiosk/firmware/log.hpp"
#include "kiosk/firmware/mqtt_link.hpp"
#include "kiosk/firmware/outbox.hpp"
#include "kiosk/firmware/press_logic.hpp"
#include "kiosk/firmware/press_time.hpp"
#include "kiosk/firmware/send_window.hpp"
#include "kiosk/firmware/service_notify.hpp"

namespace kiosk::firmware {

class SimButtons;

class Daemon {
 public:
  static constexpr std::size_t kSendWindow = 200;
  static constexpr Millis kAckTimeout{10000};
  // The re-send interval doubles from kAckTimeout up to this while the hub does not answer.
  static constexpr Millis kAckTimeoutMax{300000};
  // How often a damaged outbox that could not be moved aside is tried again (on a press or an ack).
  static constexpr Millis kMoveAsideRetry{60000};

  // Opens the outbox, the inputs, the LEDs and the MQTT client; throws std::exception on failure.
  // `config` must already be resolved against `board`.
  Daemon(DeviceConfig config, Board board, Log& log);
  ~Daemon();

  // Runs until SIGTERM/SIGINT arrives on `signal_fd` (a signalfd) and returns 0, or returns 1 when
  // the outbox file turned out damaged at run time and was moved aside (a restart starts a new
  // one). A damaged file that cannot be moved keeps it running, refusing presses.
  int run(int signal_fd);

 private:
  enum class LinkState { down, connecting, up };

  void log_opening();
  void step(TimePoint now);
  void record(const AcceptedPress& press, TimePoint now);
  void pump(TimePoint now);
  bool send(const StoredPress& stored, TimePoint now);
  void on_link_event(const LinkEvent& event, TimePoint now);
  void on_ack(const std::string& payload, TimePoint now);
  void on_taken(const std::vector<std::uint64_t>& taken, std::uint64_t next_seq, TimePoint now);
  void on_subscribe_refused(const LinkEvent& event, TimePoint now);
  void on_config(const std::string& payload);
  void link_down(const std::string& reason, TimePoint now);
  // Moves the damaged outbox aside and sets restart_ (true); false when it cannot be moved: then
  // the daemon stays up refusing presses and tries again at most every kMoveAsideRetry.
  bool restart_for_corrupt_outbox(const std::string& what, TimePoint now);
  void finish_led_pattern();
  void publish_telemetry(TimePoint now);
  std::optional<TimePoint> next_deadline(TimePoint now) const;
  void shutdown();

  DeviceConfig config_;
  Board board_;
  Log& log_;
  SystemPressClock press_clock_;
  Outbox outbox_;
  PressDetector detector_;
  LedSignal led_;
  SendWindow window_;
  Backoff backoff_;
  std::mt19937 random_;
  std::unique_ptr<ButtonInput> input_;
  SimButtons* sim_ = nullptr;  // input_ when simulated, to follow debounce changes
  std::unique_ptr<Leds> leds_;
  std::unique_ptr<MqttLink> link_;
  ServiceNotifier service_ = ServiceNotifier::from_environment();

  std::string press_topic_;
  std::string status_topic_;
  std::string telemetry_topic_;
  std::string ack_topic_;
  std::string config_topic_;

  LinkState state_ = LinkState::down;
  bool restart_ = false;  // the damaged outbox was moved aside: leave the loop with status 1
  std::optional<TimePoint> move_retry_at_;  // set when moving a damaged outbox aside failed
  TimePoint started_{};
  TimePoint connect_at_{};
  TimePoint telemetry_at_{};
  Millis thanks_{800};
  std::chrono::seconds telemetry_period_{60};
};

}  // namespace kiosk::firmware
