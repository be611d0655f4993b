#include "replica/node.h"

#include <algorithm>
#include <cstdint>
#include <string>

#include "common/assert.h"
#include "common/log.h"
#include "wire/codec.h"

namespace triad::replica {
namespace {

std::vector<std::uint8_t> bytes_of(const flatbuffers::FlatBufferBuilder& fbb) {
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// What holding `tx` early costs: the map node (its links, the seq and the
// entry, whose Transaction of a dozen optional strings is about 440 bytes
// with libc++ and 600 with libstdc++), and each string's heap block, with
// the allocator's overhead, when its text is not held inside the string
// itself (up to 15 characters are with libstdc++, 22 with libc++): the
// bound is on memory, so each build counts what it holds.
std::size_t held_bytes(const Transaction& tx) {
  constexpr std::size_t kNodeBytes = 64;   // links, colour, seq, the entry's other fields
  constexpr std::size_t kBlockExtra = 16;  // malloc's header and rounding, about
  std::size_t bytes = sizeof(Transaction) + kNodeBytes;
  for (const std::optional<std::string>* field :
       {&tx.id, &tx.mti, &tx.pan, &tx.proc, &tx.currency, &tx.billing_currency, &tx.expiry, &tx.mcc,
        &tx.stan, &tx.terminal, &tx.merchant, &tx.orig_id}) {
    if (!field->has_value()) continue;
    const std::string& text = **field;
    const auto object = reinterpret_cast<std::uintptr_t>(&text);
    const auto data = reinterpret_cast<std::uintptr_t>(text.data());
    const bool inline_text = data >= object && data < object + sizeof(text);
    if (!inline_text) bytes += text.capacity() + 1 + kBlockExtra;
  }
  return bytes;
}

}  // namespace

ReplicaNode::ReplicaNode(std::unique_ptr<ReplicaCore> core, std::uint64_t now_us,
                         std::size_t snapshot_part_bytes, std::uint64_t launch)
    : core_(std::move(core)),
      snapshot_part_bytes_(snapshot_part_bytes),
      launch_(launch),
      last_received_us_(now_us) {
  TRIAD_ASSERT(core_ != nullptr && snapshot_part_bytes_ > 0);
}

void ReplicaNode::start(std::uint64_t now_us, Messages* out) { send_hello(now_us, out); }

void ReplicaNode::send_hello(std::uint64_t now_us, Messages* out) {
  flatbuffers::FlatBufferBuilder fbb(256);
  const auto hello =
      wire::CreateHello(fbb, static_cast<std::uint8_t>(core_->replica()), core_->next_seq(),
                        fbb.CreateString(build_fingerprint()), rules::kRulesVersion);
  wire::FromReplicaBuilder b(fbb);
  b.add_hello(hello);
  b.add_launch(launch_);
  fbb.Finish(b.Finish());
  out->push_back(bytes_of(fbb));
  last_hello_us_ = now_us;
}

void ReplicaNode::send_fetch(std::uint64_t from, std::uint64_t to, std::uint64_t now_us,
                             Messages* out) {
  flatbuffers::FlatBufferBuilder fbb(128);
  const auto fetch = wire::CreateFetch(fbb, from, to);
  wire::FromReplicaBuilder b(fbb);
  b.add_fetch(fetch);
  b.add_launch(launch_);
  fbb.Finish(b.Finish());
  out->push_back(bytes_of(fbb));
  last_fetch_us_ = now_us;
  log::warn("gap: expected seq " + std::to_string(from) + ", asked for " + std::to_string(from) +
            ".." + std::to_string(to));
}

void ReplicaNode::on_message(std::span<const std::uint8_t> bytes, std::uint64_t now_us,
                             Messages* out) {
  receive(bytes, now_us, out);
  flush(out);
}

void ReplicaNode::receive(std::span<const std::uint8_t> bytes, std::uint64_t now_us,
                          Messages* out) {
  if (crashed_) return;
  last_received_us_ = now_us;
  const wire::ToReplica* batch = nullptr;
  const wire::AlignedFrame frame(bytes.data(), bytes.size());
  const Status s = wire::verify_to_replica(frame.bytes(), &batch);
  if (!s.is_ok()) {
    ++malformed_;
    log::warn("dropped a message from the front end: " + s.to_string());
    return;
  }
  // Control first: a hung replica still obeys `triad inject ... none`.
  if (batch->inject() != nullptr) on_inject(std::string(wire::as_view(batch->inject())));
  if (hung_) return;
  if (batch->install() != nullptr) on_install_part(*batch->install(), now_us, out);
  if (batch->snapshot_request()) send_snapshot(now_us, out);
  if (batch->snapshot_ack() != nullptr) on_snapshot_ack(*batch->snapshot_ack(), now_us, out);
  if (batch->entries() == nullptr) return;
  for (const wire::Sequenced* e : *batch->entries()) {
    on_entry(e->seq(), e->ts(), wire::read_transaction(e->tx()), now_us, out);
    if (hung_ || crashed_) break;
  }
}

void ReplicaNode::on_inject(const std::string& text) {
  Fault fault;
  if (Status s = parse_fault(text, &fault); !s.is_ok()) {
    log::warn("inject refused: " + s.message());
    return;
  }
  core_->set_fault(fault);
  hung_ = false;
  log::warn("injected fault now " + to_string(fault));
}

void ReplicaNode::send_snapshot(std::uint64_t now_us, Messages* out) {
  outgoing_.clear();  // asked again: the front end gave the run under way up
  core_->start_snapshot_copy();
  const ReplicaCore::Checkpoint& of = core_->snapshot_copy_of();
  const std::size_t state_bytes = core_->snapshot_copy_bytes();
  if (state_bytes > wire::max_snapshot_state_bytes()) {
    // A first part that says the size: the front end refuses it with that
    // reason, at once, and nothing is copied or sent.
    log::error("the snapshot of seq " + std::to_string(of.seq) + " (" +
               std::to_string(state_bytes) + " bytes) is over the limit of " +
               std::to_string(wire::max_snapshot_state_bytes()));
    out->push_back(wire::encode_oversized_snapshot_part(wire::SnapshotCarrier::kFromReplica, of.seq,
                                                        of.state_digest, of.checkpoint_digest,
                                                        state_bytes, launch_));
    core_->drop_snapshot_copy();
    return;
  }
  snapshot_copy_started_us_ = now_us;
  snapshot_copy_steps_ = 0;
  copy_snapshot(now_us, out);  // its first share at once
}

void ReplicaNode::copy_snapshot(std::uint64_t now_us, Messages* out) {
  ++snapshot_copy_steps_;
  std::optional<ReplicaCore::Snapshot> snap =
      core_->continue_snapshot_copy(kSnapshotCopyStepParts * snapshot_part_bytes_);
  if (!snap) return;
  const std::size_t state_bytes = snap->engine_state.size();
  const std::size_t parts = wire::snapshot_part_count(state_bytes, snapshot_part_bytes_);
  log::info("sending the snapshot of seq " + std::to_string(snap->seq) + " (" +
            std::to_string(state_bytes) + " bytes, " + std::to_string(parts) + " part" +
            (parts == 1 ? "" : "s") + "; copied in " + std::to_string(snapshot_copy_steps_) +
            " share" + (snapshot_copy_steps_ == 1 ? "" : "s") + " over " +
            std::to_string((now_us - snapshot_copy_started_us_) / 1000) + " ms)");
  outgoing_ = wire::PartSender<std::string>(
      wire::SnapshotCarrier::kFromReplica, snap->seq, snap->state_digest, snap->checkpoint_digest,
      std::move(snap->engine_state), snapshot_part_bytes_, launch_);
  outgoing_acked_us_ = now_us;
  send_due_parts(out);
}

void ReplicaNode::on_snapshot_ack(const wire::SnapshotAck& ack, std::uint64_t now_us,
                                  Messages* out) {
  // One for a run dropped, or from before this process, is nothing to act on.
  if (!outgoing_.on_ack(ack.seq(), ack.gathered())) return;
  outgoing_acked_us_ = now_us;
  send_due_parts(out);
}

void ReplicaNode::send_due_parts(Messages* out) {
  outgoing_.send_due([out](std::vector<std::uint8_t> m) { out->push_back(std::move(m)); });
  if (outgoing_.window().all_sent()) outgoing_.clear();
}

void ReplicaNode::on_install_part(const wire::Snapshot& part, std::uint64_t now_us, Messages* out) {
  wire::SnapshotAssembly::Progress progress{};
  // A refusal names the run it ends (the front end checks it is the one it
  // sent), not a part of another one found in its middle.
  const std::uint64_t run_seq = installing_.under_way() ? installing_.seq() : part.seq();
  if (Status s = installing_.add(part, &progress); !s.is_ok()) {
    return refuse_install(run_seq, s.message(), now_us, out);
  }
  // kIgnored: the rest of a run refused (said once) or begun before this
  // process started.
  if (progress == wire::SnapshotAssembly::Progress::kPartial) ack_install(now_us, out);
  if (progress != wire::SnapshotAssembly::Progress::kComplete) return;
  on_install(installing_.view(), now_us, out);
  installing_.clear();
}

void ReplicaNode::ack_install(std::uint64_t now_us, Messages* out) {
  out->push_back(wire::encode_snapshot_ack(wire::SnapshotCarrier::kInstall, installing_.seq(),
                                           installing_.gathered_bytes(), launch_));
  install_acked_us_ = now_us;
}

void ReplicaNode::on_install(const wire::SnapshotView& w, std::uint64_t now_us, Messages* out) {
  ReplicaCore::Snapshot snap;
  snap.seq = w.seq;
  const auto state = w.state_digest;
  const auto checkpoint = w.checkpoint_digest;
  const auto engine = w.engine_state;
  if (state.size() != 32 || checkpoint.size() != 32) {
    return refuse_install(snap.seq, "a digest is not 32 bytes", now_us, out);
  }
  std::copy(state.begin(), state.end(), snap.state_digest.begin());
  std::copy(checkpoint.begin(), checkpoint.end(), snap.checkpoint_digest.begin());
  snap.engine_state.assign(reinterpret_cast<const char*>(engine.data()), engine.size());
  const bool was_copying = core_->copying_snapshot();
  if (Status s = core_->install(snap); !s.is_ok()) {
    return refuse_install(snap.seq, s.to_string(), now_us, out);
  }
  clear_pending();
  log::info("installed the snapshot of seq " + std::to_string(snap.seq));
  send_hello(now_us, out);  // the front end replays the journal from here
  // The install dropped the copy of the state it replaced: the one asked
  // for gets this one's instead, rather than nothing.
  if (was_copying) send_snapshot(now_us, out);
}

void ReplicaNode::refuse_install(std::uint64_t seq, std::string reason, std::uint64_t now_us,
                                 Messages* out) {
  log::error("snapshot of seq " + std::to_string(seq) + " refused: " + reason);
  // The front end takes the reason as printable ASCII of bounded length.
  if (reason.size() > wire::kMaxFingerprintBytes) reason.resize(wire::kMaxFingerprintBytes);
  reason = wire::printable_ascii(reason);
  flatbuffers::FlatBufferBuilder fbb(256 + reason.size());
  const auto refused = wire::CreateInstallRefused(fbb, seq, fbb.CreateString(reason));
  wire::FromReplicaBuilder b(fbb);
  b.add_install_refused(refused);
  b.add_launch(launch_);
  fbb.Finish(b.Finish());
  out->push_back(bytes_of(fbb));
  // The live seqs held while the parts came wait for those before them,
  // which the snapshot was to bring (no Fetch went meanwhile).
  if (!pending_.empty()) send_fetch(core_->next_seq(), pending_.begin()->first - 1, now_us, out);
}

void ReplicaNode::clear_pending() {
  pending_.clear();
  pending_bytes_ = 0;
}

void ReplicaNode::on_entry(std::uint64_t seq, std::int64_t ts_ms, Transaction tx,
                           std::uint64_t now_us, Messages* out) {
  if (seq < core_->next_seq()) return;  // already applied (a resend)
  if (seq > core_->next_seq()) {
    // Never skip: hold it, ask for the missing ones once in a while.
    const std::size_t bytes = held_bytes(tx);
    if (pending_.size() < kMaxPending && pending_bytes_ + bytes <= kMaxPendingBytes &&
        pending_.emplace(seq, PendingEntry{ts_ms, std::move(tx), bytes}).second) {
      pending_bytes_ += bytes;
    }
    // Not while a snapshot is being installed: the live seqs come while its
    // parts do, and the seqs before them are what the snapshot brings.
    if (!installing_.under_way() &&
        (!last_fetch_us_ || now_us > *last_fetch_us_ + kFetchIntervalUs)) {
      send_fetch(core_->next_seq(), seq - 1, now_us, out);
    }
    return;
  }
  apply(seq, ts_ms, tx, now_us, out);
  while (!hung_ && !crashed_ && !pending_.empty() && pending_.begin()->first <= core_->next_seq()) {
    auto node = pending_.extract(pending_.begin());
    pending_bytes_ -= node.mapped().bytes;
    if (node.key() == core_->next_seq()) {
      apply(node.key(), node.mapped().ts_ms, node.mapped().tx, now_us, out);
    }
  }
}

void ReplicaNode::apply(std::uint64_t seq, std::int64_t ts_ms, const Transaction& tx,
                        std::uint64_t now_us, Messages* out) {
  if (!core_->accepts_ts(ts_ms)) {
    // Sequenced time never goes backwards; an entry whose ts does is malformed.
    // It is not applied (the seq stays missing, so the front end sees no
    // verdict for it) rather than abort the process on the engine's check.
    ++malformed_;
    log::error("refused seq " + std::to_string(seq) + ": its ts " + std::to_string(ts_ms) +
               " is earlier than the last applied one");
    return;
  }
  ReplicaCore::Step step = core_->apply(seq, ts_ms, tx);
  switch (step.action) {
    case ReplicaCore::Action::kCrash:
      // The verdicts for seqs up to N still go out, so a run repeats exactly
      // whatever the batching; then the process must die without clean-up.
      flush(out);
      crashed_ = true;
      clear_pending();
      delayed_.clear();
      log::error("injected fault " + to_string(core_->fault()) + ": exiting abruptly at seq " +
                 std::to_string(seq));
      return;
    case ReplicaCore::Action::kHang:
      log::error("injected fault " + to_string(core_->fault()) + ": hanging from seq " +
                 std::to_string(seq));
      hung_ = true;
      return;
    case ReplicaCore::Action::kDrop:
      return;
    case ReplicaCore::Action::kSend:
      break;
  }
  if (core_->fault().kind == Fault::Kind::kDelay) {
    delayed_.emplace_back(now_us + core_->fault().delay_ms * 1000, std::move(step));
  } else {
    queue(std::move(step), out);
  }
}

void ReplicaNode::queue(ReplicaCore::Step step, Messages* out) {
  outbox_.push_back(std::move(step.verdict));
  outbox_bad_signature_.push_back(step.bad_signature);
  if (outbox_.size() >= kMaxVerdictsPerMessage) flush(out);
}

void ReplicaNode::release_delayed(std::uint64_t now_us, Messages* out) {
  while (!delayed_.empty() && delayed_.front().first <= now_us) {
    queue(std::move(delayed_.front().second), out);
    delayed_.pop_front();
  }
}

// Everything queued goes out in one message, signed in as few batches as the
// badsig fault allows: one Ed25519 signature per batch instead of one per
// verdict is what makes signed verdicts cheap (bench/micro_bench.cc).
void ReplicaNode::flush(Messages* out) {
  if (outbox_.empty()) return;
  flatbuffers::FlatBufferBuilder fbb(320 * outbox_.size());
  std::vector<flatbuffers::Offset<wire::VerdictBatch>> batches;
  const std::span<voter::ReplicaVerdict> all(outbox_);
  for (std::size_t begin = 0; begin < outbox_.size();) {
    std::size_t end = begin + 1;
    while (end < outbox_.size() && end - begin < wire::kMaxVerdictsPerBatch &&
           outbox_bad_signature_[end] == outbox_bad_signature_[begin]) {
      ++end;
    }
    const auto batch = all.subspan(begin, end - begin);
    core_->sign(batch, outbox_bad_signature_[begin]);
    batches.push_back(wire::build_verdict_batch(fbb, batch));
    begin = end;
  }
  const auto vec = fbb.CreateVector(batches);
  wire::FromReplicaBuilder b(fbb);
  b.add_batches(vec);
  b.add_applied_through(core_->next_seq() - 1);
  b.add_launch(launch_);
  fbb.Finish(b.Finish());
  out->push_back(bytes_of(fbb));
  outbox_.clear();
  outbox_bad_signature_.clear();
}

void ReplicaNode::on_time(std::uint64_t now_us, Messages* out) {
  if (crashed_) return;
  release_delayed(now_us, out);
  flush(out);
  if (!hung_ && core_->copying_snapshot()) copy_snapshot(now_us, out);
  if (!hung_ && installing_.under_way() && now_us >= install_acked_us_ + wire::kSnapshotReackUs) {
    ack_install(now_us, out);  // the parts stopped: an acknowledgement lost?
  }
  if (const wire::PartWindow& w = outgoing_.window();
      w.active() && now_us >= outgoing_acked_us_ + kSnapshotAbandonUs) {
    log::warn("dropped the snapshot of seq " + std::to_string(w.seq()) + " after " +
              std::to_string(w.sent()) + " of its " + std::to_string(w.parts()) +
              " parts: the front end acknowledged none for " +
              std::to_string(kSnapshotAbandonUs / 1'000'000) + " s");
    outgoing_.clear();
  }
  if (!hung_ && now_us > last_received_us_ + kIdleHelloUs &&
      now_us > last_hello_us_ + kIdleHelloUs) {
    send_hello(now_us, out);  // idle: tell the front end where we are, so a lost tail is resent
  }
}

bool ReplicaNode::checkpoint_work_waiting() {
  if (crashed_ || hung_) return false;
  return core_->note_checkpoint_changes() >= kPrepareMinPages + core_->seqs_to_checkpoint();
}

bool ReplicaNode::prepare_checkpoint() {
  if (crashed_ || hung_) return false;
  ++checkpoint_steps_ahead_;
  return core_->prepare_checkpoint(kPrepareStepPages);
}

std::optional<std::uint64_t> ReplicaNode::next_timer_us() const {
  if (crashed_) return std::nullopt;
  std::optional<std::uint64_t> t;
  if (!delayed_.empty()) t = delayed_.front().first;
  if (!hung_) {
    const std::uint64_t idle = std::max(last_received_us_, last_hello_us_) + kIdleHelloUs + 1;
    t = t ? std::min(*t, idle) : idle;
  }
  if (!hung_ && installing_.under_way()) {
    const std::uint64_t reack = install_acked_us_ + wire::kSnapshotReackUs;
    t = t ? std::min(*t, reack) : reack;
  }
  if (!hung_ && core_->copying_snapshot()) t = 0;  // a share at each turn
  if (outgoing_.window().active()) {
    const std::uint64_t abandon = outgoing_acked_us_ + kSnapshotAbandonUs;
    t = t ? std::min(*t, abandon) : abandon;
  }
  return t;
}

}  // namespace triad::replica
