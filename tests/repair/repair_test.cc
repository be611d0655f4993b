// Tests of the repair supervisor's policy. Everything is driven by injected
// time values, so every run is the same. Two layers:
//  - readable scenario tests, one rule each, with exact actions, states and
//    figures;
//  - a seeded randomized run of 100,000 events (the seed is printed on
//    failure; TRIAD_REPAIR_SEED reruns one, TRIAD_REPAIR_TRACE=1 prints each
//    step) checked against invariants and a naive model of the
//    fault-counting rules.
#include "repair/repair.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace triad::repair {
namespace {

constexpr int kA = 0;
constexpr int kB = 1;
constexpr int kC = 2;

constexpr Supervisor::Config kConfig{
    .transient_limit = 3,
    .transient_window_us = 1000,
    .missing_limit = 4,
    .backoff_initial_us = 100,
    .backoff_max_us = 1000,
    .stable_after_us = 5000,
    .repair_timeout_us = 2000,
};

std::uint8_t mask(std::initializer_list<int> replicas) {
  unsigned m = 0;
  for (int r : replicas) m |= 1u << static_cast<unsigned>(r);
  return static_cast<std::uint8_t>(m);
}

Action stop(int r) { return Action{Action::Kind::kStopProcess, r, -1}; }
Action start(int r) { return Action{Action::Kind::kStartProcess, r, -1}; }
Action transfer(int r, int source) { return Action{Action::Kind::kTransferSnapshot, r, source}; }

std::uint64_t faults(const Supervisor::Stats& s, Fault fault) {
  return s.faults_by_kind[static_cast<std::size_t>(fault)];
}

std::string describe(const std::vector<Action>& actions) {
  std::string text;
  for (const Action& a : actions) {
    text += std::string(to_string(a.kind)) + "(" + replica_name(a.replica);
    if (a.kind == Action::Kind::kTransferSnapshot) {
      text += a.source >= 0 ? std::string(" from ") + replica_name(a.source) : " from none";
    }
    text += ") ";
  }
  return text;
}

class RepairTest : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kT0 = 10'000;
  Supervisor sup_{kConfig, kT0};
  Output out_;

  // The actions since the last call, and forgets them.
  std::vector<Action> actions() {
    std::vector<Action> a = out_.actions;
    out_.actions.clear();
    return a;
  }
  std::vector<Transition> transitions() {
    std::vector<Transition> t = out_.transitions;
    out_.transitions.clear();
    return t;
  }
  void fault(int r, Fault f, std::uint64_t t) { sup_.on_fault(r, f, t, &out_); }
  void exited(int r, std::uint64_t t) { sup_.on_process_exited(r, t, &out_); }
  void started(int r, std::uint64_t t) { sup_.on_process_started(r, t, &out_); }
  void installed(int r, std::uint64_t t, std::uint64_t state_bytes = 0) {
    sup_.on_snapshot_installed(r, state_bytes, t, &out_);
  }
  void caught_up(int r, std::uint64_t t) { sup_.on_caught_up(r, t, &out_); }
  void tick(std::uint64_t t) { sup_.on_time(t, &out_); }
  Supervisor::Stats stats(int r, std::uint64_t t) { return sup_.stats(r, t); }

  // Drives a quarantined replica through the whole cycle with the front end
  // answering at once: exit at `t`, start when due, snapshot, catch-up.
  // Returns the rejoin time.
  std::uint64_t complete_repair(int r, std::uint64_t t) {
    EXPECT_EQ(sup_.state(r), ReplicaState::kQuarantined);
    exited(r, t);
    const std::uint64_t restart_at = stats(r, t).restart_at_us;
    EXPECT_GE(restart_at, t + kConfig.backoff_initial_us);
    tick(restart_at);
    started(r, restart_at);
    const int source = stats(r, restart_at).snapshot_source;
    if (source >= 0) installed(r, restart_at + 1);
    caught_up(r, restart_at + 2);
    EXPECT_EQ(sup_.state(r), ReplicaState::kHealthy);
    actions();
    transitions();
    return restart_at + 2;
  }
};

// ---------------------------------------------------------------------------
// Start.

TEST_F(RepairTest, AllStartHealthyInTmr) {
  for (int r = 0; r < kReplicaCount; ++r) EXPECT_EQ(sup_.state(r), ReplicaState::kHealthy);
  EXPECT_EQ(sup_.voting_mask(), mask({kA, kB, kC}));
  EXPECT_EQ(sup_.mode(), Mode::kTmr);
  EXPECT_EQ(sup_.next_timer_us(), std::nullopt);
  const Supervisor::Stats s = stats(kB, kT0 + 500);
  EXPECT_EQ(s.state, ReplicaState::kHealthy);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(s.repairs, 0u);
  EXPECT_EQ(s.total_up_us, 500u);
  EXPECT_EQ(s.mtbf_us, 500u);
  EXPECT_TRUE(s.mtbf_lower_bound);
  EXPECT_EQ(s.mttr_us, 0u);
  EXPECT_FALSE(s.mttr_lower_bound);
  EXPECT_EQ(s.availability_ppm, 1'000'000u);
  // No time observed yet: fully available.
  EXPECT_EQ(stats(kA, kT0).availability_ppm, 1'000'000u);
}

// ---------------------------------------------------------------------------
// Transient faults.

TEST_F(RepairTest, TransientFaultsBelowTheLimitAreCountedOnly) {
  fault(kB, Fault::kWrongVerdict, kT0 + 10);
  fault(kB, Fault::kBadSignature, kT0 + 20);
  EXPECT_EQ(sup_.state(kB), ReplicaState::kHealthy);
  EXPECT_TRUE(actions().empty());
  EXPECT_TRUE(transitions().empty());
  const Supervisor::Stats s = stats(kB, kT0 + 20);
  EXPECT_EQ(faults(s, Fault::kWrongVerdict), 1u);
  EXPECT_EQ(faults(s, Fault::kBadSignature), 1u);
  EXPECT_EQ(s.transient_in_window, 2u);
  EXPECT_EQ(s.failures, 0u);
  EXPECT_EQ(sup_.voting_mask(), mask({kA, kB, kC}));
}

TEST_F(RepairTest, TransientFaultsAtTheLimitSendToRepair) {
  fault(kB, Fault::kWrongVerdict, kT0 + 10);
  fault(kB, Fault::kMissing, kT0 + 20);
  fault(kB, Fault::kBadSignature, kT0 + 30);
  EXPECT_EQ(sup_.state(kB), ReplicaState::kQuarantined);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kB)});
  const std::vector<Transition> t = transitions();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].replica, kB);
  EXPECT_EQ(t[0].from, ReplicaState::kHealthy);
  EXPECT_EQ(t[0].to, ReplicaState::kQuarantined);
  EXPECT_EQ(t[0].at_us, kT0 + 30);
  EXPECT_EQ(t[0].reason, "3 transient faults within 1000 us (last: bad_signature)");
  EXPECT_EQ(sup_.voting_mask(), mask({kA, kC}));
  EXPECT_EQ(sup_.mode(), Mode::kDuplex);
  EXPECT_EQ(stats(kB, kT0 + 30).failures, 1u);
}

TEST_F(RepairTest, TheWindowSlidesAndOldFaultsExpire) {
  fault(kC, Fault::kWrongVerdict, kT0);
  fault(kC, Fault::kWrongVerdict, kT0 + 600);
  EXPECT_EQ(stats(kC, kT0 + 999).transient_in_window, 2u);
  EXPECT_EQ(stats(kC, kT0 + 1000).transient_in_window, 1u);  // now - t == window: out
  // The first one is out of the window by now: two in it, no repair.
  fault(kC, Fault::kWrongVerdict, kT0 + 1000);
  EXPECT_EQ(sup_.state(kC), ReplicaState::kHealthy);
  EXPECT_TRUE(actions().empty());
  // kT0 + 600, kT0 + 1000, kT0 + 1599: three within 1000 us.
  fault(kC, Fault::kWrongVerdict, kT0 + 1599);
  EXPECT_EQ(sup_.state(kC), ReplicaState::kQuarantined);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kC)});
}

TEST_F(RepairTest, SpreadOutTransientFaultsNeverSendToRepair) {
  for (std::uint64_t i = 0; i < 100; ++i) fault(kA, Fault::kBadSignature, kT0 + i * 500);
  EXPECT_EQ(sup_.state(kA), ReplicaState::kHealthy);
  EXPECT_EQ(faults(stats(kA, kT0 + 50'000), Fault::kBadSignature), 100u);
  EXPECT_TRUE(actions().empty());
}

TEST(Repair, TransientLimitOfOneSendsAtTheFirstFault) {
  Supervisor sup(Supervisor::Config{.transient_limit = 1}, 0);
  Output out;
  sup.on_fault(kA, Fault::kMissing, 5, &out);
  EXPECT_EQ(sup.state(kA), ReplicaState::kQuarantined);
  EXPECT_EQ(out.actions, std::vector<Action>{stop(kA)});
}

TEST(Repair, ConsecutiveMissingMeansHung) {
  // A wide transient limit, so only the consecutive rule can fire.
  Supervisor::Config config = kConfig;
  config.transient_limit = 100;
  Supervisor sup(config, 0);
  Output out;
  for (int i = 0; i < 3; ++i) sup.on_fault(kA, Fault::kMissing, 10, &out);
  sup.on_verdict_ok(kA, 11, &out);  // ends the run
  for (int i = 0; i < 3; ++i) sup.on_fault(kA, Fault::kMissing, 12, &out);
  sup.on_fault(kA, Fault::kWrongVerdict, 13, &out);  // an answer, if a wrong one: ends it too
  for (int i = 0; i < 3; ++i) sup.on_fault(kA, Fault::kMissing, 14, &out);
  EXPECT_EQ(sup.state(kA), ReplicaState::kHealthy);
  EXPECT_EQ(sup.stats(kA, 14).consecutive_missing, 3u);
  EXPECT_TRUE(out.actions.empty());
  sup.on_fault(kA, Fault::kMissing, 15, &out);  // the fourth in a row
  EXPECT_EQ(sup.state(kA), ReplicaState::kQuarantined);
  EXPECT_EQ(out.actions, std::vector<Action>{stop(kA)});
  ASSERT_EQ(out.transitions.size(), 1u);
  EXPECT_EQ(out.transitions[0].reason, "4 consecutive missing verdicts (hung)");
  EXPECT_EQ(faults(sup.stats(kA, 15), Fault::kMissing), 10u);
  EXPECT_EQ(faults(sup.stats(kA, 15), Fault::kHung), 0u);  // only reports are counted
}

// ---------------------------------------------------------------------------
// Immediate repair.

TEST(Repair, StateCheckpointAndHangFaultsSendToRepairAtOnce) {
  for (Fault f : {Fault::kStateDigestMismatch, Fault::kCheckpointMismatch, Fault::kHung}) {
    SCOPED_TRACE(to_string(f));
    Supervisor sup(kConfig, 0);
    Output out;
    sup.on_fault(kC, f, 7, &out);
    EXPECT_EQ(sup.state(kC), ReplicaState::kQuarantined);
    EXPECT_EQ(out.actions, std::vector<Action>{stop(kC)});
    ASSERT_EQ(out.transitions.size(), 1u);
    EXPECT_EQ(out.transitions[0].reason, to_string(f));
    EXPECT_EQ(faults(sup.stats(kC, 7), f), 1u);
    EXPECT_EQ(sup.stats(kC, 7).failures, 1u);
    EXPECT_EQ(sup.next_timer_us(), 7 + kConfig.repair_timeout_us);  // the stop's deadline
  }
}

TEST_F(RepairTest, AProcessExitWhileHealthyGoesStraightToDown) {
  exited(kA, kT0 + 5);
  EXPECT_EQ(sup_.state(kA), ReplicaState::kDown);
  EXPECT_TRUE(actions().empty());  // nothing to stop
  const std::vector<Transition> t = transitions();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].from, ReplicaState::kHealthy);
  EXPECT_EQ(t[0].to, ReplicaState::kDown);
  EXPECT_EQ(t[0].reason, "process exited");
  const Supervisor::Stats s = stats(kA, kT0 + 5);
  EXPECT_EQ(faults(s, Fault::kProcessExited), 1u);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_EQ(s.restart_at_us, kT0 + 105);
  EXPECT_EQ(sup_.next_timer_us(), kT0 + 105);
  // on_fault(kProcessExited) is the same call.
  fault(kB, Fault::kProcessExited, kT0 + 6);
  EXPECT_EQ(sup_.state(kB), ReplicaState::kDown);
  EXPECT_EQ(faults(stats(kB, kT0 + 6), Fault::kProcessExited), 1u);
  EXPECT_EQ(sup_.mode(), Mode::kDown);
}

TEST_F(RepairTest, FaultsOfAReplicaThatIsOutAreCountedButChangeNothing) {
  fault(kB, Fault::kStateDigestMismatch, kT0);
  actions();
  transitions();
  for (Fault f : {Fault::kWrongVerdict, Fault::kBadSignature, Fault::kMissing, Fault::kMissing,
                  Fault::kMissing, Fault::kMissing, Fault::kMissing, Fault::kStateDigestMismatch,
                  Fault::kCheckpointMismatch, Fault::kHung}) {
    fault(kB, f, kT0 + 1);
  }
  EXPECT_EQ(sup_.state(kB), ReplicaState::kQuarantined);
  EXPECT_TRUE(actions().empty());
  EXPECT_TRUE(transitions().empty());
  const Supervisor::Stats s = stats(kB, kT0 + 1);
  EXPECT_EQ(faults(s, Fault::kStateDigestMismatch), 2u);
  EXPECT_EQ(faults(s, Fault::kMissing), 5u);
  EXPECT_EQ(faults(s, Fault::kHung), 1u);
  EXPECT_EQ(s.failures, 1u);
}

// ---------------------------------------------------------------------------
// The repair cycle.

TEST_F(RepairTest, FullRepairCycleInOrder) {
  fault(kB, Fault::kStateDigestMismatch, kT0 + 100);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kB)});
  EXPECT_EQ(sup_.state(kB), ReplicaState::kQuarantined);

  exited(kB, kT0 + 110);
  EXPECT_TRUE(actions().empty());
  EXPECT_EQ(sup_.state(kB), ReplicaState::kDown);
  EXPECT_EQ(stats(kB, kT0 + 110).restart_at_us, kT0 + 210);  // + backoff_initial_us
  EXPECT_EQ(sup_.next_timer_us(), kT0 + 210);

  tick(kT0 + 209);
  EXPECT_TRUE(actions().empty());
  tick(kT0 + 210);
  EXPECT_EQ(actions(), std::vector<Action>{start(kB)});
  EXPECT_EQ(sup_.state(kB), ReplicaState::kDown);
  EXPECT_EQ(sup_.next_timer_us(), kT0 + 210 + kConfig.repair_timeout_us);
  tick(kT0 + 215);
  EXPECT_TRUE(actions().empty());  // once only

  started(kB, kT0 + 230);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kB, kA)});
  EXPECT_EQ(sup_.state(kB), ReplicaState::kRepairing);
  EXPECT_EQ(stats(kB, kT0 + 230).snapshot_source, kA);
  EXPECT_EQ(sup_.voting_mask(), mask({kA, kC}));

  installed(kB, kT0 + 260);
  EXPECT_TRUE(actions().empty());
  EXPECT_EQ(sup_.state(kB), ReplicaState::kRepairing);

  caught_up(kB, kT0 + 400);
  EXPECT_TRUE(actions().empty());
  EXPECT_EQ(sup_.state(kB), ReplicaState::kHealthy);
  EXPECT_EQ(sup_.voting_mask(), mask({kA, kB, kC}));
  EXPECT_EQ(sup_.mode(), Mode::kTmr);
  EXPECT_EQ(sup_.next_timer_us(), std::nullopt);

  const std::vector<Transition> t = transitions();
  const std::vector<std::pair<ReplicaState, ReplicaState>> expected = {
      {ReplicaState::kHealthy, ReplicaState::kQuarantined},
      {ReplicaState::kQuarantined, ReplicaState::kDown},
      {ReplicaState::kDown, ReplicaState::kRepairing},
      {ReplicaState::kRepairing, ReplicaState::kHealthy},
  };
  ASSERT_EQ(t.size(), expected.size());
  for (std::size_t i = 0; i < t.size(); ++i) {
    EXPECT_EQ(t[i].replica, kB);
    EXPECT_EQ(t[i].from, expected[i].first) << i;
    EXPECT_EQ(t[i].to, expected[i].second) << i;
  }
  EXPECT_EQ(t[0].at_us, kT0 + 100);
  EXPECT_EQ(t[3].at_us, kT0 + 400);
  EXPECT_EQ(t[3].reason, "caught up");

  const Supervisor::Stats s = stats(kB, kT0 + 400);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_EQ(s.repairs, 1u);
  EXPECT_EQ(s.failed_attempts, 0u);
  EXPECT_EQ(s.last_time_to_repair_us, 300u);  // rejoin - failure
  EXPECT_EQ(s.total_repair_us, 300u);
  EXPECT_EQ(s.total_up_us, 100u);
  EXPECT_EQ(s.current_outage_us, 0u);
  EXPECT_EQ(s.backoff_us, 100u);
}

// A large state's install (sent, then restored by the replica: 41 s for
// 1.47 GB on this VM) may outlast the attempt's deadline: the installed
// snapshot moves it to allow install_us_per_mib per MiB, rounded up, so the
// repair is not stopped halfway and begun again for good. A small state
// leaves it where it was.
TEST(RepairDeadline, AnInstalledStateMovesTheDeadlineByItsSize) {
  constexpr std::uint64_t kT0 = 10'000;
  Supervisor::Config config = kConfig;  // repair_timeout_us 2000
  config.install_us_per_mib = 1000;
  Output out;
  const auto repairing = [&](Supervisor* sup) {
    sup->on_fault(kB, Fault::kStateDigestMismatch, kT0, &out);
    sup->on_process_exited(kB, kT0 + 10, &out);
    sup->on_time(kT0 + 110, &out);  // the start; deadline kT0 + 2110
    sup->on_process_started(kB, kT0 + 120, &out);
    ASSERT_EQ(sup->state(kB), ReplicaState::kRepairing);
    out.actions.clear();
  };

  Supervisor large(config, kT0);
  repairing(&large);
  large.on_snapshot_installed(kB, 3 * 1024 * 1024 + 1, kT0 + 200, &out);  // 4 MiB
  EXPECT_EQ(large.next_timer_us(), kT0 + 4200);
  large.on_time(kT0 + 2110, &out);
  large.on_time(kT0 + 4199, &out);
  EXPECT_TRUE(out.actions.empty()) << describe(out.actions);
  EXPECT_EQ(large.state(kB), ReplicaState::kRepairing);
  large.on_time(kT0 + 4200, &out);
  EXPECT_EQ(out.actions, std::vector<Action>{stop(kB)}) << "the moved deadline holds";
  out.actions.clear();

  Supervisor small(config, kT0);
  repairing(&small);
  small.on_snapshot_installed(kB, 1024 * 1024, kT0 + 200, &out);  // 1 MiB: kT0 + 1200
  EXPECT_EQ(small.next_timer_us(), kT0 + 2110) << "not moved earlier";
  small.on_time(kT0 + 2110, &out);
  EXPECT_EQ(out.actions, std::vector<Action>{stop(kB)});
}

// A replay of N seqs (the whole journal, when no snapshot could be used)
// moves the attempt's deadline to N * replay_us_per_seq after it starts,
// never earlier; a replica not in repair is not affected. Before, a
// journal longer than the attempt's timeout could replay was stopped
// halfway at every attempt (found by a review helper).
TEST(RepairDeadline, AReplayMovesTheDeadlineByItsLength) {
  constexpr std::uint64_t kT0 = 10'000;
  Supervisor::Config config = kConfig;  // repair_timeout_us 2000
  config.replay_us_per_seq = 10;
  Output out;
  Supervisor sup(config, kT0);
  sup.on_fault(kB, Fault::kStateDigestMismatch, kT0, &out);
  sup.on_process_exited(kB, kT0 + 10, &out);
  sup.on_time(kT0 + 110, &out);  // the start; deadline kT0 + 2110
  sup.on_process_started(kB, kT0 + 120, &out);
  ASSERT_EQ(sup.state(kB), ReplicaState::kRepairing);
  out.actions.clear();
  sup.on_replay(kB, 100, kT0 + 200, &out);  // kT0 + 1200: earlier
  EXPECT_EQ(sup.next_timer_us(), kT0 + 2110) << "not moved earlier";
  sup.on_replay(kB, 500, kT0 + 300, &out);
  EXPECT_EQ(sup.next_timer_us(), kT0 + 5300);
  const std::uint64_t ignored = sup.ignored_events();
  sup.on_replay(kA, 1'000, kT0 + 300, &out);
  EXPECT_EQ(sup.ignored_events(), ignored + 1) << "a is healthy";
  sup.on_time(kT0 + 5299, &out);
  EXPECT_TRUE(out.actions.empty()) << describe(out.actions);
  sup.on_time(kT0 + 5300, &out);
  EXPECT_EQ(out.actions, std::vector<Action>{stop(kB)}) << "the moved deadline holds";
}

TEST_F(RepairTest, CatchUpBeforeTheSnapshotIsInstalledIsIgnored) {
  fault(kA, Fault::kHung, kT0);
  exited(kA, kT0 + 1);
  tick(kT0 + 101);
  started(kA, kT0 + 102);
  EXPECT_EQ(actions(), (std::vector<Action>{stop(kA), start(kA), transfer(kA, kB)}));
  caught_up(kA, kT0 + 103);
  EXPECT_EQ(sup_.state(kA), ReplicaState::kRepairing);
  EXPECT_EQ(sup_.ignored_events(), 1u);
  installed(kA, kT0 + 104);
  installed(kA, kT0 + 104);  // a second one: ignored
  EXPECT_EQ(sup_.ignored_events(), 2u);
  caught_up(kA, kT0 + 105);
  EXPECT_EQ(sup_.state(kA), ReplicaState::kHealthy);
}

TEST_F(RepairTest, EventsThatDoNotApplyAreIgnoredAndCounted) {
  started(kA, kT0);                                // no start was asked for
  installed(kA, kT0);                              // not repairing
  caught_up(kA, kT0);                              // not repairing
  sup_.on_repair_failed(kA, kT0, "spawn", &out_);  // not repairing
  EXPECT_EQ(sup_.ignored_events(), 4u);
  fault(kA, Fault::kHung, kT0);
  exited(kA, kT0 + 1);
  exited(kA, kT0 + 2);   // kDown, no process: a duplicate
  started(kA, kT0 + 3);  // no start issued yet
  EXPECT_EQ(sup_.ignored_events(), 6u);
  EXPECT_EQ(sup_.state(kA), ReplicaState::kDown);
  EXPECT_EQ(stats(kA, kT0 + 3).restart_at_us, kT0 + 101);
  EXPECT_EQ(faults(stats(kA, kT0 + 3), Fault::kProcessExited), 0u);  // the exit it asked for
  for (int r = 0; r < kReplicaCount; ++r) EXPECT_EQ(stats(r, kT0 + 3).failed_attempts, 0u);
}

TEST_F(RepairTest, ARestartIsIssuedByWhateverCallComesAfterItsTime) {
  fault(kC, Fault::kHung, kT0);
  exited(kC, kT0);
  actions();
  // No on_time: a verdict report for another replica at a later time fires it.
  sup_.on_verdict_ok(kA, kT0 + 500, &out_);
  EXPECT_EQ(actions(), std::vector<Action>{start(kC)});
}

TEST_F(RepairTest, AnExitReportedAsARestartFallsDueConcernsTheOldProcess) {
  fault(kC, Fault::kHung, kT0);
  exited(kC, kT0);  // restart due at kT0 + 100
  actions();
  // A second report of the same exit, in the call that makes the restart due:
  // judged before the restart is issued, so it is a duplicate, not a failed
  // start of the new process.
  exited(kC, kT0 + 100);
  EXPECT_EQ(actions(), std::vector<Action>{start(kC)});
  EXPECT_EQ(sup_.ignored_events(), 1u);
  EXPECT_EQ(stats(kC, kT0 + 100).failed_attempts, 0u);
}

TEST_F(RepairTest, ACatchUpReportedBeforeTheDeadlineFiresStillCounts) {
  fault(kC, Fault::kHung, kT0);
  exited(kC, kT0);
  tick(kT0 + 100);  // start; deadline kT0 + 2100
  started(kC, kT0 + 100);
  installed(kC, kT0 + 150);
  actions();
  caught_up(kC, kT0 + 2100);  // the deadline has not been acted on yet
  EXPECT_EQ(sup_.state(kC), ReplicaState::kHealthy);
  EXPECT_TRUE(actions().empty());
}

// ---------------------------------------------------------------------------
// Back-off.

TEST_F(RepairTest, BackoffDoublesWhenItFailsRightAfterRejoinAndIsCapped) {
  std::uint64_t t = kT0;
  const std::vector<std::uint64_t> expected = {100, 200, 400, 800, 1000, 1000};
  for (std::size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE(i);
    t += 1000;  // well inside stable_after_us of the last rejoin
    fault(kA, Fault::kStateDigestMismatch, t);
    EXPECT_EQ(stats(kA, t).backoff_us, expected[i]);
    exited(kA, t + 1);
    const std::uint64_t restart_at = t + 1 + expected[i];
    EXPECT_EQ(stats(kA, t + 1).restart_at_us, restart_at);
    EXPECT_EQ(actions(), std::vector<Action>{stop(kA)});
    tick(restart_at - 1);
    EXPECT_TRUE(actions().empty());
    tick(restart_at);
    EXPECT_EQ(actions(), std::vector<Action>{start(kA)});
    started(kA, restart_at);
    installed(kA, restart_at);
    caught_up(kA, restart_at);
    EXPECT_EQ(sup_.state(kA), ReplicaState::kHealthy);
    actions();
    t = restart_at;
  }
  EXPECT_EQ(stats(kA, t).repairs, expected.size());
  EXPECT_EQ(stats(kA, t).failed_attempts, 0u);
}

TEST_F(RepairTest, BackoffResetsAfterAStablePeriod) {
  fault(kA, Fault::kHung, kT0);
  std::uint64_t rejoin = complete_repair(kA, kT0 + 1);
  fault(kA, Fault::kHung, rejoin + 10);
  EXPECT_EQ(stats(kA, rejoin + 10).backoff_us, 200u);
  rejoin = complete_repair(kA, rejoin + 11);
  // Healthy for stable_after_us - 1: still doubles.
  fault(kA, Fault::kHung, rejoin + kConfig.stable_after_us - 1);
  EXPECT_EQ(stats(kA, rejoin + kConfig.stable_after_us).backoff_us, 400u);
  rejoin = complete_repair(kA, rejoin + kConfig.stable_after_us);
  // Healthy for stable_after_us: back to the initial back-off.
  fault(kA, Fault::kHung, rejoin + kConfig.stable_after_us);
  EXPECT_EQ(stats(kA, rejoin + kConfig.stable_after_us).backoff_us, 100u);
}

TEST_F(RepairTest, ANewRestartIsNeverSoonerThanTheBackoff) {
  fault(kB, Fault::kHung, kT0);
  exited(kB, kT0 + 3);
  for (std::uint64_t t = kT0 + 3; t < kT0 + 103; ++t) tick(t);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kB)});
  tick(kT0 + 103);
  EXPECT_EQ(actions(), std::vector<Action>{start(kB)});
}

// ---------------------------------------------------------------------------
// Failed attempts.

TEST_F(RepairTest, ARepairThatDoesNotCatchUpInTimeFailsAndIsRetriedWithBackoff) {
  fault(kB, Fault::kCheckpointMismatch, kT0);
  exited(kB, kT0 + 10);
  tick(kT0 + 110);  // start; the attempt's deadline is kT0 + 110 + 2000
  started(kB, kT0 + 120);
  installed(kB, kT0 + 130);
  EXPECT_EQ(actions(), (std::vector<Action>{stop(kB), start(kB), transfer(kB, kA)}));
  transitions();
  EXPECT_EQ(sup_.next_timer_us(), kT0 + 2110);
  tick(kT0 + 2109);
  EXPECT_TRUE(actions().empty());
  tick(kT0 + 2110);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kB)});
  EXPECT_EQ(sup_.state(kB), ReplicaState::kQuarantined);
  const std::vector<Transition> t = transitions();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].from, ReplicaState::kRepairing);
  EXPECT_EQ(t[0].reason, "repair timed out: not caught up");
  Supervisor::Stats s = stats(kB, kT0 + 2110);
  EXPECT_EQ(s.failed_attempts, 1u);
  EXPECT_EQ(s.failures, 1u);
  EXPECT_EQ(s.backoff_us, 200u);
  // A catch-up at the deadline is too late.
  caught_up(kB, kT0 + 2110);
  EXPECT_EQ(sup_.state(kB), ReplicaState::kQuarantined);

  exited(kB, kT0 + 2115);
  EXPECT_EQ(stats(kB, kT0 + 2115).restart_at_us, kT0 + 2315);
  tick(kT0 + 2315);
  started(kB, kT0 + 2320);
  installed(kB, kT0 + 2330);
  caught_up(kB, kT0 + 2400);
  EXPECT_EQ(actions(), (std::vector<Action>{start(kB), transfer(kB, kA)}));
  s = stats(kB, kT0 + 2400);
  EXPECT_EQ(s.state, ReplicaState::kHealthy);
  EXPECT_EQ(s.repairs, 1u);
  EXPECT_EQ(s.last_time_to_repair_us, 2400u);  // from the first failure, the retries included
}

TEST_F(RepairTest, AStartThatNeverReportsTimesOut) {
  fault(kA, Fault::kHung, kT0);
  exited(kA, kT0);
  tick(kT0 + 100);
  EXPECT_EQ(actions(), (std::vector<Action>{stop(kA), start(kA)}));
  tick(kT0 + 2100);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kA)});
  EXPECT_EQ(sup_.state(kA), ReplicaState::kQuarantined);
  EXPECT_EQ(transitions().back().reason, "repair timed out: process not started");
}

TEST_F(RepairTest, AStopWithoutAnExitIsIssuedAgainAfterTheTimeout) {
  fault(kC, Fault::kHung, kT0);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kC)});
  tick(kT0 + 1999);
  EXPECT_TRUE(actions().empty());
  tick(kT0 + 2000);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kC)});
  EXPECT_EQ(sup_.state(kC), ReplicaState::kQuarantined);
  EXPECT_EQ(stats(kC, kT0 + 2000).backoff_us, 100u);  // unchanged
  EXPECT_EQ(sup_.next_timer_us(), kT0 + 4000);
}

TEST_F(RepairTest, AProcessExitDuringRepairReschedulesWithBackoff) {
  fault(kA, Fault::kHung, kT0);
  exited(kA, kT0);
  tick(kT0 + 100);
  started(kA, kT0 + 110);
  actions();
  transitions();
  exited(kA, kT0 + 150);
  EXPECT_EQ(sup_.state(kA), ReplicaState::kDown);
  EXPECT_TRUE(actions().empty());  // already gone: nothing to stop
  std::vector<Transition> t = transitions();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].from, ReplicaState::kRepairing);
  EXPECT_EQ(t[0].reason, "process exited during repair");
  Supervisor::Stats s = stats(kA, kT0 + 150);
  EXPECT_EQ(s.restart_at_us, kT0 + 350);  // doubled back-off
  EXPECT_EQ(faults(s, Fault::kProcessExited), 1u);
  EXPECT_EQ(s.failed_attempts, 1u);

  // The next process dies before it reports started: kDown -> kDown.
  tick(kT0 + 350);
  EXPECT_EQ(actions(), std::vector<Action>{start(kA)});
  exited(kA, kT0 + 360);
  t = transitions();
  ASSERT_EQ(t.size(), 1u);
  EXPECT_EQ(t[0].from, ReplicaState::kDown);
  EXPECT_EQ(t[0].to, ReplicaState::kDown);
  s = stats(kA, kT0 + 360);
  EXPECT_EQ(s.restart_at_us, kT0 + 760);
  EXPECT_EQ(s.failed_attempts, 2u);
  EXPECT_EQ(faults(s, Fault::kProcessExited), 2u);
}

TEST_F(RepairTest, ARepairFailureQuarantinesAgainWithBackoff) {
  fault(kC, Fault::kHung, kT0);
  exited(kC, kT0);
  tick(kT0 + 100);
  started(kC, kT0 + 110);
  actions();
  transitions();
  sup_.on_repair_failed(kC, kT0 + 120, "snapshot digest mismatch at seq 4000", &out_);
  EXPECT_EQ(sup_.state(kC), ReplicaState::kQuarantined);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kC)});
  EXPECT_EQ(transitions().back().reason, "repair failed: snapshot digest mismatch at seq 4000");
  exited(kC, kT0 + 130);
  EXPECT_EQ(stats(kC, kT0 + 130).restart_at_us, kT0 + 330);
  // A spawn failure reported before the start: the same.
  tick(kT0 + 330);
  sup_.on_repair_failed(kC, kT0 + 331, "spawn failed", &out_);
  EXPECT_EQ(actions(), (std::vector<Action>{start(kC), stop(kC)}));
  exited(kC, kT0 + 332);
  EXPECT_EQ(stats(kC, kT0 + 332).restart_at_us, kT0 + 732);
  EXPECT_EQ(stats(kC, kT0 + 332).failed_attempts, 2u);
}

// ---------------------------------------------------------------------------
// Mode, voting mask and the snapshot source.

TEST_F(RepairTest, OneOutIsDuplexTwoOutIsDown) {
  fault(kA, Fault::kHung, kT0);
  EXPECT_EQ(sup_.mode(), Mode::kDuplex);
  EXPECT_EQ(sup_.voting_mask(), mask({kB, kC}));
  fault(kC, Fault::kStateDigestMismatch, kT0 + 1);
  EXPECT_EQ(sup_.mode(), Mode::kDown);
  EXPECT_EQ(sup_.voting_mask(), mask({kB}));
  EXPECT_EQ(std::popcount(sup_.voting_mask()), 1);
  exited(kB, kT0 + 2);
  EXPECT_EQ(sup_.mode(), Mode::kDown);
  EXPECT_EQ(sup_.voting_mask(), 0);
}

TEST_F(RepairTest, TheSnapshotSourceIsTheLowestHealthyReplica) {
  // a is out (quarantined), so c's source is b, never a.
  fault(kA, Fault::kHung, kT0);
  fault(kC, Fault::kHung, kT0);
  exited(kC, kT0);
  tick(kT0 + 100);
  actions();
  started(kC, kT0 + 101);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, kB)});
}

TEST_F(RepairTest, NoHealthyReplicaMeansReplayFromTheStart) {
  fault(kA, Fault::kHung, kT0);
  fault(kB, Fault::kHung, kT0);
  fault(kC, Fault::kHung, kT0);
  for (int r = 0; r < kReplicaCount; ++r) exited(r, kT0 + 1);
  tick(kT0 + 101);
  EXPECT_EQ(sup_.mode(), Mode::kDown);
  actions();
  started(kB, kT0 + 102);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kB, -1)});
  EXPECT_EQ(stats(kB, kT0 + 102).snapshot_source, -1);
  installed(kB, kT0 + 103);  // there is no snapshot to install
  EXPECT_EQ(sup_.ignored_events(), 1u);
  caught_up(kB, kT0 + 200);  // straight from the replay
  EXPECT_EQ(sup_.state(kB), ReplicaState::kHealthy);
  // b is now the only healthy replica: the next one takes its snapshot from b.
  started(kA, kT0 + 201);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kA, kB)});
}

TEST_F(RepairTest, ASourceThatLeavesBeforeTheInstallIsReplaced) {
  fault(kC, Fault::kHung, kT0);
  exited(kC, kT0);
  tick(kT0 + 100);
  started(kC, kT0 + 101);
  EXPECT_EQ(actions().back(), transfer(kC, kA));
  fault(kA, Fault::kStateDigestMismatch, kT0 + 102);
  EXPECT_EQ(actions(), (std::vector<Action>{stop(kA), transfer(kC, kB)}));
  EXPECT_EQ(stats(kC, kT0 + 102).snapshot_source, kB);
  installed(kC, kT0 + 103);
  // Once installed, the source leaving changes nothing for c.
  exited(kB, kT0 + 104);
  EXPECT_TRUE(actions().empty());
  // And with none left healthy, a new transfer says so.
  caught_up(kC, kT0 + 105);
  EXPECT_EQ(sup_.state(kC), ReplicaState::kHealthy);
  EXPECT_EQ(sup_.voting_mask(), mask({kC}));
}

TEST_F(RepairTest, ASourceLeavingWithNoOtherHealthyGivesTransferFromNone) {
  fault(kB, Fault::kHung, kT0);
  fault(kC, Fault::kHung, kT0);
  exited(kC, kT0);
  tick(kT0 + 100);
  started(kC, kT0 + 101);
  EXPECT_EQ(actions().back(), transfer(kC, kA));
  exited(kA, kT0 + 102);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, -1)});
}

// c hung at kT0, its new process started at kT0 + 101 and its snapshot
// asked of a; a source is waited for 300 us.
class SnapshotWait : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kT0 = 10'000;
  static Supervisor::Config config() {
    Supervisor::Config c = kConfig;
    c.snapshot_wait_us = 300;
    return c;
  }
  void SetUp() override {
    sup.on_fault(kC, Fault::kHung, kT0, &out);
    sup.on_process_exited(kC, kT0, &out);
    sup.on_time(kT0 + 100, &out);
    actions();
    sup.on_process_started(kC, kT0 + 101, &out);
    ASSERT_EQ(actions(), std::vector<Action>{transfer(kC, kA)});
  }
  std::vector<Action> actions() { return std::exchange(out.actions, {}); }
  // c's process exits at `exited_us`; its restart is let happen and the new
  // process started. Returns when; the new attempt's actions are left.
  std::uint64_t restart_c(std::uint64_t exited_us) {
    sup.on_process_exited(kC, exited_us, &out);
    const std::uint64_t restart_at = sup.stats(kC, exited_us).restart_at_us;
    sup.on_time(restart_at, &out);
    actions();
    sup.on_process_started(kC, restart_at, &out);
    return restart_at;
  }
  Supervisor sup{config(), kT0};
  Output out;
};

// A source that gives no snapshot in time is passed over for the attempt:
// the next healthy replica is asked, then none (a replay of the whole
// journal). Found by a review helper: a faulty a, the lowest healthy
// replica, kept its snapshot back, and each attempt waited for its timeout
// and asked a again. The next attempt asks every source again.
TEST_F(SnapshotWait, ASourceThatGivesNoSnapshotInTimeIsPassedOver) {
  EXPECT_EQ(sup.next_timer_us(), kT0 + 401);
  sup.on_time(kT0 + 400, &out);
  EXPECT_TRUE(actions().empty());
  sup.on_time(kT0 + 401, &out);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, kB)}) << "a is passed over";
  EXPECT_EQ(sup.stats(kC, kT0 + 401).snapshot_source, kB);
  sup.on_time(kT0 + 701, &out);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, -1)}) << "then b";
  EXPECT_EQ(sup.next_timer_us(), kT0 + 100 + config().repair_timeout_us)
      << "the attempt's deadline";
  EXPECT_EQ(sup.state(kC), ReplicaState::kRepairing);

  // A snapshot installed in time ends the wait: the next attempt, asking a
  // again, goes on with it.
  sup.on_time(kT0 + 100 + config().repair_timeout_us, &out);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kC)});
  const std::uint64_t restart_at = restart_c(kT0 + 3000);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, kA)});
  sup.on_snapshot_installed(kC, 0, restart_at + 299, &out);
  sup.on_time(restart_at + 1000, &out);
  EXPECT_TRUE(actions().empty());
  sup.on_caught_up(kC, restart_at + 1001, &out);
  EXPECT_EQ(sup.state(kC), ReplicaState::kHealthy);
}

// A source whose parts keep coming, too slowly to finish, holds the attempt
// until its timeout; the next attempt asks the other healthy replica first,
// and the first one only when that one gives none either. Before, each
// attempt asked the lowest healthy replica first again, and a faulty one
// trickling parts held every attempt (found by a review helper).
TEST_F(SnapshotWait, ASourceThatHeldTheLastAttemptIsAskedLast) {
  const std::uint64_t deadline = kT0 + 100 + config().repair_timeout_us;
  for (std::uint64_t t = kT0 + 200; t < deadline; t += 200) {
    sup.on_snapshot_progress(kC, t, &out);
  }
  sup.on_time(deadline, &out);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kC)});
  const std::uint64_t restart_at = restart_c(deadline + 1);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, kB)}) << "a held the last attempt";
  sup.on_time(restart_at + 300, &out);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, kA)}) << "b gave none: a after all";
  sup.on_snapshot_installed(kC, 0, restart_at + 400, &out);
  sup.on_caught_up(kC, restart_at + 500, &out);
  EXPECT_EQ(sup.state(kC), ReplicaState::kHealthy);
}

// A source is not asked last for what was not its doing: the replica's
// own process ending, or an attempt that timed out after the source's
// snapshot came (the front end held it for a vote, or was checking it).
TEST_F(SnapshotWait, ASourceIsNotAskedLastForAFailureNotItsOwn) {
  const std::uint64_t restart_at = restart_c(kT0 + 200);  // c's own process ends
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, kA)});
  EXPECT_EQ(sup.stats(kC, restart_at).asked_last, -1);
  sup.on_snapshot_received(kC, restart_at + 100, &out);  // then held past the deadline
  const std::uint64_t deadline = restart_at + config().repair_timeout_us;
  sup.on_time(deadline, &out);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kC)});
  EXPECT_EQ(sup.stats(kC, deadline).asked_last, -1);
  restart_c(deadline + 1);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, kA)});
}

// Each part of a snapshot moves the wait on: a source sending a large state
// is waited for as long as its parts keep coming, and one that stops
// halfway is passed over snapshot_wait_us after its last part, as one that
// never answered (before, its first part ended the wait for good, and the
// repair waited for its timeout, then asked the same source first again).
TEST_F(SnapshotWait, APartMovesTheWaitOnAndASourceThatStopsIsPassedOver) {
  sup.on_snapshot_progress(kC, kT0 + 350, &out);
  EXPECT_EQ(sup.next_timer_us(), kT0 + 650);
  sup.on_time(kT0 + 401, &out);
  EXPECT_TRUE(actions().empty()) << "a part came at kT0 + 350";
  sup.on_snapshot_progress(kC, kT0 + 600, &out);
  sup.on_time(kT0 + 899, &out);
  EXPECT_TRUE(actions().empty());
  sup.on_time(kT0 + 900, &out);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, kB)}) << "a stopped: passed over";
  sup.on_snapshot_received(kC, kT0 + 950, &out);  // b's came whole
  const std::uint64_t ignored = sup.ignored_events();
  sup.on_snapshot_progress(kC, kT0 + 960, &out);  // nothing awaits a part now
  EXPECT_EQ(sup.ignored_events(), ignored + 1);
  sup.on_time(kT0 + 1'500, &out);
  EXPECT_TRUE(actions().empty()) << "b's came: not passed over";
}

// A snapshot that came is not waited for any more (it may wait for the vote
// at its seq, which can take a deadline); one that does not check passes its
// source over at once, like one that never came.
TEST_F(SnapshotWait, ASnapshotThatCameIsNotWaitedForAndABadOnePassesItsSourceOver) {
  sup.on_snapshot_received(kC, kT0 + 200, &out);
  sup.on_time(kT0 + 1'000, &out);
  EXPECT_TRUE(actions().empty()) << "received: not passed over";
  sup.on_snapshot_unusable(kC, kT0 + 1'001, &out);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, kB)});
  sup.on_snapshot_unusable(kC, kT0 + 1'002, &out);
  EXPECT_EQ(actions(), std::vector<Action>{transfer(kC, -1)});
  const std::uint64_t ignored = sup.ignored_events();
  sup.on_snapshot_unusable(kC, kT0 + 1'003, &out);  // no source: nothing to pass over
  EXPECT_TRUE(actions().empty());
  EXPECT_EQ(sup.ignored_events(), ignored + 1);
  EXPECT_EQ(sup.state(kC), ReplicaState::kRepairing);
}

// ---------------------------------------------------------------------------
// MTBF, MTTR, availability on a scripted scenario, computed by hand.

TEST(RepairFigures, ScriptedScenario) {
  Supervisor sup(kConfig, 0);
  Output out;
  // a: up 0..1000.
  Supervisor::Stats s = sup.stats(kA, 1000);
  EXPECT_EQ(s.mtbf_us, 1000u);
  EXPECT_TRUE(s.mtbf_lower_bound);
  EXPECT_EQ(s.availability_ppm, 1'000'000u);

  // Fails at 1000; out 1000..1300 (300).
  sup.on_fault(kA, Fault::kStateDigestMismatch, 1000, &out);
  sup.on_process_exited(kA, 1010, &out);  // restart at 1110
  sup.on_time(1110, &out);
  sup.on_process_started(kA, 1150, &out);
  // During the first outage: MTBF 1000/1, MTTR the outage so far, a lower bound.
  s = sup.stats(kA, 1100);
  EXPECT_EQ(s.mtbf_us, 1000u);
  EXPECT_FALSE(s.mtbf_lower_bound);
  EXPECT_EQ(s.mttr_us, 150u);  // 1150 - 1000: the latest time seen
  EXPECT_TRUE(s.mttr_lower_bound);
  EXPECT_EQ(s.current_outage_us, 150u);
  EXPECT_EQ(s.availability_ppm, 869'565u);  // 1000 / 1150
  sup.on_snapshot_installed(kA, 0, 1200, &out);
  sup.on_caught_up(kA, 1300, &out);
  EXPECT_EQ(sup.stats(kA, 1300).last_time_to_repair_us, 300u);

  // Up 1300..7000 (5700); fails by exiting at 7000, more than stable_after_us
  // after the rejoin, so the back-off is back to 100; out 7000..7200 (200).
  sup.on_process_exited(kA, 7000, &out);
  EXPECT_EQ(sup.stats(kA, 7000).backoff_us, 100u);
  sup.on_time(7100, &out);
  sup.on_process_started(kA, 7120, &out);
  sup.on_snapshot_installed(kA, 0, 7150, &out);
  sup.on_caught_up(kA, 7200, &out);

  // Up 7200..10000 (2800).
  s = sup.stats(kA, 10'000);
  EXPECT_EQ(s.state, ReplicaState::kHealthy);
  EXPECT_EQ(s.failures, 2u);
  EXPECT_EQ(s.repairs, 2u);
  EXPECT_EQ(s.total_up_us, 1000u + 5700u + 2800u);
  EXPECT_EQ(s.total_repair_us, 500u);
  EXPECT_EQ(s.last_time_to_repair_us, 200u);
  EXPECT_EQ(s.mtbf_us, 4750u);  // 9500 / 2
  EXPECT_FALSE(s.mtbf_lower_bound);
  EXPECT_EQ(s.mttr_us, 250u);  // 500 / 2
  EXPECT_FALSE(s.mttr_lower_bound);
  EXPECT_EQ(s.availability_ppm, 950'000u);  // 4750 / 5000

  // b never failed: MTBF is the whole observed uptime, a lower bound.
  s = sup.stats(kB, 10'000);
  EXPECT_EQ(s.mtbf_us, 10'000u);
  EXPECT_TRUE(s.mtbf_lower_bound);
  EXPECT_EQ(s.mttr_us, 0u);
  EXPECT_EQ(s.availability_ppm, 1'000'000u);

  // Out again from 12,000; while out, the outage so far counts as a third
  // repair (a lower bound): a long outage after quick repairs shows.
  sup.on_fault(kA, Fault::kHung, 12'000, &out);
  s = sup.stats(kA, 13'000);
  EXPECT_EQ(s.total_up_us, 9500u + 2000u);
  EXPECT_EQ(s.mtbf_us, 3833u);  // 11500 / 3
  EXPECT_EQ(s.mttr_us, 500u);   // (500 + 1000) / 3
  EXPECT_TRUE(s.mttr_lower_bound);
  EXPECT_EQ(s.current_outage_us, 1000u);
  EXPECT_EQ(s.availability_ppm, 884'606u);  // 3833 / 4333 = 0.88460650...
  // Up + completed repairs + the current outage = all the time observed.
  EXPECT_EQ(s.total_up_us + s.total_repair_us + s.current_outage_us, 13'000u);
  s = sup.stats(kA, 112'000);               // out for 100,000
  EXPECT_EQ(s.mttr_us, 33'500u);            // (500 + 100,000) / 3
  EXPECT_EQ(s.availability_ppm, 102'670u);  // 3833 / 37333 = 0.10267...
}

TEST(RepairFigures, FailedAtTheStartWithNoTimeObservedIsZeroAvailability) {
  Supervisor sup(kConfig, 50);
  Output out;
  sup.on_fault(kA, Fault::kHung, 50, &out);
  const Supervisor::Stats s = sup.stats(kA, 50);
  EXPECT_EQ(s.mtbf_us, 0u);
  EXPECT_EQ(s.mttr_us, 0u);
  EXPECT_EQ(s.availability_ppm, 0u);
  EXPECT_EQ(sup.stats(kA, 150).availability_ppm, 0u);  // 0 / (0 + 100)
}

TEST(RepairFigures, HugeTimesDoNotOverflow) {
  constexpr std::uint64_t kBig = std::uint64_t{1} << 62;
  Supervisor sup(kConfig, 0);
  Output out;
  sup.on_fault(kA, Fault::kHung, kBig, &out);
  Supervisor::Stats s = sup.stats(kA, kBig + kBig / 3);
  EXPECT_EQ(s.mtbf_us, kBig);
  EXPECT_EQ(s.mttr_us, kBig / 3);
  EXPECT_EQ(s.availability_ppm, 750'000u);  // 3/4, exactly enough
  s = sup.stats(kB, kBig * 3);
  EXPECT_EQ(s.availability_ppm, 1'000'000u);
  // Restarts and deadlines saturate instead of wrapping.
  Supervisor late(kConfig, 0);
  late.on_fault(kC, Fault::kHung, ~std::uint64_t{0} - 10, &out);
  EXPECT_EQ(late.next_timer_us(), ~std::uint64_t{0});
}

// ---------------------------------------------------------------------------
// Time, strings, misuse.

TEST_F(RepairTest, TimeGoingBackwardsIsTakenAsTheLatestSeen) {
  fault(kA, Fault::kHung, kT0 + 1000);
  exited(kA, kT0 + 10);  // an older reading: taken as kT0 + 1000
  EXPECT_EQ(stats(kA, 0).restart_at_us, kT0 + 1100);
  tick(kT0);
  EXPECT_EQ(actions(), std::vector<Action>{stop(kA)});
  EXPECT_EQ(stats(kB, 0).total_up_us, 1000u);
}

TEST(Repair, ToString) {
  EXPECT_STREQ(to_string(ReplicaState::kHealthy), "healthy");
  EXPECT_STREQ(to_string(ReplicaState::kQuarantined), "quarantined");
  EXPECT_STREQ(to_string(ReplicaState::kDown), "down");
  EXPECT_STREQ(to_string(ReplicaState::kRepairing), "repairing");
  EXPECT_STREQ(to_string(Fault::kWrongVerdict), "wrong_verdict");
  EXPECT_STREQ(to_string(Fault::kBadSignature), "bad_signature");
  EXPECT_STREQ(to_string(Fault::kMissing), "missing");
  EXPECT_STREQ(to_string(Fault::kStateDigestMismatch), "state_digest_mismatch");
  EXPECT_STREQ(to_string(Fault::kCheckpointMismatch), "checkpoint_mismatch");
  EXPECT_STREQ(to_string(Fault::kProcessExited), "process_exited");
  EXPECT_STREQ(to_string(Fault::kHung), "hung");
  EXPECT_STREQ(to_string(Mode::kTmr), "tmr");
  EXPECT_STREQ(to_string(Mode::kDuplex), "duplex");
  EXPECT_STREQ(to_string(Mode::kDown), "down");
  EXPECT_STREQ(to_string(Action::Kind::kStopProcess), "stop_process");
  EXPECT_STREQ(to_string(Action::Kind::kStartProcess), "start_process");
  EXPECT_STREQ(to_string(Action::Kind::kTransferSnapshot), "transfer_snapshot");
  EXPECT_TRUE(is_transient(Fault::kMissing));
  EXPECT_FALSE(is_transient(Fault::kHung));
}

TEST(RepairDeathTest, MisuseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Output out;
  EXPECT_DEATH(
      {
        Supervisor sup(kConfig, 0);
        sup.on_fault(3, Fault::kHung, 0, &out);
      },
      "assertion failed");
  EXPECT_DEATH(
      {
        Supervisor sup(kConfig, 0);
        sup.on_caught_up(-1, 0, &out);
      },
      "assertion failed");
  EXPECT_DEATH(
      {
        Supervisor sup(kConfig, 0);
        sup.on_time(1, nullptr);
      },
      "assertion failed");
  EXPECT_DEATH(
      {
        Supervisor::Config config = kConfig;
        config.backoff_max_us = config.backoff_initial_us - 1;
        Supervisor sup(config, 0);
      },
      "assertion failed");
  EXPECT_DEATH(
      {
        Supervisor::Config config = kConfig;
        config.transient_limit = 0;
        Supervisor sup(config, 0);
      },
      "assertion failed");
}

// ---------------------------------------------------------------------------
// Randomized: 100,000 random events, the front end sometimes playing its part
// and sometimes reporting nonsense, checked against invariants.

std::uint64_t test_seed() {
  if (const char* env = std::getenv("TRIAD_REPAIR_SEED")) return std::strtoull(env, nullptr, 10);
  return 20'251'127;
}

bool allowed(ReplicaState from, ReplicaState to) {
  using S = ReplicaState;
  switch (from) {
    case S::kHealthy:
      return to == S::kQuarantined || to == S::kDown;
    case S::kQuarantined:
      return to == S::kDown;
    case S::kDown:
      return to == S::kRepairing || to == S::kDown || to == S::kQuarantined;
    case S::kRepairing:
      return to == S::kHealthy || to == S::kQuarantined || to == S::kDown;
  }
  return false;
}

TEST(RepairRandomized, HundredThousandEventsKeepTheInvariants) {
  const std::uint64_t seed = test_seed();
  SCOPED_TRACE("seed " + std::to_string(seed) +
               " (rerun with TRIAD_REPAIR_SEED=" + std::to_string(seed) + ")");
  std::mt19937_64 rng(seed);
  auto uniform = [&rng](std::uint64_t lo, std::uint64_t hi) {
    return std::uniform_int_distribution<std::uint64_t>(lo, hi)(rng);
  };
  auto chance = [&](unsigned percent) { return uniform(0, 99) < percent; };

  constexpr std::uint64_t kT0 = 1'000;
  // Missing limit below the transient limit, so both rules fire.
  Supervisor::Config config = kConfig;
  config.transient_limit = 4;
  config.missing_limit = 3;
  Supervisor sup(config, kT0);
  Output out;

  // The test's own picture of each replica.
  struct Model {
    ReplicaState state = ReplicaState::kHealthy;
    bool stop_outstanding = false;   // kStopProcess issued, no exit reported since
    bool started_since_exit = true;  // kStartProcess (or the initial start) since the last exit
    std::uint64_t last_exit_us = 0;  // time of the last exit reported
    std::uint64_t failures = 0;
    std::vector<std::uint64_t> transient_us;  // every transient fault since it became healthy
    std::uint32_t missing_run = 0;
  };
  std::array<Model, kReplicaCount> model;
  std::uint64_t t = kT0;
  std::uint64_t latest = kT0;  // the latest time the supervisor has seen
  std::uint64_t repairs = 0;
  std::uint64_t failed_attempts = 0;
  std::uint64_t transfers_from_none = 0;
  std::uint64_t starts = 0;
  std::uint64_t window_failures = 0;
  std::uint64_t hung_failures = 0;
  std::uint64_t max_backoff_seen = 0;
  std::uint64_t tmr_steps = 0;
  std::uint64_t duplex_steps = 0;
  std::uint64_t down_steps = 0;

  for (int step = 0; step < 100'000; ++step) {
    SCOPED_TRACE("step " + std::to_string(step));
    if (chance(2)) {
      t += uniform(1000, 8000);  // a quiet spell: timers, windows and stability pass
    } else if (chance(70)) {
      t += uniform(0, 120);
    }
    if (chance(1)) t -= std::min<std::uint64_t>(t - kT0, uniform(0, 50));  // an older reading
    const std::uint64_t now = t;
    const int r = static_cast<int>(uniform(0, kReplicaCount - 1));
    Model& m = model[static_cast<std::size_t>(r)];
    const ReplicaState before = sup.state(r);
    const Supervisor::Stats before_stats = sup.stats(r, 0);
    std::array<int, kReplicaCount> asked_last_before{};  // as the call's transfers saw it
    for (int h = 0; h < kReplicaCount; ++h) {
      asked_last_before[static_cast<std::size_t>(h)] = sup.stats(h, 0).asked_last;
    }
    out.clear();
    const bool trace = std::getenv("TRIAD_REPAIR_TRACE") != nullptr;

    // Either the front end doing its part for r, or anything at all.
    // A healthy replica mostly answers (rightly or with a transient fault);
    // one that is out mostly gets the front end's next step.
    const bool helpful = chance(before == ReplicaState::kHealthy ? 85 : 70);
    int kind = static_cast<int>(uniform(0, 9));
    if (helpful) {
      switch (before) {
        case ReplicaState::kHealthy:
          kind = chance(10) ? 0 : 1;  // a fault or a good verdict
          break;
        case ReplicaState::kQuarantined:
          kind = 2;  // exit
          break;
        case ReplicaState::kDown:
          kind = before_stats.restart_at_us == 0 ? 3 : 8;  // started, or wait
          break;
        case ReplicaState::kRepairing:
          kind = before_stats.snapshot_source >= 0 && !chance(30) ? 4 : 5;
          break;
      }
    }
    // The time the supervisor goes by: the latest it has seen.
    latest = std::max(latest, now);
    const std::uint64_t ignored_before = sup.ignored_events();
    bool exit_reported = false;
    switch (kind) {
      case 0: {
        constexpr std::array<Fault, 10> kPick = {Fault::kWrongVerdict,
                                                 Fault::kBadSignature,
                                                 Fault::kMissing,
                                                 Fault::kMissing,
                                                 Fault::kMissing,
                                                 Fault::kWrongVerdict,
                                                 Fault::kStateDigestMismatch,
                                                 Fault::kCheckpointMismatch,
                                                 Fault::kHung,
                                                 Fault::kProcessExited};
        Fault f = kPick[uniform(0, kPick.size() - 1)];
        if (f != Fault::kWrongVerdict && f != Fault::kMissing && f != Fault::kBadSignature &&
            chance(80)) {
          f = Fault::kMissing;  // keep immediate faults rarer than transient ones
        }
        if (f == Fault::kProcessExited) exit_reported = true;
        sup.on_fault(r, f, now, &out);
        if (before == ReplicaState::kHealthy && is_transient(f)) {
          // The naive model: every transient fault time since it became
          // healthy, and the run of kMissing.
          m.transient_us.push_back(latest);
          m.missing_run = f == Fault::kMissing ? m.missing_run + 1 : 0;
          std::uint32_t in_window = 0;
          for (std::uint64_t ft : m.transient_us) {
            if (latest - ft < config.transient_window_us) ++in_window;
          }
          const bool hung = m.missing_run >= config.missing_limit;
          const bool window = in_window >= config.transient_limit;
          ASSERT_EQ(sup.state(r) != ReplicaState::kHealthy, hung || window);
          if (hung) {
            ++hung_failures;
          } else if (window) {
            ++window_failures;
          } else {
            ASSERT_EQ(sup.stats(r, latest).transient_in_window, in_window);
            ASSERT_EQ(sup.stats(r, latest).consecutive_missing, m.missing_run);
          }
        } else if (before == ReplicaState::kHealthy) {
          ASSERT_NE(sup.state(r), ReplicaState::kHealthy);  // immediate
        } else {
          // Counted only; a change can come from a deadline firing after it.
          for (const Transition& tr : out.transitions) {
            ASSERT_TRUE(tr.replica != r || f == Fault::kProcessExited ||
                        tr.reason.starts_with("repair timed out"))
                << tr.reason;
          }
        }
        break;
      }
      case 1:
        sup.on_verdict_ok(r, now, &out);
        if (sup.state(r) == ReplicaState::kHealthy) m.missing_run = 0;
        break;
      case 2:
        exit_reported = true;
        sup.on_process_exited(r, now, &out);
        break;
      case 3:
        sup.on_process_started(r, now, &out);
        break;
      case 4:
        sup.on_snapshot_installed(r, 0, now, &out);
        break;
      case 5:
        sup.on_caught_up(r, now, &out);
        break;
      case 6:
        sup.on_repair_failed(r, now, "random", &out);
        break;
      default:
        sup.on_time(now, &out);
        break;
    }

    if (trace) {
      std::fprintf(stderr, "%d t=%llu %c kind=%d %s -> %s | %s\n", step,
                   static_cast<unsigned long long>(now), replica_name(r), kind, to_string(before),
                   to_string(sup.state(r)), describe(out.actions).c_str());
    }
    // An exit it did not ignore (a duplicate in kDown) ends the process,
    // before any action of this call.
    if (exit_reported && sup.ignored_events() == ignored_before) {
      m.stop_outstanding = false;
      m.started_since_exit = false;
      m.last_exit_us = latest;
    }
    // Every action, in order.
    for (const Action& a : out.actions) {
      Model& am = model[static_cast<std::size_t>(a.replica)];
      switch (a.kind) {
        case Action::Kind::kStopProcess:
          am.stop_outstanding = true;
          break;
        case Action::Kind::kStartProcess:
          ASSERT_FALSE(am.stop_outstanding)
              << "start of " << replica_name(a.replica) << " before the exit its stop asked for; "
              << describe(out.actions);
          ASSERT_FALSE(am.started_since_exit) << "two starts of " << replica_name(a.replica)
                                              << " without an exit; " << describe(out.actions);
          ASSERT_GE(latest, am.last_exit_us + config.backoff_initial_us);
          am.started_since_exit = true;
          ++starts;
          break;
        case Action::Kind::kTransferSnapshot:
          ASSERT_NE(a.source, a.replica);
          // Repairing now, unless the deadline fired later in the same call.
          ASSERT_TRUE(sup.state(a.replica) == ReplicaState::kRepairing ||
                      std::any_of(out.transitions.begin(), out.transitions.end(),
                                  [&](const Transition& tr) {
                                    return tr.replica == a.replica &&
                                           tr.from == ReplicaState::kRepairing;
                                  }));
          if (a.source >= 0) {
            // The lowest healthy replica, but the one the last failed
            // attempt waited on only when no other is healthy.
            ASSERT_EQ(sup.state(a.source), ReplicaState::kHealthy);
            const int asked_last = asked_last_before[static_cast<std::size_t>(a.replica)];
            for (int h = 0; h < kReplicaCount; ++h) {
              if (h == a.replica || h == a.source || sup.state(h) != ReplicaState::kHealthy) {
                continue;
              }
              ASSERT_TRUE(h > a.source ? a.source != asked_last : h == asked_last)
                  << replica_name(h) << " passed for " << replica_name(a.source);
            }
          } else {
            ASSERT_EQ(sup.voting_mask(), 0) << "transfer from none while one is healthy";
            ++transfers_from_none;
          }
          break;
      }
    }
    // Every transition follows an allowed edge from the state the test knew.
    for (const Transition& tr : out.transitions) {
      Model& tm = model[static_cast<std::size_t>(tr.replica)];
      ASSERT_EQ(tr.from, tm.state);
      ASSERT_TRUE(allowed(tr.from, tr.to))
          << to_string(tr.from) << " -> " << to_string(tr.to) << " (" << tr.reason << ")";
      if (tr.from == ReplicaState::kHealthy) {
        ++tm.failures;
        tm.transient_us.clear();
        tm.missing_run = 0;
      }
      if (tr.to == ReplicaState::kHealthy) {
        ++repairs;
        tm.transient_us.clear();
        tm.missing_run = 0;
      }
      tm.state = tr.to;
    }

    // The whole picture after the call.
    std::uint8_t expected_mask = 0;
    int healthy = 0;
    for (int q = 0; q < kReplicaCount; ++q) {
      const Model& qm = model[static_cast<std::size_t>(q)];
      ASSERT_EQ(sup.state(q), qm.state) << replica_name(q);
      const Supervisor::Stats s = sup.stats(q, latest);
      ASSERT_EQ(s.state, qm.state);
      ASSERT_EQ(s.failures, qm.failures);
      if (qm.state == ReplicaState::kHealthy) {
        expected_mask = static_cast<std::uint8_t>(expected_mask | (1u << static_cast<unsigned>(q)));
        ++healthy;
        ASSERT_EQ(s.failures, s.repairs);
        ASSERT_EQ(s.current_outage_us, 0u);
      } else {
        ASSERT_EQ(s.failures, s.repairs + 1);
      }
      if (s.failures > 0) {
        ASSERT_GE(s.backoff_us, config.backoff_initial_us);
        ASSERT_LE(s.backoff_us, config.backoff_max_us);
        max_backoff_seen = std::max(max_backoff_seen, s.backoff_us);
      }
      if (s.restart_at_us != 0) {
        ASSERT_EQ(qm.state, ReplicaState::kDown);
        ASSERT_GE(s.restart_at_us, qm.last_exit_us + config.backoff_initial_us);
        ASSERT_LE(s.restart_at_us, latest + config.backoff_max_us);
      }
      if (qm.state == ReplicaState::kQuarantined) {
        ASSERT_TRUE(qm.stop_outstanding);
      }
      // All the time observed is either up, in a completed repair or in the
      // current outage.
      ASSERT_EQ(s.total_up_us + s.total_repair_us + s.current_outage_us, latest - kT0);
      if (s.repairs > 0) {
        ASSERT_LE(s.last_time_to_repair_us, s.total_repair_us);
      }
      ASSERT_LE(s.availability_ppm, 1'000'000u);
      const std::uint64_t sum = s.mtbf_us + s.mttr_us;
      if (sum > 0) {
        const double exact = static_cast<double>(s.mtbf_us) * 1e6 / static_cast<double>(sum);
        ASSERT_LE(std::abs(exact - static_cast<double>(s.availability_ppm)), 1.0);
      }
    }
    ASSERT_EQ(sup.voting_mask(), expected_mask);
    ASSERT_EQ(sup.mode(), healthy == 3 ? Mode::kTmr : healthy == 2 ? Mode::kDuplex : Mode::kDown);
    tmr_steps += healthy == 3 ? 1 : 0;
    duplex_steps += healthy == 2 ? 1 : 0;
    down_steps += healthy < 2 ? 1 : 0;
    // A pending timer exists exactly when some replica is out.
    ASSERT_EQ(sup.next_timer_us().has_value(), healthy < kReplicaCount);
  }
  for (int q = 0; q < kReplicaCount; ++q) failed_attempts += sup.stats(q, latest).failed_attempts;

  // The run really went through the paths it is meant to check (about a
  // third of what a typical seed gives).
  EXPECT_GT(repairs, 500u);
  EXPECT_GT(failed_attempts, 500u);
  EXPECT_GT(starts, 1000u);
  EXPECT_GT(window_failures, 25u);
  EXPECT_GT(hung_failures, 5u);
  EXPECT_GT(transfers_from_none, 50u);
  EXPECT_EQ(max_backoff_seen, config.backoff_max_us);
  EXPECT_GT(tmr_steps, 10'000u);
  EXPECT_GT(duplex_steps, 10'000u);
  EXPECT_GT(down_steps, 5'000u);
}

}  // namespace
}  // namespace triad::repair
