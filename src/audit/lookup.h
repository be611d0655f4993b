// The audit store's lookup tables: where to find a decision by transaction id
// or by card reference, kept without a write at a random place per decision.
//
// An index on a key in no particular order (an id, a card reference) makes
// every new row dirty a random page of a B-tree that grows with the store.
// That was most of the audit writer's work, and it grew with the store: 90 s
// runs at 500/s had twice the p99 with those indexes as without
// (bench/README.md, "Longer runs"). Instead, as in an LSM tree:
//
// - The writer keeps the entries (key, run, seq) of recently committed
//   decisions in memory and writes them out as one sorted table when
//   `run_entries` have gathered: one sequential write, once.
// - Sorted tables of a similar size are merged, `fan_in` at a time, into one
//   larger table, a bounded slice per writer turn, so no turn takes long.
//   Each entry is rewritten once per level: log_fan_in(store / run_entries)
//   times in all, each time in order.
// - A lookup seeks each sorted table once (a few dozen tables for billions
//   of decisions) and reads the decisions not yet written out directly from
//   `decisions`: the newest, fewer than run_entries plus one batch (after a
//   crash, more, until the next open writes them out).
//
// A key is 64 bits of SHA-256 over the kind and the value. Two values with
// one key only cost a lookup a row it then discards: every row found is
// checked against the id or card reference asked for.
//
// Tables, in the audit database:
//   lookup_runs(name, level, entries,      the sorted tables readers use;
//               merging_into)              a merge's sources name its output,
//                                          so a stop does not lose its work
//   lookup_state(name, value)              'through_run' / 'through_seq':
//                                          every decision at or before that
//                                          (run, seq) is in a sorted table;
//                                          'next_table' numbers new tables
//   lookup_N(key, run, seq)                one sorted table (WITHOUT ROWID)
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "audit/sqlite.h"
#include "triad/status.h"

namespace triad::audit::lookup {

struct Entry {
  std::int64_t key = 0;
  std::int64_t run = 0;
  std::int64_t seq = 0;
  auto operator<=>(const Entry&) const = default;
};

std::int64_t id_key(std::string_view id);
std::int64_t card_key(std::string_view card_ref);

// Created with the rest of the audit schema.
extern const char* const kSchema;

struct Options {
  // Entries gathered in memory before they are written as one sorted table
  // (two per decision with a card reference). Also bounds what a lookup
  // reads from `decisions` directly.
  std::size_t run_entries = 8192;
  // Sorted tables of one level merged into one of the next.
  std::size_t fan_in = 8;
  // Entries merged per writer turn: this many, plus merge_per_entry for each
  // entry added in the turn, so merging keeps pace with any load and a quiet
  // store finishes a merge without a burst.
  std::size_t merge_min_entries = 1024;
  std::size_t merge_per_entry = 8;
};

// The writer's side; owned by the audit writer thread.
class Writer {
 public:
  // Creates the tables when missing, drops a merge's output that a stop
  // interrupted, and writes the entries of every decision not yet in a sorted
  // table (after a crash, or of a store from before lookup tables) as sorted
  // tables. Must run outside a transaction.
  static Status open(sql::Db& db, Options options, std::unique_ptr<Writer>* out);
  ~Writer();

  // The batch protocol of the audit writer: begin_batch() after BEGIN; add()
  // for each decision row written; before_commit() just before COMMIT
  // (writes a sorted table when run_entries have gathered, in the same
  // transaction); then committed() or rolled_back().
  void begin_batch();
  // The entries of one decision: its id's, and its card's when it has one.
  void add(std::int64_t run, std::int64_t seq, std::string_view id, std::string_view card_ref);
  Status before_commit();
  void committed();
  void rolled_back();

  // Writes whatever is gathered as a sorted table, in its own transaction
  // (at close, so a reader has no rows to read directly).
  Status write_gathered();

  // One turn's share of merging, in its own transaction, when tables are
  // waiting to be merged: in proportion to the entries added since the last
  // call.
  Status merge();

 private:
  struct Merge;
  Writer(sql::Db& db, Options options);
  Status write_table(std::vector<Entry> entries);
  Status list_table(const std::string& name, std::size_t entries);
  Status start_merge();
  Status resume_merge(std::vector<std::string> sources, const std::string& output);
  Status merge_slice(std::size_t budget, std::size_t* done);

  sql::Db& db_;
  Options options_;
  std::vector<Entry> gathered_;  // committed, or in the open batch
  std::size_t batch_start_ = 0;
  std::size_t added_since_merge_ = 0;
  bool table_in_batch_ = false;  // before_commit() wrote gathered_ out
  std::unique_ptr<Merge> merge_;
};

// The reader's side. Within one read transaction (the caller's): the (run,
// seq) of the newest `newest_per_table` entries with `key` in each sorted
// table, newest first overall, and the (run, seq) after which decisions are
// not in any sorted table yet. When `truncated` (some table had more), only
// the first newest_per_table entries are surely the newest of all tables.
struct Found {
  std::vector<Entry> entries;
  std::int64_t through_run = 0;
  std::int64_t through_seq = 0;
  bool truncated = false;
};
// newest_per_table for every entry (lookups by id): no table is truncated.
constexpr std::size_t kAllEntries = std::numeric_limits<std::size_t>::max();
Status find(sql::Db& db, std::int64_t key, std::size_t newest_per_table, Found* out);

}  // namespace triad::audit::lookup
