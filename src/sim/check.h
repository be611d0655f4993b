// The invariants every simulated run must keep (tests/sim). Each rule below
// is checked for every seed; a broken one is reported as one line naming the
// submission, seq or replica concerned.
//
//  1. Answers. Every submission gets exactly one answer, a decision (the
//     simulated clients send only valid, fresh transactions, so no refusal
//     is due). The first submission of an id is answered with
//     replayed=false, every later one with the same seq, ts, code, agree,
//     divergent and certificate and replayed=true. The seqs are exactly
//     1..last_seq, one id each.
//  2. Certificates. A decision with a majority (agree not empty) carries a
//     certificate that triad::verify_certificate accepts with the public
//     keys alone: two or more distinct replica signatures over the same
//     content, whose seq, ts, code and transaction digest are the
//     decision's and the submitted transaction's, signed by (at least) the
//     replicas named in agree. Anything else is a fail-safe decline: 91 or
//     96, no certificate. So no 00 (and no decision at all) is released
//     without two agreeing, validly signed verdicts.
//  3. Correctness against the reference (rules::Engine over the sequence):
//     - An agreed decision equals the reference code. The one exception is
//       TMR's own limit, and only with two faulty replicas that both have
//       the flip fault: both flipped the same seq (flip is deterministic,
//       05 for 00 and 00 for a decline, and a flipped verdict keeps the
//       correct state digest), so they agree on flipped(reference), and
//       that is exactly what the decision says.
//     - With two faulty replicas a fail-safe decline is always allowed.
//     - With at most one faulty replica a fail-safe decline is a failure,
//       unless transport loss explains it: some replica r without a fault
//       had a front end -> replica message lost before the seq's deadline,
//       and r did not help decide the seq: it was out of the vote when the
//       seq was opened, or its first verdict for the seq reached the front
//       end at or after the deadline, or never. (Without loss in the seed
//       no fail-safe is therefore ever accepted with one faulty replica.)
//  4. Recovery. The run settled: after the main traffic (and its loss)
//     ended, with a trickle of transactions, all three replicas became
//     healthy in the repair supervisor, connected, at the last seq, with
//     equal state digests and equal latest checkpoint snapshots (seq, state
//     digest, checkpoint digest, engine state bytes).
//     Three exceptions, counted in CheckReport::stuck and failures only with
//     strict_recovery (TRIAD_SIM_STRICT=1 in the test):
//     - KNOWN ISSUE of the product (reported, not fixed here: src/frontend
//       is another engineer's). A repair checks the snapshot against a
//       checkpoint the majority agreed on, and rejoins on a verdict equal to
//       an agreed one. When the healthy replicas cannot agree, no repair can
//       ever complete and the cluster never heals: in mode "down" (two
//       replicas out at once) every decision is the fail-safe 91 and nothing
//       is agreed again ("snapshot refused: no agreed checkpoint at seq N",
//       forever); in mode "duplex" with a faulty partner (flip, or
//       corrupt-state that changed its checkpoints) the two healthy replicas
//       disagree and the third one's repair finds no agreed checkpoint or
//       verdict. Matched as: the run did not settle, and at the end one
//       replica is healthy, or two are and the settle trickle got at least
//       one fail-safe decline (they could not agree).
//     - TMR's own limit: two replicas with the flip fault that stay healthy
//       outvote the correct third one with their (agreeing) wrong verdicts,
//       so it is repaired and can never rejoin. Matched as: the run did not
//       settle, both faulty replicas have the flip fault and are healthy at
//       the end.
//     - TMR's own limit too: two faulty replicas wrong in different ways
//       (corrupt-state on different cards before the same checkpoint) give
//       three checkpoint digests, so no majority shows which is faulty and
//       none is repaired; each checkpoint seq is declined fail-safe. Matched
//       as: the run did not settle, two replicas are faulty, all three are
//       healthy, and the settle trickle got a fail-safe decline.
//     Safety is not affected in either case: rules 1-3 still hold for every
//     answer of such a run.
//  5. The harness's own checks (Result::errors) are empty.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sim/sim.h"
#include "triad/certificate.h"

namespace triad::sim {

struct CheckReport {
  std::vector<std::string> failures;  // empty: every invariant held
  std::uint64_t decisions = 0;        // distinct seqs
  std::uint64_t agreed = 0;
  std::uint64_t fail_safe = 0;
  std::uint64_t fail_safe_by_loss = 0;  // accepted under rule 3's loss clause
  std::uint64_t flip_flip = 0;          // accepted under rule 3's TMR clause
  std::uint64_t replayed = 0;           // answers with replayed=true
  // Rule 4's exceptions (not in failures unless strict): empty, or why the
  // run did not settle.
  std::string stuck;
};

struct CheckOptions {
  std::size_t max_failures = 20;  // lines kept; the count of the rest is the last line
  bool strict_recovery = false;   // the known issue of rule 4 is a failure too
};

CheckReport check(const Scenario& scenario, const Result& result, const Keyring& keyring,
                  const CheckOptions& options = {});

}  // namespace triad::sim
