#include "journal/background_sync.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "common/assert.h"
#include "common/thread_name.h"

namespace triad::journal {

Status BackgroundSync::start(int fd, std::string path, std::unique_ptr<BackgroundSync>* out) {
  TRIAD_ASSERT(fd >= 0);
  const int wake_fd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake_fd < 0) {
    const int e = errno;
    ::close(fd);
    return Status::io_error(std::string("cannot make an eventfd for the journal's sync: ") +
                            std::strerror(e));
  }
  out->reset(new BackgroundSync(fd, wake_fd, std::move(path)));
  return Status::ok();
}

BackgroundSync::BackgroundSync(int fd, int wake_fd, std::string path)
    : fd_(fd), wake_fd_(wake_fd), path_(std::move(path)), times_(path_), thread_([this] {
        loop();
      }) {}

Status BackgroundSync::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  requested_cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  return error();
}

BackgroundSync::~BackgroundSync() {
  (void)stop();
  ::close(fd_);
  ::close(wake_fd_);
}

void BackgroundSync::request(std::uint64_t seq) {
  {
    std::lock_guard lock(mutex_);
    if (seq <= requested_seq_) return;
    requested_seq_ = seq;
  }
  requested_cv_.notify_one();
}

void BackgroundSync::drain() {
  std::uint64_t count = 0;
  while (::read(wake_fd_, &count, sizeof count) == sizeof count) {
  }
}

Status BackgroundSync::error() const {
  std::lock_guard lock(mutex_);
  return error_;
}

void BackgroundSync::wake() {
  const std::uint64_t one = 1;
  // EAGAIN only when the counter is near overflow: it is readable anyway.
  (void)!::write(wake_fd_, &one, sizeof one);
}

void BackgroundSync::loop() {
  name_this_thread("triad-sync");
  std::unique_lock lock(mutex_);
  while (true) {
    requested_cv_.wait(lock, [&] { return stopping_ || requested_seq_ > durable_seq(); });
    if (requested_seq_ <= durable_seq()) return;  // stopping, nothing left to sync
    // Everything up to `target` was written before it was requested, so one
    // fdatasync that starts now covers it.
    const std::uint64_t target = requested_seq_;
    lock.unlock();
    const int rc = times_.fdatasync(fd_);
    const int e = errno;
    lock.lock();
    if (rc != 0) {
      // What reached the disk is unknown (a failed fdatasync may have dropped
      // dirty pages): nothing more is declared durable.
      error_ = Status::io_error("cannot sync journal " + path_ + ": " + std::strerror(e));
      wake();
      return;
    }
    durable_seq_.store(target, std::memory_order_release);
    wake();
  }
}

}  // namespace triad::journal
