// The journal's background sync: a request becomes durable_seq after an
// fdatasync, wakes the poller, and a failed sync is an error that stops
// anything more from becoming durable.
#include "journal/background_sync.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace triad::journal {
namespace {

// Waits (up to 10 s) for the wake-up fd to become readable.
bool woken(const BackgroundSync& sync) {
  pollfd p{sync.wake_fd(), POLLIN, 0};
  return ::poll(&p, 1, 10'000) == 1 && (p.revents & POLLIN) != 0;
}

class BackgroundSyncTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "triad-sync-XXXXXX").string();
    dir_ = ::mkdtemp(tmpl.data());
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  // A sync whose every fdatasync fails (on a pipe, EINVAL): a stand-in for a
  // failing disk.
  static std::unique_ptr<BackgroundSync> failing_sync() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    ::close(fds[0]);
    std::unique_ptr<BackgroundSync> sync;
    EXPECT_TRUE(BackgroundSync::start(fds[1], "the-journal", &sync).is_ok());
    return sync;
  }
  std::string dir_;
};

TEST_F(BackgroundSyncTest, ARequestBecomesDurableAndWakesThePoller) {
  const int fd = ::open((dir_ + "/journal").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(::write(fd, "record", 6), 6);
  std::unique_ptr<BackgroundSync> sync;
  ASSERT_TRUE(BackgroundSync::start(fd, dir_ + "/journal", &sync).is_ok());
  EXPECT_EQ(sync->durable_seq(), 0u);
  sync->request(3);
  ASSERT_TRUE(woken(*sync));
  // One wake-up per sync; a later request may still be syncing, so wait for
  // the value, not for a count of wake-ups.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (sync->durable_seq() < 3 && std::chrono::steady_clock::now() < deadline) {
    sync->drain();
    woken(*sync);
  }
  EXPECT_EQ(sync->durable_seq(), 3u);
  EXPECT_GE(sync->syncs(), 1u);
  EXPECT_TRUE(sync->error().is_ok());
  sync->drain();
  pollfd p{sync->wake_fd(), POLLIN, 0};
  EXPECT_EQ(::poll(&p, 1, 0), 0) << "drained";
  sync->request(2);  // covered already: no sync, no wake-up
  EXPECT_EQ(::poll(&p, 1, 200), 0) << "a covered request woke the poller";
  EXPECT_EQ(sync->durable_seq(), 3u);
  sync->request(7);
  ASSERT_TRUE(woken(*sync));
  EXPECT_EQ(sync->durable_seq(), 7u);
}

TEST_F(BackgroundSyncTest, AFailedSyncIsAnErrorAndNothingMoreIsDurable) {
  const auto sync = failing_sync();
  ASSERT_NE(sync, nullptr);
  sync->request(1);
  ASSERT_TRUE(woken(*sync));
  EXPECT_EQ(sync->durable_seq(), 0u);
  const Status s = sync->error();
  EXPECT_EQ(s.code(), Status::Code::kIoError);
  EXPECT_NE(s.message().find("cannot sync journal the-journal"), std::string::npos)
      << s.to_string();
}

// A sync requested just before the stop runs in stop(), and its failure is
// what stop() returns: the front end's shutdown must not answer what it
// held for that sync.
TEST_F(BackgroundSyncTest, StopSyncsWhatWasRequestedAndReturnsItsFailure) {
  const auto sync = failing_sync();
  ASSERT_NE(sync, nullptr);
  sync->request(1);
  const Status s = sync->stop();
  EXPECT_EQ(s.code(), Status::Code::kIoError) << s.to_string();
  EXPECT_EQ(sync->stop().code(), Status::Code::kIoError) << "the same on a second call";
  EXPECT_EQ(sync->durable_seq(), 0u);

  const int fd = ::open((dir_ + "/journal").c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  ASSERT_GE(fd, 0);
  std::unique_ptr<BackgroundSync> good;
  ASSERT_TRUE(BackgroundSync::start(fd, dir_ + "/journal", &good).is_ok());
  good->request(4);
  EXPECT_TRUE(good->stop().is_ok());
  EXPECT_EQ(good->durable_seq(), 4u) << "what was requested is synced before the stop";
}

}  // namespace
}  // namespace triad::journal
