#include "journal/sync_times.h"

#include <unistd.h>

#include <cerrno>
#include <utility>

#include "common/clock.h"
#include "common/log.h"

namespace triad::journal {

SyncTimes::SyncTimes(std::string path, std::uint64_t slow_us)
    : path_(std::move(path)), slow_us_(slow_us) {}

int SyncTimes::fdatasync(int fd) {
  const std::uint64_t start_us = monotonic_us();
  int rc = 0;
  do {
    rc = ::fdatasync(fd);
  } while (rc != 0 && errno == EINTR);
  const int e = errno;
  const std::uint64_t end_us = monotonic_us();
  record(end_us - start_us, end_us);
  errno = e;
  return rc;
}

void SyncTimes::record(std::uint64_t took_us, std::uint64_t end_us) {
  count_.fetch_add(1, std::memory_order_relaxed);
  total_us_.fetch_add(took_us, std::memory_order_relaxed);
  if (took_us > longest_us()) longest_us_.store(took_us, std::memory_order_relaxed);
  if (took_us < slow_us_) return;
  slow_.fetch_add(1, std::memory_order_relaxed);
  ++slow_unreported_;
  if (last_warning_us_ != 0 && end_us - last_warning_us_ < kWarnEveryUs) return;
  log::warn("journal " + path_ + ": fdatasync took " + std::to_string(took_us / 1000) +
            " ms; answers waited for it (syncs of " + std::to_string(slow_us_ / 1000) +
            " ms or more since the last such line: " + std::to_string(slow_unreported_) + ")");
  last_warning_us_ = end_us;
  slow_unreported_ = 0;
}

}  // namespace triad::journal
