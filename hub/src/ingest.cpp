// Press ingest: strict validation, timestamping on the hub clock, group commit, then acks.
#include "kiosk/hub/ingest.hpp"

#include <algorithm>
#include <map>

#include <boost/json.hpp>

#include "kiosk/protocol/messages.hpp"

namespace kiosk::hub {

std::string reject_reason(std::string_view payload, const protocol::Error& error, std::size_t max_bytes) {
  if (payload.size() > max_bytes) return "oversize";
  boost::system::error_code ec;
  auto value = boost::json::parse(payload, ec);
  if (ec) return "bad_json";
  if (!value.is_object()) return "wrong_type";
  // protocol errors for a value of the wrong JSON kind read "expected a/an ..., got ...".
  if (error.reason.rfind("expected a", 0) == 0) return "wrong_type";
  // error.field is "<payload>.<field>" (e.g. "press.rating", "press.flags[2]").
  auto dot = error.field.find('.');
  if (dot == std::string::npos) return "invalid";
  std::string field = error.field.substr(dot + 1);
  if (auto bracket = field.find('['); bracket != std::string::npos) field = field.substr(0, bracket);
  if (!value.as_object().if_contains(field)) return "missing_field";
  return "out_of_range";
}

Ingest::Ingest(IngestPorts& ports, const Clock& clock, HubCounters& counters, LatencyHistogram& latency,
               IngestSettings settings)
    : ports_(ports), clock_(clock), counters_(counters), latency_(latency), settings_(settings) {
  rows_.reserve(settings_.batch_max);
  received_.reserve(settings_.batch_max);
}

Ingest::Next Ingest::on_press(const std::string& device, std::string_view payload, Received at) {
  auto reject = [&](const std::string& reason, const std::string& detail) {
    counters_.rejected[reason] += 1;
    ports_.rejected(device, reason, detail, at.wall);
    return Next::nothing;
  };
  if (payload.size() > protocol::kMaxDeviceMessageBytes)
    return reject("oversize", "press: " + std::to_string(payload.size()) + " bytes exceed the limit of " +
                                  std::to_string(protocol::kMaxDeviceMessageBytes));
  auto press = protocol::parse_press(payload);
  if (!press) return reject(reject_reason(payload, press.error(), protocol::kMaxDeviceMessageBytes),
                            press.error().message());
  auto where = ports_.lookup(device);
  if (where.standing == Standing::unknown)
    return reject("unknown_device", "device " + device + " is not registered at this hub; register it");
  if (where.standing == Standing::retired)
    return reject("retired_device", "device " + device + " is retired; presses are not stored");

  PressRecord row;
  row.device = device;
  row.seq = press->seq;
  row.location = std::move(where.location);
  row.button = press->button;
  row.rating = press->rating;
  row.scale = press->scale;
  row.flags = std::move(press->flags);
  row.nonce = std::move(press->nonce);
  row.received_at_ms = to_ms(at.wall);
  // age_ms is the device's monotonic estimate of how long ago the button went down.
  auto age = static_cast<std::int64_t>(std::min<std::uint64_t>(press->age_ms, static_cast<std::uint64_t>(row.received_at_ms)));
  row.pressed_at_ms = row.received_at_ms - age;
  bool first = rows_.empty();
  rows_.push_back(std::move(row));
  received_.push_back(at.steady);
  if (rows_.size() >= settings_.batch_max) return Next::flush_now;
  return first ? Next::arm_timer : Next::nothing;
}

namespace {

std::string size_text(std::size_t bytes) {
  constexpr std::size_t kMiB = std::size_t{1} << 20;
  if (bytes >= kMiB && bytes % kMiB == 0) return std::to_string(bytes / kMiB) + " MiB";
  return std::to_string(bytes) + " bytes";
}

}  // namespace

void Ingest::on_oversized(const std::string& device, std::string_view topic, std::size_t bytes, std::size_t limit,
                          Received at) {
  counters_.rejected["oversize"] += 1;
  ports_.rejected(device, "oversize",
                  "payload of " + std::to_string(bytes) + " bytes from topic " + std::string(topic) + " is over the " +
                      size_text(limit) + " message limit (acknowledged to the broker, not stored)",
                  at.wall);
}

void Ingest::note_taken(const PressRecord& row, const PressOutcome& outcome, SteadyTime now) {
  counters_.seq_taken += 1;
  auto unsaid = taken_warned_.allow(row.device, now);
  if (!unsaid) return;
  const auto more = held_back(*unsaid, "more such presses since the last warning");
  ports_.seq_conflict(row.device, "device " + row.device + " sent a new press under seq " + std::to_string(row.seq) +
                                      ", which the hub holds for an earlier press of it" + more +
                                      ": its outbox went back (restored from an older copy, or its card lost the "
                                      "latest writes). Not stored: the device is told to renumber its presses from "
                                      "seq " + std::to_string(outcome.next_free_seq) + " and send them again");
}

void Ingest::note_conflict(const PressRecord& row, const PressOutcome& outcome, SteadyTime now) {
  counters_.seq_conflicts += 1;
  // A reset outbox conflicts on every seq it re-uses: one warning per device per hour says it.
  auto unsaid = conflict_warned_.allow(row.device, now);
  if (!unsaid) return;
  auto press = [](int button, int rating, int scale) {
    return "button " + std::to_string(button) + " rating " + std::to_string(rating) + "/" + std::to_string(scale);
  };
  const auto more = held_back(*unsaid, "more conflicting presses from it since the last warning");
  ports_.seq_conflict(
      row.device,
      "device " + row.device + " re-used seq " + std::to_string(row.seq) + " for a different press (stored " +
          press(outcome.stored_button, outcome.stored_rating, outcome.stored_scale) + ", received " +
          press(row.button, row.rating, row.scale) + ")" + more +
          ": its outbox was likely reset (re-flashed SD card, or a replacement terminal given the same id); "
          "check the terminal's clock, or give a replacement its own id. The press is kept in press_conflicts "
          "and acknowledged");
}

void Ingest::flush() {
  if (rows_.empty()) return;
  auto error = ports_.commit_presses(rows_, outcomes_);
  if (error) {
    // Not acknowledged: each device keeps its presses and re-sends them.
    counters_.commit_errors += 1;
    ports_.commit_failed(*error, rows_.size());
    rows_.clear();
    received_.clear();
    return;
  }
  counters_.batches += 1;
  const auto committed = clock_.steady_now();
  struct Answer {
    std::vector<std::uint64_t> seqs;
    std::vector<std::uint64_t> taken;
    std::uint64_t next_seq = 0;
  };
  std::map<std::string, Answer> by_device;
  const auto add_once = [](std::vector<std::uint64_t>& v, std::uint64_t seq) {
    if (std::find(v.begin(), v.end(), seq) == v.end()) v.push_back(seq);
  };
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    auto& answer = by_device[rows_[i].device];
    switch (outcomes_[i].fate) {
      case PressFate::stored: counters_.presses_stored += 1; break;
      case PressFate::duplicate: counters_.duplicates += 1; break;
      case PressFate::conflict: note_conflict(rows_[i], outcomes_[i], committed); break;
      case PressFate::taken:
        note_taken(rows_[i], outcomes_[i], committed);
        add_once(answer.taken, rows_[i].seq);
        answer.next_seq = std::max(answer.next_seq, outcomes_[i].next_free_seq);
        continue;
    }
    add_once(answer.seqs, rows_[i].seq);
  }
  std::map<std::string, bool> acked;
  for (auto& [device, answer] : by_device) {
    // Chunked so that an ack stays well inside the protocol's size limit for hub messages.
    // Acked seqs first, then taken ones (each ack holds one list, so both limits stay apart).
    bool ok = true;
    const auto send = [&](const std::vector<std::uint64_t>& list, bool taken) {
      for (std::size_t from = 0; from < list.size(); from += kMaxSeqsPerAck) {
        const auto to = std::min(list.size(), from + kMaxSeqsPerAck);
        std::vector<std::uint64_t> part(list.begin() + static_cast<std::ptrdiff_t>(from),
                                        list.begin() + static_cast<std::ptrdiff_t>(to));
        protocol::Ack ack;
        if (taken) {
          ack.taken = std::move(part);
          ack.next_seq = answer.next_seq;
        } else {
          ack.seqs = std::move(part);
        }
        bool sent = ports_.publish_ack(device, protocol::to_json(ack));
        if (sent) counters_.acks_sent += 1;
        ok = ok && sent;
      }
    };
    send(answer.seqs, false);
    send(answer.taken, true);
    acked[device] = ok;
  }
  auto now = clock_.steady_now();
  for (std::size_t i = 0; i < rows_.size(); ++i) {
    latency_.observe(now - received_[i]);
    // Taken: not stored; it comes back under a new seq.
    if (outcomes_[i].fate == PressFate::taken) continue;
    // A conflict is a guest's press like a new one: it feeds detection and the live feed.
    ports_.acknowledged(rows_[i], outcomes_[i].fate != PressFate::duplicate, acked[rows_[i].device]);
  }
  rows_.clear();
  received_.clear();
}

}  // namespace kiosk::hub
