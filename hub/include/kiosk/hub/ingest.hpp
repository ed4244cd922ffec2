// The press pipeline: validate, resolve device -> location, timestamp (receive time - age_ms), batch,
// commit as one transaction, and only then acknowledge. Pure: the hub supplies the ports and the clock.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/log_limiter.hpp"
#include "kiosk/hub/metrics.hpp"
#include "kiosk/hub/press_record.hpp"
#include "kiosk/hub/registry.hpp"
#include "kiosk/protocol/result.hpp"

namespace kiosk::hub {

// When the hub received a message: steady time for latency, wall time for the stored timestamp.
struct Received {
  SteadyTime steady{};
  protocol::WallTime wall{};
};

// What became of one press of a committed batch. A conflict is a different press (button, rating
// or scale) under a seq the device already used: its outbox was reset (re-flashed SD card, or a
// replacement terminal given the same id) and counted from the start again. It is guest feedback
// all the same, so it is kept (press_conflicts) and acknowledged; a re-send of a kept conflict is
// a duplicate.
// Taken: another press (another nonce; both presses carry one) is stored under the seq. Neither
// stored nor acknowledged: the ack names it `taken` with the device's next free seq, and the device
// renumbers it and sends it again, so it lands in presses like any other.
enum class PressFate { stored, duplicate, conflict, taken };
struct PressOutcome {
  PressFate fate = PressFate::stored;
  // For a conflict: the press stored earlier under the same seq.
  int stored_button = 0;
  int stored_rating = 0;
  int stored_scale = 0;
  // For taken: above every seq stored for the device.
  std::uint64_t next_free_seq = 0;
};

// What ingest needs from the rest of the hub.
class IngestPorts {
 public:
  virtual ~IngestPorts() = default;
  virtual DeviceLookup lookup(const std::string& device) = 0;
  // One durable transaction; outcomes[i] says what became of rows[i]. Error text when nothing was
  // committed.
  virtual std::optional<std::string> commit_presses(const std::vector<PressRecord>& rows,
                                                    std::vector<PressOutcome>& outcomes) = 0;
  // Publishes the ack payload to the device's ack topic; false if it could not be queued.
  virtual bool publish_ack(const std::string& device, const std::string& payload) = 0;
  // reason: one of the reject reasons (bad_json, ..., unknown_device); detail: the precise message.
  virtual void rejected(const std::string& device, const std::string& reason, const std::string& detail,
                        protocol::WallTime at) = 0;
  // After the commit and the ack: each press of the batch. inserted: new guest feedback (stored,
  // or kept as a seq conflict) rather than a duplicate.
  virtual void acknowledged(const PressRecord& row, bool inserted, bool acked) = 0;
  virtual void commit_failed(const std::string& error, std::size_t presses) = 0;
  // A device re-used seqs for different presses; `detail` says why and what to do. At most once
  // per device per kSeqConflictWarnEvery.
  virtual void seq_conflict(const std::string& device, const std::string& detail) = 0;
};

inline constexpr std::chrono::hours kSeqConflictWarnEvery{1};

// 256 seqs of up to 20 digits stay under protocol::kMaxHubMessageBytes.
inline constexpr std::size_t kMaxSeqsPerAck = 256;

struct IngestSettings {
  std::size_t batch_max = 512;
};

// The reject reason for a message protocol::parse_* refused: bad_json, wrong_type, missing_field,
// out_of_range or oversize. Looks at the payload again (rare path) rather than at the error text.
std::string reject_reason(std::string_view payload, const protocol::Error& error, std::size_t max_bytes);

class Ingest {
 public:
  Ingest(IngestPorts& ports, const Clock& clock, HubCounters& counters, LatencyHistogram& latency,
         IngestSettings settings);

  // What the caller should do about the batch after this press.
  enum class Next { nothing, arm_timer, flush_now };
  Next on_press(const std::string& device, std::string_view payload, Received at);
  // A message of any topic over the MQTT link's limit of `limit` bytes, which reaches the hub
  // without its payload: rejected as oversize with its real size, like any invalid message,
  // rather than parsed cut short. `device` is "?" when the topic names none.
  void on_oversized(const std::string& device, std::string_view topic, std::size_t bytes, std::size_t limit,
                    Received at);

  // Commits the batch, then acks each device once with all its seqs (new, duplicate and conflict).
  void flush();
  std::size_t pending() const { return rows_.size(); }

 private:
  IngestPorts& ports_;
  const Clock& clock_;
  HubCounters& counters_;
  LatencyHistogram& latency_;
  IngestSettings settings_;
  std::vector<PressRecord> rows_;
  std::vector<SteadyTime> received_;
  std::vector<PressOutcome> outcomes_;
  // One warning per device per kSeqConflictWarnEvery, saying how many presses went unsaid since.
  LogLimiter<std::string> conflict_warned_{kSeqConflictWarnEvery};
  LogLimiter<std::string> taken_warned_{kSeqConflictWarnEvery};

  void note_conflict(const PressRecord& row, const PressOutcome& outcome, SteadyTime now);
  void note_taken(const PressRecord& row, const PressOutcome& outcome, SteadyTime now);
};

}  // namespace kiosk::hub
