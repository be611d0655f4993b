// The voter core: a pure state machine. It is fed events (a verified verdict
// arrived, the time is now T) and returns outputs (decisions, divergences).
// It owns no socket, thread or clock, so every combination of agree /
// disagree / bad signature / missing can be tested deterministically.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/response_code.h"
#include "common/types.h"

namespace triad::voter {

// The part of a verdict the replicas must agree on, bit for bit.
struct VerdictContent {
  std::uint64_t seq = 0;
  std::int64_t ts_ms = 0;
  Digest tx_digest{};
  ResponseCode code = ResponseCode::kApproved;
  Digest state_digest{};
  // Every K seqs, SHA-256 of the replica's whole serialized state; all zero
  // at other seqs. Voted like the rest, so latent memory corruption that has
  // not changed a decision yet is still caught.
  Digest checkpoint_digest{};
  std::uint32_t rules_version = 0;
  friend bool operator==(const VerdictContent&, const VerdictContent&) = default;
};

// One replica's verdict, after the front end checked its signature.
struct ReplicaVerdict {
  int replica = 0;  // 0..2
  VerdictContent content;
  bool signature_valid = false;
  std::string fingerprint;
  // A replica signs one Merkle root per batch of verdicts (wire/codec.h):
  // `signature` is over that root; index, size and audit path place this
  // verdict's leaf in the batch, so a certificate can prove it alone.
  Signature signature{};
  std::uint32_t batch_index = 0;
  std::uint32_t batch_size = 1;
  std::vector<Digest> batch_path;
};

enum class DecisionKind : std::uint8_t {
  kAgreed,         // two validly signed verdicts with equal content
  kNoAgreement,    // fail-safe 96: answers came, but no two agreed
  kTooFewAnswers,  // fail-safe 91: fewer than two valid answers by the deadline
};
// "agreed", "no_agreement", "too_few_answers".
const char* to_string(DecisionKind kind);

struct Decision {
  std::uint64_t seq = 0;
  DecisionKind kind = DecisionKind::kAgreed;
  ResponseCode code = ResponseCode::kSystemMalfunction;
  // For kAgreed: the two verdicts that formed the majority, in arrival order.
  std::vector<ReplicaVerdict> signers;
  std::uint8_t agree_mask = 0;      // bit r: replica r is in the majority
  std::uint8_t divergent_mask = 0;  // bit r: replica r diverged, as known at decision time
};

enum class DivergenceKind : std::uint8_t {
  kWrongVerdict,         // valid signature, content differs from the majority's
  kStateDigestMismatch,  // equal to the majority's content except the state digest
  kCheckpointMismatch,   // equal to the majority's content except the checkpoint digest
  kBadSignature,         // signature does not verify with the replica's key
  kMissing,              // no verdict by the deadline
};
// "wrong_verdict", "state_digest_mismatch", "bad_signature", "missing".
const char* to_string(DivergenceKind kind);

// majority / observed by kind:
//   kWrongVerdict, kStateDigestMismatch: both set.
//   kBadSignature: observed is the (unverified) content it carried; majority is
//     set when a majority existed by the time it arrived.
//   kMissing: observed empty; majority set when a majority existed by the deadline.
struct Divergence {
  std::uint64_t seq = 0;
  int replica = 0;
  DivergenceKind kind = DivergenceKind::kMissing;
  std::optional<VerdictContent> majority;  // when a majority exists
  std::optional<VerdictContent> observed;  // what the replica said, when it said anything
  // kMissing: bit r, replica r's validly signed verdict for this seq arrived
  // by the deadline (whether a peer answered what this replica did not).
  std::uint8_t answered_mask = 0;
};

// A valid verdict equal to the majority's content: evidence that the replica
// is healthy (the repair supervisor resets its run of missing verdicts).
struct Match {
  std::uint64_t seq = 0;
  int replica = 0;
};

struct Output {
  std::vector<Decision> decisions;
  std::vector<Divergence> divergences;
  std::vector<Match> matches;  // the two of the majority when it forms, then the third
  void clear() {
    decisions.clear();
    divergences.clear();
    matches.clear();
  }
};

// The voter's rules, one seq at a time (design.md principle 6, rules.md
// section 6). Every verdict is attributed to the seq in its content.seq.
//
//  - Two validly signed verdicts with equal VerdictContent decide at once
//    (kAgreed, the majority's code). Nothing else ever gives kAgreed, so no
//    code (00 above all) is released without two agreeing signed verdicts.
//  - A badly signed verdict is a kBadSignature divergence as soon as it
//    arrives and never counts toward a majority.
//  - Once a majority exists, every other valid verdict for the seq that
//    differs from it is a divergence: kStateDigestMismatch when only the
//    state digest differs, else kWrongVerdict. One equal to the majority is
//    not. A valid verdict that differs from another before any majority
//    exists cannot be attributed yet: it is judged when the majority forms,
//    and if none ever forms it is no divergence (nobody can say who was
//    wrong; the decision is the fail-safe 96).
//  - Fail-safe as soon as no majority can form any more, whatever still
//    arrives: when all three replicas delivered (valid or not), or two of
//    them delivered badly signed verdicts. The decision is kNoAgreement (96)
//    when at least two valid verdicts came, else kTooFewAnswers (91).
//  - At the deadline every replica that delivered nothing gets a kMissing
//    divergence, and an undecided seq gets its fail-safe decision: 96 when at
//    least two valid (so disagreeing) verdicts came, else 91.
//  - Fail-safe decisions have no signers and an empty agree_mask; their
//    divergent_mask holds the badly signed and, at the deadline, the missing
//    replicas.
//  - A seq is closed and forgotten when it is decided and all three replicas
//    delivered, or at its deadline, whichever comes first. Memory is bounded
//    by the span of seqs from the oldest open one to the newest.
//
// Each seq yields exactly one Decision, and each replica at most one
// Divergence per seq. Time is non-decreasing: a now_us below one seen before
// is taken as the latest seen. Misuse by the caller (a replica index outside
// 0..2, seqs opened out of order, a null Output) is a bug and aborts.
class Voter {
 public:
  static constexpr std::uint8_t kAllReplicas = (1u << kReplicaCount) - 1;

  struct Config {
    std::uint64_t deadline_us = 1'000'000;  // from open() to the fail-safe decision; > 0
    std::uint64_t first_seq = 1;            // the seq the first open() carries; >= 1
    // Agreeing valid verdicts that decide: 2 (TMR's majority). 1 only for the
    // simplex benchmark baseline (`triad up --simplex`): one replica, no vote.
    int quorum = 2;
  };

  explicit Voter(Config config);

  // A transaction was fanned out at `now_us`; its deadline is now_us +
  // deadline_us. Sequence numbers are opened strictly in order first_seq,
  // first_seq + 1, ... (asserted). Opening expires nothing; the next
  // on_verdict or on_time does.
  //
  // `eligible` (bit r: replica r's verdict counts) is how the repair
  // supervisor takes a replica out of the vote: its verdicts for this seq are
  // then ignored (counted in ineligible_verdicts()) and it is never reported
  // missing. With two eligible replicas both must agree (duplex); with fewer
  // than two no majority is possible and the fail-safe 91 is appended to
  // `out` at once (so `out` is required then).
  void open(std::uint64_t seq, std::uint64_t now_us, std::uint8_t eligible = kAllReplicas,
            Output* out = nullptr);

  // A verdict arrived. Verdicts for a seq that is not open (never opened, or
  // already closed) are ignored and counted in late_verdicts(). A second
  // verdict from the same replica for the same seq is ignored and counted in
  // duplicate_verdicts(). Expires deadlines up to `now_us` first, so a
  // verdict at or after its deadline does not count. Appends to `out`.
  void on_verdict(const ReplicaVerdict& verdict, std::uint64_t now_us, Output* out);

  // Time passed: every open seq whose deadline is <= now_us is closed; the
  // undecided ones get their fail-safe decision and every replica that did
  // not answer gets a kMissing divergence. Appends to `out`.
  void on_time(std::uint64_t now_us, Output* out);

  // The earliest deadline among open seqs, for the caller's poll timeout;
  // nullopt when no seq is open.
  std::optional<std::uint64_t> next_deadline_us() const;
  // When `seq` was opened, while it is open; nullopt once it is closed
  // (decided and delivered by all three, or at its deadline) or if it was
  // never opened.
  std::optional<std::uint64_t> opened_at_us(std::uint64_t seq) const;
  // Seqs opened and not yet closed.
  std::size_t open_count() const { return open_count_; }
  // Open seqs not decided yet (open_count() also holds decided seqs still
  // waiting for their third verdict): the work the quorum has not done.
  std::size_t undecided_count() const { return undecided_count_; }
  // True when a verdict of `replica` for `seq` would still be looked at (the
  // seq is open and the replica has not delivered for it), so the caller can
  // skip checking the signature of one that would be ignored anyway.
  bool wants(std::uint64_t seq, int replica) const;
  std::uint64_t late_verdicts() const { return late_verdicts_; }
  std::uint64_t duplicate_verdicts() const { return duplicate_verdicts_; }
  std::uint64_t ineligible_verdicts() const { return ineligible_verdicts_; }

 private:
  // One seq from open to close. Slots are reused (ring buffer), so the
  // fingerprint strings keep their capacity and a verdict costs no allocation
  // in the steady state.
  struct Entry {
    std::array<ReplicaVerdict, kReplicaCount> verdicts;  // slot r valid when bit r of delivered
    std::uint64_t deadline_us = 0;
    std::uint8_t eligible = kAllReplicas;  // bit r: replica r's verdict counts
    std::uint8_t delivered = 0;  // bit r: replica r's verdict arrived in time, valid or not
    std::uint8_t valid = 0;      // bit r: ... and its signature verified
    std::uint8_t divergent = 0;  // bit r: a divergence of replica r was emitted
    std::uint8_t agree = 0;      // the majority pair; non-zero once a majority exists
    std::int8_t majority = -1;   // a replica of the majority pair, -1 before
    bool decided = false;
    bool closed = false;
  };

  Entry& at(std::size_t index) { return ring_[(head_ + index) & (ring_.size() - 1)]; }
  const Entry& at(std::size_t index) const { return ring_[(head_ + index) & (ring_.size() - 1)]; }
  void advance_time(std::uint64_t now_us);
  void grow();
  void close_front_expired(std::uint64_t now_us, Output* out);
  void expire(Entry& entry, std::uint64_t seq, Output* out);
  void accept(Entry& entry, const ReplicaVerdict& verdict, Output* out);
  void decide(Entry& entry);  // marks it decided; its Decision is the caller's to emit
  void close(Entry& entry);
  void pop_closed_front();

  Config config_;
  std::vector<Entry> ring_;  // capacity a power of two, or empty
  std::size_t head_ = 0;     // ring_ index of the entry for first_seq_
  std::size_t size_ = 0;     // entries first_seq_ .. last_opened_seq_, open or closed
  std::size_t open_count_ = 0;
  std::size_t undecided_count_ = 0;
  std::uint64_t first_seq_ = 1;  // seq of the front entry; last_opened_seq_ + 1 when empty
  std::uint64_t last_opened_seq_ = 0;
  std::uint64_t now_us_ = 0;  // the latest time seen
  std::uint64_t late_verdicts_ = 0;
  std::uint64_t duplicate_verdicts_ = 0;
  std::uint64_t ineligible_verdicts_ = 0;
};

}  // namespace triad::voter
