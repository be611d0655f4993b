// The journal's sync timing: every fdatasync counted and timed, those at or
// over the threshold counted as slow and logged, at most one line a second.
#include "journal/sync_times.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "common/log.h"
#include "common/log_capture.h"

namespace triad::journal {
namespace {

using testing::LogCapture;

class SyncTimesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "triad-synctimes-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
    fd_ = ::open((dir_ + "/journal").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
    ASSERT_GE(fd_, 0);
  }
  void TearDown() override {
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  void write_record() { ASSERT_EQ(::write(fd_, "record", 6), 6); }
  std::string dir_;
  int fd_ = -1;
};

TEST_F(SyncTimesTest, CountsAndTimesEverySync) {
  LogCapture log;
  SyncTimes times("journal", std::numeric_limits<std::uint64_t>::max());
  for (int i = 0; i < 3; ++i) {
    write_record();
    EXPECT_EQ(times.fdatasync(fd_), 0);
  }
  EXPECT_EQ(times.count(), 3u);
  EXPECT_EQ(times.slow(), 0u);
  EXPECT_LE(times.longest_us(), times.total_us());
  EXPECT_TRUE(log.warnings.empty());
}

TEST(SyncTimes, ASlowSyncIsCountedAndLoggedAtMostOnceASecond) {
  LogCapture log;
  SyncTimes times("dir/journal");
  constexpr std::uint64_t kSecond = 1'000'000;
  times.record(150'000, 10 * kSecond);  // slow: logged at once
  times.record(99'000, 10 * kSecond + 200'000);
  times.record(120'000, 10 * kSecond + 500'000);  // slow, within the second
  times.record(300'000, 10 * kSecond + 900'000);  // slow, within the second
  EXPECT_EQ(times.count(), 4u);
  EXPECT_EQ(times.slow(), 3u);
  EXPECT_EQ(times.total_us(), 669'000u);
  EXPECT_EQ(times.longest_us(), 300'000u);
  ASSERT_EQ(log.warnings.size(), 1u);
  EXPECT_EQ(log.warnings[0],
            "journal dir/journal: fdatasync took 150 ms; answers waited for it (syncs of 100 ms "
            "or more since the last such line: 1)");
  times.record(100'000, 11 * kSecond + 1);  // a second after the last line
  ASSERT_EQ(log.warnings.size(), 2u);
  EXPECT_EQ(log.warnings[1],
            "journal dir/journal: fdatasync took 100 ms; answers waited for it (syncs of 100 ms "
            "or more since the last such line: 3)");
}

TEST_F(SyncTimesTest, EverySyncAtOrOverTheThresholdIsSlow) {
  SyncTimes times("journal", /*slow_us=*/0);
  write_record();
  EXPECT_EQ(times.fdatasync(fd_), 0);
  EXPECT_EQ(times.count(), 1u);
  EXPECT_EQ(times.slow(), 1u);
}

TEST_F(SyncTimesTest, AFailedSyncIsCountedAndKeepsItsErrno) {
  SyncTimes times("journal");
  errno = 0;
  EXPECT_EQ(times.fdatasync(-1), -1);
  EXPECT_EQ(errno, EBADF);
  EXPECT_EQ(times.count(), 1u);
}

}  // namespace
}  // namespace triad::journal
