// Its own test program: block() changes the signal mask of the whole process.
#include "common/stop_signals.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <thread>

extern char** environ;

namespace triad {
namespace {

// Starts `sleep 30` through stop_signals::spawn, or with posix_spawn and
// this process's mask.
pid_t start_sleeper(bool child_mask) {
  char sleep_path[] = "/bin/sleep";
  char seconds[] = "30";
  char* argv[] = {sleep_path, seconds, nullptr};
  pid_t pid = -1;
  const int rc = child_mask ? stop_signals::spawn(&pid, argv[0], nullptr, argv)
                            : ::posix_spawn(&pid, argv[0], nullptr, nullptr, argv, environ);
  EXPECT_EQ(rc, 0);
  return pid;
}

// The wait status once `pid` ends within `timeout_ms`; nullopt if it did not
// (it is then killed and reaped, so the test leaves nothing behind).
std::optional<int> wait_for_exit(pid_t pid, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  int status = 0;
  while (std::chrono::steady_clock::now() < deadline) {
    if (::waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ::kill(pid, SIGKILL);
  ::waitpid(pid, &status, 0);
  return std::nullopt;
}

TEST(StopSignals, ASignalIsHeldForTheDescriptorInsteadOfDelivered) {
  EXPECT_EQ(stop_signals::fd(), -1);
  EXPECT_FALSE(stop_signals::requested());
  ASSERT_TRUE(stop_signals::block().is_ok());
  const int fd = stop_signals::fd();
  ASSERT_GE(fd, 0);
  EXPECT_FALSE(stop_signals::requested());
  // SIGTERM's default action would end this test program here.
  ASSERT_EQ(::kill(::getpid(), SIGTERM), 0);
  EXPECT_TRUE(stop_signals::requested());
  EXPECT_TRUE(stop_signals::requested()) << "the descriptor stays readable";
  ASSERT_TRUE(stop_signals::block().is_ok());
  EXPECT_EQ(stop_signals::fd(), fd) << "a second block() changes nothing";
}

// A closed terminal or session sends SIGHUP, whose default action ended
// `triad up` without its clean stop.
TEST(StopSignals, SighupIsAStopToo) {
  ASSERT_TRUE(stop_signals::block().is_ok());
  ASSERT_EQ(::kill(::getpid(), SIGHUP), 0);
  EXPECT_TRUE(stop_signals::requested());
}

// Under nohup (SIGHUP ignored) a hangup is no stop: a blocked signal would
// be queued for the descriptor even though it is ignored. In a child, since
// block() is once per process.
TEST(StopSignals, AnIgnoredSighupStaysIgnored) {
  if (stop_signals::fd() >= 0)
    GTEST_SKIP() << "block() ran in this process (ctest runs each alone)";
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::signal(SIGHUP, SIG_IGN);
    if (!stop_signals::block().is_ok()) ::_exit(2);
    ::kill(::getpid(), SIGHUP);
    ::_exit(stop_signals::requested() ? 1 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "an ignored SIGHUP asked for a stop";
}

TEST(StopSignals, AThreadStartedAfterBlockIsNotInterrupted) {
  ASSERT_TRUE(stop_signals::block().is_ok());
  int poll_rc = 0;
  std::thread sleeper([&] { poll_rc = ::poll(nullptr, 0, 300); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_EQ(::kill(::getpid(), SIGINT), 0);
  sleeper.join();
  EXPECT_EQ(poll_rc, 0) << "poll(2) timed out instead of failing with EINTR";
  EXPECT_TRUE(stop_signals::requested());
}

TEST(StopSignals, AChildStartsWithTheMaskFromBeforeBlock) {
  ASSERT_TRUE(stop_signals::block().is_ok());
  const pid_t with_mask = start_sleeper(true);
  const pid_t inherited = start_sleeper(false);
  ASSERT_GT(with_mask, 0);
  ASSERT_GT(inherited, 0);
  ::kill(with_mask, SIGTERM);
  ::kill(inherited, SIGTERM);
  const std::optional<int> status = wait_for_exit(with_mask, 10'000);
  ASSERT_TRUE(status.has_value()) << "the child ignored SIGTERM";
  EXPECT_TRUE(WIFSIGNALED(*status) && WTERMSIG(*status) == SIGTERM);
  // The control: a child that inherits the blocked mask does not stop on
  // SIGTERM, which is what spawn() is for.
  EXPECT_FALSE(wait_for_exit(inherited, 300).has_value());
}

}  // namespace
}  // namespace triad
