// Core::recover: a front end restarted from its input journal continues the
// sequence, answers earlier ids with their original decision, and replays
// the journal to fresh replicas without the deadline turning it into
// fail-safe declines. Driven in one process: the Core and three ReplicaNodes
// (the code of triad-replica) joined synchronously, on a test clock.
#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>

#include "crypto/card_ref.h"
#include "crypto/hash.h"
#include "frontend/core.h"
#include "frontend/memory_archive.h"
#include "replica/node.h"
#include "rules/engine.h"
#include "sample/sample.h"
#include "sim/sim.h"
#include "wire/codec.h"

namespace triad::frontend {
namespace {

struct Reply {
  std::uint64_t tag = 0;
  std::string error;
  std::uint64_t seq = 0;
  std::int64_t ts_ms = 0;
  std::string code;
  bool replayed = false;
  std::vector<std::uint8_t> certificate;
};

Digest digest_of(const Transaction& tx) {
  return wire::transaction_digest(tx, crypto::card_ref_of(sim::card_ref_key(), tx));
}

class MiniCluster {
 public:
  // Snapshots travel in parts of this many bytes of state, both ways: every
  // snapshot here goes in several.
  static constexpr std::size_t kSnapshotPartBytes = 512;

  // store_snapshot_every: Core::Config's (the replicas checkpoint every 100).
  explicit MiniCluster(const std::string& card_text,
                       std::uint64_t store_snapshot_every = Core::Config().store_snapshot_every) {
    EXPECT_TRUE(rules::parse_card_file(card_text, &cards_).is_ok());
    initial_ = crypto::sha256("triad-state-v1" + card_text);
    Core::Config config;
    for (int r = 0; r < kReplicaCount; ++r) {
      config.replica_keys[static_cast<std::size_t>(r)] = sim::replica_public_key(r);
    }
    config.archive = &archive_;
    config.card_ref_key = sim::card_ref_key();
    // Few in memory: a fresh replica's replay reads most of it back.
    config.keep_recent = 16;
    config.store_snapshot_every = store_snapshot_every;
    config.snapshot_part_bytes = kSnapshotPartBytes;
    EXPECT_TRUE(Core::create(config, now_us_, &core_).is_ok());
  }

  Core& core() { return *core_; }
  // A restart: the journal file holds `entries`, the answer log `log`.
  // What recover() keeps of `log` is in kept_log.
  // With `snapshot` (and the answers an earlier run kept in `kept`), from
  // that snapshot; start_seq is then where it started.
  Status recover(const std::vector<journal::Entry>& entries,
                 const std::vector<journal::FailSafeAnswer>& log,
                 const journal::StoredSnapshot* snapshot = nullptr,
                 const MemoryArchive* kept = nullptr) {
    if (kept != nullptr) archive_ = *kept;
    archive_.restore(entries);
    kept_log = log;
    TRIAD_RETURN_IF_ERROR(core_->recover(entries.size(), &kept_log, snapshot, &start_seq));
    archive_.keep_through(start_seq);
    return Status::ok();
  }
  std::uint64_t start_seq = 0;
  std::vector<journal::FailSafeAnswer> kept_log;
  // What the input journal holds: every seq sequenced.
  std::vector<journal::Entry> journal() {
    std::vector<journal::Entry> entries;
    EXPECT_TRUE(archive_.read_entries(1, core_->last_seq(), &entries).is_ok());
    return entries;
  }
  std::uint64_t now_us() const { return now_us_; }
  std::size_t max_in_flight_seen() const { return max_in_flight_; }
  std::size_t max_entries_in_memory_seen() const { return max_entries_in_memory_; }
  std::size_t decision_records() const { return decision_records_; }
  MemoryArchive& archive() { return archive_; }
  const replica::ReplicaNode& node(int r) const { return *nodes_[static_cast<std::size_t>(r)]; }

  void start_replica(int r, const replica::Fault& fault = {}) {
    auto rc = std::make_unique<replica::ReplicaCore>(
        r, cards_, initial_, sim::replica_signing_key(r), sim::card_ref_key(), fault, 1,
        /*checkpoint_interval=*/100);
    nodes_[static_cast<std::size_t>(r)] =
        std::make_unique<replica::ReplicaNode>(std::move(rc), now_us_, kSnapshotPartBytes);
    replica::ReplicaNode::Messages hello;
    nodes_[static_cast<std::size_t>(r)]->start(now_us_, &hello);
    for (const auto& m : hello) core_->on_replica_message(r, m, now_us_, &out_);
    run();
  }

  void submit(const Transaction& tx, std::uint64_t tag, std::int64_t wall_ms) {
    flatbuffers::FlatBufferBuilder fbb(512);
    const auto request = wire::CreateSubmitRequest(fbb, tag, wire::build_transaction(fbb, tx));
    wire::ClientRequestBuilder b(fbb);
    b.add_submit(request);
    fbb.Finish(b.Finish());
    core_->on_client_message("client", {fbb.GetBufferPointer(), fbb.GetSize()}, now_us_, wall_ms,
                             &out_);
    core_->flush_new_entries(&out_);
    run();
  }

  // The shell saw replica r's process end, or its new one start.
  void process_exited(int r) {
    nodes_[static_cast<std::size_t>(r)].reset();
    core_->on_process_exited(r, now_us_, &out_);
    run();
  }
  void process_started(int r) {
    core_->on_process_started(r, now_us_, &out_);
    run();
  }

  void advance(std::uint64_t us) {
    now_us_ += us;
    core_->on_time(now_us_, &out_);
    run();
  }

  // Delivers every message until nothing moves; a replica copying a
  // snapshot goes on with it, as its shell does at each turn.
  void run() {
    while (!out_.to_replicas.empty() || !out_.to_clients.empty() || !out_.decisions.empty() ||
           continue_snapshot_copies()) {
      max_in_flight_ = std::max(max_in_flight_, core_->in_flight());
      max_entries_in_memory_ = std::max(max_entries_in_memory_, core_->entries_in_memory());
      auto to_replicas = std::move(out_.to_replicas);
      auto to_clients = std::move(out_.to_clients);
      for (const auto& d : out_.decisions) decisions[d.seq] = d;
      decision_records_ += out_.decisions.size();
      fail_safe.insert(fail_safe.end(), out_.fail_safe_answers.begin(),
                       out_.fail_safe_answers.end());
      if (out_.snapshot_to_store) stored = std::move(out_.snapshot_to_store);
      out_.clear();
      archive_.journal(core_.get());
      for (const auto& m : to_clients) read_reply(m.bytes);
      for (auto& m : to_replicas) {
        auto& node = nodes_[static_cast<std::size_t>(m.replica)];
        if (!node) continue;
        if (alter_to_replica) alter_to_replica(m.replica, &m.bytes);
        const wire::AlignedFrame frame(m.bytes.data(), m.bytes.size());
        const wire::ToReplica* to = nullptr;
        ASSERT_TRUE(wire::verify_to_replica(frame.bytes(), &to).is_ok());
        if (to->install() != nullptr) {
          ++install_parts[static_cast<std::size_t>(m.replica)];
          if (to->install()->engine_state_offset() == 0)
            ++installs[static_cast<std::size_t>(m.replica)];
        }
        const bool loading =
            std::any_of(loading_.begin(), loading_.end(),
                        [&](const Outbox::ToReplica& l) { return l.replica == m.replica; });
        if ((static_cast<unsigned>(slow_installs) >> m.replica & 1u) != 0 &&
            (loading || to->install() != nullptr)) {
          loading_.push_back(std::move(m));
          continue;
        }
        replica::ReplicaNode::Messages back;
        node->on_message(m.bytes, now_us_, &back);
        from_replica(m.replica, &back);
      }
    }
  }

  void from_replica(int r, replica::ReplicaNode::Messages* back) {
    for (auto& b : *back) {
      if (hold_from[static_cast<std::size_t>(r)]) {
        held_from_[static_cast<std::size_t>(r)].push_back(std::move(b));
      } else {
        core_->on_replica_message(r, b, now_us_, &out_);
      }
    }
  }

  // One more share of each snapshot being copied (its timer due at once);
  // whether any was.
  bool continue_snapshot_copies() {
    bool any = false;
    for (int r = 0; r < kReplicaCount; ++r) {
      auto& node = nodes_[static_cast<std::size_t>(r)];
      if (!node || !node->core().copying_snapshot() || node->next_timer_us() != 0u) continue;
      any = true;
      replica::ReplicaNode::Messages back;
      node->on_time(now_us_, &back);
      from_replica(r, &back);
    }
    return any;
  }

  std::map<std::uint64_t, Reply> replies;  // by tag; the last one
  std::map<std::uint64_t, Outbox::DecisionRecord> decisions;
  std::vector<journal::FailSafeAnswer> fail_safe;  // what the answer log would hold
  std::optional<journal::StoredSnapshot> stored;   // the newest snapshot handed over to store
  // Installs of a snapshot each replica was sent, and their parts.
  std::array<int, kReplicaCount> installs{};
  std::array<int, kReplicaCount> install_parts{};
  // A replica in this mask, once sent a snapshot to install, reads nothing
  // more (it is loading it) until release_installs() names it.
  std::uint8_t slow_installs = 0;
  // The replicas in `mask` read what waited; the others go on loading.
  void release_installs(std::uint8_t mask = 0b111) {
    slow_installs &= static_cast<std::uint8_t>(~mask);
    std::vector<Outbox::ToReplica> still;
    for (auto& m : loading_) {
      ((static_cast<unsigned>(mask) >> m.replica & 1u) != 0 ? out_.to_replicas : still)
          .push_back(std::move(m));
    }
    loading_ = std::move(still);
    run();
  }
  // Replicas whose messages to the core wait in held_from until
  // release_from(r, through_seq).
  std::array<bool, kReplicaCount> hold_from{};
  // Hands the core replica r's held messages whose verdicts are all up to
  // through_seq.
  void release_from(int r, std::uint64_t through_seq) {
    auto& held = held_from_[static_cast<std::size_t>(r)];
    std::vector<std::vector<std::uint8_t>> later;
    for (auto& m : held) {
      const wire::AlignedFrame frame(m.data(), m.size());
      const wire::FromReplica* from = nullptr;
      ASSERT_TRUE(wire::verify_from_replica(frame.bytes(), &from).is_ok());
      std::uint64_t last = 0;
      if (from->batches() != nullptr) {
        for (const auto* batch : *from->batches()) {
          for (const auto* v : *batch->verdicts()) last = std::max(last, v->seq());
        }
      }
      if (last <= through_seq) {
        core_->on_replica_message(r, m, now_us_, &out_);
      } else {
        later.push_back(std::move(m));
      }
    }
    held = std::move(later);
    run();
  }
  // Changes what replica r is sent before it reads it, when set.
  std::function<void(int r, std::vector<std::uint8_t>* bytes)> alter_to_replica;

 private:
  void read_reply(const std::vector<std::uint8_t>& bytes) {
    const wire::AlignedFrame frame(bytes.data(), bytes.size());
    const wire::ClientReply* reply = nullptr;
    ASSERT_TRUE(wire::verify_client_reply(frame.bytes(), &reply).is_ok());
    Reply r;
    r.tag = reply->tag();
    if (reply->error() != nullptr) r.error = reply->error()->str();
    if (const auto* d = reply->decision(); d != nullptr) {
      r.seq = d->seq();
      r.ts_ms = d->ts();
      r.code = d->code()->str();
      r.replayed = d->replayed();
      if (d->certificate() != nullptr) {
        r.certificate.assign(d->certificate()->begin(), d->certificate()->end());
      }
    }
    replies[r.tag] = r;
  }

  rules::CardFile cards_;
  Digest initial_{};
  MemoryArchive archive_;  // before core_, which uses it
  std::unique_ptr<Core> core_;
  std::array<std::unique_ptr<replica::ReplicaNode>, kReplicaCount> nodes_;
  std::uint64_t now_us_ = 1'000'000;
  Outbox out_;
  std::size_t max_in_flight_ = 0;
  std::size_t max_entries_in_memory_ = 0;
  std::size_t decision_records_ = 0;
  std::vector<Outbox::ToReplica> loading_;  // slow_installs: not read yet
  std::array<std::vector<std::vector<std::uint8_t>>, kReplicaCount> held_from_;
};

struct Traffic {
  std::string cards;
  std::vector<Transaction> txs;
};

Traffic make_traffic(std::size_t count) {
  sample::Options options;
  options.seed = 11;
  options.card_count = 40;
  options.transaction_count = count;
  Traffic t;
  t.cards = sample::generate_card_file(options);
  for (const std::string& line : sample::generate_traffic(options)) {
    Transaction tx;
    EXPECT_TRUE(parse_transaction_json(line, &tx).is_ok());
    t.txs.push_back(tx);
  }
  return t;
}

constexpr std::int64_t kWallMs = 1'760'000'000'000;

TEST(CoreRecover, ContinuesAfterTheJournalAndAnswersEarlierIdsWithTheOriginalDecision) {
  const Traffic traffic = make_traffic(120);
  constexpr std::size_t kBefore = 100;  // decided before the "crash"

  // The first life: kBefore transactions decided; what the journal would hold.
  MiniCluster first(traffic.cards);
  for (int r = 0; r < kReplicaCount; ++r) first.start_replica(r);
  for (std::size_t i = 0; i < kBefore; ++i) {
    first.submit(traffic.txs[i], i + 1, kWallMs + static_cast<std::int64_t>(i));
  }
  const std::vector<journal::Entry> entries = first.journal();
  ASSERT_EQ(entries.size(), kBefore);
  const std::int64_t last_ts_ms = entries.back().ts_ms;

  // The second life, from the journal alone.
  MiniCluster second(traffic.cards);
  ASSERT_TRUE(second.recover(entries, {}).is_ok());
  EXPECT_EQ(second.core().last_seq(), kBefore);
  EXPECT_TRUE(second.core().recovering());

  // Before the replicas are back: a new id is refused, an earlier one waits.
  second.submit(traffic.txs[kBefore], 1000, kWallMs);
  ASSERT_EQ(second.replies.count(1000), 1u);
  EXPECT_EQ(second.replies[1000].error,
            "recovering: 0 of 100 journalled transactions replayed to the replicas; retry later");
  second.submit(traffic.txs[7], 1001, kWallMs);
  EXPECT_EQ(second.replies.count(1001), 0u) << "waits for the replay's decision";
  second.advance(5'000'000);  // replicas slow to start: no deadline runs yet
  EXPECT_EQ(second.core().counters().fail_safe, 0u);

  for (int r = 0; r < kReplicaCount; ++r) second.start_replica(r);
  EXPECT_FALSE(second.core().recovering());
  EXPECT_EQ(second.core().counters().fail_safe, 0u);
  ASSERT_EQ(second.decisions.size(), kBefore);
  for (std::uint64_t seq = 1; seq <= kBefore; ++seq) {
    EXPECT_EQ(second.decisions[seq].code, first.decisions[seq].code) << "seq " << seq;
    EXPECT_EQ(second.decisions[seq].id, first.decisions[seq].id);
  }
  ASSERT_EQ(second.replies.count(1001), 1u);
  const Reply& waited = second.replies[1001];
  EXPECT_TRUE(waited.replayed);
  EXPECT_EQ(waited.seq, 8u);
  EXPECT_EQ(waited.code, first.replies[8].code);
  EXPECT_EQ(waited.ts_ms, first.replies[8].ts_ms);

  // Every earlier id again: its original seq, ts and code, replayed.
  for (std::size_t i = 0; i < kBefore; ++i) {
    second.submit(traffic.txs[i], 2000 + i, kWallMs);
    const Reply& r = second.replies[2000 + i];
    EXPECT_TRUE(r.replayed);
    EXPECT_EQ(r.seq, first.replies[i + 1].seq);
    EXPECT_EQ(r.ts_ms, first.replies[i + 1].ts_ms);
    EXPECT_EQ(r.code, first.replies[i + 1].code);
  }
  // New ids continue at kBefore + 1; the clock is behind the journal's last
  // ts (a restart on a machine whose clock stepped back): ts does not go back.
  for (std::size_t i = kBefore; i < traffic.txs.size(); ++i) {
    second.submit(traffic.txs[i], 3000 + i, kWallMs - 1000);
    const Reply& r = second.replies[3000 + i];
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_FALSE(r.replayed);
    EXPECT_EQ(r.seq, i + 1);
    EXPECT_EQ(r.ts_ms, last_ts_ms);
  }
  EXPECT_EQ(second.core().counters().fail_safe, 0u);
}

// rules.md section 7 across a restart: a fail-safe decline is the voter's
// own answer, which the replay cannot reproduce; the answer log keeps it,
// and a repeated id gets it again, not the replay's decision.
TEST(CoreRecover, AFailSafeDeclineIsAnsweredAgainAfterTheRestart) {
  const Traffic traffic = make_traffic(10);
  MiniCluster first(traffic.cards);
  first.start_replica(0);  // a alone: fewer than two replicas can answer
  first.submit(traffic.txs[0], 1, kWallMs);
  first.advance(10'000'000);  // past the deadline
  ASSERT_EQ(first.replies.count(1), 1u);
  ASSERT_EQ(first.replies[1].code, "91");
  ASSERT_EQ(first.fail_safe.size(), 1u);
  EXPECT_EQ(first.fail_safe[0].seq, 1u);
  EXPECT_EQ(first.fail_safe[0].code, "91");
  EXPECT_EQ(first.fail_safe[0].tx_digest, digest_of(traffic.txs[0]));
  first.start_replica(1);
  first.start_replica(2);
  first.submit(traffic.txs[1], 2, kWallMs + 1);
  first.submit(traffic.txs[2], 3, kWallMs + 2);
  ASSERT_EQ(first.replies.count(3), 1u);
  EXPECT_EQ(first.fail_safe.size(), 1u) << "agreed decisions are not in the answer log";
  const std::vector<journal::Entry> entries = first.journal();

  // The second life: the answer log also has a record for seq 3 whose
  // transaction is not the journalled one (lost before its sync, sequenced
  // again): ignored.
  std::vector<journal::FailSafeAnswer> log = first.fail_safe;
  log.push_back({3, digest_of(traffic.txs[5]), "96"});
  MiniCluster second(traffic.cards);
  ASSERT_TRUE(second.recover(entries, log).is_ok());
  ASSERT_EQ(second.kept_log.size(), 1u) << "the record for seq 3 is dropped from the log";
  EXPECT_EQ(second.kept_log[0].seq, 1u);
  for (int r = 0; r < kReplicaCount; ++r) second.start_replica(r);
  ASSERT_EQ(second.decisions.size(), 3u);
  EXPECT_EQ(second.decisions[1].code, "91");
  EXPECT_TRUE(second.decisions[1].fail_safe);
  EXPECT_TRUE(second.decisions[1].certificate.empty());
  EXPECT_EQ(second.decisions[3].code, first.replies[3].code);
  EXPECT_FALSE(second.decisions[3].fail_safe);
  EXPECT_TRUE(second.fail_safe.empty()) << "nothing new for the answer log";
  for (std::uint64_t i = 0; i < 3; ++i) {
    second.submit(traffic.txs[i], 100 + i, kWallMs);
    const Reply& r = second.replies[100 + i];
    EXPECT_TRUE(r.replayed);
    EXPECT_EQ(r.seq, i + 1);
    EXPECT_EQ(r.code, first.replies[i + 1].code) << "seq " << i + 1;
  }
}

// What a certificate says, checked with the replicas' keys.
voter::VerdictContent content_of(const std::vector<std::uint8_t>& certificate) {
  std::array<crypto::VerifyingKey, kReplicaCount> keys;
  for (int r = 0; r < kReplicaCount; ++r) {
    EXPECT_TRUE(crypto::VerifyingKey::from_public_key(sim::replica_public_key(r),
                                                      &keys[static_cast<std::size_t>(r)])
                    .is_ok());
  }
  voter::VerdictContent content;
  std::uint8_t signed_by = 0;
  EXPECT_TRUE(wire::check_certificate(certificate, keys, &content, &signed_by).is_ok());
  return content;
}

// A first life that stores snapshots every 200 seqs (the replicas checkpoint
// every 100): seq 1 declined fail-safe (replica a alone), then 449 decided
// by all three, the last snapshot stored at seq 400.
struct FirstLife {
  static constexpr std::size_t kDecided = 450;
  explicit FirstLife(const Traffic& traffic) : cluster(traffic.cards, 200) {
    cluster.start_replica(0);
    cluster.submit(traffic.txs[0], 1, kWallMs);
    cluster.advance(10'000'000);
    EXPECT_EQ(cluster.replies[1].code, "91");
    cluster.start_replica(1);
    cluster.start_replica(2);
    for (std::size_t i = 1; i < kDecided; ++i) {
      cluster.submit(traffic.txs[i], i + 1, kWallMs + static_cast<std::int64_t>(i));
    }
    entries = cluster.journal();
  }
  // The front end restarted over what this life left: its journal, answer
  // log, stored snapshot and the answers kept up to it.
  Status restart(MiniCluster* second) {
    return second->recover(entries, cluster.fail_safe, &*cluster.stored, &cluster.archive());
  }
  MiniCluster cluster;
  std::vector<journal::Entry> entries;
};

// A replica asked for its snapshot may have applied a checkpoint seq the
// voter has not decided everything up to (here replica a, the one asked,
// is ahead of b and c): its snapshot is held until those votes end, then
// stored, not thrown away and asked for again.
TEST(CoreRecover, ASnapshotAheadOfTheVotesIsStoredOnceTheyEnd) {
  const Traffic traffic = make_traffic(300);
  MiniCluster cluster(traffic.cards, 200);
  for (int r = 0; r < kReplicaCount; ++r) cluster.start_replica(r);
  for (std::size_t i = 0; i < 199; ++i) {
    cluster.submit(traffic.txs[i], i + 1, kWallMs + static_cast<std::int64_t>(i));
  }
  cluster.hold_from = {false, true, true};  // only a's verdicts arrive
  for (std::size_t i = 199; i < 300; ++i) {
    cluster.submit(traffic.txs[i], i + 1, kWallMs + static_cast<std::int64_t>(i));
  }
  EXPECT_EQ(cluster.decisions.size(), 199u);
  cluster.hold_from = {false, false, false};
  cluster.release_from(2, 250);  // 200..250 decided: a is asked, its latest is 300
  EXPECT_EQ(cluster.decisions.size(), 250u);
  EXPECT_FALSE(cluster.stored.has_value()) << "held until 300 is decided";
  cluster.release_from(2, 300);
  ASSERT_TRUE(cluster.stored.has_value());
  EXPECT_EQ(cluster.stored->seq, 300u);
  EXPECT_EQ(cluster.core().counters().snapshots_handed_over, 1u);
  cluster.release_from(1, 300);
}

// A restart from the newest stored snapshot decides only the seqs after it;
// the earlier ones keep the answers (and certificates) they were given, and
// the replicas, installed with it, go on over the same state.
TEST(CoreRecover, ARestartFromAStoredSnapshotDecidesOnlyTheSeqsAfterIt) {
  const Traffic traffic = make_traffic(520);
  FirstLife first(traffic);
  MiniCluster& before = first.cluster;
  ASSERT_TRUE(before.stored.has_value());
  EXPECT_EQ(before.stored->seq, 400u);
  EXPECT_EQ(before.core().counters().snapshots_handed_over, 2u);
  EXPECT_EQ(before.core().handed_over_snapshot_seq(), 400u);

  MiniCluster second(traffic.cards);
  ASSERT_TRUE(first.restart(&second).is_ok());
  EXPECT_EQ(second.start_seq, 400u);
  EXPECT_EQ(second.core().start_seq(), 400u);
  EXPECT_TRUE(second.core().recovering());
  for (int r = 0; r < kReplicaCount; ++r) second.start_replica(r);
  EXPECT_FALSE(second.core().recovering());
  EXPECT_EQ(second.installs, (std::array<int, kReplicaCount>{1, 1, 1}));
  ASSERT_EQ(second.decisions.size(), FirstLife::kDecided - 400) << "only seqs 401..450";
  EXPECT_EQ(second.decisions.begin()->first, 401u);
  for (const auto& [seq, d] : second.decisions) {
    EXPECT_EQ(d.code, before.decisions[seq].code) << "seq " << seq;
  }

  // Every earlier id: its first seq, ts, code and certificate (none for the
  // fail-safe decline).
  for (std::size_t i = 0; i < FirstLife::kDecided; ++i) {
    second.submit(traffic.txs[i], 2000 + i, kWallMs);
    const Reply& r = second.replies[2000 + i];
    const Reply& was = before.replies[i + 1];
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_TRUE(r.replayed);
    EXPECT_EQ(r.seq, was.seq);
    EXPECT_EQ(r.ts_ms, was.ts_ms);
    EXPECT_EQ(r.code, was.code) << "seq " << was.seq;
    if (was.seq <= 400) {
      EXPECT_EQ(r.certificate, was.certificate) << "seq " << was.seq;
    } else {  // decided again: signed anew, the same content
      EXPECT_EQ(content_of(r.certificate), content_of(was.certificate)) << "seq " << was.seq;
    }
  }
  EXPECT_TRUE(before.replies[1].certificate.empty());

  // New transactions: decided as the first life decides them, over the same
  // state (the state digest each certificate carries).
  for (std::size_t i = FirstLife::kDecided; i < traffic.txs.size(); ++i) {
    const auto wall_ms = kWallMs + static_cast<std::int64_t>(i);
    before.submit(traffic.txs[i], 3000 + i, wall_ms);
    second.submit(traffic.txs[i], 3000 + i, wall_ms);
    const Reply& r = second.replies[3000 + i];
    ASSERT_TRUE(r.error.empty()) << r.error;
    EXPECT_EQ(r.seq, i + 1);
    EXPECT_EQ(r.code, before.replies[3000 + i].code);
    EXPECT_EQ(content_of(r.certificate).state_digest,
              content_of(before.replies[3000 + i].certificate).state_digest)
        << "seq " << r.seq;
  }
  EXPECT_EQ(second.core().counters().fail_safe, 0u);
}

// The stored snapshot's state (card data, as large as the state) is held
// for the replicas' first hellos only: once every replica holds it or a
// later state, the front end's copy is wiped and freed, and a replica
// process started after that is repaired from a healthy replica's snapshot.
TEST(CoreRecover, TheStoredSnapshotIsReleasedOnceEveryReplicaHoldsItsState) {
  const Traffic traffic = make_traffic(480);
  FirstLife first(traffic);
  MiniCluster& before = first.cluster;
  ASSERT_TRUE(before.stored.has_value());
  MiniCluster second(traffic.cards);
  ASSERT_TRUE(first.restart(&second).is_ok());
  const std::size_t held = second.core().start_state_bytes_held();
  EXPECT_GT(held, before.stored->engine_state.size());
  second.start_replica(0);
  second.start_replica(1);
  EXPECT_EQ(second.core().replica(1).applied_through(), 400u);
  EXPECT_EQ(second.core().start_state_bytes_held(), held) << "c has not loaded it yet";
  EXPECT_EQ(nlohmann::json::parse(
                second.core().status_json(second.now_us()))["snapshots"]["start_state_bytes_held"],
            held);

  second.start_replica(2);
  EXPECT_FALSE(second.core().recovering());
  EXPECT_EQ(second.installs, (std::array<int, kReplicaCount>{1, 1, 1}));
  EXPECT_GT(second.install_parts[2], 1) << "in several parts";
  EXPECT_EQ(second.core().replica(2).applied_through(), FirstLife::kDecided);
  EXPECT_EQ(second.core().start_state_bytes_held(), 0u);
  EXPECT_EQ(nlohmann::json::parse(
                second.core().status_json(second.now_us()))["snapshots"]["start_state_bytes_held"],
            0u);

  // A hello from seq 1 outside a repair (a replica that lost its state
  // while its process went on): the journal, not the released copy.
  second.advance(1'000'000);  // a hello soon after the last range is not answered
  second.start_replica(2);
  EXPECT_EQ(second.installs[2], 1);
  EXPECT_EQ(second.node(2).core().next_seq(), FirstLife::kDecided + 1);

  // c's process ends and a new one starts: a repair, from a's or b's
  // snapshot, not the released one (nor an empty message: run() checks
  // every message a replica is sent).
  second.process_exited(2);
  second.advance(1'000'000);  // past the restart back-off
  second.process_started(2);
  second.start_replica(2);
  EXPECT_EQ(second.installs[2], 2);
  EXPECT_EQ(second.core().supervisor().state(2), repair::ReplicaState::kHealthy);
  EXPECT_EQ(second.core().replica(2).applied_through(), FirstLife::kDecided);
  for (std::size_t i = FirstLife::kDecided; i < traffic.txs.size(); ++i) {
    second.submit(traffic.txs[i], 3000 + i, kWallMs + static_cast<std::int64_t>(i));
    ASSERT_TRUE(second.replies[3000 + i].error.empty());
  }
  EXPECT_EQ(second.core().replica(2).last_verdict_seq, traffic.txs.size());
  EXPECT_EQ(second.core().counters().fail_safe, 0u);
}

// While the replicas load the stored snapshot (a large state takes a
// while), nothing is opened, replayed or new: its deadline would run out
// and turn a seq answered before into a fail-safe decline.
TEST(CoreRecover, NothingIsOpenedWhileTheReplicasLoadTheStoredSnapshot) {
  const Traffic traffic = make_traffic(460);
  FirstLife first(traffic);
  MiniCluster& before = first.cluster;
  ASSERT_TRUE(before.stored.has_value());
  MiniCluster second(traffic.cards);
  second.slow_installs = 0b111;
  ASSERT_TRUE(first.restart(&second).is_ok());
  for (int r = 0; r < kReplicaCount; ++r) second.start_replica(r);
  EXPECT_EQ(second.installs, (std::array<int, kReplicaCount>{1, 1, 1}));
  second.submit(traffic.txs[FirstLife::kDecided], 5000, kWallMs);
  EXPECT_EQ(second.replies[5000].error,
            "recovering: the replicas are loading the stored snapshot of seq 400; retry later");
  for (int i = 0; i < 5; ++i) second.advance(2'000'000);  // ten deadlines
  EXPECT_TRUE(second.core().recovering());
  EXPECT_EQ(second.core().in_flight(), 0u);
  EXPECT_TRUE(second.decisions.empty());
  second.release_installs();
  EXPECT_FALSE(second.core().recovering());
  EXPECT_EQ(second.decisions.size(), FirstLife::kDecided - 400);
  EXPECT_EQ(second.core().counters().fail_safe, 0u);
  second.submit(traffic.txs[FirstLife::kDecided], 5001, kWallMs);
  EXPECT_TRUE(second.replies[5001].error.empty()) << second.replies[5001].error;
  EXPECT_EQ(second.replies[5001].seq, FirstLife::kDecided + 1);
}

// A replica that never finishes loading the stored snapshot (hung, its
// connection up) holds the replay off for a while, not for good: once two
// voting replicas hold the state, the replay waits for the third twice as
// long as they took, 10 s at least, then goes on without it, and the third,
// missing its verdicts, is sent to repair.
TEST(CoreRecover, AReplicaThatNeverLoadsTheStoredSnapshotHoldsTheReplayOffForAWhileOnly) {
  const Traffic traffic = make_traffic(460);
  FirstLife first(traffic);
  ASSERT_TRUE(first.cluster.stored.has_value());
  // a and b load it at once, or in 8 s: c is waited for 10 s (the least),
  // or twice as long as they took.
  for (const std::uint64_t load_us : {0ull, 8'000'000ull}) {
    SCOPED_TRACE(load_us);
    const std::uint64_t patience_us = std::max<std::uint64_t>(10'000'000, 2 * load_us);
    MiniCluster second(traffic.cards);
    second.slow_installs = 0b111;
    ASSERT_TRUE(first.restart(&second).is_ok());
    for (int r = 0; r < kReplicaCount; ++r) second.start_replica(r);
    if (load_us > 0) second.advance(load_us);
    second.release_installs(0b011);  // a and b load it; c does not
    second.advance(patience_us - 100'000);
    EXPECT_TRUE(second.core().recovering()) << "c is waited for";
    EXPECT_TRUE(second.decisions.empty());
    second.submit(traffic.txs[FirstLife::kDecided], 5000, kWallMs);
    EXPECT_EQ(second.replies[5000].error,
              "recovering: the replicas are loading the stored snapshot of seq 400; retry later");
    second.advance(200'000);
    for (int i = 0; i < 5; ++i) second.advance(2'000'000);  // c's deadlines pass
    EXPECT_FALSE(second.core().recovering());
    EXPECT_EQ(second.decisions.size(), FirstLife::kDecided - 400);
    EXPECT_EQ(second.core().counters().fail_safe, 0u) << "a and b agree";
    EXPECT_NE(second.core().supervisor().state(2), repair::ReplicaState::kHealthy);
    second.submit(traffic.txs[FirstLife::kDecided], 5001, kWallMs);
    EXPECT_TRUE(second.replies[5001].error.empty()) << second.replies[5001].error;
    EXPECT_EQ(second.replies[5001].seq, FirstLife::kDecided + 1);
  }
}

// A replica that cannot install the stored snapshot (here: its checkpoint
// digest altered on the way) is sent the whole journal instead, and votes
// with the others.
TEST(CoreRecover, AReplicaThatRefusesTheStoredSnapshotIsSentTheWholeJournal) {
  const Traffic traffic = make_traffic(470);
  FirstLife first(traffic);
  MiniCluster& before = first.cluster;
  ASSERT_TRUE(before.stored.has_value());
  MiniCluster second(traffic.cards);
  const Digest& checkpoint = before.stored->checkpoint_digest;
  int altered = 0;
  second.alter_to_replica = [&](int r, std::vector<std::uint8_t>* bytes) {
    if (r != 2) return;
    const auto at = std::search(bytes->begin(), bytes->end(), checkpoint.begin(), checkpoint.end());
    if (at == bytes->end()) return;
    *at ^= 1;
    ++altered;
  };
  ASSERT_TRUE(first.restart(&second).is_ok());
  ASSERT_EQ(second.start_seq, 400u);
  for (int r = 0; r < kReplicaCount; ++r) second.start_replica(r);
  EXPECT_GT(altered, 1) << "each part of the install";
  EXPECT_EQ(altered, second.install_parts[2]);
  EXPECT_EQ(second.installs, (std::array<int, kReplicaCount>{1, 1, 1}));
  EXPECT_FALSE(second.core().recovering());
  EXPECT_EQ(second.core().replica(2).applied_through(), FirstLife::kDecided)
      << "c applied the whole journal";
  for (std::size_t i = FirstLife::kDecided; i < traffic.txs.size(); ++i) {
    second.submit(traffic.txs[i], 3000 + i, kWallMs + static_cast<std::int64_t>(i));
    ASSERT_TRUE(second.replies[3000 + i].error.empty());
  }
  EXPECT_EQ(second.core().replica(2).last_verdict_seq, traffic.txs.size());
  EXPECT_EQ(second.core().supervisor().state(2), repair::ReplicaState::kHealthy);
  EXPECT_EQ(second.core().counters().malformed_replica_messages, 0u)
      << "the refusal is of the snapshot it was sent";
  EXPECT_EQ(second.core().counters().fail_safe, 0u);
  for (const auto& [seq, d] : second.decisions) {
    EXPECT_EQ(d.divergent, "") << "seq " << seq;
  }
}

// A stored snapshot that does not hold, or whose seqs' answers are not all
// kept, is not used: the whole journal is replayed, as without one.
TEST(CoreRecover, AStoredSnapshotThatDoesNotHoldIsNotUsed) {
  const Traffic traffic = make_traffic(450);
  FirstLife first(traffic);
  MiniCluster& before = first.cluster;
  ASSERT_TRUE(before.stored.has_value());
  struct Case {
    std::string name;
    journal::StoredSnapshot stored;
    MemoryArchive kept;
    std::vector<journal::Entry> entries;
  };
  std::vector<Case> cases;
  const auto add = [&](std::string name) -> Case& {
    return cases.emplace_back(
        Case{std::move(name), *before.stored, before.archive(), first.entries});
  };
  add("a byte of the state changed").stored.engine_state[100] ^= 1;
  // The format version's low byte made 2 (a build before format 3's): refused
  // by the format check, and by the digest if that were gone (the check
  // itself: CheckpointDigest.RefusesBytesThatAreNotAnEngineState).
  add("its state of format 2").stored.engine_state[18 + 3] = 2;
  add("another state digest").stored.state_digest[0] ^= 1;
  add("another checkpoint digest").stored.checkpoint_digest[0] ^= 1;
  add("a bit of its certificate changed").stored.certificate[60] ^= 1;
  add("another seq than its certificate's").stored.seq = 300;
  add("its seq beyond the journal, cut by a power cut").entries.resize(350);
  add("an answer up to it not kept").kept.keep_through(122);
  for (Case& c : cases) {
    SCOPED_TRACE(c.name);
    MiniCluster second(traffic.cards);
    ASSERT_TRUE(second.recover(c.entries, before.fail_safe, &c.stored, &c.kept).is_ok());
    EXPECT_EQ(second.start_seq, 0u);
    for (int r = 0; r < kReplicaCount; ++r) second.start_replica(r);
    EXPECT_EQ(second.installs, (std::array<int, kReplicaCount>{0, 0, 0}));
    ASSERT_EQ(second.decisions.size(), c.entries.size()) << "all decided again";
    for (const auto& [seq, d] : second.decisions) {
      EXPECT_EQ(d.code, before.decisions[seq].code) << "seq " << seq;
    }
  }
}

// The certificate seq `seq` gets from a healthy front end that sequences
// `txs` (index into traffic) at the given wall clock times.
std::vector<std::uint8_t> certificate_from(
    const Traffic& traffic, const std::vector<std::pair<std::size_t, std::int64_t>>& txs,
    std::uint64_t seq) {
  MiniCluster cluster(traffic.cards);
  for (int r = 0; r < kReplicaCount; ++r) cluster.start_replica(r);
  for (std::size_t i = 0; i < txs.size(); ++i) {
    cluster.submit(traffic.txs[txs[i].first], i + 1, txs[i].second);
  }
  std::vector<std::uint8_t> certificate;
  EXPECT_TRUE(cluster.archive().certificate(seq, &certificate).is_ok());
  return certificate;
}

// A certificate made here: `content` signed by replicas a and b.
std::vector<std::uint8_t> signed_by_a_and_b(const voter::VerdictContent& content) {
  std::vector<voter::ReplicaVerdict> signers;
  for (const int r : {0, 1}) {
    std::array<voter::ReplicaVerdict, 1> one{};
    one[0].replica = r;
    one[0].content = content;
    one[0].fingerprint = "made by the test";
    wire::sign_verdict_batch(one, sim::replica_signing_key(r));
    signers.push_back(one[0]);
  }
  return wire::build_certificate(content, signers);
}

// Two faults at once: after a restart, the two replicas that replay the
// journal disagree (one flips every decision) and the third is down, so the
// replay cannot decide again what was answered before. A repeated id is
// owed the first answer (rules.md section 7): the certificate it had, from
// the audit store (Archive::earlier_certificate), when that holds for this
// very seq, ts and transaction; a fail-safe decline otherwise.
TEST(CoreRecover, ASeqTheReplayCannotDecideAgainGetsItsCertifiedAnswerFromBefore) {
  const Traffic traffic = make_traffic(8);
  MiniCluster first(traffic.cards);
  for (int r = 0; r < kReplicaCount; ++r) first.start_replica(r);
  for (std::uint64_t i = 0; i < 8; ++i) {
    first.submit(traffic.txs[i], i + 1, kWallMs + static_cast<std::int64_t>(i));
  }
  std::map<std::uint64_t, std::vector<std::uint8_t>> own;
  for (std::uint64_t seq = 1; seq <= 8; ++seq) {
    ASSERT_TRUE(first.archive().certificate(seq, &own[seq]).is_ok());
    ASSERT_FALSE(first.decisions[seq].fail_safe);
  }
  std::vector<std::uint8_t> tampered = own[5];
  tampered[tampered.size() / 2] ^= 0x01;
  // Seq 1: its own certificate. Seq 2: its transaction and ts at another
  // seq. Seq 3: its seq and transaction at another ts. Seq 4: its seq and ts
  // on another transaction. Seq 5: its own with a bit changed. Seq 6: its
  // own, but it was declined fail-safe before (the answer log says so).
  // Seq 7: one made here for its seq, ts and transaction, but of another
  // rules version; seq 8: the same of this version (so the one of seq 7 is
  // refused for its version alone).
  const std::int64_t t = kWallMs;
  const auto made_for = [&](std::uint64_t seq, std::uint32_t rules_version) {
    voter::VerdictContent content;
    content.seq = seq;
    content.ts_ms = t + static_cast<std::int64_t>(seq - 1);
    content.tx_digest = digest_of(traffic.txs[seq - 1]);
    content.code = ResponseCode::kInsufficientFunds;
    content.rules_version = rules_version;
    return signed_by_a_and_b(content);
  };
  std::map<std::uint64_t, std::vector<std::uint8_t>> earlier = {
      {1, own[1]},
      {2, certificate_from(traffic, {{1, t + 1}}, 1)},
      {3, certificate_from(traffic, {{0, t}, {1, t + 1}, {2, t + 1000}}, 3)},
      {4, certificate_from(traffic, {{0, t}, {1, t + 1}, {2, t + 2}, {5, t + 3}}, 4)},
      {5, tampered},
      {6, own[6]},
      {7, made_for(7, rules::kRulesVersion + 1)},
      {8, made_for(8, rules::kRulesVersion)}};
  MiniCluster second(traffic.cards);
  second.archive().set_earlier_certificates(earlier);
  ASSERT_TRUE(second.recover(first.journal(), {{6, digest_of(traffic.txs[5]), "91"}}).is_ok());
  second.process_exited(2);
  second.start_replica(0);
  second.start_replica(
      1, replica::Fault{.kind = replica::Fault::Kind::kFlip, .probability_ppm = 1'000'000});
  second.advance(10'000'000);  // past every deadline: c never answers
  ASSERT_EQ(second.decisions.size(), 8u);

  EXPECT_EQ(second.decisions[1].code, first.decisions[1].code);
  EXPECT_FALSE(second.decisions[1].fail_safe);
  EXPECT_EQ(second.decisions[1].certificate, own[1]);
  EXPECT_EQ(second.decisions[1].agree, first.decisions[1].agree);
  for (const std::uint64_t seq : {2u, 3u, 4u, 5u, 7u}) {
    EXPECT_TRUE(second.decisions[seq].fail_safe) << "seq " << seq;
    EXPECT_EQ(second.decisions[seq].code, "96") << "seq " << seq;
  }
  EXPECT_EQ(second.decisions[6].code, "91") << "the journalled decline comes first";
  EXPECT_EQ(second.decisions[8].code, "51");
  EXPECT_EQ(second.core().counters().earlier_answers, 2u);
  ASSERT_EQ(second.fail_safe.size(), 5u) << "the new fail-safe answers go to the answer log";
  EXPECT_EQ(second.fail_safe[0].seq, 2u);

  // A repeated id gets the first answer, with its certificate.
  second.submit(traffic.txs[0], 100, kWallMs);
  ASSERT_EQ(second.replies.count(100), 1u);
  EXPECT_TRUE(second.replies[100].replayed);
  EXPECT_EQ(second.replies[100].seq, 1u);
  EXPECT_EQ(second.replies[100].code, first.replies[1].code);
  std::vector<std::uint8_t> kept;
  ASSERT_TRUE(second.archive().certificate(1, &kept).is_ok());
  EXPECT_EQ(kept, own[1]);
}

// A journal holding `traffic`, one ms apart.
std::vector<journal::Entry> journal_of(const Traffic& traffic) {
  std::vector<journal::Entry> entries;
  for (std::size_t i = 0; i < traffic.txs.size(); ++i) {
    entries.push_back({i + 1, kWallMs + static_cast<std::int64_t>(i), traffic.txs[i]});
  }
  return entries;
}

// A long journal goes to the replicas in windows, each seq's deadline
// counted from when it is sent; nothing is sent until every voting replica
// is connected.
TEST(CoreRecover, LongReplayIsPacedAndWaitsForTheReplicas) {
  const Traffic traffic = make_traffic(5000);
  const std::vector<journal::Entry> entries = journal_of(traffic);
  MiniCluster cluster(traffic.cards);
  ASSERT_TRUE(cluster.recover(entries, {}).is_ok());
  EXPECT_EQ(cluster.core().entries_in_memory(), 0u) << "read back as the replay reaches them";
  cluster.start_replica(0);
  cluster.start_replica(1);
  cluster.advance(3'000'000);
  EXPECT_EQ(cluster.core().replay_sent_seq(), 0u) << "replica c is still starting";
  EXPECT_EQ(cluster.core().counters().fail_safe, 0u);

  // A fetch (a faulty replica's may ask for anything) of seqs the replay
  // has not sent gets nothing: the voter has not opened them, so verdicts on
  // them would be lost.
  flatbuffers::FlatBufferBuilder fbb;
  const auto fetch = wire::CreateFetch(fbb, 1, entries.size());
  wire::FromReplicaBuilder m(fbb);
  m.add_fetch(fetch);
  fbb.Finish(m.Finish());
  Outbox out;
  cluster.core().on_replica_message(0, {fbb.GetBufferPointer(), fbb.GetSize()}, cluster.now_us(),
                                    &out);
  EXPECT_TRUE(out.to_replicas.empty());
  EXPECT_EQ(cluster.core().counters().entries_read_back, 0u);
  EXPECT_EQ(cluster.core().entries_in_memory(), 0u);

  // A new id is told what the recovery is doing, not that replica a, just
  // heard from and 5,000 seqs behind (those to replay), overloads the front
  // end.
  Transaction fresh = traffic.txs[0];
  fresh.id = "fresh-during-the-replay";
  cluster.submit(fresh, 9001, kWallMs);
  EXPECT_EQ(cluster.replies[9001].error.rfind("recovering: ", 0), 0u)
      << cluster.replies[9001].error;

  cluster.start_replica(2);
  EXPECT_FALSE(cluster.core().recovering());
  EXPECT_EQ(cluster.decisions.size(), entries.size());
  EXPECT_EQ(cluster.core().counters().fail_safe, 0u);
  EXPECT_LE(cluster.max_in_flight_seen(), 1024u);
  EXPECT_GT(cluster.max_in_flight_seen(), 0u);
  // At most the window being decided, the next part read, and the newest
  // kept (16 here): never the whole journal.
  EXPECT_LE(cluster.max_entries_in_memory_seen(), 2 * 1024u + 16);
  EXPECT_GT(cluster.max_entries_in_memory_seen(), 0u);
}

// Two replicas are lost before the replay starts: with one voting replica
// every seq sent would be declined 91 at once, though it may have been
// approved before the restart. The replay waits for the repairs instead (the
// fresh processes hold the start state, and nothing has been sent: they
// rejoin at once), then decides every seq as before.
TEST(CoreRecover, TheReplayWaitsForTwoVotingReplicas) {
  const Traffic traffic = make_traffic(3000);
  const std::vector<journal::Entry> entries = journal_of(traffic);
  MiniCluster cluster(traffic.cards);
  ASSERT_TRUE(cluster.recover(entries, {}).is_ok());
  cluster.start_replica(0);
  cluster.process_exited(1);
  cluster.process_exited(2);
  cluster.advance(100'000);
  EXPECT_EQ(cluster.core().replay_sent_seq(), 0u);
  EXPECT_EQ(cluster.core().counters().fail_safe, 0u);
  EXPECT_EQ(cluster.core().entries_in_memory(), 0u);

  cluster.advance(1'000'000);  // past the restart back-off
  for (const int r : {1, 2}) {
    cluster.process_started(r);
    cluster.start_replica(r);
    EXPECT_EQ(cluster.core().supervisor().state(r), repair::ReplicaState::kHealthy) << r;
  }
  EXPECT_FALSE(cluster.core().recovering());
  EXPECT_EQ(cluster.decisions.size(), entries.size());
  EXPECT_EQ(cluster.core().counters().fail_safe, 0u);
}

// The journal cannot be read back when the replay needs its next part: the
// replay waits there and goes on once it can, nothing decided twice or
// skipped.
TEST(CoreRecover, AReplayThatCannotReadTheJournalWaitsAndGoesOn) {
  const Traffic traffic = make_traffic(3000);
  const std::vector<journal::Entry> entries = journal_of(traffic);
  MiniCluster cluster(traffic.cards);
  ASSERT_TRUE(cluster.recover(entries, {}).is_ok());
  cluster.archive().set_failing(true);
  for (int r = 0; r < kReplicaCount; ++r) cluster.start_replica(r);
  cluster.advance(2'000'000);
  EXPECT_TRUE(cluster.core().recovering());
  EXPECT_EQ(cluster.core().replay_sent_seq(), 0u);
  EXPECT_EQ(cluster.decision_records(), 0u);
  EXPECT_EQ(cluster.core().counters().fail_safe, 0u) << "nothing was opened, so nothing expired";
  cluster.archive().set_failing(false);
  cluster.advance(1'000);
  EXPECT_FALSE(cluster.core().recovering());
  EXPECT_EQ(cluster.decisions.size(), entries.size());
  EXPECT_EQ(cluster.decision_records(), entries.size()) << "each seq decided once";
  EXPECT_EQ(cluster.core().counters().fail_safe, 0u);
}

TEST(CoreRecover, RefusesAJournalThatContradictsItself) {
  const Traffic traffic = make_traffic(3);
  MiniCluster cluster(traffic.cards);
  std::vector<journal::Entry> entries = {{1, kWallMs, traffic.txs[0]},
                                         {2, kWallMs, traffic.txs[0]}};
  const Status s = cluster.recover(entries, {});
  EXPECT_EQ(s.code(), Status::Code::kCorruption);
  EXPECT_NE(s.message().find("again at seq 2"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace triad::frontend
