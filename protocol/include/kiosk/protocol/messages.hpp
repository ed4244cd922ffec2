// Value types for every v1 payload, with strict parse_* and to_json free functions.
//
// Parsing rules (protocol-v1.md): UTF-8 JSON object; unknown fields ignored; a missing
// required field, wrong type, out-of-range value, bad JSON or oversize input is an Error
// whose field is "<payload>.<field>" (e.g. "press.rating") and whose reason says why.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/protocol/result.hpp"
#include "kiosk/protocol/time.hpp"

namespace kiosk::protocol {

inline constexpr std::size_t kMaxDeviceMessageBytes = 1024;  // press, status, telemetry
inline constexpr std::size_t kMaxHubMessageBytes = 8192;     // ack, config, alert, alert ack, hub status
// What the parsers accept, public for whoever checks a press without parsing one (the firmware
// reading back a damaged outbox): a seq (press, ack) >= kMinSeq; press.button 0 .. kMaxButton;
// press.scale kMinScale .. kMaxScale; press.rating kMinRating .. its scale; status.buttons
// 1 .. kMaxButtons.
inline constexpr std::uint64_t kMinSeq = 1;
inline constexpr int kMaxButton = 63;
inline constexpr int kMaxButtons = kMaxButton + 1;
inline constexpr int kMinScale = 2;
inline constexpr int kMaxScale = 10;
inline constexpr int kMinRating = 1;
inline constexpr std::string_view kRepeatFlag = "repeat";
// A press whose age the device could not know (its wall clock was not set across a reboot): sent
// with age_ms 0, so its time at the hub is when it arrived, not when it was pressed.
inline constexpr std::string_view kAgeUnknownFlag = "age-unknown";
// press.age_ms above this (3650 days, about 10 years) is refused: such an age comes from a broken
// clock, and receive time - age_ms must stay a representable time. Anything a device's storage
// can hold through an outage is well below it (protocol-v1: no press lost to an outage).
inline constexpr std::uint64_t kMaxPressAgeMs = 3650ull * 24 * 3600 * 1000;  // 315360000000

struct Press {
  std::uint64_t seq = 0;     // >= 1, strictly increasing per device for its whole life
  int button = 0;            // >= 0
  int rating = 0;            // 1 .. scale
  int scale = 0;             // 2 .. 10
  std::uint64_t age_ms = 0;  // >= 0; hub timestamp = receive time - age_ms
  std::vector<std::string> flags;  // optional; "repeat"
  // Optional: names this press among all presses of the device, the same on every re-send (8..32
  // lowercase hex digits). Lets the hub tell a re-send from another press under a seq the device
  // used before (its outbox was restored from an older copy or lost its latest writes).
  std::string nonce;  // empty: absent
  bool is_repeat() const;
  friend bool operator==(const Press&, const Press&) = default;
};

struct Ack {
  std::vector<std::uint64_t> seqs;  // each >= 1; at least one unless `taken` has some
  // Optional: presses NOT stored because the hub already holds another press of this device
  // (another nonce) under their seq. The device moves only these presses (others may be stored
  // under their seqs already) to new seqs from `next_seq` and above its own counter, and sends
  // them again. Sent only to devices whose presses carry a nonce; `seqs` is then possibly empty.
  std::vector<std::uint64_t> taken;
  std::uint64_t next_seq = 0;  // optional (0: absent): above every seq the hub holds for the device
  friend bool operator==(const Ack&, const Ack&) = default;
};

enum class DeviceState { online, offline };
std::string_view to_string(DeviceState s);

struct Status {
  DeviceState state = DeviceState::offline;
  // Required when online, absent on the offline Will / clean shutdown.
  std::optional<std::string> fw;
  std::optional<std::string> board;
  std::optional<int> buttons;  // 1 .. 64
  friend bool operator==(const Status&, const Status&) = default;
};

struct Telemetry {
  std::uint64_t uptime_s = 0;
  std::uint64_t queued = 0;
  std::optional<int> rssi_dbm;     // -150 .. 0
  std::optional<double> temp_c;    // -60 .. 150
  std::optional<int> battery_pct;  // 0 .. 100
  // Optional (extension): presses the device's full outbox dropped in its life (the oldest go first).
  std::optional<std::uint64_t> dropped;
  friend bool operator==(const Telemetry&, const Telemetry&) = default;
};

// Runtime settings pushed by the hub (retained). Every field optional; absent = keep current.
struct DeviceConfig {
  std::optional<std::uint32_t> debounce_ms;       // 1 .. 1000
  std::optional<std::uint32_t> lockout_ms;        // 0 .. 60000
  std::optional<std::uint32_t> repeat_window_ms;  // 0 .. 3600000
  std::optional<std::uint32_t> telemetry_s;       // 5 .. 86400
  std::optional<std::uint32_t> thanks_ms;         // thank-you light duration, 0 .. 10000
  std::optional<std::string> location;            // informational: where the hub placed the device
  friend bool operator==(const DeviceConfig&, const DeviceConfig&) = default;
};

enum class AlertState { open, acked, resolved };
enum class Severity { warning, critical };
std::string_view to_string(AlertState s);
std::string_view to_string(Severity s);

struct Alert {
  std::string id;        // identifier rules, e.g. "a-000017"
  std::string location;  // identifier
  AlertState state = AlertState::open;
  Severity severity = Severity::warning;
  WallTime since{};
  WallTime updated{};
  int bad = 0;        // >= 0
  int total = 0;      // >= bad
  int window_s = 0;   // >= 0
  double baseline = 0;  // 0 .. 1
  std::string reason;   // plain words
  std::optional<std::string> acked_by;  // identifier
  friend bool operator==(const Alert&, const Alert&) = default;
};

struct AlertAck {
  std::string id;  // alert id
  std::string by;  // manager identifier
  friend bool operator==(const AlertAck&, const AlertAck&) = default;
};

struct HubStatus {
  DeviceState state = DeviceState::offline;  // "online" / "offline"
  friend bool operator==(const HubStatus&, const HubStatus&) = default;
};

Result<Press> parse_press(std::string_view json);
Result<Ack> parse_ack(std::string_view json);
Result<Status> parse_status(std::string_view json);
Result<Telemetry> parse_telemetry(std::string_view json);
Result<DeviceConfig> parse_device_config(std::string_view json);
Result<Alert> parse_alert(std::string_view json);
Result<AlertAck> parse_alert_ack(std::string_view json);
Result<HubStatus> parse_hub_status(std::string_view json);

std::string to_json(const Press& m);
std::string to_json(const Ack& m);
std::string to_json(const Status& m);
std::string to_json(const Telemetry& m);
std::string to_json(const DeviceConfig& m);
std::string to_json(const Alert& m);
std::string to_json(const AlertAck& m);
std::string to_json(const HubStatus& m);

}  // namespace kiosk::protocol
