// SnapshotWriter: what the core hands over is written to DIR/snapshot on the
// writer's thread, once its state gives the checkpoint digest it claims.
#include "frontend/snapshot_writer.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "process/process_util.h"
#include "replica/checkpoint.h"
#include "rules/engine.h"
#include "sample/sample.h"

namespace triad::frontend {
namespace {

using triad::testing::TempDir;

// A snapshot of a fresh engine over a small card file, digests as a
// majority would have agreed them.
journal::StoredSnapshot snapshot_at(std::uint64_t seq) {
  sample::Options options;
  options.card_count = 20;
  rules::CardFile cards;
  EXPECT_TRUE(rules::parse_card_file(sample::generate_card_file(options), &cards).is_ok());
  const rules::Engine engine(cards);
  std::string state;
  engine.serialize(&state);
  journal::StoredSnapshot s;
  s.seq = seq;
  s.engine_state.assign(state.begin(), state.end());
  EXPECT_TRUE(replica::checkpoint_digest(state, &s.checkpoint_digest).is_ok());
  s.state_digest[0] = 7;
  s.certificate = {1, 2, 3};
  return s;
}

class SnapshotWriterTest : public ::testing::Test {
 protected:
  int open_fd(const std::string& name) {
    const int fd = ::open(tmp_.file(name).c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    EXPECT_GE(fd, 0);
    return fd;
  }
  // Waits (at most 10 s) until `path` reads back as a snapshot of `seq`.
  bool stored_at(std::uint64_t seq) {
    for (int i = 0; i < 1000; ++i) {
      journal::StoredSnapshot got;
      if (journal::read_snapshot_file(path(), key_, &got).is_ok() && got.seq == seq) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  // The writer's progress once nothing is on its way (at most 10 s): the
  // file is renamed into place before the progress says so.
  static SnapshotWriter::Progress settled(const SnapshotWriter& writer) {
    for (int i = 0; i < 1000 && writer.progress().pending_seq != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return writer.progress();
  }
  std::string path() const { return tmp_.file("snapshot"); }
  TempDir tmp_;
  crypto::SymmetricKey key_ = crypto::SymmetricKey::generate();
};

TEST_F(SnapshotWriterTest, WritesWhatItIsGivenOnItsThread) {
  SnapshotWriter writer(path(), key_, open_fd("journal"), open_fd("certificates"), 0);
  const journal::StoredSnapshot given = snapshot_at(1000);
  writer.write(given);
  ASSERT_TRUE(stored_at(1000));
  journal::StoredSnapshot got;
  ASSERT_TRUE(journal::read_snapshot_file(path(), key_, &got).is_ok());
  EXPECT_EQ(got.engine_state, given.engine_state);
  EXPECT_EQ(got.checkpoint_digest, given.checkpoint_digest);
  EXPECT_EQ(got.state_digest, given.state_digest);
  EXPECT_EQ(got.certificate, given.certificate);
  writer.write(snapshot_at(2000));
  EXPECT_TRUE(stored_at(2000)) << "the newer one replaces it";
  const SnapshotWriter::Progress p = settled(writer);
  EXPECT_EQ(p.written_seq, 2000u);
  EXPECT_EQ(p.written, 2u);
  EXPECT_EQ(p.failed, 0u);
}

// What `triad status` reports: the newest snapshot on file, not the newest
// handed over, and why the others are not there.
TEST_F(SnapshotWriterTest, ReportsWhatReachedTheFileAndWhatDidNot) {
  SnapshotWriter writer(path(), key_, open_fd("journal"), open_fd("certificates"), 1000);
  EXPECT_EQ(writer.progress().written_seq, 1000u) << "the one the run started from";
  writer.write(snapshot_at(2000));
  SnapshotWriter::Progress p = settled(writer);
  EXPECT_EQ(p.pending_seq, 0u) << "nothing left on its way";
  EXPECT_EQ(p.written_seq, 2000u);
  EXPECT_EQ(p.written, 1u);
  EXPECT_EQ(p.failed, 0u);
  EXPECT_EQ(p.last_error, "");

  journal::StoredSnapshot digest_changed = snapshot_at(3000);
  digest_changed.checkpoint_digest[5] ^= 1;
  writer.write(digest_changed);
  p = settled(writer);
  EXPECT_EQ(p.pending_seq, 0u);
  EXPECT_EQ(p.written_seq, 2000u) << "still the one on file";
  EXPECT_EQ(p.failed, 1u);
  EXPECT_NE(p.last_error.find("seq 3000: engine snapshot: its state does not give the checkpoint "
                              "digest"),
            std::string::npos)
      << p.last_error;

  writer.count_failure("seq 4000: the certificates file cannot be written");
  p = writer.progress();
  EXPECT_EQ(p.failed, 2u);
  EXPECT_EQ(p.last_error, "seq 4000: the certificates file cannot be written");
  EXPECT_EQ(p.written_seq, 2000u);
}

// A state that does not give its checkpoint digest is not stored: the one
// stored before stays.
TEST_F(SnapshotWriterTest, AStateThatDoesNotGiveItsCheckpointDigestIsNotStored) {
  {
    SnapshotWriter writer(path(), key_, open_fd("journal"), open_fd("certificates"), 0);
    writer.write(snapshot_at(1000));
    ASSERT_TRUE(stored_at(1000));
  }
  journal::StoredSnapshot state_changed = snapshot_at(2000);
  state_changed.engine_state[state_changed.engine_state.size() / 2] ^= 1;
  journal::StoredSnapshot digest_changed = snapshot_at(3000);
  digest_changed.checkpoint_digest[5] ^= 1;
  for (const journal::StoredSnapshot& bad : {state_changed, digest_changed}) {
    {
      SnapshotWriter writer(path(), key_, open_fd("journal"), open_fd("certificates"), 0);
      writer.write(bad);
    }  // the destructor writes what waits first
    EXPECT_TRUE(stored_at(1000)) << bad.seq;
  }
}

// A journal or certificates file that cannot be synced: the snapshot could
// reach past what a power cut leaves of them, so it is not written.
TEST_F(SnapshotWriterTest, NothingIsWrittenWhenTheFilesBehindItCannotBeSynced) {
  for (const bool journal_fails : {true, false}) {
    int pipe_fds[2];
    ASSERT_EQ(::pipe(pipe_fds), 0);  // fdatasync of a pipe fails (EINVAL)
    ::close(pipe_fds[1]);
    {
      SnapshotWriter writer(path(), key_, journal_fails ? pipe_fds[0] : open_fd("journal"),
                            journal_fails ? open_fd("certificates") : pipe_fds[0], 0);
      writer.write(snapshot_at(1000));
    }
    EXPECT_FALSE(std::filesystem::exists(path())) << journal_fails;
  }
}

}  // namespace
}  // namespace triad::frontend
