// The SQLite outbox in a temp dir: seq persistence, order, ack, bound with drop counter.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "kiosk/firmware/outbox.hpp"
#include "kiosk_test.hpp"

using namespace kiosk::firmware;

namespace {

PressTime at(std::int64_t ms) { return PressTime{"boot", ms * 1'000'000, ms}; }

std::vector<std::uint64_t> seqs(const std::vector<StoredPress>& presses) {
  std::vector<std::uint64_t> out;
  for (const auto& p : presses) out.push_back(p.press.seq);
  return out;
}

}  // namespace

TEST_CASE("presses get increasing seqs starting at 1 and come back in order with their data") {
  kiosk::test::TempDir dir;
  Outbox box(dir / "outbox.db", 100);
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
    Outbox box(dir / "outbox.db", 100);
    for (int i = 0; i < 5; ++i) REQUIRE(box.add(0, 1, 4, false, at(i)).ok());
    REQUIRE(*box.ack({1, 2, 3, 4, 5}) == 5);
    CHECK(box.depth() == 0);
  }
  Outbox box(dir / "outbox.db", 100);
  CHECK(box.next_seq() == 6);
  CHECK(box.add(1, 2, 4, false, at(9))->press.seq == 6);
}

TEST_CASE("an ack deletes exactly the named presses and tolerates unknown seqs") {
  kiosk::test::TempDir dir;
  Outbox box(dir / "outbox.db", 100);
  for (int i = 0; i < 5; ++i) REQUIRE(box.add(0, 1, 4, false, at(i)).ok());
  CHECK(*box.ack({2, 4, 99}) == 2);
  CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{1, 3, 5});
  CHECK(*box.ack({2}) == 0);  // a duplicate ack is harmless
  CHECK(box.depth() == 3);
}

TEST_CASE("a full outbox drops the oldest press and counts it, persistently") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 3);
    for (int i = 0; i < 5; ++i) REQUIRE(box.add(0, 1, 4, false, at(i)).ok());
    CHECK(box.depth() == 3);
    CHECK(box.dropped() == 2);
    CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{3, 4, 5});
  }
  Outbox box(dir / "outbox.db", 3);
  CHECK(box.dropped() == 2);
  CHECK(box.depth() == 3);
  CHECK(box.add(0, 1, 4, false, at(9))->press.seq == 6);
}

TEST_CASE("unacknowledged presses survive reopening the outbox") {
  kiosk::test::TempDir dir;
  {
    Outbox box(dir / "outbox.db", 100);
    for (int i = 0; i < 3; ++i) REQUIRE(box.add(i, i + 1, 4, false, at(i)).ok());
  }
  Outbox box(dir / "outbox.db", 100);
  auto pending = box.pending_after(0, 10);
  REQUIRE(pending->size() == 3);
  CHECK((*pending)[2].press.rating == 3);
}

TEST_CASE("an outbox that cannot be opened is a start-up error") {
  kiosk::test::TempDir dir;
  CHECK_THROWS(Outbox(dir / "missing-dir" / "outbox.db", 100));
}

TEST_CASE("a press that cannot be written is refused without using a seq, and the next one is stored") {
  kiosk::test::TempDir dir;
  Outbox box(dir / "outbox.db", 100, std::chrono::milliseconds(0));
  REQUIRE(box.add(0, 1, 4, false, at(1)).ok());
  sqlite3* other = nullptr;
  REQUIRE(sqlite3_open((dir / "outbox.db").c_str(), &other) == SQLITE_OK);
  REQUIRE(sqlite3_exec(other, "BEGIN EXCLUSIVE", nullptr, nullptr, nullptr) == SQLITE_OK);  // the disk "fails"
  auto refused = box.add(1, 2, 4, false, at(2));
  CHECK_FALSE(refused.ok());
  CHECK(refused.error().field == "outbox");
  CHECK(box.depth() == 1);
  sqlite3_exec(other, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(other);
  auto stored = box.add(1, 2, 4, false, at(3));
  REQUIRE(stored.ok());
  CHECK(stored->press.seq == 2);
  CHECK(seqs(*box.pending_after(0, 10)) == std::vector<std::uint64_t>{1, 2});
}
