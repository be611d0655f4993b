#include "sequencer/sequencer.h"

#include <gtest/gtest.h>

namespace triad::sequencer {
namespace {

Digest digest_of(std::uint8_t b) {
  Digest d{};
  d[0] = b;
  return d;
}

using Kind = Admission::Kind;

TEST(Sequencer, SeqFromOneAndClockTime) {
  Sequencer s({.trust_client_time = false});
  const auto a = s.admit("t1", digest_of(1), 5, 1000);
  EXPECT_EQ(a.kind, Kind::kNew);
  EXPECT_EQ(a.seq, 1u);
  EXPECT_EQ(a.ts_ms, 1000);  // client ts ignored unless trusted
  const auto b = s.admit("t2", digest_of(2), std::nullopt, 1001);
  EXPECT_EQ(b.seq, 2u);
  EXPECT_EQ(b.ts_ms, 1001);
}

TEST(Sequencer, ClockGoingBackwardsIsRaised) {
  Sequencer s({});
  EXPECT_EQ(s.admit("t1", digest_of(1), {}, 2000).ts_ms, 2000);
  EXPECT_EQ(s.admit("t2", digest_of(2), {}, 1500).ts_ms, 2000);
}

TEST(Sequencer, TrustedClientTimeNeverGoesBackwards) {
  Sequencer s({.trust_client_time = true});
  EXPECT_EQ(s.admit("t1", digest_of(1), 5000, 1).ts_ms, 5000);
  EXPECT_EQ(s.admit("t2", digest_of(2), 4000, 1).ts_ms, 5000);
  EXPECT_EQ(s.admit("t3", digest_of(3), 6000, 1).ts_ms, 6000);
  EXPECT_EQ(s.admit("t4", digest_of(4), std::nullopt, 7).ts_ms, 6000);  // no ts: clock, raised
}

TEST(Sequencer, RepeatedIdIsAnsweredNotResequenced) {
  Sequencer s({});
  s.admit("t1", digest_of(1), {}, 10);
  s.admit("t2", digest_of(2), {}, 11);
  const auto again = s.admit("t1", digest_of(1), {}, 99);
  EXPECT_EQ(again.kind, Kind::kRepeated);
  EXPECT_EQ(again.seq, 1u);
  EXPECT_EQ(again.ts_ms, 10);
  EXPECT_EQ(s.last_seq(), 2u);
}

TEST(Sequencer, SameIdDifferentContentIsRefused) {
  Sequencer s({});
  s.admit("t1", digest_of(1), {}, 10);
  EXPECT_EQ(s.admit("t1", digest_of(9), {}, 11).kind, Kind::kIdReused);
  EXPECT_EQ(s.last_seq(), 1u);
  EXPECT_EQ(s.admit("t2", digest_of(2), {}, 12).seq, 2u);  // no seq was consumed
}

// After a restart the record comes back from the journal: earlier ids answer
// with their seq, new ones continue after the last, time never goes back.
TEST(Sequencer, RestoreThenContinue) {
  Sequencer s({});
  ASSERT_TRUE(s.restore("t1", digest_of(1), 1, 5000).is_ok());
  ASSERT_TRUE(s.restore("t2", digest_of(2), 2, 6000).is_ok());
  EXPECT_EQ(s.last_seq(), 2u);
  EXPECT_EQ(s.lookup("t1", digest_of(1)).kind, Kind::kRepeated);
  EXPECT_EQ(s.lookup("t1", digest_of(9)).kind, Kind::kIdReused);
  EXPECT_EQ(s.lookup("t3", digest_of(3)).kind, Kind::kNew);
  EXPECT_EQ(s.last_seq(), 2u) << "lookup sequences nothing";
  const auto again = s.admit("t2", digest_of(2), {}, 1);
  EXPECT_EQ(again.kind, Kind::kRepeated);
  EXPECT_EQ(again.seq, 2u);
  EXPECT_EQ(again.ts_ms, 6000);
  const auto next = s.admit("t3", digest_of(3), {}, 100);  // a clock behind the journal
  EXPECT_EQ(next.seq, 3u);
  EXPECT_EQ(next.ts_ms, 6000);
}

TEST(Sequencer, RestoreRefusesWhatAdmitCannotHaveDone) {
  Sequencer s({});
  ASSERT_TRUE(s.restore("t1", digest_of(1), 1, 5000).is_ok());
  EXPECT_EQ(s.restore("t1", digest_of(1), 2, 5000).code(), Status::Code::kCorruption);
  Sequencer t({});
  ASSERT_TRUE(t.restore("t1", digest_of(1), 1, 5000).is_ok());
  EXPECT_EQ(t.restore("t2", digest_of(2), 2, 4999).code(), Status::Code::kCorruption);
}

}  // namespace
}  // namespace triad::sequencer
