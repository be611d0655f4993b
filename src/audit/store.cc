#include "audit/store.h"

#include <chrono>
#include <optional>

#include "audit/lookup.h"
#include "audit/sqlite.h"
#include "common/assert.h"
#include "common/log.h"
#include "common/thread_name.h"

namespace triad::audit {
namespace {

constexpr std::int64_t kMsPerDay = 86'400'000;

// Decisions are looked up by id and by card through the lookup tables
// (audit/lookup.h), expired by time; divergences and repairs are listed by
// time (`triad audit --since`). No index on a key in no particular order:
// each would cost a row a page written at a random place in a large store.
constexpr const char* kDecisionsColumns = R"sql((
  run INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  id TEXT NOT NULL,
  ts_ms INTEGER NOT NULL,
  code TEXT NOT NULL,
  agree TEXT NOT NULL,
  divergent TEXT NOT NULL,
  fail_safe INTEGER NOT NULL,
  latency_us INTEGER NOT NULL,
  certificate BLOB,
  decided_at_ms INTEGER NOT NULL,
  card_ref TEXT,
  PRIMARY KEY(run, seq));
)sql";
constexpr const char* kColumnNames =
    "run, seq, id, ts_ms, code, agree, divergent, fail_safe, latency_us, certificate, "
    "decided_at_ms, card_ref";

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS runs(
  run INTEGER PRIMARY KEY,
  started_at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS decisions_by_time ON decisions(decided_at_ms);
CREATE TABLE IF NOT EXISTS divergences(
  run INTEGER NOT NULL,
  seq INTEGER NOT NULL,
  replica TEXT NOT NULL,
  kind TEXT NOT NULL,
  evidence TEXT NOT NULL,
  at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS divergences_by_time ON divergences(at_ms);
CREATE TABLE IF NOT EXISTS repairs(
  run INTEGER NOT NULL,
  replica TEXT NOT NULL,
  from_state TEXT NOT NULL,
  to_state TEXT NOT NULL,
  reason TEXT NOT NULL,
  mode TEXT NOT NULL,
  at_ms INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS repairs_by_time ON repairs(at_ms);
)sql";

std::int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::int64_t to_int64(std::uint64_t value) {
  TRIAD_ASSERT(value <= static_cast<std::uint64_t>(INT64_MAX));
  return static_cast<std::int64_t>(value);
}

}  // namespace

// Owned by the writer thread once it runs (and by open() before that).
struct AuditStore::Writer {
  sql::Db db;
  std::unique_ptr<lookup::Writer> lookup;  // after db: it refers to it
  sql::Stmt begin, commit, rollback;
  sql::Stmt insert_decision, insert_divergence, insert_repair;
  sql::Stmt expire_decisions, expire_divergences, expire_repairs;
  std::optional<std::int64_t> last_retention_ms;
  std::uint64_t dropped_reported = 0;
  std::optional<std::chrono::steady_clock::time_point> last_drop_warning;
  std::chrono::steady_clock::time_point last_failure_log{};

  Status prepare() {
    TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(db, "BEGIN", &begin));
    TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(db, "COMMIT", &commit));
    TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(db, "ROLLBACK", &rollback));
    TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(
        db,
        std::string("INSERT INTO decisions(") + kColumnNames + ") VALUES(?,?,?,?,?,?,?,?,?,?,?,?)",
        &insert_decision));
    TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(
        db, "INSERT INTO divergences(run, seq, replica, kind, evidence, at_ms) VALUES(?,?,?,?,?,?)",
        &insert_divergence));
    TRIAD_RETURN_IF_ERROR(sql::Stmt::prepare(
        db,
        "INSERT INTO repairs(run, replica, from_state, to_state, reason, mode, at_ms) "
        "VALUES(?,?,?,?,?,?,?)",
        &insert_repair));
    TRIAD_RETURN_IF_ERROR(
        sql::Stmt::prepare(db, "DELETE FROM decisions WHERE decided_at_ms < ?", &expire_decisions));
    TRIAD_RETURN_IF_ERROR(
        sql::Stmt::prepare(db, "DELETE FROM divergences WHERE at_ms < ?", &expire_divergences));
    TRIAD_RETURN_IF_ERROR(
        sql::Stmt::prepare(db, "DELETE FROM repairs WHERE at_ms < ?", &expire_repairs));
    return Status::ok();
  }

  Status insert(std::int64_t run, const Record& record) {
    if (const auto* d = std::get_if<DecisionRow>(&record)) {
      sql::Stmt& s = insert_decision;
      s.bind(1, run);
      s.bind(2, to_int64(d->seq));
      s.bind(3, d->id);
      s.bind(4, d->ts_ms);
      s.bind(5, d->code);
      s.bind(6, d->agree);
      s.bind(7, d->divergent);
      s.bind(8, std::int64_t{d->fail_safe ? 1 : 0});
      s.bind(9, to_int64(d->latency_us));
      s.bind_blob(10, d->certificate);
      s.bind(11, d->decided_at_ms);
      if (d->card_ref.empty()) {
        s.bind_null(12);
      } else {
        s.bind(12, d->card_ref);
      }
      TRIAD_RETURN_IF_ERROR(s.run());
      lookup->add(run, to_int64(d->seq), d->id, d->card_ref);
      return Status::ok();
    }
    if (const auto* v = std::get_if<DivergenceRow>(&record)) {
      sql::Stmt& s = insert_divergence;
      s.bind(1, run);
      s.bind(2, to_int64(v->seq));
      s.bind(3, std::string_view(&v->replica, 1));
      s.bind(4, v->kind);
      s.bind(5, v->evidence);
      s.bind(6, v->at_ms);
      return s.run();
    }
    const auto& r = std::get<RepairRow>(record);
    sql::Stmt& s = insert_repair;
    s.bind(1, run);
    s.bind(2, std::string_view(&r.replica, 1));
    s.bind(3, r.from_state);
    s.bind(4, r.to_state);
    s.bind(5, r.reason);
    s.bind(6, r.mode);
    s.bind(7, r.at_ms);
    return s.run();
  }
};

Status AuditStore::open(const std::string& path, StoreOptions options,
                        std::unique_ptr<AuditStore>* out) {
  TRIAD_ASSERT(options.queue_capacity > 0 && options.batch_max_rows > 0);
  if (!options.now_ms) options.now_ms = system_now_ms;
  auto writer = std::make_unique<Writer>();
  TRIAD_RETURN_IF_ERROR(sql::Db::open(path, sql::Db::Mode::kCreate, &writer->db));
  sql::Db& db = writer->db;
  // A reader (`triad audit`) may hold the database briefly; wait, not fail.
  TRIAD_RETURN_IF_ERROR(db.exec("PRAGMA busy_timeout=5000"));
  std::string mode;
  TRIAD_RETURN_IF_ERROR(db.query_text("PRAGMA journal_mode=WAL", &mode));
  if (mode != "wal") {
    return Status::io_error(path + ": cannot switch to WAL mode (journal mode is " + mode + ")");
  }
  TRIAD_RETURN_IF_ERROR(db.exec("PRAGMA synchronous=NORMAL"));
  // SQLite's default page cache (2 MiB): every write lands at the end of a
  // table, so few pages are hot. 64 MiB was worth 18-37% of a row's CPU while
  // decisions had indexes on id and card; with lookup tables it cost 3-45%
  // more per row (BM_AuditStoreWrite, two alternating runs, 2026-12-03).
  std::string version;
  TRIAD_RETURN_IF_ERROR(db.query_text("PRAGMA user_version", &version));
  if (std::stoi(version) > kSchemaVersion) {
    return Status::invalid_argument(path + " has audit schema version " + version +
                                    ", newer than this program's " +
                                    std::to_string(kSchemaVersion));
  }
  const int found_version = std::stoi(version);
  TRIAD_RETURN_IF_ERROR(db.exec("BEGIN"));
  if (found_version == 1) {
    TRIAD_RETURN_IF_ERROR(db.exec("ALTER TABLE decisions ADD COLUMN card_ref TEXT"));
  }
  if (found_version >= 1 && found_version < 4) {
    // The decisions table without UNIQUE(run, id), whose index SQLite cannot
    // drop on its own, and without the indexes on id and card; the lookup
    // tables index its rows when lookup::Writer opens.
    log::info("audit store: upgrading " + path + " from schema version " + version + " to " +
              std::to_string(kSchemaVersion) + " (one copy of its decisions)");
    TRIAD_RETURN_IF_ERROR(db.exec(std::string("CREATE TABLE decisions_new") + kDecisionsColumns +
                                  "INSERT INTO decisions_new SELECT " + kColumnNames +
                                  " FROM decisions ORDER BY run, seq;"
                                  "DROP TABLE decisions;"
                                  "ALTER TABLE decisions_new RENAME TO decisions;"));
  }
  TRIAD_RETURN_IF_ERROR(db.exec(std::string("CREATE TABLE IF NOT EXISTS decisions") +
                                kDecisionsColumns + kSchema + lookup::kSchema));
  TRIAD_RETURN_IF_ERROR(db.exec("PRAGMA user_version=" + std::to_string(kSchemaVersion)));
  sql::Stmt new_run;
  TRIAD_RETURN_IF_ERROR(
      sql::Stmt::prepare(db, "INSERT INTO runs(started_at_ms) VALUES(?)", &new_run));
  new_run.bind(1, options.now_ms());
  TRIAD_RETURN_IF_ERROR(new_run.run());
  const std::int64_t run = db.last_insert_rowid();
  TRIAD_RETURN_IF_ERROR(db.exec("COMMIT"));
  TRIAD_RETURN_IF_ERROR(lookup::Writer::open(db, options.lookup, &writer->lookup));
  TRIAD_RETURN_IF_ERROR(writer->prepare());

  std::unique_ptr<AuditStore> store(new AuditStore());
  store->path_ = path;
  store->options_ = std::move(options);
  store->run_ = run;
  store->writer_ = std::move(writer);
  store->queue_.reserve(store->options_.batch_max_rows);
  store->thread_ = std::thread([s = store.get()] { s->writer_loop(); });
  *out = std::move(store);
  return Status::ok();
}

AuditStore::~AuditStore() { (void)close(); }

bool AuditStore::add(Record record) {
  std::lock_guard lock(mutex_);
  TRIAD_ASSERT(!stopping_);  // the owner adds nothing after close()
  if (queue_.size() >= options_.queue_capacity) {
    dropped_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  queue_.push_back(std::move(record));
  ++queued_total_;
  // Waking the writer for every record would cost the latency path a system
  // call each time; a full batch wakes it, the interval does the rest.
  if (queue_.size() == options_.batch_max_rows) wake_.notify_one();
  return true;
}

void AuditStore::flush() {
  std::unique_lock lock(mutex_);
  if (closed_) return;
  const std::uint64_t ticket = ++flush_requested_;
  wake_.notify_one();
  committed_cv_.wait(lock, [&] { return flush_served_ >= ticket; });
}

Status AuditStore::close() {
  {
    std::lock_guard lock(mutex_);
    if (closed_) return first_error_;
    stopping_ = true;
    wake_.notify_one();
  }
  if (thread_.joinable()) thread_.join();
  std::lock_guard lock(mutex_);
  closed_ = true;
  writer_.reset();  // closes the database; the last connection checkpoints the WAL
  return first_error_;
}

AuditStore::Counters AuditStore::counters() const {
  Counters c;
  c.written = written_.load();
  c.dropped = dropped_.load();
  c.failed = failed_.load();
  c.batches = batches_.load();
  c.expired = expired_.load();
  // Read last, so added >= written + failed holds in what is returned.
  std::lock_guard lock(mutex_);
  c.added = queued_total_;
  return c;
}

void AuditStore::writer_loop() {
  name_this_thread("triad-audit");
  Writer& w = *writer_;
  std::vector<Record> batch;
  batch.reserve(options_.batch_max_rows);
  const auto note_error = [&](const Status& s, const std::string& what) {
    using namespace std::chrono_literals;
    const auto now = std::chrono::steady_clock::now();
    std::lock_guard lock(mutex_);
    if (first_error_.is_ok()) first_error_ = s;
    // A full disk would otherwise log once per batch, 20 times a second.
    if (now - w.last_failure_log >= 10s) {
      w.last_failure_log = now;
      log::error("audit store: " + what + ": " + s.to_string());
    }
  };
  std::unique_lock lock(mutex_);
  while (true) {
    wake_.wait_for(lock, std::chrono::milliseconds(options_.batch_interval_ms), [&] {
      return stopping_ || flush_requested_ > flush_served_ ||
             queue_.size() >= options_.batch_max_rows;
    });
    batch.swap(queue_);
    const std::uint64_t serving = flush_requested_;
    const bool last = stopping_;
    lock.unlock();

    // One transaction per batch_max_rows records: a commit (and its fsync
    // at checkpoint) is the expensive part, not the rows.
    for (std::size_t first = 0; first < batch.size(); first += options_.batch_max_rows) {
      const std::size_t end = std::min(batch.size(), first + options_.batch_max_rows);
      if (Status s = w.begin.run(); !s.is_ok()) {
        failed_.fetch_add(end - first);
        note_error(s, "cannot begin a batch");
        continue;
      }
      w.lookup->begin_batch();
      std::uint64_t ok_rows = 0;
      for (std::size_t i = first; i < end; ++i) {
        // A failed row (a constraint) undoes only its own statement.
        if (Status s = w.insert(run_, batch[i]); s.is_ok()) {
          ++ok_rows;
        } else {
          failed_.fetch_add(1);
          note_error(s, "a record was not written");
        }
      }
      Status s = w.lookup->before_commit();
      if (s.is_ok()) s = w.commit.run();
      if (s.is_ok()) {
        w.lookup->committed();
        written_.fetch_add(ok_rows);
        batches_.fetch_add(1);
      } else {
        (void)w.rollback.run();
        w.lookup->rolled_back();
        failed_.fetch_add(ok_rows);
        note_error(s, "a batch of " + std::to_string(end - first) + " records was lost");
      }
    }
    if (Status s = w.lookup->merge(); !s.is_ok()) {
      note_error(s, "merging lookup tables");
    }
    // At the end the gathered entries go out as a table, so that a reader
    // finds every decision through the lookup tables.
    if (last) {
      if (Status s = w.lookup->write_gathered(); !s.is_ok()) {
        note_error(s, "writing a lookup table");
      }
    }
    batch.clear();

    const std::int64_t now_ms = options_.now_ms();
    if (options_.retention_days > 0 &&
        (!w.last_retention_ms ||
         now_ms - *w.last_retention_ms >= to_int64(options_.retention_check_interval_ms))) {
      w.last_retention_ms = now_ms;
      const std::int64_t cutoff_ms = now_ms - std::int64_t{options_.retention_days} * kMsPerDay;
      for (sql::Stmt* expire : {&w.expire_decisions, &w.expire_divergences, &w.expire_repairs}) {
        expire->bind(1, cutoff_ms);
        if (Status s = expire->run(); s.is_ok()) {
          expired_.fetch_add(static_cast<std::uint64_t>(w.db.changes()));
        } else {
          note_error(s, "retention");
        }
      }
    }

    const std::uint64_t dropped = dropped_.load();
    const auto now = std::chrono::steady_clock::now();
    if (dropped > w.dropped_reported &&
        (!w.last_drop_warning ||
         now - *w.last_drop_warning >=
             std::chrono::milliseconds(options_.drop_warning_interval_ms))) {
      log::warn("audit store: queue full, " + std::to_string(dropped - w.dropped_reported) +
                " records dropped (" + std::to_string(dropped) +
                " in all); the audit trail has gaps");
      w.dropped_reported = dropped;
      w.last_drop_warning = now;
    }

    lock.lock();
    flush_served_ = serving;
    committed_cv_.notify_all();
    if (last && queue_.empty()) return;
  }
}

}  // namespace triad::audit
