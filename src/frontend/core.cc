#include "frontend/core.h"

#include <array>
#include <bit>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <utility>

#include "common/assert.h"
#include "common/hex.h"
#include "common/log.h"
#include "crypto/aead.h"
#include "crypto/card_ref.h"
#include "crypto/hash.h"
#include "replica/checkpoint.h"
#include "rules/engine.h"
#include "wire/codec.h"

namespace triad::frontend {
namespace {

std::string digits_of(std::string_view text) {
  std::string digits;
  for (const char c : text) {
    if (c >= '0' && c <= '9') digits.push_back(c);
  }
  return digits;
}

// The digits of `text` into `out`, in order; nullopt when there are more
// than it holds.
template <std::size_t N>
std::optional<std::string_view> digits_into(std::string_view text, std::array<char, N>* out) {
  std::size_t n = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') continue;
    if (n == N) return std::nullopt;
    (*out)[n++] = c;
  }
  return std::string_view(out->data(), n);
}

// Whether the digits of `id`, in order, hold those of `pan` (12 or more: no
// card number is shorter, and a shorter run in an id is no PAN's). Run for
// every new transaction, so without allocating: an id is at most 64
// characters (checked before), and a PAN with more digits cannot be in it.
bool id_holds_pan(std::string_view id, std::string_view pan) {
  std::array<char, 64> id_buffer{};
  std::array<char, 64> pan_buffer{};
  const std::optional<std::string_view> id_digits = digits_into(id, &id_buffer);
  const std::optional<std::string_view> pan_digits = digits_into(pan, &pan_buffer);
  TRIAD_ASSERT(id_digits.has_value());
  return pan_digits && pan_digits->size() >= 12 &&
         id_digits->find(*pan_digits) != std::string_view::npos;
}

// After a restart from a stored snapshot, once a quorum of the voting
// replicas holds its state, how long the replay waits for one still loading
// it: twice as long as the quorum took (a slower build loads the same state
// more slowly), and at least this. Then it goes on without it: a replica
// still loading misses its verdicts and is repaired like any that hangs,
// rather than holding every new id off for as long as it hangs.
constexpr std::uint64_t kStartLoadPatienceMinUs = 10'000'000;

// Entries per message to a replica.
constexpr std::uint64_t kResendBatch = 512;
// A message of kResendBatch entries, each with at most a client message's
// text and its fields' framing, is one a replica takes.
static_assert(kResendBatch * (wire::kMaxTransactionTextBytes + 4096) <=
              wire::kMaxReplicaMessageBytes);

// Journalled entries read at a time by recover(): each one leaves only its
// hash and answer behind.
constexpr std::uint64_t kRecoverPart = 4096;

// Recovered seqs undecided at a time during replay. A replica gets through
// this many in tens of milliseconds, far inside the deadline; a larger window
// would only make the last seqs of each wait longer.
constexpr std::size_t kReplayWindow = 1024;

// A replica says hello again after 500 ms without a message
// (ReplicaNode::kIdleHelloUs). When that hello names the seq a resend to it
// began at, whose last part went less than this long ago, the two crossed:
// a part can take longer than 500 ms to go out and arrive on a busy machine,
// and answering would send it a second time. Past this, the resend counts as
// lost (a full send queue drops it) and goes again.
constexpr std::uint64_t kResendPatienceUs = 2'000'000;

// A replica asks for seqs with a fetch at most once per 200 ms
// (ReplicaNode::kFetchIntervalUs) and with a hello at connection and after
// 500 ms without a message, and each answer can read a part back from the
// journal on the event loop (3-11 ms). A request sooner than this after the
// last one answered comes from a faulty replica and is dropped (a healthy
// one asks again): answering each let one replica take the event loop (153
// fetches answered in 1.5 s in a helper's run, 2026-12-05; hellos
// alternating between two seqs read back 18,838 entries in 20 ms).
constexpr std::uint64_t kRangeRequestGapUs = 100'000;

// How long every voting replica must have been silent before a missing
// verdict no majority answered is held against them (missing_is_own_fault).
constexpr std::uint64_t kAllSilentDeadlines = 10;

// Config::store_snapshot_every: a replica asked for its snapshot that gives
// none within this is asked no more; and at most one ask per kStoreRetryUs
// (a snapshot that did not fit, see store_snapshot, is asked for again).
constexpr std::uint64_t kStoreSnapshotWaitUs = 10'000'000;
constexpr std::uint64_t kStoreRetryUs = 1'000'000;
// A replica's state over wire::max_snapshot_state_bytes(): none is asked for to
// store for this long.
constexpr std::uint64_t kStoreOverLimitPauseUs = 600'000'000;

std::vector<std::uint8_t> bytes_of(const flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::string replica_label(int r) { return std::string("replica ") + replica_name(r); }

repair::Fault repair_fault(voter::DivergenceKind kind) {
  switch (kind) {
    case voter::DivergenceKind::kWrongVerdict:
      return repair::Fault::kWrongVerdict;
    case voter::DivergenceKind::kBadSignature:
      return repair::Fault::kBadSignature;
    case voter::DivergenceKind::kMissing:
      return repair::Fault::kMissing;
    case voter::DivergenceKind::kStateDigestMismatch:
      return repair::Fault::kStateDigestMismatch;
    case voter::DivergenceKind::kCheckpointMismatch:
      return repair::Fault::kCheckpointMismatch;
  }
  TRIAD_ASSERT(false);
}

}  // namespace

// Checkpoints kept for the snapshot check.
constexpr std::size_t kCheckpointsKept = 8;

Core::Core(const Config& config, std::uint64_t now_us)
    : config_(config),
      rate_bucket_(now_us / kRateBucketUs),
      sequencer_({.trust_client_time = config.trust_client_time, .id_hash_key = config.id_hash_key},
                 this),
      voter_({.deadline_us = config.deadline_us, .quorum = config.simplex ? 1 : 2}),
      supervisor_(config.repair, now_us),
      agreed_(config.agreed_ring),
      recent_(config.agreed_ring) {}

Status Core::create(const Config& config, std::uint64_t now_us, std::unique_ptr<Core>* out) {
  if (config.archive == nullptr) return Status::invalid_argument("the core needs an archive");
  if (config.agreed_ring == 0) return Status::invalid_argument("agreed_ring must be at least 1");
  if (config.snapshot_part_bytes == 0 || config.snapshot_part_bytes > wire::kSnapshotPartBytes) {
    return Status::invalid_argument("snapshot_part_bytes must be 1.." +
                                    std::to_string(wire::kSnapshotPartBytes));
  }
  if (config.snapshot_check_step_bytes == 0) {
    return Status::invalid_argument("snapshot_check_step_bytes must be at least 1");
  }
  if (config.card_ref_key.bytes() == crypto::SymmetricKey().bytes()) {
    return Status::invalid_argument("the core needs the card reference key (it is all zeros)");
  }
  std::unique_ptr<Core> core(new Core(config, now_us));
  for (int r = 0; r < kReplicaCount; ++r) {
    const auto i = static_cast<std::size_t>(r);
    if (Status s = crypto::VerifyingKey::from_public_key(config.replica_keys[i], &core->keys_[i]);
        !s.is_ok()) {
      return Status::invalid_argument(replica_label(r) + " public key: " + s.message());
    }
  }
  *out = std::move(core);
  return Status::ok();
}

bool Core::all_connected() const {
  for (int r = 0; r < (config_.simplex ? 1 : kReplicaCount); ++r) {
    if (!replicas_[static_cast<std::size_t>(r)].connected) return false;
  }
  return true;
}

std::string Core::identical_builds() const {
  for (int r = 0; r < kReplicaCount; ++r) {
    for (int q = r + 1; q < kReplicaCount; ++q) {
      const ReplicaView& x = replicas_[static_cast<std::size_t>(r)];
      const ReplicaView& y = replicas_[static_cast<std::size_t>(q)];
      if (x.connected && y.connected && x.fingerprint == y.fingerprint) {
        return std::string("replicas ") + replica_name(r) + " and " + replica_name(q) +
               " report the same build fingerprint \"" + x.fingerprint + "\"";
      }
    }
  }
  return "";
}

// ---- clients ----------------------------------------------------------------

template <typename Handle>
void Core::each_client_request(const std::string& client, std::span<const std::uint8_t> payload,
                               Outbox* out, Handle&& handle) {
  using wire::ClientErrorKind;
  const ReplyTo frame_to{client, 0, false};
  if (payload.size() > wire::kMaxClientMessageBytes) {
    return reply_error(frame_to, static_cast<int>(ClientErrorKind::TooLarge),
                       "request of " + std::to_string(payload.size()) +
                           " bytes exceeds the limit of " +
                           std::to_string(wire::kMaxClientMessageBytes),
                       out);
  }
  const wire::AlignedFrame frame(payload.data(), payload.size());
  const wire::ClientRequest* request = nullptr;
  if (Status s = wire::verify_client_request(frame.bytes(), &request); !s.is_ok()) {
    return reply_error(frame_to, static_cast<int>(ClientErrorKind::Malformed), s.message(), out);
  }
  const auto* batch = request->batch();
  if (batch == nullptr) return handle(*request, false);
  // The whole frame is checked before any part is handled, so a bad one is
  // refused whole rather than half sequenced.
  std::string bad;
  std::vector<const wire::ClientRequest*> parts;
  if (request->submit() != nullptr || request->ping() != nullptr || batch->size() == 0) {
    bad = "a batch carries its requests as parts only, at least one";
  }
  for (flatbuffers::uoffset_t i = 0; i < batch->size() && bad.empty(); ++i) {
    const wire::ClientRequest* part = wire::request_part(batch->Get(i));
    if (part == nullptr || part->batch() != nullptr) {
      bad = "batch part " + std::to_string(i) +
            " is missing, not 8-byte aligned, fails the FlatBuffers verifier or is itself a batch";
    }
    parts.push_back(part);
  }
  if (!bad.empty()) {
    return reply_error(ReplyTo{client, 0, true}, static_cast<int>(ClientErrorKind::Malformed), bad,
                       out);
  }
  for (const wire::ClientRequest* part : parts) handle(*part, true);
}

void Core::on_client_message(const std::string& client, std::span<const std::uint8_t> payload,
                             std::uint64_t now_us, std::int64_t wall_ms, Outbox* out) {
  each_client_request(client, payload, out,
                      [&](const wire::ClientRequest& request, bool batchable) {
                        on_request(request, client, batchable, now_us, wall_ms, out);
                      });
}

void Core::refuse_unadmitted_client(const std::string& client,
                                    std::span<const std::uint8_t> payload, const std::string& why,
                                    Outbox* out) {
  each_client_request(
      client, payload, out, [&](const wire::ClientRequest& request, bool batchable) {
        ++counters_.not_admitted;
        // As on_request reads it: a ping first.
        const std::uint64_t tag = request.ping() != nullptr     ? request.ping()->tag()
                                  : request.submit() != nullptr ? request.submit()->tag()
                                                                : 0;
        reply_error(ReplyTo{client, tag, batchable},
                    static_cast<int>(wire::ClientErrorKind::NotAdmitted), why, out);
      });
}

void Core::on_request(const wire::ClientRequest& request, const std::string& client, bool batchable,
                      std::uint64_t now_us, std::int64_t wall_ms, Outbox* out) {
  using wire::ClientErrorKind;
  if (request.ping() != nullptr) {
    flatbuffers::FlatBufferBuilder fbb(64);
    wire::ClientReplyBuilder b(fbb);
    b.add_tag(request.ping()->tag());
    b.add_pong(true);
    fbb.Finish(b.Finish());
    out->to_clients.push_back({client, bytes_of(fbb), 0, batchable});
    return;
  }
  const wire::SubmitRequest* submit = request.submit();
  if (submit == nullptr || submit->tx() == nullptr) {
    return reply_error(ReplyTo{client, 0, batchable}, static_cast<int>(ClientErrorKind::Malformed),
                       "request carries neither a transaction nor a ping", out);
  }
  const ReplyTo to{client, submit->tag(), batchable};
  // Refused before sequencing, so the client may retry it (a 91 would be a
  // decision), and before the transaction is even read, so a refusal costs
  // next to nothing under a flood. Hence a repeated id (or an invalid one)
  // is refused too while overloaded; it gets its answer on a later retry.
  const std::size_t limit = admission_limit(now_us);
  const std::size_t lag_limit = replica_lag_limit(now_us);
  // While recovering, a new id is refused below anyway, with what the
  // recovery is doing, and a repeated one adds no work: the replicas'
  // lag then is the replay's, paced by its own rules.
  const std::uint64_t lag = recovering() ? 0 : slowest_voting_lag(now_us);
  const std::uint64_t wait_us = recovering() ? 0 : slowest_voting_wait_us(now_us);
  if (voter_.undecided_count() >= limit || lag >= lag_limit || wait_us >= replica_wait_limit_us() ||
      voter_.open_count() >= config_.max_in_flight || !intake_throttle_.admit(now_us)) {
    ++counters_.overloaded;
    return reply_error(to, static_cast<int>(ClientErrorKind::Overloaded),
                       "front end overloaded: " + std::to_string(voter_.undecided_count()) +
                           " undecided (limit " + std::to_string(limit) + "), " +
                           std::to_string(voter_.open_count()) + " open (limit " +
                           std::to_string(config_.max_in_flight) + "), slowest replica " +
                           std::to_string(lag) + " behind (limit " + std::to_string(lag_limit) +
                           "), a seq unapplied for " + std::to_string(wait_us / 1000) +
                           " ms (limit " + std::to_string(replica_wait_limit_us() / 1000) + " ms)" +
                           intake_note(now_us) + "; retry later",
                       out);
  }
  if (const std::size_t text = wire::transaction_text_bytes(submit->tx());
      text > wire::kMaxTransactionTextBytes) {
    return reply_error(to, static_cast<int>(ClientErrorKind::TooLarge),
                       "transaction's fields add up to " + std::to_string(text) +
                           " bytes, over the limit of " +
                           std::to_string(wire::kMaxTransactionTextBytes),
                       out);
  }
  Transaction tx = wire::read_transaction(submit->tx());
  if (!tx.id || !is_valid_transaction_id(*tx.id)) {
    return reply_error(
        to, static_cast<int>(ClientErrorKind::InvalidId),
        tx.id ? "id must be 1..64 characters of [A-Za-z0-9._:-]" : "id is missing or not a string",
        out);
  }
  // Ids are journalled, logged, kept in the audit store and echoed in
  // clear, so an id holding its own card number (a switch that builds ids
  // from the PAN) would put the PAN there. Its digits are compared, so a
  // PAN written with separators, spaces or as a JSON number (malformed for
  // rule 1, but still the card number) is caught too. Other digits in an id
  // are not judged: a Luhn check would refuse one numeric id in ten.
  if (tx.pan && id_holds_pan(*tx.id, *tx.pan)) {
    return reply_error(to, static_cast<int>(ClientErrorKind::InvalidId),
                       "id holds the transaction's PAN (" + mask_pan(digits_of(*tx.pan)) +
                           "); ids are kept and shown in clear, a PAN never is: not sequenced",
                       out);
  }
  const std::optional<std::int64_t> client_ts = tx.is_malformed(Field::kTs) ? std::nullopt : tx.ts;
  const CardRef card_ref = crypto::card_ref_of(config_.card_ref_key, tx);
  const Digest digest = wire::transaction_digest(tx, card_ref);
  // Only a repeated id reads the journal here (back from disk when it is
  // old), to tell it from another id with the same hash. While recovering,
  // a new id is refused, so it is only looked up.
  sequencer::Admission a;
  if (const Status s = recovering() ? sequencer_.lookup(*tx.id, digest, &a)
                                    : sequencer_.admit(*tx.id, digest, client_ts, wall_ms, &a);
      !s.is_ok()) {
    return reply_unreadable(to, *tx.id, s, out);
  }
  if (recovering() && a.kind == sequencer::Admission::Kind::kNew) {
    return reply_error(to, static_cast<int>(ClientErrorKind::Overloaded),
                       start_state_held_
                           ? "recovering: " + std::to_string(replay_sent_seq()) + " of " +
                                 std::to_string(recovered_seq_) +
                                 " journalled transactions replayed to the replicas; retry later"
                           : "recovering: the replicas are loading the stored snapshot of seq " +
                                 std::to_string(start_seq_) + "; retry later",
                       out);
  }
  switch (a.kind) {
    case sequencer::Admission::Kind::kIdReused:
      // Not before the first content is durable: a power cut could lose it
      // (--fsync batch), and then this content would be sequenced after the
      // restart although the client was told it never would be.
      return reply_error(
          to, static_cast<int>(ClientErrorKind::IdReused),
          "id " + *tx.id + " was already sequenced with different content; not sequenced", out,
          a.seq);
    case sequencer::Admission::Kind::kRepeated:
      ++counters_.replayed;
      if (answers_[a.seq - 1].decided()) {
        return reply_repeated(to, a.seq, *tx.id, a.ts_ms, card_ref, out);
      }
      if (waiting_repeats_ >= config_.max_waiting_repeats) {
        return reply_error(to, static_cast<int>(ClientErrorKind::Overloaded),
                           "id " + *tx.id + " is sequenced at seq " + std::to_string(a.seq) +
                               " and not decided yet, and " + std::to_string(waiting_repeats_) +
                               " repeats already wait for their answers; retry later",
                           out);
      }
      waiters_[a.seq].push_back({client, to.tag, batchable, true});
      ++waiting_repeats_;
      return;
    case sequencer::Admission::Kind::kNew:
      break;
  }
  TRIAD_ASSERT(a.seq == journal_base_ + journal_.size());
  journal_.push_back(
      {a.ts_ms, std::move(tx), card_ref, digest, now_us, Waiter{client, to.tag, batchable, false}});
  answers_.emplace_back();
  ++counters_.sequenced;
  // Only healthy replicas vote: duplex with one in repair, 91 with two.
  voter_.open(a.seq, now_us, voting_mask(), &voter_out_);
  opened_seq_ = a.seq;
  handle_voter_output(now_us, out);
}

Status Core::recover(std::uint64_t journalled, std::vector<journal::FailSafeAnswer>* fail_safe,
                     const journal::StoredSnapshot* stored, std::uint64_t* start_seq) {
  TRIAD_ASSERT(journal_.empty() && journal_base_ == 1 && flushed_seq_ == 0 && last_seq() == 0);
  std::vector<std::vector<std::uint8_t>> install;
  // Card data: wiped however this returns (moved from, when used).
  struct WipeAtExit {
    std::vector<std::vector<std::uint8_t>>* messages;
    ~WipeAtExit() { crypto::wipe_and_free(messages); }
  } wipe_install{&install};
  std::uint64_t base = 0;  // the stored snapshot's seq, while it holds
  voter::VerdictContent base_content;
  if (stored != nullptr) {
    if (Status s = check_stored(*stored, journalled, &install, &base_content); s.is_ok()) {
      base = stored->seq;
    } else {
      log::warn("the stored snapshot of seq " + std::to_string(stored->seq) +
                " is not used: " + s.message() + "; the whole journal is replayed");
    }
  }
  std::uint64_t unanswered = 0;  // the first seq up to base with no answer kept
  std::unordered_map<std::uint64_t, const journal::FailSafeAnswer*> fail_safe_by_seq;
  // The last record of a seq wins: an earlier one was for a transaction
  // lost before the journal's sync, whose seq was given again.
  for (const journal::FailSafeAnswer& a : *fail_safe) fail_safe_by_seq[a.seq] = &a;
  std::vector<journal::FailSafeAnswer> kept;
  std::vector<journal::Entry> part;
  for (std::uint64_t from = 1; from <= journalled; from += kRecoverPart) {
    part.clear();
    TRIAD_RETURN_IF_ERROR(
        config_.archive->read_entries(from, std::min(journalled, from + kRecoverPart - 1), &part));
    for (const journal::Entry& e : part) {
      if (!e.tx.id) return Status::corruption("seq " + std::to_string(e.seq) + " has no id");
      const Digest digest = digest_of(e.tx);
      TRIAD_RETURN_IF_ERROR(sequencer_.restore(*e.tx.id, digest, e.seq, e.ts_ms));
      answers_.emplace_back();
      if (const auto it = fail_safe_by_seq.find(e.seq);
          it != fail_safe_by_seq.end() && it->second->tx_digest == digest) {
        recovered_fail_safe_[e.seq] = it->second->code;
        kept.push_back(*it->second);
        fail_safe_by_seq.erase(it);
      }
      if (e.seq > base || unanswered != 0) continue;
      // Up to the stored snapshot: the answer given before.
      if (const auto it = recovered_fail_safe_.find(e.seq); it != recovered_fail_safe_.end()) {
        answers_.back() = Answer{{it->second[0], it->second[1]}, 0, 0, false};
      } else if (KeptAnswer k; config_.archive->kept_answer(e.seq, &k).is_ok()) {
        answers_.back() = Answer{k.code, k.agree, k.divergent, true};
      } else {
        unanswered = e.seq;
      }
    }
  }
  if (unanswered != 0) {
    log::warn("the stored snapshot of seq " + std::to_string(base) +
              " is not used: no answer is kept for seq " + std::to_string(unanswered) +
              " (DIR/certificates lost it); the whole journal is replayed");
    std::fill_n(answers_.begin(), base, Answer{});
    base = 0;
  }
  if (base > 0) {
    std::erase_if(recovered_fail_safe_, [&](const auto& kv) { return kv.first <= base; });
    journal_base_ = base + 1;
    opened_seq_ = flushed_seq_ = decided_through_ = handed_over_seq_ = start_seq_ = base;
    voter_ = voter::Voter({.deadline_us = config_.deadline_us,
                           .first_seq = base + 1,
                           .quorum = config_.simplex ? 1 : 2});
    start_install_ = std::move(install);
    start_state_held_ = false;
    checkpoints_.push_back(base_content);  // a repair's snapshot is checked against it
    log::info("starting from the stored snapshot of seq " + std::to_string(base) + " (" +
              std::to_string(stored->engine_state.size()) + " bytes); " +
              (base == journalled ? std::string("nothing after it to replay")
                                  : "replaying seqs " + std::to_string(base + 1) + ".." +
                                        std::to_string(journalled)));
  }
  if (start_seq != nullptr) *start_seq = base;
  recovered_seq_ = sequencer_.last_seq();
  TRIAD_ASSERT(recovered_seq_ == journalled);
  for (const auto& [seq, a] : fail_safe_by_seq) {
    log::warn("answer log: the fail-safe decline " + a->code + " of seq " + std::to_string(seq) +
              " is for a transaction the journal does not hold there (lost before its sync); "
              "dropped");
  }
  *fail_safe = std::move(kept);
  return Status::ok();
}

void Core::pump_replay(std::uint64_t now_us, Outbox* out) {
  if (!recovering()) return;
  const std::uint8_t mask = voting_mask();
  // With fewer voting replicas than a decision needs, every seq sent would
  // be declined at once (91): a journalled seq answered before the restart
  // would be answered otherwise now, and nothing would pace the reading of
  // the journal. The replay waits for the repairs instead.
  if (std::popcount(mask) < (config_.simplex ? 1 : 2)) return;
  for (int r = 0; r < kReplicaCount; ++r) {
    // A voter still starting up would miss the deadline of all it is sent.
    if ((mask >> r & 1u) != 0 && !replicas_[static_cast<std::size_t>(r)].connected) return;
  }
  // Nor while they load the stored snapshot: the deadlines would run.
  if (!start_state_held_) return;
  const std::size_t window = std::min(config_.max_in_flight, kReplayWindow);
  if (voter_.open_count() >= window) return;
  while (opened_seq_ < recovered_seq_ && voter_.open_count() < window) {
    if (const std::uint64_t next = opened_seq_ + 1; !in_memory(next)) {
      // The next part of what recover() left on disk.
      TRIAD_ASSERT(next == journal_base_ + journal_.size());
      std::vector<journal::Entry> part;
      if (Status s = config_.archive->read_entries(
              next, std::min(recovered_seq_, next + kReplayWindow - 1), &part);
          !s.is_ok()) {
        if (!replay_read_failed_) {
          log::error("replay stopped at seq " + std::to_string(next) +
                     ": the journal cannot be read back: " + s.to_string() +
                     "; trying again as time passes");
        }
        replay_read_failed_ = true;
        break;
      }
      if (replay_read_failed_) log::info("replay resumed at seq " + std::to_string(next));
      replay_read_failed_ = false;
      for (journal::Entry& e : part) {
        const CardRef card_ref = crypto::card_ref_of(config_.card_ref_key, e.tx);
        const Digest digest = wire::transaction_digest(e.tx, card_ref);
        journal_.push_back({e.ts_ms, std::move(e.tx), card_ref, digest, now_us, std::nullopt});
      }
    }
    ++opened_seq_;
    entry(opened_seq_).sequenced_us = now_us;  // the deadline and latency count from here
    voter_.open(opened_seq_, now_us, mask, &voter_out_);
  }
  flush_new_entries(out);
  if (!recovering()) {
    log::info("all " + std::to_string(recovered_seq_) +
              " recovered transactions sent to the replicas again; accepting new transactions");
  }
  handle_voter_output(now_us, out);
}

// Admission control. A transaction admitted behind U undecided ones waits
// about U / R for its decision, R being the rate at which the quorum decides
// (Little's law). So it is refused once U reaches R * B, with the latency
// budget B a quarter of the deadline: an admitted transaction is then decided
// well within its deadline. Refusing instead keeps the answer prompt (one
// look-up, no replica involved) and the memory flat, however hard the flood.
//  - R is measured, not configured: decisions over the last completed
//    buckets of a one-second window of the injected clock (deterministic).
//    Under saturation it is the capacity the replicas have now, however
//    busy the machine.
//  - Below saturation R is only the offered rate, and right after idling it
//    is near zero, so the limit is never below kAdmissionFloor: a burst from
//    idle (`triad submit` keeps up to 1,000 in flight) is admitted. 1,024
//    undecided is a tenth of a second of work at the ~10,000 decisions per
//    second of a small machine.
//  - The quorum decides at the pace of the second-fastest replica, but the
//    third must keep up too, or its verdicts come after the deadline and a
//    healthy replica is reported missing and repaired merely for being the
//    slowest build (c, -O1 with assertions, is). So the same rule with half
//    the deadline bounds the lag of every voting replica (sequenced minus
//    what it has applied): admission runs at the pace of the slowest healthy
//    replica.
//  - A replica that has sent nothing for 7/16 of the deadline (hung, or
//    stalled) holds nothing by its lag: a hung one held admission from R *
//    deadline/2 seqs behind until its deadline took it out of the vote
//    (6,045 of 96,000 refused at 12,000/s with b=hang:50000 and a 1 s
//    deadline, before 2026-12-07). Not sooner: what is admitted while a
//    replica is silent it works through at its own pace, which may be
//    slower than R (c's), so one stalled briefly is still held for. Nearly
//    half: a replica paced at the lag limit (half a deadline of work
//    behind) that stalls for longer than half a deadline owes a verdict it
//    will give past its deadline whatever is admitted; in a stall of just
//    half, what is admitted from 7/16 on at k times its pace makes the last
//    seq admitted late by 1/2 + k/16 of a deadline, within it for k < 8.
//    And just under half, so that a replica that falls silent while keeping
//    up (a late one before its first late verdict) is let go before its
//    lag, growing at R, reaches the limit at half a deadline: if R is
//    steady, and the replica was less than R x deadline/16 behind when it
//    fell silent (while R ramps up, the limit is the floor, which it may
//    reach sooner).
//  - The lag is of the replica's work, not of its answers: a replica whose
//    verdicts are late by a fixed time d (the delay fault holds them back)
//    but that applies each seq as it comes is behind by R * d answers
//    whatever admission does, and counted by its answers it held admission
//    to about kReplicaLagFloor / d (12,000/s offered with d = 0.9 s: 4,648/s
//    admitted, 2026-12-07). Its verdict messages say what its state has
//    applied (applied_through), so only a replica behind in its work holds
//    admission; a late one is still reported missing when a verdict misses
//    its deadline.
//  - The lag in seqs is right only while R holds. When the replicas' pace
//    drops (the machine busier, a repair's replay on the same cores), the
//    same lag takes longer to answer: in a 50,000/s flood (1.3 to 1.5 times
//    the capacity overload_process_test probed here) the latest verdicts
//    reached the front end 364-698 ms after their seq was sent, with a 1 s
//    deadline, and one CI run of such a flood reported all three replicas
//    missing. So admission also stops while a voting replica at least
//    kReplicaLagFloor behind, and still answering, has had a seq to apply
//    for a quarter of the deadline: the time itself, whatever the pace. It does
//    not apply below the floor, nor to a replica that has given no verdict
//    for that long: one that stops altogether (hung) is left to the lag
//    limit (until 7/16 of the deadline, above) and to its deadline, rather than
//    stop admission from a quarter of the deadline on.
//  - max_in_flight caps the undecided limit; with a short deadline, lower it.
std::size_t Core::admission_limit(std::uint64_t now_us) {
  constexpr std::size_t kAdmissionFloor = 1024;
  return std::min(limit_for_budget(config_.deadline_us / 4, kAdmissionFloor, now_us),
                  config_.max_in_flight);
}

std::size_t Core::replica_lag_limit(std::uint64_t now_us) {
  return limit_for_budget(config_.deadline_us / 2, kReplicaLagFloor, now_us);
}

std::string Core::intake_note(std::uint64_t now_us) const {
  const double cap = intake_cap_per_second(now_us);
  if (cap <= 0) return {};
  return ", intake backlogged (admitting at most " + std::to_string(std::llround(cap)) + "/s)";
}

std::uint64_t Core::decided_in_window(std::uint64_t now_us) {
  roll_rate_window(now_us);
  std::uint64_t decided = 0;
  for (std::size_t i = 0; i < kRateBuckets; ++i) {
    if (i != rate_bucket_ % kRateBuckets) decided += decided_per_bucket_[i];
  }
  return decided;
}

double Core::decided_per_second(std::uint64_t now_us) {
  return static_cast<double>(decided_in_window(now_us)) * 1e6 / kRateWindowUs;
}

std::size_t Core::limit_for_budget(std::uint64_t budget_us, std::size_t floor,
                                   std::uint64_t now_us) {
  return std::max<std::size_t>(
      floor, static_cast<std::size_t>(decided_in_window(now_us) * budget_us / kRateWindowUs));
}

std::uint64_t Core::slowest_voting_lag(std::uint64_t now_us) const {
  std::uint64_t lag = 0;
  const std::uint8_t voting = voting_mask();
  for (int r = 0; r < kReplicaCount; ++r) {
    if ((voting & (1u << r)) == 0) continue;
    const ReplicaView& v = replicas_[static_cast<std::size_t>(r)];
    if (!v.heard_within(kSilentFor16thsOfDeadline * config_.deadline_us / 16, now_us)) {
      continue;  // silent: see above
    }
    const std::uint64_t applied = v.applied_through();
    lag = std::max(lag, sequencer_.last_seq() - std::min(applied, sequencer_.last_seq()));
  }
  return lag;
}

std::uint64_t Core::slowest_voting_wait_us(std::uint64_t now_us) const {
  std::uint64_t wait_us = 0;
  const std::uint8_t voting = voting_mask();
  const std::uint64_t last = sequencer_.last_seq();
  for (int r = 0; r < kReplicaCount; ++r) {
    if ((voting & (1u << r)) == 0) continue;
    const ReplicaView& v = replicas_[static_cast<std::size_t>(r)];
    const std::uint64_t applied = v.applied_through();
    if (applied >= last || last - applied < kReplicaLagFloor) continue;
    // Silent (hung, or stopped): the lag limit and the deadline deal with
    // it; refusing for it here would only stop admission sooner.
    if (!v.answered_within(replica_wait_limit_us(), now_us)) continue;
    // A repaired replica rejoins near the live edge, not at it: the seqs
    // before its rejoin are not its to answer, and one of them closed (its
    // majority in) was taken for a whole deadline owed (99 and 140 requests
    // refused in two runs of b=hang:50000 at 12,000/s, after b rejoined
    // 1,150 seqs behind).
    const std::uint64_t owed = std::max(applied + 1, v.rejoined_at_seq);
    if (owed > last) continue;
    // The seq owed stays open in the voter until the replica answers it or
    // its deadline passes; closed, it was owed for a whole deadline.
    const std::optional<std::uint64_t> sent_us = voter_.opened_at_us(owed);
    wait_us =
        std::max(wait_us, sent_us ? now_us - std::min(*sent_us, now_us) : config_.deadline_us);
  }
  return wait_us;
}

void Core::roll_rate_window(std::uint64_t now_us) {
  const std::uint64_t bucket = now_us / kRateBucketUs;
  if (bucket <= rate_bucket_) return;  // an earlier now_us counts in the newest bucket
  const std::uint64_t stale = std::min<std::uint64_t>(bucket - rate_bucket_, kRateBuckets);
  for (std::uint64_t i = 1; i <= stale; ++i) {
    decided_per_bucket_[(rate_bucket_ + i) % kRateBuckets] = 0;
  }
  rate_bucket_ = bucket;
}

void Core::reply_error(const ReplyTo& to, int kind, const std::string& message, Outbox* out,
                       std::uint64_t after_seq) {
  ++counters_.client_errors;
  flatbuffers::FlatBufferBuilder fbb(256);
  const auto text = fbb.CreateString(message);
  wire::ClientReplyBuilder b(fbb);
  b.add_tag(to.tag);
  b.add_error_kind(static_cast<wire::ClientErrorKind>(kind));
  b.add_error(text);
  fbb.Finish(b.Finish());
  out->to_clients.push_back({to.client, bytes_of(fbb), after_seq, to.batchable});
}

void Core::reply_unreadable(const ReplyTo& to, const std::string& id, const Status& status,
                            Outbox* out) {
  log::error("id " + id + ": the journal cannot be read back to check it: " + status.to_string());
  reply_error(to, static_cast<int>(wire::ClientErrorKind::Unavailable),
              "id " + id + " may have been sequenced before, and the journal cannot be read back " +
                  "to check it now (" + status.message() + "); not sequenced, retry later",
              out);
}

void Core::reply_repeated(const ReplyTo& to, std::uint64_t seq, const std::string& id,
                          std::int64_t ts_ms, const CardRef& card_ref, Outbox* out) {
  std::vector<std::uint8_t> certificate;
  if (answers_[seq - 1].certified) {
    if (Status s = config_.archive->certificate(seq, &certificate); !s.is_ok()) {
      log::error("seq " + std::to_string(seq) +
                 ": the certificate of its answer cannot be read back: " + s.to_string());
      return reply_error(to, static_cast<int>(wire::ClientErrorKind::Unavailable),
                         "id " + id + " was decided (seq " + std::to_string(seq) +
                             ") but its certificate cannot be read back now (" + s.message() +
                             "); retry later",
                         out);
    }
  }
  reply_decision(to, seq, id, ts_ms, card_ref, certificate, /*replayed=*/true, out);
}

void Core::reply_decision(const ReplyTo& to, std::uint64_t seq, const std::string& id,
                          std::int64_t ts_ms, const CardRef& card_ref,
                          std::span<const std::uint8_t> certificate, bool replayed, Outbox* out) {
  const Answer& answer = answers_[seq - 1];
  flatbuffers::FlatBufferBuilder fbb(512 + certificate.size());
  // No PAN (or a malformed one), no reference: card_ref_of gives zeros then.
  const std::size_t card_ref_size = card_ref == CardRef{} ? 0 : card_ref.size();
  const auto decision = wire::CreateDecision(
      fbb, fbb.CreateString(id), seq, ts_ms, fbb.CreateString(answer.code.data(), 2),
      fbb.CreateString(replica_names(answer.agree)),
      fbb.CreateString(replica_names(answer.divergent)), replayed,
      fbb.CreateVector(certificate.data(), certificate.size()),
      fbb.CreateVector(card_ref.data(), card_ref_size));
  wire::ClientReplyBuilder b(fbb);
  b.add_tag(to.tag);
  b.add_decision(decision);
  fbb.Finish(b.Finish());
  out->to_clients.push_back({to.client, bytes_of(fbb), seq, to.batchable});
}

// ---- replicas ---------------------------------------------------------------

void Core::flush_new_entries(Outbox* out) {
  const std::uint64_t last = opened_seq_;
  if (flushed_seq_ >= last) return;
  // Encoded once, the same bytes to every connected replica. Nothing
  // unflushed was let go of (release_journaled), so nothing is read back.
  std::vector<std::vector<std::uint8_t>> messages;
  const Status encoded = encode_range(flushed_seq_ + 1, last, &messages);
  TRIAD_ASSERT(encoded.is_ok());
  for (int r = 0; r < kReplicaCount; ++r) {
    if (!replicas_[static_cast<std::size_t>(r)].connected) continue;
    for (const auto& m : messages) out->to_replicas.push_back({r, m});
  }
  flushed_seq_ = last;
}

void Core::send_range(int r, std::uint64_t from, std::uint64_t to, std::uint64_t now_us,
                      Outbox* out) {
  TRIAD_ASSERT(config_.max_resend_entries > 0);
  ReplicaView& view = replicas_[static_cast<std::size_t>(r)];
  const bool continues = view.resend_from != 0 && from == view.resend_from;
  view.resend_from = 0;
  view.resend_to = 0;
  // Only what every replica has been sent: a faulty replica's fetch may ask
  // for anything, and its verdicts on seqs the voter has not opened (during
  // recovery, those the replay has not reached) would be lost.
  to = std::min(to, flushed_seq_);
  if (from > to) return;
  if (to - from >= config_.max_resend_entries) {
    view.resend_from = from + config_.max_resend_entries;
    view.resend_to = to;
    to = view.resend_from - 1;
  }
  if (!continues) view.resent_from = from;
  view.resent_to = to;
  view.resent_at_us = now_us;
  std::vector<std::vector<std::uint8_t>> messages;
  const std::uint64_t read_before = counters_.entries_read_back;
  if (Status s = encode_range(from, to, &messages); !s.is_ok()) {
    // It gets what could be read; its verdicts for the rest will be missing,
    // so it goes to repair, which tries again.
    log::error(replica_label(r) + ": cannot resend seqs " + std::to_string(from) + ".." +
               std::to_string(to) + " from the journal: " + s.to_string());
  }
  if (const std::uint64_t read = counters_.entries_read_back - read_before; read > 0) {
    // Seldom (a replica far behind), and it stopped the event loop while the
    // disk was read: an operator should see it.
    log::info(replica_label(r) + ": resending seqs " + std::to_string(from) + ".." +
              std::to_string(to) + ", " + std::to_string(read) +
              " of them read back from the journal");
  }
  for (auto& m : messages) out->to_replicas.push_back({r, std::move(m)});
}

Status Core::encode_range(std::uint64_t from, std::uint64_t to,
                          std::vector<std::vector<std::uint8_t>>* messages) {
  // Sent or opened (flushed_seq_ <= opened_seq_), so in memory or before it.
  TRIAD_ASSERT(to <= opened_seq_ && to < journal_base_ + journal_.size());
  std::vector<journal::Entry> archived;
  while (from <= to) {
    const std::uint64_t end = std::min<std::uint64_t>(to, from + kResendBatch - 1);
    // What is not in memory, read back in order.
    archived.clear();
    if (from < journal_base_) {
      TRIAD_RETURN_IF_ERROR(
          config_.archive->read_entries(from, std::min(end, journal_base_ - 1), &archived));
    }
    counters_.entries_read_back += archived.size();
    flatbuffers::FlatBufferBuilder fbb(512 * (end - from + 1));
    std::vector<flatbuffers::Offset<wire::Sequenced>> entries;
    entries.reserve(end - from + 1);
    std::size_t next_archived = 0;
    for (std::uint64_t seq = from; seq <= end; ++seq) {
      const journal::Entry* read_back = nullptr;
      if (!in_memory(seq)) {
        TRIAD_ASSERT(next_archived < archived.size() && archived[next_archived].seq == seq);
        read_back = &archived[next_archived++];
      }
      const std::int64_t ts_ms = read_back ? read_back->ts_ms : entry(seq).ts_ms;
      const Transaction& tx = read_back ? read_back->tx : entry(seq).tx;
      entries.push_back(wire::CreateSequenced(fbb, seq, ts_ms, wire::build_transaction(fbb, tx)));
    }
    TRIAD_ASSERT(next_archived == archived.size());
    fbb.Finish(wire::CreateToReplica(fbb, fbb.CreateVector(entries)));
    messages->push_back(bytes_of(fbb));
    from = end + 1;
  }
  return Status::ok();
}

Status Core::sequenced(std::uint64_t seq, sequencer::Sequenced* out) {
  TRIAD_ASSERT(seq >= 1 && seq <= last_seq());
  if (in_memory(seq)) {
    const JournalEntry& e = entry(seq);
    *out = {*e.tx.id, e.tx_digest, e.ts_ms};
    return Status::ok();
  }
  std::vector<journal::Entry> archived;
  TRIAD_RETURN_IF_ERROR(config_.archive->read_entries(seq, seq, &archived));
  TRIAD_ASSERT(archived.size() == 1 && archived[0].seq == seq);
  if (!archived[0].tx.id) return Status::corruption("seq " + std::to_string(seq) + " has no id");
  const Transaction& tx = archived[0].tx;
  *out = {*tx.id, digest_of(tx), archived[0].ts_ms};
  return Status::ok();
}

Digest Core::digest_of(const Transaction& tx) const {
  return wire::transaction_digest(tx, crypto::card_ref_of(config_.card_ref_key, tx));
}

const Core::JournalEntry& Core::entry(std::uint64_t seq) const {
  TRIAD_ASSERT(seq >= journal_base_ && seq - journal_base_ < journal_.size());
  return journal_[seq - journal_base_];
}

Core::JournalEntry& Core::entry(std::uint64_t seq) {
  TRIAD_ASSERT(seq >= journal_base_ && seq - journal_base_ < journal_.size());
  return journal_[seq - journal_base_];
}

// Let go only of what nothing here needs again: journalled (the archive can
// read it back), sent to the replicas, decided (the decision record and the
// fail-safe answer log need the transaction), and not among the newest
// keep_recent, which a reconnecting replica is most likely to ask for.
void Core::release_journaled(std::uint64_t seq) {
  const std::uint64_t last = journal_base_ + journal_.size() - 1;
  while (!journal_.empty() && journal_base_ <= seq && journal_base_ <= flushed_seq_ &&
         answers_[journal_base_ - 1].decided() && journal_base_ + config_.keep_recent <= last) {
    journal_.pop_front();
    ++journal_base_;
  }
}

void Core::on_replica_gone(int r) {
  ReplicaView& view = replicas_[static_cast<std::size_t>(r)];
  view.connected = false;
  view.resend_from = 0;
  view.resend_to = 0;
  view.resent_from = 0;
  view.resent_to = 0;
  view.fetched_from = 0;
  view.range_answered_us = 0;  // a new process's first request is answered
  view.start_snapshot = ReplicaView::StartSnapshot::kNotSent;
  // A new process never continues its predecessor's snapshot.
  snapshot_parts_[static_cast<std::size_t>(r)].clear();
  if (store_source_ == r) store_source_ = -1;  // another is asked when due
}

// The next part of a resend, at a message with verdicts while they show
// fewer than resend_window_entries sent and not applied: the replica never
// waits with nothing queued, and never has more than that and a part queued.
void Core::continue_resend(int r, std::uint64_t now_us, Outbox* out) {
  const ReplicaView& view = replicas_[static_cast<std::size_t>(r)];
  if (view.resend_from == 0 || !view.connected) return;
  const std::uint64_t answered = view.applied_through();
  if (answered + config_.resend_window_entries < view.resend_from) return;
  send_range(r, view.resend_from, view.resend_to, now_us, out);
}

// A replica being replayed also gets the live seqs as they are sequenced,
// ahead of the resend, and asks for the gap every 200 ms
// (ReplicaNode::kFetchIntervalUs) while the resend is on its way: starting
// it over there would send much of it twice (seen: 15,268 entries twice in
// a replay of 31,000). So a fetch from a seq the resend sent is left to it
// while the replica gets further between fetches; the rest goes as its
// verdicts come (continue_resend). A fetch from where the last one was
// shows it stuck (a part dropped at the send queue's limit): answered, 200
// ms on, well inside a deadline. A fresh process waiting for its repair's
// snapshot is sent the replay after it (on_hello), not before.
void Core::on_fetch(int r, std::uint64_t from, std::uint64_t to, std::uint64_t now_us,
                    Outbox* out) {
  ReplicaView& view = replicas_[static_cast<std::size_t>(r)];
  if (range_asked_too_soon(view, now_us)) return;
  const std::uint64_t last_from = std::exchange(view.fetched_from, from);
  const Transfer& t = transfers_[static_cast<std::size_t>(r)];
  const bool snapshot_on_its_way = t.active && !t.installed;
  const bool resend_on_its_way =
      view.resent_from <= from && from <= view.resent_to && from > last_from;
  if (snapshot_on_its_way || resend_on_its_way) {
    ++counters_.fetches_crossing_a_resend;
    return;
  }
  view.range_answered_us = now_us;
  send_range(r, std::max<std::uint64_t>(from, 1), to, now_us, out);
}

bool Core::range_asked_too_soon(const ReplicaView& view, std::uint64_t now_us) {
  if (view.range_answered_us == 0 || now_us >= view.range_answered_us + kRangeRequestGapUs) {
    return false;
  }
  ++counters_.range_requests_too_soon;
  return true;
}

void Core::on_replica_message(int r, std::span<const std::uint8_t> payload, std::uint64_t now_us,
                              Outbox* out) {
  TRIAD_ASSERT(r >= 0 && r < kReplicaCount);
  const wire::AlignedFrame frame(payload.data(), payload.size());
  const wire::FromReplica* msg = nullptr;
  if (Status s = wire::verify_from_replica(frame.bytes(), &msg); !s.is_ok()) {
    ++counters_.malformed_replica_messages;
    malformed_log_[static_cast<std::size_t>(r)].warn(now_us, replica_label(r) + ": " + s.message());
    return;
  }
  std::size_t verdict_count = 0;
  if (msg->batches() != nullptr) {
    for (const wire::VerdictBatch* batch : *msg->batches()) {
      verdict_count += batch->verdicts() != nullptr ? batch->verdicts()->size() : 0;
    }
  }
  if (verdict_count > wire::kMaxVerdictsPerMessage) {
    ++counters_.malformed_replica_messages;
    malformed_log_[static_cast<std::size_t>(r)].warn(
        now_us, replica_label(r) + ": a message of " + std::to_string(verdict_count) +
                    " verdicts, more than the " + std::to_string(wire::kMaxVerdictsPerMessage) +
                    " a replica sends; dropped unchecked");
    return;
  }
  ReplicaView& sender = replicas_[static_cast<std::size_t>(r)];
  if (sent_by_reaped_process(sender, msg->launch())) {
    ++counters_.reaped_process_messages;
    count_votes_of_reaped_process(r, *msg, now_us);
    return after_replica_message(now_us, out);
  }
  sender.last_message_us = now_us;
  if (const wire::Hello* h = msg->hello(); h != nullptr) {
    const std::string_view fingerprint = wire::as_view(h->fingerprint());
    if (Status s = wire::check_fingerprint(fingerprint); !s.is_ok()) {
      ++counters_.malformed_replica_messages;
      malformed_log_[static_cast<std::size_t>(r)].warn(
          now_us, replica_label(r) + ": hello with a " + s.message());
      return;
    }
    on_hello(r, h->next_seq(), std::string(fingerprint), h->rules_version(), now_us, out);
  }
  if (const wire::Fetch* f = msg->fetch(); f != nullptr) {
    on_fetch(r, f->from_seq(), f->to_seq(), now_us, out);
  }
  if (msg->batches() != nullptr) {
    sender.last_verdict_us = now_us;
    all_silent_since_us_ = 0;
    // Taken on the replica's word, as the seqs of a batch not checked
    // (below) are: it tells where the replica is (admission and resends wait
    // for it), never what it decided, so a replica that says it is further
    // than it is escapes neither its deadline nor its blame.
    sender.reported_applied_seq = std::max(
        sender.reported_applied_seq, std::min<std::uint64_t>(msg->applied_through(), opened_seq_));
    for (const wire::VerdictBatch* batch : *msg->batches()) {
      if (!worth_checking(r, *batch)) {
        // Still where the replica says it is (its lag, what a resend waits
        // for), as a verdict that fails its check was before: only its own
        // admission and resends depend on it.
        ++counters_.unchecked_batches;
        for (const wire::Verdict* v : *batch->verdicts()) {
          if (v->seq() > opened_seq_) continue;
          ++counters_.late_verdicts;
          sender.last_verdict_seq = std::max(sender.last_verdict_seq, v->seq());
        }
        continue;
      }
      if (!read_batch(r, batch, now_us)) continue;
      for (voter::ReplicaVerdict& v : batch_) {
        // A seq never sent says nothing of where its replay is.
        if (v.content.seq <= opened_seq_) {
          sender.checked_through = std::max(sender.checked_through, v.content.seq);
        }
        on_verdict(r, v, now_us);
      }
    }
    continue_resend(r, now_us, out);
  }
  if (const wire::Snapshot* part = msg->snapshot(); part != nullptr) {
    on_snapshot_part(r, *part, now_us, out);
  }
  if (const wire::InstallRefused* refused = msg->install_refused(); refused != nullptr) {
    on_install_refused(r, *refused, now_us);
  }
  if (const wire::SnapshotAck* ack = msg->install_ack(); ack != nullptr) {
    on_install_ack(r, *ack, out);
  }
  after_replica_message(now_us, out);
}

// Its launch names a process started before the one now taken for r, or the
// one taken, since reaped. A message that does not say (launch 0: from a
// replica not started by a front end, or a test) is taken for the current
// process's unless that one was reaped and no other started since: then
// only the launch tells an old process's messages from a new one's.
bool Core::sent_by_reaped_process(const ReplicaView& view, std::uint64_t launch) {
  return view.reaped || (launch != 0 && launch != view.launch);
}

// A message read after its process exited (its connection's queue outlives
// the process, and a restarted one's messages can come between): the
// verdicts it signed count as votes, for the seqs the voter still waits on r
// for (dropping them held seqs the other two disagreed on until their
// deadline), and as nothing else. Where it was, what it asked for, what it
// sent of a snapshot or an install: none of that is its successor's.
void Core::count_votes_of_reaped_process(int r, const wire::FromReplica& msg,
                                         std::uint64_t now_us) {
  if (msg.batches() == nullptr) return;
  for (const wire::VerdictBatch* batch : *msg.batches()) {
    // (A batch without verdicts is malformed: read_batch says so.)
    if (const auto* verdicts = batch->verdicts();
        verdicts != nullptr &&
        std::none_of(verdicts->begin(), verdicts->end(),
                     [&](const wire::Verdict* v) { return voter_.wants(v->seq(), r); })) {
      continue;
    }
    if (!read_batch(r, batch, now_us)) continue;
    for (const voter::ReplicaVerdict& v : batch_) {
      if (voter_.wants(v.content.seq, r)) voter_.on_verdict(v, now_us, &voter_out_);
    }
  }
}

bool Core::read_batch(int r, const wire::VerdictBatch* batch, std::uint64_t now_us) {
  batch_.clear();
  if (Status s = wire::read_verdict_batch(batch, r, keys_[static_cast<std::size_t>(r)], &batch_);
      !s.is_ok()) {
    ++counters_.malformed_replica_messages;
    malformed_log_[static_cast<std::size_t>(r)].warn(now_us, replica_label(r) + ": " + s.message());
    return false;
  }
  return true;
}

void Core::after_replica_message(std::uint64_t now_us, Outbox* out) {
  handle_voter_output(now_us, out);
  handle_repair_output(out);
  pump_replay(now_us, out);
  if (!start_install_.empty()) release_start_snapshot();
  drop_unawaited_snapshot_parts();
}

void Core::on_hello(int r, std::uint64_t next_seq, std::string fingerprint,
                    std::uint32_t rules_version, std::uint64_t now_us, Outbox* out) {
  ReplicaView& view = replicas_[static_cast<std::size_t>(r)];
  if (!view.connected) {
    log::info(replica_label(r) + " connected at seq " + std::to_string(next_seq) +
              ", fingerprint \"" + fingerprint + "\"");
    if (rules_version != rules::kRulesVersion) {
      log::error(replica_label(r) + " runs rules version " + std::to_string(rules_version) +
                 ", front end expects " + std::to_string(rules::kRulesVersion));
    }
  }
  view.connected = true;
  view.fingerprint = std::move(fingerprint);
  view.next_seq = next_seq;
  if (!start_state_held_ && next_seq > start_seq_) note_start_state(now_us);
  Transfer& t = transfers_[static_cast<std::size_t>(r)];
  if (t.active && !t.installed) {
    if (t.install.window().active() && !t.install.window().all_sent()) {
      // A fresh process in repair: the snapshot before any replay (its
      // first parts now, unless they went already).
      if (t.install.window().sent() == 0) send_install_parts(r, out);
      return;
    }
    if (t.installed_seq > 0 && next_seq == t.installed_seq + 1) {
      t.installed = true;
      log::info(replica_label(r) + " installed the snapshot of seq " +
                std::to_string(t.installed_seq) + "; replaying the journal after it");
      if (t.installed_seq >= opened_seq_) {
        // Nothing was sequenced since the (verified) snapshot: it already
        // holds the majority's state.
        log::info(replica_label(r) + " is at the live edge with the majority's checkpoint");
        t = Transfer{};
        supervisor_.on_caught_up(r, now_us, &repair_out_);
        return;
      }
    } else if (t.source >= 0) {
      return;  // the snapshot is on its way; replaying from 1 would be wasted
    }
  }
  if (!start_install_.empty() && next_seq <= start_seq_ && !t.active &&
      view.start_snapshot != ReplicaView::StartSnapshot::kRefused) {
    // A fresh process after a restart from a stored snapshot (recover()):
    // the snapshot, then the journal after it, once it says hello again.
    if (view.start_snapshot == ReplicaView::StartSnapshot::kSent) return;  // on its way
    view.start_snapshot = ReplicaView::StartSnapshot::kSent;
    if (!start_sent_us_) start_sent_us_ = now_us;
    log::info(replica_label(r) + ": sending the stored snapshot of seq " +
              std::to_string(start_seq_));
    view.start_window =
        wire::PartWindow(start_seq_, start_install_.size(), config_.snapshot_part_bytes);
    send_start_parts(r, out);
    return;
  }
  // Whatever it has not seen yet, up to what everyone else has been sent.
  const std::uint64_t from = std::max<std::uint64_t>(next_seq, 1);
  if (from == view.resent_from && now_us < view.resent_at_us + kResendPatienceUs) {
    ++counters_.hellos_crossing_a_resend;
    return;
  }
  if (from <= flushed_seq_) {  // else it has everything, and nothing is read back
    if (range_asked_too_soon(view, now_us)) return;
    view.range_answered_us = now_us;
  }
  if (t.active) return send_repair_replay(r, from, now_us, out);
  send_range(r, from, flushed_seq_, now_us, out);
}

void Core::send_repair_replay(int r, std::uint64_t from, std::uint64_t now_us, Outbox* out) {
  Transfer& t = transfers_[static_cast<std::size_t>(r)];
  if (!t.replay_allowed_for && from <= flushed_seq_) {
    t.replay_allowed_for = true;
    supervisor_.on_replay(r, flushed_seq_ - from + 1, now_us, &repair_out_);
  }
  send_range(r, from, flushed_seq_, now_us, out);
}

void Core::note_start_state(std::uint64_t now_us) {
  int holding = 0;
  std::string loading;  // the replicas still loading it
  const std::uint8_t voting = voting_mask();
  for (int r = 0; r < kReplicaCount; ++r) {
    if ((voting & (1u << r)) == 0) continue;
    const ReplicaView& v = replicas_[static_cast<std::size_t>(r)];
    if (v.start_snapshot == ReplicaView::StartSnapshot::kSent && v.next_seq <= start_seq_) {
      loading += (loading.empty() ? "" : ", ") + replica_label(r);
    } else if (v.connected && v.applied_through() >= start_seq_) {
      ++holding;
    }
  }
  if (holding < (config_.simplex ? 1 : 2)) {
    start_quorum_us_.reset();  // the wait starts again when a quorum does
    return;
  }
  if (!loading.empty()) {
    if (!start_quorum_us_) start_quorum_us_ = now_us;
    const std::uint64_t took_us = *start_quorum_us_ - start_sent_us_.value_or(*start_quorum_us_);
    const std::uint64_t patience_us = std::max(kStartLoadPatienceMinUs, 2 * took_us);
    if (now_us < *start_quorum_us_ + patience_us) return;
    log::warn(loading + " still loading the stored snapshot of seq " + std::to_string(start_seq_) +
              " " + std::to_string(patience_us / 1000) +
              " ms after a quorum held its state: the replay goes on without waiting (a replica "
              "that misses its verdicts is repaired)");
  }
  start_state_held_ = true;
  log::info("the replicas hold the stored snapshot's state (seq " + std::to_string(start_seq_) +
            ")");
}

void Core::release_start_snapshot() {
  for (int r = 0; r < (config_.simplex ? 1 : kReplicaCount); ++r) {
    if (replicas_[static_cast<std::size_t>(r)].applied_through() < start_seq_) return;
  }
  crypto::wipe_and_free(&start_install_);
  log::info("every replica holds the stored snapshot's state (seq " + std::to_string(start_seq_) +
            ") or a later one: the front end's copy is wiped and released");
}

void Core::on_verdict(int r, const voter::ReplicaVerdict& verdict, std::uint64_t now_us) {
  ReplicaView& view = replicas_[static_cast<std::size_t>(r)];
  view.last_verdict_seq = std::max(view.last_verdict_seq, verdict.content.seq);
  // Every validly signed verdict near the live edge is kept for a while, the
  // voter's or not: where no majority formed (two replicas out, or all
  // three), replicas in repair rejoin on agreeing with another replica's
  // (check_repairing_verdict). Older ones (a repaired replica's replay)
  // would only push recent seqs out of the ring.
  if (verdict.signature_valid && near_live_edge(verdict.content.seq)) {
    RecentVerdicts& recent = recent_[verdict.content.seq % recent_.size()];
    if (recent.seq != verdict.content.seq) recent = RecentVerdicts{verdict.content.seq, {}};
    recent.by_replica[static_cast<std::size_t>(r)] = verdict.content;
  }
  if (voter_.wants(verdict.content.seq, r)) {
    voter_.on_verdict(verdict, now_us, &voter_out_);
  } else if (transfers_[static_cast<std::size_t>(r)].active) {
    check_repairing_verdict(r, verdict, now_us);
  } else {
    ++counters_.late_verdicts;
  }
  if (verdict.signature_valid) rejoin_those_it_matches(r, verdict.content, now_us);
}

void Core::on_time(std::uint64_t now_us, Outbox* out) {
  if (!start_state_held_) note_start_state(now_us);
  voter_.on_time(now_us, &voter_out_);
  handle_voter_output(now_us, out);
  supervisor_.on_time(now_us, &repair_out_);
  handle_repair_output(out);
  pump_replay(now_us, out);
  drop_unawaited_snapshot_parts();
  reack_stalled_snapshots(now_us, out);
  continue_snapshot_checks(now_us, out);
  handle_repair_output(out);
}

std::optional<std::uint64_t> Core::next_timer_us() const {
  std::optional<std::uint64_t> t = voter_.next_deadline_us();
  const auto earliest = [&t](std::optional<std::uint64_t> u) {
    if (u) t = t ? std::min(*t, *u) : u;
  };
  earliest(supervisor_.next_timer_us());
  for (const Transfer& transfer : transfers_) {
    if (transfer.checking) earliest(0);  // the next share of a check, at once
  }
  for (int source = 0; source < kReplicaCount; ++source) {
    if (snapshot_parts_[static_cast<std::size_t>(source)].under_way()) {
      earliest(snapshot_acked_us_[static_cast<std::size_t>(source)] + wire::kSnapshotReackUs);
    }
  }
  return t;
}

void Core::on_process_exited(int r, std::uint64_t now_us, Outbox* out) {
  on_replica_gone(r);
  ReplicaView& view = replicas_[static_cast<std::size_t>(r)];
  view.last_verdict_seq = 0;
  view.checked_through = 0;
  view.last_verdict_us = 0;
  view.reported_applied_seq = 0;
  view.last_message_us = 0;
  view.reaped = true;
  view.next_seq = 1;
  // What it signed says nothing of its next process's state.
  for (RecentVerdicts& recent : recent_) recent.by_replica[static_cast<std::size_t>(r)].reset();
  // A transfer to it ends with its process (the next one is asked for
  // again once started): nothing more of its source's snapshot is gathered,
  // checked or held for it.
  transfers_[static_cast<std::size_t>(r)] = Transfer{};
  drop_unawaited_snapshot_parts();
  supervisor_.on_process_exited(r, now_us, &repair_out_);
  handle_repair_output(out);
}

void Core::on_process_started(int r, std::uint64_t now_us, Outbox* out) {
  supervisor_.on_process_started(r, now_us, &repair_out_);
  handle_repair_output(out);
}

void Core::inject(int r, const std::string& fault, Outbox* out) {
  log::warn("injecting fault " + fault + " into " + replica_label(r));
  send_control(r, &fault, false, out);
}

void Core::send_control(int r, const std::string* inject, bool snapshot_request, Outbox* out) {
  flatbuffers::FlatBufferBuilder fbb(256);
  const auto text =
      inject != nullptr ? fbb.CreateString(*inject) : flatbuffers::Offset<flatbuffers::String>();
  wire::ToReplicaBuilder b(fbb);
  b.add_inject(text);
  b.add_snapshot_request(snapshot_request);
  fbb.Finish(b.Finish());
  out->to_replicas.push_back({r, bytes_of(fbb)});
}

// The supervisor's decisions become process commands and snapshot requests.
void Core::handle_repair_output(Outbox* out) {
  for (const repair::Transition& t : repair_out_.transitions) {
    log::warn(replica_label(t.replica) + ": " + repair::to_string(t.from) + " -> " +
              repair::to_string(t.to) + " (" + t.reason + "); mode " +
              repair::to_string(supervisor_.mode()));
    out->repairs.push_back({t.replica, repair::to_string(t.from), repair::to_string(t.to), t.reason,
                            repair::to_string(supervisor_.mode())});
    if (t.to == repair::ReplicaState::kHealthy) {
      transfers_[static_cast<std::size_t>(t.replica)] = Transfer{};
      replicas_[static_cast<std::size_t>(t.replica)].rejoined_at_seq = opened_seq_ + 1;
    }
  }
  // Rejoin, or be sent the whole journal, once repair_out_ is no longer
  // being read (each tells the supervisor).
  std::vector<int> at_the_start;
  std::vector<int> replay_all;
  for (const repair::Action& a : repair_out_.actions) {
    Transfer& t = transfers_[static_cast<std::size_t>(a.replica)];
    switch (a.kind) {
      case repair::Action::Kind::kStopProcess:
        t = Transfer{};
        out->processes.push_back({Outbox::ProcessCommand::Kind::kStop, a.replica});
        break;
      case repair::Action::Kind::kStartProcess: {
        t = Transfer{};
        ReplicaView& view = replicas_[static_cast<std::size_t>(a.replica)];
        ++view.launch;
        view.reaped = false;
        out->processes.push_back({Outbox::ProcessCommand::Kind::kStart, a.replica, view.launch});
        break;
      }
      case repair::Action::Kind::kTransferSnapshot: {
        // A second transfer for the same attempt: its source left, or gave
        // no snapshot in time (Supervisor::Config::snapshot_wait_us).
        const int waited_for = t.active && !t.installed ? t.source : -1;
        if (waited_for >= 0 && supervisor_.state(waited_for) == repair::ReplicaState::kHealthy) {
          log::warn(replica_label(a.replica) + ": " + replica_label(waited_for) +
                    " passed over for this attempt (no snapshot in time, or one that did not "
                    "check)");
        }
        t = Transfer{};
        t.active = true;
        t.source = a.source;
        if (a.source >= 0) {
          log::info(replica_label(a.replica) + ": asking " + replica_label(a.source) +
                    " for its latest checkpoint snapshot");
          send_control(a.source, nullptr, true, out);
        } else {
          // No source: start from the card file, replay everything.
          t.installed = true;
          log::warn(replica_label(a.replica) + ": no healthy replica" +
                    (waited_for >= 0 ? " left" : "") + " to copy; replaying the whole journal");
          if (opened_seq_ == 0) {
            at_the_start.push_back(a.replica);
          } else if (waited_for >= 0 && replicas_[static_cast<std::size_t>(a.replica)].connected) {
            // It said hello already, and waits for the snapshot.
            replay_all.push_back(a.replica);
          }
        }
        break;
      }
    }
  }
  repair_out_.clear();
  if (at_the_start.empty() && replay_all.empty()) return;
  for (const int r : at_the_start) rejoin_with_the_start_state(r, supervisor_.latest_us());
  for (const int r : replay_all) send_repair_replay(r, 1, supervisor_.latest_us(), out);
  handle_repair_output(out);
}

bool Core::awaits_snapshot(int r, int source) const {
  const Transfer& t = transfers_[static_cast<std::size_t>(r)];
  return t.active && t.source == source && t.installed_seq == 0 && !t.installed && !t.held &&
         !t.checking;
}

void Core::on_snapshot_part(int source, const wire::Snapshot& part, std::uint64_t now_us,
                            Outbox* out) {
  // A late answer to an attempt given up on: what was gathered of it is
  // dropped after the message (drop_unawaited_snapshot_parts).
  if (!snapshot_awaited_from(source)) return;
  wire::SnapshotAssembly& assembly = snapshot_parts_[static_cast<std::size_t>(source)];
  // A run begun again from its start gathers nothing new: not progress.
  const bool begun_again = part.engine_state_offset() == 0 && assembly.under_way();
  wire::SnapshotAssembly::Progress progress{};
  if (Status s = assembly.add(part, &progress); !s.is_ok()) {
    // A state over the limit is no fault of the replica's: not counted as
    // malformed, and no snapshot is asked for to store for a while (each
    // ask would cost a part and a log line, in vain).
    const bool too_large = s.code() == Status::Code::kRejected;
    if (!too_large) ++counters_.malformed_replica_messages;
    malformed_log_[static_cast<std::size_t>(source)].warn(
        now_us, replica_label(source) + ": " + s.message() +
                    "; what waited for its snapshot does not wait any longer");
    for (int r = 0; r < kReplicaCount; ++r) {
      if (awaits_snapshot(r, source)) supervisor_.on_snapshot_unusable(r, now_us, &repair_out_);
    }
    if (source == store_source_) {
      store_source_ = -1;  // asked again when due
      if (too_large) store_paused_until_us_ = now_us + kStoreOverLimitPauseUs;
    }
    return;
  }
  if (progress == wire::SnapshotAssembly::Progress::kIgnored) return;
  // The store's wait runs from the last part, not the ask: a large state
  // takes a while.
  if (source == store_source_) store_asked_us_ = now_us;
  // Each part moves the wait for the next one on: a source that stops
  // halfway is passed over after snapshot_wait_us, as one that never
  // answered. (One that keeps sending parts too slowly to finish holds
  // the attempt until its timeout, and is asked last by the next one.)
  for (int r = 0; r < kReplicaCount && !begun_again; ++r) {
    if (awaits_snapshot(r, source)) supervisor_.on_snapshot_progress(r, now_us, &repair_out_);
  }
  if (progress == wire::SnapshotAssembly::Progress::kPartial) {
    return ack_snapshot_part(source, now_us, out);
  }
  on_snapshot(source, &assembly, now_us, out);
  assembly.clear();
}

bool Core::snapshot_awaited_from(int source) const {
  if (source == store_source_) return true;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (awaits_snapshot(r, source)) return true;
  }
  return false;
}

void Core::ack_snapshot_part(int source, std::uint64_t now_us, Outbox* out) {
  const wire::SnapshotAssembly& assembly = snapshot_parts_[static_cast<std::size_t>(source)];
  out->to_replicas.push_back(
      {source, wire::encode_snapshot_ack(wire::SnapshotCarrier::kFromReplica, assembly.seq(),
                                         assembly.gathered_bytes())});
  snapshot_acked_us_[static_cast<std::size_t>(source)] = now_us;
}

void Core::reack_stalled_snapshots(std::uint64_t now_us, Outbox* out) {
  for (int source = 0; source < kReplicaCount; ++source) {
    if (snapshot_parts_[static_cast<std::size_t>(source)].under_way() &&
        snapshot_awaited_from(source) &&
        now_us >= snapshot_acked_us_[static_cast<std::size_t>(source)] + wire::kSnapshotReackUs) {
      ack_snapshot_part(source, now_us, out);
    }
  }
}

void Core::drop_unawaited_snapshot_parts() {
  for (int source = 0; source < kReplicaCount; ++source) {
    wire::SnapshotAssembly& assembly = snapshot_parts_[static_cast<std::size_t>(source)];
    if (assembly.under_way() && !snapshot_awaited_from(source)) assembly.clear();
  }
}

void Core::on_snapshot(int source, wire::SnapshotAssembly* assembly, std::uint64_t now_us,
                       Outbox* out) {
  const wire::SnapshotView snap = assembly->view();
  int repairs = 0;
  for (int r = 0; r < kReplicaCount; ++r) repairs += awaits_snapshot(r, source) ? 1 : 0;
  // One repair alone takes the state as it lies (a copy of tens of MB would
  // hold the event loop); the view still points into it.
  const bool take = repairs == 1 && source != store_source_;
  std::vector<std::uint8_t> state;
  if (take) state = assembly->release_state();
  for (int r = 0; r < kReplicaCount; ++r) {
    if (!awaits_snapshot(r, source)) continue;
    supervisor_.on_snapshot_received(r, now_us, &repair_out_);
    consider_snapshot(r, snap, take ? &state : nullptr, now_us, out);
  }
  if (source == store_source_) store_snapshot(source, snap, out);
  crypto::wipe_and_free(&state);  // when not taken
}

void Core::consider_snapshot(int r, const wire::SnapshotView& snap,
                             std::vector<std::uint8_t>* state_to_take, std::uint64_t now_us,
                             Outbox* out) {
  const auto take_state = [&] {
    if (state_to_take != nullptr) return std::exchange(*state_to_take, {});
    return std::vector<std::uint8_t>(snap.engine_state.begin(), snap.engine_state.end());
  };
  Transfer& t = transfers_[static_cast<std::size_t>(r)];
  // Check the snapshot against what the majority agreed at its seq.
  const std::uint64_t seq = snap.seq;
  // A replica snapshots its last checkpoint, which is a seq it was sent.
  // One of a seq never sequenced, or of one the majority agreed on without
  // a checkpoint, is a faulty source's: passed over, rather than taken for
  // a checkpoint nobody agreed on (a replay of the whole journal).
  const auto& agreed_at_seq = agreed_[seq % agreed_.size()];
  if (seq > last_seq()) {
    return refuse_snapshot(r,
                           "it is of seq " + std::to_string(seq) + ", beyond the last sequenced (" +
                               std::to_string(last_seq()) + ")",
                           now_us);
  }
  if (seq != 0 && agreed_at_seq && agreed_at_seq->seq == seq &&
      agreed_at_seq->checkpoint_digest == Digest{}) {
    return refuse_snapshot(
        r, "it is of seq " + std::to_string(seq) + ", where the majority made no checkpoint",
        now_us);
  }
  const voter::VerdictContent* agreed = nullptr;
  for (const auto& c : checkpoints_) {
    if (c.seq == seq) agreed = &c;
  }
  if (agreed == nullptr && seq != 0 && seq <= opened_seq_ && !answers_[seq - 1].decided()) {
    // The source is ahead of the vote at its checkpoint seq (a repair asked
    // right after it applied it). Wait for that vote: its deadline bounds
    // the wait, and a replay of the whole journal instead would be long.
    log::info(replica_label(r) + ": holding the snapshot from " + replica_label(t.source) +
              " until the vote at its seq " + std::to_string(seq) + " ends");
    const auto copy = [](std::span<const std::uint8_t> b) {
      return std::vector<std::uint8_t>(b.begin(), b.end());
    };
    // Braces, not make_unique: clang before 16 has no aggregate
    // initialization from parentheses (the fuzz build).
    t.held = std::unique_ptr<Transfer::Held>(new Transfer::Held{
        seq, copy(snap.state_digest), copy(snap.checkpoint_digest), take_state()});
    return;
  }
  if (seq == 0 || agreed == nullptr) {
    // The start state, or a snapshot nothing agreed on can vouch for (no
    // majority at that checkpoint, e.g. two replicas out): the fresh
    // process already holds the start state and replays the whole journal.
    if (seq != 0) {
      log::warn(replica_label(r) + ": no agreed checkpoint at seq " + std::to_string(seq) +
                " to check the snapshot against; replaying the whole journal instead");
    }
    t.installed_seq = 0;
    t.installed = true;
    supervisor_.on_snapshot_installed(r, 0, now_us, &repair_out_);
    if (opened_seq_ == 0) return rejoin_with_the_start_state(r, now_us);
    if (replicas_[static_cast<std::size_t>(r)].connected) send_repair_replay(r, 1, now_us, out);
    return;
  }
  if (const std::string problem = digests_problem(snap, *agreed); !problem.empty()) {
    return refuse_snapshot(r, problem, now_us);
  }
  auto checking = std::make_unique<Transfer::Checking>();
  checking->seq = seq;
  checking->state_digest = agreed->state_digest;
  checking->checkpoint_digest = agreed->checkpoint_digest;
  checking->engine_state = take_state();
  const std::vector<std::uint8_t>& state = checking->engine_state;
  if (const Status laid_out = checking->steps.start(
          std::string_view(reinterpret_cast<const char*>(state.data()), state.size()));
      !laid_out.is_ok()) {
    return refuse_snapshot(r, laid_out.message(), now_us);
  }
  t.checking = std::move(checking);
  continue_snapshot_check(r, now_us, out);  // a small state is checked at once
}

void Core::continue_snapshot_check(int r, std::uint64_t now_us, Outbox* out) {
  Transfer& t = transfers_[static_cast<std::size_t>(r)];
  if (!t.checking->steps.step(config_.snapshot_check_step_bytes)) return;  // more at the next turn
  const std::unique_ptr<Transfer::Checking> checked = std::move(t.checking);
  if (checked->steps.digest() != checked->checkpoint_digest) {
    return refuse_snapshot(r,
                           "state does not give the majority's checkpoint digest at seq " +
                               std::to_string(checked->seq),
                           now_us);
  }
  const std::size_t state_bytes = checked->engine_state.size();
  t.installed_seq = checked->seq;
  supervisor_.on_snapshot_installed(r, state_bytes, now_us, &repair_out_);
  t.install = wire::PartSender<std::vector<std::uint8_t>>(
      wire::SnapshotCarrier::kInstall, checked->seq, checked->state_digest,
      checked->checkpoint_digest, std::move(checked->engine_state), config_.snapshot_part_bytes);
  // Else when the new process says hello.
  if (replicas_[static_cast<std::size_t>(r)].connected) send_install_parts(r, out);
  log::info(replica_label(r) + ": snapshot of seq " + std::to_string(t.installed_seq) + " (" +
            std::to_string(state_bytes) + " bytes) from " + replica_label(t.source) +
            " matches the majority's checkpoint");
}

void Core::refuse_snapshot(int r, const std::string& problem, std::uint64_t now_us) {
  log::error(replica_label(r) + ": snapshot from " +
             replica_label(transfers_[static_cast<std::size_t>(r)].source) +
             " refused: " + problem + "; that source is passed over for this attempt");
  supervisor_.on_snapshot_unusable(r, now_us, &repair_out_);
}

void Core::continue_snapshot_checks(std::uint64_t now_us, Outbox* out) {
  for (int r = 0; r < kReplicaCount; ++r) {
    if (transfers_[static_cast<std::size_t>(r)].checking) continue_snapshot_check(r, now_us, out);
  }
}

std::string Core::digests_problem(const wire::SnapshotView& snap,
                                  const voter::VerdictContent& agreed) {
  const auto& state = snap.state_digest;
  const auto& checkpoint = snap.checkpoint_digest;
  if (state.size() != 32 || !std::equal(state.begin(), state.end(), agreed.state_digest.begin())) {
    return "state digest differs from the majority's at seq " + std::to_string(snap.seq);
  }
  if (checkpoint.size() != 32 ||
      !std::equal(checkpoint.begin(), checkpoint.end(), agreed.checkpoint_digest.begin())) {
    return "state does not give the majority's checkpoint digest at seq " +
           std::to_string(snap.seq);
  }
  return {};
}

std::string Core::snapshot_problem(const wire::SnapshotView& snap,
                                   const voter::VerdictContent& agreed) {
  if (std::string problem = digests_problem(snap, agreed); !problem.empty()) return problem;
  const auto& engine = snap.engine_state;
  if (const Status checked = replica::check_checkpoint_digest(
          std::string_view(reinterpret_cast<const char*>(engine.data()), engine.size()),
          agreed.checkpoint_digest);
      !checked.is_ok()) {
    return checked.message();
  }
  return {};
}

std::vector<std::vector<std::uint8_t>> Core::install_messages(
    const wire::SnapshotView& snap) const {
  return wire::encode_snapshot(wire::SnapshotCarrier::kInstall, snap, config_.snapshot_part_bytes);
}

std::size_t Core::snapshot_bytes_gathered() const {
  std::size_t bytes = 0;
  for (const auto& a : snapshot_parts_) bytes += a.gathered_bytes();
  return bytes;
}

std::size_t Core::start_state_bytes_held() const {
  std::size_t bytes = 0;
  for (const auto& m : start_install_) bytes += m.size();
  return bytes;
}

Status Core::check_stored(const journal::StoredSnapshot& stored, std::uint64_t journalled,
                          std::vector<std::vector<std::uint8_t>>* install,
                          voter::VerdictContent* content) {
  if (stored.seq == 0 || stored.seq > journalled) {
    // The shell refuses to start so (the journal lost synced records);
    // kept for any other caller.
    return Status::corruption("its seq is beyond the journal's last, " +
                              std::to_string(journalled));
  }
  std::vector<journal::Entry> at;
  TRIAD_RETURN_IF_ERROR(config_.archive->read_entries(stored.seq, stored.seq, &at));
  TRIAD_ASSERT(at.size() == 1);
  std::uint8_t signed_by = 0;
  TRIAD_RETURN_IF_ERROR(check_certificate_of(stored.certificate, stored.seq, at[0].ts_ms,
                                             digest_of(at[0].tx), content, &signed_by));
  if (stored.engine_state.size() > wire::max_snapshot_state_bytes()) {
    return Status::corruption("its state of " + std::to_string(stored.engine_state.size()) +
                              " bytes is over the limit of " +
                              std::to_string(wire::max_snapshot_state_bytes()));
  }
  const wire::SnapshotView view{stored.seq, stored.state_digest, stored.checkpoint_digest,
                                stored.engine_state};
  if (const std::string problem = snapshot_problem(view, *content); !problem.empty()) {
    return Status::corruption(problem);
  }
  *install = install_messages(view);
  return Status::ok();
}

journal::StoredSnapshot Core::stored_of(const wire::SnapshotView& snap) {
  journal::StoredSnapshot stored;
  stored.seq = snap.seq;
  // A digest of another length (a faulty source's) is cut or padded: it
  // then differs from the majority's, which store_snapshot checks.
  std::ranges::copy(snap.state_digest.first(std::min(snap.state_digest.size(), Digest().size())),
                    stored.state_digest.begin());
  std::ranges::copy(
      snap.checkpoint_digest.first(std::min(snap.checkpoint_digest.size(), Digest().size())),
      stored.checkpoint_digest.begin());
  stored.engine_state.assign(snap.engine_state.begin(), snap.engine_state.end());
  return stored;
}

void Core::store_snapshot(int source, const wire::SnapshotView& snap, Outbox* out) {
  store_source_ = -1;
  if (snap.seq > decided_through_ && snap.seq <= opened_seq_ && snap.seq > handed_over_seq_) {
    // Its source is ahead of the votes up to it (it applied the checkpoint
    // seq before the voter decided everything before it): kept until they
    // are decided, rather than thrown away and asked for again.
    held_store_ = stored_of(snap);
    held_store_source_ = source;
    log::info("holding the snapshot of seq " + std::to_string(snap.seq) + " from " +
              replica_label(source) + " until every seq up to it is decided");
    return;
  }
  const voter::VerdictContent* agreed = nullptr;
  for (const auto& c : checkpoints_) {
    if (c.seq == snap.seq) agreed = &c;
  }
  std::string problem;
  std::vector<std::uint8_t> certificate;
  if (snap.seq <= handed_over_seq_) {
    problem = "the one handed over to be stored is of seq " + std::to_string(handed_over_seq_);
  } else if (snap.seq > decided_through_) {
    problem = "not every seq up to it is decided yet";
  } else if (!answers_[snap.seq - 1].certified) {
    problem = "its seq was declined fail-safe, with no certificate";
  } else if (agreed == nullptr) {
    problem = "no agreed checkpoint at its seq is kept";
  } else if (!std::ranges::equal(snap.state_digest, agreed->state_digest) ||
             !std::ranges::equal(snap.checkpoint_digest, agreed->checkpoint_digest)) {
    problem = "its digests are not the majority's";
  } else if (Status s = config_.archive->certificate(snap.seq, &certificate); !s.is_ok()) {
    problem = "its certificate cannot be read back: " + s.message();
  }
  if (!problem.empty()) {
    log::warn("not storing the snapshot of seq " + std::to_string(snap.seq) + " from " +
              replica_label(source) + ": " + problem);
    return;
  }
  if (out->snapshot_to_store) journal::wipe_state(&*out->snapshot_to_store);  // a newer one
  journal::StoredSnapshot& stored = out->snapshot_to_store.emplace(stored_of(snap));
  stored.certificate = std::move(certificate);
  handed_over_seq_ = snap.seq;
  store_asked_us_ = 0;  // the next one is asked for when due, not kStoreRetryUs later
  ++counters_.snapshots_handed_over;
  log::info("storing the snapshot of seq " + std::to_string(snap.seq) + " (" +
            std::to_string(snap.engine_state.size()) + " bytes) from " + replica_label(source));
}

void Core::ask_for_snapshot_to_store(std::uint64_t now_us, Outbox* out) {
  while (decided_through_ < answers_.size() && answers_[decided_through_].decided()) {
    ++decided_through_;
  }
  // Simplex (a benchmark) has no majority to check a snapshot against.
  if (held_store_ && decided_through_ >= held_store_->seq) {
    journal::StoredSnapshot held = *std::move(held_store_);
    held_store_.reset();
    store_snapshot(held_store_source_,
                   {held.seq, held.state_digest, held.checkpoint_digest, held.engine_state}, out);
    journal::wipe_state(&held);
  }
  if (config_.store_snapshot_every == 0 || config_.simplex || recovering() || held_store_ ||
      now_us < store_paused_until_us_ ||
      decided_through_ < handed_over_seq_ + config_.store_snapshot_every) {
    return;
  }
  if (store_asked_us_ != 0 &&
      now_us < store_asked_us_ + (store_source_ >= 0 ? kStoreSnapshotWaitUs : kStoreRetryUs)) {
    return;
  }
  // The replicas in turn, so that one whose snapshots never fit stops none.
  const std::uint8_t voting = voting_mask();
  for (int i = 1; i <= kReplicaCount; ++i) {
    const int r = (store_last_asked_ + i) % kReplicaCount;
    const bool a_source = std::any_of(transfers_.begin(), transfers_.end(),
                                      [&](const Transfer& t) { return t.active && t.source == r; });
    if ((voting & (1u << r)) == 0 || !replicas_[static_cast<std::size_t>(r)].connected ||
        supervisor_.state(r) != repair::ReplicaState::kHealthy || a_source) {
      continue;
    }
    store_source_ = store_last_asked_ = r;
    store_asked_us_ = now_us;
    send_control(r, nullptr, true, out);
    return;
  }
}

void Core::on_install_refused(int r, const wire::InstallRefused& refused, std::uint64_t now_us) {
  const std::string_view reason = wire::as_view(refused.reason());
  const Transfer& t = transfers_[static_cast<std::size_t>(r)];
  ReplicaView& view = replicas_[static_cast<std::size_t>(r)];
  Status s = wire::check_short_text("reason", reason);
  if (s.is_ok() && !t.active && view.start_snapshot == ReplicaView::StartSnapshot::kSent &&
      refused.seq() == start_seq_) {
    // Its build cannot read what the others wrote (another rules version?):
    // it asks for the whole journal like any replica that is behind, and is
    // repaired like any if that leaves it behind or different.
    log::error(replica_label(r) + ": it refused the stored snapshot of seq " +
               std::to_string(start_seq_) + ": " + std::string(reason) +
               "; it is sent the whole journal");
    view.start_snapshot = ReplicaView::StartSnapshot::kRefused;
    return;
  }
  if (s.is_ok() && !(t.active && !t.installed && t.installed_seq == refused.seq() &&
                     t.installed_seq > 0 && t.install.window().sent() > 0)) {
    s = Status::corruption("refused a snapshot of seq " + std::to_string(refused.seq()) +
                           " it was not sent");
  }
  if (!s.is_ok()) {
    ++counters_.malformed_replica_messages;
    malformed_log_[static_cast<std::size_t>(r)].warn(now_us, replica_label(r) + ": " + s.message());
    return;
  }
  const std::string problem = "it refused the snapshot of seq " + std::to_string(refused.seq()) +
                              ": " + std::string(reason);
  log::error(replica_label(r) + ": " + problem);
  supervisor_.on_repair_failed(r, now_us, problem, &repair_out_);
}

void Core::on_install_ack(int r, const wire::SnapshotAck& ack, Outbox* out) {
  // An acknowledgement of a run given up (the repair failed, the process
  // restarted) moves nothing.
  Transfer& t = transfers_[static_cast<std::size_t>(r)];
  if (t.active && !t.installed && t.install.on_ack(ack.seq(), ack.gathered())) {
    return send_install_parts(r, out);
  }
  ReplicaView& view = replicas_[static_cast<std::size_t>(r)];
  if (view.start_snapshot == ReplicaView::StartSnapshot::kSent &&
      view.start_window.on_ack(ack.seq(), ack.gathered())) {
    send_start_parts(r, out);
  }
}

void Core::send_install_parts(int r, Outbox* out) {
  transfers_[static_cast<std::size_t>(r)].install.send_due([r, out](std::vector<std::uint8_t> m) {
    out->to_replicas.push_back({r, std::move(m)});
  });
}

void Core::send_start_parts(int r, Outbox* out) {
  // start_install_ is released once every replica holds its state
  // (release_start_snapshot), so no later part is due then.
  replicas_[static_cast<std::size_t>(r)].start_window.for_each_due([&](std::size_t i) {
    if (i < start_install_.size()) out->to_replicas.push_back({r, start_install_[i]});
  });
}

void Core::release_held_snapshots(std::uint64_t now_us, Outbox* out) {
  for (int r = 0; r < kReplicaCount; ++r) {
    Transfer& t = transfers_[static_cast<std::size_t>(r)];
    if (!t.held || !answers_[t.held->seq - 1].decided()) continue;
    const std::unique_ptr<Transfer::Held> held = std::move(t.held);
    consider_snapshot(r,
                      {held->seq, held->state_digest, held->checkpoint_digest, held->engine_state},
                      &held->engine_state, now_us, out);
  }  // wiped when not taken
}

bool Core::near_live_edge(std::uint64_t seq) const {
  // opened_seq_, not the sequencer's last seq: during a replay after a
  // restart only what has been opened is sent. Nothing beyond it was sent,
  // so a verdict for it is no replica's but a faulty one's, which would
  // only push other replicas' verdicts out of the ring.
  const std::uint64_t live_edge_margin = std::max<std::uint64_t>(64, voter_.open_count());
  return seq <= opened_seq_ && seq + live_edge_margin >= opened_seq_;
}

bool Core::worth_checking(int r, const wire::VerdictBatch& batch) const {
  if (batch.verdicts() == nullptr) return true;  // malformed: read_verdict_batch says so
  const auto& verdicts = *batch.verdicts();
  if (transfers_[static_cast<std::size_t>(r)].active) {
    // Its replay, in order, past what it was checked through; a seq never
    // sent is no replay (a faulty replica can send those at will).
    const std::uint64_t checked = replicas_[static_cast<std::size_t>(r)].checked_through;
    return std::any_of(verdicts.begin(), verdicts.end(), [&](const wire::Verdict* v) {
      return v->seq() > checked && v->seq() <= opened_seq_;
    });
  }
  const bool any_in_repair =
      std::any_of(transfers_.begin(), transfers_.end(), [](const Transfer& t) { return t.active; });
  const auto in_ring = [&](std::uint64_t seq) {
    const RecentVerdicts& recent = recent_[seq % recent_.size()];
    return recent.seq == seq && recent.by_replica[static_cast<std::size_t>(r)].has_value();
  };
  return std::any_of(verdicts.begin(), verdicts.end(), [&](const wire::Verdict* v) {
    return voter_.wants(v->seq(), r) ||
           (any_in_repair && near_live_edge(v->seq()) && !in_ring(v->seq()));
  });
}

bool Core::matches_another(int r, const voter::VerdictContent& content) const {
  const RecentVerdicts& recent = recent_[content.seq % recent_.size()];
  if (recent.seq != content.seq) return false;
  for (int other = 0; other < kReplicaCount; ++other) {
    if (other != r && recent.by_replica[static_cast<std::size_t>(other)] == content) return true;
  }
  return false;
}

// A replica in repair is not voting; it rejoins once a verdict of its near
// the live edge equals what the majority agreed, or, where none did,
// another replica's validly signed one; signature included.
void Core::check_repairing_verdict(int r, const voter::ReplicaVerdict& verdict,
                                   std::uint64_t now_us) {
  if (!transfers_[static_cast<std::size_t>(r)].installed) return;
  const std::uint64_t seq = verdict.content.seq;
  if (!near_live_edge(seq)) return;
  const auto& agreed = agreed_[seq % agreed_.size()];
  const bool has_agreed = agreed && agreed->seq == seq;
  // Without a majority at this seq (duplex with a faulty partner, or two or
  // three replicas out), a validly signed verdict of another replica equal
  // to ours also shows our state is right: together they form a majority.
  const bool matches_other = matches_another(r, verdict.content);
  if (!has_agreed && !matches_other) return;  // nothing to compare with yet
  const bool signed_ok = verdict.signature_valid;
  if (signed_ok && ((has_agreed && verdict.content == *agreed) || (!has_agreed && matches_other))) {
    rejoin(r,
           "caught up at seq " + std::to_string(seq) + " with " +
               (has_agreed ? "the majority's" : "another replica's") + " state digest",
           now_us);
  } else if (has_agreed || !signed_ok) {
    supervisor_.on_repair_failed(r, now_us,
                                 signed_ok ? "verdict after repair differs from the majority's"
                                           : "verdict after repair is badly signed",
                                 &repair_out_);
  }
}

// Nothing has been sent to any replica yet (a restart's replay waits for
// two voting replicas): the card file's state is the live edge, and there
// is no verdict to compare with, so waiting for one would never end.
void Core::rejoin_with_the_start_state(int r, std::uint64_t now_us) {
  rejoin(r, "holds the start state and no seq has been sent yet: at the live edge", now_us);
}

void Core::rejoin(int r, const std::string& why, std::uint64_t now_us) {
  log::info(replica_label(r) + " " + why);
  transfers_[static_cast<std::size_t>(r)] = Transfer{};
  supervisor_.on_caught_up(r, now_us, &repair_out_);
}

// A replica in repair whose verdict for this seq came first, with nothing
// to compare it with then, rejoins when another replica's equal one comes.
void Core::rejoin_those_it_matches(int from, const voter::VerdictContent& content,
                                   std::uint64_t now_us) {
  // Every verdict passes here: nothing more to look at while no replica is
  // in repair with its state installed, which is nearly always.
  if (std::none_of(transfers_.begin(), transfers_.end(),
                   [](const Transfer& t) { return t.active && t.installed; })) {
    return;
  }
  const RecentVerdicts& recent = recent_[content.seq % recent_.size()];
  if (recent.seq != content.seq || !near_live_edge(content.seq)) return;
  const auto& agreed = agreed_[content.seq % agreed_.size()];
  if (agreed && agreed->seq == content.seq) return;  // judged against the majority's
  for (int r = 0; r < kReplicaCount; ++r) {
    const Transfer& t = transfers_[static_cast<std::size_t>(r)];
    if (r == from || !t.active || !t.installed ||
        recent.by_replica[static_cast<std::size_t>(r)] != content) {
      continue;
    }
    rejoin(r,
           "caught up at seq " + std::to_string(content.seq) + " with " + replica_label(from) +
               "'s state digest",
           now_us);
  }
}

// A missing verdict shows a fault of the replica's own when a majority
// answered in time without it, or when another voting replica answered
// this very seq in time (the voter's answered_mask) while this one has sent
// no verdict for a deadline: it hung, the other did not. Otherwise all of
// them were late, and whatever made them late (a machine too busy, a
// stalled front end) is not mended by restarting them: restarting all of
// them at once leaves none to copy, and each then replays the whole
// journal (a CI run's overload test lost its cluster that way). Two
// weaker signs of a peer's health were tried and mislead:
// - a peer's verdict within the last deadline: a client keeping a window
//   in flight sends the next window as the last one's deciding verdicts
//   arrive, so at that window's deadline the slowest replica's verdicts
//   are a few ms younger than a deadline and the others' a few ms older
//   (a CI run restarted the two fastest so);
// - a peer's verdict for the seq at all: after a stall of the front end
//   the first replica's message read carries verdicts that came in time
//   but are read after the deadline, and would single out the other two.
// Only when no voting replica has sent a verdict for kAllSilentDeadlines
// deadlines since such a seq is it held against them all the same: three
// hung at once is beyond the one fault Triad masks, but a restart may end
// it.
bool Core::missing_is_own_fault(const voter::Divergence& d, std::uint64_t now_us) {
  if (d.majority) return true;
  if (replica(d.replica).answered_within(config_.deadline_us, now_us)) return false;
  if ((d.answered_mask & voting_mask()) != 0) return true;
  if (all_silent_since_us_ == 0) all_silent_since_us_ = now_us;
  return now_us >= all_silent_since_us_ + kAllSilentDeadlines * config_.deadline_us;
}

Status Core::check_certificate_of(std::span<const std::uint8_t> certificate, std::uint64_t seq,
                                  std::int64_t ts_ms, const Digest& tx_digest,
                                  voter::VerdictContent* content, std::uint8_t* signed_by) const {
  TRIAD_RETURN_IF_ERROR(wire::check_certificate(certificate, keys_, content, signed_by));
  if (content->rules_version != rules::kRulesVersion) {
    return Status::corruption("it is of rules version " + std::to_string(content->rules_version) +
                              ", this build's is " + std::to_string(rules::kRulesVersion));
  }
  if (content->seq != seq || content->ts_ms != ts_ms) {
    return Status::corruption("it is for seq " + std::to_string(content->seq) + " at ts " +
                              std::to_string(content->ts_ms) + ", this is seq " +
                              std::to_string(seq) + " at ts " + std::to_string(ts_ms));
  }
  if (content->tx_digest != tx_digest) {
    return Status::corruption("it is for transaction digest " + to_hex(content->tx_digest) +
                              ", the journal's is " + to_hex(tx_digest));
  }
  return Status::ok();
}

bool Core::earlier_answer(std::uint64_t seq, const JournalEntry& e, std::string* code,
                          std::uint8_t* agree, std::vector<std::uint8_t>* certificate) {
  std::vector<std::uint8_t> earlier;
  if (const Status found = config_.archive->earlier_certificate(seq, &earlier); !found.is_ok()) {
    if (found.code() != Status::Code::kNotFound) {
      log::warn("seq " + std::to_string(seq) +
                ": the replay could not decide it again, and its answer before the restart "
                "cannot be read: " +
                found.message());
    }
    return false;
  }
  voter::VerdictContent content;
  std::uint8_t signed_by = 0;
  if (const Status s =
          check_certificate_of(earlier, seq, e.ts_ms, e.tx_digest, &content, &signed_by);
      !s.is_ok()) {
    log::warn("seq " + std::to_string(seq) +
              ": the replay could not decide it again, and the certificate of its answer "
              "before the restart does not hold (" +
              s.message() + ")");
    return false;
  }
  *code = to_string(content.code);
  *agree = signed_by;
  *certificate = std::move(earlier);
  ++counters_.earlier_answers;
  log::warn("seq " + std::to_string(seq) +
            ": the replay could not decide it again; answered with its certified answer from "
            "before the restart, code " +
            *code);
  return true;
}

void Core::handle_voter_output(std::uint64_t now_us, Outbox* out) {
  if (!voter_out_.decisions.empty()) {
    roll_rate_window(now_us);
    decided_per_bucket_[rate_bucket_ % kRateBuckets] += voter_out_.decisions.size();
  }
  for (const voter::Decision& d : voter_out_.decisions) {
    ++counters_.decisions;
    const JournalEntry& e = entry(d.seq);
    std::string code = to_string(d.code);
    std::uint8_t agree = d.agree_mask;
    std::vector<std::uint8_t> certificate;
    bool fail_safe = d.kind != voter::DecisionKind::kAgreed;
    if (!fail_safe) {
      const voter::VerdictContent& content = d.signers.front().content;
      // What the replicas agree on is their state, whatever its digest.
      agreed_[d.seq % agreed_.size()] = content;
      if (content.checkpoint_digest != Digest{}) {
        if (checkpoints_.size() == kCheckpointsKept) checkpoints_.erase(checkpoints_.begin());
        checkpoints_.push_back(content);
      }
      if (content.tx_digest == e.tx_digest && content.ts_ms == e.ts_ms &&
          content.rules_version == rules::kRulesVersion) {
        certificate = wire::build_certificate(content, d.signers);
      } else {
        // Their decision is on another transaction than the one sequenced
        // (they hash PANs under another card reference key, or the entry
        // changed on its way), at another time or under other rules: its
        // certificate would prove nothing about this one (the client checks
        // the seq, ts and code it is given against it), so the answer is the
        // voter's own.
        fail_safe = true;
        ++counters_.digest_mismatches;
        code = to_string(ResponseCode::kSystemMalfunction);
        agree = 0;
        digest_mismatch_log_.write(
            log::Level::kError, now_us,
            "seq " + std::to_string(d.seq) + ": replicas " + replica_names(d.agree_mask) +
                " agreed on transaction digest " + to_hex(content.tx_digest) + ", ts " +
                std::to_string(content.ts_ms) + ", rules version " +
                std::to_string(content.rules_version) + "; the front end's are " +
                to_hex(e.tx_digest) + ", " + std::to_string(e.ts_ms) + ", " +
                std::to_string(rules::kRulesVersion) +
                " (another keys/card-ref.key?); declined fail-safe " + code);
      }
    }
    // Two faults at once (a restart, then replicas that disagree in its
    // replay): the first answer was certified, and a repeated id is owed
    // that one (rules.md section 7), not a fail-safe decline.
    if (fail_safe && d.seq <= recovered_seq_ && !recovered_fail_safe_.contains(d.seq) &&
        earlier_answer(d.seq, e, &code, &agree, &certificate)) {
      fail_safe = false;
    }
    if (fail_safe) {
      ++counters_.fail_safe;
      if (d.kind != voter::DecisionKind::kAgreed) {
        log::warn("seq " + std::to_string(d.seq) + ": fail-safe decline " + code +
                  (d.kind == voter::DecisionKind::kNoAgreement
                       ? " (no two replicas agreed)"
                       : " (fewer than two replicas answered)"));
      }
    }
    if (const auto it = recovered_fail_safe_.find(d.seq); it != recovered_fail_safe_.end()) {
      // Declined fail-safe before the restart: the client was told that, and
      // a repeated id is told it again (rules.md section 7). The replay's
      // verdicts still count for the replicas' state and repair.
      log::info("seq " + std::to_string(d.seq) +
                ": answered with its journalled fail-safe decline " + it->second +
                " (the replay decided " + code + ")");
      code = it->second;
      agree = 0;
      certificate.clear();
      recovered_fail_safe_.erase(it);
    } else if (fail_safe) {
      out->fail_safe_answers.push_back({d.seq, e.tx_digest, code});
    }
    TRIAD_ASSERT(code.size() == 2);
    const bool certified = !certificate.empty();
    answers_[d.seq - 1] = Answer{{code[0], code[1]}, agree, d.divergent_mask, certified};
    if (certified) {
      config_.archive->put_certificate(
          d.seq, KeptAnswer{{code[0], code[1]}, agree, d.divergent_mask}, certificate);
    }
    const auto answer = [&](const Waiter& w) {
      reply_decision(ReplyTo{w.client, w.tag, w.batchable}, d.seq, *e.tx.id, e.ts_ms, e.card_ref,
                     certificate, w.replayed, out);
    };
    if (e.sequenced_by) answer(*e.sequenced_by);
    if (const auto it = waiters_.find(d.seq); it != waiters_.end()) {
      for (const Waiter& w : it->second) answer(w);
      waiting_repeats_ -= it->second.size();
      waiters_.erase(it);
    }
    out->decisions.push_back({d.seq, *e.tx.id, e.ts_ms, std::move(code), replica_names(agree),
                              replica_names(d.divergent_mask), !certified, now_us - e.sequenced_us,
                              std::move(certificate), e.card_ref});
  }
  if (!voter_out_.decisions.empty()) release_held_snapshots(now_us, out);
  for (const voter::Match& m : voter_out_.matches) {
    supervisor_.on_verdict_ok(m.replica, now_us, &repair_out_);
  }
  // A replica may have rejoined while this output was gathered (its new
  // process's verdict caught up in the same message that closed expired
  // seqs): its rejoined_at_seq must be set before its divergences are judged.
  handle_repair_output(out);
  for (const voter::Divergence& d : voter_out_.divergences) {
    const ReplicaView& view = replicas_[static_cast<std::size_t>(d.replica)];
    const bool unattributed =
        d.kind == voter::DivergenceKind::kMissing && !missing_is_own_fault(d, now_us);
    // A seq opened before the replica last rejoined was voted on by its
    // previous process: that one's faults are not the new one's.
    if (d.seq >= view.rejoined_at_seq) {
      if (unattributed) {
        supervisor_.on_unattributed_missing(d.replica);
      } else {
        supervisor_.on_fault(d.replica, repair_fault(d.kind), now_us, &repair_out_);
      }
    }
    std::string evidence;
    const auto note = [&evidence](const std::string& part) {
      evidence += (evidence.empty() ? "" : ", ") + part;
    };
    if (d.observed) note("observed code " + to_string(d.observed->code));
    if (d.majority) note("majority code " + to_string(d.majority->code));
    if (unattributed)
      note("no majority, and nothing shows the fault is its own: not held against it");
    log::warn("divergence: " + replica_label(d.replica) + " seq " + std::to_string(d.seq) + " " +
              voter::to_string(d.kind) + (evidence.empty() ? "" : " " + evidence));
    out->divergences.push_back({d.seq, d.replica, voter::to_string(d.kind), evidence});
  }
  voter_out_.clear();
  handle_repair_output(out);
  ask_for_snapshot_to_store(now_us, out);
}

std::string Core::status_json(std::uint64_t now_us) const {
  using Json = nlohmann::ordered_json;
  Json j;
  j["mode"] = config_.simplex ? "simplex" : repair::to_string(supervisor_.mode());
  j["last_seq"] = sequencer_.last_seq();
  j["decisions"] = counters_.decisions;
  j["fail_safe"] = counters_.fail_safe;
  j["replayed"] = counters_.replayed;
  j["client_errors"] = counters_.client_errors;
  j["overloaded"] = counters_.overloaded;
  j["undecided"] = voter_.undecided_count();
  // Admissions per second while the intake throttle holds (IntakeThrottle),
  // null when it does not.
  if (const double cap = intake_cap_per_second(now_us); cap > 0) {
    j["intake_cap_per_second"] = std::llround(cap);
  } else {
    j["intake_cap_per_second"] = nullptr;
  }
  j["in_flight"] = voter_.open_count();
  j["entries_read_back"] = counters_.entries_read_back;
  j["hellos_crossing_a_resend"] = counters_.hellos_crossing_a_resend;
  j["fetches_crossing_a_resend"] = counters_.fetches_crossing_a_resend;
  j["range_requests_too_soon"] = counters_.range_requests_too_soon;
  j["unchecked_batches"] = counters_.unchecked_batches;
  j["reaped_process_messages"] = counters_.reaped_process_messages;
  j["digest_mismatches"] = counters_.digest_mismatches;
  j["earlier_answers"] = counters_.earlier_answers;
  // The seq of the newest snapshot handed over to be stored (the front end
  // adds what was written), and of the one this run started from (0: none).
  j["snapshots"] = {{"handed_over_seq", handed_over_seq_},
                    {"started_from_seq", start_seq_},
                    {"start_state_bytes_held", start_state_bytes_held()},
                    {"handed_over", counters_.snapshots_handed_over}};
  j["recovery"] = {{"journalled", recovered_seq_},
                   {"replay_sent", replay_sent_seq()},
                   {"recovering", recovering()}};
  j["replicas"] = Json::array();
  for (int r = 0; r < kReplicaCount; ++r) {
    const ReplicaView& v = replicas_[static_cast<std::size_t>(r)];
    const repair::Supervisor::Stats st = supervisor_.stats(r, now_us);
    Json faults = Json::object();
    for (std::size_t k = 0; k < repair::kFaultKinds; ++k) {
      faults[repair::to_string(static_cast<repair::Fault>(k))] = st.faults_by_kind[k];
    }
    Json rj;
    rj["name"] = std::string(1, replica_name(r));
    rj["state"] = repair::to_string(st.state);
    rj["connected"] = v.connected;
    rj["fingerprint"] = v.fingerprint;
    // Its last verdict, where its hello said it stands (a replica that
    // rejoined from a snapshot at the live edge has given no verdict yet),
    // or what its verdict messages said it applied (ahead when it holds
    // verdicts back).
    rj["last_seq_applied"] = v.applied_through();
    // The first seq it voted on since it last rejoined after a repair (0: it
    // never left): a verdict of an earlier seq came from the process that was
    // repaired, or was not counted.
    rj["rejoined_at_seq"] = v.rejoined_at_seq;
    rj["divergences"] = faults;
    rj["failures"] = st.failures;
    rj["repairs"] = st.repairs;
    rj["last_time_to_repair_ms"] = static_cast<double>(st.last_time_to_repair_us) / 1000.0;
    rj["mtbf_s"] = static_cast<double>(st.mtbf_us) / 1e6;
    rj["mtbf_lower_bound"] = st.mtbf_lower_bound;
    rj["mttr_s"] = static_cast<double>(st.mttr_us) / 1e6;
    rj["mttr_lower_bound"] = st.mttr_lower_bound;
    rj["availability"] = static_cast<double>(st.availability_ppm) / 1e6;
    j["replicas"].push_back(rj);
  }
  // Replaces rather than throws on a byte that is not UTF-8: this runs on
  // the event loop, and a throw would stop the front end.
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace triad::frontend
