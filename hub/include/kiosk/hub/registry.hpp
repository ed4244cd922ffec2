// The device registry in memory: devices and their locations, liveness, and devices nobody provisioned.
// Pure: the hub loads it from the store at start and persists what changes (see dirty_*()).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "kiosk/protocol/messages.hpp"
#include "kiosk/protocol/time.hpp"

namespace kiosk::hub {

using protocol::WallTime;

enum class Liveness { unknown, online, offline };  // unknown: never heard from since registration
std::string_view to_string(Liveness l);

struct DeviceRecord {
  std::string id;
  std::string location;
  std::string board;
  std::string fw;
  std::optional<int> buttons;
  Liveness state = Liveness::unknown;
  std::optional<WallTime> last_seen;
  std::optional<WallTime> last_press;
  std::optional<std::uint64_t> uptime_s;
  std::optional<std::uint64_t> queued;
  std::optional<int> rssi_dbm;
  std::optional<double> temp_c;
  std::optional<int> battery_pct;
  std::optional<std::uint64_t> dropped;  // presses its full outbox dropped (telemetry; not stored)
  bool retired = false;
  WallTime registered_at{};
};

struct LocationRecord {
  std::string id;
  std::string name;
};

struct UnknownDevice {
  std::string device;
  WallTime first_seen{};
  WallTime last_seen{};
  std::uint64_t count = 0;
  std::string reason;  // "unknown_device" or "retired_device"
};

enum class Standing { known, unknown, retired };
struct DeviceLookup {
  Standing standing = Standing::unknown;
  std::string location;
};

class Registry {
 public:
  void load(std::vector<LocationRecord> locations, std::vector<DeviceRecord> devices,
            std::vector<UnknownDevice> unknown);

  DeviceLookup lookup(const std::string& device) const;
  const DeviceRecord* device(const std::string& id) const;
  const LocationRecord* location(const std::string& id) const;
  const std::map<std::string, DeviceRecord>& devices() const { return devices_; }
  const std::map<std::string, LocationRecord>& locations() const { return locations_; }
  const std::map<std::string, UnknownDevice>& unknown_devices() const { return unknown_; }
  std::size_t devices_at(const std::string& location) const;
  std::size_t online_count() const;

  // Administrative changes; the caller persisted them first.
  void put_device(DeviceRecord d);
  void put_location(LocationRecord l);
  void forget_unknown(const std::string& device);

  // Runtime changes from the broker; remembered as dirty until persisted. Return true when the
  // device's liveness changed (an event worth telling the dashboard).
  bool on_status(const std::string& device, const protocol::Status& status, WallTime now);
  void on_telemetry(const std::string& device, const protocol::Telemetry& t, WallTime now);
  void on_press_stored(const std::string& device, WallTime pressed_at, WallTime now);
  void note_unknown(const std::string& device, const std::string& reason, WallTime now);

  std::vector<DeviceRecord> take_dirty_devices();
  // Puts back what could not be persisted.
  void mark_dirty(const std::vector<DeviceRecord>& devices, const std::vector<UnknownDevice>& unknown);
  std::vector<UnknownDevice> take_dirty_unknown();

 private:
  std::map<std::string, LocationRecord> locations_;
  std::map<std::string, DeviceRecord> devices_;
  std::map<std::string, UnknownDevice> unknown_;
  std::set<std::string> dirty_devices_;
  std::set<std::string> dirty_unknown_;
};

}  // namespace kiosk::hub
