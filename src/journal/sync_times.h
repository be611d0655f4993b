// How long the journal's fdatasyncs take. Answers wait for them (with
// --fsync batch or always), so a slow disk shows directly in the latency: a
// sync of 100 ms or more is counted and logged as a warning (at most one
// line a second, with the count since the last), and the totals are
// exported as metrics. Written by one thread, read by any.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

namespace triad::journal {

class SyncTimes {
 public:
  static constexpr std::uint64_t kSlowUs = 100'000;
  static constexpr std::uint64_t kWarnEveryUs = 1'000'000;

  // `path` names the file in the warning; `slow_us` is the threshold (tests
  // set it to 0 so that every sync is slow).
  explicit SyncTimes(std::string path, std::uint64_t slow_us = kSlowUs);

  // fdatasync(fd), again on EINTR, timed. Returns its result; errno is the
  // call's when it failed.
  int fdatasync(int fd);
  // One sync that took `took_us` and ended at `end_us` (a monotonic clock):
  // what fdatasync() records; tests call it with a clock of their own.
  void record(std::uint64_t took_us, std::uint64_t end_us);

  std::uint64_t count() const { return count_.load(std::memory_order_relaxed); }
  std::uint64_t total_us() const { return total_us_.load(std::memory_order_relaxed); }
  std::uint64_t slow() const { return slow_.load(std::memory_order_relaxed); }
  std::uint64_t longest_us() const { return longest_us_.load(std::memory_order_relaxed); }

 private:
  const std::string path_;
  const std::uint64_t slow_us_;
  std::atomic<std::uint64_t> count_{0};
  std::atomic<std::uint64_t> total_us_{0};
  std::atomic<std::uint64_t> slow_{0};
  std::atomic<std::uint64_t> longest_us_{0};
  // The writer's own: when it last warned and how many slow syncs since.
  std::uint64_t last_warning_us_ = 0;
  std::uint64_t slow_unreported_ = 0;
};

}  // namespace triad::journal
