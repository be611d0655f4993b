// Which missing verdicts the front end's Core holds against a replica,
// stepped on an injected clock. A replica is sent to repair for missing
// verdicts when its peers answered in time without it, or when it has gone
// silent while another answered what it missed; not when all of them are
// late together, nor while it is still answering.
#include <gtest/gtest.h>

#include <array>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "common/log_capture.h"
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
    std::uint64_t through_seq = UINT64_MAX;
    // Stopped (as by SIGSTOP) from kStartUs + first until kStartUs + second:
    // what falls due meanwhile is sent then.
    std::vector<std::pair<std::uint64_t, std::uint64_t>> pauses_us;
  };
  static Answers answers(std::uint64_t after_us, std::uint64_t through_seq = UINT64_MAX,
                         std::vector<std::pair<std::uint64_t, std::uint64_t>> pauses_us = {}) {
    return Answers{after_us, through_seq, std::move(pauses_us)};
  }

  // `seqs` new transactions, one every kGapUs from kStartUs; replica r
  // answers seqs 1..answers[r].through_seq, each answers[r].after_us after
  // it was sequenced (none for a replica not in the map). The clock moves
  // from event to event, and the deadlines fire at theirs. Returns when
  // every seq is past its deadline.
  void run(const std::map<int, Answers>& answers, std::uint64_t seqs = kSeqs) {
    std::multimap<std::uint64_t, std::pair<int, std::uint64_t>> events;  // time -> (who, seq)
    constexpr int kSubmit = -1;
    for (std::uint64_t seq = 1; seq <= seqs; ++seq) {
      const std::uint64_t at = kStartUs + (seq - 1) * kGapUs;
      events.insert({at, {kSubmit, seq}});
      for (const auto& [r, a] : answers) {
        if (seq > a.through_seq) continue;
        std::uint64_t due = at + a.after_us;
        for (const auto& [from, until] : a.pauses_us) {
          if (due >= kStartUs + from && due < kStartUs + until) due = kStartUs + until;
        }
        events.insert({due, {r, seq}});
      }
    }
    const std::uint64_t end = kStartUs + seqs * kGapUs + kDeadlineUs;
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
  const Answers late = answers(kDeadlineUs + 50'000);
  run({{0, late}, {1, late}, {2, late}});
  EXPECT_EQ(core_->counters().fail_safe, kSeqs);
  for (int r = 0; r < kReplicaCount; ++r) {
    EXPECT_EQ(state(r), ReplicaState::kHealthy) << "replica " << r;
    EXPECT_EQ(missing_counted(r), kSeqs) << "replica " << r;  // counted, not held against it
  }
  EXPECT_EQ(core_->supervisor().mode(), repair::Mode::kTmr);
}

// A client keeps ten in flight (`triad submit --window 10`): each window
// is sent when the one before was answered. The replicas answer each
// window a few ms apart (a first, c last); window 1 in 900 ms, decided by
// b's verdict, and from window 2 on all three 1.1 s after it was sent. So
// window 2 is sent as b's verdicts arrive, and at its deadline c's
// verdicts (3 ms later) are younger than a deadline while a's and b's are
// not: that must not make a and b the ones at fault (a CI run restarted
// them so). None is sent to repair.
TEST_F(Blame, ClosedLoopWindowsAllLateTogetherNoneIsSentToRepair) {
  constexpr std::uint64_t kWindow = 10;
  constexpr std::uint64_t kWindows = 8;
  constexpr std::array<std::uint64_t, kReplicaCount> kSkewUs = {0, 1'000, 3'000};
  std::multimap<std::uint64_t, std::pair<int, std::uint64_t>> events;  // time -> (who, window)
  constexpr int kSend = -1;
  std::uint64_t sent_us = kStartUs;
  for (std::uint64_t w = 0; w < kWindows; ++w) {
    events.insert({sent_us, {kSend, w}});
    const std::uint64_t after_us = w == 0 ? 900'000 : kDeadlineUs + 100'000;
    for (int r = 0; r < kReplicaCount; ++r) {
      events.insert({sent_us + after_us + kSkewUs[static_cast<std::size_t>(r)], {r, w}});
    }
    // Answered at the second verdict if in time, else declined at the deadline.
    sent_us += w == 0 ? after_us + kSkewUs[1] : kDeadlineUs;
  }
  std::uint64_t now = kStartUs;
  for (const auto& [at, what] : events) {
    step_to(at, &now);
    const auto [who, w] = what;
    if (who == kSend) {
      EXPECT_EQ(submit(kWindow, now), 0u);
    } else {
      verdicts(who, w * kWindow + 1, (w + 1) * kWindow, now);
    }
  }
  step_to(sent_us + kDeadlineUs, &now);
  EXPECT_EQ(core_->counters().fail_safe, (kWindows - 1) * kWindow);
  for (int r = 0; r < kReplicaCount; ++r) {
    EXPECT_EQ(state(r), ReplicaState::kHealthy) << "replica " << r;
  }
}

// a and b answer in time; c, as late as above, is the one at fault.
TEST_F(Blame, LateWhileTheOthersAnswerInTimeIsSentToRepair) {
  run({{0, answers(1'000)}, {1, answers(2'000)}, {2, answers(kDeadlineUs + 50'000)}});
  EXPECT_EQ(core_->counters().fail_safe, 0u);
  EXPECT_EQ(state(0), ReplicaState::kHealthy);
  EXPECT_EQ(state(1), ReplicaState::kHealthy);
  EXPECT_NE(state(2), ReplicaState::kHealthy);
}

// The front end stalls (a slow disk, a starved machine): the replicas
// answer ten seqs within a ms, but their messages are read 1.5 s later,
// one after another, before the deadlines' timer has fired. The seqs are
// declined fail-safe at the first read; the replica read first must not
// count as having answered them, singling out the other two (silent for
// more than a deadline by then). None is sent to repair.
TEST_F(Blame, AFrontEndStalledPastTheDeadlineBlamesNoReplica) {
  std::uint64_t now = kStartUs;
  EXPECT_EQ(submit(10, now), 0u);
  step_to(kStartUs + 1'000, &now);
  for (int r = 0; r < kReplicaCount; ++r) verdicts(r, 1, 10, now);
  EXPECT_EQ(submit(10, now), 0u);
  now += 1'500'000;
  for (int r = 0; r < kReplicaCount; ++r) verdicts(r, 11, 20, now);
  step_to(now + 2 * kDeadlineUs, &now);
  EXPECT_EQ(core_->counters().decisions, 20u);
  EXPECT_EQ(core_->counters().fail_safe, 10u);
  for (int r = 0; r < kReplicaCount; ++r) {
    EXPECT_EQ(state(r), ReplicaState::kHealthy) << "replica " << r;
  }
}

// a answers in time; b and c, as on a machine too busy for them, 50 ms
// after the deadline but without pause. a answered each seq they missed,
// yet both are still answering: no fault shows that restarting them (and
// leaving a alone) would mend, and neither is sent to repair.
TEST_F(Blame, TwoLateButAnsweringAreNotSentToRepair) {
  const Answers late = answers(kDeadlineUs + 50'000);
  run({{0, answers(1'000)}, {1, late}, {2, late}});
  EXPECT_EQ(core_->counters().fail_safe, kSeqs);
  for (int r = 0; r < kReplicaCount; ++r) {
    EXPECT_EQ(state(r), ReplicaState::kHealthy) << "replica " << r;
  }
}

// All three stopped twice (as when the machine stalls), for 3 s and then
// for 8 s: no verdict reaches the front end for longer than a deadline,
// from any of them. The seqs sent meanwhile are declined fail-safe; none is
// sent to repair, since each stall is shorter than ten deadlines (Core's
// kAllSilentDeadlines), though the two add up to more.
TEST_F(Blame, AllSilentTogetherForAFewDeadlinesNoneIsSentToRepair) {
  const Answers stalled =
      answers(1'000, UINT64_MAX, {{1'000'000, 4'000'000}, {6'000'000, 14'000'000}});
  run({{0, stalled}, {1, stalled}, {2, stalled}}, 150);
  EXPECT_GE(core_->counters().fail_safe, 90u);
  for (int r = 0; r < kReplicaCount; ++r) {
    EXPECT_EQ(state(r), ReplicaState::kHealthy) << "replica " << r;
  }
}

// All three stop answering for good after seq 5: from seq 6's deadline
// (1.5 s), ten deadlines of silence from every one (Core's
// kAllSilentDeadlines) pass before a missing verdict is held against them,
// and then they are restarted.
TEST_F(Blame, AllSilentForTenDeadlinesAreSentToRepair) {
  const Answers hung_after_5 = answers(1'000, 5);
  run({{0, hung_after_5}, {1, hung_after_5}, {2, hung_after_5}}, 140);
  for (int r = 0; r < kReplicaCount; ++r) {
    const repair::Supervisor::Stats stats = core_->supervisor().stats(r, kStartUs + 15'000'000);
    EXPECT_NE(stats.state, ReplicaState::kHealthy) << "replica " << r;
    EXPECT_GE(stats.total_up_us, 11'500'000u) << "replica " << r;
    EXPECT_LT(stats.total_up_us, 12'500'000u) << "replica " << r;
  }
}

// b and c go silent after seq 3: without a majority nothing shows which
// replica is at fault, but one that answers nothing for a deadline is hung,
// and repairing both brings a majority back.
TEST_F(Blame, SilentWithoutAMajorityIsStillSentToRepair) {
  run({{0, answers(1'000)}, {1, answers(2'000, 3)}, {2, answers(3'000, 3)}});
  EXPECT_EQ(core_->counters().decisions - core_->counters().fail_safe, 3u);
  EXPECT_EQ(core_->counters().fail_safe, kSeqs - 3);
  EXPECT_EQ(state(0), ReplicaState::kHealthy);
  EXPECT_NE(state(1), ReplicaState::kHealthy);
  EXPECT_NE(state(2), ReplicaState::kHealthy);
}

// A faulty replica's hello whose fingerprint is not printable ASCII is
// malformed: the fingerprint goes to the log and into triad status's JSON,
// whose encoder threw on a byte that is not UTF-8 and stopped the front end.
TEST_F(Blame, AHelloWithAFingerprintThatIsNotPrintableIsMalformed) {
  hello(1, 1, kStartUs, "\xff\xfe\n2026-12-05T00:00:00.000Z INFO frontend: forged");
  EXPECT_EQ(core_->counters().malformed_replica_messages, 1u);
  hello(1, 1, kStartUs, std::string(wire::kMaxFingerprintBytes + 1, 'f'));
  EXPECT_EQ(core_->counters().malformed_replica_messages, 2u);
  hello(1, 1, kStartUs, "clang 14.0.6 ; libc++ 14000; -O3");
  EXPECT_EQ(core_->counters().malformed_replica_messages, 2u);
  const auto status = nlohmann::json::parse(core_->status_json(kStartUs));
  EXPECT_EQ(status["replicas"][1]["fingerprint"], "clang 14.0.6 ; libc++ 14000; -O3");
}

// A faulty replica can send malformed messages as fast as it likes: each is
// counted, and at most ten a second are logged (the log is written on the
// event loop, and 200,000 lines filled 17.8 MB in seconds).
TEST_F(Blame, MalformedReplicaMessagesAreCountedEachAndLoggedTenASecond) {
  testing::LogCapture capture;
  const std::vector<std::uint8_t> garbage(64, 0xab);
  Outbox out;
  for (int i = 0; i < 50; ++i) core_->on_replica_message(1, garbage, kStartUs, &out);
  EXPECT_EQ(core_->counters().malformed_replica_messages, 50u);
  EXPECT_EQ(capture.warnings.size(), 10u);
}

// A message of more verdicts than a replica sends in one is dropped before
// any signature check: one of 99,000 batches held the event loop for 6 s (a
// review helper's rogue replica). The same verdicts in messages of the
// replica's size decide.
TEST_F(Blame, AMessageOfMoreVerdictsThanAReplicaSendsIsDroppedUnchecked) {
  const std::uint64_t n = wire::kMaxVerdictsPerMessage + 1;
  ASSERT_EQ(submit(n, kStartUs), 0u);
  verdicts(0, 1, n, kStartUs);
  const auto message = verdict_message(1, 1, n);
  Outbox out;
  core_->on_replica_message(1, {message.GetBufferPointer(), message.GetSize()}, kStartUs, &out);
  EXPECT_EQ(core_->counters().malformed_replica_messages, 1u);
  EXPECT_EQ(core_->counters().decisions, 0u);
  verdicts(1, 1, n, kStartUs);
  EXPECT_EQ(core_->counters().decisions, n);
}

// A batch nothing would use is not checked (each check costs about 60 us,
// and a faulty replica can send old batches again at will): one for seqs
// already closed, one for seqs never sent. Unchecked, its bad signature
// counts against no one; counted as unchecked, the closed seqs as late. A
// batch the voter awaits is checked, and a bad signature in it is a fault.
TEST_F(Blame, BatchesNothingWouldUseAreNotChecked) {
  ASSERT_EQ(submit(2, kStartUs), 0u);
  verdicts(0, 1, 2, kStartUs);
  verdicts(1, 1, 2, kStartUs);
  std::uint64_t now = kStartUs;
  step_to(kStartUs + kDeadlineUs + 1, &now);  // c's verdicts missing: the seqs close
  ASSERT_EQ(missing_counted(2), 2u);
  ASSERT_EQ(state(2), ReplicaState::kHealthy);
  const auto bad_signatures = [&] {
    return core_->supervisor()
        .stats(2, now)
        .faults_by_kind[static_cast<std::size_t>(repair::Fault::kBadSignature)];
  };
  Outbox out;
  const auto send = [&](std::uint64_t from, std::uint64_t to) {
    const auto message = verdict_message(2, from, to, /*bad_signature=*/true);
    core_->on_replica_message(2, {message.GetBufferPointer(), message.GetSize()}, now, &out);
  };
  send(1, 2);
  // Unchecked, they still say where c is (its lag, what a resend to it waits
  // for), as before; a seq never sent does not.
  EXPECT_EQ(core_->replica(2).applied_through(), 2u);
  send(1'000, 1'000);
  EXPECT_EQ(core_->replica(2).applied_through(), 2u);
  EXPECT_EQ(core_->counters().unchecked_batches, 2u);
  EXPECT_EQ(core_->counters().late_verdicts, 2u);
  EXPECT_EQ(core_->counters().malformed_replica_messages, 0u);
  EXPECT_EQ(bad_signatures(), 0u);
  EXPECT_EQ(missing_counted(2), 2u);

  ASSERT_EQ(submit(1, now), 0u);
  send(3, 3);
  EXPECT_EQ(core_->counters().unchecked_batches, 2u);
  EXPECT_EQ(bad_signatures(), 1u);
}

}  // namespace
}  // namespace triad::frontend
