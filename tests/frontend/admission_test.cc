// Admission control in the front end's Core (Core::admission_limit): when
// admitting more would make decisions late, a new transaction is refused
// with Overloaded before it is sequenced. Core is stepped with an injected
// clock, so every limit here is exact.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core_driver.h"
#include "loadgen/driver.h"
#include "wire/codec.h"

namespace triad::frontend {
namespace {

constexpr std::size_t kFloor = 1024;  // Core's kAdmissionFloor

class Admission : public CoreDriver {
 protected:
  void start(std::uint64_t deadline_us, std::size_t max_in_flight = 20'000) {
    Core::Config config;
    config.deadline_us = deadline_us;
    config.max_in_flight = max_in_flight;
    CoreDriver::start(config);
  }

  // Submits one new transaction at `now_us`, which must be refused with
  // Overloaded; the refusal's text.
  std::string refusal(std::uint64_t now_us) {
    Transaction tx;
    tx.id = "refused-" + std::to_string(next_id_++);
    Outbox out;
    core_->on_client_message("client", loadgen::encode_submit(1, tx), now_us, 0, &out);
    if (out.to_clients.size() != 1) {
      ADD_FAILURE() << out.to_clients.size() << " replies, not one";
      return {};
    }
    EXPECT_EQ(error_kind(out.to_clients.front().bytes), wire::ClientErrorKind::Overloaded);
    const wire::AlignedFrame frame(out.to_clients.front().bytes.data(),
                                   out.to_clients.front().bytes.size());
    const wire::ClientReply* reply = nullptr;
    EXPECT_TRUE(wire::verify_client_reply(frame.bytes(), &reply).is_ok());
    return reply != nullptr && reply->error() != nullptr ? reply->error()->str() : std::string();
  }
};

// From idle the decision rate is unknown (zero): the floor admits a burst of
// 1,024 undecided, and the next one is refused promptly, not sequenced.
TEST_F(Admission, FromIdleTheFloorAdmitsABurst) {
  start(1'000'000);
  EXPECT_EQ(core_->admission_limit(kStartUs), kFloor);
  EXPECT_EQ(submit(kFloor, kStartUs), 0u);
  EXPECT_EQ(submit(10, kStartUs), 10u);
  EXPECT_EQ(core_->counters().sequenced, kFloor);
  EXPECT_EQ(core_->counters().overloaded, 10u);
  EXPECT_EQ(core_->counters().client_errors, 10u);
  const auto status = nlohmann::json::parse(core_->status_json(kStartUs));
  EXPECT_EQ(status["overloaded"], 10);
  EXPECT_EQ(status["undecided"], kFloor);

  // A ping is still answered.
  flatbuffers::FlatBufferBuilder fbb;
  const auto ping = wire::CreatePingRequest(fbb, 7);
  wire::ClientRequestBuilder b(fbb);
  b.add_ping(ping);
  fbb.Finish(b.Finish());
  Outbox out;
  core_->on_client_message("client", {fbb.GetBufferPointer(), fbb.GetSize()}, kStartUs, 0, &out);
  ASSERT_EQ(out.to_clients.size(), 1u);
  EXPECT_EQ(error_kind(out.to_clients.front().bytes), wire::ClientErrorKind::None);
}

// The limit follows the decision rate: R decisions over the last completed
// 7/8 s of the window allow R * (deadline / 4) / 0.875 s undecided.
TEST_F(Admission, TheLimitFollowsTheMeasuredDecisionRate) {
  start(4'000'000);  // a budget of 1 s
  std::uint64_t now = kStartUs;
  EXPECT_EQ(submit(kFloor, now), 0u);
  // Decided: a and b agree on every seq (c says nothing).
  now += 10'000;
  verdicts(0, 1, kFloor, now);
  verdicts(1, 1, kFloor, now);
  EXPECT_EQ(core_->counters().decisions, kFloor);
  // Still in the newest (incomplete) bucket: not counted yet.
  EXPECT_EQ(core_->admission_limit(now), kFloor);
  now += 125'000;
  const std::size_t by_rate = kFloor * 1'000'000 / 875'000;  // 1,170
  EXPECT_EQ(core_->admission_limit(now), by_rate);
  EXPECT_EQ(submit(by_rate + 5, now), 5u);
  // A second later the decisions have left the window: back to the floor,
  // and the undecided above it are refused.
  now += 1'000'000;
  EXPECT_EQ(core_->admission_limit(now), kFloor);
  EXPECT_EQ(submit(1, now), 1u);
}

// The third replica must keep up too, or a healthy but slower one would be
// reported missing: admission stops while a voting replica lags 4,096 (the
// floor, here) or R * deadline / 2 behind. One that has sent nothing for
// 7/16 of the deadline holds nothing by its lag (a hung one would otherwise
// hold admission until its deadline takes it out of the vote); any message
// of it counts it again.
TEST_F(Admission, AReplicaSilentFor7_16OfTheDeadlineHoldsNothing) {
  start(1'000'000);
  const std::uint64_t t0 = kStartUs;
  // Five bursts, each decided by a and b at once; c answers 100 of them.
  for (int burst = 0; burst < 5; ++burst) submit_decided_by_a_and_b(kFloor, t0);
  verdicts(2, 1, 100, t0);
  EXPECT_EQ(core_->counters().decisions, 5 * kFloor);
  EXPECT_EQ(core_->slowest_voting_lag(t0), 5 * kFloor - 100);  // c's
  EXPECT_EQ(core_->replica_lag_limit(t0), 4 * kFloor);         // no completed bucket yet
  std::string why = refusal(t0);  // nothing undecided, but c is too far behind
  EXPECT_NE(why.find("slowest replica 5020 behind (limit 4096)"), std::string::npos) << why;
  why = refusal(t0 + 437'499);
  EXPECT_NE(why.find("slowest replica 5020 behind (limit 4096)"), std::string::npos) << why;
  // c has sent nothing for 7/16 of the deadline: admission goes on without it.
  EXPECT_EQ(core_->slowest_voting_lag(t0 + 437'500), 0u);
  EXPECT_EQ(submit(1, t0 + 437'500), 0u);
  // A fetch (no verdict) shows it alive: counted again.
  fetch(2, 101, 101, t0 + 600'000);
  EXPECT_EQ(core_->slowest_voting_lag(t0 + 600'000), 5 * kFloor + 1 - 100);
  EXPECT_EQ(submit(1, t0 + 600'000), 1u);
  // At its deadline it is out of the vote.
  Outbox out;
  core_->on_time(t0 + 1'000'000, &out);  // c missing at seq 101 on
  EXPECT_EQ(core_->supervisor().voting_mask(), 0b011);
  EXPECT_EQ(submit(1, t0 + 1'000'000), 0u);
}

// The lag limit in seqs assumes the replicas keep the pace measured; when
// one slows down, the time it has owed a verdict stops admission at a
// quarter of the deadline, though its lag is well below that limit. Below
// kReplicaLagFloor seqs behind, the time alone stops nothing, and neither
// does it for a replica that has gone silent (the deadline deals with that).
TEST_F(Admission, AReplicaOwingAVerdictForAQuarterOfTheDeadlineStopsAdmission) {
  start(8'000'000, 100'000);  // a seq unapplied for 2 s stops admission
  std::uint64_t now = kStartUs;
  // 1,000 decided every 0.1 s, all three answering.
  for (int step = 0; step < 8; ++step) {
    const std::uint64_t first = core_->counters().sequenced + 1;
    submit_decided_by_a_and_b(1000, now);
    verdicts(2, first, first + 999, now);
    now += 100'000;
  }
  // From here c answers at half the pace: its oldest 500 every 0.1 s. After
  // step s it is 500 s behind, owing since step s / 2 + 1 (s / 2 rounded
  // down).
  std::uint64_t c_next = core_->counters().sequenced + 1;
  for (int step = 1; step <= 39; ++step) {
    submit_decided_by_a_and_b(1000, now);
    verdicts(2, c_next, c_next + 499, now);
    c_next += 500;
    if (step == 8) {  // 4,000 behind: under the floor
      EXPECT_EQ(core_->slowest_voting_wait_us(now), 0u);
    } else if (step == 10) {  // 5,000 behind, owing since step 6, 0.4 s ago
      EXPECT_EQ(core_->slowest_voting_wait_us(now), 400'000u);
    }
    now += 100'000;
  }
  // Admitted up to here (submit_decided_by_a_and_b checks it); at step 40 c
  // has owed a verdict for 2 s (since step 20), 19,500 behind, with a lag
  // limit of about 40,000 at this pace.
  EXPECT_EQ(core_->slowest_voting_wait_us(now), 2'000'000u);
  EXPECT_EQ(core_->slowest_voting_lag(now), 19'500u);
  EXPECT_GT(core_->replica_lag_limit(now), 30'000u);
  const std::string why = refusal(now);
  EXPECT_NE(why.find("a seq unapplied for 2000 ms (limit 2000 ms)"), std::string::npos) << why;
  // c answers a whole step's seqs: it now owes those sent 0.1 s later.
  verdicts(2, c_next, c_next + 999, now);
  EXPECT_EQ(core_->slowest_voting_wait_us(now), 1'900'000u);
  EXPECT_EQ(submit(1, now), 0u);
  // Then c says nothing for 2 s: silent, it no longer counts here.
  EXPECT_EQ(core_->slowest_voting_wait_us(now + 1'999'999), 3'899'999u);
  EXPECT_EQ(core_->slowest_voting_wait_us(now + 2'000'000), 0u);
}

// A replica whose verdicts all come a fixed time d late (the delay fault
// holds them back; the deadline is 8 s) is 10,000 * d seqs behind in its
// answers at 10,000/s and owes a verdict for d, more than a quarter of the
// deadline; with d = 5 s its lag is also over the lag limit (about 40,000).
// Holding admission would not bring its answers sooner. When its messages
// say it applied each seq as it came, it holds nothing; when they do not
// say, it holds admission as a replica behind in its work.
class LateReplica : public Admission {
 protected:
  // 1,000 transactions every 0.1 s for `steps` steps, decided by a and b; c
  // answers those of `late_steps` steps before, its messages saying it
  // applied through the last seq if `says_applied`. How many were refused.
  std::size_t run(int steps, int late_steps, bool says_applied) {
    start(8'000'000, 100'000);
    std::uint64_t now = kStartUs;
    for (int r = 0; r < kReplicaCount; ++r) hello(r, 1, now);
    std::size_t refused = 0;
    std::uint64_t c_next = 1;
    std::vector<std::uint64_t> sequenced_at_step;
    for (int step = 0; step < steps; ++step) {
      const std::uint64_t first = core_->counters().sequenced + 1;
      refused += submit(1000, now);
      const std::uint64_t last = core_->counters().sequenced;
      if (last >= first) {
        verdicts(0, first, last, now);
        verdicts(1, first, last, now);
      }
      const std::uint64_t due =
          step >= late_steps ? sequenced_at_step[static_cast<std::size_t>(step - late_steps)] : 0;
      if (due >= c_next) {
        verdicts(2, c_next, due, now, says_applied ? last : 0);
        c_next = due + 1;
      }
      sequenced_at_step.push_back(last);
      last_step_us_ = now;
      now += 100'000;
    }
    return refused;
  }
  std::uint64_t last_step_us_ = 0;
};

// A message read after its process was reaped counts for its votes only:
// where the replica is, and what it asks for, come from its current
// process's own messages, which say which process sent them
// (FromReplica.launch, one more at each start).
TEST_F(Admission, AReapedProcessCountsForItsVotesOnly) {
  start(8'000'000);
  launch_ = {1, 1, 1};
  std::uint64_t now = kStartUs;
  for (int r = 0; r < kReplicaCount; ++r) hello(r, 1, now);
  EXPECT_EQ(submit(20, now), 0u);
  verdicts(0, 1, 20, now);
  verdicts(1, 1, 10, now);
  EXPECT_EQ(core_->counters().decisions, 10u);  // 11..20 wait for b or c
  const auto last_word = verdict_message(2, 1, 20, false, /*applied_through=*/20);
  Outbox out;
  core_->on_process_exited(2, now, &out);
  now += 1'000;
  deliver(2, last_word, now);
  EXPECT_EQ(core_->counters().decisions, 20u);  // its votes count
  const auto still_nowhere = [&] {
    const Core::ReplicaView& c = core_->replica(2);
    EXPECT_FALSE(c.connected);
    EXPECT_EQ(c.last_verdict_seq, 0u);
    EXPECT_EQ(c.checked_through, 0u);
    EXPECT_EQ(c.last_verdict_us, 0u);
    EXPECT_EQ(c.last_message_us, 0u);
    EXPECT_EQ(c.reported_applied_seq, 0u);
    EXPECT_EQ(c.applied_through(), 0u);
  };
  still_nowhere();
  EXPECT_TRUE(hello(2, 21, now).to_replicas.empty());
  EXPECT_TRUE(fetch(2, 1, 20, now).to_replicas.empty());
  still_nowhere();

  // Its successor: started with launch 2 once the restart's back-off passed.
  now += 1'000'000;
  core_->on_time(now, &out);
  ASSERT_EQ(out.processes.size(), 1u);
  EXPECT_EQ(out.processes.front().kind, Outbox::ProcessCommand::Kind::kStart);
  EXPECT_EQ(out.processes.front().launch, 2u);
  EXPECT_EQ(core_->replica(2).launch, 2u);
  core_->on_process_started(2, now, &out);
  deliver(2, last_word, now);  // the old process's, still
  hello(2, 21, now);
  still_nowhere();
  EXPECT_EQ(core_->counters().reaped_process_messages, 5u);

  launch_[2] = 2;
  hello(2, 1, now);
  EXPECT_TRUE(core_->replica(2).connected);
  verdicts(2, 1, 1, now, /*applied_through=*/1);
  EXPECT_EQ(core_->replica(2).reported_applied_seq, 1u);
  EXPECT_EQ(core_->replica(2).last_message_us, now);
  EXPECT_EQ(core_->counters().reaped_process_messages, 5u);
}

// A reaped process's batch is read as any other: one without verdicts is
// malformed, counted, and not read past.
TEST_F(Admission, AReapedProcesssBatchWithoutVerdictsIsMalformed) {
  start(8'000'000);
  flatbuffers::FlatBufferBuilder fbb;
  const auto batch = wire::VerdictBatchBuilder(fbb).Finish();
  const auto batches = fbb.CreateVector(&batch, 1);
  wire::FromReplicaBuilder m(fbb);
  m.add_batches(batches);
  m.add_launch(5);  // not the current process's (1)
  fbb.Finish(m.Finish());
  deliver(2, fbb, kStartUs);
  EXPECT_EQ(core_->counters().reaped_process_messages, 1u);
  EXPECT_EQ(core_->counters().malformed_replica_messages, 1u);
}

// A hello names the next seq to apply; one naming seq 0 (no replica sends
// it) applied nothing, rather than every seq there is.
TEST_F(Admission, AHelloOfSeqZeroSaysNothingApplied) {
  start(1'000'000);
  hello(2, 0, kStartUs);
  EXPECT_EQ(core_->replica(2).applied_through(), 0u);
}

// Each case its own test: a run's archive is the fixture's.
TEST_F(LateReplica, ByLessThanHalfTheDeadlineAndKeepingUpItHoldsNoAdmission) {
  EXPECT_EQ(run(100, 30, /*says_applied=*/true), 0u);
  EXPECT_EQ(core_->counters().decisions, 100'000u);
  EXPECT_EQ(core_->replica(2).last_verdict_seq, 70'000u);   // behind in its answers,
  EXPECT_EQ(core_->slowest_voting_lag(last_step_us_), 0u);  // not in its work
  EXPECT_EQ(core_->supervisor().voting_mask(), 0b111);      // nothing missed its deadline
}

TEST_F(LateReplica, ByMoreThanHalfTheDeadlineAndKeepingUpItHoldsNoAdmission) {
  EXPECT_EQ(run(100, 50, /*says_applied=*/true), 0u);
  EXPECT_EQ(core_->counters().decisions, 100'000u);
  EXPECT_EQ(core_->replica(2).last_verdict_seq, 50'000u);
  EXPECT_EQ(core_->slowest_voting_lag(last_step_us_), 0u);
  EXPECT_EQ(core_->supervisor().voting_mask(), 0b111);
}

TEST_F(LateReplica, ThatDoesNotSayWhatItAppliedHoldsAdmission) {
  // 46,904 of the 100,000 refused when this was written (635422a).
  EXPECT_GT(run(100, 50, /*says_applied=*/false), 30'000u);
  EXPECT_EQ(core_->supervisor().voting_mask(), 0b111);
}

// A whole receive queue read from the client socket without finding it
// empty (the front end is behind its intake) cuts admissions to half the
// measured decision rate, below every count-based limit; the refusals say
// why. A drain that emptied the socket changes nothing.
TEST_F(Admission, ABackloggedIntakeCutsTheAdmissionRate) {
  start(1'000'000);
  std::uint64_t now = kStartUs;
  // 2,000 decided within a completed bucket: 2,000 / 0.875 s = 2,286/s.
  submit_decided_by_a_and_b(1000, now);
  now += 10'000;
  submit_decided_by_a_and_b(1000, now);
  now += 125'000;
  core_->on_client_drain(100, true, now);
  EXPECT_EQ(submit(5, now), 0u);
  EXPECT_TRUE(nlohmann::json::parse(core_->status_json(now))["intake_cap_per_second"].is_null());

  core_->on_client_drain(IntakeThrottle::kBacklogRequests, false, now);
  const double cap = 2000 / 0.875 / 2;  // 1,143/s
  EXPECT_EQ(submit(1, now), 1u);        // the bucket starts empty
  now += 40'000;                        // within the hold period: the cap has not grown yet
  EXPECT_EQ(submit(100, now), 100u - static_cast<std::size_t>(cap * 0.04));
  const std::string why = refusal(now);
  EXPECT_NE(why.find("intake backlogged (admitting at most 1143/s)"), std::string::npos) << why;
  EXPECT_EQ(nlohmann::json::parse(core_->status_json(now))["intake_cap_per_second"], 1143);
}

// --max-in-flight caps everything, the floor included.
TEST_F(Admission, MaxInFlightCapsTheLimit) {
  start(1'000'000, 100);
  EXPECT_EQ(core_->admission_limit(kStartUs), 100u);
  EXPECT_EQ(submit(101, kStartUs), 1u);
}

// It also caps the seqs held open, decided ones still awaiting their third
// verdict included (a late replica's), and the refusal says which limit held.
TEST_F(Admission, MaxInFlightCapsTheSeqsHeldOpenAndTheRefusalSaysSo) {
  start(1'000'000, 100);
  submit_decided_by_a_and_b(100, kStartUs);  // c's verdicts awaited
  EXPECT_EQ(core_->in_flight(), 100u);
  const std::string why = refusal(kStartUs);
  EXPECT_NE(why.find("0 undecided (limit 100), 100 open (limit 100)"), std::string::npos) << why;
  verdicts(2, 1, 100, kStartUs);  // closed
  EXPECT_EQ(submit(1, kStartUs), 0u);
}

}  // namespace
}  // namespace triad::frontend
