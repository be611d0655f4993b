#include "voter/voter.h"

#include <bit>
#include <limits>
#include <utility>

#include "common/assert.h"

namespace triad::voter {
namespace {

constexpr std::uint8_t bit_of(int replica) {
  return static_cast<std::uint8_t>(1u << static_cast<unsigned>(replica));
}

int count(std::uint8_t mask) { return std::popcount(mask); }

// How `observed` differs from `majority` (it must differ): only in the
// checkpoint digest, in the state digest (and maybe the checkpoint), or in
// what was decided.
DivergenceKind classify(const VerdictContent& majority, const VerdictContent& observed) {
  VerdictContent same_state = observed;
  same_state.checkpoint_digest = majority.checkpoint_digest;
  if (same_state == majority) return DivergenceKind::kCheckpointMismatch;
  same_state.state_digest = majority.state_digest;
  return same_state == majority ? DivergenceKind::kStateDigestMismatch
                                : DivergenceKind::kWrongVerdict;
}

Divergence& emit_divergence(Output* out, std::uint64_t seq, int replica, DivergenceKind kind,
                            const VerdictContent* majority, const VerdictContent* observed) {
  Divergence& d = out->divergences.emplace_back();
  d.seq = seq;
  d.replica = replica;
  d.kind = kind;
  if (majority != nullptr) d.majority = *majority;
  if (observed != nullptr) d.observed = *observed;
  return d;
}

// The fail-safe decision of rules.md section 6.
void emit_fail_safe(Output* out, std::uint64_t seq, int valid_count, std::uint8_t divergent) {
  Decision& d = out->decisions.emplace_back();
  d.seq = seq;
  if (valid_count >= 2) {
    d.kind = DecisionKind::kNoAgreement;
    d.code = ResponseCode::kSystemMalfunction;
  } else {
    d.kind = DecisionKind::kTooFewAnswers;
    d.code = ResponseCode::kIssuerInoperative;
  }
  d.agree_mask = 0;
  d.divergent_mask = divergent;
}

}  // namespace

const char* to_string(DivergenceKind kind) {
  switch (kind) {
    case DivergenceKind::kWrongVerdict:
      return "wrong_verdict";
    case DivergenceKind::kStateDigestMismatch:
      return "state_digest_mismatch";
    case DivergenceKind::kCheckpointMismatch:
      return "checkpoint_mismatch";
    case DivergenceKind::kBadSignature:
      return "bad_signature";
    case DivergenceKind::kMissing:
      return "missing";
  }
  return "unknown";
}

const char* to_string(DecisionKind kind) {
  switch (kind) {
    case DecisionKind::kAgreed:
      return "agreed";
    case DecisionKind::kNoAgreement:
      return "no_agreement";
    case DecisionKind::kTooFewAnswers:
      return "too_few_answers";
  }
  return "unknown";
}

Voter::Voter(Config config)
    : config_(config), first_seq_(config.first_seq), last_opened_seq_(config.first_seq - 1) {
  TRIAD_ASSERT(config.deadline_us > 0);
  TRIAD_ASSERT(config.first_seq >= 1);
  TRIAD_ASSERT(config.first_seq < std::numeric_limits<std::uint64_t>::max());
  TRIAD_ASSERT(config.quorum == 1 || config.quorum == 2);
}

void Voter::advance_time(std::uint64_t now_us) {
  if (now_us > now_us_) now_us_ = now_us;
}

void Voter::open(std::uint64_t seq, std::uint64_t now_us, std::uint8_t eligible, Output* out) {
  TRIAD_ASSERT((eligible & ~kAllReplicas) == 0);
  TRIAD_ASSERT(seq == last_opened_seq_ + 1);
  TRIAD_ASSERT(seq < std::numeric_limits<std::uint64_t>::max());
  advance_time(now_us);
  const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  const std::uint64_t deadline_us =
      now_us_ > max - config_.deadline_us ? max : now_us_ + config_.deadline_us;
  // Opens come in time order, so deadlines never decrease along the ring and
  // the front entry holds the earliest one.
  TRIAD_ASSERT(size_ == 0 || at(size_ - 1).deadline_us <= deadline_us);
  if (size_ == ring_.size()) grow();
  Entry& e = at(size_);
  // The verdict slots are left as they are: they are only read once their
  // delivered bit is set, and keeping them keeps their strings' capacity.
  e.deadline_us = deadline_us;
  e.delivered = 0;
  e.valid = 0;
  e.divergent = 0;
  e.agree = 0;
  e.majority = -1;
  e.decided = false;
  e.closed = false;
  e.eligible = eligible;
  ++size_;
  ++open_count_;
  ++undecided_count_;
  last_opened_seq_ = seq;
  TRIAD_ASSERT(first_seq_ + size_ - 1 == last_opened_seq_);
  if (count(eligible) < config_.quorum) {
    // Fewer than a quorum of replicas can vote: no majority is possible.
    TRIAD_ASSERT(out != nullptr);
    emit_fail_safe(out, seq, 0, 0);
    decide(e);
    if (eligible == 0) {
      close(e);
      pop_closed_front();
    }
  }
}

void Voter::grow() {
  const std::size_t capacity = ring_.empty() ? 64 : ring_.size() * 2;
  std::vector<Entry> bigger(capacity);
  for (std::size_t i = 0; i < size_; ++i) bigger[i] = std::move(at(i));
  ring_.swap(bigger);
  head_ = 0;
}

void Voter::on_verdict(const ReplicaVerdict& verdict, std::uint64_t now_us, Output* out) {
  TRIAD_ASSERT(out != nullptr);
  TRIAD_ASSERT(verdict.replica >= 0 && verdict.replica < kReplicaCount);
  advance_time(now_us);
  close_front_expired(now_us_, out);
  const std::uint64_t seq = verdict.content.seq;
  if (seq < first_seq_ || seq > last_opened_seq_) {
    ++late_verdicts_;
    return;
  }
  Entry& e = at(static_cast<std::size_t>(seq - first_seq_));
  if (e.closed) {
    ++late_verdicts_;
    return;
  }
  TRIAD_ASSERT(e.deadline_us > now_us_);
  if ((e.eligible & bit_of(verdict.replica)) == 0) {
    ++ineligible_verdicts_;
    return;
  }
  if ((e.delivered & bit_of(verdict.replica)) != 0) {
    ++duplicate_verdicts_;
    return;
  }
  accept(e, verdict, out);
  pop_closed_front();
}

std::optional<std::uint64_t> Voter::opened_at_us(std::uint64_t seq) const {
  if (seq < first_seq_ || seq > last_opened_seq_) return std::nullopt;
  const Entry& e = at(static_cast<std::size_t>(seq - first_seq_));
  if (e.closed) return std::nullopt;
  return e.deadline_us - config_.deadline_us;
}

bool Voter::wants(std::uint64_t seq, int replica) const {
  if (seq < first_seq_ || seq > last_opened_seq_ || replica < 0 || replica >= kReplicaCount) {
    return false;
  }
  const Entry& e = at(static_cast<std::size_t>(seq - first_seq_));
  return !e.closed && (e.eligible & bit_of(replica)) != 0 && (e.delivered & bit_of(replica)) == 0;
}

void Voter::accept(Entry& e, const ReplicaVerdict& verdict, Output* out) {
  const std::uint64_t seq = verdict.content.seq;
  const int r = verdict.replica;
  const std::uint8_t bit = bit_of(r);
  e.delivered |= bit;
  e.verdicts[static_cast<std::size_t>(r)] = verdict;
  const VerdictContent* majority =
      e.majority >= 0 ? &e.verdicts[static_cast<std::size_t>(e.majority)].content : nullptr;

  if (!verdict.signature_valid) {
    TRIAD_ASSERT((e.divergent & bit) == 0);
    e.divergent |= bit;
    emit_divergence(out, seq, r, DivergenceKind::kBadSignature, majority, &verdict.content);
  } else if (majority != nullptr) {
    // The third verdict, compared with the majority after the decision.
    e.valid |= bit;
    if (verdict.content != *majority) {
      TRIAD_ASSERT((e.divergent & bit) == 0);
      e.divergent |= bit;
      emit_divergence(out, seq, r, classify(*majority, verdict.content), majority,
                      &verdict.content);
    } else {
      out->matches.push_back({seq, r});
    }
  } else {
    e.valid |= bit;
    int partner = -1;
    for (int other = 0; other < kReplicaCount; ++other) {
      if (other != r && (e.valid & bit_of(other)) != 0 &&
          e.verdicts[static_cast<std::size_t>(other)].content == verdict.content) {
        partner = other;
        break;
      }
    }
    // TMR decides on a pair; the simplex baseline on its one valid verdict.
    if (partner >= 0 || config_.quorum == 1) {
      TRIAD_ASSERT(!e.decided);
      e.majority = static_cast<std::int8_t>(r);
      e.agree = partner >= 0 ? static_cast<std::uint8_t>(bit | bit_of(partner)) : bit;
      const VerdictContent& m = verdict.content;
      // A valid verdict that came earlier and differs can be judged now.
      for (int other = 0; other < kReplicaCount; ++other) {
        const std::uint8_t other_bit = bit_of(other);
        if ((e.agree & other_bit) == 0 && (e.valid & other_bit) != 0) {
          const VerdictContent& observed = e.verdicts[static_cast<std::size_t>(other)].content;
          TRIAD_ASSERT(observed != m);
          TRIAD_ASSERT((e.divergent & other_bit) == 0);
          e.divergent |= other_bit;
          emit_divergence(out, seq, other, classify(m, observed), &m, &observed);
        }
      }
      Decision& d = out->decisions.emplace_back();
      d.seq = seq;
      d.kind = DecisionKind::kAgreed;
      d.code = m.code;
      d.signers.reserve(2);
      if (partner >= 0) {
        const ReplicaVerdict& first = e.verdicts[static_cast<std::size_t>(partner)];
        TRIAD_ASSERT(first.signature_valid && verdict.signature_valid);
        TRIAD_ASSERT(first.content == verdict.content && first.replica != verdict.replica);
        d.signers.push_back(first);
        out->matches.push_back({seq, partner});
      }
      d.signers.push_back(verdict);
      out->matches.push_back({seq, r});
      d.agree_mask = e.agree;
      d.divergent_mask = e.divergent;
      decide(e);
    }
  }

  if (!e.decided) {
    // A majority can still form only if some replica is pending and the
    // pending and valid ones together are at least two.
    const int pending = count(static_cast<std::uint8_t>(e.eligible & ~e.delivered));
    const int valid = count(e.valid);
    if (pending == 0 || pending + valid < config_.quorum) {
      TRIAD_ASSERT(e.agree == 0);
      emit_fail_safe(out, seq, valid, e.divergent);
      decide(e);
    }
  }
  if (e.decided && (e.delivered & e.eligible) == e.eligible) close(e);
}

void Voter::on_time(std::uint64_t now_us, Output* out) {
  TRIAD_ASSERT(out != nullptr);
  advance_time(now_us);
  close_front_expired(now_us_, out);
}

void Voter::close_front_expired(std::uint64_t now_us, Output* out) {
  while (size_ > 0) {
    Entry& e = at(0);
    TRIAD_ASSERT(!e.closed);  // closed entries at the front are popped at once
    if (e.deadline_us > now_us) break;
    expire(e, first_seq_, out);
    pop_closed_front();
  }
}

void Voter::expire(Entry& e, std::uint64_t seq, Output* out) {
  const VerdictContent* majority =
      e.majority >= 0 ? &e.verdicts[static_cast<std::size_t>(e.majority)].content : nullptr;
  for (int r = 0; r < kReplicaCount; ++r) {
    const std::uint8_t bit = bit_of(r);
    if ((e.eligible & bit) != 0 && (e.delivered & bit) == 0) {
      TRIAD_ASSERT((e.divergent & bit) == 0);
      e.divergent |= bit;
      emit_divergence(out, seq, r, DivergenceKind::kMissing, majority, nullptr).answered_mask =
          e.valid;
    }
  }
  if (!e.decided) {
    TRIAD_ASSERT(e.agree == 0);
    emit_fail_safe(out, seq, count(e.valid), e.divergent);
    decide(e);
  }
  close(e);
}

void Voter::decide(Entry& e) {
  TRIAD_ASSERT(!e.decided && undecided_count_ > 0);
  e.decided = true;
  --undecided_count_;
}

void Voter::close(Entry& e) {
  TRIAD_ASSERT(e.decided && !e.closed);
  TRIAD_ASSERT(open_count_ > 0);
  e.closed = true;
  --open_count_;
}

void Voter::pop_closed_front() {
  while (size_ > 0 && at(0).closed) {
    head_ = (head_ + 1) & (ring_.size() - 1);
    --size_;
    ++first_seq_;
  }
  TRIAD_ASSERT(open_count_ <= size_);
  TRIAD_ASSERT(size_ > 0 || open_count_ == 0);
}

std::optional<std::uint64_t> Voter::next_deadline_us() const {
  if (size_ == 0) return std::nullopt;
  const Entry& front = at(0);
  TRIAD_ASSERT(!front.closed);
  return front.deadline_us;
}

}  // namespace triad::voter
