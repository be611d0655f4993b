// Group commit off the event loop (--fsync batch). The front end writes a
// batch of journal records (Journal::commit with sync_elsewhere()), asks
// this thread to make everything up to that seq durable, and fans the batch
// out to the replicas at once; the disk and the replicas work in parallel.
// Answers wait for durable_seq(): a client never sees a decision the journal
// could lose to a power cut.
//
// Why sending to the replicas before the sync is safe: a replica's state
// lives only as long as this front end. After a crash or power loss, `triad
// up` starts fresh replicas that replay the journal, so a seq that was sent
// but not synced is simply sequenced again, for whatever transaction comes
// next; nobody was answered for it.
//
// One request covers every earlier one, so while one fdatasync runs, the
// batches written meanwhile share the next.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "journal/sync_times.h"
#include "triad/status.h"

namespace triad::journal {

class BackgroundSync {
 public:
  // Takes ownership of `fd` (a dup of the journal's descriptor) and starts
  // the thread. IoError when the wake-up eventfd cannot be made.
  static Status start(int fd, std::string path, std::unique_ptr<BackgroundSync>* out);
  // Syncs what was requested, then stops the thread; returns error() as it
  // is then. The caller must read it: a sync that fails now (a disk that
  // stalled and then failed, during a shutdown) makes the answers that
  // waited for it undeliverable, and another fdatasync of the same file
  // would not report the error again (Linux reports a writeback error once
  // per open file). Later calls return the same.
  Status stop();
  // stop(), then closes the fds.
  ~BackgroundSync();
  BackgroundSync(const BackgroundSync&) = delete;
  BackgroundSync& operator=(const BackgroundSync&) = delete;

  // Everything up to `seq` has been written; make it durable.
  void request(std::uint64_t seq);
  // Everything up to here is on disk.
  std::uint64_t durable_seq() const { return durable_seq_.load(std::memory_order_acquire); }
  // Readable (poll) after durable_seq() advanced or a sync failed; drain()
  // makes it unreadable again.
  int wake_fd() const { return wake_fd_; }
  void drain();
  // The first failed fdatasync; after it nothing more becomes durable.
  Status error() const;
  std::uint64_t syncs() const { return times_.count(); }
  const SyncTimes& times() const { return times_; }

 private:
  BackgroundSync(int fd, int wake_fd, std::string path);
  void loop();
  void wake();

  const int fd_;
  const int wake_fd_;
  const std::string path_;
  std::atomic<std::uint64_t> durable_seq_{0};
  SyncTimes times_;
  mutable std::mutex mutex_;
  std::condition_variable requested_cv_;
  std::uint64_t requested_seq_ = 0;  // guarded by mutex_
  bool stopping_ = false;            // guarded by mutex_
  Status error_;                     // guarded by mutex_
  std::thread thread_;
};

}  // namespace triad::journal
