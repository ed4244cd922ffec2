// Device registry: lookups for ingest, liveness from status/Will, and the list of unprovisioned devices.
#include "kiosk/hub/registry.hpp"

#include <algorithm>

namespace kiosk::hub {

std::string_view to_string(Liveness l) {
  switch (l) {
    case Liveness::online: return "online";
    case Liveness::offline: return "offline";
    case Liveness::unknown: break;
  }
  return "unknown";
}

void Registry::load(std::vector<LocationRecord> locations, std::vector<DeviceRecord> devices,
                    std::vector<UnknownDevice> unknown) {
  locations_.clear();
  devices_.clear();
  unknown_.clear();
  for (auto& l : locations) locations_[l.id] = std::move(l);
  for (auto& d : devices) devices_[d.id] = std::move(d);
  for (auto& u : unknown) unknown_[u.device] = std::move(u);
}

DeviceLookup Registry::lookup(const std::string& device) const {
  auto it = devices_.find(device);
  if (it == devices_.end()) return {Standing::unknown, {}};
  if (it->second.retired) return {Standing::retired, it->second.location};
  return {Standing::known, it->second.location};
}

const DeviceRecord* Registry::device(const std::string& id) const {
  auto it = devices_.find(id);
  return it == devices_.end() ? nullptr : &it->second;
}

const LocationRecord* Registry::location(const std::string& id) const {
  auto it = locations_.find(id);
  return it == locations_.end() ? nullptr : &it->second;
}

std::size_t Registry::devices_at(const std::string& location) const {
  return static_cast<std::size_t>(std::count_if(devices_.begin(), devices_.end(), [&](const auto& kv) {
    return kv.second.location == location && !kv.second.retired;
  }));
}

std::size_t Registry::online_count() const {
  return static_cast<std::size_t>(std::count_if(devices_.begin(), devices_.end(), [](const auto& kv) {
    return kv.second.state == Liveness::online && !kv.second.retired;
  }));
}

void Registry::put_device(DeviceRecord d) {
  std::string id = d.id;
  devices_[id] = std::move(d);
  dirty_devices_.erase(id);
}

void Registry::put_location(LocationRecord l) { locations_[l.id] = std::move(l); }

void Registry::forget_unknown(const std::string& device) {
  unknown_.erase(device);
  dirty_unknown_.erase(device);
}

bool Registry::on_status(const std::string& device, const protocol::Status& status, WallTime now) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return false;
  auto& d = it->second;
  Liveness before = d.state;
  d.state = status.state == protocol::DeviceState::online ? Liveness::online : Liveness::offline;
  if (status.fw) d.fw = *status.fw;
  if (status.board) d.board = *status.board;
  if (status.buttons) d.buttons = status.buttons;
  d.last_seen = now;
  dirty_devices_.insert(device);
  return before != d.state;
}

void Registry::on_telemetry(const std::string& device, const protocol::Telemetry& t, WallTime now) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  auto& d = it->second;
  d.uptime_s = t.uptime_s;
  d.queued = t.queued;
  d.rssi_dbm = t.rssi_dbm;
  d.temp_c = t.temp_c;
  d.battery_pct = t.battery_pct;
  if (t.dropped) d.dropped = t.dropped;
  d.last_seen = now;
  dirty_devices_.insert(device);
}

void Registry::on_press_stored(const std::string& device, WallTime pressed_at, WallTime now) {
  auto it = devices_.find(device);
  if (it == devices_.end()) return;
  auto& d = it->second;
  if (!d.last_press || *d.last_press < pressed_at) d.last_press = pressed_at;
  d.last_seen = now;
  dirty_devices_.insert(device);
}

void Registry::note_unknown(const std::string& device, const std::string& reason, WallTime now) {
  auto [it, fresh] = unknown_.try_emplace(device);
  auto& u = it->second;
  if (fresh) {
    u.device = device;
    u.first_seen = now;
  }
  u.last_seen = now;
  u.count += 1;
  u.reason = reason;
  dirty_unknown_.insert(device);
}

std::vector<DeviceRecord> Registry::take_dirty_devices() {
  std::vector<DeviceRecord> out;
  for (const auto& id : dirty_devices_)
    if (auto it = devices_.find(id); it != devices_.end()) out.push_back(it->second);
  dirty_devices_.clear();
  return out;
}

void Registry::mark_dirty(const std::vector<DeviceRecord>& devices, const std::vector<UnknownDevice>& unknown) {
  for (const auto& d : devices) dirty_devices_.insert(d.id);
  for (const auto& u : unknown) dirty_unknown_.insert(u.device);
}

std::vector<UnknownDevice> Registry::take_dirty_unknown() {
  std::vector<UnknownDevice> out;
  for (const auto& id : dirty_unknown_)
    if (auto it = unknown_.find(id); it != unknown_.end()) out.push_back(it->second);
  dirty_unknown_.clear();
  return out;
}

}  // namespace kiosk::hub
