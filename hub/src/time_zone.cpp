// Time zones from TZif files (RFC 8536) and POSIX TZ rules, flattened into one table of changes.
#include "kiosk/hub/time_zone.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>

#include <sys/stat.h>

namespace kiosk::hub {
// Named, not anonymous: the hub is built as a unity build.
namespace time_zone_detail {
using namespace std::chrono;
using protocol::Error;
using protocol::Result;

constexpr std::int64_t kDay = 86'400;
// A rule's changes are written out up to this year: a hub outlives no such table, and one
// lookup stays a binary search (about 900 entries for a zone with daylight saving time).
constexpr int kLastRuleYear = 2400;

// One end of daylight saving time in a POSIX rule: which day, and the local time on it.
struct DayRule {
  enum class Kind { julian_no_leap, zero_based, month_week_day } kind = Kind::month_week_day;
  int day = 0;    // Jn: 1..365; n: 0..365
  int month = 0;  // Mm.w.d
  int week = 0;   // 1..5, 5: the last
  int weekday = 0;  // 0 = Sunday
  std::int32_t time_s = 7200;  // local, in the offset in force before the change; may be < 0 or > 24 h
};

struct PosixRule {
  std::int32_t std_s = 0;  // seconds east of UTC (POSIX writes west as positive)
  std::optional<std::int32_t> dst_s;
  DayRule start;  // standard -> daylight saving time
  DayRule end;    // daylight saving time -> standard
};

// Reads a POSIX TZ rule left to right; each step names what it expected.
class PosixReader {
 public:
  explicit PosixReader(std::string_view text) : s_(text) {}

  Result<PosixRule> read() {
    PosixRule r;
    if (auto e = name("standard time name")) return *e;
    auto std_offset = offset("standard time offset", 24);
    if (!std_offset) return std_offset.error();
    r.std_s = -*std_offset;
    if (at_end()) return r;
    if (auto e = name("daylight saving time name")) return *e;
    r.dst_s = r.std_s + 3600;
    if (!at_end() && peek() != ',') {
      auto dst_offset = offset("daylight saving time offset", 24);
      if (!dst_offset) return dst_offset.error();
      r.dst_s = -*dst_offset;
    }
    if (at_end()) {
      // POSIX leaves the default rule to the implementation; glibc and the tz code use the US one.
      r.start = DayRule{DayRule::Kind::month_week_day, 0, 3, 2, 0, 7200};
      r.end = DayRule{DayRule::Kind::month_week_day, 0, 11, 1, 0, 7200};
      return r;
    }
    for (auto* rule : {&r.start, &r.end}) {
      if (!take(',')) return fail("expected ',' and a rule for the " + what(rule == &r.start));
      auto d = day_rule(rule == &r.start);
      if (!d) return d.error();
      *rule = *d;
    }
    if (!at_end()) return fail("unexpected '" + std::string(s_.substr(i_)) + "' after the rules");
    return r;
  }

 private:
  static std::string what(bool start) { return start ? "start of daylight saving time" : "end of daylight saving time"; }
  bool at_end() const { return i_ >= s_.size(); }
  char peek() const { return at_end() ? '\0' : s_[i_]; }
  bool take(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  Error fail(std::string why) const { return Error{"time_zone", "\"" + std::string(s_) + "\": " + why}; }

  std::optional<Error> name(const std::string& what) {
    std::size_t n = 0;
    if (take('<')) {
      while (!at_end() && peek() != '>') {
        const char c = peek();
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '+' && c != '-') return fail("bad character in the " + what);
        ++i_, ++n;
      }
      if (!take('>')) return fail("the " + what + " has no closing '>'");
    } else {
      while (std::isalpha(static_cast<unsigned char>(peek()))) ++i_, ++n;
    }
    if (n < 3) return fail("expected a " + what + " of at least 3 letters");
    return std::nullopt;
  }

  Result<int> number(const std::string& what, int max) {
    int v = 0, digits = 0;
    while (std::isdigit(static_cast<unsigned char>(peek())) && digits < 4) v = v * 10 + (s_[i_++] - '0'), ++digits;
    if (digits == 0) return fail("expected a number in the " + what);
    if (v > max) return fail(std::to_string(v) + " is out of range in the " + what);
    return v;
  }

  // [+-]hh[:mm[:ss]], hours up to max_hours.
  Result<std::int32_t> offset(const std::string& what, int max_hours) {
    int sign = 1;
    if (take('-')) {
      sign = -1;
    } else {
      take('+');
    }
    auto h = number(what, max_hours);
    if (!h) return h.error();
    std::int32_t v = *h * 3600;
    if (take(':')) {
      auto m = number(what, 59);
      if (!m) return m.error();
      v += *m * 60;
      if (take(':')) {
        auto sec = number(what, 59);
        if (!sec) return sec.error();
        v += *sec;
      }
    }
    return sign * v;
  }

  Result<DayRule> day_rule(bool start) {
    DayRule d;
    const auto w = what(start);
    if (take('J')) {
      auto n = number(w, 365);
      if (!n) return n.error();
      if (*n < 1) return fail("J0 is not a day in the " + w + " (J1..J365)");
      d = DayRule{DayRule::Kind::julian_no_leap, *n};
    } else if (take('M')) {
      auto m = number(w, 12);
      if (!m) return m.error();
      if (!take('.')) return fail("expected Mmonth.week.weekday for the " + w);
      auto wk = number(w, 5);
      if (!wk) return wk.error();
      if (!take('.')) return fail("expected Mmonth.week.weekday for the " + w);
      auto wd = number(w, 6);
      if (!wd) return wd.error();
      if (*m < 1 || *wk < 1) return fail("month 1..12 and week 1..5 in the " + w);
      d = DayRule{DayRule::Kind::month_week_day, 0, *m, *wk, *wd};
    } else {
      auto n = number(w, 365);
      if (!n) return n.error();
      d = DayRule{DayRule::Kind::zero_based, *n};
    }
    d.time_s = 7200;
    if (take('/')) {
      // RFC 8536 allows -167..167 hours here (POSIX: 0..24).
      auto t = offset("time of the " + w, 167);
      if (!t) return t.error();
      d.time_s = *t;
    }
    return d;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

// Days since the epoch of the rule's day in year y.
std::int64_t rule_day(const DayRule& d, int y) {
  const year_month_day jan1{year{y}, January, day{1}};
  const std::int64_t first = sys_days{jan1}.time_since_epoch().count();
  switch (d.kind) {
    case DayRule::Kind::julian_no_leap:
      // Jn never counts February 29: J60 is March 1 in every year.
      return first + d.day - 1 + ((year{y}.is_leap() && d.day >= 60) ? 1 : 0);
    case DayRule::Kind::zero_based:
      return first + d.day;
    case DayRule::Kind::month_week_day:
      break;
  }
  const sys_days month_first{year_month_day{year{y}, month{static_cast<unsigned>(d.month)}, day{1}}};
  const auto first_weekday = static_cast<int>(weekday{month_first}.c_encoding());
  std::int64_t day_of_month = 1 + (d.weekday - first_weekday + 7) % 7 + (d.week - 1) * 7;
  const auto length = static_cast<std::int64_t>(
      unsigned{year_month_day_last{year{y}, month_day_last{month{static_cast<unsigned>(d.month)}}}.day()});
  while (day_of_month > length) day_of_month -= 7;
  return month_first.time_since_epoch().count() + day_of_month - 1;
}

std::uint32_t be32(std::string_view b, std::size_t at) {
  return (std::uint32_t{static_cast<unsigned char>(b[at])} << 24) |
         (std::uint32_t{static_cast<unsigned char>(b[at + 1])} << 16) |
         (std::uint32_t{static_cast<unsigned char>(b[at + 2])} << 8) | std::uint32_t{static_cast<unsigned char>(b[at + 3])};
}

std::int64_t be64(std::string_view b, std::size_t at) {
  return static_cast<std::int64_t>((std::uint64_t{be32(b, at)} << 32) | be32(b, at + 4));
}

// tz database names: letters, digits and "/_-+.", no "." or ".." component, not absolute.
bool is_zone_name(std::string_view n) {
  if (n.empty() || n.size() > 100 || n.front() == '/' || n.back() == '/') return false;
  for (char c : n)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' && c != '+' && c != '.')
      return false;
  std::size_t start = 0;
  while (start <= n.size()) {
    const auto end = std::min(n.find('/', start), n.size());
    const auto part = n.substr(start, end - start);
    if (part.empty() || part == "." || part == "..") return false;
    start = end + 1;
  }
  return true;
}

}  // namespace time_zone_detail

// Builds the table of changes: a TZif file's own, then its rule's for the years after them.
struct TimeZoneBuilder {
  TimeZone::Rules rules;

  void change(std::int64_t at_s, std::int32_t offset_s) {
    // Kept within what a WallTime (ms) holds: zic writes a first change at -2^59 s ("the big
    // bang"), which only says what held before the table; changes are added in time order.
    constexpr std::int64_t kFar = std::int64_t{1} << 43;  // about 280,000 years
    if (at_s > kFar) return;
    if (at_s < -kFar) {
      rules.initial_s = offset_s;
      return;
    }
    auto& c = rules.changes;
    // Two changes at one instant (the end of one year's all-year daylight saving time and the start
    // of the next): the later one holds.
    while (!c.empty() && c.back().at_s >= at_s) c.pop_back();
    const auto before = c.empty() ? rules.initial_s : c.back().offset_s;
    if (offset_s != before) c.push_back({at_s, offset_s});
  }

  // The rule's changes after `after_s`, from year `from_year` on.
  void follow(const time_zone_detail::PosixRule& r, std::int64_t after_s, int from_year) {
    using namespace time_zone_detail;
    if (!r.dst_s) {
      if (after_s < std::numeric_limits<std::int64_t>::max()) change(after_s + 1, r.std_s);
      return;
    }
    for (int y = from_year; y <= kLastRuleYear; ++y) {
      const std::int64_t start = rule_day(r.start, y) * kDay + r.start.time_s - r.std_s;
      const std::int64_t end = rule_day(r.end, y) * kDay + r.end.time_s - *r.dst_s;
      // Southern hemisphere: the year ends in daylight saving time.
      const bool south = end < start;
      const std::pair<std::int64_t, std::int32_t> first{south ? end : start, south ? r.std_s : *r.dst_s};
      const std::pair<std::int64_t, std::int32_t> second{south ? start : end, south ? *r.dst_s : r.std_s};
      for (const auto& [at, off] : {first, second})
        if (at > after_s) change(at, off);
    }
  }

  TimeZone done() { return TimeZone(std::make_shared<const TimeZone::Rules>(std::move(rules))); }
};

TimeZone TimeZone::fixed(std::chrono::minutes offset) {
  TimeZoneBuilder b;
  b.rules.initial_s = static_cast<std::int32_t>(offset.count() * 60);
  b.rules.name = utc_offset_name(offset);
  return b.done();
}

protocol::Result<TimeZone> TimeZone::from_posix(std::string_view rule) {
  using namespace time_zone_detail;
  auto r = PosixReader(rule).read();
  if (!r) return r.error();
  TimeZoneBuilder b;
  b.rules.name = std::string(rule);
  b.rules.initial_s = r->std_s;
  b.follow(*r, std::numeric_limits<std::int64_t>::min(), 1970);
  return b.done();
}

protocol::Result<TimeZone> TimeZone::from_tzif(std::string name, std::string_view bytes) {
  using namespace time_zone_detail;
  const auto fail = [&](const std::string& why) { return Error{"time_zone", name + ": " + why}; };
  constexpr std::size_t kHeader = 44;
  if (bytes.size() < kHeader || bytes.substr(0, 4) != "TZif") return fail("not a TZif file");
  if (bytes[4] == '\0')
    return fail("a version 1 TZif file has no rule for the years after its table (tzdata's are version 2 or later)");
  struct Counts {
    std::uint32_t isut, isstd, leap, time, type, chars;
  };
  const auto counts = [&](std::size_t at) {
    return Counts{be32(bytes, at + 20), be32(bytes, at + 24), be32(bytes, at + 28),
                  be32(bytes, at + 32), be32(bytes, at + 36), be32(bytes, at + 40)};
  };
  const Counts v1 = counts(0);
  const std::uint64_t v1_size = std::uint64_t{v1.time} * 5 + std::uint64_t{v1.type} * 6 + v1.chars +
                                std::uint64_t{v1.leap} * 8 + v1.isstd + v1.isut;
  if (v1_size + 2 * kHeader > bytes.size()) return fail("truncated (version 1 data)");
  const std::size_t h2 = kHeader + static_cast<std::size_t>(v1_size);
  if (bytes.substr(h2, 4) != "TZif") return fail("no version 2 header after the version 1 data");
  const Counts c = counts(h2);
  const std::uint64_t v2_size = std::uint64_t{c.time} * 9 + std::uint64_t{c.type} * 6 + c.chars +
                                std::uint64_t{c.leap} * 12 + c.isstd + c.isut;
  const std::size_t data = h2 + kHeader;
  if (v2_size > bytes.size() - data) return fail("truncated (version 2 data)");
  if (c.type == 0 || c.type > 256) return fail("needs 1..256 local time types, has " + std::to_string(c.type));
  if (c.leap != 0) return fail("counts leap seconds (a right/ zone); use the zone without right/");
  const std::size_t times = data, indices = times + std::size_t{c.time} * 8, types = indices + c.time;
  const auto type_offset = [&](std::size_t i) -> Result<std::int32_t> {
    const auto v = static_cast<std::int32_t>(be32(bytes, types + i * 6));
    if (v < -25 * 3600 || v > 26 * 3600) return fail("offset " + std::to_string(v) + " s is outside -25..26 h");
    return v;
  };
  TimeZoneBuilder b;
  b.rules.name = std::move(name);
  auto initial = type_offset(0);  // RFC 8536: type 0 is local time before the first change
  if (!initial) return initial.error();
  b.rules.initial_s = *initial;
  std::int64_t last = std::numeric_limits<std::int64_t>::min();
  for (std::size_t i = 0; i < c.time; ++i) {
    const auto at = be64(bytes, times + i * 8);
    const auto type = static_cast<unsigned char>(bytes[indices + i]);
    if (at <= last) return fail("its changes are not in time order");
    if (type >= c.type) return fail("a change names local time type " + std::to_string(type) + " of " + std::to_string(c.type));
    auto off = type_offset(type);
    if (!off) return off.error();
    last = at;
    b.change(at, *off);
  }
  // The footer: "\n" rule "\n", the rule for every instant after the table.
  const auto footer = bytes.substr(data + static_cast<std::size_t>(v2_size));
  if (footer.size() < 2 || footer.front() != '\n' || footer.find('\n', 1) == std::string_view::npos)
    return fail("truncated (no rule line after the table)");
  const auto rule_text = footer.substr(1, footer.find('\n', 1) - 1);
  if (rule_text.empty()) return b.done();  // no rule: the last change holds
  auto rule = PosixReader(rule_text).read();
  if (!rule) return fail("its rule " + rule.error().reason);
  // zic writes a first change at -2^59 ("the big bang"); the calendar is asked about sane years only.
  const auto bounded = std::clamp<std::int64_t>(last, -(std::int64_t{1} << 35), std::int64_t{1} << 35);
  const int from_year = static_cast<int>(year_month_day{floor<days>(sys_seconds{seconds{bounded}})}.year());
  b.follow(*rule, last, from_year);
  return b.done();
}

std::vector<TimeZone::Change>::const_iterator TimeZone::first_change_after(WallTime t) const {
  const auto s = std::chrono::floor<std::chrono::seconds>(t).time_since_epoch().count();
  const auto& c = rules_->changes;
  return std::upper_bound(c.begin(), c.end(), s, [](std::int64_t v, const Change& ch) { return v < ch.at_s; });
}

std::chrono::seconds TimeZone::offset_at(WallTime t) const {
  if (!rules_) return std::chrono::seconds{0};
  const auto it = first_change_after(t);
  return std::chrono::seconds{it == rules_->changes.begin() ? rules_->initial_s : std::prev(it)->offset_s};
}

WallTime TimeZone::from_local(WallTime local) const {
  if (!rules_) return local;
  // Offsets are within 26 h of UTC, so every instant whose clock reads `local` is in this window;
  // each offset in force in it is a candidate (real zones have one or two, months apart).
  const WallTime lo = local - std::chrono::hours(26);
  const WallTime hi = local + std::chrono::hours(26);
  std::optional<WallTime> best;
  std::optional<WallTime> skipped;  // `local` fell in a gap: as if the clocks had not gone forward
  auto previous = offset_at(lo);
  const auto consider = [&](std::chrono::seconds o) {
    const WallTime u = local - o;
    if (offset_at(u) == o && (!best || u < *best)) best = u;
  };
  consider(previous);
  for (auto change = next_change(lo); change && *change <= hi; change = next_change(*change)) {
    const auto o = offset_at(*change);
    if (!skipped && o > previous && local >= *change + previous && local < *change + o) skipped = local - previous;
    consider(o);
    previous = o;
  }
  if (best) return *best;
  return skipped ? *skipped : local - offset_at(lo);
}

std::optional<WallTime> TimeZone::next_change(WallTime t) const {
  if (!rules_) return std::nullopt;
  const auto it = first_change_after(t);
  if (it == rules_->changes.end()) return std::nullopt;
  return WallTime{std::chrono::seconds{it->at_s}};
}

const std::string& TimeZone::name() const {
  static const std::string utc = "UTC";
  return rules_ ? rules_->name : utc;
}

std::optional<std::chrono::seconds> TimeZone::off_quarter_offset_from(WallTime t) const {
  const auto off_quarter = [](std::chrono::seconds o) { return o.count() % 900 != 0; };
  if (const auto now = offset_at(t); off_quarter(now)) return now;
  for (auto change = next_change(t); change; change = next_change(*change))
    if (const auto o = offset_at(*change); off_quarter(o)) return o;
  return std::nullopt;
}

std::string utc_offset_name(std::chrono::seconds offset) {
  const auto m = std::abs(offset.count()) / 60;
  if (m == 0) return "UTC";
  char buf[16];
  std::snprintf(buf, sizeof buf, "UTC%c%02d:%02d", offset.count() < 0 ? '-' : '+', static_cast<int>(m / 60),
                static_cast<int>(m % 60));
  return buf;
}

bool operator==(const TimeZone& a, const TimeZone& b) {
  if (a.rules_ == b.rules_) return true;
  if (a.name() != b.name()) return false;
  const auto initial = [](const TimeZone& z) { return z.rules_ ? z.rules_->initial_s : 0; };
  const auto changes = [](const TimeZone& z) { return z.rules_ ? z.rules_->changes.size() : 0; };
  if (initial(a) != initial(b) || changes(a) != changes(b)) return false;
  return changes(a) == 0 || std::equal(a.rules_->changes.begin(), a.rules_->changes.end(), b.rules_->changes.begin(),
                                       [](const auto& x, const auto& y) {
                                         return x.at_s == y.at_s && x.offset_s == y.offset_s;
                                       });
}

std::string zoneinfo_dir() {
  const char* dir = std::getenv("TZDIR");
  return dir && *dir ? std::string(dir) : std::string(kZoneinfo);
}

protocol::Result<TimeZone> load_time_zone(std::string_view name, const std::string& zoneinfo) {
  using namespace time_zone_detail;
  const std::string quoted = "\"" + std::string(name) + "\"";
  if (name.empty()) return Error{"time_zone", "is empty: give a tz database name such as Europe/Berlin"};
  if (is_zone_name(name)) {
    const std::string path = zoneinfo + "/" + std::string(name);
    std::ifstream in(path, std::ios::binary);
    if (in) {
      std::ostringstream bytes;
      bytes << in.rdbuf();
      return TimeZone::from_tzif(std::string(name), bytes.str());
    }
  }
  // Not in the tz database: a POSIX rule carries a digit (its offset) or a '<'.
  if (name.find_first_of("0123456789<") != std::string_view::npos) {
    auto posix = TimeZone::from_posix(name);
    if (posix || !is_zone_name(name)) return posix;
  }
  return Error{"time_zone", "no time zone " + quoted + " in " + zoneinfo +
                                " (names as in `timedatectl list-timezones`, e.g. Europe/Berlin; tools/setup.sh "
                                "installs tzdata) and it is not a POSIX TZ rule such as CET-1CEST,M3.5.0,M10.5.0/3"};
}

ZoneFileWatch::ZoneFileWatch(std::string name, std::string zoneinfo)
    : name_(std::move(name)), zoneinfo_(std::move(zoneinfo)), seen_(identity()) {}

ZoneFileWatch::Identity ZoneFileWatch::identity() const {
  Identity id;
  struct stat st {};
  // Only names of the tz database have a file; stat follows the links tzdata uses between names.
  if (!time_zone_detail::is_zone_name(name_) || ::stat((zoneinfo_ + "/" + name_).c_str(), &st) != 0) return id;
  id.exists = true;
  id.device = static_cast<unsigned long long>(st.st_dev);
  id.inode = static_cast<unsigned long long>(st.st_ino);
  id.size = static_cast<long long>(st.st_size);
  id.mtime_ns = static_cast<long long>(st.st_mtim.tv_sec) * 1'000'000'000LL + st.st_mtim.tv_nsec;
  return id;
}

bool ZoneFileWatch::changed() {
  const Identity now = identity();
  if (now == seen_) return false;
  seen_ = now;
  return true;
}

}  // namespace kiosk::hub
