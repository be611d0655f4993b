// Writes the snapshots the core hands over (Outbox::snapshot_to_store) on a
// thread of its own: a state of tens of MB written and synced on the event
// loop would hold every request behind it.
//
// A stored snapshot lets a restart skip deciding its seqs again, so its
// state must give the majority's checkpoint digest (checked here, being
// linear in the state) and it must not reach past what survives a power cut: the input journal and
// the certificates file (which hold those seqs' transactions and answers) are synced before each
// one is written. One that arrives while another is being written waits; a newer one replaces one
// still waiting.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "crypto/aead.h"
#include "journal/snapshot_file.h"
#include "triad/status.h"

namespace triad::frontend {

class SnapshotWriter {
 public:
  // What reached DIR/snapshot, for `triad status`: the core counts the
  // snapshots it hands over, and one handed over may still be waiting, or
  // never be written (a sync or write that failed).
  struct Progress {
    std::uint64_t written_seq = 0;  // the one on file a restart starts from; 0: none
    std::uint64_t pending_seq = 0;  // the newest handed over, being written or waiting; 0: none
    std::uint64_t written = 0;      // written by this run
    std::uint64_t failed = 0;       // not written, for the reason last_error gives
    std::string last_error;         // empty when none failed
  };

  // Takes ownership of the descriptors (the journal and the certificates
  // file, each opened by journal::open_for_sync) and starts the thread. `written_seq`: the stored
  // snapshot this run started from (0: none).
  SnapshotWriter(std::string path, const crypto::SymmetricKey& key, int journal_fd,
                 int certificates_fd, std::uint64_t written_seq);
  // Writes what waits, then stops the thread and closes the descriptors.
  ~SnapshotWriter();
  SnapshotWriter(const SnapshotWriter&) = delete;
  SnapshotWriter& operator=(const SnapshotWriter&) = delete;

  void write(journal::StoredSnapshot snapshot);
  // Counts a snapshot the caller could not hand over (logged by it).
  void count_failure(std::string reason);
  Progress progress() const;

 private:
  void loop();
  Status store(const journal::StoredSnapshot& snapshot) const;

  const std::string path_;
  const crypto::SymmetricKey key_;
  const int journal_fd_;
  const int certificates_fd_;
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  Progress progress_;                               // guarded by mutex_
  std::optional<journal::StoredSnapshot> waiting_;  // guarded by mutex_
  bool stopping_ = false;                           // guarded by mutex_
  std::thread thread_;
};

}  // namespace triad::frontend
