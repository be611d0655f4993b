#include "frontend/snapshot_writer.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/clock.h"
#include "common/log.h"
#include "common/thread_name.h"
#include "replica/checkpoint.h"

namespace triad::frontend {
namespace {

Status sync_fd(int fd, const char* what) {
  while (::fdatasync(fd) != 0) {
    if (errno != EINTR) {
      return Status::io_error(std::string("cannot sync the ") + what + ": " + std::strerror(errno));
    }
  }
  return Status::ok();
}

}  // namespace

SnapshotWriter::SnapshotWriter(std::string path, const crypto::SymmetricKey& key, int journal_fd,
                               int certificates_fd, std::uint64_t written_seq)
    : path_(std::move(path)),
      key_(key),
      journal_fd_(journal_fd),
      certificates_fd_(certificates_fd),
      thread_([this] { loop(); }) {
  progress_.written_seq = written_seq;  // before any write(): the thread waits for one
}

SnapshotWriter::~SnapshotWriter() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
  ::close(journal_fd_);
  ::close(certificates_fd_);
}

void SnapshotWriter::write(journal::StoredSnapshot snapshot) {
  {
    std::lock_guard lock(mutex_);
    if (waiting_) {
      log::info("snapshot of seq " + std::to_string(waiting_->seq) +
                " not stored: the one of seq " + std::to_string(snapshot.seq) +
                " came before it was written");
      journal::wipe_state(&*waiting_);
    }
    progress_.pending_seq = snapshot.seq;
    waiting_ = std::move(snapshot);
  }
  cv_.notify_one();
}

void SnapshotWriter::count_failure(std::string reason) {
  std::lock_guard lock(mutex_);
  ++progress_.failed;
  progress_.last_error = std::move(reason);
}

SnapshotWriter::Progress SnapshotWriter::progress() const {
  std::lock_guard lock(mutex_);
  return progress_;
}

void SnapshotWriter::loop() {
  name_this_thread("snapshot-write");
  for (;;) {
    std::optional<journal::StoredSnapshot> next;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [&] { return waiting_ || stopping_; });
      if (!waiting_) return;
      next.swap(waiting_);
    }
    const std::uint64_t start_us = monotonic_us();
    const Status stored = store(*next);
    {
      std::lock_guard lock(mutex_);
      if (!waiting_) progress_.pending_seq = 0;
      if (stored.is_ok()) {
        progress_.written_seq = next->seq;
        ++progress_.written;
      } else {
        ++progress_.failed;
        progress_.last_error = "seq " + std::to_string(next->seq) + ": " + stored.message();
      }
    }
    if (stored.is_ok()) {
      log::info("stored the snapshot of seq " + std::to_string(next->seq) + " in " + path_ + " (" +
                std::to_string(next->engine_state.size()) + " bytes of state, " +
                std::to_string((monotonic_us() - start_us) / 1000) +
                " ms); a restart replays the journal after it");
    } else {
      // The one stored before stays: a restart replays more, nothing is lost.
      log::error("snapshot of seq " + std::to_string(next->seq) +
                 " not stored: " + stored.message());
    }
    journal::wipe_state(&*next);
  }
}

Status SnapshotWriter::store(const journal::StoredSnapshot& snapshot) const {
  // The core checked its digests against the majority's; this checks that
  // the state gives them.
  TRIAD_RETURN_IF_ERROR(replica::check_checkpoint_digest(
      std::string_view(reinterpret_cast<const char*>(snapshot.engine_state.data()),
                       snapshot.engine_state.size()),
      snapshot.checkpoint_digest));
  TRIAD_RETURN_IF_ERROR(sync_fd(journal_fd_, "input journal"));
  TRIAD_RETURN_IF_ERROR(sync_fd(certificates_fd_, "certificates file"));
  return journal::write_snapshot_file(path_, key_, snapshot);
}

}  // namespace triad::frontend
