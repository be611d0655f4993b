// Which missing verdicts the front end's Core holds against a replica,
// stepped on an injected clock. A replica is sent to repair for missing
// verdicts when its peers answered in time without it, or when it has gone
// silent; not when all of them are late together and it is still answering.
#include <gtest/gtest.h>

#include <map>

#include "core_driver.h"

namespace triad::frontend {
namespace {

using repair::ReplicaState;
constexpr std::uint64_t kDeadlineUs = 1'000'000;
constexpr std::uint64_t kGapUs = 100'000;  // between two new transactions
constexpr std::size_t kSeqs = 30;          // six times Supervisor's missing_limit

class Blame : public CoreDriver {
 protected:
  void SetUp() override {
    Core::Config config;
    config.deadline_us = kDeadlineUs;
    start(config);
  }

  struct Answers {
    std::uint64_t after_us = 0;  // after the seq was sequenced
    std::uint64_t through_seq = kSeqs;
  };

  // One new transaction every kGapUs from kStartUs; replica r answers seqs
  // 1..answers[r].through_seq, each answers[r].after_us after it was
  // sequenced (none for a replica not in the map). The clock moves from
  // event to event, and the deadlines fire at theirs. Returns when every seq
  // is past its deadline.
  void run(const std::map<int, Answers>& answers) {
    std::multimap<std::uint64_t, std::pair<int, std::uint64_t>> events;  // time -> (who, seq)
    constexpr int kSubmit = -1;
    for (std::uint64_t seq = 1; seq <= kSeqs; ++seq) {
      const std::uint64_t at = kStartUs + (seq - 1) * kGapUs;
      events.insert({at, {kSubmit, seq}});
      for (const auto& [r, a] : answers) {
        if (seq <= a.through_seq) events.insert({at + a.after_us, {r, seq}});
      }
    }
    const std::uint64_t end = kStartUs + kSeqs * kGapUs + kDeadlineUs;
    std::uint64_t now = kStartUs;
    for (const auto& [at, what] : events) {
      step_to(at, &now);
      if (what.first == kSubmit) {
        EXPECT_EQ(submit(1, now), 0u);
      } else {
        verdicts(what.first, what.second, what.second, now);
      }
    }
    step_to(end, &now);
  }

  // Runs the timers due up to `to`, each at its own time.
  void step_to(std::uint64_t to, std::uint64_t* now) {
    int fired = 0;
    for (auto next = core_->next_timer_us(); next && *next <= to; next = core_->next_timer_us()) {
      ASSERT_LT(++fired, 100'000) << "a timer that does not move on";
      *now = std::max(*now, *next);
      Outbox out;
      core_->on_time(*now, &out);
    }
    *now = std::max(*now, to);
  }

  ReplicaState state(int r) const { return core_->supervisor().state(r); }
  std::uint64_t missing_counted(int r) const {
    return core_->supervisor()
        .stats(r, kStartUs)
        .faults_by_kind[static_cast<std::size_t>(repair::Fault::kMissing)];
  }
};

// All three answer every seq 50 ms after its deadline, as when the machine
// or the front end stalls: each seq is declined fail-safe, and each
// replica's verdict is missing at every deadline but the first while it
// goes on answering. None is sent to repair.
TEST_F(Blame, AllLateTogetherNoneIsSentToRepair) {
  run({{0, {kDeadlineUs + 50'000}}, {1, {kDeadlineUs + 50'000}}, {2, {kDeadlineUs + 50'000}}});
  EXPECT_EQ(core_->counters().fail_safe, kSeqs);
  for (int r = 0; r < kReplicaCount; ++r) {
    EXPECT_EQ(state(r), ReplicaState::kHealthy) << "replica " << r;
    EXPECT_EQ(missing_counted(r), kSeqs) << "replica " << r;  // counted, not held against it
  }
  EXPECT_EQ(core_->supervisor().mode(), repair::Mode::kTmr);
}

// a and b answer in time; c, as late as above, is the one at fault.
TEST_F(Blame, LateWhileTheOthersAnswerInTimeIsSentToRepair) {
  run({{0, {1'000}}, {1, {2'000}}, {2, {kDeadlineUs + 50'000}}});
  EXPECT_EQ(core_->counters().fail_safe, 0u);
  EXPECT_EQ(state(0), ReplicaState::kHealthy);
  EXPECT_EQ(state(1), ReplicaState::kHealthy);
  EXPECT_NE(state(2), ReplicaState::kHealthy);
}

// b and c go silent after seq 3: without a majority nothing shows which
// replica is at fault, but one that answers nothing for a deadline is hung,
// and repairing both brings a majority back.
TEST_F(Blame, SilentWithoutAMajorityIsStillSentToRepair) {
  run({{0, {1'000}}, {1, {2'000, 3}}, {2, {3'000, 3}}});
  EXPECT_EQ(core_->counters().decisions - core_->counters().fail_safe, 3u);
  EXPECT_EQ(core_->counters().fail_safe, kSeqs - 3);
  EXPECT_EQ(state(0), ReplicaState::kHealthy);
  EXPECT_NE(state(1), ReplicaState::kHealthy);
  EXPECT_NE(state(2), ReplicaState::kHealthy);
}

}  // namespace
}  // namespace triad::frontend
