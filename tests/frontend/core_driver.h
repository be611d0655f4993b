// A front end's Core driven directly by a test, on an injected clock: new
// transactions from one client, and signed verdicts made up for any seqs.
#pragma once

#include <gtest/gtest.h>

#include <array>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "crypto/card_ref.h"
#include "frontend/core.h"
#include "frontend/memory_archive.h"
#include "loadgen/driver.h"
#include "rules/engine.h"
#include "sim/sim.h"
#include "wire/codec.h"

namespace triad::frontend {

class CoreDriver : public ::testing::Test {
 protected:
  static constexpr std::uint64_t kStartUs = 10'000'000;

  void start(Core::Config config) {
    config.card_ref_key = sim::card_ref_key();
    for (int r = 0; r < kReplicaCount; ++r) {
      config.replica_keys[static_cast<std::size_t>(r)] = sim::replica_public_key(r);
    }
    if (config.archive == nullptr) config.archive = &archive_;
    ASSERT_TRUE(Core::create(config, kStartUs, &core_).is_ok());
  }

  // Submits `n` new transactions at `now_us`; returns how many were refused
  // with Overloaded (every other one must have been sequenced).
  std::size_t submit(std::size_t n, std::uint64_t now_us) {
    std::size_t overloaded = 0;
    for (std::size_t i = 0; i < n; ++i) {
      Transaction tx;
      tx.id = "tx-" + std::to_string(next_id_++);
      const auto bytes = loadgen::encode_submit(next_id_, tx);
      const std::uint64_t sequenced = core_->counters().sequenced;
      Outbox out;
      core_->on_client_message("client", bytes, now_us, 0, &out);
      core_->flush_new_entries(&out);
      archive_.journal(core_.get(), journal_up_to_);
      if (core_->counters().sequenced == sequenced) {
        EXPECT_EQ(out.to_clients.size(), 1u);
        EXPECT_EQ(error_kind(out.to_clients.front().bytes), wire::ClientErrorKind::Overloaded);
        ++overloaded;
      }
    }
    return overloaded;
  }

  // Submits `n` new transactions at `now_us` (none may be refused), and a and
  // b agree on each: decided, with c's verdict still awaited.
  void submit_decided_by_a_and_b(std::size_t n, std::uint64_t now_us) {
    const std::uint64_t first = core_->counters().sequenced + 1;
    EXPECT_EQ(submit(n, now_us), 0u);
    verdicts(0, first, first + n - 1, now_us);
    verdicts(1, first, first + n - 1, now_us);
  }

  static wire::ClientErrorKind error_kind(const std::vector<std::uint8_t>& bytes) {
    const wire::AlignedFrame frame(bytes.data(), bytes.size());
    const wire::ClientReply* reply = nullptr;
    EXPECT_TRUE(wire::verify_client_reply(frame.bytes(), &reply).is_ok());
    return reply == nullptr ? wire::ClientErrorKind::None : reply->error_kind();
  }

  // Replica r's signed verdicts (code 00, equal content for equal seq; the
  // checkpoint digest of checkpoint_digests_ at its seq, if any) for seqs
  // from..to, as a replica sends them: one batch a message, of at most
  // wire::kMaxVerdictsPerMessage, each saying its state applied
  // `applied_through` (0: not said); what the core sent back.
  Outbox verdicts(int r, std::uint64_t from, std::uint64_t to, std::uint64_t now_us,
                  std::uint64_t applied_through = 0) {
    Outbox out;
    for (std::uint64_t first = from; first <= to; first += wire::kMaxVerdictsPerMessage) {
      const std::uint64_t last =
          std::min<std::uint64_t>(to, first + wire::kMaxVerdictsPerMessage - 1);
      const auto fbb = verdict_message(r, first, last, false, applied_through);
      core_->on_replica_message(r, {fbb.GetBufferPointer(), fbb.GetSize()}, now_us, &out);
      archive_.journal(core_.get(), journal_up_to_);
    }
    return out;
  }

  // Replica r's verdicts for seqs from..to as one signed batch in one
  // message, whatever their number.
  flatbuffers::FlatBufferBuilder verdict_message(int r, std::uint64_t from, std::uint64_t to,
                                                 bool bad_signature = false,
                                                 std::uint64_t applied_through = 0) const {
    static const std::array<crypto::SigningKey, kReplicaCount> keys = {
        sim::replica_signing_key(0), sim::replica_signing_key(1), sim::replica_signing_key(2)};
    std::vector<voter::ReplicaVerdict> batch;
    for (std::uint64_t seq = from; seq <= to; ++seq) {
      voter::ReplicaVerdict v;
      v.replica = r;
      v.content.seq = seq;
      const auto other = other_tx_digests_.find(seq);
      v.content.tx_digest = other != other_tx_digests_.end() ? other->second : tx_digest(seq);
      v.content.ts_ms = ts_ms(seq) + (other_ts_.contains(seq) ? 1 : 0);
      v.content.rules_version = rules::kRulesVersion + (other_rules_.contains(seq) ? 1 : 0);
      if (const auto it = checkpoint_digests_.find(seq); it != checkpoint_digests_.end()) {
        v.content.checkpoint_digest = it->second;
      }
      batch.push_back(v);
    }
    wire::sign_verdict_batch(batch, keys[static_cast<std::size_t>(r)]);
    if (bad_signature) batch.front().signature[0] ^= 1;
    flatbuffers::FlatBufferBuilder fbb;
    const auto b = wire::build_verdict_batch(fbb, batch);
    const auto batches = fbb.CreateVector(&b, 1);
    wire::FromReplicaBuilder m(fbb);
    m.add_batches(batches);
    m.add_applied_through(applied_through);
    m.add_launch(launch_[static_cast<std::size_t>(r)]);
    fbb.Finish(m.Finish());
    return fbb;
  }

  // What the core sequenced at `seq`, held in memory or journalled: its
  // transaction and ts; false for a seq never sequenced.
  bool sequenced(std::uint64_t seq, const Transaction** tx, std::int64_t* ts_ms) const {
    if (seq < 1 || seq > core_->last_seq()) return false;
    if (core_->last_seq() - seq < core_->entries_in_memory()) {
      *tx = &core_->sequenced_tx(seq);
      *ts_ms = core_->sequenced_ts_ms(seq);
      return true;
    }
    const journal::Entry* e = archive_.find(seq);
    if (e == nullptr) return false;
    *tx = &e->tx;
    *ts_ms = e->ts_ms;
    return true;
  }

  // The sequenced ts a healthy replica signs for `seq` (0 for a seq never
  // sequenced).
  std::int64_t ts_ms(std::uint64_t seq) const {
    const Transaction* tx = nullptr;
    std::int64_t ts = 0;
    return sequenced(seq, &tx, &ts) ? ts : 0;
  }

  // The transaction digest a healthy replica signs for `seq`: that of the
  // transaction the core sequenced; zeros for a seq never sequenced.
  Digest tx_digest(std::uint64_t seq) const {
    const Transaction* tx = nullptr;
    std::int64_t ts = 0;
    if (!sequenced(seq, &tx, &ts)) return {};
    return wire::transaction_digest(*tx, crypto::card_ref_of(sim::card_ref_key(), *tx));
  }

  // What the core sent replica r: the seqs and ids of every entry, in order.
  static std::vector<std::pair<std::uint64_t, std::string>> entries_sent(const Outbox& out, int r) {
    std::vector<std::pair<std::uint64_t, std::string>> sent;
    for (const auto& m : out.to_replicas) {
      if (m.replica != r) continue;
      const wire::AlignedFrame frame(m.bytes.data(), m.bytes.size());
      const wire::ToReplica* msg = nullptr;
      EXPECT_TRUE(wire::verify_to_replica(frame.bytes(), &msg).is_ok());
      if (msg == nullptr || msg->entries() == nullptr) continue;
      for (const wire::Sequenced* e : *msg->entries()) {
        sent.emplace_back(e->seq(), e->tx()->id()->str());
      }
    }
    return sent;
  }

  Outbox hello(int r, std::uint64_t next_seq, std::uint64_t now_us,
               std::string_view fingerprint = "test build") {
    flatbuffers::FlatBufferBuilder fbb;
    const auto h = wire::CreateHello(fbb, static_cast<std::uint8_t>(r), next_seq,
                                     fbb.CreateString(fingerprint.data(), fingerprint.size()),
                                     rules::kRulesVersion);
    wire::FromReplicaBuilder m(fbb);
    m.add_hello(h);
    m.add_launch(launch_[static_cast<std::size_t>(r)]);
    fbb.Finish(m.Finish());
    return deliver(r, fbb, now_us);
  }

  Outbox fetch(int r, std::uint64_t from, std::uint64_t to, std::uint64_t now_us) {
    flatbuffers::FlatBufferBuilder fbb;
    const auto f = wire::CreateFetch(fbb, from, to);
    wire::FromReplicaBuilder m(fbb);
    m.add_fetch(f);
    m.add_launch(launch_[static_cast<std::size_t>(r)]);
    fbb.Finish(m.Finish());
    return deliver(r, fbb, now_us);
  }

  // A finished FromReplica message from replica r; what the core sent back.
  Outbox deliver(int r, std::span<const std::uint8_t> message, std::uint64_t now_us) {
    Outbox out;
    core_->on_replica_message(r, message, now_us, &out);
    return out;
  }
  Outbox deliver(int r, const flatbuffers::FlatBufferBuilder& fbb, std::uint64_t now_us) {
    return deliver(r, {fbb.GetBufferPointer(), fbb.GetSize()}, now_us);
  }

  // Plays the shell: after each step the input journal is written up to here
  // (what the shell has written), and the core told.
  std::uint64_t journal_up_to_ = UINT64_MAX;
  // The checkpoint digest every replica's verdict carries at these seqs.
  std::map<std::uint64_t, Digest> checkpoint_digests_;
  // The transaction digest every replica's verdict carries at these seqs, in
  // place of the sequenced transaction's.
  std::map<std::uint64_t, Digest> other_tx_digests_;
  // The FromReplica.launch each replica's messages say (0: not said).
  std::array<std::uint64_t, kReplicaCount> launch_{};
  // Seqs whose verdicts carry another ts, another rules version.
  std::set<std::uint64_t> other_ts_;
  std::set<std::uint64_t> other_rules_;
  MemoryArchive archive_;  // before core_, which uses it
  std::unique_ptr<Core> core_;
  std::uint64_t next_id_ = 1;
};

}  // namespace triad::frontend
