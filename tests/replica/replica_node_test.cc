// Tests of ReplicaNode (src/replica/node.h): the replica's message handling
// without its socket, stepped with bytes and time as triad-replica's ZeroMQ
// shell and the simulator step it. Hello, in-order apply with gap detection
// and Fetch, verdict batching, the idle Hello, control messages and the
// faults that live in the I/O loop (crash, hang, delay).
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crypto/hash.h"
#include "replica/node.h"
#include "rules/engine.h"
#include "sample/sample.h"
#include "triad/transaction.h"
#include "wire/codec.h"

namespace triad::replica {
namespace {

using Bytes = std::vector<std::uint8_t>;
constexpr std::uint64_t kT0 = 5'000'000'000;  // a monotonic clock is never near zero

struct World {
  rules::CardFile cards;
  Digest card_digest{};
  std::vector<Transaction> traffic;
};

World make_world(std::size_t card_count, std::size_t transaction_count) {
  World out;
  sample::Options options;
  options.seed = 3;
  options.card_count = card_count;
  options.transaction_count = transaction_count;
  const std::string text = sample::generate_card_file(options);
  EXPECT_TRUE(rules::parse_card_file(text, &out.cards).is_ok());
  out.card_digest = crypto::sha256("triad-state-v1" + text);
  for (const std::string& line : sample::generate_traffic(options)) {
    Transaction tx;
    EXPECT_TRUE(parse_transaction_json(line, &tx).is_ok());
    out.traffic.push_back(std::move(tx));
  }
  return out;
}

const World& world() {
  static const World w = make_world(30, 40);
  return w;
}

std::unique_ptr<ReplicaNode> make_node(const std::string& fault = "none", const World& w = world(),
                                       std::uint64_t checkpoint_interval = 10,
                                       std::size_t snapshot_part_bytes = wire::kSnapshotPartBytes,
                                       std::uint64_t launch = 0) {
  Fault f;
  EXPECT_TRUE(parse_fault(fault, &f).is_ok());
  crypto::Ed25519Seed seed;
  seed.fill(0x42);
  crypto::SigningKey key;
  EXPECT_TRUE(crypto::SigningKey::from_seed(seed, &key).is_ok());
  auto core =
      std::make_unique<ReplicaCore>(1, w.cards, w.card_digest, std::move(key),
                                    crypto::SymmetricKey::generate(), f, 7, checkpoint_interval);
  return std::make_unique<ReplicaNode>(std::move(core), kT0, snapshot_part_bytes, launch);
}

// A ToReplica with the entries seq from..to (of the sample traffic).
Bytes entries(std::uint64_t from, std::uint64_t to, const World& w = world()) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<wire::Sequenced>> list;
  for (std::uint64_t seq = from; seq <= to; ++seq) {
    const Transaction& tx = w.traffic[seq - 1];
    list.push_back(wire::CreateSequenced(fbb, seq, *tx.ts, wire::build_transaction(fbb, tx)));
  }
  fbb.Finish(wire::CreateToReplica(fbb, fbb.CreateVector(list)));
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

Bytes control(const std::string* inject, bool snapshot_request) {
  flatbuffers::FlatBufferBuilder fbb;
  const auto text =
      inject != nullptr ? fbb.CreateString(*inject) : flatbuffers::Offset<flatbuffers::String>();
  wire::ToReplicaBuilder b(fbb);
  b.add_inject(text);
  b.add_snapshot_request(snapshot_request);
  fbb.Finish(b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

// What one FromReplica message says.
struct Said {
  std::optional<std::uint64_t> hello_next_seq;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> fetch;
  std::vector<std::uint64_t> verdict_seqs;
  std::uint64_t applied_through = 0;
  std::optional<std::uint64_t> snapshot_seq;
  std::optional<std::uint64_t> refused_seq;
  std::string refused_reason;
  std::optional<std::pair<std::uint64_t, std::uint64_t>> install_ack;  // (seq, gathered)
  std::uint64_t launch = 0;
};

Said read(const Bytes& bytes) {
  const wire::AlignedFrame frame(bytes.data(), bytes.size());
  const wire::FromReplica* msg = nullptr;
  EXPECT_TRUE(wire::verify_from_replica(frame.bytes(), &msg).is_ok());
  Said s;
  if (msg == nullptr) return s;
  if (msg->hello() != nullptr) s.hello_next_seq = msg->hello()->next_seq();
  if (msg->fetch() != nullptr) s.fetch = {msg->fetch()->from_seq(), msg->fetch()->to_seq()};
  if (msg->batches() != nullptr) {
    for (const wire::VerdictBatch* b : *msg->batches()) {
      for (const wire::Verdict* v : *b->verdicts()) s.verdict_seqs.push_back(v->seq());
    }
  }
  s.applied_through = msg->applied_through();
  if (msg->snapshot() != nullptr) s.snapshot_seq = msg->snapshot()->seq();
  if (msg->install_refused() != nullptr) {
    s.refused_seq = msg->install_refused()->seq();
    s.refused_reason = std::string(wire::as_view(msg->install_refused()->reason()));
  }
  if (msg->install_ack() != nullptr) {
    s.install_ack = {msg->install_ack()->seq(), msg->install_ack()->gathered()};
  }
  s.launch = msg->launch();
  return s;
}

// The ToReplica that installs the snapshot part a FromReplica message carries.
Bytes install_of(const Bytes& from_replica) {
  const wire::AlignedFrame frame(from_replica.data(), from_replica.size());
  const wire::FromReplica* msg = nullptr;
  EXPECT_TRUE(wire::verify_from_replica(frame.bytes(), &msg).is_ok());
  if (msg == nullptr || msg->snapshot() == nullptr) return {};
  const wire::Snapshot& snap = *msg->snapshot();
  flatbuffers::FlatBufferBuilder fbb;
  const auto vec = [&fbb](const flatbuffers::Vector<std::uint8_t>* v) {
    return fbb.CreateVector(v->data(), v->size());
  };
  const auto copy = wire::CreateSnapshot(fbb, snap.seq(), vec(snap.state_digest()),
                                         vec(snap.checkpoint_digest()), vec(snap.engine_state()),
                                         snap.engine_state_offset(), snap.engine_state_bytes());
  wire::ToReplicaBuilder b(fbb);
  b.add_install(copy);
  fbb.Finish(b.Finish());
  return {fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()};
}

std::vector<std::uint64_t> seqs(std::uint64_t from, std::uint64_t to) {
  std::vector<std::uint64_t> out;
  for (std::uint64_t s = from; s <= to; ++s) out.push_back(s);
  return out;
}

TEST(ReplicaNode, SaysHelloAndAnswersABatchInOneMessage) {
  auto node = make_node();
  ReplicaNode::Messages out;
  node->start(kT0, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).hello_next_seq, 1u);
  out.clear();
  node->on_message(entries(1, 4), kT0 + 10, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(1, 4));
  EXPECT_EQ(node->core().next_seq(), 5u);
  out.clear();
  node->on_message(entries(2, 4), kT0 + 20, &out);  // a resend: nothing new
  EXPECT_TRUE(out.empty());
}

// A long burst's verdicts go out kMaxVerdictsPerMessage at a time, in
// order, as they are produced; the rest at the flush.
TEST(ReplicaNode, ALongBurstAnswersInMessagesOfBoundedSize) {
  constexpr std::size_t kCap = ReplicaNode::kMaxVerdictsPerMessage;
  const World w = make_world(30, 2 * kCap + 100);
  auto node = make_node("none", w, 1000);
  ReplicaNode::Messages out;
  node->receive(entries(1, kCap + 50, w), kT0, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(1, kCap));
  node->receive(entries(kCap + 51, 2 * kCap + 100, w), kT0, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(read(out[1]).verdict_seqs, seqs(kCap + 1, 2 * kCap));
  node->flush(&out);
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(read(out[2]).verdict_seqs, seqs(2 * kCap + 1, 2 * kCap + 100));
}

// Delayed verdicts released together are capped the same way.
TEST(ReplicaNode, DelayedVerdictsReleasedTogetherGoOutInBoundedMessages) {
  constexpr std::size_t kCap = ReplicaNode::kMaxVerdictsPerMessage;
  const World w = make_world(30, kCap + 10);
  auto node = make_node("delay:50", w, 1000);
  ReplicaNode::Messages out;
  node->on_message(entries(1, kCap + 10, w), kT0, &out);
  EXPECT_TRUE(out.empty());
  node->on_time(kT0 + 50'000, &out);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(1, kCap));
  EXPECT_EQ(read(out[1]).verdict_seqs, seqs(kCap + 1, kCap + 10));
}

TEST(ReplicaNode, HoldsEarlyEntriesFetchesTheGapAtMostEvery200ms) {
  auto node = make_node();
  ReplicaNode::Messages out;
  node->on_message(entries(1, 2), kT0, &out);
  out.clear();
  node->on_message(entries(5, 5), kT0 + 1000, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).fetch, (std::pair<std::uint64_t, std::uint64_t>(3, 4)));
  out.clear();
  node->on_message(entries(6, 6), kT0 + 2000, &out);  // still within 200 ms: no second Fetch
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(node->pending_count(), 2u);
  node->on_message(entries(7, 7), kT0 + 1000 + ReplicaNode::kFetchIntervalUs + 1, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).fetch, (std::pair<std::uint64_t, std::uint64_t>(3, 6)));
  out.clear();
  node->on_message(entries(3, 4), kT0 + 300'000, &out);  // the gap filled: 3..7 at once
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(3, 7));
  EXPECT_EQ(node->pending_count(), 0u);
}

// Early entries are held up to a byte bound too, not only a count: a
// transaction can carry 64 KiB of text. Past it they are dropped, and the
// gap is fetched again as usual.
TEST(ReplicaNode, HoldsEarlyEntriesUpToAByteBound) {
  auto node = make_node();
  ReplicaNode::Messages out;
  const std::string text(60'000, 'm');
  constexpr std::uint64_t kPerMessage = 200;
  const std::uint64_t fill = ReplicaNode::kMaxPendingBytes / text.size() + kPerMessage;
  for (std::uint64_t first = 2; first < 2 + fill; first += kPerMessage) {
    flatbuffers::FlatBufferBuilder fbb;
    std::vector<flatbuffers::Offset<wire::Sequenced>> list;
    for (std::uint64_t seq = first; seq < first + kPerMessage; ++seq) {
      Transaction tx = world().traffic[0];
      tx.merchant = text;
      list.push_back(wire::CreateSequenced(fbb, seq, *tx.ts, wire::build_transaction(fbb, tx)));
    }
    fbb.Finish(wire::CreateToReplica(fbb, fbb.CreateVector(list)));
    node->on_message({fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize()}, kT0, &out);
  }
  EXPECT_LE(node->pending_bytes(), ReplicaNode::kMaxPendingBytes);
  EXPECT_GT(node->pending_bytes(), ReplicaNode::kMaxPendingBytes - 2 * text.size());
  EXPECT_LT(node->pending_count(), fill) << "some were dropped";
  out.clear();
  node->on_message(entries(1, 1), kT0 + 1000, &out);  // seq 1: the held ones follow
  EXPECT_EQ(node->pending_count(), 0u);
  EXPECT_EQ(node->pending_bytes(), 0u);
}

// A typical entry held early counts at least its Transaction object (a
// dozen optional strings: 440-600 bytes by build) and its map node, not
// only its text: counting 128 bytes and the text put a third of its cost
// against the bound.
TEST(ReplicaNode, AnEarlyEntryCountsItsObjectsNotOnlyItsText) {
  auto node = make_node();
  ReplicaNode::Messages out;
  node->on_message(entries(2, 2), kT0, &out);  // seq 1 missing: held
  ASSERT_EQ(node->pending_count(), 1u);
  EXPECT_GE(node->pending_bytes(), sizeof(Transaction) + 64);
}

TEST(ReplicaNode, SaysHelloWhenIdleSoALostTailIsResent) {
  auto node = make_node();
  ReplicaNode::Messages out;
  node->start(kT0, &out);
  node->on_message(entries(1, 3), kT0 + 100, &out);
  out.clear();
  const std::optional<std::uint64_t> due = node->next_timer_us();
  ASSERT_TRUE(due.has_value());
  EXPECT_EQ(*due, kT0 + 100 + ReplicaNode::kIdleHelloUs + 1);
  node->on_time(*due - 1, &out);
  EXPECT_TRUE(out.empty());
  node->on_time(*due, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).hello_next_seq, 4u);
  EXPECT_EQ(node->next_timer_us(), *due + ReplicaNode::kIdleHelloUs + 1);
}

TEST(ReplicaNode, CrashFlushesTheVerdictsUpToNThenDoesNothing) {
  auto node = make_node("crash:3");
  ReplicaNode::Messages out;
  node->on_message(entries(1, 6), kT0, &out);
  EXPECT_TRUE(node->crashed());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(1, 3));
  out.clear();
  node->on_message(entries(7, 8), kT0 + 10, &out);
  node->on_time(kT0 + 10'000'000, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_FALSE(node->next_timer_us().has_value());
}

TEST(ReplicaNode, HangStopsAnsweringUntilANewFaultIsInjected) {
  auto node = make_node("hang:2");
  ReplicaNode::Messages out;
  node->on_message(entries(1, 4), kT0, &out);
  EXPECT_TRUE(node->hung());
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(1, 2));
  out.clear();
  node->on_time(kT0 + 10'000'000, &out);  // no idle Hello while hung
  EXPECT_TRUE(out.empty());
  const std::string none = "none";
  node->on_message(control(&none, false), kT0 + 10'000'001, &out);
  EXPECT_FALSE(node->hung());
  node->on_message(entries(4, 5), kT0 + 10'000'002, &out);  // seq 3 was applied before hanging
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(4, 5));
}

// The verdicts say what the state has applied when they leave: with none
// held back, through their last seq; with the delay fault, through seqs
// whose verdicts are still held (the front end's admission waits for a
// replica's work, not for its late answers).
TEST(ReplicaNode, DelayHoldsVerdictsUntilTheirTime) {
  auto node = make_node("delay:50");
  ReplicaNode::Messages out;
  node->on_message(entries(1, 2), kT0, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(node->next_timer_us(), kT0 + 50'000);
  node->on_time(kT0 + 49'999, &out);
  EXPECT_TRUE(out.empty());
  node->on_message(entries(3, 5), kT0 + 49'999, &out);
  node->on_time(kT0 + 50'000, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(1, 2));
  EXPECT_EQ(read(out[0]).applied_through, 5u);

  auto prompt = make_node();
  out.clear();
  prompt->on_message(entries(1, 3), kT0, &out);
  prompt->on_time(kT0, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(1, 3));
  EXPECT_EQ(read(out[0]).applied_through, 3u);
}

TEST(ReplicaNode, AnswersASnapshotRequestAndCountsMalformedMessages) {
  auto node = make_node();
  ReplicaNode::Messages out;
  node->on_message(entries(1, 12), kT0, &out);
  out.clear();
  node->on_message(control(nullptr, true), kT0 + 1, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).snapshot_seq, 10u);  // the latest checkpoint (every 10)
  out.clear();
  const Bytes junk = {1, 2, 3, 4, 5};
  node->on_message(junk, kT0 + 2, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(node->malformed_messages(), 1u);
}

// A snapshot a replica cannot install (here, one taken over another card
// file) leaves its state as it was, and it says why: the front end fails the
// repair attempt at once rather than at the repair's timeout. The same
// snapshot installs in a replica of the source's card file.
TEST(ReplicaNode, RefusesASnapshotItCannotInstallAndSaysWhy) {
  auto source = make_node();
  ReplicaNode::Messages out;
  source->on_message(entries(1, 12), kT0, &out);
  out.clear();
  source->on_message(control(nullptr, true), kT0 + 1, &out);
  ASSERT_EQ(out.size(), 1u);
  const Bytes install = install_of(out[0]);
  ASSERT_FALSE(install.empty());

  static const World other = make_world(31, 40);
  auto node = make_node("none", other);
  out.clear();
  node->on_message(install, kT0 + 2, &out);
  ASSERT_EQ(out.size(), 1u);
  const Said refused = read(out[0]);
  EXPECT_EQ(refused.refused_seq, 10u);
  EXPECT_NE(refused.refused_reason.find("does not match the card file"), std::string::npos)
      << refused.refused_reason;
  EXPECT_FALSE(refused.hello_next_seq);
  out.clear();
  node->on_message(entries(1, 1, other), kT0 + 3, &out);
  node->on_time(kT0 + 4, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(1, 1)) << "still at its own start state";

  auto same = make_node();
  out.clear();
  same->on_message(install, kT0 + 2, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).hello_next_seq, 11u);
  EXPECT_FALSE(read(out[0]).refused_seq);
}

// Asks `source` for its snapshot at `now_us` and lets it copy it, a share
// at each turn, as its shell would; what it sent in *out.
void ask_for_snapshot(ReplicaNode* source, std::uint64_t now_us, ReplicaNode::Messages* out) {
  source->on_message(control(nullptr, true), now_us, out);
  while (source->core().copying_snapshot()) {
    ASSERT_EQ(source->next_timer_us(), 0u) << "a share at each turn";
    source->on_time(now_us, out);
  }
}

// A node with checkpoints every 10 seqs, 12 applied, asked at kT0 + 1 for
// its snapshot in parts of `part_bytes`; what it sent then in *out.
std::unique_ptr<ReplicaNode> asked_for_its_snapshot(std::size_t part_bytes,
                                                    ReplicaNode::Messages* out) {
  auto source = make_node("none", world(), 10, part_bytes);
  source->on_message(entries(1, 12), kT0, out);
  out->clear();
  ask_for_snapshot(source.get(), kT0 + 1, out);
  return source;
}

// The snapshot that parts (all the parts of a run, in order) carry.
ReplicaCore::Snapshot snapshot_in(const ReplicaNode::Messages& parts) {
  ReplicaCore::Snapshot snapshot;
  for (const Bytes& m : parts) {
    const wire::AlignedFrame frame(m.data(), m.size());
    const wire::FromReplica* msg = nullptr;
    EXPECT_TRUE(wire::verify_from_replica(frame.bytes(), &msg).is_ok());
    if (msg == nullptr || msg->snapshot() == nullptr) continue;
    const wire::Snapshot& part = *msg->snapshot();
    const auto digest_of = [](const flatbuffers::Vector<std::uint8_t>* v) {
      Digest d{};
      EXPECT_EQ(v->size(), d.size());
      std::copy_n(v->data(), std::min<std::size_t>(v->size(), d.size()), d.begin());
      return d;
    };
    EXPECT_EQ(part.engine_state_offset(), snapshot.engine_state.size());
    if (snapshot.engine_state.empty()) {
      snapshot.seq = part.seq();
      snapshot.state_digest = digest_of(part.state_digest());
      snapshot.checkpoint_digest = digest_of(part.checkpoint_digest());
    } else {
      EXPECT_EQ(part.seq(), snapshot.seq);
      EXPECT_EQ(digest_of(part.state_digest()), snapshot.state_digest);
      EXPECT_EQ(digest_of(part.checkpoint_digest()), snapshot.checkpoint_digest);
    }
    const auto slice = wire::as_bytes(part.engine_state());
    snapshot.engine_state.append(slice.begin(), slice.end());
  }
  return snapshot;
}

// Acknowledges each part of `snapshot` in turn as the front end would, so
// that `source` sends them all (into *out).
void acknowledge_each_part(ReplicaNode* source, const ReplicaCore::Snapshot& snapshot,
                           std::size_t part_bytes, std::uint64_t now_us,
                           ReplicaNode::Messages* out) {
  for (std::size_t acked = 1; acked * part_bytes < snapshot.engine_state.size(); ++acked) {
    source->on_message(wire::encode_snapshot_ack(wire::SnapshotCarrier::kFromReplica, snapshot.seq,
                                                 acked * part_bytes),
                       now_us, out);
  }
}

// Every message a process sends says which process of its replica it is
// (the launch it was started with), so that the front end tells a reaped
// process's last messages from its successor's: hello, verdicts, fetch,
// snapshot parts, and the acknowledgements and refusal of an install.
TEST(ReplicaNode, EveryMessageSaysWhichProcessOfTheReplicaSentIt) {
  constexpr std::size_t kPartBytes = 64;
  auto source = make_node("none", world(), 10, kPartBytes, /*launch=*/7);
  ReplicaNode::Messages out;
  source->start(kT0, &out);
  source->on_message(entries(1, 12), kT0, &out);
  source->on_message(entries(15, 15), kT0 + 1, &out);  // a gap: a fetch
  ReplicaNode::Messages parts;
  ask_for_snapshot(source.get(), kT0 + 2, &parts);
  ASSERT_FALSE(parts.empty());
  const std::uint64_t snapshot_seq = read(parts.front()).snapshot_seq.value_or(0);
  for (std::size_t acked = 1; acked <= parts.size(); ++acked) {  // the rest, as acknowledged
    source->on_message(wire::encode_snapshot_ack(wire::SnapshotCarrier::kFromReplica, snapshot_seq,
                                                 acked * kPartBytes),
                       kT0 + 3, &parts);
  }
  ASSERT_GT(parts.size(), 2u);
  out.insert(out.end(), parts.begin(), parts.end());
  std::size_t hellos = 0, verdicts = 0, fetches = 0, snapshot_parts = 0;
  for (const Bytes& m : out) {
    const Said said = read(m);
    EXPECT_EQ(said.launch, 7u);
    hellos += said.hello_next_seq ? 1u : 0u;
    verdicts += said.verdict_seqs.empty() ? 0u : 1u;
    fetches += said.fetch ? 1u : 0u;
    snapshot_parts += said.snapshot_seq ? 1u : 0u;
  }
  EXPECT_EQ(hellos, 1u);
  EXPECT_GE(verdicts, 1u);
  EXPECT_EQ(fetches, 1u);
  EXPECT_EQ(snapshot_parts, parts.size());

  auto installed = make_node("none", world(), 10, kPartBytes, /*launch=*/9);
  static const World other = make_world(31, 40);
  auto refusing = make_node("none", other, 10, kPartBytes, /*launch=*/9);
  std::size_t acks = 0, refusals = 0;
  for (ReplicaNode* node : {installed.get(), refusing.get()}) {
    ReplicaNode::Messages answers;
    for (const Bytes& part : parts) node->on_message(install_of(part), kT0 + 4, &answers);
    ASSERT_FALSE(answers.empty());
    for (const Bytes& m : answers) {
      const Said said = read(m);
      EXPECT_EQ(said.launch, 9u);
      acks += said.install_ack ? 1u : 0u;
      refusals += said.refused_seq ? 1u : 0u;
    }
  }
  EXPECT_GE(acks, 1u);
  EXPECT_EQ(refusals, 1u);
}

void expect_same(const ReplicaCore::Snapshot& got, const ReplicaCore::Snapshot& want) {
  EXPECT_EQ(got.seq, want.seq);
  EXPECT_EQ(got.state_digest, want.state_digest);
  EXPECT_EQ(got.checkpoint_digest, want.checkpoint_digest);
  EXPECT_EQ(got.engine_state, want.engine_state);
}

// A snapshot is copied out of the kept pages a share at each turn (a share
// is what the window has in flight), the replica answering between shares,
// and its first parts go once the copy is whole: the state of the
// checkpoint it was asked at, whatever it applied meanwhile, a later
// checkpoint included.
TEST(ReplicaNode, ASnapshotIsCopiedAShareAtATimeBetweenVerdicts) {
  constexpr std::size_t kPartBytes = 64;
  constexpr std::size_t kShareBytes = ReplicaNode::kSnapshotCopyStepParts * kPartBytes;
  auto source = make_node("none", world(), 10, kPartBytes);
  ReplicaNode::Messages out;
  source->on_message(entries(1, 12), kT0, &out);
  const ReplicaCore::Snapshot at_10 = source->core().latest_snapshot();
  ASSERT_EQ(at_10.seq, 10u);
  const std::size_t shares = (at_10.engine_state.size() + kShareBytes - 1) / kShareBytes;
  ASSERT_GE(shares, 4u) << "a state of several shares";
  out.clear();
  source->on_message(control(nullptr, true), kT0 + 1, &out);
  EXPECT_TRUE(out.empty()) << "no part before the copy is whole";
  ASSERT_TRUE(source->core().copying_snapshot());
  EXPECT_EQ(source->next_timer_us(), 0u);
  // Seqs 13 and 14 between shares: answered at once, and not in the copy.
  source->on_message(entries(13, 14), kT0 + 2, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, (std::vector<std::uint64_t>{13, 14}));
  out.clear();
  std::size_t turns = 0;
  while (source->core().copying_snapshot()) {
    ASSERT_LT(turns, shares) << "each turn copies a share";
    EXPECT_TRUE(out.empty()) << "no part before the copy is whole, turn " << turns;
    source->on_time(kT0 + 3, &out);
    ++turns;
  }
  EXPECT_EQ(turns, shares - 1) << "the first share went with the request";
  ASSERT_EQ(out.size(), wire::kSnapshotWindowParts);
  EXPECT_EQ(read(out[0]).snapshot_seq, 10u);
  acknowledge_each_part(source.get(), at_10, kPartBytes, kT0 + 4, &out);
  expect_same(snapshot_in(out), at_10);

  // Asked again, then seqs 15-20 (checkpoint 20) between two shares: the
  // copy goes on, and is still checkpoint 10's.
  out.clear();
  source->on_message(control(nullptr, true), kT0 + 5, &out);
  ASSERT_TRUE(source->core().copying_snapshot());
  source->on_message(entries(15, 20), kT0 + 6, &out);
  ASSERT_EQ(source->core().latest_checkpoint().seq, 20u);
  out.clear();
  turns = 0;
  while (source->core().copying_snapshot()) {
    source->on_time(kT0 + 7, &out);
    ++turns;
  }
  EXPECT_EQ(turns, shares - 1) << "no share was done at the checkpoint";
  ASSERT_EQ(out.size(), wire::kSnapshotWindowParts);
  EXPECT_EQ(read(out[0]).snapshot_seq, 10u);
  acknowledge_each_part(source.get(), at_10, kPartBytes, kT0 + 8, &out);
  expect_same(snapshot_in(out), at_10);
}

// An install replaces the state a copy under way was taking: the snapshot
// asked for is then the one installed, not nothing (the front end would
// wait for it in vain).
TEST(ReplicaNode, AnInstallDuringACopyIsWhatIsSentInstead) {
  constexpr std::size_t kPartBytes = 64;
  auto source = make_node("none", world(), 10, kPartBytes);
  auto other = make_node("none", world(), 10, kPartBytes);
  ReplicaNode::Messages out;
  source->on_message(entries(1, 12), kT0, &out);
  other->on_message(entries(1, 21), kT0, &out);
  const ReplicaCore::Snapshot at_20 = other->core().latest_snapshot();
  ASSERT_EQ(at_20.seq, 20u);
  out.clear();
  source->on_message(control(nullptr, true), kT0 + 1, &out);
  ASSERT_TRUE(source->core().copying_snapshot());
  const auto state = std::as_bytes(std::span(at_20.engine_state));
  for (const Bytes& part :
       wire::encode_snapshot(wire::SnapshotCarrier::kInstall,
                             {at_20.seq,
                              at_20.state_digest,
                              at_20.checkpoint_digest,
                              {reinterpret_cast<const std::uint8_t*>(state.data()), state.size()}},
                             kPartBytes)) {
    source->on_message(part, kT0 + 2, &out);
  }
  ASSERT_EQ(source->core().next_seq(), 21u);
  out.clear();
  while (source->core().copying_snapshot()) source->on_time(kT0 + 3, &out);
  ASSERT_EQ(out.size(), wire::kSnapshotWindowParts);
  acknowledge_each_part(source.get(), at_20, kPartBytes, kT0 + 4, &out);
  expect_same(snapshot_in(out), at_20);
}

// A snapshot larger than a part goes in several, in order; the replica
// installs it once the last has come. A part lost on the way is refused with
// that reason (the repair then fails at once), and the state stays as it was.
TEST(ReplicaNode, ASnapshotTravelsInPartsAndAPartLostIsRefused) {
  constexpr std::size_t kPartBytes = 256;
  ReplicaNode::Messages out;
  auto source = asked_for_its_snapshot(kPartBytes, &out);
  // A few parts at a time: the next go as the front end says it has them.
  ASSERT_EQ(out.size(), wire::kSnapshotWindowParts);
  const std::size_t state_bytes = source->core().latest_snapshot().engine_state.size();
  const std::size_t parts = (state_bytes + kPartBytes - 1) / kPartBytes;
  ASSERT_GE(parts, 4u) << "the sample's state is larger than three parts";
  ReplicaNode::Messages more;
  source->on_message(wire::encode_snapshot_ack(wire::SnapshotCarrier::kFromReplica, 9, kPartBytes),
                     kT0 + 2, &more);
  source->on_message(
      wire::encode_snapshot_ack(wire::SnapshotCarrier::kFromReplica, 10, kPartBytes + 1), kT0 + 2,
      &more);
  EXPECT_TRUE(more.empty()) << "an acknowledgement of another run, or of part of a part";
  for (std::size_t acked = 1; acked < parts; ++acked) {
    const Bytes ack =
        wire::encode_snapshot_ack(wire::SnapshotCarrier::kFromReplica, 10, acked * kPartBytes);
    more.clear();
    source->on_message(ack, kT0 + 2, &more);
    EXPECT_EQ(more.size(), acked + wire::kSnapshotWindowParts <= parts ? 1u : 0u) << acked;
    out.insert(out.end(), more.begin(), more.end());
    more.clear();
    source->on_message(ack, kT0 + 2, &more);
    EXPECT_TRUE(more.empty()) << "the same acknowledgement again sends nothing more";
  }
  ASSERT_EQ(out.size(), parts);
  std::vector<Bytes> installs;
  for (const Bytes& part : out) {
    EXPECT_EQ(read(part).snapshot_seq, 10u);
    installs.push_back(install_of(part));
  }

  auto whole = make_node();
  ReplicaNode::Messages said;
  for (std::size_t i = 0; i + 1 < installs.size(); ++i) {
    said.clear();
    whole->on_message(installs[i], kT0 + 2, &said);
    ASSERT_EQ(said.size(), 1u) << "each part but the last is acknowledged, part " << i;
    EXPECT_EQ(read(said[0]).install_ack, std::make_pair(std::uint64_t{10}, (i + 1) * kPartBytes));
  }
  said.clear();
  whole->on_message(installs.back(), kT0 + 3, &said);
  ASSERT_EQ(said.size(), 1u);
  EXPECT_EQ(read(said[0]).hello_next_seq, 11u);
  EXPECT_EQ(whole->core().next_seq(), 11u);

  auto gap = make_node();
  said.clear();
  gap->on_message(installs[0], kT0 + 2, &said);
  said.clear();
  gap->on_message(installs[2], kT0 + 3, &said);
  ASSERT_EQ(said.size(), 1u);
  const Said refused = read(said[0]);
  EXPECT_EQ(refused.refused_seq, 10u);
  EXPECT_NE(refused.refused_reason.find("a part lost?"), std::string::npos)
      << refused.refused_reason;
  EXPECT_EQ(gap->core().next_seq(), 1u);
  // The rest of that run is not refused again (it was, once), nor
  // acknowledged; sent again from the start, it installs.
  said.clear();
  for (std::size_t i = 3; i < installs.size(); ++i) gap->on_message(installs[i], kT0 + 4, &said);
  EXPECT_TRUE(said.empty());
  for (const Bytes& part : installs) gap->on_message(part, kT0 + 5, &said);
  ASSERT_FALSE(said.empty());
  EXPECT_EQ(read(said.back()).hello_next_seq, 11u);
}

// A snapshot the front end stopped acknowledging is dropped after
// kSnapshotAbandonUs (it is card data, as large as the state): a late
// acknowledgement then sends nothing.
TEST(ReplicaNode, ASnapshotNoLongerAcknowledgedIsDropped) {
  constexpr std::size_t kPartBytes = 256;
  ReplicaNode::Messages out;
  auto source = asked_for_its_snapshot(kPartBytes, &out);
  ASSERT_EQ(out.size(), wire::kSnapshotWindowParts);
  ASSERT_LE(source->next_timer_us(), kT0 + 1 + ReplicaNode::kSnapshotAbandonUs);
  const auto parts_in = [](const ReplicaNode::Messages& messages) {
    return std::ranges::count_if(messages,
                                 [](const Bytes& m) { return read(m).snapshot_seq.has_value(); });
  };
  out.clear();
  source->on_time(kT0 + ReplicaNode::kSnapshotAbandonUs, &out);
  source->on_message(wire::encode_snapshot_ack(wire::SnapshotCarrier::kFromReplica, 10, kPartBytes),
                     kT0 + ReplicaNode::kSnapshotAbandonUs, &out);
  EXPECT_EQ(parts_in(out), 1) << "acknowledged within the wait, the run goes on";
  out.clear();
  // That acknowledgement started the wait again.
  source->on_time(kT0 + 1 + ReplicaNode::kSnapshotAbandonUs + 1, &out);
  source->on_message(
      wire::encode_snapshot_ack(wire::SnapshotCarrier::kFromReplica, 10, 2 * kPartBytes),
      kT0 + 1 + ReplicaNode::kSnapshotAbandonUs + 1, &out);
  EXPECT_EQ(parts_in(out), 1) << "the wait runs from the last acknowledgement";
  out.clear();
  const std::uint64_t late = kT0 + 3 * ReplicaNode::kSnapshotAbandonUs;
  source->on_time(late, &out);
  source->on_message(
      wire::encode_snapshot_ack(wire::SnapshotCarrier::kFromReplica, 10, 3 * kPartBytes), late,
      &out);
  EXPECT_EQ(parts_in(out), 0) << "dropped, it sends nothing more";
}

// A replica installing a snapshot: the live seqs that come meanwhile are
// held without a Fetch (the seqs before them are what the snapshot brings);
// when parts stop coming it says again what it gathered, once per
// kSnapshotReackUs (an acknowledgement lost would stall the transfer); and
// when it refuses the install it asks for the seqs missing before those it
// holds.
TEST(ReplicaNode, WhileInstallingItHoldsLiveSeqsAndAcknowledgesAgain) {
  constexpr std::size_t kPartBytes = 256;
  ReplicaNode::Messages out;
  asked_for_its_snapshot(kPartBytes, &out);
  ASSERT_EQ(out.size(), wire::kSnapshotWindowParts);
  const auto said_in = [](const ReplicaNode::Messages& messages) {
    std::vector<Said> all;
    for (const Bytes& m : messages) all.push_back(read(m));
    return all;
  };
  const auto acks_in = [&](const ReplicaNode::Messages& messages) {
    std::vector<std::pair<std::uint64_t, std::uint64_t>> acks;
    for (const Said& s : said_in(messages)) {
      if (s.install_ack) acks.push_back(*s.install_ack);
      EXPECT_FALSE(s.fetch.has_value()) << "no Fetch while installing";
    }
    return acks;
  };
  const std::vector<std::pair<std::uint64_t, std::uint64_t>> first_part = {{10, kPartBytes}};
  auto node = make_node();
  ReplicaNode::Messages said;
  node->on_message(install_of(out[0]), kT0 + 2, &said);
  node->on_message(entries(11, 12), kT0 + 3, &said);
  EXPECT_EQ(acks_in(said), first_part);
  EXPECT_EQ(node->pending_count(), 2u);
  said.clear();
  ASSERT_LE(node->next_timer_us(), kT0 + 2 + wire::kSnapshotReackUs);
  node->on_time(kT0 + 1 + wire::kSnapshotReackUs, &said);
  EXPECT_TRUE(acks_in(said).empty()) << "not before kSnapshotReackUs without a part";
  said.clear();
  node->on_time(kT0 + 2 + wire::kSnapshotReackUs, &said);
  EXPECT_EQ(acks_in(said), first_part) << "said again";
  said.clear();
  node->on_time(kT0 + 3 + wire::kSnapshotReackUs, &said);
  EXPECT_TRUE(acks_in(said).empty()) << "once per kSnapshotReackUs";

  // A part of another snapshot (seq 4) where part 1 was due: refused, and
  // the seqs missing before the held ones are fetched.
  ReplicaNode::Messages other;
  auto other_source = make_node("none", world(), 4, kPartBytes);
  other_source->on_message(entries(1, 5), kT0, &other);
  other.clear();
  ask_for_snapshot(other_source.get(), kT0 + 1, &other);
  ASSERT_GE(other.size(), 2u);
  said.clear();
  node->on_message(install_of(other[1]), kT0 + 4, &said);
  const std::vector<Said> answer = said_in(said);
  ASSERT_EQ(answer.size(), 2u);
  EXPECT_EQ(answer[0].refused_seq, 10u);
  EXPECT_EQ(answer[1].fetch, std::make_pair(std::uint64_t{1}, std::uint64_t{10}));
}

// Found by fuzz_replica_node: an entry whose ts is earlier than the last
// applied one's aborted the process (the engine's ordering assertion). It is
// now refused and counted; the node stays at that seq, and a correct resend
// of it is applied.
TEST(ReplicaNode, RefusesAnEntryWhoseTsGoesBackwards) {
  auto node = make_node();
  ReplicaNode::Messages out;
  node->on_message(entries(1, 2), kT0, &out);
  out.clear();
  const Transaction& tx = world().traffic[2];
  const auto entry = [&](std::int64_t ts) {
    flatbuffers::FlatBufferBuilder fbb;
    const auto e = wire::CreateSequenced(fbb, 3, ts, wire::build_transaction(fbb, tx));
    fbb.Finish(wire::CreateToReplica(fbb, fbb.CreateVector(&e, 1)));
    return Bytes(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
  };
  node->on_message(entry(*world().traffic[1].ts - 1), kT0 + 1, &out);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(node->malformed_messages(), 1u);
  EXPECT_EQ(node->core().next_seq(), 3u);
  node->on_message(entry(*tx.ts), kT0 + 2, &out);
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(read(out[0]).verdict_seqs, seqs(3, 3));
}

// Checkpoint work done ahead starts only once the card pages waiting
// outnumber the seqs left before the checkpoint (by kPrepareMinPages), so a
// page is not rewritten ahead long before the checkpoint, when it would
// likely change again. 20,000 cards are 625 pages of 32.
TEST(ReplicaNode, DoesCheckpointWorkAheadOnlyNearTheCheckpoint) {
  static const World big = make_world(20'000, 999);
  auto near = make_node("none", big, /*checkpoint_interval=*/1000);
  auto far = make_node("none", big, /*checkpoint_interval=*/100'000);
  ReplicaNode::Messages out;
  std::optional<std::uint64_t> near_started;
  for (std::uint64_t seq = 1; seq <= 999; ++seq) {
    near->on_message(entries(seq, seq, big), kT0 + seq, &out);
    far->on_message(entries(seq, seq, big), kT0 + seq, &out);
    ASSERT_EQ(near->core().next_seq(), seq + 1);
    // Far from its checkpoint, the node never starts (every card page changed
    // twice over would not be enough).
    EXPECT_FALSE(far->checkpoint_work_waiting()) << "seq " << seq;
    if (!near->checkpoint_work_waiting()) continue;
    if (!near_started) near_started = seq;
    std::uint64_t steps = 0;
    while (near->prepare_checkpoint()) ASSERT_LT(++steps, 1000u) << "the work ahead never ends";
    EXPECT_FALSE(near->checkpoint_work_waiting()) << "all done at seq " << seq;
  }
  // Until the work first starts, a seq adds at most one page to those
  // waiting: the card it decides for (an approval leaving the rule 11 window
  // changes a card already changed in this, the first, interval). So they
  // cannot outnumber the seqs left before the middle of the interval; the
  // work then starts well before the checkpoint seq.
  ASSERT_TRUE(near_started.has_value());
  EXPECT_GT(*near_started, 500u);
  EXPECT_LT(*near_started, 900u);
  EXPECT_GT(near->checkpoint_steps_ahead(), 0u);
  EXPECT_EQ(far->checkpoint_steps_ahead(), 0u);
}

}  // namespace
}  // namespace triad::replica
