// The daemon loop: buttons -> press core -> outbox commit -> MQTT publish -> hub ack -> delete.
#include "kiosk/firmware/daemon.hpp"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <algorithm>
#include <filesystem>
#include <stdexcept>
#include <thread>

#include "kiosk/firmware/gpiod_buttons.hpp"
#include "kiosk/firmware/sim_buttons.hpp"
#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/topics.hpp"

#ifndef KIOSK_VERSION
#define KIOSK_VERSION "0.0.0"
#endif

namespace kiosk::firmware {
namespace {

using protocol::TopicKind;

PressSettings settings_of(const DeviceConfig& c) {
  return PressSettings{Millis{c.debounce_ms}, Millis{c.lockout_ms}, Millis{c.repeat_window_ms}};
}

std::filesystem::path prepare_data_dir(const std::string& dir) {
  std::filesystem::create_directories(dir);
  return std::filesystem::path(dir) / "outbox.db";
}

std::string seq_range(const std::vector<std::uint64_t>& seqs) {
  if (seqs.empty()) return "none";
  auto [lo, hi] = std::minmax_element(seqs.begin(), seqs.end());
  return seqs.size() == 1 ? std::to_string(*lo) : std::to_string(*lo) + ".." + std::to_string(*hi);
}

}  // namespace

Daemon::Daemon(DeviceConfig config, Board board, Log& log)
    : config_(std::move(config)),
      board_(std::move(board)),
      log_(log),
      outbox_(prepare_data_dir(config_.data_dir), config_.outbox_max,
              OutboxStart{press_clock_.now().wall_ms, config_.first_seq,
                          (std::uint64_t{std::random_device{}()} << 32) | std::random_device{}()}),
      detector_(static_cast<int>(board_.buttons.size()), settings_of(config_)),
      window_(kSendWindow, kAckTimeout, kAckTimeoutMax),
      backoff_(Millis{500}, std::chrono::seconds(config_.reconnect_max_s)),
      random_(std::random_device{}()),
      thanks_(config_.thanks_ms),
      telemetry_period_(config_.telemetry_s) {
  log_opening();
  int buttons = static_cast<int>(board_.buttons.size());
  bool simulated = !config_.sim_input.empty() || board_.simulated();
  if (simulated) {
    std::string fifo = config_.sim_input.empty() ? config_.data_dir + "/sim-input.fifo" : config_.sim_input;
    auto sim = std::make_unique<SimButtons>(fifo, buttons, Millis{config_.debounce_ms} + Millis{5}, log_);
    sim_ = sim.get();
    input_ = std::move(sim);
    leds_ = std::make_unique<LogLeds>(log_);
    log_.info("input", "simulated buttons from FIFO " + fifo);
  } else {
    try {
      input_ = std::make_unique<GpiodButtons>(board_);
      leds_ = std::make_unique<GpiodLeds>(board_);
    } catch (const std::exception& e) {
      throw std::runtime_error(std::string(e.what()) + " (board " + board_.name +
                               "; on a machine without these GPIO lines use --sim-input PATH)");
    }
    log_.info("input", "GPIO buttons on " + board_.chip);
  }

  press_topic_ = protocol::device_topic(config_.site, config_.device, TopicKind::press);
  status_topic_ = protocol::device_topic(config_.site, config_.device, TopicKind::status);
  telemetry_topic_ = protocol::device_topic(config_.site, config_.device, TopicKind::telemetry);
  ack_topic_ = protocol::device_topic(config_.site, config_.device, TopicKind::ack);
  config_topic_ = protocol::device_topic(config_.site, config_.device, TopicKind::config);

  LinkOptions link;
  link.broker = config_.broker;
  link.client_id = config_.device;
  link.username = config_.username;
  link.password = config_.password;
  link.ca_file = config_.tls_ca;
  link.cert_file = config_.tls_cert;
  link.key_file = config_.tls_key;
  link.verify_host = config_.tls_verify_host;
  link.will_topic = status_topic_;
  link.will_payload = protocol::to_json(protocol::Status{protocol::DeviceState::offline, {}, {}, {}});
  link.keepalive_s = static_cast<int>(config_.keepalive_s);
  link_ = std::make_unique<MqttLink>(link);
}

Daemon::~Daemon() = default;

void Daemon::log_opening() {
  const auto& o = outbox_.opening();
  std::string path = (std::filesystem::path(config_.data_dir) / "outbox.db").string();
  if (!o.corrupt_moved_to.empty()) {
    log_.error("outbox", path + " is not a readable database (" + o.corrupt_reason + "): moved it to " +
                             o.corrupt_moved_to.string() + "; started a new outbox" +
                             (o.salvaged > 0 ? " with the " + std::to_string(o.salvaged) +
                                                   " presses still readable in it (they will be sent)"
                                             : "; no press in it could be read back") +
                             (o.salvage_error.empty() ? std::string() : " (" + o.salvage_error + ")"));
  }
  for (const auto& earlier : o.restored_from_earlier) {
    const auto what = earlier.from.string() + ", set aside earlier (while running, or by a start-up that ended "
                                              "before it had stored its presses)";
    if (earlier.error.empty())
      log_.warn("outbox", "read back the presses of " + what + ": " + std::to_string(earlier.presses) +
                              " presses back in the outbox (they will be sent)");
    else
      log_.error("outbox", "cannot read back the presses of " + what + ": " + earlier.error);
  }
  auto first = std::to_string(outbox_.next_seq());
  switch (o.seq) {
    case OutboxOpening::Seq::kept:
      break;
    case OutboxOpening::Seq::given:
      log_.info("outbox", "new outbox " + path + ": first seq " + first + " from --first-seq");
      break;
    case OutboxOpening::Seq::from_clock:
      log_.info("outbox", "new outbox " + path + ": first seq " + first +
                              " from the wall clock (ms), above any seq this device used before");
      break;
    case OutboxOpening::Seq::random:
      log_.info("outbox", "new outbox " + path + ": first seq " + first +
                              ", picked at random: the wall clock is not synchronised (or before " +
                              protocol::format_time(protocol::WallTime{Millis{kPlausibleWallMs}}) + ")");
      break;
  }
}

int Daemon::run(int signal_fd) {
  started_ = Clock::now();
  connect_at_ = started_;
  log_.info("daemon", "started fw=" KIOSK_VERSION " device=" + config_.device + " site=" + config_.site +
                          " board=" + board_.name + " buttons=" + std::to_string(board_.buttons.size()) +
                          " queued=" + std::to_string(outbox_.depth()) +
                          " next_seq=" + std::to_string(outbox_.next_seq()) +
                          " dropped=" + std::to_string(outbox_.dropped()));
  if (SystemPressClock::synchronized()) {
    log_.info("clock", "wall clock synchronised: presses kept across a reboot are sent with their age");
  } else {
    log_.warn("clock", "wall clock not synchronised (no NTP yet, or none on this network): presses are "
                       "dated by the boot clock only, so those kept across a reboot go out flagged age-unknown "
                       "and the hub dates them when it receives them");
  }
  service_.ready();
  for (;;) {
    auto now = Clock::now();
    step(now);
    if (restart_) {
      // The damaged file is aside already; systemd (Restart=always) starts us on a new outbox.
      finish_led_pattern();
      shutdown();
      return 1;
    }
    service_.keep_alive(now);
    std::vector<pollfd> fds;
    fds.push_back({signal_fd, POLLIN, 0});
    fds.push_back({link_->event_fd(), POLLIN, 0});
    for (int fd : input_->fds()) fds.push_back({fd, POLLIN, 0});
    int timeout_ms = 60000;
    if (auto next = next_deadline(now)) {
      auto wait = std::chrono::ceil<Millis>(*next - now).count();
      timeout_ms = static_cast<int>(std::clamp<Millis::rep>(wait, 0, 60000));
    }
    int n = ::poll(fds.data(), fds.size(), timeout_ms);
    if (n < 0 && errno != EINTR) {
      log_.error("daemon", "poll failed; stopping");
      shutdown();
      return 1;
    }
    now = Clock::now();
    if (fds[0].revents & POLLIN) {
      signalfd_siginfo info{};
      [[maybe_unused]] auto r = ::read(signal_fd, &info, sizeof info);
      log_.info("daemon", "stopping on signal " + std::to_string(info.ssi_signo));
      step(now);  // presses already settled still get stored
      if (restart_) finish_led_pattern();
      shutdown();
      return restart_ ? 1 : 0;
    }
    if (fds[1].revents & POLLIN) {
      for (const auto& e : link_->take_events()) on_link_event(e, now);
    }
    for (std::size_t i = 2; i < fds.size(); ++i) {
      if (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) input_->on_readable(fds[i].fd, now);
    }
  }
}

void Daemon::step(TimePoint now) {
  for (const auto& e : input_->take(now)) detector_.edge(e.button, e.pressed, e.at);
  for (const auto& p : detector_.take(now)) record(p, now);

  if (state_ == LinkState::down && now >= connect_at_) {
    state_ = LinkState::connecting;
    log_.debug("mqtt", "connecting to " + config_.broker);
    link_->connect();
  }
  if (state_ == LinkState::up) {
    auto overdue = window_.overdue(now);
    if (!overdue.empty()) {
      log_.debug("outbox", "no ack for seqs " + std::to_string(overdue.front().press.seq) + ".." +
                               std::to_string(overdue.back().press.seq) + " (" + std::to_string(overdue.size()) +
                               "); sending again, next try in " + std::to_string(window_.interval().count()) + " ms");
    }
    for (const auto& p : overdue) {
      if (!send(p, now)) break;
    }
    if (now >= telemetry_at_) publish_telemetry(now);
    pump(now);
  }
  leds_->show(led_.mode(now), led_.lit(now));
}

void Daemon::record(const AcceptedPress& press, TimePoint now) {
  auto button = static_cast<std::size_t>(press.button);
  int rating = config_.ratings[button];
  // Date the press when it settled, not when this loop got to it.
  PressTime at = press_clock_.now();
  auto late = std::chrono::duration_cast<std::chrono::nanoseconds>(now - press.at).count();
  at.boottime_ns -= late;
  if (at.wall_ms != 0) at.wall_ms -= late / 1'000'000;  // 0 is "unknown" and stays so
  // The guest sees the thank-you light now, not after the commit's fsync (an SD card can stall it
  // for seconds); a failed commit turns it into the refused pattern below.
  led_.thanks(now, thanks_);
  leds_->show(led_.mode(now), led_.lit(now));
  auto before_dropped = outbox_.dropped();
  auto stored = outbox_.add(press.button, rating, config_.scale, press.repeat, at);
  if (!stored) {
    led_.refused(now);
    if (outbox_.corrupt()) {
      if (!restart_for_corrupt_outbox("press refused, not stored: " + stored.error().message(), now)) {
        log_.warn("outbox", "press refused, not stored: the damaged outbox could not be moved aside");
      }
      return;
    }
    // Never publish what was not committed; the next press tries the database again.
    log_.error("outbox", "press refused, not stored: " + stored.error().message() +
                             " (check free space and permissions of " + config_.data_dir + ")");
    return;
  }
  if (outbox_.dropped() > before_dropped) {
    log_.warn("outbox", "full at " + std::to_string(outbox_.max_presses()) + " presses: dropped the oldest (" +
                            std::to_string(outbox_.dropped()) + " dropped in total)");
  }
  log_.info("press", "seq=" + std::to_string(stored->press.seq) + " button=" + std::to_string(press.button) +
                         " rating=" + std::to_string(rating));
  pump(now);
}

bool Daemon::restart_for_corrupt_outbox(const std::string& what, TimePoint now) {
  if (restart_) return true;
  // Not retried on every press: a card that went read-only stays so until someone looks at it.
  if (move_retry_at_ && now < *move_retry_at_) return false;
  bool first_try = !move_retry_at_;
  auto queued = outbox_.depth();
  auto moved = outbox_.close_and_move_aside(press_clock_.now().wall_ms);
  if (moved) {
    // Moved now rather than by the next start: its check may miss the damage and reopen the file,
    // and a restart loop would cost a press and seconds each time.
    restart_ = true;
    log_.error("outbox", what + ": the outbox file is damaged; moved it to " + moved->string() +
                             " (kept for inspection; the " + std::to_string(queued) +
                             " presses queued in it are read back from it at the next start, as far as they "
                             "are readable); exiting with status 1 so that the service restarts with a new outbox");
    return true;
  }
  move_retry_at_ = now + kMoveAsideRetry;
  if (first_try) {
    // Exiting would not help: the next start could not move it either and would fail every 2 s.
    log_.error("outbox", what + ": the outbox file is damaged and cannot be replaced (" + moved.error().message() +
                             "): check the storage card and its filesystem (read-only?); refusing presses "
                             "meanwhile, trying again every " +
                             std::to_string(std::chrono::duration_cast<std::chrono::seconds>(kMoveAsideRetry).count()) +
                             " s");
  } else {
    log_.debug("outbox", "still cannot move the damaged outbox aside: " + moved.error().message());
  }
  return false;
}

void Daemon::finish_led_pattern() {
  // The loop ends here, and shutdown can wait seconds for the broker with the light stuck at its
  // last level: a steady light would read as a thank-you for a press that was not stored.
  for (auto now = Clock::now(); led_.mode(now) == LedMode::refused; now = Clock::now()) {
    leds_->show(led_.mode(now), led_.lit(now));
    auto next = led_.next_change(now);
    if (next) std::this_thread::sleep_until(*next);
  }
  leds_->show(LedMode::idle, false);
}

void Daemon::pump(TimePoint now) {
  if (state_ != LinkState::up || restart_) return;
  while (window_.room() > 0) {
    auto pending = outbox_.pending_after(window_.cursor(), window_.room());
    if (!pending) {
      if (outbox_.corrupt()) restart_for_corrupt_outbox("cannot read pending presses: " + pending.error().message(), now);
      else log_.error("outbox", "cannot read pending presses: " + pending.error().message());
      return;
    }
    if (pending->empty()) return;
    for (const auto& p : *pending) {
      if (!send(p, now)) return;
    }
  }
}

bool Daemon::send(const StoredPress& stored, TimePoint now) {
  auto press = stored.press;
  press.nonce = press_nonce(stored.at);
  if (auto age = age_ms(stored.at, press_clock_.now())) {
    press.age_ms = *age;
  } else {
    // The hub dates it by its receipt; the flag tells a reader that date is only an upper bound.
    press.age_ms = 0;
    press.flags.emplace_back(kAgeUnknownFlag);
  }
  if (!link_->publish(press_topic_, protocol::to_json(press), 1, false)) {
    log_.debug("mqtt", "publish of seq=" + std::to_string(press.seq) + " failed; waiting for the connection");
    return false;
  }
  window_.sent(stored, now);
  return true;
}

void Daemon::on_link_event(const LinkEvent& event, TimePoint now) {
  switch (event.kind) {
    case LinkEvent::Kind::connected: {
      state_ = LinkState::up;
      // No backoff reset here: a broker that accepts the connection and then refuses the ack
      // subscription would otherwise be retried every 250-500 ms forever. The link has proven
      // itself only when the ack subscription is granted (below).
      led_.set_offline(false, now);
      log_.info("mqtt", "connected to " + config_.broker + "; " + std::to_string(outbox_.depth()) +
                            " presses to send");
      if (!link_->subscribe({ack_topic_, config_topic_}, 1)) {
        link_->drop();
        link_down("cannot send the subscription to " + ack_topic_, now);
        break;
      }
      protocol::Status status{protocol::DeviceState::online, std::string(KIOSK_VERSION), board_.name,
                              static_cast<int>(board_.buttons.size())};
      link_->publish(status_topic_, protocol::to_json(status), 1, true);
      window_.reset();
      telemetry_at_ = now + telemetry_period_;
      pump(now);
      break;
    }
    case LinkEvent::Kind::connect_failed:
    case LinkEvent::Kind::lost:
      link_down(event.reason, now);
      break;
    case LinkEvent::Kind::message:
      if (event.topic == ack_topic_) on_ack(event.payload, now);
      else if (event.topic == config_topic_) on_config(event.payload);
      break;
    case LinkEvent::Kind::subscribe_refused:
      on_subscribe_refused(event, now);
      break;
    case LinkEvent::Kind::subscribed:
      if (event.topic == ack_topic_ && state_ == LinkState::up) backoff_.reset();
      break;
  }
}

void Daemon::on_subscribe_refused(const LinkEvent& event, TimePoint now) {
  const bool acks = event.topic == ack_topic_;
  log_.error("mqtt", "subscription to " + event.topic + " " + event.reason +
                         (acks ? ": this device would never get the hub's acks"
                               : ": runtime settings from the hub will not arrive") +
                         "; check the device's broker account "
                         "(its role must allow subscribing to its own ack and config topics)");
  if (!acks) return;  // presses still flow; only the hub's runtime settings are missing
  if (state_ != LinkState::up) return;  // a late verdict on a connection already gone
  // A clean disconnect discards the Will, so say offline ourselves.
  link_->publish(status_topic_, protocol::to_json(protocol::Status{protocol::DeviceState::offline, {}, {}, {}}), 1,
                 true);
  link_->drop();
  link_down("ack subscription refused", now);
}

void Daemon::link_down(const std::string& reason, TimePoint now) {
  if (state_ == LinkState::down) return;
  state_ = LinkState::down;
  led_.set_offline(true, now);
  std::uniform_real_distribution<double> unit(0.0, 1.0);
  auto delay = backoff_.next(unit(random_));
  connect_at_ = now + delay;
  log_.warn("mqtt", reason + "; " + std::to_string(outbox_.depth()) + " presses kept; retry in " +
                        std::to_string(delay.count()) + " ms");
}

void Daemon::on_ack(const std::string& payload, TimePoint now) {
  auto ack = protocol::parse_ack(payload);
  if (!ack) {
    log_.warn("ack", "ignored: " + ack.error().message());
    return;
  }
  auto deleted = outbox_.ack(ack->seqs);
  if (!deleted && outbox_.corrupt()) {
    restart_for_corrupt_outbox("cannot delete acknowledged presses: " + deleted.error().message(), now);
    return;
  }
  if (!deleted) {
    log_.error("outbox", "cannot delete acknowledged presses (will be sent again): " + deleted.error().message());
    return;
  }
  for (auto seq : ack->seqs) window_.acked(seq);
  if (!ack->seqs.empty())
    log_.debug("ack", "seqs=" + seq_range(ack->seqs) + " deleted=" + std::to_string(*deleted) +
                          " queued=" + std::to_string(outbox_.depth()));
  if (!ack->taken.empty()) on_taken(ack->taken, ack->next_seq, now);
  pump(now);
}

void Daemon::on_taken(const std::vector<std::uint64_t>& taken, std::uint64_t next_seq, TimePoint now) {
  const auto old_next = outbox_.next_seq();
  auto moved = outbox_.renumber(taken, next_seq);
  if (!moved) {
    if (outbox_.corrupt()) {
      restart_for_corrupt_outbox("cannot renumber presses: " + moved.error().message(), now);
      return;
    }
    // They stay under the taken seqs: the hub keeps naming them, and the next ack tries again.
    log_.error("outbox", "cannot renumber presses the hub holds other presses under: " + moved.error().message());
    return;
  }
  if (!*moved) return;  // already renumbered (a repeated answer)
  log_.warn("outbox", "the hub already holds other presses of this terminal under seqs " + seq_range(taken) +
                          " (this terminal's counter was at " + std::to_string(old_next) +
                          ": its outbox was restored from an older copy or lost its latest writes); those presses "
                          "go again as seqs from " + std::to_string(**moved) + ", the next press gets " +
                          std::to_string(outbox_.next_seq()));
  // The window still holds them under their old seqs: start over from the lowest stored seq.
  window_.reset();
}

void Daemon::on_config(const std::string& payload) {
  if (payload.empty()) return;  // a cleared retained config: keep the current settings
  auto cfg = protocol::parse_device_config(payload);
  if (!cfg) {
    log_.warn("config", "ignored: " + cfg.error().message());
    return;
  }
  auto settings = detector_.settings();
  std::string applied;
  if (cfg->debounce_ms) {
    settings.debounce = Millis{*cfg->debounce_ms};
    if (sim_) sim_->set_settle(settings.debounce + Millis{5});
    applied += " debounce_ms=" + std::to_string(*cfg->debounce_ms);
  }
  if (cfg->lockout_ms) {
    settings.lockout = Millis{*cfg->lockout_ms};
    applied += " lockout_ms=" + std::to_string(*cfg->lockout_ms);
  }
  if (cfg->repeat_window_ms) {
    settings.repeat_window = Millis{*cfg->repeat_window_ms};
    applied += " repeat_window_ms=" + std::to_string(*cfg->repeat_window_ms);
  }
  if (cfg->thanks_ms) {
    thanks_ = Millis{*cfg->thanks_ms};
    applied += " thanks_ms=" + std::to_string(*cfg->thanks_ms);
  }
  if (cfg->telemetry_s) {
    telemetry_period_ = std::chrono::seconds(*cfg->telemetry_s);
    telemetry_at_ = std::min(telemetry_at_, Clock::now() + telemetry_period_);
    applied += " telemetry_s=" + std::to_string(*cfg->telemetry_s);
  }
  detector_.set_settings(settings);
  log_.info("config", "applied" + (applied.empty() ? std::string(" nothing") : applied));
}

void Daemon::publish_telemetry(TimePoint now) {
  telemetry_at_ = now + telemetry_period_;
  protocol::Telemetry t;
  t.uptime_s = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::seconds>(now - started_).count());
  t.queued = outbox_.depth();
  auto json = boost::json::parse(protocol::to_json(t)).as_object();
  json["dropped"] = outbox_.dropped();  // optional extension field: presses lost to a full outbox
  link_->publish(telemetry_topic_, boost::json::serialize(json), 0, false);
}

std::optional<TimePoint> Daemon::next_deadline(TimePoint now) const {
  std::optional<TimePoint> next;
  auto consider = [&](std::optional<TimePoint> t) {
    if (t && (!next || *t < *next)) next = t;
  };
  consider(detector_.next_deadline());
  consider(input_->next_deadline());
  consider(led_.next_change(now));
  consider(service_.next_deadline());
  if (state_ == LinkState::down) consider(connect_at_);
  if (state_ == LinkState::up) {
    consider(telemetry_at_);
    consider(window_.next_deadline());
  }
  return next;
}

void Daemon::shutdown() {
  service_.stopping();
  if (state_ == LinkState::up) {
    auto offline = protocol::to_json(protocol::Status{protocol::DeviceState::offline, {}, {}, {}});
    if (!link_->publish_and_disconnect(status_topic_, offline, Millis{2000})) {
      log_.warn("mqtt", "offline status not confirmed by the broker before exit");
    }
  }
  leds_->show(LedMode::idle, false);
  log_.info("daemon", "stopped; " + std::to_string(outbox_.depth()) + " presses kept in the outbox");
}

}  // namespace kiosk::firmware
