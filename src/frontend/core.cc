#include "frontend/core.h"

#include "common/assert.h"
#include "common/log.h"
#include "rules/engine.h"
#include "wire/codec.h"

namespace triad::frontend {
namespace {

// Entries per message when a replica catches up from the journal.
constexpr std::uint64_t kResendBatch = 512;

std::string names_of(std::uint8_t mask) {
  std::string out;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (mask & (1u << r)) out.push_back(replica_name(r));
  }
  return out;
}

std::vector<std::uint8_t> bytes_of(const flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::string replica_label(int r) { return std::string("replica ") + replica_name(r); }

}  // namespace

Core::Core(const Config& config)
    : config_(config),
      sequencer_({.trust_client_time = config.trust_client_time}),
      voter_({.deadline_us = config.deadline_us}) {}

Status Core::create(const Config& config, std::unique_ptr<Core>* out) {
  std::unique_ptr<Core> core(new Core(config));
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
  for (const auto& r : replicas_) {
    if (!r.connected) return false;
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

void Core::on_client_message(const std::string& client, std::span<const std::uint8_t> payload,
                             std::uint64_t now_us, std::int64_t wall_ms, Outbox* out) {
  using wire::ClientErrorKind;
  if (payload.size() > wire::kMaxClientMessageBytes) {
    return reply_error(client, 0, static_cast<int>(ClientErrorKind::TooLarge),
                       "request of " + std::to_string(payload.size()) +
                           " bytes exceeds the limit of " +
                           std::to_string(wire::kMaxClientMessageBytes),
                       out);
  }
  const wire::AlignedFrame frame(payload.data(), payload.size());
  const wire::ClientRequest* request = nullptr;
  if (Status s = wire::verify_client_request(frame.bytes(), &request); !s.is_ok()) {
    return reply_error(client, 0, static_cast<int>(ClientErrorKind::Malformed), s.message(), out);
  }
  if (request->ping() != nullptr) {
    flatbuffers::FlatBufferBuilder fbb(64);
    wire::ClientReplyBuilder b(fbb);
    b.add_tag(request->ping()->tag());
    b.add_pong(true);
    fbb.Finish(b.Finish());
    out->to_clients.push_back({client, bytes_of(fbb)});
    return;
  }
  const wire::SubmitRequest* submit = request->submit();
  if (submit == nullptr || submit->tx() == nullptr) {
    return reply_error(client, 0, static_cast<int>(ClientErrorKind::Malformed),
                       "request carries neither a transaction nor a ping", out);
  }
  const std::uint64_t tag = submit->tag();
  Transaction tx = wire::read_transaction(submit->tx());
  if (!tx.id || !is_valid_transaction_id(*tx.id)) {
    return reply_error(client, tag, static_cast<int>(ClientErrorKind::InvalidId),
                       tx.id ? "id must be 1..64 characters of [A-Za-z0-9._:-]"
                             : "id is missing or not a string",
                       out);
  }
  if (voter_.open_count() >= config_.max_in_flight) {
    return reply_error(client, tag, static_cast<int>(ClientErrorKind::Overloaded),
                       "front end overloaded: " + std::to_string(voter_.open_count()) +
                           " transactions in flight; retry later",
                       out);
  }
  const std::optional<std::int64_t> client_ts =
      tx.is_malformed(Field::kTs) ? std::nullopt : tx.ts;
  const sequencer::Admission a =
      sequencer_.admit(*tx.id, wire::transaction_digest(tx), client_ts, wall_ms);
  switch (a.kind) {
    case sequencer::Admission::Kind::kIdReused:
      return reply_error(client, tag, static_cast<int>(ClientErrorKind::IdReused),
                         "id " + *tx.id +
                             " was already sequenced with different content; not sequenced",
                         out);
    case sequencer::Admission::Kind::kRepeated:
      ++counters_.replayed;
      if (answers_[a.seq - 1]) return reply_decision(client, tag, a.seq, /*replayed=*/true, out);
      waiters_[a.seq].push_back({client, tag, true});
      return;
    case sequencer::Admission::Kind::kNew:
      break;
  }
  TRIAD_ASSERT(a.seq == journal_.size() + 1);
  journal_.push_back({a.ts_ms, std::move(tx)});
  answers_.emplace_back();
  ++counters_.sequenced;
  voter_.open(a.seq, now_us, voter::Voter::kAllReplicas, &voter_out_);
  waiters_[a.seq].push_back({client, tag, false});
  handle_voter_output(out);
}

void Core::reply_error(const std::string& client, std::uint64_t tag, int kind,
                       const std::string& message, Outbox* out) {
  ++counters_.client_errors;
  flatbuffers::FlatBufferBuilder fbb(256);
  const auto text = fbb.CreateString(message);
  wire::ClientReplyBuilder b(fbb);
  b.add_tag(tag);
  b.add_error_kind(static_cast<wire::ClientErrorKind>(kind));
  b.add_error(text);
  fbb.Finish(b.Finish());
  out->to_clients.push_back({client, bytes_of(fbb)});
}

void Core::reply_decision(const std::string& client, std::uint64_t tag, std::uint64_t seq,
                          bool replayed, Outbox* out) {
  const Answer& answer = *answers_[seq - 1];
  const JournalEntry& entry = journal_[seq - 1];
  flatbuffers::FlatBufferBuilder fbb(512 + answer.certificate.size());
  const auto decision = wire::CreateDecision(
      fbb, fbb.CreateString(*entry.tx.id), seq, entry.ts_ms, fbb.CreateString(answer.code),
      fbb.CreateString(answer.agree), fbb.CreateString(answer.divergent), replayed,
      fbb.CreateVector(answer.certificate));
  wire::ClientReplyBuilder b(fbb);
  b.add_tag(tag);
  b.add_decision(decision);
  fbb.Finish(b.Finish());
  out->to_clients.push_back({client, bytes_of(fbb)});
}

// ---- replicas ---------------------------------------------------------------

void Core::flush_new_entries(Outbox* out) {
  const std::uint64_t last = sequencer_.last_seq();
  if (flushed_seq_ >= last) return;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (replicas_[static_cast<std::size_t>(r)].connected) send_range(r, flushed_seq_ + 1, last, out);
  }
  flushed_seq_ = last;
}

void Core::send_range(int r, std::uint64_t from, std::uint64_t to, Outbox* out) {
  to = std::min<std::uint64_t>(to, journal_.size());
  while (from <= to) {
    const std::uint64_t end = std::min<std::uint64_t>(to, from + kResendBatch - 1);
    flatbuffers::FlatBufferBuilder fbb(512 * (end - from + 1));
    std::vector<flatbuffers::Offset<wire::Sequenced>> entries;
    entries.reserve(end - from + 1);
    for (std::uint64_t seq = from; seq <= end; ++seq) {
      const JournalEntry& e = journal_[seq - 1];
      entries.push_back(
          wire::CreateSequenced(fbb, seq, e.ts_ms, wire::build_transaction(fbb, e.tx)));
    }
    fbb.Finish(wire::CreateToReplica(fbb, fbb.CreateVector(entries)));
    out->to_replicas.push_back({r, bytes_of(fbb)});
    from = end + 1;
  }
}

void Core::on_replica_gone(int r) { replicas_[static_cast<std::size_t>(r)].connected = false; }

void Core::on_replica_message(int r, std::span<const std::uint8_t> payload, std::uint64_t now_us,
                              Outbox* out) {
  TRIAD_ASSERT(r >= 0 && r < kReplicaCount);
  const wire::AlignedFrame frame(payload.data(), payload.size());
  const wire::FromReplica* msg = nullptr;
  if (Status s = wire::verify_from_replica(frame.bytes(), &msg); !s.is_ok()) {
    ++counters_.malformed_replica_messages;
    log::warn(replica_label(r) + ": " + s.message());
    return;
  }
  if (const wire::Hello* h = msg->hello(); h != nullptr) {
    on_hello(r, h->next_seq(), std::string(wire::as_view(h->fingerprint())), h->rules_version(),
             out);
  }
  if (const wire::Fetch* f = msg->fetch(); f != nullptr) {
    send_range(r, std::max<std::uint64_t>(f->from_seq(), 1), f->to_seq(), out);
  }
  if (msg->verdicts() != nullptr) {
    for (const wire::Verdict* v : *msg->verdicts()) on_verdict(r, *v, now_us);
  }
  handle_voter_output(out);
}

void Core::on_hello(int r, std::uint64_t next_seq, std::string fingerprint,
                    std::uint32_t rules_version, Outbox* out) {
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
  // Whatever it has not seen yet, up to what everyone else has been sent.
  send_range(r, std::max<std::uint64_t>(next_seq, 1), flushed_seq_, out);
}

void Core::on_verdict(int r, const wire::Verdict& v, std::uint64_t now_us) {
  voter::ReplicaVerdict verdict;
  if (Status s = wire::read_verdict(&v, &verdict); !s.is_ok()) {
    ++counters_.malformed_replica_messages;
    log::warn(replica_label(r) + ": " + s.message());
    return;
  }
  if (!voter_.wants(verdict.content.seq, r)) {
    ++counters_.late_verdicts;  // e.g. a restarted replica catching up: nothing to vote on
    return;
  }
  // The name comes from the connection, not from what the message claims.
  verdict.signature_valid =
      verdict.replica == r &&
      keys_[static_cast<std::size_t>(r)].verify(
          wire::verdict_signing_bytes(verdict.content, r, verdict.fingerprint), verdict.signature);
  verdict.replica = r;
  voter_.on_verdict(verdict, now_us, &voter_out_);
}

void Core::on_time(std::uint64_t now_us, Outbox* out) {
  voter_.on_time(now_us, &voter_out_);
  handle_voter_output(out);
}

void Core::handle_voter_output(Outbox* out) {
  for (const voter::Decision& d : voter_out_.decisions) {
    ++counters_.decisions;
    Answer answer;
    answer.code = to_string(d.code);
    answer.agree = names_of(d.agree_mask);
    answer.divergent = names_of(d.divergent_mask);
    if (d.kind == voter::DecisionKind::kAgreed) {
      answer.certificate = wire::build_certificate(d.signers.front().content, d.signers);
    } else {
      ++counters_.fail_safe;
      log::warn("seq " + std::to_string(d.seq) + ": fail-safe decline " + answer.code +
                (d.kind == voter::DecisionKind::kNoAgreement
                     ? " (no two replicas agreed)"
                     : " (fewer than two replicas answered)"));
    }
    answers_[d.seq - 1] = std::move(answer);
    const auto it = waiters_.find(d.seq);
    if (it == waiters_.end()) continue;
    for (const Waiter& w : it->second) reply_decision(w.client, w.tag, d.seq, w.replayed, out);
    waiters_.erase(it);
  }
  for (const voter::Divergence& d : voter_out_.divergences) {
    ++replicas_[static_cast<std::size_t>(d.replica)]
          .divergences.by_kind[static_cast<std::size_t>(d.kind)];
    std::string evidence;
    if (d.observed) evidence += " observed code " + to_string(d.observed->code);
    if (d.majority) evidence += ", majority code " + to_string(d.majority->code);
    log::warn("divergence: " + replica_label(d.replica) + " seq " + std::to_string(d.seq) + " " +
              voter::to_string(d.kind) + evidence);
  }
  voter_out_.clear();
}

}  // namespace triad::frontend
