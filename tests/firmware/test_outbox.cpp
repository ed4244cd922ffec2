// The SQLite outbox in a temp dir: seq persistence and seeding, order, ack, bound with drop
// counter, an unreadable file moved aside.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include <filesystem>
#include <fstream>

#include "kiosk/firmware/outbox.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::firmware;

namespace {

PressTime at(std::int64_t ms) { return PressTime{"boot", ms * 1'000'000, ms}; }

// 2026-11-22T14:03:05.120Z: a wall clock that has been set.
constexpr std::int64_t kSetClockMs = 1'795'356'185'120;

// A new outbox numbering from 1, as --first-seq 1 gives: the checks stay readable.
const OutboxStart kFromOne{0, 1};

// Overwrites one byte of a file in place: a flipped bit in an outbox's header, as a failing card leaves.
void overwrite_byte(const std::filesystem::path& path, std::streamoff offset, char byte) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  REQUIRE(f);
  f.seekp(offset);
  f.put(byte);
}

void write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

std::vector<std::uint64_t> seqs(const std::vector<StoredPress>& presses) {
  std::vector<std::uint64_t> out;
  for (const auto& p : presses) out.push_back(p.press.seq);
  return out;
}

}  // namespace

TEST_CASE("presses get increasing seqs from the first one and come back in order with their data") {
  kiosk::test::TempDir dir;
  Outbox box(dir / "outbox.db", 100, kFromOne);
  auto a = box.add(0, 1, 4, false, at(10));
  auto b = box.add(3, 4, 4, true, at(20));
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->press.seq == 1);
  CHECK(b->press.seq == 2);
  CHECK(b->press.is_repeat());
  auto pending = box.pending_after(0, 10);
  REQUIRE(pending.ok());
  REQUIRE(pending->size() == 2);
  CHECK((*pending)[1].press == b->press);
  CHECK((*pending)[1].at == at(20));
  CHECK(box.pending_after(1, 10)->size() == 1);
  CHECK(box.depth() == 2);
}

TEST_CASE("seq never repeats across reopen, even after every press was acknowledged") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 100, kFromOne);
    for (int i = 0; i < 5; ++i) REQUIRE(box.add(0, 1, 4, false, at(i)).ok());
    REQUIRE(*box.ack({1, 2, 3, 4, 5}) == 5);
    CHECK(box.depth() == 0);
  }
  Outbox box(dir / "outbox.db", 100, kFromOne);
  CHECK(box.next_seq() == 6);
  CHECK(box.add(1, 2, 4, false, at(9))->press.seq == 6);
}

TEST_CASE("an ack deletes exactly the named presses and tolerates unknown seqs") {
  kiosk::test::TempDir dir;
  Outbox box(dir / "outbox.db", 100, kFromOne);
  for (int i = 0; i < 5; ++i) REQUIRE(box.add(0, 1, 4, false, at(i)).ok());
  CHECK(*box.ack({2, 4, 99}) == 2);
  CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{1, 3, 5});
  CHECK(*box.ack({2}) == 0);  // a duplicate ack is harmless
  CHECK(box.depth() == 3);
}

TEST_CASE("presses the hub holds others under are moved, in order, above the hub's seqs and every stored one, "
          "persistently") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 100, kFromOne);
    for (int i = 0; i < 5; ++i) REQUIRE(box.add(0, i % 4 + 1, 4, false, at(i)).ok());
    // The hub holds other presses under 2 and 4 (9 and 10 are not here), and seqs up to 99.
    auto first = box.renumber({4, 2, 9}, 100);
    REQUIRE(first.ok());
    CHECK(*first == std::optional<std::uint64_t>{100});
    auto pending = *box.pending_after(0, 10);
    CHECK(seqs(pending) == std::vector<std::uint64_t>{1, 3, 5, 100, 101});
    CHECK(pending[3].press.rating == 2);  // was seq 2
    CHECK(pending[3].at == at(1));        // its time, and so its nonce, goes with it
    CHECK(pending[4].press.rating == 4);  // was seq 4
    CHECK(box.next_seq() == 102);
    // Named again (a repeated answer): nothing of them is here any more.
    CHECK(*box.renumber({2, 4}, 100) == std::nullopt);
    CHECK(box.next_seq() == 102);
    // The hub's counter below ours: the new seqs start at ours.
    CHECK(*box.renumber({3}, 50) == std::optional<std::uint64_t>{102});
  }
  Outbox box(dir / "outbox.db", 100, kFromOne);
  CHECK(box.next_seq() == 103);
  CHECK(box.add(1, 2, 4, false, at(9))->press.seq == 103);
  CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{1, 5, 100, 101, 102, 103});
}

TEST_CASE("a press's nonce is the same for the same press and differs for another one") {
  const PressTime a{"8f3c", 1'000'000'123, 0};
  CHECK(press_nonce(a) == press_nonce(PressTime{"8f3c", 1'000'000'123, 1'795'356'185'120}));  // wall time not in it
  CHECK(press_nonce(a).size() == 16);
  CHECK(press_nonce(a).find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(press_nonce(a) != press_nonce(PressTime{"8f3c", 1'000'000'124, 0}));
  CHECK(press_nonce(a) != press_nonce(PressTime{"8f3d", 1'000'000'123, 0}));
}

TEST_CASE("a full outbox drops the oldest press and counts it, persistently") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 3, kFromOne);
    for (int i = 0; i < 5; ++i) REQUIRE(box.add(0, 1, 4, false, at(i)).ok());
    CHECK(box.depth() == 3);
    CHECK(box.dropped() == 2);
    CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{3, 4, 5});
  }
  Outbox box(dir / "outbox.db", 3, kFromOne);
  CHECK(box.dropped() == 2);
  CHECK(box.depth() == 3);
  CHECK(box.add(0, 1, 4, false, at(9))->press.seq == 6);
}

TEST_CASE("a full outbox drops the press pressed first, not the lowest seq, after presses were renumbered") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 4, kFromOne);
    for (int i = 1; i <= 4; ++i) REQUIRE(box.add(0, i, 4, false, at(i)).ok());
    // The hub holds other presses under 1 and 2: the two oldest go above 3 and 4 as 5 and 6.
    REQUIRE(*box.renumber({1, 2}, 3) == std::optional<std::uint64_t>{5});
    REQUIRE(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{3, 4, 5, 6});
    REQUIRE(box.add(0, 1, 4, false, at(10))->press.seq == 7);
    // Seq 5 went: pressed at 1, before 3 and 4 (seq order would have dropped 3).
    CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{3, 4, 6, 7});
    CHECK(box.dropped() == 1);
    CHECK(box.depth() == 4);
    REQUIRE(box.add(0, 1, 4, false, at(11)).ok());
    CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{3, 4, 7, 8});
  }
  Outbox box(dir / "outbox.db", 4, kFromOne);
  CHECK(box.dropped() == 2);
  REQUIRE(box.add(0, 1, 4, false, at(12)).ok());
  CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{4, 7, 8, 9});
  CHECK(box.dropped() == 3);
}

TEST_CASE("a full outbox drops an earlier boot's presses first, though the boot clock restarted below them") {
  kiosk::test::TempDir dir;
  Outbox box(dir / "outbox.db", 3, kFromOne);
  // Pressed hours into the earlier boot; the wall clock unknown (no NTP), as on a venue LAN.
  for (int i = 1; i <= 3; ++i) REQUIRE(box.add(0, i, 4, false, PressTime{"boot-1", i * 3'600'000'000'000, 0}).ok());
  REQUIRE(box.add(0, 1, 4, false, PressTime{"boot-2", 5'000'000'000, 0}).ok());
  REQUIRE(box.add(0, 2, 4, false, PressTime{"boot-2", 6'000'000'000, 0}).ok());
  CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{3, 4, 5});
  CHECK(box.dropped() == 2);
}

TEST_CASE("unacknowledged presses survive reopening the outbox") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 100, kFromOne);
    for (int i = 0; i < 3; ++i) REQUIRE(box.add(i, i + 1, 4, false, at(i)).ok());
  }
  Outbox box(dir / "outbox.db", 100, kFromOne);
  auto pending = box.pending_after(0, 10);
  REQUIRE(pending->size() == 3);
  CHECK((*pending)[2].press.rating == 3);
}

TEST_CASE("an outbox that cannot be opened is a start-up error") {
  kiosk::test::TempDir dir;
  CHECK_THROWS(Outbox(dir / "missing-dir" / "outbox.db", 100, {}));
}

TEST_CASE("a press that cannot be written is refused without using a seq, and the next one is stored") {
  kiosk::test::TempDir dir;
  Outbox box(dir / "outbox.db", 100, kFromOne, std::chrono::milliseconds(0));
  REQUIRE(box.add(0, 1, 4, false, at(1)).ok());
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open((dir / "outbox.db").c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);  // the disk "fails"
  auto refused = box.add(1, 2, 4, false, at(2));
  CHECK_FALSE(refused.ok());
  CHECK(refused.error().field == "outbox");
  CHECK_FALSE(box.corrupt());  // a busy or full disk is worth retrying, unlike a damaged file
  CHECK(box.depth() == 1);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  auto stored = box.add(1, 2, 4, false, at(3));
  REQUIRE(stored.ok());
  CHECK(stored->press.seq == 2);
  CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{1, 2});
}

TEST_CASE("a new outbox starts its seq at the wall clock in ms, above the seqs of an outbox that was lost") {
  kiosk::test::TempDir dir;
  {
    Outbox old(dir / "outbox.db", 100, kFromOne);  // a terminal of old, counting from 1
    for (int i = 0; i < 5; ++i) REQUIRE(old.add(0, 1, 4, false, at(i)).ok());
  }
  std::filesystem::remove(dir / "outbox.db");  // re-flashed card: the outbox is gone
  Outbox box(dir / "outbox.db", 100, OutboxStart{kSetClockMs, 0});
  CHECK(box.opening().seq == OutboxOpening::Seq::from_clock);
  CHECK(box.next_seq() == static_cast<std::uint64_t>(kSetClockMs));
  auto stored = box.add(0, 1, 4, false, at(1));
  REQUIRE(stored.ok());
  CHECK(stored->press.seq == static_cast<std::uint64_t>(kSetClockMs));
  CHECK(box.add(0, 1, 4, false, at(2))->press.seq == static_cast<std::uint64_t>(kSetClockMs) + 1);
}

TEST_CASE("a new outbox on a board whose clock is not set (before 2026) starts at a random seq clear of earlier ones") {
  kiosk::test::TempDir dir;
  const std::uint64_t random = 0x9e3779b97f4a7c15;
  Outbox box(dir / "outbox.db", 100, OutboxStart{kPlausibleWallMs - 1, 0, random});
  CHECK(box.opening().seq == OutboxOpening::Seq::random);
  CHECK(box.next_seq() == kRandomFirstSeqMin + random % (kRandomFirstSeqEnd - kRandomFirstSeqMin));
  // Above a count from 1, below any seed from a set clock: a lost outbox's seqs are not met again.
  CHECK(box.next_seq() >= kRandomFirstSeqMin);
  CHECK(box.next_seq() + 1'000'000'000 < static_cast<std::uint64_t>(kPlausibleWallMs));
  CHECK(Outbox(dir / "other.db", 100, OutboxStart{0, 0, random + 1}).next_seq() == box.next_seq() + 1);
  CHECK(wall_clock_plausible(kPlausibleWallMs));
  CHECK_FALSE(wall_clock_plausible(0));
}

TEST_CASE("a first seq given at provisioning seeds a new outbox whatever the clock says") {
  kiosk::test::TempDir dir;
  Outbox box(dir / "outbox.db", 100, OutboxStart{0, 5000});
  CHECK(box.opening().seq == OutboxOpening::Seq::given);
  CHECK(box.add(0, 1, 4, false, at(1))->press.seq == 5000);
}

TEST_CASE("an existing outbox keeps its counters whatever the clock or the first seq say") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 100, kFromOne);
    for (int i = 0; i < 3; ++i) REQUIRE(box.add(0, 1, 4, false, at(i)).ok());
  }
  Outbox box(dir / "outbox.db", 100, OutboxStart{kSetClockMs, 777});
  CHECK(box.opening().seq == OutboxOpening::Seq::kept);
  CHECK(box.opening().corrupt_moved_to.empty());
  CHECK(box.next_seq() == 4);
  CHECK(box.depth() == 3);
}

TEST_CASE("an outbox file that is not a database is moved aside with its -wal and -shm and a new seeded outbox starts") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  const std::string garbage(8192, 'x');
  write_file(path, garbage);
  write_file(dir / "outbox.db-wal", "not a wal");
  write_file(dir / "outbox.db-shm", "not a shm");
  Outbox box(path, 100, OutboxStart{kSetClockMs, 0});
  auto moved = dir / ("outbox.db.corrupt-" + std::to_string(kSetClockMs));
  CHECK(box.opening().corrupt_moved_to == moved);
  CHECK_FALSE(box.opening().corrupt_reason.empty());
  CHECK(read_file(moved) == garbage);  // kept for a technician, not deleted
  CHECK(read_file(moved.string() + "-wal") == "not a wal");
  CHECK(read_file(moved.string() + "-shm") == "not a shm");
  CHECK(box.opening().seq == OutboxOpening::Seq::from_clock);
  REQUIRE(box.add(0, 1, 4, false, at(1)).ok());
  CHECK(box.depth() == 1);
  Outbox reopened(path, 100, OutboxStart{kSetClockMs + 5, 0});  // the new file is a good outbox
  CHECK(reopened.opening().corrupt_moved_to.empty());
  CHECK(reopened.next_seq() == static_cast<std::uint64_t>(kSetClockMs) + 1);
}

TEST_CASE("the presses still readable in an outbox with a damaged header come back into the new one under their "
          "seqs, and the copy set aside stays as it was") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 100, kFromOne);
    for (int i = 0; i < 6; ++i) REQUIRE(box.add(i % 4, i % 4 + 1, 4, i == 5, at(i)).ok());
    REQUIRE(*box.ack({1, 2}) == 2);  // 3..6 queued, next seq 7
  }
  // One flipped byte in the header: SQLite no longer takes it for a database.
  overwrite_byte(dir / "outbox.db", 3, 'X');
  const auto damaged = read_file(dir / "outbox.db");
  write_file(dir / "outbox.db.corrupt-123.salvage", "left by a start-up that died while salvaging");
  Outbox box(dir / "outbox.db", 100, OutboxStart{kSetClockMs, 0});
  CHECK_FALSE(std::filesystem::exists(dir / "outbox.db.corrupt-123.salvage"));
  REQUIRE_FALSE(box.opening().corrupt_moved_to.empty());
  CHECK(box.opening().salvaged == 4);
  const auto pending = *box.pending_after(0, 10);
  CHECK(seqs(pending) == std::vector<std::uint64_t>{3, 4, 5, 6});
  CHECK(pending[0].press.rating == 3);
  CHECK(pending[0].at == at(2));  // its time, and so its nonce: the hub knows it if it has it
  CHECK(pending[3].press.is_repeat());
  CHECK(box.depth() == 4);
  // A new outbox numbers from the clock, above the old counter anyway.
  CHECK(box.next_seq() == static_cast<std::uint64_t>(kSetClockMs));
  CHECK(read_file(box.opening().corrupt_moved_to) == damaged);
  for (const auto& e : std::filesystem::directory_iterator(dir.path()))
    CHECK(e.path().string().find(".salvage") == std::string::npos);
  // Numbered from 1 (--first-seq 1), the counter goes above the presses read back.
  kiosk::test::TempDir again;
  {
    Outbox first(again / "outbox.db", 100, kFromOne);
    for (int i = 0; i < 3; ++i) REQUIRE(first.add(0, 1, 4, false, at(i)).ok());
  }
  overwrite_byte(again / "outbox.db", 0, 's');
  Outbox second(again / "outbox.db", 100, kFromOne);
  CHECK(second.opening().salvaged == 3);
  CHECK(second.opening().salvage_error.empty());
  CHECK(second.next_seq() == 4);
  CHECK(second.add(0, 1, 4, false, at(9))->press.seq == 4);
}

TEST_CASE("presses read back beyond the outbox's bound lose the oldest, as a full outbox does, and are counted") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 100, kFromOne);
    for (int i = 1; i <= 5; ++i) REQUIRE(box.add(0, i % 4 + 1, 4, false, at(i)).ok());
    REQUIRE(*box.renumber({1}, 1) == std::optional<std::uint64_t>{6});  // the oldest is now seq 6
  }
  overwrite_byte(dir / "outbox.db", 3, 'X');
  // Started again with a smaller bound: three of the five fit.
  Outbox box(dir / "outbox.db", 3, kFromOne);
  REQUIRE_FALSE(box.opening().corrupt_moved_to.empty());
  CHECK(box.opening().salvage_error.empty());
  CHECK(box.opening().salvaged == 3);
  const auto pending = *box.pending_after(0, 10);
  CHECK(seqs(pending) == std::vector<std::uint64_t>{3, 4, 5});
  CHECK(pending[0].at == at(3));
  CHECK(box.depth() == 3);
  CHECK(box.dropped() == 2);
  CHECK(box.next_seq() == 7);
}

TEST_CASE("an outbox read back under a much smaller bound holds at most twice the bound in memory; the rest count as dropped") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 100, kFromOne);
    for (int i = 1; i <= 10; ++i) REQUIRE(box.add(0, 2, 4, false, at(i)).ok());
  }
  overwrite_byte(dir / "outbox.db", 3, 'X');
  // Bound 2: seqs 7..10 are read back (twice the bound), 1..6 are not, and 2 of the 4 fit.
  {
    Outbox box(dir / "outbox.db", 2, kFromOne);
    REQUIRE_FALSE(box.opening().corrupt_moved_to.empty());
    CHECK(box.opening().salvage_error.empty());
    CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{9, 10});
    CHECK(box.dropped() == 8);
    CHECK(box.next_seq() == 11);
  }
  Outbox reopened(dir / "outbox.db", 2, kFromOne);
  CHECK(reopened.dropped() == 8);  // counted in the file, not only in memory
}

TEST_CASE("presses still only in the outbox's -wal are read back too when its header is damaged") {
  kiosk::test::TempDir dir;
  kiosk::test::TempDir running;
  Outbox box(running / "outbox.db", 100, kFromOne);
  for (int i = 0; i < 3; ++i) REQUIRE(box.add(0, 2, 4, false, at(i)).ok());
  // What a power cut leaves while it runs: the database and its -wal, the presses in the latter.
  REQUIRE(std::filesystem::exists(running / "outbox.db-wal"));
  std::filesystem::copy_file(running / "outbox.db", dir / "outbox.db");
  std::filesystem::copy_file(running / "outbox.db-wal", dir / "outbox.db-wal");
  overwrite_byte(dir / "outbox.db", 5, '?');
  Outbox after(dir / "outbox.db", 100, kFromOne);
  CHECK(after.opening().salvaged == 3);
  CHECK(seqs(*after.pending_after(0, 10)) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(after.next_seq() == 4);
}

TEST_CASE("a corrupt outbox is moved aside under a name that does not overwrite an earlier one") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  write_file(path, std::string(4096, 'a'));
  { Outbox first(path, 100, {}); }  // a clock that is not synchronised: no stamp to tell them apart
  std::filesystem::remove(path);
  std::filesystem::remove(dir / "outbox.db-wal");
  std::filesystem::remove(dir / "outbox.db-shm");
  write_file(path, std::string(4096, 'b'));
  Outbox second(path, 100, {});
  CHECK(second.opening().corrupt_moved_to == dir / "outbox.db.corrupt-clock-unset-2");
  CHECK(read_file(dir / "outbox.db.corrupt-clock-unset-1") == std::string(4096, 'a'));
  CHECK(read_file(dir / "outbox.db.corrupt-clock-unset-2") == std::string(4096, 'b'));
  CHECK(second.opening().seq == OutboxOpening::Seq::random);
}

TEST_CASE("an outbox database damaged after its header is moved aside and a new outbox starts") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  {
    Outbox box(path, 100, {});
    for (int i = 0; i < 50; ++i) REQUIRE(box.add(0, 1, 4, false, at(i)).ok());
  }
  REQUIRE(std::filesystem::file_size(path) > 4096);
  auto bytes = read_file(path);
  for (std::size_t i = 100; i < bytes.size(); ++i) bytes[i] = static_cast<char>(0xA5);  // keep the 100-byte header
  write_file(path, bytes);
  Outbox box(path, 100, OutboxStart{kSetClockMs, 0});
  CHECK(box.opening().corrupt_moved_to == dir / ("outbox.db.corrupt-" + std::to_string(kSetClockMs)));
  CHECK_FALSE(box.opening().corrupt_reason.empty());
  CHECK(box.depth() == 0);
  CHECK(box.next_seq() == static_cast<std::uint64_t>(kSetClockMs));
  CHECK(box.add(0, 1, 4, false, at(1)).ok());
}

namespace {

// Points the presses table at a page far past the end of the file, from another connection, and
// bumps the schema cookie so the outbox's next statement re-reads the schema: the file is now
// damaged under a running outbox, as a failing SD card can do.
void damage_presses_table(const std::filesystem::path& path) {
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open(path.c_str(), &other) == SQLITE_OK);
  sqlite3_busy_timeout(other, 5000);  // the outbox may be writing (an ack) right now
  int version = 0;
  {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(other, "PRAGMA schema_version", -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
  }
  auto sql = "PRAGMA writable_schema=ON; UPDATE sqlite_master SET rootpage = 100000 WHERE name = 'presses';"
             " PRAGMA schema_version=" + std::to_string(version + 1) + "; PRAGMA writable_schema=OFF;";
  char* err = nullptr;
  int rc = sqlite3_exec(other, sql.c_str(), nullptr, nullptr, &err);
  INFO((err ? err : ""));
  sqlite3_free(err);
  REQUIRE(rc == SQLITE_OK);
  sqlite3_close(other);
}

// What the daemon does when a write reports damage: the outbox at `path`, with presses 1..n queued,
// closed and set aside. Returns where it went.
std::filesystem::path set_aside_while_running(const std::filesystem::path& path, int n) {
  Outbox box(path, 100, kFromOne);
  for (int i = 1; i <= n; ++i) REQUIRE(box.add(0, 1 + i % 4, 4, false, at(i)).ok());
  REQUIRE(box.close_and_move_aside(kSetClockMs).ok());
  return path.string() + ".corrupt-" + std::to_string(kSetClockMs);
}

}  // namespace

TEST_CASE("an outbox damaged while open says so as corruption, and the next start moves it aside") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  {
    Outbox box(path, 100, kFromOne);
    REQUIRE(box.add(0, 1, 4, false, at(1)).ok());
    CHECK_FALSE(box.corrupt());
    damage_presses_table(path);
    auto refused = box.add(1, 2, 4, false, at(2));
    REQUIRE_FALSE(refused.ok());
    CHECK(box.corrupt());
    CHECK_FALSE(box.pending_after(0, 10).ok());
    CHECK(box.corrupt());
  }
  Outbox restarted(path, 100, kFromOne);
  CHECK_FALSE(restarted.opening().corrupt_moved_to.empty());
  CHECK(std::filesystem::exists(restarted.opening().corrupt_moved_to));
  CHECK_FALSE(restarted.corrupt());
  CHECK(restarted.add(0, 1, 4, false, at(3)).ok());
}

TEST_CASE("an outbox damaged while open is closed and moved aside with its -wal at once, and the next start is a new outbox") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  auto aside = dir / ("outbox.db.corrupt-" + std::to_string(kSetClockMs));
  {
    Outbox box(path, 100, kFromOne);
    REQUIRE(box.add(0, 1, 4, false, at(1)).ok());
    damage_presses_table(path);
    REQUIRE_FALSE(box.add(1, 2, 4, false, at(2)).ok());
    REQUIRE(box.corrupt());
    auto moved = box.close_and_move_aside(kSetClockMs);
    REQUIRE(moved.ok());
    CHECK(*moved == aside);
    // Aside now, while this outbox still exists: not left for a start-up check that may miss it.
    CHECK(std::filesystem::exists(aside));
    CHECK_FALSE(std::filesystem::exists(path));
    CHECK_FALSE(std::filesystem::exists(dir / "outbox.db-wal"));
    CHECK(box.depth() == 0);
    // Closed for good: every operation is an error, nothing is written anywhere.
    CHECK_FALSE(box.add(2, 3, 4, false, at(3)).ok());
    CHECK_FALSE(box.pending_after(0, 10).ok());
    CHECK_FALSE(box.ack({1}).ok());
    CHECK(box.corrupt());
    CHECK_FALSE(std::filesystem::exists(path));
  }
  Outbox restarted(path, 100, kFromOne);
  CHECK(restarted.opening().corrupt_moved_to.empty());  // nothing left to move: a new file
  CHECK(restarted.depth() == 0);
  CHECK(restarted.add(0, 1, 4, false, at(4)).ok());
}

TEST_CASE("presses of an outbox the daemon set aside while running come back at the next start") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  const auto aside = set_aside_while_running(path, 3);
  CHECK(std::filesystem::exists(aside.string() + ".restore-pending"));
  Outbox restarted(path, 100, kFromOne);
  CHECK(restarted.opening().corrupt_moved_to.empty());
  CHECK(restarted.opening().restored_from_earlier == std::vector<OutboxOpening::Restored>{{aside, 3}});
  CHECK(restarted.opening().salvaged == 0);  // counted with the file it came from
  CHECK(seqs(*restarted.pending_after(0, 10)) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(restarted.next_seq() == 4);
  CHECK_FALSE(std::filesystem::exists(aside.string() + ".restore-pending"));
  CHECK(std::filesystem::exists(aside));  // kept for inspection
  // Once: the next start does not read them back again.
  REQUIRE(*restarted.ack({1, 2, 3}) == 3);
  Outbox again(path, 100, kFromOne);
  CHECK(again.opening().restored_from_earlier.empty());
  CHECK(again.depth() == 0);
}

TEST_CASE("a start-up that ended before it stored the presses it read back leaves them to the next, twice at most") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  {
    Outbox box(path, 100, kFromOne);
    for (int i = 1; i <= 3; ++i) REQUIRE(box.add(0, i, 4, false, at(i)).ok());
  }
  overwrite_byte(path, 3, 'X');
  // Where a start-up died: the file set aside and marked, one try begun, no new outbox yet.
  const auto aside = dir / "outbox.db.corrupt-5";
  std::filesystem::rename(path, aside);
  write_file(aside.string() + ".restore-pending", "1\n");
  {
    Outbox box(path, 100, kFromOne);
    CHECK(box.opening().restored_from_earlier == std::vector<OutboxOpening::Restored>{{aside, 3}});
    CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{1, 2, 3});
    CHECK_FALSE(std::filesystem::exists(aside.string() + ".restore-pending"));
  }
  // A salvage that ended the process twice is given up: the terminal starts, the file stays.
  const auto other = dir / "outbox.db.corrupt-6";
  std::filesystem::copy_file(aside, other);
  write_file(other.string() + ".restore-pending", "2\n");
  Outbox box(path, 100, kFromOne);
  REQUIRE(box.opening().restored_from_earlier.size() == 1);
  CHECK(box.opening().restored_from_earlier[0].from == other);
  CHECK(box.opening().restored_from_earlier[0].presses == 0);
  CHECK_THAT(box.opening().restored_from_earlier[0].error, Catch::StartsWith("gave up reading its presses back after 2 tries"));
  CHECK(box.opening().salvage_error.empty());  // this start set nothing aside
  // A marker that says nothing readable leaves one try; a count out of range is taken as the last.
  const auto garbled = dir / "outbox.db.corrupt-7";
  std::filesystem::copy_file(aside, garbled);
  write_file(garbled.string() + ".restore-pending", "");
  const auto negative = dir / "outbox.db.corrupt-8";
  std::filesystem::copy_file(aside, negative);
  write_file(negative.string() + ".restore-pending", "-1000\n");
  Outbox third(path, 100, kFromOne);
  CHECK(third.opening().restored_from_earlier ==
        std::vector<OutboxOpening::Restored>{{garbled, 0}, {negative, 0}});  // its presses were back already
  CHECK_FALSE(std::filesystem::exists(garbled.string() + ".restore-pending"));
  CHECK_FALSE(std::filesystem::exists(negative.string() + ".restore-pending"));
  CHECK_FALSE(std::filesystem::exists(other.string() + ".restore-pending"));
  CHECK(std::filesystem::exists(other));
  CHECK(box.depth() == 3);
}

TEST_CASE("presses that could not be read back (no room for the copy) are tried again at the next start") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  const auto aside = set_aside_while_running(path, 2);
  // Where the copy goes is taken (a folder with something in it): the copy fails, as on a full card.
  std::filesystem::create_directory(aside.string() + ".salvage");
  write_file(aside.string() + ".salvage/x", "x");
  {
    Outbox first(path, 100, kFromOne);
    REQUIRE(first.opening().restored_from_earlier.size() == 1);
    CHECK(first.opening().restored_from_earlier[0].presses == 0);
    CHECK_THAT(first.opening().restored_from_earlier[0].error,
               Catch::StartsWith("cannot copy it to read it") && Catch::EndsWith("(tried again at the next start, if tries are left)"));
    CHECK(first.depth() == 0);
    CHECK(std::filesystem::exists(aside.string() + ".restore-pending"));  // left for the next start
  }
  std::filesystem::remove_all(aside.string() + ".salvage");
  Outbox second(path, 100, kFromOne);
  CHECK(second.opening().restored_from_earlier == std::vector<OutboxOpening::Restored>{{aside, 2}});
  CHECK(second.depth() == 2);
}

TEST_CASE("a damaged outbox that cannot be moved aside stays where it is and refuses every operation") {
  kiosk::test::TempDir dir;
  // Its ".corrupt-<ms>" name would be longer than a file name may be (255 bytes): the rename fails
  // as it does on a card remounted read-only, also for root.
  auto path = dir / (std::string(237, 'o') + ".db");
  {
    Outbox box(path, 100, kFromOne);
    REQUIRE(box.add(0, 1, 4, false, at(1)).ok());
    damage_presses_table(path);
    REQUIRE_FALSE(box.add(1, 2, 4, false, at(2)).ok());
    auto moved = box.close_and_move_aside(kSetClockMs);
    REQUIRE_FALSE(moved.ok());
    CHECK(moved.error().message().find("cannot move " + path.string() + " aside") != std::string::npos);
    CHECK(std::filesystem::exists(path));
    CHECK(box.corrupt());
    CHECK_FALSE(box.add(2, 3, 4, false, at(3)).ok());
    CHECK_FALSE(box.pending_after(0, 10).ok());
    CHECK_FALSE(box.ack({1}).ok());
    CHECK_FALSE(box.close_and_move_aside(kSetClockMs).ok());  // tried again: same answer, no crash
  }
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    CHECK(entry.path().filename().string().find("corrupt") == std::string::npos);
  }
}

TEST_CASE("an outbox header that cannot be read is a start-up error, only other bytes mean not a database") {
  CHECK(classify_outbox_header(kSqliteHeader, false) == OutboxHeader::sqlite);
  CHECK(classify_outbox_header(std::string(16, 'x'), false) == OutboxHeader::not_sqlite);
  CHECK(classify_outbox_header("SQLite", false) == OutboxHeader::not_sqlite);  // a file shorter than the header
  // An I/O error part-way through the header, or before any byte: the file stays where it is.
  CHECK(classify_outbox_header("SQLite", true) == OutboxHeader::read_error);
  CHECK(classify_outbox_header("", true) == OutboxHeader::read_error);
  CHECK(classify_outbox_header(kSqliteHeader, true) == OutboxHeader::read_error);
}

TEST_CASE("an outbox file shorter than the SQLite header is moved aside, not taken for an I/O error") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  write_file(path, "SQLite");
  Outbox box(path, 100, OutboxStart{kSetClockMs, 0});
  CHECK(box.opening().corrupt_moved_to == dir / ("outbox.db.corrupt-" + std::to_string(kSetClockMs)));
  CHECK(read_file(box.opening().corrupt_moved_to) == "SQLite");
}

TEST_CASE("an outbox path whose header read fails (here EISDIR) is a start-up error and is not moved aside") {
  kiosk::test::TempDir dir;
  auto path = dir / "outbox.db";
  std::filesystem::create_directory(path);  // opens, but read(2) fails: an I/O error, not foreign bytes
  write_file(path / "keep", "queued presses");
  try {
    Outbox box(path, 100, OutboxStart{kSetClockMs, 0});
    FAIL("opened an outbox whose header could not be read");
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find("cannot read the header of outbox") != std::string::npos);
  }
  CHECK(read_file(path / "keep") == "queued presses");  // left where it was
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    CHECK(entry.path().filename().string().find("corrupt") == std::string::npos);
  }
}
