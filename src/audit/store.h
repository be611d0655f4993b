// The audit store's writer: an embedded SQLite database (DIR/audit.db) that
// keeps every decision with its certificate, every divergence and every
// repair transition (design.md, "Nothing lost").
//
// The front end's event loop is the latency path, so it never touches the
// disk: add() only appends to a bounded in-memory queue, and one background
// thread commits what is queued in batches, one transaction per batch. When
// the queue is full the record is dropped and counted rather than waiting;
// the writer then logs a rate-limited warning with the count, because a gap
// in the audit trail must be visible. close() commits everything queued.
//
// The database runs in WAL mode, so `triad audit` and the sqlite3 shell can
// read it while the writer appends, and with synchronous=NORMAL: a commit
// survives a crash of the process; a power loss or OS crash may lose the
// last commits since the WAL was last synced (at a checkpoint), never the
// database's consistency.
//
// Each open() starts a new run (a row in `runs`): seq numbers start at 1
// again when `triad up` restarts, so a decision is identified by (run, seq).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/lookup.h"
#include "audit/records.h"
#include "triad/status.h"

namespace triad::audit {

struct StoreOptions {
  // Records waiting for the writer; one more is dropped. At 2 KB or so per
  // decision this bounds the queue's memory to a few hundred MB at worst.
  std::size_t queue_capacity = 200'000;
  // A batch is committed when this many records are waiting, or after
  // batch_interval_ms, whichever comes first. A row costs 8-10 µs of CPU
  // in commits of 512 to 4,096 into a store of 200,000 rows and 13 µs into
  // 1.2 million (triad_micro_bench, BM_AuditStoreWrite); with indexes on id
  // and card, before lookup tables (audit/lookup.h), it was 34-40 µs in
  // commits of 512, 18-22 µs in larger ones, and 35-40 µs into 1.2 million.
  // 200 ms makes commits of about 2,000 at 10,000 decisions/s; a crash of
  // the process loses at most that much of the trail (the journal's replay
  // records those decisions again, in the next run).
  std::size_t batch_max_rows = 4096;
  std::uint64_t batch_interval_ms = 200;
  // The lookup tables' sizes (audit/lookup.h); tests make them small.
  lookup::Options lookup;
  // Rows older than this are deleted; 0 keeps everything.
  std::uint32_t retention_days = 0;
  std::uint64_t retention_check_interval_ms = 60'000;
  std::uint64_t drop_warning_interval_ms = 10'000;
  // Wall clock for retention, ms since the epoch; the system clock when
  // empty. Tests set it.
  std::function<std::int64_t()> now_ms;
};

class AuditStore {
 public:
  // Opens or creates the database at `path`, checks or creates the schema,
  // records a new run and starts the writer thread. IoError naming the path
  // when the file cannot be opened or is not a database; InvalidArgument
  // when it was written by a newer schema.
  static Status open(const std::string& path, StoreOptions options,
                     std::unique_ptr<AuditStore>* out);
  // Calls close().
  ~AuditStore();
  AuditStore(const AuditStore&) = delete;
  AuditStore& operator=(const AuditStore&) = delete;

  // Queues one record; never waits for the disk. Returns false, and counts
  // it as dropped, when the queue is full.
  bool add(Record record);
  // Waits until every record added before the call is committed (or failed)
  // and retention, when due, has run.
  void flush();
  // Commits everything queued and stops the writer. Returns the first write
  // error seen since open, if any (each is also logged). Idempotent.
  Status close();

  struct Counters {
    std::uint64_t added = 0;
    std::uint64_t written = 0;
    std::uint64_t dropped = 0;  // queue full
    std::uint64_t failed = 0;   // a write error; logged
    std::uint64_t batches = 0;
    std::uint64_t expired = 0;  // deleted by retention
  };
  Counters counters() const;
  std::int64_t run() const { return run_; }
  const std::string& path() const { return path_; }

 private:
  struct Writer;
  AuditStore() = default;
  void writer_loop();

  std::string path_;
  StoreOptions options_;
  std::int64_t run_ = 0;
  std::unique_ptr<Writer> writer_;  // the connection and statements; writer thread only

  mutable std::mutex mutex_;
  std::condition_variable wake_;          // the writer: a full batch, a flush, or stop
  std::condition_variable committed_cv_;  // flush(): the writer finished a batch
  std::vector<Record> queue_;
  std::uint64_t queued_total_ = 0;  // records ever accepted by add()
  // flush() takes a ticket; the writer serves every ticket taken before it
  // took the queue, after committing it (and checking retention).
  std::uint64_t flush_requested_ = 0;
  std::uint64_t flush_served_ = 0;
  bool stopping_ = false;
  bool closed_ = false;
  Status first_error_;

  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> written_{0};
  std::atomic<std::uint64_t> failed_{0};
  std::atomic<std::uint64_t> batches_{0};
  std::atomic<std::uint64_t> expired_{0};
  std::thread thread_;
};

}  // namespace triad::audit
