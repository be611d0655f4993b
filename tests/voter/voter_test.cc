// Tests of the voter core. Everything is driven by injected time values, so
// every run is the same. Three layers:
//  - readable scenario tests, one rule each;
//  - an exhaustive test of every combination of per-replica behaviour in
//    every arrival order, checked against a deliberately naive oracle;
//  - a seeded randomized run over 100,000 interleaved seqs, checked against
//    the same oracle and a simple model of which seqs are open.
#include "voter/voter.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <initializer_list>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

namespace triad::voter {
namespace {

constexpr std::uint64_t kDeadlineUs = 1000;
constexpr int kA = 0;
constexpr int kB = 1;
constexpr int kC = 2;

std::uint8_t mask(std::initializer_list<int> replicas) {
  unsigned m = 0;
  for (int r : replicas) m |= 1u << static_cast<unsigned>(r);
  return static_cast<std::uint8_t>(m);
}

Digest filled(std::uint8_t value) {
  Digest d;
  d.fill(value);
  return d;
}

// The verdict content a correct replica gives for `seq`: an approval, so a
// voter bug that releases it without a real majority shows up as a 00.
VerdictContent correct(std::uint64_t seq) {
  VerdictContent c;
  c.seq = seq;
  c.ts_ms = 1'700'000'000'000 + static_cast<std::int64_t>(seq % 1'000'000);
  c.tx_digest = filled(0x5a);
  c.tx_digest[0] = static_cast<std::uint8_t>(seq & 0xff);
  c.tx_digest[1] = static_cast<std::uint8_t>((seq >> 8) & 0xff);
  c.code = ResponseCode::kApproved;
  c.state_digest = filled(0x11);
  c.rules_version = 1;
  return c;
}

VerdictContent with_code(VerdictContent c, ResponseCode code) {
  c.code = code;
  return c;
}

VerdictContent with_state_digest(VerdictContent c, std::uint8_t fill) {
  c.state_digest = filled(fill);
  return c;
}

ReplicaVerdict make_verdict(int replica, const VerdictContent& content,
                            bool signature_valid = true) {
  ReplicaVerdict v;
  v.replica = replica;
  v.content = content;
  v.signature_valid = signature_valid;
  // Longer than any small-string buffer, so copies really copy.
  v.fingerprint =
      std::string("gcc 12.2.0 -O2 libstdc++ rev 0123456789abcdef replica ") + replica_name(replica);
  v.signature.fill(static_cast<std::uint8_t>(0xa0 + replica));
  v.signature[0] = static_cast<std::uint8_t>(content.seq & 0xff);
  return v;
}

// ---------------------------------------------------------------------------
// Readable scenario tests.

class VoterTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kT0 = 10'000;
  Voter voter_{Voter::Config{.deadline_us = kDeadlineUs}};
  Output out_;

  void send(int replica, const VerdictContent& content, std::uint64_t now_us,
            bool signature_valid = true) {
    voter_.on_verdict(make_verdict(replica, content, signature_valid), now_us, &out_);
  }
};

TEST_F(VoterTest, TwoAgreeDecideAtTheSecondVerdictNotBefore) {
  voter_.open(1, kT0);
  send(kA, correct(1), kT0 + 10);
  EXPECT_TRUE(out_.decisions.empty());
  EXPECT_TRUE(out_.divergences.empty());

  send(kC, correct(1), kT0 + 20);
  ASSERT_EQ(out_.decisions.size(), 1u);
  const Decision& d = out_.decisions[0];
  EXPECT_EQ(d.seq, 1u);
  EXPECT_EQ(d.kind, DecisionKind::kAgreed);
  EXPECT_EQ(d.code, ResponseCode::kApproved);
  EXPECT_EQ(d.agree_mask, mask({kA, kC}));
  EXPECT_EQ(d.divergent_mask, 0);
  ASSERT_EQ(d.signers.size(), 2u);
  EXPECT_EQ(d.signers[0].replica, kA);  // arrival order
  EXPECT_EQ(d.signers[1].replica, kC);
  EXPECT_EQ(d.signers[0].signature, make_verdict(kA, correct(1)).signature);
  EXPECT_EQ(d.signers[1].fingerprint, make_verdict(kC, correct(1)).fingerprint);
  EXPECT_TRUE(out_.divergences.empty());
  EXPECT_EQ(voter_.open_count(), 1u);  // still waiting for b
}

TEST_F(VoterTest, ThirdAgreeingVerdictIsNoDivergenceAndClosesTheSeq) {
  voter_.open(1, kT0);
  send(kB, correct(1), kT0 + 10);
  send(kA, correct(1), kT0 + 20);
  out_.clear();
  send(kC, correct(1), kT0 + 30);
  EXPECT_TRUE(out_.decisions.empty());
  EXPECT_TRUE(out_.divergences.empty());
  EXPECT_EQ(voter_.open_count(), 0u);
  EXPECT_EQ(voter_.next_deadline_us(), std::nullopt);
  voter_.on_time(kT0 + 10 * kDeadlineUs, &out_);  // nothing missing later
  EXPECT_TRUE(out_.divergences.empty());
  EXPECT_TRUE(out_.decisions.empty());
}

TEST_F(VoterTest, ThirdDifferingAfterTheDecisionIsADivergenceWithEvidence) {
  voter_.open(1, kT0);
  voter_.open(2, kT0);
  for (std::uint64_t seq : {1u, 2u}) {
    send(kA, correct(seq), kT0 + 10);
    send(kB, correct(seq), kT0 + 20);
  }
  out_.clear();

  const VerdictContent declined = with_code(correct(1), ResponseCode::kInsufficientFunds);
  send(kC, declined, kT0 + 30);
  EXPECT_TRUE(out_.decisions.empty());
  ASSERT_EQ(out_.divergences.size(), 1u);
  const Divergence& wrong = out_.divergences[0];
  EXPECT_EQ(wrong.seq, 1u);
  EXPECT_EQ(wrong.replica, kC);
  EXPECT_EQ(wrong.kind, DivergenceKind::kWrongVerdict);
  EXPECT_EQ(wrong.majority, correct(1));
  EXPECT_EQ(wrong.observed, declined);

  out_.clear();
  const VerdictContent corrupted = with_state_digest(correct(2), 0xee);
  send(kC, corrupted, kT0 + 40);
  ASSERT_EQ(out_.divergences.size(), 1u);
  const Divergence& digest = out_.divergences[0];
  EXPECT_EQ(digest.seq, 2u);
  EXPECT_EQ(digest.kind, DivergenceKind::kStateDigestMismatch);
  EXPECT_EQ(digest.majority, correct(2));
  EXPECT_EQ(digest.observed, corrupted);
  EXPECT_EQ(voter_.open_count(), 0u);
}

TEST_F(VoterTest, SameCodeButAnotherFieldDifferentIsAWrongVerdict) {
  voter_.open(1, kT0);
  send(kA, correct(1), kT0 + 10);
  send(kB, correct(1), kT0 + 20);
  out_.clear();
  VerdictContent other_tx = correct(1);
  other_tx.tx_digest[5] ^= 1;
  send(kC, other_tx, kT0 + 30);
  ASSERT_EQ(out_.divergences.size(), 1u);
  EXPECT_EQ(out_.divergences[0].kind, DivergenceKind::kWrongVerdict);
}

TEST_F(VoterTest, DisagreementBeforeAMajorityIsJudgedWhenTheMajorityForms) {
  voter_.open(1, kT0);
  const VerdictContent declined = with_code(correct(1), ResponseCode::kStolenCard);
  send(kA, declined, kT0 + 10);
  send(kB, correct(1), kT0 + 20);
  EXPECT_TRUE(out_.decisions.empty());
  EXPECT_TRUE(out_.divergences.empty());  // who is wrong is not known yet

  send(kC, correct(1), kT0 + 30);
  ASSERT_EQ(out_.decisions.size(), 1u);
  EXPECT_EQ(out_.decisions[0].code, ResponseCode::kApproved);
  EXPECT_EQ(out_.decisions[0].agree_mask, mask({kB, kC}));
  EXPECT_EQ(out_.decisions[0].divergent_mask, mask({kA}));
  ASSERT_EQ(out_.divergences.size(), 1u);
  EXPECT_EQ(out_.divergences[0].replica, kA);
  EXPECT_EQ(out_.divergences[0].kind, DivergenceKind::kWrongVerdict);
  EXPECT_EQ(out_.divergences[0].observed, declined);
  EXPECT_EQ(out_.divergences[0].majority, correct(1));
}

TEST_F(VoterTest, TwoBadSignaturesAndOneValidGive91Never00) {
  voter_.open(1, kT0);
  send(kA, correct(1), kT0 + 10, /*signature_valid=*/false);
  ASSERT_EQ(out_.divergences.size(), 1u);
  EXPECT_EQ(out_.divergences[0].kind, DivergenceKind::kBadSignature);
  EXPECT_EQ(out_.divergences[0].observed, correct(1));
  EXPECT_EQ(out_.divergences[0].majority, std::nullopt);
  EXPECT_TRUE(out_.decisions.empty());

  // The second bad signature leaves no way to a majority: decide now.
  send(kB, correct(1), kT0 + 20, /*signature_valid=*/false);
  ASSERT_EQ(out_.decisions.size(), 1u);
  const Decision& d = out_.decisions[0];
  EXPECT_EQ(d.kind, DecisionKind::kTooFewAnswers);
  EXPECT_EQ(d.code, ResponseCode::kIssuerInoperative);
  EXPECT_TRUE(d.signers.empty());
  EXPECT_EQ(d.agree_mask, 0);
  EXPECT_EQ(d.divergent_mask, mask({kA, kB}));

  out_.clear();
  send(kC, correct(1), kT0 + 30);
  EXPECT_TRUE(out_.decisions.empty());
  EXPECT_TRUE(out_.divergences.empty());
  EXPECT_EQ(voter_.open_count(), 0u);
}

TEST_F(VoterTest, AllThreeDifferentGive96AtTheThirdVerdict) {
  voter_.open(1, kT0);
  send(kA, correct(1), kT0 + 10);
  send(kB, with_code(correct(1), ResponseCode::kExpiredCard), kT0 + 20);
  EXPECT_TRUE(out_.decisions.empty());
  send(kC, with_state_digest(correct(1), 0x99), kT0 + 30);
  ASSERT_EQ(out_.decisions.size(), 1u);
  EXPECT_EQ(out_.decisions[0].kind, DecisionKind::kNoAgreement);
  EXPECT_EQ(out_.decisions[0].code, ResponseCode::kSystemMalfunction);
  EXPECT_EQ(out_.decisions[0].divergent_mask, 0);  // nobody can be blamed
  EXPECT_TRUE(out_.divergences.empty());
  EXPECT_EQ(voter_.open_count(), 0u);
}

TEST_F(VoterTest, TwoMissingGive91AtTheDeadline) {
  voter_.open(1, kT0);
  send(kB, correct(1), kT0 + 10);
  voter_.on_time(kT0 + kDeadlineUs - 1, &out_);
  EXPECT_TRUE(out_.decisions.empty());
  EXPECT_TRUE(out_.divergences.empty());

  voter_.on_time(kT0 + kDeadlineUs, &out_);
  ASSERT_EQ(out_.decisions.size(), 1u);
  EXPECT_EQ(out_.decisions[0].kind, DecisionKind::kTooFewAnswers);
  EXPECT_EQ(out_.decisions[0].code, ResponseCode::kIssuerInoperative);
  EXPECT_EQ(out_.decisions[0].divergent_mask, mask({kA, kC}));
  ASSERT_EQ(out_.divergences.size(), 2u);
  for (const Divergence& d : out_.divergences) {
    EXPECT_EQ(d.kind, DivergenceKind::kMissing);
    EXPECT_NE(d.replica, kB);
    EXPECT_EQ(d.majority, std::nullopt);
    EXPECT_EQ(d.observed, std::nullopt);
    EXPECT_EQ(d.answered_mask, mask({kB})) << "b answered in time what they did not";
  }
  EXPECT_EQ(voter_.open_count(), 0u);
}

TEST_F(VoterTest, MissingAfterAnAgreementCarriesTheMajority) {
  voter_.open(1, kT0);
  send(kA, correct(1), kT0 + 10);
  send(kB, correct(1), kT0 + 20);
  out_.clear();
  voter_.on_time(kT0 + kDeadlineUs, &out_);
  EXPECT_TRUE(out_.decisions.empty());
  ASSERT_EQ(out_.divergences.size(), 1u);
  EXPECT_EQ(out_.divergences[0].replica, kC);
  EXPECT_EQ(out_.divergences[0].kind, DivergenceKind::kMissing);
  EXPECT_EQ(out_.divergences[0].majority, correct(1));
  EXPECT_EQ(out_.divergences[0].answered_mask, mask({kA, kB}));
}

TEST_F(VoterTest, AVerdictExactlyAtTheDeadlineDoesNotCount) {
  voter_.open(1, kT0);
  send(kA, correct(1), kT0 + 10);
  send(kB, correct(1), kT0 + kDeadlineUs);  // expires the seq first
  ASSERT_EQ(out_.decisions.size(), 1u);
  EXPECT_EQ(out_.decisions[0].kind, DecisionKind::kTooFewAnswers);
  EXPECT_EQ(out_.decisions[0].code, ResponseCode::kIssuerInoperative);
  ASSERT_EQ(out_.divergences.size(), 2u);
  for (const Divergence& d : out_.divergences) EXPECT_EQ(d.answered_mask, mask({kA}));
  EXPECT_EQ(voter_.late_verdicts(), 1u);
}

TEST_F(VoterTest, AVerdictJustBeforeTheDeadlineCounts) {
  voter_.open(1, kT0);
  send(kA, correct(1), kT0 + 10);
  send(kB, correct(1), kT0 + kDeadlineUs - 1);
  ASSERT_EQ(out_.decisions.size(), 1u);
  EXPECT_EQ(out_.decisions[0].kind, DecisionKind::kAgreed);
  EXPECT_EQ(voter_.late_verdicts(), 0u);
}

TEST_F(VoterTest, LateVerdictsForClosedOrUnknownSeqsAreCounted) {
  voter_.open(1, kT0);
  voter_.open(2, kT0);
  for (int r : {kA, kB, kC}) send(r, correct(1), kT0 + 10);  // seq 1 closes early
  voter_.on_time(kT0 + kDeadlineUs, &out_);                  // seq 2 closes at its deadline
  out_.clear();
  EXPECT_EQ(voter_.late_verdicts(), 0u);

  send(kA, correct(1), kT0 + kDeadlineUs + 1);  // closed early
  send(kB, correct(2), kT0 + kDeadlineUs + 2);  // closed at the deadline
  send(kC, correct(3), kT0 + kDeadlineUs + 3);  // never opened
  send(kC, correct(0), kT0 + kDeadlineUs + 4);  // never opened, below the first seq
  EXPECT_EQ(voter_.late_verdicts(), 4u);
  EXPECT_TRUE(out_.decisions.empty());
  EXPECT_TRUE(out_.divergences.empty());
}

TEST_F(VoterTest, DuplicateVerdictFromTheSameReplicaIsIgnored) {
  voter_.open(1, kT0);
  send(kA, with_code(correct(1), ResponseCode::kLostCard), kT0 + 10);
  send(kA, correct(1), kT0 + 20);  // a second answer is no vote
  send(kA, correct(1), kT0 + 25, /*signature_valid=*/false);
  EXPECT_TRUE(out_.decisions.empty());
  EXPECT_TRUE(out_.divergences.empty());
  EXPECT_EQ(voter_.duplicate_verdicts(), 2u);

  send(kB, correct(1), kT0 + 30);
  EXPECT_TRUE(out_.decisions.empty());  // a and b disagree; a's duplicate did not count
  send(kC, correct(1), kT0 + 40);
  ASSERT_EQ(out_.decisions.size(), 1u);
  EXPECT_EQ(out_.decisions[0].agree_mask, mask({kB, kC}));
  ASSERT_EQ(out_.divergences.size(), 1u);
  EXPECT_EQ(out_.divergences[0].replica, kA);
  EXPECT_EQ(out_.divergences[0].observed->code, ResponseCode::kLostCard);
  EXPECT_EQ(voter_.late_verdicts(), 0u);
}

TEST_F(VoterTest, NextDeadlineIsTheOldestOpenSeqs) {
  EXPECT_EQ(voter_.next_deadline_us(), std::nullopt);
  EXPECT_EQ(voter_.open_count(), 0u);
  voter_.open(1, kT0);
  voter_.open(2, kT0 + 100);
  voter_.open(3, kT0 + 200);
  EXPECT_EQ(voter_.next_deadline_us(), kT0 + kDeadlineUs);
  EXPECT_EQ(voter_.open_count(), 3u);

  voter_.on_time(kT0 + kDeadlineUs + 100, &out_);  // seqs 1 and 2 expire
  EXPECT_EQ(out_.decisions.size(), 2u);
  EXPECT_EQ(voter_.next_deadline_us(), kT0 + 200 + kDeadlineUs);
  EXPECT_EQ(voter_.open_count(), 1u);

  voter_.on_time(kT0 + kDeadlineUs + 200, &out_);
  EXPECT_EQ(voter_.next_deadline_us(), std::nullopt);
  EXPECT_EQ(voter_.open_count(), 0u);
}

TEST_F(VoterTest, ManySeqsInterleavedWithOutOfOrderCloses) {
  constexpr std::uint64_t kSeqs = 300;  // more than the ring's first capacity
  for (std::uint64_t seq = 1; seq <= kSeqs; ++seq) voter_.open(seq, kT0 + seq);
  // Close every seq that is not a multiple of 3, newest first, by three
  // agreeing verdicts; interleave the replicas across seqs.
  for (int r : {kC, kA, kB}) {
    for (std::uint64_t seq = kSeqs; seq >= 1; --seq) {
      if (seq % 3 != 0) send(r, correct(seq), kT0 + 500);
    }
  }
  EXPECT_EQ(out_.decisions.size(), kSeqs - kSeqs / 3);
  EXPECT_TRUE(out_.divergences.empty());
  EXPECT_EQ(voter_.open_count(), kSeqs / 3);
  EXPECT_EQ(voter_.next_deadline_us(), kT0 + 3 + kDeadlineUs);  // seq 3 is the oldest open

  // Seqs that are multiples of 3 get two answers; seq 3 and 6 a third too.
  out_.clear();
  for (std::uint64_t seq = 3; seq <= kSeqs; seq += 3) {
    send(kA, correct(seq), kT0 + 600);
    send(kB, correct(seq), kT0 + 600);
  }
  send(kC, correct(3), kT0 + 700);
  send(kC, correct(6), kT0 + 700);
  EXPECT_EQ(out_.decisions.size(), kSeqs / 3);
  EXPECT_EQ(voter_.open_count(), kSeqs / 3 - 2);
  EXPECT_EQ(voter_.next_deadline_us(), kT0 + 9 + kDeadlineUs);

  // Everything else times out with c missing.
  out_.clear();
  voter_.on_time(kT0 + kSeqs + kDeadlineUs, &out_);
  EXPECT_TRUE(out_.decisions.empty());
  EXPECT_EQ(out_.divergences.size(), kSeqs / 3 - 2);
  for (const Divergence& d : out_.divergences) {
    EXPECT_EQ(d.replica, kC);
    EXPECT_EQ(d.kind, DivergenceKind::kMissing);
    EXPECT_EQ(d.seq % 3, 0u);
  }
  EXPECT_EQ(voter_.open_count(), 0u);
  EXPECT_EQ(voter_.next_deadline_us(), std::nullopt);

  // The ring is reused after emptying.
  voter_.open(kSeqs + 1, kT0 + 5000);
  send(kA, correct(kSeqs + 1), kT0 + 5001);
  send(kB, correct(kSeqs + 1), kT0 + 5002);
  EXPECT_EQ(out_.decisions.size(), 1u);
}

TEST(Voter, FirstSeqIsConfigurable) {
  Voter voter(Voter::Config{.deadline_us = kDeadlineUs, .first_seq = 1000});
  Output out;
  voter.open(1000, 0);
  voter.open(1001, 0);
  voter.on_verdict(make_verdict(kA, correct(999), true), 1, &out);
  EXPECT_EQ(voter.late_verdicts(), 1u);
  voter.on_verdict(make_verdict(kA, correct(1001), true), 1, &out);
  voter.on_verdict(make_verdict(kC, correct(1001), true), 2, &out);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_EQ(out.decisions[0].seq, 1001u);
}

TEST(Voter, TimeGoingBackwardsIsTakenAsTheLatestSeen) {
  Voter voter(Voter::Config{.deadline_us = kDeadlineUs});
  Output out;
  voter.open(1, 5000);
  voter.on_time(6000, &out);  // seq 1 expires
  ASSERT_EQ(out.decisions.size(), 1u);
  voter.open(2, 100);  // an older clock reading: the deadline is 6000 + 1000
  EXPECT_EQ(voter.next_deadline_us(), 7000u);
  out.clear();
  voter.on_verdict(make_verdict(kA, correct(2), true), 200, &out);
  voter.on_verdict(make_verdict(kB, correct(2), true), 300, &out);
  EXPECT_EQ(out.decisions.size(), 1u);
}

TEST(Voter, ToString) {
  EXPECT_STREQ(to_string(DivergenceKind::kWrongVerdict), "wrong_verdict");
  EXPECT_STREQ(to_string(DivergenceKind::kStateDigestMismatch), "state_digest_mismatch");
  EXPECT_STREQ(to_string(DivergenceKind::kBadSignature), "bad_signature");
  EXPECT_STREQ(to_string(DivergenceKind::kMissing), "missing");
  EXPECT_STREQ(to_string(DecisionKind::kAgreed), "agreed");
  EXPECT_STREQ(to_string(DecisionKind::kNoAgreement), "no_agreement");
  EXPECT_STREQ(to_string(DecisionKind::kTooFewAnswers), "too_few_answers");
}

TEST(VoterDeathTest, MisuseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Output out;
  EXPECT_DEATH(
      {
        Voter voter(Voter::Config{});
        voter.open(2, 0);
      },
      "assertion failed");
  EXPECT_DEATH(
      {
        Voter voter(Voter::Config{});
        voter.open(1, 0);
        voter.open(1, 0);
      },
      "assertion failed");
  EXPECT_DEATH(
      {
        Voter voter(Voter::Config{});
        voter.open(1, 0);
        voter.on_verdict(make_verdict(3, correct(1)), 1, &out);
      },
      "assertion failed");
  EXPECT_DEATH(
      {
        Voter voter(Voter::Config{});
        voter.on_time(1, nullptr);
      },
      "assertion failed");
}

// ---------------------------------------------------------------------------
// The oracle: what should happen to one seq, from the final picture of what
// each replica delivered in time and in which order. Written from the rules,
// not from the implementation: no incremental state, just look at all of it.

// An array indexed by replica number.
template <typename T>
struct PerReplica {
  std::array<T, kReplicaCount> items{};
  T& operator[](int r) { return items[static_cast<std::size_t>(r)]; }
  const T& operator[](int r) const { return items[static_cast<std::size_t>(r)]; }
  void fill(const T& value) { items.fill(value); }
};

enum class Said : std::uint8_t { kNothing, kValid, kBadSignature };

struct Reply {
  Said said = Said::kNothing;  // kNothing also for a verdict at or after the deadline
  VerdictContent content{};
  int step = 0;  // 1, 2, 3: position among the in-time verdicts for this seq
};
using Replies = PerReplica<Reply>;

// When an output is made: at in-time verdict number 1, 2 or 3, or at the
// deadline. Anything else (0 or 5 in the tests) is wrong.
constexpr int kAtDeadline = 4;

struct ExpectedDivergence {
  DivergenceKind kind = DivergenceKind::kMissing;
  int step = 0;
  std::optional<VerdictContent> majority;
  std::optional<VerdictContent> observed;
  std::uint8_t answered_mask = 0;  // kMissing: who answered it validly in time
};

struct Expected {
  DecisionKind kind = DecisionKind::kAgreed;
  ResponseCode code = ResponseCode::kSystemMalfunction;
  std::vector<int> signers;  // replicas, arrival order
  std::uint8_t agree_mask = 0;
  std::uint8_t divergent_mask = 0;
  int step = 0;
  PerReplica<std::optional<ExpectedDivergence>> divergences;
};

bool only_state_digest_differs(const VerdictContent& a, const VerdictContent& b) {
  return a.seq == b.seq && a.ts_ms == b.ts_ms && a.tx_digest == b.tx_digest && a.code == b.code &&
         a.rules_version == b.rules_version && a.state_digest != b.state_digest;
}

Expected oracle(const Replies& replies) {
  std::vector<int> arrived;  // replicas in arrival order
  for (int step = 1; step <= kReplicaCount; ++step) {
    for (int r = 0; r < kReplicaCount; ++r) {
      if (replies[r].said != Said::kNothing && replies[r].step == step) arrived.push_back(r);
    }
  }
  auto is_valid = [&](int r) { return replies[r].said == Said::kValid; };
  std::uint8_t answered = 0;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (is_valid(r)) answered |= mask({r});
  }

  Expected e;
  // The majority forms at the first arrival that repeats an earlier valid
  // verdict exactly.
  for (std::size_t j = 0; j < arrived.size() && e.signers.empty(); ++j) {
    for (std::size_t i = 0; i < j; ++i) {
      const int first = arrived[i];
      const int second = arrived[j];
      if (is_valid(first) && is_valid(second) &&
          replies[first].content == replies[second].content) {
        e.signers = {first, second};
        e.step = replies[second].step;
        break;
      }
    }
  }

  if (!e.signers.empty()) {
    const VerdictContent majority = replies[e.signers[1]].content;
    e.kind = DecisionKind::kAgreed;
    e.code = majority.code;
    e.agree_mask = mask({e.signers[0], e.signers[1]});
    for (int r = 0; r < kReplicaCount; ++r) {
      const Reply& reply = replies[r];
      if (reply.said == Said::kNothing) {
        e.divergences[r] =
            ExpectedDivergence{DivergenceKind::kMissing, kAtDeadline, majority, {}, answered};
      } else if (reply.said == Said::kBadSignature) {
        std::optional<VerdictContent> known;
        if (reply.step > e.step) known = majority;
        e.divergences[r] =
            ExpectedDivergence{DivergenceKind::kBadSignature, reply.step, known, reply.content, 0};
      } else if (reply.content != majority) {
        const DivergenceKind kind = only_state_digest_differs(reply.content, majority)
                                        ? DivergenceKind::kStateDigestMismatch
                                        : DivergenceKind::kWrongVerdict;
        e.divergences[r] =
            ExpectedDivergence{kind, std::max(reply.step, e.step), majority, reply.content, 0};
      }
    }
  } else {
    int valid = 0;
    std::vector<int> bad;  // arrival order
    for (int r : arrived) {
      if (is_valid(r)) ++valid;
      if (replies[r].said == Said::kBadSignature) bad.push_back(r);
    }
    e.kind = valid >= 2 ? DecisionKind::kNoAgreement : DecisionKind::kTooFewAnswers;
    e.code = valid >= 2 ? ResponseCode::kSystemMalfunction : ResponseCode::kIssuerInoperative;
    if (bad.size() >= 2) {
      e.step = replies[bad[1]].step;  // no majority can form any more
    } else if (arrived.size() == kReplicaCount) {
      e.step = kReplicaCount;
    } else {
      e.step = kAtDeadline;
    }
    for (int r = 0; r < kReplicaCount; ++r) {
      const Reply& reply = replies[r];
      if (reply.said == Said::kNothing) {
        e.divergences[r] =
            ExpectedDivergence{DivergenceKind::kMissing, kAtDeadline, {}, {}, answered};
      } else if (reply.said == Said::kBadSignature) {
        e.divergences[r] =
            ExpectedDivergence{DivergenceKind::kBadSignature, reply.step, {}, reply.content, 0};
      }
    }
  }
  for (int r = 0; r < kReplicaCount; ++r) {
    if (e.divergences[r] && e.divergences[r]->step <= e.step) e.divergent_mask |= mask({r});
  }
  return e;
}

// ---------------------------------------------------------------------------
// What the voter said about one seq, with the step at which it said it.

struct SeenDecision {
  int step = 0;
  Decision decision;
};
struct SeenDivergence {
  int step = 0;
  Divergence divergence;
};
struct Record {
  std::vector<SeenDecision> decisions;
  std::vector<SeenDivergence> divergences;
  std::string problems;  // invariants broken at emission time
};

std::string mask_text(std::uint8_t m) {
  std::string s;
  for (int r = 0; r < kReplicaCount; ++r) {
    if ((m >> r) & 1) s += replica_name(r);
  }
  return "{" + s + "}";
}

std::string content_text(const std::optional<VerdictContent>& c) {
  if (!c) return "none";
  return "code " + to_string(c->code) + " digest " + std::to_string(c->state_digest[0]) + " ts " +
         std::to_string(c->ts_ms);
}

// Checks what must hold of every output, whatever the inputs, and files the
// output under its seq.
void collect(Output* out, const std::function<int(std::uint64_t)>& step_of,
             std::unordered_map<std::uint64_t, Record>* records) {
  for (Decision& d : out->decisions) {
    Record& rec = (*records)[d.seq];
    std::ostringstream p;
    if (d.kind == DecisionKind::kAgreed) {
      if (d.signers.size() != 2) {
        p << "agreed with " << d.signers.size() << " signers\n";
      } else {
        const ReplicaVerdict& s0 = d.signers[0];
        const ReplicaVerdict& s1 = d.signers[1];
        if (!s0.signature_valid || !s1.signature_valid) p << "agreed on a bad signature\n";
        if (s0.replica == s1.replica) p << "agreed with one replica twice\n";
        if (!(s0.content == s1.content)) p << "agreed on different contents\n";
        if (s0.content.seq != d.seq) p << "signer content for another seq\n";
        if (d.code != s0.content.code) p << "code is not the signers' code\n";
        if (d.agree_mask != mask({s0.replica, s1.replica})) p << "agree_mask is not the signers\n";
        if (s0.fingerprint != make_verdict(s0.replica, s0.content).fingerprint) {
          p << "signer fingerprint lost\n";
        }
      }
    } else {
      if (!d.signers.empty()) p << "fail-safe with signers\n";
      if (d.agree_mask != 0) p << "fail-safe with an agree_mask\n";
      const ResponseCode want = d.kind == DecisionKind::kNoAgreement
                                    ? ResponseCode::kSystemMalfunction
                                    : ResponseCode::kIssuerInoperative;
      if (d.code != want) p << "fail-safe with code " << to_string(d.code) << "\n";
    }
    rec.problems += p.str();
    rec.decisions.push_back(SeenDecision{step_of(d.seq), std::move(d)});
  }
  for (Divergence& d : out->divergences) {
    Record& rec = (*records)[d.seq];
    if (d.replica < 0 || d.replica >= kReplicaCount) rec.problems += "divergence of no replica\n";
    rec.divergences.push_back(SeenDivergence{step_of(d.seq), std::move(d)});
  }
  out->clear();
}

// Empty when `rec` is what `e` expects, else what differs.
std::string compare(const Expected& e, const Record& rec) {
  std::ostringstream o;
  o << rec.problems;
  if (rec.decisions.size() != 1) {
    o << "decisions: " << rec.decisions.size() << " instead of 1\n";
  } else {
    const SeenDecision& seen = rec.decisions[0];
    const Decision& d = seen.decision;
    if (d.kind != e.kind)
      o << "kind " << to_string(d.kind) << " want " << to_string(e.kind) << "\n";
    if (d.code != e.code)
      o << "code " << to_string(d.code) << " want " << to_string(e.code) << "\n";
    std::vector<int> signers;
    for (const ReplicaVerdict& v : d.signers) signers.push_back(v.replica);
    if (signers != e.signers) o << "signers differ\n";
    if (d.agree_mask != e.agree_mask) {
      o << "agree " << mask_text(d.agree_mask) << " want " << mask_text(e.agree_mask) << "\n";
    }
    if (d.divergent_mask != e.divergent_mask) {
      o << "divergent " << mask_text(d.divergent_mask) << " want " << mask_text(e.divergent_mask)
        << "\n";
    }
    if (seen.step != e.step) o << "decided at step " << seen.step << " want " << e.step << "\n";
  }
  for (int r = 0; r < kReplicaCount; ++r) {
    std::vector<const SeenDivergence*> seen;
    for (const SeenDivergence& s : rec.divergences) {
      if (s.divergence.replica == r) seen.push_back(&s);
    }
    const std::optional<ExpectedDivergence>& want = e.divergences[r];
    const char name = replica_name(r);
    if (!want) {
      if (!seen.empty()) {
        o << name << ": unexpected " << to_string(seen[0]->divergence.kind) << "\n";
      }
      continue;
    }
    if (seen.size() != 1) {
      o << name << ": " << seen.size() << " divergences, want one " << to_string(want->kind)
        << "\n";
      continue;
    }
    const Divergence& d = seen[0]->divergence;
    if (d.kind != want->kind) {
      o << name << ": " << to_string(d.kind) << " want " << to_string(want->kind) << "\n";
    }
    if (seen[0]->step != want->step) {
      o << name << ": at step " << seen[0]->step << " want " << want->step << "\n";
    }
    if (d.majority != want->majority) {
      o << name << ": majority " << content_text(d.majority) << " want "
        << content_text(want->majority) << "\n";
    }
    if (d.observed != want->observed) {
      o << name << ": observed " << content_text(d.observed) << " want "
        << content_text(want->observed) << "\n";
    }
    if (d.answered_mask != want->answered_mask) {
      o << name << ": answered " << mask_text(d.answered_mask) << " want "
        << mask_text(want->answered_mask) << "\n";
    }
  }
  return o.str();
}

// ---------------------------------------------------------------------------
// Every combination of per-replica behaviour, in every arrival order.

enum class Behaviour : std::uint8_t {
  kAgree,         // the correct verdict (an approval)
  kWrongCode,     // a valid verdict with another response code
  kDigestOnly,    // a valid verdict differing only in the state digest
  kBadSignature,  // the correct content, badly signed
  kMissing,       // never answers
  kLate,          // the correct verdict, validly signed, at or after the deadline
};
constexpr std::array kBehaviours = {Behaviour::kAgree,      Behaviour::kWrongCode,
                                    Behaviour::kDigestOnly, Behaviour::kBadSignature,
                                    Behaviour::kMissing,    Behaviour::kLate};

const char* behaviour_name(Behaviour b) {
  switch (b) {
    case Behaviour::kAgree:
      return "agree";
    case Behaviour::kWrongCode:
      return "wrong_code";
    case Behaviour::kDigestOnly:
      return "digest_only";
    case Behaviour::kBadSignature:
      return "bad_signature";
    case Behaviour::kMissing:
      return "missing";
    case Behaviour::kLate:
      return "late";
  }
  return "?";
}

// With `shared_faults`, faulty replicas make the same mistake, so two of
// them can form a wrong majority; without, each faulty replica's content is
// its own.
VerdictContent behaviour_content(Behaviour b, int replica, bool shared_faults) {
  VerdictContent c = correct(1);
  if (b == Behaviour::kWrongCode) {
    constexpr std::array kWrong = {ResponseCode::kInsufficientFunds, ResponseCode::kExpiredCard,
                                   ResponseCode::kDoNotHonour};
    c.code = shared_faults ? kWrong[0] : kWrong[static_cast<std::size_t>(replica)];
  } else if (b == Behaviour::kDigestOnly) {
    c = with_state_digest(c, static_cast<std::uint8_t>(shared_faults ? 0x70 : 0x70 + replica));
  }
  return c;
}

// Runs one seq through a fresh voter and returns what differs from the oracle.
std::string run_combination(const std::array<Behaviour, kReplicaCount>& behaviours,
                            const std::array<int, kReplicaCount>& order, bool shared_faults) {
  constexpr std::uint64_t kOpenUs = 50'000;
  constexpr std::uint64_t kDeadline = kOpenUs + kDeadlineUs;
  Voter voter(Voter::Config{.deadline_us = kDeadlineUs});
  Output out;
  std::unordered_map<std::uint64_t, Record> records;
  Replies replies;
  int step = 0;
  auto at_step = [&step](std::uint64_t) { return step; };

  voter.open(1, kOpenUs);
  int in_time = 0;
  for (int r : order) {
    const Behaviour b = behaviours[static_cast<std::size_t>(r)];
    if (b == Behaviour::kMissing || b == Behaviour::kLate) continue;
    const VerdictContent content = behaviour_content(b, r, shared_faults);
    const bool valid = b != Behaviour::kBadSignature;
    ++in_time;
    replies[r] = Reply{valid ? Said::kValid : Said::kBadSignature, content, in_time};
    voter.on_verdict(make_verdict(r, content, valid),
                     kOpenUs + 100 * static_cast<unsigned>(in_time), &out);
    step = in_time;
    collect(&out, at_step, &records);
  }
  voter.on_time(kDeadline - 1, &out);  // must change nothing
  step = 0;
  collect(&out, at_step, &records);

  step = kAtDeadline;
  std::uint64_t late_sent = 0;
  for (int r : order) {
    if (behaviours[static_cast<std::size_t>(r)] != Behaviour::kLate) continue;
    voter.on_verdict(make_verdict(r, correct(1)), kDeadline + 7 * late_sent, &out);  // first: at
    ++late_sent;
    collect(&out, at_step, &records);
    step = kAtDeadline + 1;  // only the first call may expire the seq
  }
  voter.on_time(kDeadline + 100 * kDeadlineUs, &out);
  collect(&out, at_step, &records);

  std::string problems = compare(oracle(replies), records[1]);
  if (records.size() != 1) problems += "outputs for another seq\n";
  if (voter.late_verdicts() != late_sent) problems += "late_verdicts wrong\n";
  if (voter.duplicate_verdicts() != 0) problems += "duplicate_verdicts wrong\n";
  if (voter.open_count() != 0) problems += "seq still open\n";
  if (voter.next_deadline_us()) problems += "next deadline left\n";
  return problems;
}

TEST(VoterExhaustive, EveryBehaviourInEveryArrivalOrderMatchesTheOracle) {
  int cases = 0;
  int agreed = 0;
  for (bool shared_faults : {false, true}) {
    for (Behaviour ba : kBehaviours) {
      for (Behaviour bb : kBehaviours) {
        for (Behaviour bc : kBehaviours) {
          const std::array<Behaviour, kReplicaCount> behaviours = {ba, bb, bc};
          std::array<int, kReplicaCount> order = {kA, kB, kC};
          do {
            ++cases;
            const std::string problems = run_combination(behaviours, order, shared_faults);
            EXPECT_EQ(problems, "")
                << "a=" << behaviour_name(ba) << " b=" << behaviour_name(bb)
                << " c=" << behaviour_name(bc) << " order=" << replica_name(order[0])
                << replica_name(order[1]) << replica_name(order[2])
                << (shared_faults ? " shared faults" : " distinct faults");
            // The oracle itself: count the cases that agree, as a sanity check.
            Replies replies;
            int step = 0;
            for (int r : order) {
              const Behaviour b = behaviours[static_cast<std::size_t>(r)];
              if (b == Behaviour::kMissing || b == Behaviour::kLate) continue;
              replies[r] = Reply{b == Behaviour::kBadSignature ? Said::kBadSignature : Said::kValid,
                                 behaviour_content(b, r, shared_faults), ++step};
            }
            if (oracle(replies).kind == DecisionKind::kAgreed) ++agreed;
          } while (std::next_permutation(order.begin(), order.end()));
        }
      }
    }
  }
  EXPECT_EQ(cases, 2 * 6 * 6 * 6 * 6);
  EXPECT_GT(agreed, 0);
  EXPECT_LT(agreed, cases);
}

// Hand-checked oracle answers, so the oracle is not only checked against the
// implementation it is meant to check.
TEST(VoterOracle, HandCheckedCases) {
  const VerdictContent ok = correct(1);
  const VerdictContent wrong = with_code(ok, ResponseCode::kExpiredCard);
  {
    // a bad, b ok, c ok: agreed at step 3, a divergent.
    const Expected e = oracle(Replies{Reply{Said::kBadSignature, ok, 1}, Reply{Said::kValid, ok, 2},
                                      Reply{Said::kValid, ok, 3}});
    EXPECT_EQ(e.kind, DecisionKind::kAgreed);
    EXPECT_EQ(e.step, 3);
    EXPECT_EQ(e.divergent_mask, mask({kA}));
    EXPECT_EQ(e.signers, (std::vector<int>{kB, kC}));
  }
  {
    // a wrong, b wrong (same), c ok: the wrong majority wins, c is divergent.
    const Expected e = oracle(Replies{Reply{Said::kValid, wrong, 2}, Reply{Said::kValid, wrong, 3},
                                      Reply{Said::kValid, ok, 1}});
    EXPECT_EQ(e.code, ResponseCode::kExpiredCard);
    ASSERT_TRUE(e.divergences[kC]);
    EXPECT_EQ(e.divergences[kC]->kind, DivergenceKind::kWrongVerdict);
    EXPECT_EQ(e.divergences[kC]->step, 3);
  }
  {
    // a ok, b missing, c missing: 91 at the deadline.
    const Expected e = oracle(Replies{Reply{Said::kValid, ok, 1}, Reply{}, Reply{}});
    EXPECT_EQ(e.code, ResponseCode::kIssuerInoperative);
    EXPECT_EQ(e.step, kAtDeadline);
    EXPECT_EQ(e.divergent_mask, mask({kB, kC}));
  }
}

// ---------------------------------------------------------------------------
// Randomized: 100,000 interleaved seqs with random faults, duplicates, late
// and stray verdicts, and ticks.

std::uint64_t test_seed() {
  if (const char* env = std::getenv("TRIAD_VOTER_SEED")) return std::strtoull(env, nullptr, 10);
  return 20'251'126;
}

// The few contents a replica can give in the randomized test.
VerdictContent variant_content(std::uint64_t seq, std::uint8_t variant) {
  VerdictContent c = correct(seq);
  switch (variant) {
    case 0:
      break;
    case 1:
      c.code = ResponseCode::kInsufficientFunds;
      break;
    case 2:
      c.code = ResponseCode::kDoNotHonour;
      break;
    case 3:
      c.state_digest = filled(0x31);
      break;
    case 4:
      c.state_digest = filled(0x32);
      break;
    default:
      c.ts_ms += 1;  // same code, different content
      break;
  }
  return c;
}

TEST(VoterRandomized, HundredThousandSeqsKeepTheInvariants) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with TRIAD_VOTER_SEED=" + std::to_string(seed) + ")");
  std::mt19937_64 rng(seed);
  auto uniform = [&rng](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  auto chance = [&](unsigned percent) { return uniform(0, 99) < percent; };

  constexpr std::uint64_t kSeqs = 100'000;
  enum class Type : std::uint8_t { kOpen, kVerdict, kTick };
  struct Event {
    std::uint64_t time_us = 0;
    std::uint64_t seq = 0;
    Type type = Type::kTick;
    std::int8_t replica = 0;
    std::uint8_t variant = 0;
    bool valid = true;
  };
  std::vector<Event> events;
  events.reserve(kSeqs * 6);
  std::vector<std::uint64_t> open_us(kSeqs + 1);
  std::uint64_t t = 1'000'000;
  std::uint64_t strays = 0;
  for (std::uint64_t seq = 1; seq <= kSeqs; ++seq) {
    if (chance(1)) {
      t += 5 * kDeadlineUs;  // a quiet spell: everything expires
    } else if (!chance(30)) {
      t += uniform(0, 400);
    }
    open_us[seq] = t;
    events.push_back(Event{t, seq, Type::kOpen, 0, 0, true});
    const bool all_correct = chance(60);
    for (int r = 0; r < kReplicaCount; ++r) {
      const int sends = chance(8) ? 0 : (chance(5) ? 2 : 1);
      for (int i = 0; i < sends; ++i) {
        std::uint8_t variant = 0;
        if (!all_correct || i > 0) {
          constexpr std::array<std::uint8_t, 8> kPick = {0, 0, 0, 1, 1, 3, 2, 5};
          variant = kPick[uniform(0, kPick.size() - 1)];
          if (chance(3)) variant = 4;
        }
        const std::uint64_t delay = chance(3) ? kDeadlineUs : uniform(0, kDeadlineUs * 6 / 5);
        events.push_back(Event{t + delay, seq, Type::kVerdict, static_cast<std::int8_t>(r), variant,
                               !chance(8)});
      }
    }
    if (chance(30))
      events.push_back(Event{t + uniform(0, 2 * kDeadlineUs), 0, Type::kTick, 0, 0, true});
    if (chance(1)) {
      ++strays;
      events.push_back(Event{t + uniform(0, kDeadlineUs), kSeqs + 10 + strays, Type::kVerdict,
                             static_cast<std::int8_t>(uniform(0, 2)), 0, true});
    }
  }
  std::stable_sort(events.begin(), events.end(),
                   [](const Event& x, const Event& y) { return x.time_us < y.time_us; });

  // The model: which seqs are open, what each replica delivered in time.
  struct SeqModel {
    PerReplica<std::int8_t> variant{};  // -1: nothing in time
    PerReplica<bool> valid{};
    PerReplica<int> step{};
    int delivered = 0;
    bool closed = false;
    bool checked = false;
  };
  std::vector<SeqModel> model(kSeqs + 1);
  for (SeqModel& m : model) m.variant.fill(-1);
  std::uint64_t last_opened = 0;
  std::uint64_t front = 1;  // no seq below it is open
  std::size_t open_count = 0;
  std::uint64_t late = 0;
  std::uint64_t duplicates = 0;
  std::uint64_t decisions_seen = 0;
  std::uint64_t agreed_seen = 0;
  std::uint64_t wrong_majorities = 0;
  std::unordered_map<std::uint64_t, Record> records;

  Voter voter(Voter::Config{.deadline_us = kDeadlineUs});
  Output out;
  std::vector<std::uint64_t> expired_now;
  std::vector<std::uint64_t> closed_now;

  auto check_seq = [&](std::uint64_t seq) -> std::string {
    SeqModel& m = model[seq];
    Replies replies;
    for (int r = 0; r < kReplicaCount; ++r) {
      if (m.variant[r] < 0) continue;
      replies[r] = Reply{m.valid[r] ? Said::kValid : Said::kBadSignature,
                         variant_content(seq, static_cast<std::uint8_t>(m.variant[r])), m.step[r]};
    }
    const Expected e = oracle(replies);
    const Record& rec = records[seq];
    std::string problems = compare(e, rec);
    // Independent of the oracle: every replica that never answered in time
    // has exactly one kMissing.
    for (int r = 0; r < kReplicaCount; ++r) {
      int missing = 0;
      for (const SeenDivergence& s : rec.divergences) {
        if (s.divergence.replica == r && s.divergence.kind == DivergenceKind::kMissing) ++missing;
      }
      if (missing != (m.variant[r] < 0 ? 1 : 0)) problems += "kMissing count wrong\n";
    }
    decisions_seen += rec.decisions.size();
    if (!rec.decisions.empty() && rec.decisions[0].decision.kind == DecisionKind::kAgreed) {
      ++agreed_seen;
      if (rec.decisions[0].decision.signers[0].content != correct(seq)) ++wrong_majorities;
    }
    m.checked = true;
    records.erase(seq);
    return problems;
  };

  for (const Event& ev : events) {
    if (ev.type == Type::kOpen) {
      voter.open(ev.seq, ev.time_us);
      last_opened = ev.seq;
      ++open_count;
      continue;
    }
    // Model the call: expiry first, then the verdict.
    expired_now.clear();
    closed_now.clear();
    for (; front <= last_opened; ++front) {
      SeqModel& m = model[front];
      if (m.closed) continue;
      if (open_us[front] + kDeadlineUs > ev.time_us) break;
      m.closed = true;
      --open_count;
      expired_now.push_back(front);
    }
    std::uint64_t accepted = 0;
    if (ev.type == Type::kVerdict) {
      const int r = ev.replica;
      if (ev.seq > last_opened || model[ev.seq].closed) {
        ++late;
      } else if (model[ev.seq].variant[r] >= 0) {
        ++duplicates;
      } else {
        SeqModel& m = model[ev.seq];
        m.variant[r] = static_cast<std::int8_t>(ev.variant);
        m.valid[r] = ev.valid;
        m.step[r] = ++m.delivered;
        accepted = ev.seq;
        if (m.delivered == kReplicaCount) {
          m.closed = true;
          --open_count;
          closed_now.push_back(ev.seq);
        }
      }
      voter.on_verdict(make_verdict(ev.replica, variant_content(ev.seq, ev.variant), ev.valid),
                       ev.time_us, &out);
    } else {
      voter.on_time(ev.time_us, &out);
    }
    collect(
        &out,
        [&](std::uint64_t seq) {
          if (std::find(expired_now.begin(), expired_now.end(), seq) != expired_now.end()) {
            return kAtDeadline;
          }
          if (seq == accepted) return model[seq].delivered;
          return -1;  // an output for a seq this call had nothing to do with
        },
        &records);

    while (front <= last_opened && model[front].closed) ++front;
    ASSERT_EQ(voter.open_count(), open_count) << "at t=" << ev.time_us;
    const std::optional<std::uint64_t> want_deadline =
        front <= last_opened ? std::optional<std::uint64_t>(open_us[front] + kDeadlineUs)
                             : std::nullopt;
    ASSERT_EQ(voter.next_deadline_us(), want_deadline) << "at t=" << ev.time_us;
    ASSERT_EQ(voter.late_verdicts(), late) << "at t=" << ev.time_us;
    ASSERT_EQ(voter.duplicate_verdicts(), duplicates) << "at t=" << ev.time_us;
    for (std::uint64_t seq : expired_now) ASSERT_EQ(check_seq(seq), "") << "seq " << seq;
    for (std::uint64_t seq : closed_now) ASSERT_EQ(check_seq(seq), "") << "seq " << seq;
  }
  // Flush what is still open.
  expired_now.clear();
  for (std::uint64_t seq = front; seq <= last_opened; ++seq) {
    if (!model[seq].closed) expired_now.push_back(seq);
  }
  voter.on_time(events.back().time_us + 2 * kDeadlineUs, &out);
  collect(
      &out,
      [&](std::uint64_t seq) {
        return std::find(expired_now.begin(), expired_now.end(), seq) != expired_now.end()
                   ? kAtDeadline
                   : -1;
      },
      &records);
  for (std::uint64_t seq : expired_now) ASSERT_EQ(check_seq(seq), "") << "seq " << seq;
  EXPECT_TRUE(records.empty()) << "outputs for seqs that never closed";
  for (std::uint64_t seq = 1; seq <= kSeqs; ++seq) ASSERT_TRUE(model[seq].checked) << seq;
  EXPECT_EQ(decisions_seen, kSeqs);  // exactly one each, counted across all seqs
  EXPECT_EQ(voter.open_count(), 0u);
  EXPECT_EQ(voter.next_deadline_us(), std::nullopt);
  // The run exercised what it should.
  EXPECT_GT(agreed_seen, kSeqs / 2);
  EXPECT_LT(agreed_seen, kSeqs);
  EXPECT_GT(wrong_majorities, 0u);
  EXPECT_GT(late, kSeqs / 20);
  EXPECT_GT(duplicates, 0u);
}

}  // namespace
}  // namespace triad::voter

namespace triad::voter {
namespace {

TEST(VoterWants, OnlyOpenSeqsAndReplicasThatHaveNotAnswered) {
  Voter v({.deadline_us = 100});
  Output out;
  EXPECT_FALSE(v.wants(1, 0));  // not opened
  v.open(1, 0);
  EXPECT_TRUE(v.wants(1, 0));
  EXPECT_FALSE(v.wants(2, 0));
  EXPECT_FALSE(v.wants(1, 3));
  ReplicaVerdict a;
  a.replica = 0;
  a.content.seq = 1;
  a.signature_valid = true;
  v.on_verdict(a, 1, &out);
  EXPECT_FALSE(v.wants(1, 0)) << "a already answered";
  EXPECT_TRUE(v.wants(1, 1));
  v.on_time(100, &out);
  EXPECT_FALSE(v.wants(1, 1)) << "closed at the deadline";
}

TEST(VoterOpenedAt, KnownWhileTheSeqIsOpen) {
  Voter v({.deadline_us = 100});
  Output out;
  EXPECT_FALSE(v.opened_at_us(1).has_value());  // not opened
  v.open(1, 10);
  v.open(2, 30);
  EXPECT_EQ(v.opened_at_us(1), 10u);
  EXPECT_EQ(v.opened_at_us(2), 30u);
  EXPECT_FALSE(v.opened_at_us(3).has_value());
  // Decided by a and b, still open for c's verdict.
  for (int r = 0; r < 2; ++r) {
    ReplicaVerdict verdict;
    verdict.replica = r;
    verdict.content.seq = 1;
    verdict.signature_valid = true;
    v.on_verdict(verdict, 40, &out);
  }
  EXPECT_EQ(v.opened_at_us(1), 10u);
  v.on_time(110, &out);  // seq 1's deadline
  EXPECT_FALSE(v.opened_at_us(1).has_value());
  EXPECT_EQ(v.opened_at_us(2), 30u);
}

}  // namespace
}  // namespace triad::voter

namespace triad::voter {
namespace {

ReplicaVerdict duplex_verdict(int replica, std::uint64_t seq, ResponseCode code) {
  ReplicaVerdict v;
  v.replica = replica;
  v.content.seq = seq;
  v.content.code = code;
  v.signature_valid = true;
  return v;
}

constexpr std::uint8_t kAB = 0b011;

TEST(VoterDuplex, TheTwoEligibleMustAgreeAndTheThirdIsIgnored) {
  Voter v({.deadline_us = 100});
  Output out;
  v.open(1, 0, kAB, &out);
  EXPECT_FALSE(v.wants(1, 2));
  v.on_verdict(duplex_verdict(2, 1, ResponseCode::kApproved), 1, &out);
  EXPECT_EQ(v.ineligible_verdicts(), 1u);
  v.on_verdict(duplex_verdict(0, 1, ResponseCode::kApproved), 2, &out);
  EXPECT_TRUE(out.decisions.empty()) << "c's verdict does not count";
  v.on_verdict(duplex_verdict(1, 1, ResponseCode::kApproved), 3, &out);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_EQ(out.decisions[0].kind, DecisionKind::kAgreed);
  EXPECT_EQ(out.decisions[0].agree_mask, kAB);
  EXPECT_EQ(v.open_count(), 0u) << "closed once both eligible answered";
  EXPECT_TRUE(out.divergences.empty());
}

TEST(VoterDuplex, DisagreementIsTheFailSafe96AtOnce) {
  Voter v({.deadline_us = 100});
  Output out;
  v.open(1, 0, kAB, &out);
  v.on_verdict(duplex_verdict(0, 1, ResponseCode::kApproved), 1, &out);
  v.on_verdict(duplex_verdict(1, 1, ResponseCode::kInsufficientFunds), 2, &out);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_EQ(out.decisions[0].code, ResponseCode::kSystemMalfunction);
  EXPECT_EQ(out.decisions[0].kind, DecisionKind::kNoAgreement);
}

TEST(VoterDuplex, AMissingEligibleReplicaIs91AndOnlyItIsReportedMissing) {
  Voter v({.deadline_us = 100});
  Output out;
  v.open(1, 0, kAB, &out);
  v.on_verdict(duplex_verdict(0, 1, ResponseCode::kApproved), 1, &out);
  v.on_time(100, &out);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_EQ(out.decisions[0].code, ResponseCode::kIssuerInoperative);
  ASSERT_EQ(out.divergences.size(), 1u);
  EXPECT_EQ(out.divergences[0].replica, 1);
  EXPECT_EQ(out.divergences[0].kind, DivergenceKind::kMissing);
}

TEST(VoterDuplex, FewerThanTwoEligibleIs91AtOpen) {
  Voter v({.deadline_us = 100});
  Output out;
  v.open(1, 0, 0b001, &out);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_EQ(out.decisions[0].code, ResponseCode::kIssuerInoperative);
  v.on_verdict(duplex_verdict(0, 1, ResponseCode::kApproved), 1, &out);
  EXPECT_EQ(out.decisions.size(), 1u) << "one verdict can never release a decision";
  v.open(2, 2, 0, &out);
  EXPECT_EQ(out.decisions.size(), 2u);
  EXPECT_EQ(out.decisions[1].code, ResponseCode::kIssuerInoperative);
  v.on_time(200, &out);
  EXPECT_EQ(v.open_count(), 0u);
}

// ---------------------------------------------------------------------------
// The simplex benchmark baseline: quorum 1, replica a alone.

class SimplexVoterTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kT0 = 10'000;
  static constexpr std::uint8_t kOnlyA = 1;
  Voter voter_{Voter::Config{.deadline_us = kDeadlineUs, .quorum = 1}};
  Output out_;
};

TEST_F(SimplexVoterTest, OneValidVerdictDecidesAlone) {
  voter_.open(1, kT0, kOnlyA, &out_);
  EXPECT_TRUE(out_.decisions.empty());
  voter_.on_verdict(make_verdict(kA, correct(1)), kT0 + 10, &out_);
  ASSERT_EQ(out_.decisions.size(), 1u);
  const Decision& d = out_.decisions[0];
  EXPECT_EQ(d.kind, DecisionKind::kAgreed);
  EXPECT_EQ(d.code, correct(1).code);
  ASSERT_EQ(d.signers.size(), 1u);
  EXPECT_EQ(d.signers[0].replica, kA);
  EXPECT_EQ(d.agree_mask, mask({kA}));
  EXPECT_TRUE(out_.divergences.empty());
  EXPECT_EQ(voter_.open_count(), 0u);
}

TEST_F(SimplexVoterTest, ABadSignatureOrSilenceIsTheFailSafeNeverADecision) {
  voter_.open(1, kT0, kOnlyA, &out_);
  voter_.open(2, kT0, kOnlyA, &out_);
  voter_.on_verdict(make_verdict(kA, correct(1), /*signature_valid=*/false), kT0 + 10, &out_);
  ASSERT_EQ(out_.decisions.size(), 1u);
  EXPECT_EQ(out_.decisions[0].kind, DecisionKind::kTooFewAnswers);
  EXPECT_EQ(out_.decisions[0].code, ResponseCode::kIssuerInoperative);
  out_.clear();
  voter_.on_time(kT0 + kDeadlineUs, &out_);
  ASSERT_EQ(out_.decisions.size(), 1u);
  EXPECT_EQ(out_.decisions[0].seq, 2u);
  EXPECT_EQ(out_.decisions[0].kind, DecisionKind::kTooFewAnswers);
  ASSERT_EQ(out_.divergences.size(), 1u);
  EXPECT_EQ(out_.divergences[0].kind, DivergenceKind::kMissing);
}

TEST_F(SimplexVoterTest, NoEligibleReplicaIsTheFailSafeAtOnce) {
  voter_.open(1, kT0, 0, &out_);
  ASSERT_EQ(out_.decisions.size(), 1u);
  EXPECT_EQ(out_.decisions[0].kind, DecisionKind::kTooFewAnswers);
  EXPECT_EQ(voter_.open_count(), 0u);
}

}  // namespace
}  // namespace triad::voter
