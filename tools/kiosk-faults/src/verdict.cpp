// Per-device comparison of logged and stored presses: nothing missing, nothing twice, times bounded.
#include "verdict.hpp"

#include <algorithm>
#include <charconv>
#include <string_view>
#include <map>
#include <set>

#include <boost/json.hpp>

namespace kiosk::faults {
namespace {

constexpr std::size_t kMaxProblems = 5;

void note(DeviceVerdict& v, std::string text) {
  if (v.problems.size() < kMaxProblems) v.problems.push_back(v.device + ": " + std::move(text));
}

template <class T>
bool field(std::string_view line, std::string_view key, T& out) {
  auto at = line.find(key);
  if (at == std::string_view::npos) return false;
  auto begin = line.data() + at + key.size();
  auto [p, ec] = std::from_chars(begin, line.data() + line.size(), out);
  return ec == std::errc{} && p != begin;
}

}  // namespace

bool parse_press_line(const std::string& line, LoggedPress& out) {
  std::string_view v(line);
  if (v.rfind("info press: ", 0) != 0) return false;
  return field(v, " seq=", out.seq) && field(v, " button=", out.button) && field(v, " rating=", out.rating);
}

bool DeviceVerdict::ok() const {
  return missing == 0 && duplicated == 0 && gaps == 0 && reused == 0 && mismatched == 0 && out_of_bounds == 0 &&
         disorder == 0 && problems.empty();
}

DeviceVerdict judge_device(const DeviceEvidence& e, const Bounds& b) {
  DeviceVerdict v;
  v.device = e.device;
  v.stored = e.stored.size();

  std::map<std::uint64_t, const StoredRow*> by_seq;
  for (const auto& row : e.stored) {
    auto [it, fresh] = by_seq.emplace(row.seq, &row);
    if (!fresh) {
      ++v.duplicated;
      note(v, "seq " + std::to_string(row.seq) + " stored more than once");
    }
  }
  if (!by_seq.empty()) {
    std::uint64_t expect = 1;
    for (const auto& [seq, row] : by_seq) {
      if (seq != expect) {
        v.gaps += seq - expect;
        note(v, "seqs " + std::to_string(expect) + ".." + std::to_string(seq - 1) + " never stored");
      }
      expect = seq + 1;
    }
  }

  std::map<std::uint64_t, const LoggedPress*> logged;
  for (const auto& p : e.logged) {
    auto [it, fresh] = logged.emplace(p.seq, &p);
    if (!fresh) {
      // A terminal that hands out a seq twice loses one of the two presses at the hub's dedup.
      ++v.reused;
      ++v.missing;
      note(v, "seq " + std::to_string(p.seq) + " logged for two presses");
    }
  }
  v.made = logged.size();

  for (const auto& [seq, p] : logged) {
    auto it = by_seq.find(seq);
    if (it == by_seq.end()) {
      ++v.missing;
      note(v, "seq " + std::to_string(seq) + " accepted by the terminal but not stored");
      continue;
    }
    const auto& row = *it->second;
    if (row.button != p->button || row.rating != p->rating) {
      ++v.mismatched;
      note(v, "seq " + std::to_string(seq) + " stored as button " + std::to_string(row.button) + " rating " +
                  std::to_string(row.rating) + ", logged as button " + std::to_string(p->button) + " rating " +
                  std::to_string(p->rating));
    }
    std::int64_t early = p->logged_at_ms - row.pressed_at_ms;
    v.max_early_ms = std::max(v.max_early_ms, early);
    v.max_late_ms = std::max(v.max_late_ms, -early);
    if (early > b.early_ms || -early > b.late_ms) {
      ++v.out_of_bounds;
      note(v, "seq " + std::to_string(seq) + " stored at " + std::to_string(row.pressed_at_ms) +
                  " ms, logged at " + std::to_string(p->logged_at_ms) + " ms (bounds -" +
                  std::to_string(b.early_ms) + "/+" + std::to_string(b.late_ms) + " ms)");
    }
  }
  for (const auto& [seq, row] : by_seq) {
    if (!logged.count(seq)) ++v.unlogged;
  }
  if (v.unlogged > static_cast<std::uint64_t>(std::max(e.kills, 0))) {
    note(v, std::to_string(v.unlogged) + " presses stored that the terminal never logged (" +
                std::to_string(e.kills) + " kills explain at most that many)");
  }

  std::int64_t latest = INT64_MIN;
  for (const auto& [seq, row] : by_seq) {
    v.max_delivery_ms = std::max(v.max_delivery_ms, row->received_at_ms - row->pressed_at_ms);
    if (latest != INT64_MIN && row->pressed_at_ms < latest - b.order_slack_ms) {
      ++v.disorder;
      note(v, "seq " + std::to_string(seq) + " stored " + std::to_string(latest - row->pressed_at_ms) +
                  " ms before an earlier seq");
    }
    latest = std::max(latest, row->pressed_at_ms);
  }
  return v;
}

Verdict judge(const std::vector<DeviceEvidence>& evidence, const Bounds& bounds) {
  Verdict out;
  bool all_ok = true;
  for (const auto& e : evidence) {
    auto d = judge_device(e, bounds);
    out.made += d.made;
    out.stored += d.stored;
    out.missing += d.missing;
    out.duplicated += d.duplicated;
    out.gaps += d.gaps;
    out.reused += d.reused;
    out.unlogged += d.unlogged;
    out.mismatched += d.mismatched;
    out.out_of_bounds += d.out_of_bounds;
    out.disorder += d.disorder;
    out.max_early_ms = std::max(out.max_early_ms, d.max_early_ms);
    out.max_late_ms = std::max(out.max_late_ms, d.max_late_ms);
    out.max_delivery_ms = std::max(out.max_delivery_ms, d.max_delivery_ms);
    all_ok = all_ok && d.ok();
    out.devices.push_back(std::move(d));
  }
  out.ok = all_ok && out.made > 0;
  return out;
}

boost::json::value to_json(const Verdict& v) {
  boost::json::array problems;
  for (const auto& d : v.devices)
    for (const auto& p : d.problems) problems.emplace_back(p);
  return boost::json::object{{"ok", v.ok},
                             {"made", v.made},
                             {"stored", v.stored},
                             {"missing", v.missing},
                             {"duplicated", v.duplicated},
                             {"gaps", v.gaps},
                             {"reused", v.reused},
                             {"unlogged", v.unlogged},
                             {"mismatched", v.mismatched},
                             {"out_of_bounds", v.out_of_bounds},
                             {"disorder", v.disorder},
                             {"max_early_ms", v.max_early_ms},
                             {"max_late_ms", v.max_late_ms},
                             {"max_delivery_ms", v.max_delivery_ms},
                             {"problems", problems}};
}

}  // namespace kiosk::faults
