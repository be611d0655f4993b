// The voter core: a pure state machine. It is fed events (a verified verdict
// arrived, the time is now T) and returns outputs (decisions, divergences).
// It owns no socket, thread or clock, so every combination of agree /
// disagree / bad signature / missing can be tested deterministically.
#pragma once

#include <cstdint>
#include <deque>
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
  std::uint32_t rules_version = 0;
  friend bool operator==(const VerdictContent&, const VerdictContent&) = default;
};

// One replica's verdict, after the front end checked its signature.
struct ReplicaVerdict {
  int replica = 0;  // 0..2
  VerdictContent content;
  bool signature_valid = false;
  std::string fingerprint;
  Signature signature{};
};

enum class DecisionKind : std::uint8_t {
  kAgreed,          // two validly signed verdicts with equal content
  kNoAgreement,     // fail-safe 96: answers came, but no two agreed
  kTooFewAnswers,   // fail-safe 91: fewer than two valid answers by the deadline
};

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
  kStateDigestMismatch,  // same code as the majority, different state digest
  kBadSignature,         // signature does not verify with the replica's key
  kMissing,              // no verdict by the deadline
};
const char* to_string(DivergenceKind kind);

struct Divergence {
  std::uint64_t seq = 0;
  int replica = 0;
  DivergenceKind kind = DivergenceKind::kMissing;
  std::optional<VerdictContent> majority;  // when a majority exists
  std::optional<VerdictContent> observed;  // what the replica said, when it said anything
};

struct Output {
  std::vector<Decision> decisions;
  std::vector<Divergence> divergences;
  void clear() {
    decisions.clear();
    divergences.clear();
  }
};

class Voter {
 public:
  struct Config {
    std::uint64_t deadline_us = 1'000'000;  // from open() to the fail-safe decision
  };

  explicit Voter(Config config);

  // A transaction was fanned out at `now_us`. Sequence numbers are opened
  // strictly in order 1, 2, 3 ... (asserted).
  void open(std::uint64_t seq, std::uint64_t now_us);

  // A verdict arrived. Verdicts for a seq that is not open (never opened, or
  // already closed) are ignored and counted in late_verdicts(). A second
  // verdict from the same replica for the same seq is ignored. Expires
  // deadlines up to `now_us` first, so a verdict at or after its deadline
  // does not count.
  void on_verdict(const ReplicaVerdict& verdict, std::uint64_t now_us, Output* out);

  // Time passed: every open seq whose deadline is <= now_us is closed; the
  // undecided ones get their fail-safe decision and every replica that did
  // not answer gets a kMissing divergence.
  void on_time(std::uint64_t now_us, Output* out);

  // The earliest deadline among open seqs, for the caller's poll timeout.
  std::optional<std::uint64_t> next_deadline_us() const;
  std::size_t open_count() const;
  std::uint64_t late_verdicts() const { return late_verdicts_; }

 private:
  struct Entry;
  void close_front_expired(std::uint64_t now_us, Output* out);
  Config config_;
  std::deque<Entry> entries_;  // open seqs, ascending; seq = first_seq_ + index
  std::uint64_t first_seq_ = 1;
  std::uint64_t last_opened_seq_ = 0;
  std::uint64_t late_verdicts_ = 0;
};

}  // namespace triad::voter
