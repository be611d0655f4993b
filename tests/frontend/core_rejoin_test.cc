// Repair as the front end's Core runs it, stepped on an injected clock: a
// replica's new process is answerable for its own verdicts only, from the seq
// it rejoined at.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core_driver.h"
#include "replica/checkpoint.h"
#include "rules/engine.h"
#include "sample/sample.h"

namespace triad::frontend {
namespace {

using repair::ReplicaState;
constexpr int kA = 0;
constexpr int kC = 2;

class Rejoin : public CoreDriver {
 protected:
  static bool has_command(const Outbox& out, Outbox::ProcessCommand::Kind kind) {
    for (const auto& p : out.processes) {
      if (p.replica == kC && p.kind == kind) return true;
    }
    return false;
  }

  // Replica `source` answers a snapshot request with the start state (seq 0):
  // the new process replays the whole journal.
  Outbox send_start_snapshot(int source, std::uint64_t now_us) {
    flatbuffers::FlatBufferBuilder fbb;
    const auto snapshot = wire::CreateSnapshot(fbb, 0);
    wire::FromReplicaBuilder m(fbb);
    m.add_snapshot(snapshot);
    fbb.Finish(m.Finish());
    return deliver(source, fbb, now_us);
  }

  // At *now_us c's seqs expired: it must be quarantined, its process stopped
  // and, once it exits, started again after the back-off, before
  // `restart_by_us`. Returns the replica asked for its snapshot.
  int restart_c(std::uint64_t* now_us, std::uint64_t restart_by_us) {
    Outbox out;
    core_->on_time(*now_us, &out);
    EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kQuarantined);
    EXPECT_TRUE(has_command(out, Outbox::ProcessCommand::Kind::kStop));
    out.clear();
    core_->on_process_exited(kC, *now_us, &out);
    while (!has_command(out, Outbox::ProcessCommand::Kind::kStart)) {
      *now_us += 10'000;
      if (*now_us >= restart_by_us) {
        ADD_FAILURE() << "c was not restarted in time";
        return -1;
      }
      core_->on_time(*now_us, &out);
    }
    out.clear();
    core_->on_process_started(kC, *now_us, &out);
    EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kRepairing);
    const int source = stats_of_c(*now_us).snapshot_source;
    EXPECT_TRUE(source == 0 || source == 1) << source;
    return source;
  }

  // Replica `source` answers a snapshot request with its checkpoint at
  // `seq`: the state of an engine with no card (its bytes and checkpoint
  // digest) and the verdicts' state digest (zero, as verdicts() signs it).
  Outbox send_snapshot(int source, std::uint64_t seq, std::uint64_t now_us,
                       const std::string* engine_state = nullptr) {
    const auto parts = snapshot_messages(seq, wire::kSnapshotPartBytes, engine_state);
    EXPECT_EQ(parts.size(), 1u);
    return deliver(source, parts[0], now_us);
  }

  // The FromReplica messages carrying that snapshot (of `engine_state`, or
  // the no-card engine's), in parts of at most `part_bytes` of state.
  std::vector<std::vector<std::uint8_t>> snapshot_messages(
      std::uint64_t seq, std::size_t part_bytes, const std::string* engine_state = nullptr) const {
    const std::string& state = engine_state != nullptr ? *engine_state : engine_state_;
    const Digest state_digest{};
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(state.data()),
                                              state.size());
    return wire::encode_snapshot(wire::SnapshotCarrier::kFromReplica,
                                 {seq, state_digest, engine_digest_, bytes}, part_bytes);
  }

  // The snapshot's state: the sample's 1,000 cards after 300 transactions.
  void use_sample_state() {
    sample::Options o;
    o.transaction_count = 300;
    rules::CardFile cards;
    ASSERT_TRUE(rules::parse_card_file(sample::generate_card_file(o), &cards).is_ok());
    rules::Engine engine(cards);
    for (const std::string& line : sample::generate_traffic(o)) {
      Transaction tx;
      ASSERT_TRUE(parse_transaction_json(line, &tx).is_ok());
      engine.apply(*tx.ts, tx);
    }
    engine.serialize(&engine_state_);
    ASSERT_TRUE(replica::checkpoint_digest(engine_state_, &engine_digest_).is_ok());
  }

  void SetUp() override {
    const rules::Engine engine{rules::CardFile{}};
    engine.serialize(&engine_state_);
    ASSERT_TRUE(replica::checkpoint_digest(engine_state_, &engine_digest_).is_ok());
  }

  // The seq of the snapshot `out` installs in replica r, 0 if none.
  static std::uint64_t install_sent(const Outbox& out, int r) {
    for (const auto& m : out.to_replicas) {
      if (m.replica != r) continue;
      const wire::AlignedFrame frame(m.bytes.data(), m.bytes.size());
      const wire::ToReplica* msg = nullptr;
      EXPECT_TRUE(wire::verify_to_replica(frame.bytes(), &msg).is_ok());
      if (msg != nullptr && msg->install() != nullptr) return msg->install()->seq();
    }
    return 0;
  }

  // The bytes gathered that the front end acknowledged to r in `out` (of
  // the snapshot r sends), each as (seq, gathered).
  static std::vector<std::pair<std::uint64_t, std::uint64_t>> acks_sent(const Outbox& out, int r) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> acks;
    for (const auto& m : out.to_replicas) {
      const wire::AlignedFrame frame(m.bytes.data(), m.bytes.size());
      const wire::ToReplica* msg = nullptr;
      EXPECT_TRUE(wire::verify_to_replica(frame.bytes(), &msg).is_ok());
      if (m.replica == r && msg != nullptr && msg->snapshot_ack() != nullptr) {
        acks.emplace_back(msg->snapshot_ack()->seq(), msg->snapshot_ack()->gathered());
      }
    }
    return acks;
  }

  int snapshot_before_the_vote_at_its_seq(std::uint64_t* now);

  // A deadline of 1 s; `decided` seqs decided by a and b, c's verdicts
  // missing, so c is repaired: its new process started (restart_c). Returns
  // the replica asked for its snapshot.
  int c_restarted_after_decided(std::uint64_t* now, std::size_t decided = 10) {
    config_.deadline_us = 1'000'000;
    start(config_);
    *now = kStartUs;
    submit_decided_by_a_and_b(decided, *now);
    *now += config_.deadline_us;
    return restart_c(now, kStartUs + 10'000'000);
  }
  Core::Config config_;

  // c_restarted_after_decided, with a and b agreeing on the no-card
  // engine's checkpoint at seq 10: c waits for that snapshot from the
  // returned source.
  int c_awaiting_the_snapshot_of_seq_10(std::uint64_t* now) {
    checkpoint_digests_[10] = engine_digest_;
    return c_restarted_after_decided(now);
  }
  // That snapshot in four parts.
  std::vector<std::vector<std::uint8_t>> four_parts() const {
    return snapshot_messages(10, engine_state_.size() / 4 + 1);
  }
  // `source` sends the first of those parts, then the process of `ending`
  // ends: what was gathered is wiped at once, and the next part is not
  // gathered (nothing waits for that snapshot any more).
  void expect_an_exit_to_drop_what_was_gathered(int source, int ending, std::uint64_t now) {
    const auto parts = four_parts();
    deliver(source, parts[0], now);
    EXPECT_GT(core_->snapshot_bytes_gathered(), 0u) << "gathered from the source asked";
    Outbox out;
    core_->on_process_exited(ending, now, &out);
    EXPECT_EQ(core_->snapshot_bytes_gathered(), 0u);
    deliver(source, parts[1], now);
    EXPECT_EQ(core_->snapshot_bytes_gathered(), 0u) << "nothing waits for its snapshot now";
  }

  // 10 seqs decided by a and b, then all three processes end (say all
  // silent for ten deadlines) and are restarted: each in repair with no
  // healthy replica to copy. Then 100 more are sequenced, each declined at
  // once: more than the live edge's margin (64) since the last seq a
  // majority agreed on.
  void all_three_in_repair_then_100_declined(std::uint64_t* now) {
    Core::Config config;
    config.deadline_us = 1'000'000;
    start(config);
    *now = kStartUs;
    submit_decided_by_a_and_b(10, *now);
    Outbox out;
    for (int r = 0; r < kReplicaCount; ++r) core_->on_process_exited(r, *now, &out);
    EXPECT_EQ(core_->supervisor().mode(), repair::Mode::kDown);
    *now += 1'000'000;  // past the restart back-off
    core_->on_time(*now, &out);
    for (int r = 0; r < kReplicaCount; ++r) {
      core_->on_process_started(r, *now, &out);
      hello(r, 1, *now);
      EXPECT_EQ(core_->supervisor().state(r), ReplicaState::kRepairing) << r;
      EXPECT_EQ(core_->supervisor().stats(r, *now).snapshot_source, -1) << r;
    }
    EXPECT_EQ(submit(100, *now), 0u);
    EXPECT_EQ(core_->counters().fail_safe, 100u);
  }

  std::string engine_state_;
  Digest engine_digest_{};

  repair::Supervisor::Stats stats_of_c(std::uint64_t now_us) const {
    return core_->supervisor().stats(kC, now_us);
  }
};

// c answers later than the deadline, so it is repaired. Seqs opened while its
// old process still voted expire after that, and here they expire in the very
// message of the new process that brings it back (its replayed verdicts come
// in after their deadline, before the timer fired). Those missing verdicts
// were the old process's: the new one stays healthy. Then it is answerable
// for what it is sent: silence costs it the vote again.
TEST_F(Rejoin, MissingVerdictsOfTheOldProcessDoNotCountAgainstTheNewOne) {
  Core::Config config;
  config.deadline_us = 1'000'000;
  start(config);
  std::uint64_t now = kStartUs;
  // 1-10, and 11-20 half a deadline later, decided by a and b; c is silent.
  submit_decided_by_a_and_b(10, now);
  now += 500'000;
  submit_decided_by_a_and_b(10, now);

  // 1-10 expire: c is out of the vote and its process is stopped, then
  // started again after the back-off (before 11-20 expire).
  now = kStartUs + 1'000'000;
  const int source = restart_c(&now, kStartUs + 1'500'000);
  ASSERT_FALSE(HasFailure());
  send_start_snapshot(source, now);
  hello(kC, 1, now);  // the new process

  // 21-25 are sequenced while c is repairing, without it in the vote.
  submit_decided_by_a_and_b(5, now);

  // The new c's verdicts for 11-25 come in after 11-20's deadline.
  now = kStartUs + 1'600'000;
  verdicts(kC, 11, 25, now);
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kHealthy);
  EXPECT_EQ(stats_of_c(now).failures, 1u);
  EXPECT_EQ(stats_of_c(now).repairs, 1u);
  const auto status = nlohmann::json::parse(core_->status_json(now));
  EXPECT_EQ(status["replicas"][kC]["rejoined_at_seq"], 26u) << status.dump();
  // Only 1-10 are held against c: 11-20 were reported after it rejoined.
  EXPECT_EQ(status["replicas"][kC]["divergences"]["missing"], 10u) << status.dump();

  // From 26 on, c's silence is its own.
  submit_decided_by_a_and_b(3, now);
  Outbox out;
  core_->on_time(now + config.deadline_us, &out);
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kQuarantined);
  EXPECT_EQ(stats_of_c(now + config.deadline_us).failures, 2u);
}

// A repaired replica rejoins near the live edge (within the seqs still
// open), not at it: the seqs before its rejoin are not its to answer, so
// they do not count as a verdict it owes (admission's time rule).
TEST_F(Rejoin, SeqsBeforeItRejoinedAreNotOwedByIt) {
  Core::Config config;
  config.deadline_us = 1'000'000;
  start(config);
  std::uint64_t now = kStartUs;
  // 1-10, and 11-5,010 nine tenths of a deadline later, decided by a and b;
  // c is silent, so 11-5,010 stay open for it until their deadline.
  submit_decided_by_a_and_b(10, now);
  for (int burst = 0; burst < 5; ++burst) submit_decided_by_a_and_b(1000, kStartUs + 900'000);
  now = kStartUs + 1'000'000;  // 1-10 expire
  const int source = restart_c(&now, kStartUs + 1'500'000);
  ASSERT_FALSE(HasFailure());
  send_start_snapshot(source, now);
  hello(kC, 1, now);  // the new process
  // The new c answers 1-10: near the live edge (5,000 seqs are open), it
  // rejoins at once, 5,000 seqs behind.
  verdicts(kC, 1, 10, now);
  ASSERT_EQ(core_->supervisor().state(kC), ReplicaState::kHealthy);
  EXPECT_EQ(core_->replica(kC).rejoined_at_seq, 5011u);
  EXPECT_EQ(core_->slowest_voting_lag(now), 5000u);
  // Seq 11, opened 0.3 s or more ago for c's old process, is not owed by it.
  EXPECT_EQ(core_->slowest_voting_wait_us(now), 0u);
}

// A fresh process in repair gets the live seqs before its snapshot comes and
// fetches the gap back to seq 1: the snapshot, then the replay after it,
// will bring those, so the fetch is not answered. Once the snapshot is in
// (here the start state, seq 0), the replay is sent from seq 1.
TEST_F(Rejoin, AFetchWhileTheSnapshotIsOnItsWayIsNotAnswered) {
  std::uint64_t now = 0;
  const int source = c_restarted_after_decided(&now);
  ASSERT_FALSE(HasFailure());

  EXPECT_TRUE(entries_sent(hello(kC, 1, now), kC).empty()) << "the snapshot comes first";
  submit_decided_by_a_and_b(5, now);
  EXPECT_TRUE(entries_sent(fetch(kC, 1, 10, now), kC).empty());
  EXPECT_TRUE(entries_sent(fetch(kC, 1, 10, now + 200'000), kC).empty());
  EXPECT_EQ(core_->counters().fetches_crossing_a_resend, 2u);

  const auto sent = entries_sent(send_start_snapshot(source, now), kC);
  ASSERT_EQ(sent.size(), 15u);
  EXPECT_EQ(sent.front().first, 1u);
}

// The repair asked its source right after the source applied a checkpoint
// seq, so the snapshot comes before the vote at that seq has ended: c is
// repaired with 10 seqs decided, 11-15 are sequenced, and the source's
// snapshot of 15 comes before any verdict on them. It is held: nothing is
// sent to c yet. Returns the source.
int Rejoin::snapshot_before_the_vote_at_its_seq(std::uint64_t* now) {
  const int source = c_restarted_after_decided(now);
  if (source < 0) return source;
  EXPECT_TRUE(hello(kC, 1, *now).to_replicas.empty()) << "the snapshot comes first";
  EXPECT_EQ(submit(5, *now), 0u);
  checkpoint_digests_[15] = engine_digest_;
  const Outbox out = send_snapshot(source, 15, *now);
  EXPECT_EQ(install_sent(out, kC), 0u);
  EXPECT_TRUE(entries_sent(out, kC).empty());
  EXPECT_TRUE(verdicts(source, 11, 15, *now + 1'000).to_replicas.empty());
  return source;
}

// ... and installed, not thrown away for a replay of the whole journal, once
// the majority agrees on that checkpoint.
TEST_F(Rejoin, ASnapshotAheadOfTheVoteAtItsSeqIsInstalledOnceTheMajorityAgrees) {
  std::uint64_t now = 0;
  const int source = snapshot_before_the_vote_at_its_seq(&now);
  ASSERT_FALSE(HasFailure());
  const Outbox out = verdicts(1 - source, 11, 15, now + 2'000);
  EXPECT_EQ(install_sent(out, kC), 15u);
  EXPECT_TRUE(entries_sent(out, kC).empty()) << "nothing before the snapshot is replayed";
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kRepairing);
}

// ... but when the vote ends with no majority on its checkpoint, nothing
// vouches for the snapshot: the new process replays the whole journal from
// the start state.
TEST_F(Rejoin, ASnapshotWhoseCheckpointGetsNoMajorityGivesWayToAWholeReplay) {
  std::uint64_t now = 0;
  const int source = snapshot_before_the_vote_at_its_seq(&now);
  ASSERT_FALSE(HasFailure());
  checkpoint_digests_[15][0] ^= 1;  // the other replica's checkpoint differs
  const Outbox out = verdicts(1 - source, 11, 15, now + 2'000);
  EXPECT_EQ(install_sent(out, kC), 0u);
  const auto sent = entries_sent(out, kC);
  ASSERT_EQ(sent.size(), 15u);
  EXPECT_EQ(sent.front().first, 1u);
}

// The source gives no snapshot (a faulty one can keep it back): after
// snapshot_wait_us the next healthy replica is asked, and when it gives none
// either, c, waiting since its hello, is sent the whole journal to replay.
TEST_F(Rejoin, ASourceThatGivesNoSnapshotInTimeIsPassedOver) {
  std::uint64_t now = 0;
  const int source = c_restarted_after_decided(&now);
  ASSERT_FALSE(HasFailure());
  EXPECT_TRUE(hello(kC, 1, now).to_replicas.empty()) << "the snapshot comes first";
  const auto asked_for_a_snapshot = [](const Outbox& out) {
    std::vector<int> asked;
    for (const auto& m : out.to_replicas) {
      const wire::AlignedFrame frame(m.bytes.data(), m.bytes.size());
      const wire::ToReplica* msg = nullptr;
      EXPECT_TRUE(wire::verify_to_replica(frame.bytes(), &msg).is_ok());
      if (msg != nullptr && msg->snapshot_request()) asked.push_back(m.replica);
    }
    return asked;
  };
  const std::uint64_t wait_us = config_.repair.snapshot_wait_us;
  Outbox out;
  core_->on_time(now + wait_us - 1, &out);
  EXPECT_TRUE(asked_for_a_snapshot(out).empty());
  core_->on_time(now + wait_us, &out);
  EXPECT_EQ(asked_for_a_snapshot(out), std::vector<int>{1 - source});
  EXPECT_EQ(stats_of_c(now + wait_us).snapshot_source, 1 - source);
  EXPECT_TRUE(entries_sent(send_start_snapshot(source, now + wait_us), kC).empty())
      << "the passed-over source's snapshot, late, is not taken";

  out.clear();
  core_->on_time(now + 2 * wait_us, &out);
  const auto sent = entries_sent(out, kC);
  ASSERT_EQ(sent.size(), 10u) << "the whole journal, to replay";
  EXPECT_EQ(sent.front().first, 1u);
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kRepairing);
}

// A snapshot that does not give the majority's checkpoint digest (a faulty
// source's) passes that source over: the next healthy replica is asked, and
// c's repair goes on rather than failing the attempt (which would ask the
// same source again).
TEST_F(Rejoin, ASnapshotThatDoesNotCheckPassesItsSourceOver) {
  std::uint64_t now = 0;
  const int source = c_awaiting_the_snapshot_of_seq_10(&now);
  ASSERT_FALSE(HasFailure());
  const std::string tampered = engine_state_ + "x";
  const Outbox out = send_snapshot(source, 10, now, &tampered);
  EXPECT_FALSE(has_command(out, Outbox::ProcessCommand::Kind::kStop));
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kRepairing);
  EXPECT_EQ(stats_of_c(now).snapshot_source, 1 - source);
  send_snapshot(1 - source, 10, now);
  EXPECT_EQ(install_sent(hello(kC, 1, now), kC), 10u) << "the other source's is installed";
}

// A snapshot is checked a share at a time (snapshot_check_step_bytes),
// between messages, with the next share due at once (next_timer_us): it is
// installed only once the whole state gave the majority's checkpoint
// digest; one that does not is refused when its last share is done.
TEST_F(Rejoin, ASnapshotIsCheckedAShareAtATime) {
  ASSERT_NO_FATAL_FAILURE(use_sample_state());  // tens of pages
  config_.snapshot_check_step_bytes = 4096;
  const std::size_t shares = engine_state_.size() / 4096;
  ASSERT_GT(shares, 10u);
  for (const bool tampered : {false, true}) {
    SCOPED_TRACE(tampered ? "a state that does not check" : "the state");
    std::uint64_t now = 0;
    const int source = c_awaiting_the_snapshot_of_seq_10(&now);
    ASSERT_FALSE(HasFailure());
    std::string state = engine_state_;
    if (tampered) state[state.size() / 2] ^= 1;  // in a card's or an entry's bytes
    hello(kC, 1, now);                           // c's new process waits for its snapshot
    EXPECT_EQ(install_sent(send_snapshot(source, 10, now, &state), kC), 0u);
    std::size_t turns = 0;
    std::uint64_t installed = 0;
    const auto share_due = [&] {
      const auto next = core_->next_timer_us();
      return next.has_value() && *next <= now;
    };
    for (; share_due(); ++turns) {  // the next share is due at once
      ASSERT_LE(turns, 2 * shares) << "the check never ended";
      ASSERT_EQ(installed, 0u) << "installed before the last share";
      EXPECT_EQ(stats_of_c(now).snapshot_source, source) << "not passed over before the end";
      Outbox out;
      core_->on_time(now, &out);
      installed = install_sent(out, kC);
    }
    EXPECT_GE(turns, shares / 2) << "many turns, not one";
    if (tampered) {
      EXPECT_EQ(stats_of_c(now).snapshot_source, 1 - source) << "the source passed over";
      EXPECT_EQ(installed, 0u);
    } else {
      EXPECT_EQ(installed, 10u) << "installed after the last share";
    }
  }
}

// Every byte of a snapshot's state is in its checkpoint digest: a state
// with bytes after it (a replica would refuse to restore them) does not pass
// for the majority's, and its source is passed over, not installed.
TEST_F(Rejoin, ASnapshotWithBytesAfterItsStatePassesItsSourceOver) {
  ASSERT_NO_FATAL_FAILURE(use_sample_state());
  std::string longer = engine_state_ + std::string(16, '\0');
  std::uint64_t now = 0;
  const int source = c_awaiting_the_snapshot_of_seq_10(&now);
  ASSERT_FALSE(HasFailure());
  hello(kC, 1, now);
  EXPECT_EQ(install_sent(send_snapshot(source, 10, now, &longer), kC), 0u);
  EXPECT_EQ(stats_of_c(now).snapshot_source, 1 - source) << "the source passed over";
  EXPECT_EQ(install_sent(send_snapshot(1 - source, 10, now), kC), 10u)
      << "the other source's is installed";
}

// A snapshot in parts is gathered until its last part; then it is checked
// and installed like one sent whole. A part that does not continue the ones
// before it (one lost) passes the source over when it comes, not at the
// repair's timeout, and nothing is held for a late part of an attempt given
// up on.
TEST_F(Rejoin, ASnapshotInPartsIsGatheredAndABrokenRunPassesItsSourceOver) {
  std::uint64_t now = 0;
  const int source = c_awaiting_the_snapshot_of_seq_10(&now);
  ASSERT_FALSE(HasFailure());
  const auto parts = four_parts();
  ASSERT_EQ(parts.size(), 4u);
  const auto deliver_part = [&](int from, std::size_t i) { return deliver(from, parts[i], now); };
  const std::uint64_t malformed = core_->counters().malformed_replica_messages;
  deliver_part(source, 0);
  deliver_part(source, 2);  // part 1 lost
  EXPECT_EQ(core_->counters().malformed_replica_messages, malformed + 1);
  EXPECT_EQ(stats_of_c(now).snapshot_source, 1 - source) << "the source passed over";
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kRepairing);
  // The rest of the broken run, from a source not asked now: not even read,
  // nor acknowledged.
  EXPECT_TRUE(deliver_part(source, 3).to_replicas.empty());
  EXPECT_EQ(core_->counters().malformed_replica_messages, malformed + 1);

  for (std::size_t i = 0; i + 1 < parts.size(); ++i) {
    const Outbox out = deliver_part(1 - source, i);
    EXPECT_EQ(out.to_replicas.size(), 1u) << "only the acknowledgement, part " << i;
    const std::vector<std::pair<std::uint64_t, std::uint64_t>> acked = {
        {10, (i + 1) * (engine_state_.size() / 4 + 1)}};
    EXPECT_EQ(acks_sent(out, 1 - source), acked) << "part " << i;
  }
  EXPECT_GT(core_->snapshot_bytes_gathered(), 0u);
  // Parts that stop coming (an acknowledgement lost?): what was gathered is
  // said again after kSnapshotReackUs, once.
  ASSERT_LE(core_->next_timer_us(), now + wire::kSnapshotReackUs);
  Outbox later;
  core_->on_time(now + wire::kSnapshotReackUs - 1, &later);
  EXPECT_TRUE(acks_sent(later, 1 - source).empty());
  core_->on_time(now + wire::kSnapshotReackUs, &later);
  core_->on_time(now + wire::kSnapshotReackUs + 1, &later);
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> again = {
      {10, 3 * (engine_state_.size() / 4 + 1)}};
  EXPECT_EQ(acks_sent(later, 1 - source), again);
  deliver_part(1 - source, 3);
  EXPECT_EQ(core_->snapshot_bytes_gathered(), 0u);
  EXPECT_EQ(install_sent(hello(kC, 1, now), kC), 10u) << "the whole snapshot is installed";
}

// A source that stops halfway is passed over once no part has come for
// snapshot_wait_us, as one that never answered, and what it sent is dropped
// since nothing waits for it. Before, its first part ended the wait for good:
// the repair waited for its timeout, and the next attempt asked the same
// source first again (found by a review helper).
TEST_F(Rejoin, ASourceThatStopsHalfwayIsPassedOverAndWhatItSentDropped) {
  std::uint64_t now = 0;
  const int source = c_awaiting_the_snapshot_of_seq_10(&now);
  ASSERT_FALSE(HasFailure());
  const auto parts = four_parts();
  const std::uint64_t wait_us = core_->supervisor().config().snapshot_wait_us;
  deliver(source, parts[0], now);
  Outbox out;
  core_->on_time(now + wait_us - 1, &out);
  deliver(source, parts[1], now + wait_us - 1);  // the wait starts again
  core_->on_time(now + wait_us, &out);
  EXPECT_EQ(stats_of_c(now + wait_us).snapshot_source, source) << "its parts keep coming";
  EXPECT_EQ(core_->snapshot_bytes_gathered(), 2 * (engine_state_.size() / 4 + 1));
  core_->on_time(now + 2 * wait_us - 2, &out);
  EXPECT_EQ(stats_of_c(now + 2 * wait_us - 2).snapshot_source, source);
  out.clear();
  core_->on_time(now + 2 * wait_us - 1, &out);
  EXPECT_EQ(stats_of_c(now + 2 * wait_us - 1).snapshot_source, 1 - source)
      << "no part for snapshot_wait_us: passed over";
  EXPECT_EQ(core_->snapshot_bytes_gathered(), 0u) << "nothing waits for what it sent";
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kRepairing);
  send_snapshot(1 - source, 10, now + 2 * wait_us);
  EXPECT_EQ(install_sent(hello(kC, 1, now + 2 * wait_us), kC), 10u)
      << "the other source's is installed";
}

// The replica in repair ends halfway through its snapshot's transfer: the
// transfer goes with it (its next process is asked for again once
// started), and what its source sent is dropped at once rather than
// gathered, checked and held until then (up to the restart back-off).
TEST_F(Rejoin, AReplicaEndingDuringItsTransferDropsTheTransfer) {
  std::uint64_t now = 0;
  const int source = c_awaiting_the_snapshot_of_seq_10(&now);
  ASSERT_FALSE(HasFailure());
  expect_an_exit_to_drop_what_was_gathered(source, kC, now);
}

// A replica in repair replaying the whole journal (no snapshot could be
// used) has its attempt's deadline moved by the replay's length, once: a
// journal longer than the attempt's timeout allows is not stopped halfway
// at every attempt, and hellos during the replay do not put it off again.
TEST_F(Rejoin, AReplayOfTheWholeJournalMovesTheAttemptsDeadline) {
  config_.repair.repair_timeout_us = 5'000'000;
  config_.repair.replay_us_per_seq = 2'000'000;  // 10 seqs: 20 s
  std::uint64_t now = 0;
  const int source = c_awaiting_the_snapshot_of_seq_10(&now);
  ASSERT_FALSE(HasFailure());
  hello(kC, 1, now);
  // Both sources' snapshots are of seq 5, where the majority made no
  // checkpoint: passed over, and c is sent the whole journal.
  send_snapshot(source, 5, now);
  EXPECT_EQ(entries_sent(send_snapshot(1 - source, 5, now), kC).size(), 10u);
  ASSERT_EQ(stats_of_c(now).snapshot_source, -1);
  const std::uint64_t deadline = now + 20'000'000;
  hello(kC, 5, now + 10'000'000);  // halfway: not moved again
  Outbox out;
  core_->on_time(deadline - 1, &out);
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kRepairing);
  core_->on_time(deadline, &out);
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kQuarantined);
}

// A source that begins its run again from the start gathers nothing new:
// that part does not move the wait on, so one doing so over and over is
// passed over as one that stopped.
TEST_F(Rejoin, ARunBegunAgainIsNotProgress) {
  std::uint64_t now = 0;
  const int source = c_awaiting_the_snapshot_of_seq_10(&now);
  ASSERT_FALSE(HasFailure());
  const auto parts = four_parts();
  const std::uint64_t wait_us = core_->supervisor().config().snapshot_wait_us;
  deliver(source, parts[0], now);
  deliver(source, parts[1], now + wait_us - 1);  // the wait starts again
  deliver(source, parts[0], now + 2 * wait_us - 2);
  Outbox out;
  core_->on_time(now + 2 * wait_us - 1, &out);
  EXPECT_EQ(stats_of_c(now + 2 * wait_us - 1).snapshot_source, 1 - source)
      << "its first part again did not move the wait on";
}

// A snapshot of a seq never sequenced, or of one where the majority made no
// checkpoint, is a faulty source's: passed over. Before, either was taken
// for a checkpoint nobody agreed on, and c replayed the whole journal
// (found by a review helper).
TEST_F(Rejoin, ASnapshotOfASeqThatCannotBeACheckpointPassesItsSourceOver) {
  std::uint64_t now = 0;
  const int source = c_awaiting_the_snapshot_of_seq_10(&now);
  ASSERT_FALSE(HasFailure());
  hello(kC, 1, now);
  EXPECT_TRUE(entries_sent(send_snapshot(source, 11, now), kC).empty())
      << "seq 11 was never sequenced";
  EXPECT_EQ(stats_of_c(now).snapshot_source, 1 - source);
  // a and b agreed at seq 5 without a checkpoint. With both passed over, c
  // replays the whole journal, as when no replica is healthy.
  EXPECT_EQ(entries_sent(send_snapshot(1 - source, 5, now), kC).size(), 10u);
  EXPECT_EQ(stats_of_c(now).snapshot_source, -1) << "both passed over";
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kRepairing);
}

// A snapshot asked for to store whose source's process ends halfway: what
// was gathered is wiped at once (a new process never continues it), and
// the store asks another replica when due.
TEST_F(Rejoin, AStoreSourceEndingHalfwayLeavesNothingHeld) {
  config_.deadline_us = 1'000'000;
  config_.store_snapshot_every = 10;
  start(config_);
  const std::uint64_t now = kStartUs;
  for (int r = 0; r < kReplicaCount; ++r) hello(r, 1, now);  // a store asks a connected one
  submit_decided_by_a_and_b(10, now);
  expect_an_exit_to_drop_what_was_gathered(kA, kA, now);  // a is asked first
}

// While c is in repair, what a replica already had checked is not checked
// again: c's replay comes in order, so a batch c was checked through adds
// nothing, and a's verdict near the live edge is in the ring already; nor is
// a verdict for a seq never sent (before a review found it, one was checked
// every time, and it moved what c was checked through past its replay). A
// faulty replica sending them again and again cost a signature check each.
TEST_F(Rejoin, WhileAReplicaIsInRepairWhatWasCheckedIsNotCheckedAgain) {
  std::uint64_t now = 0;
  const int source = c_restarted_after_decided(&now, 100);  // 1-5 far from the live edge
  ASSERT_FALSE(HasFailure());
  send_start_snapshot(source, now);  // c replays from seq 1
  hello(kC, 1, now);                 // the new process
  const auto unchecked = [&] { return core_->counters().unchecked_batches; };
  verdicts(kC, 1, 5, now);
  EXPECT_EQ(unchecked(), 0u) << "c's replay";
  verdicts(kC, 1, 5, now);
  EXPECT_EQ(unchecked(), 1u) << "the same again";
  verdicts(kC, 4, 6, now);
  EXPECT_EQ(unchecked(), 1u) << "seq 6 is new";
  verdicts(kC, 1'000, 1'000, now);
  EXPECT_EQ(unchecked(), 2u) << "seq 1000 was never sent";
  verdicts(0, 100, 100, now);
  EXPECT_EQ(unchecked(), 3u) << "a's verdict for 100 is in the ring";
  verdicts(kC, 7, 100, now);
  EXPECT_EQ(unchecked(), 3u) << "c's replay goes on being checked";
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kHealthy) << "c's replay still counts";
}

// c's new process cannot install the snapshot it was sent (another card
// file, say) and says why: its repair attempt fails then, its process is
// stopped and started again after the doubled back-off, rather than at the
// repair's timeout (60 s). A refusal of a snapshot it was not sent changes
// nothing and is counted as malformed.
TEST_F(Rejoin, ASnapshotTheReplicaRefusesFailsTheRepairAttemptAtOnce) {
  std::uint64_t now = 0;
  const int source = snapshot_before_the_vote_at_its_seq(&now);
  ASSERT_FALSE(HasFailure());
  ASSERT_EQ(install_sent(verdicts(1 - source, 11, 15, now + 2'000), kC), 15u);
  const auto refuse = [&](std::uint64_t seq) {
    flatbuffers::FlatBufferBuilder fbb;
    const auto refused = wire::CreateInstallRefused(
        fbb, seq, fbb.CreateString("snapshot does not match the card file: it has 0 cards"));
    wire::FromReplicaBuilder m(fbb);
    m.add_install_refused(refused);
    fbb.Finish(m.Finish());
    return deliver(kC, fbb, now + 3'000);
  };

  EXPECT_FALSE(has_command(refuse(14), Outbox::ProcessCommand::Kind::kStop));
  EXPECT_EQ(core_->counters().malformed_replica_messages, 1u);
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kRepairing);

  EXPECT_TRUE(has_command(refuse(15), Outbox::ProcessCommand::Kind::kStop));
  EXPECT_EQ(core_->supervisor().state(kC), ReplicaState::kQuarantined);
  EXPECT_EQ(stats_of_c(now + 3'000).failed_attempts, 1u);
  EXPECT_EQ(core_->counters().malformed_replica_messages, 1u);
}

// All three replicas were sent to repair at once (all silent for ten
// deadlines, say): there is no healthy replica to copy, so each replays the
// whole journal from the card file, and meanwhile every seq is declined 91,
// so no majority exists to compare their verdicts with. Two of them whose
// validly signed verdicts agree near the live edge form a majority again:
// they rejoin, and the service decides again.
TEST_F(Rejoin, ReplicasAllInRepairRejoinOnAgreeingWithEachOther) {
  std::uint64_t now = 0;
  all_three_in_repair_then_100_declined(&now);
  ASSERT_FALSE(HasFailure());

  verdicts(1, 1, 110, now);
  EXPECT_EQ(core_->supervisor().state(1), ReplicaState::kRepairing) << "nothing to agree with yet";
  verdicts(2, 1, 110, now);
  EXPECT_EQ(core_->supervisor().state(1), ReplicaState::kHealthy);
  EXPECT_EQ(core_->supervisor().state(2), ReplicaState::kHealthy);
  EXPECT_EQ(core_->supervisor().mode(), repair::Mode::kDuplex);

  // b and c decide again.
  EXPECT_EQ(submit(1, now), 0u);
  verdicts(1, 111, 111, now);
  const Outbox out = verdicts(2, 111, 111, now);
  ASSERT_EQ(out.decisions.size(), 1u);
  EXPECT_FALSE(out.decisions.front().fail_safe);
  EXPECT_EQ(out.decisions.front().code, "00");
}

// A verdict b's previous process signed vouches for nothing once b is
// restarted: c's equal verdict rejoins neither of them, and b's new process
// must give its own.
TEST_F(Rejoin, AVerdictOfAReplicasPreviousProcessDoesNotRejoinItsNewOne) {
  std::uint64_t now = 0;
  all_three_in_repair_then_100_declined(&now);
  ASSERT_FALSE(HasFailure());

  verdicts(1, 1, 110, now);  // b's process, which then ends
  Outbox out;
  core_->on_process_exited(1, now, &out);
  for (int i = 0; i < 100 && core_->supervisor().state(1) != ReplicaState::kRepairing; ++i) {
    now += 100'000;
    core_->on_time(now, &out);
    core_->on_process_started(1, now, &out);
  }
  ASSERT_EQ(core_->supervisor().state(1), ReplicaState::kRepairing);

  verdicts(2, 1, 110, now);
  EXPECT_EQ(core_->supervisor().state(1), ReplicaState::kRepairing);
  EXPECT_EQ(core_->supervisor().state(2), ReplicaState::kRepairing);
  hello(1, 1, now);
  verdicts(1, 1, 110, now);  // b's new process
  EXPECT_EQ(core_->supervisor().state(1), ReplicaState::kHealthy);
  EXPECT_EQ(core_->supervisor().state(2), ReplicaState::kHealthy);
}

}  // namespace
}  // namespace triad::frontend
