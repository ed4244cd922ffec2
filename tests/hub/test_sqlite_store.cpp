// The SQLite store: migrations (idempotent, upgrade from v1), idempotent group commit, queries.
#include <catch2/catch.hpp>

#include "kiosk/hub/clock.hpp"
#include "kiosk/hub/sqlite_store.hpp"
#include "kiosk_test.hpp"
#include "press_commit.hpp"

using namespace kiosk::hub;

namespace {
PressRecord row(const std::string& device, std::uint64_t seq, std::int64_t at_ms, const std::string& location = "desk") {
  return PressRecord{device, seq, location, 0, 3, 4, {}, at_ms, at_ms + 10};
}
int count_tables(Database& db) {
  Statement s(db, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'");
  s.step();
  return static_cast<int>(s.column_int(0));
}
}  // namespace

TEST_CASE("migrations bring a new database to the latest version and applying them twice is a no-op") {
  kiosk::test::TempDir dir;
  Database db((dir / "a.db").string());
  migrate(db);
  CHECK(schema_version(db) == latest_schema_version());
  int tables = count_tables(db);
  migrate(db);
  CHECK(schema_version(db) == latest_schema_version());
  CHECK(count_tables(db) == tables);
}

TEST_CASE("a version 1 database is upgraded in place and keeps its presses") {
  kiosk::test::TempDir dir;
  auto path = (dir / "v1.db").string();
  {
    Database db(path);
    migrate(db, 1);
    REQUIRE(schema_version(db) == 1);
    db.exec_or_throw(
        "INSERT INTO presses (site, device, seq, location, button, rating, scale, pressed_at_ms, received_at_ms) "
        "VALUES ('s', 'd1', 1, 'desk', 0, 1, 4, 1000, 1000)");
  }
  SqliteStore store(path, "s");
  CHECK(schema_version(store.database()) == latest_schema_version());
  CHECK(store.press_count() == 1);
  Statement alerts(store.database(), "SELECT COUNT(*) FROM alerts");
  CHECK(alerts.step());
}

TEST_CASE("a database from a newer hub is refused") {
  kiosk::test::TempDir dir;
  auto path = (dir / "new.db").string();
  {
    Database db(path);
    migrate(db);
    db.exec_or_throw("UPDATE schema_version SET version = 999");
  }
  CHECK_THROWS_AS(SqliteStore(path, "s"), StoreError);
}

TEST_CASE("the store runs in WAL mode with full synchronous commits") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "w.db").string(), "s");
  Statement mode(store.database(), "PRAGMA journal_mode");
  REQUIRE(mode.step());
  CHECK(mode.column_text(0) == "wal");
  Statement sync(store.database(), "PRAGMA synchronous");
  REQUIRE(sync.step());
  CHECK(sync.column_int(0) == 2);  // FULL
}

TEST_CASE("committing the same press twice stores it once") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "p.db").string(), "s");
  std::vector<bool> inserted;
  REQUIRE_FALSE(kiosk::test::commit_presses(store, {row("d1", 1, 1000), row("d1", 2, 2000), row("d1", 1, 1000)}, inserted));
  CHECK(inserted == std::vector<bool>{true, true, false});
  REQUIRE_FALSE(kiosk::test::commit_presses(store, {row("d1", 2, 2000), row("d2", 2, 3000)}, inserted));
  CHECK(inserted == std::vector<bool>{false, true});
  CHECK(store.press_count() == 3);
}

TEST_CASE("a re-sent press leaves no read open: the WAL can be checkpointed and another writer does not lock the hub out") {
  // The duplicate check reads the stored copy; a read left on its row held a read transaction
  // from the first re-send on, so the WAL grew until the card was full, and after any other
  // process wrote (sqlite3 during maintenance) every commit failed with "database is locked".
  kiosk::test::TempDir dir;
  const auto path = (dir / "r.db").string();
  SqliteStore store(path, "s");
  std::vector<bool> inserted;
  REQUIRE_FALSE(kiosk::test::commit_presses(store, {row("d1", 1, 1000)}, inserted));
  REQUIRE_FALSE(kiosk::test::commit_presses(store, {row("d1", 1, 1000)}, inserted));  // the re-send
  REQUIRE(inserted == std::vector<bool>{false});

  Database other(path);
  {
    Statement checkpoint(other, "PRAGMA wal_checkpoint(TRUNCATE)");
    REQUIRE(checkpoint.step());
    CHECK(checkpoint.column_int(0) == 0);  // busy: 0, no reader holds the WAL
  }
  other.exec_or_throw("CREATE TABLE maintenance_note (text TEXT)");
  auto error = kiosk::test::commit_presses(store, {row("d1", 2, 2000)}, inserted);
  CHECK(error.value_or("") == "");
  CHECK(store.press_count() == 2);
}

TEST_CASE("a re-sent press dated earlier than the stored copy corrects its time; a later one does not") {
  // The first copy waited in the broker while the hub was down: its receive time - age_ms is late.
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "t.db").string(), "s");
  std::vector<bool> inserted;
  REQUIRE_FALSE(kiosk::test::commit_presses(store, {row("d1", 1, 50'000)}, inserted));
  REQUIRE_FALSE(kiosk::test::commit_presses(store, {row("d1", 1, 20'000), row("d1", 1, 30'000)}, inserted));
  CHECK(inserted == std::vector<bool>{false, false});
  auto stored = store.presses({});
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].pressed_at_ms == 20'000);
  CHECK(stored[0].received_at_ms == 50'010);  // when the hub first had it
}

TEST_CASE("one device's recent presses are read from its own index, not by walking every press newest first") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "plan.db").string(), "s");
  const auto plan = [&](const PressQuery& q) {
    Statement s(store.database(), "EXPLAIN QUERY PLAN " + presses_sql(q));
    std::string text;
    while (s.step()) text += s.column_text(3) + "\n";
    return text;
  };
  CHECK_THAT(plan(PressQuery{.device = "d1"}), Catch::Contains("(site=? AND device=?)"));
  CHECK_THAT(plan(PressQuery{.device = "d1", .since = from_ms(1000)}), Catch::Contains("(site=? AND device=?)"));
  CHECK_THAT(plan(PressQuery{}), Catch::Contains("presses_by_time"));
}

TEST_CASE("recent presses are listed newest first with filters") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "q.db").string(), "s");
  std::vector<bool> inserted;
  REQUIRE_FALSE(kiosk::test::commit_presses(store, 
      {row("d1", 1, 1000, "desk"), row("d1", 2, 3000, "desk"), row("d2", 1, 2000, "bar")}, inserted));
  auto all = store.presses({});
  REQUIRE(all.size() == 3);
  CHECK(all[0].pressed_at_ms == 3000);
  CHECK(all[2].pressed_at_ms == 1000);
  CHECK(store.presses(PressQuery{.device = "d2"}).size() == 1);
  CHECK(store.presses(PressQuery{.location = "desk"}).size() == 2);
  CHECK(store.presses(PressQuery{.since = from_ms(2000)}).size() == 2);
  CHECK(store.presses(PressQuery{.limit = 1}).size() == 1);
}

TEST_CASE("devices, locations, unknown devices and reject counters survive a reopen") {
  kiosk::test::TempDir dir;
  auto path = (dir / "r.db").string();
  {
    SqliteStore store(path, "s");
    REQUIRE_FALSE(store.save_location({"desk", "Front desk"}));
    DeviceRecord d{.id = "d1", .location = "desk", .board = "sim"};
    d.state = Liveness::online;
    d.last_seen = from_ms(5000);
    d.queued = 3;
    REQUIRE_FALSE(store.save_device(d));
    UnknownDevice u{"zz", from_ms(1000), from_ms(2000), 4, "unknown_device"};
    REQUIRE_FALSE(store.save_runtime({}, {u}, {{"bad_json", 2}}));
  }
  SqliteStore store(path, "s");
  auto locations = store.load_locations();
  REQUIRE(locations.size() == 1);
  CHECK(locations[0].name == "Front desk");
  auto devices = store.load_devices();
  REQUIRE(devices.size() == 1);
  CHECK(devices[0].location == "desk");
  CHECK(devices[0].board == "sim");
  CHECK(devices[0].state == Liveness::online);
  CHECK(devices[0].last_seen == from_ms(5000));
  CHECK(devices[0].queued == 3u);
  auto unknown = store.load_unknown_devices();
  REQUIRE(unknown.size() == 1);
  CHECK(unknown[0].count == 4);
  CHECK(store.load_rejected().at("bad_json") == 2);
}

namespace {
PressRecord rated(const std::string& device, std::uint64_t seq, int rating, std::int64_t at_ms,
                  const std::string& location = "desk") {
  auto r = row(device, seq, at_ms, location);
  r.rating = rating;
  return r;
}
std::int64_t conflict_rows(Database& db, const std::string& where = "1") {
  Statement s(db, "SELECT COUNT(*) FROM press_conflicts WHERE " + where);
  REQUIRE(s.step());
  return s.column_int(0);
}
std::vector<PressFate> fates(const std::vector<PressOutcome>& outcomes) {
  std::vector<PressFate> out;
  for (const auto& o : outcomes) out.push_back(o.fate);
  return out;
}
}  // namespace

TEST_CASE("a re-sent press with the same button, rating and scale is a duplicate even from another location") {
  // A terminal moved to another location between the first copy and its re-send: still one press.
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "d.db").string(), "s");
  std::vector<PressOutcome> outcomes;
  REQUIRE_FALSE(store.commit_presses({rated("d1", 1, 2, 50'000, "desk")}, outcomes));
  CHECK(fates(outcomes) == std::vector<PressFate>{PressFate::stored});
  auto resent = rated("d1", 1, 2, 40'000, "bar");
  resent.flags = {"repeat"};
  REQUIRE_FALSE(store.commit_presses({resent}, outcomes));
  CHECK(fates(outcomes) == std::vector<PressFate>{PressFate::duplicate});
  CHECK(conflict_rows(store.database()) == 0);
  auto stored = store.presses({});
  REQUIRE(stored.size() == 1);
  CHECK(stored[0].location == "desk");
  CHECK(stored[0].pressed_at_ms == 40'000);  // the earlier estimate, as for any re-send
}

TEST_CASE("a press whose nonce differs from the stored one under its seq is taken: not stored, with the device's "
          "next free seq") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "n.db").string(), "s");
  std::vector<PressOutcome> outcomes;
  auto named = [](std::uint64_t seq, int rating, std::string nonce) {
    auto r = rated("d1", seq, rating, 50'000);
    r.nonce = std::move(nonce);
    return r;
  };
  REQUIRE_FALSE(store.commit_presses({named(5, 2, "aaaaaaaaaaaaaaaa"), named(9, 1, "bbbbbbbbbbbbbbbb"),
                                      rated("d2", 40, 1, 50'000)},
                                     outcomes));
  // The same press again (same nonce); another press with the same rating, and one with another
  // rating, under used seqs; a press without a nonce under a used seq is judged as before.
  REQUIRE_FALSE(store.commit_presses({named(5, 2, "aaaaaaaaaaaaaaaa"), named(5, 2, "cccccccccccccccc"),
                                      named(9, 4, "dddddddddddddddd"), rated("d1", 9, 1, 60'000)},
                                     outcomes));
  CHECK(fates(outcomes) ==
        std::vector<PressFate>{PressFate::duplicate, PressFate::taken, PressFate::taken, PressFate::duplicate});
  CHECK(outcomes[1].next_free_seq == 10);  // d1's highest stored seq + 1 (d2's do not count)
  CHECK(outcomes[2].next_free_seq == 10);
  CHECK(conflict_rows(store.database()) == 0);
  CHECK(store.press_count() == 3);
  // Renumbered by the device, they are stored like any press.
  REQUIRE_FALSE(store.commit_presses({named(10, 2, "cccccccccccccccc"), named(11, 4, "dddddddddddddddd")}, outcomes));
  CHECK(fates(outcomes) == std::vector<PressFate>{PressFate::stored, PressFate::stored});
  CHECK(store.press_count() == 5);
  // The device lost that renumbering (and the delete after its ack) and sends one of them under
  // its old seq again: stored already under another seq, so a re-send, not taken again.
  REQUIRE_FALSE(store.commit_presses({named(5, 2, "cccccccccccccccc")}, outcomes));
  CHECK(fates(outcomes) == std::vector<PressFate>{PressFate::duplicate});
  CHECK(store.press_count() == 5);
}

TEST_CASE("a different press under a used seq is a conflict, kept once in press_conflicts, the stored press untouched") {
  kiosk::test::TempDir dir;
  SqliteStore store((dir / "c.db").string(), "s");
  std::vector<PressOutcome> outcomes;
  REQUIRE_FALSE(store.commit_presses({rated("d1", 5, 1, 50'000), rated("d2", 5, 1, 50'000)}, outcomes));

  // The reset terminal's new press, and in the same batch its re-send (the first ack was lost).
  REQUIRE_FALSE(store.commit_presses({rated("d1", 5, 4, 90'000, "bar"), rated("d1", 5, 4, 80'000, "bar")}, outcomes));
  CHECK(fates(outcomes) == std::vector<PressFate>{PressFate::conflict, PressFate::duplicate});
  CHECK(outcomes[0].stored_rating == 1);
  CHECK(outcomes[0].stored_scale == 4);
  CHECK(outcomes[0].stored_button == 0);
  // Sent once more later: still stored once.
  REQUIRE_FALSE(store.commit_presses({rated("d1", 5, 4, 95'000, "bar")}, outcomes));
  CHECK(fates(outcomes) == std::vector<PressFate>{PressFate::duplicate});
  CHECK(conflict_rows(store.database()) == 1);
  CHECK(conflict_rows(store.database(),
                      "site = 's' AND device = 'd1' AND seq = 5 AND rating = 4 AND scale = 4 AND button = 0 AND "
                      "location = 'bar' AND pressed_at_ms = 90000 AND received_at_ms = 90010") == 1);

  // A third, different press under the same seq is another conflict; another button too.
  auto other_button = rated("d1", 5, 1, 99'000);
  other_button.button = 2;
  REQUIRE_FALSE(store.commit_presses({rated("d1", 5, 3, 98'000), other_button}, outcomes));
  CHECK(fates(outcomes) == std::vector<PressFate>{PressFate::conflict, PressFate::conflict});
  CHECK(conflict_rows(store.database()) == 3);

  // The presses table, and so the report, keeps the first press as it was.
  CHECK(store.press_count() == 2);
  auto d1 = store.presses(PressQuery{.device = "d1"});
  REQUIRE(d1.size() == 1);
  CHECK(d1[0].rating == 1);
  CHECK(d1[0].pressed_at_ms == 50'000);
  CHECK(d1[0].location == "desk");

}

TEST_CASE("a database created before press_conflicts existed opens, keeps its presses and keeps conflicts") {
  kiosk::test::TempDir dir;
  auto path = (dir / "v4.db").string();
  {
    Database db(path);
    migrate(db, 4);
    db.exec_or_throw(
        "INSERT INTO presses (site, device, seq, location, button, rating, scale, pressed_at_ms, received_at_ms) "
        "VALUES ('s', 'd1', 1, 'desk', 0, 1, 4, 1000, 1000)");
    Statement t(db, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'press_conflicts'");
    REQUIRE(t.step());
    REQUIRE(t.column_int(0) == 0);
  }
  {
    SqliteStore store(path, "s");
    CHECK(schema_version(store.database()) == latest_schema_version());
    CHECK(store.press_count() == 1);
    std::vector<PressOutcome> outcomes;
    REQUIRE_FALSE(store.commit_presses({rated("d1", 1, 4, 2000)}, outcomes));
    CHECK(fates(outcomes) == std::vector<PressFate>{PressFate::conflict});
  }
  SqliteStore reopened(path, "s");
  CHECK(conflict_rows(reopened.database()) == 1);
  CHECK(reopened.press_count() == 1);
}
