// The audit store: records survive a reopen and are found by id and time;
// close() commits everything queued; a full queue drops and counts instead
// of waiting; retention deletes old rows (clock injected); WAL mode is on;
// decisions are found by card reference and no PAN reaches the files.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>

#include "audit/reader.h"
#include "audit/sqlite.h"
#include "audit/store.h"
#include "crypto/card_ref.h"

namespace triad::audit {
namespace {

constexpr std::int64_t kNowMs = 1'795'680'000'000;  // 2026-11-26T08:00:00Z
constexpr std::int64_t kDayMs = 86'400'000;

class AuditTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "triad-audit-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    path_ = dir_ + "/audit.db";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  StoreOptions options() {
    StoreOptions o;
    o.now_ms = [this] { return now_ms_.load(); };
    return o;
  }

  static DecisionRow decision(std::uint64_t seq, std::int64_t at_ms = kNowMs) {
    DecisionRow d;
    d.seq = seq;
    d.id = "tx-" + std::to_string(seq);
    d.ts_ms = at_ms - 5;
    d.code = "00";
    d.agree = "ab";
    d.divergent = "c";
    d.latency_us = 700 + seq;
    d.certificate = {1, 2, 3, static_cast<std::uint8_t>(seq)};
    d.decided_at_ms = at_ms;
    return d;
  }

  // The decisions table's indexes, by name.
  static std::string index_names(sql::Db& db) {
    std::string text;
    EXPECT_TRUE(db.query_text("SELECT group_concat(name, ' ') FROM (SELECT name FROM "
                              "pragma_index_list('decisions') ORDER BY name)",
                              &text)
                    .is_ok());
    return text;
  }

  std::vector<DecisionRow> find(const std::string& id) {
    AuditReader reader;
    EXPECT_TRUE(AuditReader::open(path_, &reader).is_ok());
    std::vector<DecisionRow> rows;
    EXPECT_TRUE(reader.decisions_for_id(id, &rows).is_ok());
    return rows;
  }

  std::string dir_;
  std::string path_;
  std::atomic<std::int64_t> now_ms_{kNowMs};
};

TEST_F(AuditTest, RecordsSurviveReopenAndAreFoundByIdAndTime) {
  {
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, options(), &store).is_ok());
    EXPECT_EQ(store->run(), 1);
    EXPECT_TRUE(store->add(decision(1)));
    DecisionRow fail_safe = decision(2);
    fail_safe.code = "96";
    fail_safe.fail_safe = true;
    fail_safe.agree.clear();
    fail_safe.certificate.clear();
    EXPECT_TRUE(store->add(fail_safe));
    EXPECT_TRUE(store->add(DivergenceRow{1, 'c', "wrong_verdict", "observed code 05", kNowMs}));
    EXPECT_TRUE(store->add(
        RepairRow{'c', "healthy", "quarantined", "3 transient faults", "duplex", kNowMs}));
    EXPECT_TRUE(store->add(DivergenceRow{2, 'b', "missing", "", kNowMs - 2 * kDayMs}));
    ASSERT_TRUE(store->close().is_ok());
    EXPECT_EQ(store->counters().written, 5u);
  }
  {
    // A second run of the same --dir: seq 1 again, a new run number.
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, options(), &store).is_ok());
    EXPECT_EQ(store->run(), 2);
    EXPECT_TRUE(store->add(decision(1, kNowMs + 1000)));
    ASSERT_TRUE(store->close().is_ok());
  }
  const auto rows = find("tx-1");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].run, 2);  // newest first
  EXPECT_EQ(rows[1].run, 1);
  EXPECT_EQ(rows[1].seq, 1u);
  EXPECT_EQ(rows[1].ts_ms, kNowMs - 5);
  EXPECT_EQ(rows[1].code, "00");
  EXPECT_EQ(rows[1].agree, "ab");
  EXPECT_EQ(rows[1].divergent, "c");
  EXPECT_EQ(rows[1].latency_us, 701u);
  EXPECT_EQ(rows[1].certificate, (std::vector<std::uint8_t>{1, 2, 3, 1}));
  const auto safe = find("tx-2");
  ASSERT_EQ(safe.size(), 1u);
  EXPECT_TRUE(safe[0].fail_safe);
  EXPECT_TRUE(safe[0].certificate.empty());
  EXPECT_TRUE(find("tx-9").empty());

  AuditReader reader;
  ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
  std::vector<Event> events;
  ASSERT_TRUE(reader.events_since(kNowMs - kDayMs, &events).is_ok());
  ASSERT_EQ(events.size(), 2u);  // the divergence of two days ago is older
  ASSERT_TRUE(std::holds_alternative<DivergenceRow>(events[0]));
  EXPECT_EQ(std::get<DivergenceRow>(events[0]).replica, 'c');
  EXPECT_EQ(std::get<DivergenceRow>(events[0]).kind, "wrong_verdict");
  ASSERT_TRUE(std::holds_alternative<RepairRow>(events[1]));
  EXPECT_EQ(std::get<RepairRow>(events[1]).to_state, "quarantined");
  ASSERT_TRUE(reader.events_since(0, &events).is_ok());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(std::get<DivergenceRow>(events[0]).replica, 'b');  // time order
}

// What a restarted front end answers a journalled seq with when its replay
// cannot decide it again: the newest certified decision at that seq, in any
// run; a fail-safe one (no certificate) is not one.
TEST_F(AuditTest, TheCertificateAtASeqIsTheNewestCertifiedOne) {
  const auto run_with = [&](const std::vector<DecisionRow>& rows) {
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, options(), &store).is_ok());
    for (const DecisionRow& d : rows) EXPECT_TRUE(store->add(d));
    ASSERT_TRUE(store->close().is_ok());
  };
  DecisionRow later = decision(1);
  later.certificate = {9, 9};
  DecisionRow fail_safe = decision(1);
  fail_safe.code = "96";
  fail_safe.fail_safe = true;
  fail_safe.certificate.clear();
  run_with({decision(1), decision(2)});
  run_with({later});
  run_with({fail_safe});  // the newest run declined seq 1 fail-safe

  AuditReader reader;
  ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
  std::vector<std::uint8_t> certificate;
  ASSERT_TRUE(reader.certificate_at(1, &certificate).is_ok());
  EXPECT_EQ(certificate, later.certificate);
  ASSERT_TRUE(reader.certificate_at(2, &certificate).is_ok());
  EXPECT_EQ(certificate, decision(2).certificate);
  EXPECT_EQ(reader.certificate_at(3, &certificate).code(), Status::Code::kNotFound);
}

TEST_F(AuditTest, CloseCommitsEverythingQueuedInBatches) {
  StoreOptions o = options();
  o.batch_max_rows = 100;
  o.batch_interval_ms = 60'000;  // only full batches and close() commit
  std::unique_ptr<AuditStore> store;
  ASSERT_TRUE(AuditStore::open(path_, o, &store).is_ok());
  for (std::uint64_t seq = 1; seq <= 1050; ++seq) {
    // Fast enough that the writer is never waited on: nothing is dropped.
    ASSERT_TRUE(store->add(decision(seq)));
  }
  ASSERT_TRUE(store->close().is_ok());
  const auto c = store->counters();
  EXPECT_EQ(c.added, 1050u);
  EXPECT_EQ(c.written, 1050u);
  EXPECT_EQ(c.dropped, 0u);
  EXPECT_EQ(c.failed, 0u);
  EXPECT_GE(c.batches, 11u);  // never more than 100 rows per transaction
  EXPECT_EQ(find("tx-1050").size(), 1u);
  EXPECT_EQ(find("tx-1").size(), 1u);
}

TEST_F(AuditTest, FlushWaitsForTheCommit) {
  std::unique_ptr<AuditStore> store;
  StoreOptions o = options();
  o.batch_interval_ms = 60'000;
  ASSERT_TRUE(AuditStore::open(path_, o, &store).is_ok());
  EXPECT_TRUE(store->add(decision(7)));
  store->flush();
  // Visible to another connection while the writer still has it open (WAL).
  EXPECT_EQ(find("tx-7").size(), 1u);
}

TEST_F(AuditTest, AFullQueueDropsAndCountsWithoutWaiting) {
  StoreOptions o = options();
  o.queue_capacity = 4;
  o.batch_max_rows = 1000;        // more than the queue holds: only the timer
  o.batch_interval_ms = 600'000;  // or close() would wake the writer
  std::unique_ptr<AuditStore> store;
  ASSERT_TRUE(AuditStore::open(path_, o, &store).is_ok());
  const auto start = std::chrono::steady_clock::now();
  int accepted = 0;
  for (std::uint64_t seq = 1; seq <= 10; ++seq) accepted += store->add(decision(seq)) ? 1 : 0;
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  EXPECT_EQ(accepted, 4);
  EXPECT_EQ(store->counters().dropped, 6u);
  ASSERT_TRUE(store->close().is_ok());
  EXPECT_EQ(store->counters().written, 4u);
  EXPECT_EQ(find("tx-4").size(), 1u);
  EXPECT_TRUE(find("tx-5").empty());
}

TEST_F(AuditTest, RetentionDeletesOldRows) {
  StoreOptions o = options();
  o.retention_days = 7;
  o.retention_check_interval_ms = 3'600'000;
  std::unique_ptr<AuditStore> store;
  ASSERT_TRUE(AuditStore::open(path_, o, &store).is_ok());
  ASSERT_TRUE(store->add(decision(1, kNowMs - 8 * kDayMs)));
  ASSERT_TRUE(store->add(decision(2, kNowMs - 6 * kDayMs)));
  ASSERT_TRUE(store->add(DivergenceRow{1, 'a', "missing", "", kNowMs - 8 * kDayMs}));
  ASSERT_TRUE(
      store->add(RepairRow{'a', "healthy", "quarantined", "x", "duplex", kNowMs - 9 * kDayMs}));
  ASSERT_TRUE(store->add(RepairRow{'a', "rejoining", "healthy", "y", "tmr", kNowMs - kDayMs}));
  store->flush();
  // The first check may have run before these were written; a check is due
  // again once the interval has passed on the (injected) clock.
  now_ms_ += 3'600'000;
  store->flush();
  EXPECT_TRUE(find("tx-1").empty());
  EXPECT_EQ(find("tx-2").size(), 1u);
  AuditReader reader;
  ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
  std::vector<Event> events;
  ASSERT_TRUE(reader.events_since(0, &events).is_ok());
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<RepairRow>(events[0]).to_state, "healthy");
  EXPECT_EQ(store->counters().expired, 3u);

  // Within the interval nothing is checked again, however old.
  ASSERT_TRUE(store->add(decision(3, kNowMs - 30 * kDayMs)));
  store->flush();
  EXPECT_EQ(find("tx-3").size(), 1u);
  ASSERT_TRUE(store->close().is_ok());
}

TEST_F(AuditTest, RetentionZeroKeepsEverything) {
  std::unique_ptr<AuditStore> store;
  ASSERT_TRUE(AuditStore::open(path_, options(), &store).is_ok());
  ASSERT_TRUE(store->add(decision(1, kNowMs - 3650 * kDayMs)));
  ASSERT_TRUE(store->close().is_ok());
  EXPECT_EQ(find("tx-1").size(), 1u);
  EXPECT_EQ(store->counters().expired, 0u);
}

TEST_F(AuditTest, DatabaseIsInWalModeWithNormalSync) {
  std::unique_ptr<AuditStore> store;
  ASSERT_TRUE(AuditStore::open(path_, options(), &store).is_ok());
  sql::Db db;
  ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadOnly, &db).is_ok());
  std::string mode;
  ASSERT_TRUE(db.query_text("PRAGMA journal_mode", &mode).is_ok());
  EXPECT_EQ(mode, "wal");  // persistent in the file, seen by any connection
  EXPECT_TRUE(std::filesystem::exists(path_ + "-wal"));
  ASSERT_TRUE(store->close().is_ok());
}

TEST_F(AuditTest, AnIdDecidedTwiceInOneRunIsKeptTwice) {
  // The sequencer decides an id once per run; should two rows with one id
  // ever reach the store, neither is lost and a lookup shows both.
  std::unique_ptr<AuditStore> store;
  ASSERT_TRUE(AuditStore::open(path_, options(), &store).is_ok());
  ASSERT_TRUE(store->add(decision(1)));
  DecisionRow again = decision(2);
  again.id = "tx-1";
  ASSERT_TRUE(store->add(again));
  ASSERT_TRUE(store->add(decision(3)));
  ASSERT_TRUE(store->close().is_ok());
  EXPECT_EQ(store->counters().written, 3u);
  const auto rows = find("tx-1");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].seq, 2u);
  EXPECT_EQ(rows[1].seq, 1u);
}

TEST_F(AuditTest, DecisionsAreFoundByCardRef) {
  const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  const std::string pan_a = "4000001234567899";
  const std::string pan_b = "5100009876543210";
  {
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, options(), &store).is_ok());
    for (std::uint64_t seq = 1; seq <= 5; ++seq) {
      DecisionRow d = decision(seq, kNowMs + static_cast<std::int64_t>(seq));
      d.card_ref = crypto::card_ref(key, seq % 2 == 1 ? pan_a : pan_b);  // a: 1, 3, 5; b: 2, 4
      ASSERT_TRUE(store->add(std::move(d)));
    }
    ASSERT_TRUE(store->add(decision(6)));  // no PAN (a malformed line): no card ref
    ASSERT_TRUE(store->close().is_ok());
  }
  AuditReader reader;
  ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
  std::vector<DecisionRow> rows;
  ASSERT_TRUE(reader.decisions_for_card(crypto::card_ref(key, pan_a), 10, &rows).is_ok());
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows[0].seq, 5u);  // newest first
  EXPECT_EQ(rows[1].seq, 3u);
  EXPECT_EQ(rows[2].seq, 1u);
  EXPECT_EQ(rows[0].card_ref, crypto::card_ref(key, pan_a));
  ASSERT_TRUE(reader.decisions_for_card(crypto::card_ref(key, pan_b), 1, &rows).is_ok());
  ASSERT_EQ(rows.size(), 1u);  // the limit
  EXPECT_EQ(rows[0].seq, 4u);
  // Another key's reference of the same card finds nothing.
  ASSERT_TRUE(
      reader
          .decisions_for_card(crypto::card_ref(crypto::SymmetricKey::generate(), pan_a), 10, &rows)
          .is_ok());
  EXPECT_TRUE(rows.empty());
  // The decision without a card reference has none in the table.
  sql::Db db;
  ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadOnly, &db).is_ok());
  std::string nulls;
  ASSERT_TRUE(
      db.query_text("SELECT group_concat(seq) FROM decisions WHERE card_ref IS NULL", &nulls)
          .is_ok());
  EXPECT_EQ(nulls, "6");
}

TEST_F(AuditTest, AVersionOneStoreIsUpgradedInPlace) {
  {
    // The version 1 schema: decisions without card_ref.
    sql::Db db;
    ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kCreate, &db).is_ok());
    ASSERT_TRUE(db.exec("CREATE TABLE runs(run INTEGER PRIMARY KEY, started_at_ms INTEGER NOT "
                        "NULL);"
                        "CREATE TABLE decisions(run INTEGER NOT NULL, seq INTEGER NOT NULL, id "
                        "TEXT NOT NULL, ts_ms INTEGER NOT NULL, code TEXT NOT NULL, agree TEXT NOT "
                        "NULL, divergent TEXT NOT NULL, fail_safe INTEGER NOT NULL, latency_us "
                        "INTEGER NOT NULL, certificate BLOB, decided_at_ms INTEGER NOT NULL, "
                        "PRIMARY KEY(run, seq), UNIQUE(run, id));"
                        "CREATE INDEX decisions_by_id ON decisions(id);"
                        "INSERT INTO runs(started_at_ms) VALUES(1);"
                        "INSERT INTO decisions VALUES(1, 1, 'old-1', 1, '00', 'ab', '', 0, 5, "
                        "NULL, 1);"
                        "PRAGMA user_version=1")
                    .is_ok());
  }
  {
    // A reader of the old store says why a card lookup finds nothing.
    AuditReader reader;
    ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
    std::vector<DecisionRow> rows;
    const Status s = reader.decisions_for_card(std::string(32, 'a'), 10, &rows);
    EXPECT_EQ(s.code(), Status::Code::kNotFound);
    EXPECT_NE(s.message().find("predates card references"), std::string::npos) << s.to_string();
  }
  const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  {
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, options(), &store).is_ok());
    EXPECT_EQ(store->run(), 2);
    DecisionRow d = decision(1);
    d.card_ref = crypto::card_ref(key, "4000001234567899");
    ASSERT_TRUE(store->add(std::move(d)));
    ASSERT_TRUE(store->close().is_ok());
  }
  EXPECT_EQ(find("old-1").size(), 1u);  // kept, and found through the lookup tables
  {
    sql::Db db;
    ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadOnly, &db).is_ok());
    std::string text;
    ASSERT_TRUE(db.query_text("PRAGMA user_version", &text).is_ok());
    EXPECT_EQ(text, std::to_string(kSchemaVersion));
    EXPECT_EQ(index_names(db), "decisions_by_time sqlite_autoindex_decisions_1")
        << "the indexes on id and card are gone; (run, seq) and time remain";
  }
  AuditReader reader;
  ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
  std::vector<DecisionRow> rows;
  ASSERT_TRUE(
      reader.decisions_for_card(crypto::card_ref(key, "4000001234567899"), 10, &rows).is_ok());
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].run, 2);
}

// Small lookup tables, so that a few thousand decisions go through many
// written tables and several levels of merges.
StoreOptions small_lookup(StoreOptions o) {
  o.batch_max_rows = 64;
  o.lookup.run_entries = 100;
  o.lookup.fan_in = 3;
  o.lookup.merge_min_entries = 16;
  o.lookup.merge_per_entry = 8;
  return o;
}

std::int64_t count_of(sql::Db& db, const std::string& query) {
  std::string text;
  EXPECT_TRUE(db.query_text(query, &text).is_ok());
  return std::stoll(text);
}

TEST_F(AuditTest, LookupsMatchAReferenceThroughTableWritesAndMerges) {
  // A naive reference (every row kept in memory) against the store, read
  // while the writer runs and after, over three runs of the same --dir.
  const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  std::mt19937_64 random(20261203);
  std::map<std::string, std::vector<std::pair<std::int64_t, std::uint64_t>>> by_id;
  std::map<std::string, std::vector<std::pair<std::int64_t, std::uint64_t>>> by_card;
  const auto check = [&](AuditReader& reader) {
    std::vector<DecisionRow> rows;
    for (const auto& [id, want] : by_id) {
      ASSERT_TRUE(reader.decisions_for_id(id, &rows).is_ok());
      std::vector<std::pair<std::int64_t, std::uint64_t>> got;
      for (const DecisionRow& d : rows) got.emplace_back(d.run, d.seq);
      std::vector<std::pair<std::int64_t, std::uint64_t>> expected(want.rbegin(), want.rend());
      ASSERT_EQ(got, expected) << id;
    }
    for (const auto& [pan, want] : by_card) {
      // All of them, then the newest three only: newest first either way.
      for (const std::size_t limit : {std::size_t{1000}, std::size_t{3}}) {
        ASSERT_TRUE(reader.decisions_for_card(crypto::card_ref(key, pan), limit, &rows).is_ok());
        std::vector<std::pair<std::int64_t, std::uint64_t>> got;
        for (const DecisionRow& d : rows) got.emplace_back(d.run, d.seq);
        std::vector<std::pair<std::int64_t, std::uint64_t>> expected(want.rbegin(), want.rend());
        if (expected.size() > limit) expected.resize(limit);
        ASSERT_EQ(got, expected) << pan.substr(0, 6) << " limit " << limit;
      }
    }
  };
  for (std::int64_t run = 1; run <= 3; ++run) {
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, small_lookup(options()), &store).is_ok());
    ASSERT_EQ(store->run(), run);
    for (std::uint64_t seq = 1; seq <= 1500; ++seq) {
      // Ids in no order, some decided again in a later run; 40 cards.
      DecisionRow d = decision(seq, kNowMs + run * 10'000 + static_cast<std::int64_t>(seq));
      d.id = "id-" + std::to_string(random() % 3000);
      if (by_id.contains(d.id) && by_id[d.id].back().first == run) continue;  // once per run
      d.seq = seq;
      const std::string pan = std::to_string(4'100'000'000'000'000 + random() % 40);
      d.card_ref = crypto::card_ref(key, pan);
      by_id[d.id].emplace_back(run, seq);
      by_card[pan].emplace_back(run, seq);
      ASSERT_TRUE(store->add(std::move(d)));
      if (seq % 500 == 0) {
        // A reader while the writer runs: some decisions are in tables,
        // the newest only in `decisions`.
        store->flush();
        AuditReader reader;
        ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
        check(reader);
      }
    }
    ASSERT_TRUE(store->close().is_ok());
  }
  AuditReader reader;
  ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
  check(reader);
  EXPECT_TRUE(find("id-none").empty());

  sql::Db db;
  ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadOnly, &db).is_ok());
  // Merged: far fewer tables than were written (two entries a decision,
  // 100 a table), and every entry in exactly one listed table (a merge's
  // sources stay listed until its output replaces them).
  const std::int64_t decisions = count_of(db, "SELECT count(*) FROM decisions");
  EXPECT_LT(count_of(db, "SELECT count(*) FROM lookup_runs"), decisions * 2 / 100 / 4);
  EXPECT_EQ(count_of(db, "SELECT sum(entries) FROM lookup_runs"), decisions * 2);
  EXPECT_GE(count_of(db, "SELECT max(level) FROM lookup_runs"), 2);
  // No table left over: the listed ones and a merge's output in progress.
  EXPECT_EQ(count_of(db, "SELECT count(*) FROM sqlite_master WHERE name GLOB 'lookup_[0-9]*'"),
            count_of(db, "SELECT count(*) FROM lookup_runs") +
                count_of(db, "SELECT count(DISTINCT merging_into) FROM lookup_runs"));
}

TEST_F(AuditTest, DecisionsMissingFromTheLookupTablesAreAddedAtOpen) {
  // As after a crash: committed decisions whose entries were only in memory
  // (here: the tables and the mark removed by hand), and a merge's partial
  // output that no list names.
  {
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, small_lookup(options()), &store).is_ok());
    for (std::uint64_t seq = 1; seq <= 300; ++seq) ASSERT_TRUE(store->add(decision(seq)));
    ASSERT_TRUE(store->close().is_ok());
  }
  {
    sql::Db db;
    ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadWrite, &db).is_ok());
    sql::Stmt q;
    ASSERT_TRUE(sql::Stmt::prepare(db, "SELECT name FROM lookup_runs", &q).is_ok());
    std::vector<std::string> tables;
    for (bool row = false;;) {
      ASSERT_TRUE(q.step(&row).is_ok());
      if (!row) break;
      tables.push_back(q.column_text(0));
    }
    q = sql::Stmt();
    for (const std::string& t : tables) ASSERT_TRUE(db.exec("DROP TABLE " + t).is_ok());
    ASSERT_TRUE(db.exec("DELETE FROM lookup_runs; DELETE FROM lookup_state WHERE name GLOB "
                        "'through_*'; CREATE TABLE lookup_999(key INTEGER, run INTEGER, seq "
                        "INTEGER, PRIMARY KEY(key, run, seq)) WITHOUT ROWID")
                    .is_ok());
  }
  EXPECT_EQ(find("tx-150").size(), 1u) << "found in `decisions` directly meanwhile";
  std::unique_ptr<AuditStore> store;
  ASSERT_TRUE(AuditStore::open(path_, small_lookup(options()), &store).is_ok());
  ASSERT_TRUE(store->add(decision(1)));
  ASSERT_TRUE(store->close().is_ok());
  sql::Db db;
  ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadOnly, &db).is_ok());
  EXPECT_EQ(count_of(db, "SELECT count(*) FROM sqlite_master WHERE name = 'lookup_999'"), 0);
  EXPECT_EQ(count_of(db, "SELECT sum(entries) FROM lookup_runs"), 301);
  EXPECT_EQ(count_of(db, "SELECT value FROM lookup_state WHERE name = 'through_run'"), 2);
  for (const std::uint64_t seq : {1u, 150u, 300u}) {
    EXPECT_EQ(find("tx-" + std::to_string(seq)).size(), seq == 1 ? 2u : 1u) << seq;
  }
}

TEST_F(AuditTest, AMergeAStopInterruptedGoesOnWhereItsOutputEnds) {
  // Tables of 16 entries (two per transaction of 4 rows) merged two at a
  // time, one or two entries a turn: the first merge cannot finish before
  // close(), which leaves it marked.
  const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  StoreOptions slow = options();
  slow.batch_max_rows = 4;
  slow.lookup.run_entries = 10;
  slow.lookup.fan_in = 2;
  slow.lookup.merge_min_entries = 1;
  slow.lookup.merge_per_entry = 0;
  {
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, slow, &store).is_ok());
    for (std::uint64_t seq = 1; seq <= 40; ++seq) {
      DecisionRow d = decision(seq);
      d.card_ref = crypto::card_ref(key, std::to_string(4'100'000'000'000'000 + seq));
      ASSERT_TRUE(store->add(std::move(d)));
    }
    ASSERT_TRUE(store->close().is_ok());
  }
  // The merge in progress: its output's name and how much it holds.
  const auto merging = [&](std::int64_t* rows) {
    sql::Db db;
    EXPECT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadOnly, &db).is_ok());
    EXPECT_EQ(count_of(db, "SELECT count(*) FROM lookup_runs WHERE merging_into IS NOT NULL"), 2);
    std::string output;
    EXPECT_TRUE(db.query_text("SELECT merging_into FROM lookup_runs WHERE merging_into IS NOT "
                              "NULL LIMIT 1",
                              &output)
                    .is_ok());
    *rows = count_of(db, "SELECT count(*) FROM " + output);
    return output;
  };
  std::int64_t first_rows = 0;
  const std::string output = merging(&first_rows);
  EXPECT_GT(first_rows, 0) << "merged in part";
  EXPECT_EQ(find("tx-7").size(), 1u) << "the sources still serve lookups";
  {
    // One more turn (close's): the same output grows, it is not started over.
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, slow, &store).is_ok());
    ASSERT_TRUE(store->close().is_ok());
    std::int64_t rows = 0;
    EXPECT_EQ(merging(&rows), output);
    EXPECT_GT(rows, first_rows);
  }
  StoreOptions fast = slow;
  fast.lookup.merge_min_entries = 10'000;  // every merge due finishes in one turn
  std::unique_ptr<AuditStore> store;
  ASSERT_TRUE(AuditStore::open(path_, fast, &store).is_ok());
  ASSERT_TRUE(store->close().is_ok());
  sql::Db db;
  ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadOnly, &db).is_ok());
  EXPECT_EQ(count_of(db, "SELECT count(*) FROM lookup_runs WHERE merging_into IS NOT NULL"), 0);
  EXPECT_EQ(count_of(db,
                     "SELECT max(n) FROM (SELECT count(*) AS n FROM lookup_runs GROUP BY "
                     "level)"),
            1)
      << "fewer than fan_in tables left at every level";
  EXPECT_EQ(count_of(db, "SELECT sum(entries) FROM lookup_runs"), 80);
  for (std::uint64_t seq = 1; seq <= 40; ++seq) {
    ASSERT_EQ(find("tx-" + std::to_string(seq)).size(), 1u) << seq;
  }
}

TEST_F(AuditTest, ALookupTableNameThatIsNotOursIsRefused) {
  {
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, options(), &store).is_ok());
    ASSERT_TRUE(store->add(decision(1)));
    ASSERT_TRUE(store->close().is_ok());
  }
  {
    sql::Db db;
    ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadWrite, &db).is_ok());
    ASSERT_TRUE(
        db.exec(
              "INSERT INTO lookup_runs(name, level, entries) VALUES('decisions WHERE 1; --', 0, 1)")
            .is_ok());
  }
  AuditReader reader;
  ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
  std::vector<DecisionRow> rows;
  const Status s = reader.decisions_for_id("tx-1", &rows);
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("is not a lookup table name"), std::string::npos) << s.to_string();
}

TEST_F(AuditTest, ACardWhoseNewestEntriesLostTheirRowsIsStillFoundInOrder) {
  // Retention deletes rows by decision time; their lookup entries stay until
  // their table is merged. Here most of one card's decisions were decided
  // (as the clock said) long ago and expire, so the newest entries of each
  // table find no row and a lookup must read further back, without taking
  // an older table's row for the newest while a newer table still holds
  // unread entries.
  const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  const std::string pan = "4000001234567899";
  StoreOptions o = small_lookup(options());
  o.retention_days = 7;
  o.retention_check_interval_ms = 3'600'000;
  std::unique_ptr<AuditStore> store;
  ASSERT_TRUE(AuditStore::open(path_, o, &store).is_ok());
  const auto live = [](std::uint64_t seq) { return seq <= 5 || seq == 48 || seq == 75; };
  for (std::uint64_t seq = 1; seq <= 120; ++seq) {
    DecisionRow d = decision(seq, live(seq) ? kNowMs : kNowMs - 8 * kDayMs);
    d.card_ref = crypto::card_ref(key, pan);
    ASSERT_TRUE(store->add(std::move(d)));
  }
  store->flush();
  now_ms_ += 3'600'000;  // a retention check is due
  store->flush();
  ASSERT_TRUE(store->close().is_ok());
  {
    sql::Db db;
    ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadOnly, &db).is_ok());
    ASSERT_EQ(count_of(db, "SELECT count(*) FROM decisions"), 7);
    // The expired rows' entries are still in (two or more) tables.
    ASSERT_GE(count_of(db, "SELECT count(*) FROM lookup_runs"), 2);
    ASSERT_GE(count_of(db, "SELECT sum(entries) FROM lookup_runs"), 200);
  }
  AuditReader reader;
  ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
  std::vector<DecisionRow> rows;
  const std::vector<std::uint64_t> newest = {75, 48, 5, 4, 3, 2, 1};
  for (std::size_t limit = 1; limit <= newest.size() + 1; ++limit) {
    ASSERT_TRUE(reader.decisions_for_card(crypto::card_ref(key, pan), limit, &rows).is_ok());
    std::vector<std::uint64_t> got;
    for (const DecisionRow& d : rows) got.push_back(d.seq);
    const std::vector<std::uint64_t> expected(
        newest.begin(),
        newest.begin() + static_cast<std::ptrdiff_t>(std::min(limit, newest.size())));
    EXPECT_EQ(got, expected) << "limit " << limit;
  }
}

TEST_F(AuditTest, AVersionThreeStoreLosesItsRandomIndexesAndKeepsItsRows) {
  {
    sql::Db db;
    ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kCreate, &db).is_ok());
    ASSERT_TRUE(db.exec("CREATE TABLE runs(run INTEGER PRIMARY KEY, started_at_ms INTEGER NOT "
                        "NULL);"
                        "CREATE TABLE decisions(run INTEGER NOT NULL, seq INTEGER NOT NULL, id "
                        "TEXT NOT NULL, ts_ms INTEGER NOT NULL, code TEXT NOT NULL, agree TEXT NOT "
                        "NULL, divergent TEXT NOT NULL, fail_safe INTEGER NOT NULL, latency_us "
                        "INTEGER NOT NULL, certificate BLOB, decided_at_ms INTEGER NOT NULL, "
                        "card_ref TEXT, PRIMARY KEY(run, seq), UNIQUE(run, id));"
                        "CREATE INDEX decisions_by_card ON decisions(card_ref);"
                        "CREATE INDEX decisions_by_time ON decisions(decided_at_ms);"
                        "INSERT INTO runs(started_at_ms) VALUES(1);"
                        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < "
                        "400) INSERT INTO decisions SELECT 1, i, 'old-' || i, i, '00', 'ab', '', "
                        "0, 5, x'0102', i, 'ref-' || (i % 7) FROM n;"
                        "PRAGMA user_version=3")
                    .is_ok());
  }
  {
    // Before the upgrade, a reader uses the old indexes.
    AuditReader reader;
    ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
    std::vector<DecisionRow> rows;
    ASSERT_TRUE(reader.decisions_for_card("ref-3", 1000, &rows).is_ok());
    EXPECT_EQ(rows.size(), 57u);
    EXPECT_EQ(find("old-7").size(), 1u);
  }
  {
    std::unique_ptr<AuditStore> store;
    ASSERT_TRUE(AuditStore::open(path_, small_lookup(options()), &store).is_ok());
    EXPECT_EQ(store->run(), 2);
    ASSERT_TRUE(store->close().is_ok());
  }
  sql::Db db;
  ASSERT_TRUE(sql::Db::open(path_, sql::Db::Mode::kReadOnly, &db).is_ok());
  EXPECT_EQ(index_names(db), "decisions_by_time sqlite_autoindex_decisions_1");
  EXPECT_EQ(count_of(db, "SELECT count(*) FROM decisions"), 400);
  AuditReader reader;
  ASSERT_TRUE(AuditReader::open(path_, &reader).is_ok());
  std::vector<DecisionRow> rows;
  ASSERT_TRUE(reader.decisions_for_card("ref-3", 1000, &rows).is_ok());
  ASSERT_EQ(rows.size(), 57u);
  EXPECT_EQ(rows[0].seq, 395u);  // newest first
  const auto old = find("old-7");
  ASSERT_EQ(old.size(), 1u);
  EXPECT_EQ(old[0].certificate, (std::vector<std::uint8_t>{1, 2}));
}

TEST_F(AuditTest, ReaderErrorsNameTheCause) {
  AuditReader reader;
  Status s = AuditReader::open(path_, &reader);
  EXPECT_EQ(s.code(), Status::Code::kNotFound);
  EXPECT_NE(s.message().find(path_), std::string::npos);
  {
    std::FILE* f = std::fopen(path_.c_str(), "w");
    std::fputs("not a database, just text that is long enough to have a header\n", f);
    std::fclose(f);
  }
  s = AuditReader::open(path_, &reader);
  EXPECT_FALSE(s.is_ok());
  EXPECT_NE(s.message().find(path_), std::string::npos) << s.to_string();
}

TEST(ParseSince, AcceptsIsoUtcAndDurations) {
  std::int64_t t = 0;
  ASSERT_TRUE(parse_since("2026-11-26T08:00:00Z", 0, &t).is_ok());
  EXPECT_EQ(t, kNowMs);
  ASSERT_TRUE(parse_since("2026-11-26T08:00:00.25Z", 0, &t).is_ok());
  EXPECT_EQ(t, kNowMs + 250);
  ASSERT_TRUE(parse_since("10m", kNowMs, &t).is_ok());
  EXPECT_EQ(t, kNowMs - 600'000);
  ASSERT_TRUE(parse_since("2h", kNowMs, &t).is_ok());
  EXPECT_EQ(t, kNowMs - 7'200'000);
  ASSERT_TRUE(parse_since("1d", kNowMs, &t).is_ok());
  EXPECT_EQ(t, kNowMs - kDayMs);
  ASSERT_TRUE(parse_since("30s", kNowMs, &t).is_ok());
  EXPECT_EQ(t, kNowMs - 30'000);
  for (const char* bad :
       {"", "yesterday", "10", "10y", "0m", "-1h", "2026-11-26T08:00:00", "2026-11-26 08:00:00Z",
        "2026-02-31T08:00:00Z", "2026-13-01T00:00:00Z", "2026-11-26T08:00:00+01:00", "1h "}) {
    const Status s = parse_since(bad, kNowMs, &t);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << bad;
    EXPECT_NE(s.message().find("2026-11-26T08:00:00Z"), std::string::npos) << bad;
  }
}

TEST(FormatUtc, Milliseconds) {
  EXPECT_EQ(format_utc_ms(kNowMs + 123), "2026-11-26T08:00:00.123Z");
  EXPECT_EQ(format_utc_ms(0), "1970-01-01T00:00:00.000Z");
}

}  // namespace
}  // namespace triad::audit
