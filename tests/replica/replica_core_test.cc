// Tests of the replica's deterministic core (src/replica/replica.h) and of
// fault parsing and injection (src/replica/fault.h), without any I/O.
//
// Every core runs the same few hundred sample transactions (src/sample) so
// the traffic holds approvals and declines of many kinds. A healthy core is
// the reference each faulty one is compared with, step by step.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/response_code.h"
#include "crypto/card_ref.h"
#include "crypto/ed25519.h"
#include "crypto/hash.h"
#include "replica/fault.h"
#include "replica/replica.h"
#include "rules/engine.h"
#include "sample/sample.h"
#include "triad/transaction.h"
#include "wire/codec.h"

namespace triad::replica {
namespace {

using Action = ReplicaCore::Action;
using Step = ReplicaCore::Step;

struct Sequenced {
  std::uint64_t seq;
  std::int64_t ts_ms;
  Transaction tx;
};

// The sample world shared by every test: a small card file and 400
// transactions, parsed once.
struct World {
  std::string card_text;
  rules::CardFile cards;
  Digest card_digest{};
  std::vector<Sequenced> traffic;
};

const World& world() {
  static const World w = [] {
    World out;
    sample::Options options;
    options.seed = 11;
    options.card_count = 80;
    options.transaction_count = 400;
    out.card_text = sample::generate_card_file(options);
    const Status s = rules::parse_card_file(out.card_text, &out.cards);
    EXPECT_TRUE(s.is_ok()) << s.to_string();
    // As triad-replica seeds its chain: a domain tag and the card file text.
    out.card_digest = crypto::sha256("triad-state-v1" + out.card_text);
    std::uint64_t seq = 1;
    for (const std::string& line : sample::generate_traffic(options)) {
      Transaction tx;
      const Status ps = parse_transaction_json(line, &tx);
      EXPECT_TRUE(ps.is_ok()) << ps.to_string() << " in " << line;
      EXPECT_TRUE(tx.ts.has_value()) << line;
      const std::int64_t ts = tx.ts.value_or(0);
      out.traffic.push_back({seq++, ts, std::move(tx)});
    }
    return out;
  }();
  return w;
}

crypto::SigningKey key_from(std::uint8_t byte) {
  crypto::Ed25519Seed seed;
  seed.fill(byte);
  crypto::SigningKey key;
  EXPECT_TRUE(crypto::SigningKey::from_seed(seed, &key).is_ok());
  return key;
}

// The deployment's card reference key, one for the whole test.
const crypto::SymmetricKey& card_ref_key() {
  static const crypto::SymmetricKey key = crypto::SymmetricKey::generate();
  return key;
}

crypto::VerifyingKey verifier_from(std::uint8_t byte) {
  crypto::VerifyingKey v;
  EXPECT_TRUE(crypto::VerifyingKey::from_public_key(key_from(byte).public_key(), &v).is_ok());
  return v;
}

Fault fault(std::string_view text) {
  Fault f;
  const Status s = parse_fault(text, &f);
  EXPECT_TRUE(s.is_ok()) << text << ": " << s.to_string();
  return f;
}

struct CoreSpec {
  int replica = 0;
  Fault fault;
  std::uint64_t seed = 1;
  std::uint8_t key_byte = 7;
  const Digest* start = nullptr;  // default: the world's card digest
};

std::unique_ptr<ReplicaCore> make_core(const CoreSpec& spec) {
  const World& w = world();
  return std::make_unique<ReplicaCore>(
      spec.replica, w.cards, spec.start != nullptr ? *spec.start : w.card_digest,
      key_from(spec.key_byte), card_ref_key(), spec.fault, spec.seed);
}

// One step, its verdict signed as a batch of one (the node batches; a batch
// of one is the case where a path is empty and the leaf is the root).
Step apply_and_sign(ReplicaCore& core, const Sequenced& e) {
  Step step = core.apply(e.seq, e.ts_ms, e.tx);
  core.sign(std::span(&step.verdict, 1), step.bad_signature);
  return step;
}

// Runs the whole traffic through a core; also checks the core's own
// bookkeeping after each step.
std::vector<Step> run(ReplicaCore& core) {
  std::vector<Step> steps;
  for (const Sequenced& e : world().traffic) {
    EXPECT_EQ(core.next_seq(), e.seq);
    steps.push_back(apply_and_sign(core, e));
    EXPECT_EQ(core.next_seq(), e.seq + 1);
    EXPECT_EQ(core.state_digest(), steps.back().verdict.content.state_digest)
        << "the state digest follows the correct decision, at seq " << e.seq;
  }
  return steps;
}

std::vector<Step> run(const CoreSpec& spec) {
  auto core = make_core(spec);
  return run(*core);
}

bool signature_ok(const voter::ReplicaVerdict& v, const crypto::VerifyingKey& key) {
  return wire::verify_verdict_signature(v, key);
}

// The flip pattern of a run: which seqs carry a code other than the healthy one.
std::vector<bool> flipped(const std::vector<Step>& faulty, const std::vector<Step>& healthy) {
  std::vector<bool> out;
  for (std::size_t i = 0; i < faulty.size(); ++i) {
    out.push_back(faulty[i].verdict.content.code != healthy[i].verdict.content.code);
  }
  return out;
}

const std::vector<Step>& healthy_steps() {
  static const std::vector<Step> steps = run(CoreSpec{});
  return steps;
}

// ---------------------------------------------------------------------------
// The healthy core

TEST(ReplicaCore, TrafficHoldsApprovalsAndSeveralDeclines) {
  std::map<ResponseCode, int> codes;
  for (const Step& s : healthy_steps()) ++codes[s.verdict.content.code];
  EXPECT_GT(codes[ResponseCode::kApproved], 0);
  EXPECT_GE(codes.size(), 4u) << "the flip tests need declines of several kinds";
  EXPECT_EQ(codes.count(ResponseCode::kDoNotHonour), 0u) << "05 only comes from the flip fault";
}

TEST(ReplicaCore, TwoCoresWithTheSameInputsAreIdenticalStepByStep) {
  auto one = make_core(CoreSpec{});
  auto two = make_core(CoreSpec{});
  for (const Sequenced& e : world().traffic) {
    const Step a = apply_and_sign(*one, e);
    const Step b = apply_and_sign(*two, e);
    ASSERT_EQ(a.action, Action::kSend);
    ASSERT_EQ(b.action, Action::kSend);
    ASSERT_EQ(a.verdict.content, b.verdict.content) << "seq " << e.seq;
    ASSERT_EQ(a.verdict.signature, b.verdict.signature) << "seq " << e.seq;
    ASSERT_EQ(a.verdict.fingerprint, b.verdict.fingerprint);
    ASSERT_EQ(one->state_digest(), two->state_digest()) << "seq " << e.seq;
  }
}

// What lets the voter agree: replicas with their own keys give equal content,
// each signature verifying with its own key only.
TEST(ReplicaCore, ThreeReplicasWithTheirOwnKeysAgreeOnContent) {
  std::vector<std::vector<Step>> runs;
  for (int r = 0; r < 3; ++r) {
    CoreSpec spec;
    spec.replica = r;
    spec.key_byte = static_cast<std::uint8_t>(10 + r);
    runs.push_back(run(spec));
  }
  std::vector<crypto::VerifyingKey> keys;
  for (int r = 0; r < 3; ++r) keys.push_back(verifier_from(static_cast<std::uint8_t>(10 + r)));
  for (std::size_t i = 0; i < runs[0].size(); ++i) {
    for (int r = 0; r < 3; ++r) {
      const voter::ReplicaVerdict& v = runs[static_cast<std::size_t>(r)][i].verdict;
      ASSERT_EQ(v.replica, r);
      ASSERT_EQ(v.content, runs[0][i].verdict.content) << "replica " << r << " at step " << i;
      for (int k = 0; k < 3; ++k) {
        ASSERT_EQ(signature_ok(v, keys[static_cast<std::size_t>(k)]), k == r)
            << "verdict of replica " << r << " checked with key " << k << " at step " << i;
      }
    }
  }
}

TEST(ReplicaCore, StateDigestChangesEveryStep) {
  auto core = make_core(CoreSpec{});
  std::set<Digest> seen = {core->state_digest()};
  EXPECT_EQ(core->state_digest(), world().card_digest) << "the chain starts at the card digest";
  for (const Sequenced& e : world().traffic) {
    const Digest before = core->state_digest();
    static_cast<void>(core->apply(e.seq, e.ts_ms, e.tx));
    EXPECT_NE(core->state_digest(), before) << "seq " << e.seq;
    EXPECT_TRUE(seen.insert(core->state_digest()).second) << "digest repeated at seq " << e.seq;
  }
}

// The chain as replica.cc documents it: SHA-256(previous || seq || ts || tx
// digest || code), integers big-endian. Builds that differ must agree on it.
TEST(ReplicaCore, StateDigestIsTheDocumentedHashChain) {
  Digest expected = world().card_digest;
  for (const Step& s : healthy_steps()) {
    const voter::VerdictContent& c = s.verdict.content;
    std::vector<std::uint8_t> bytes(expected.begin(), expected.end());
    for (int shift = 56; shift >= 0; shift -= 8) {
      bytes.push_back(static_cast<std::uint8_t>(c.seq >> shift));
    }
    for (int shift = 56; shift >= 0; shift -= 8) {
      bytes.push_back(static_cast<std::uint8_t>(static_cast<std::uint64_t>(c.ts_ms) >> shift));
    }
    bytes.insert(bytes.end(), c.tx_digest.begin(), c.tx_digest.end());
    const std::string code = to_string(c.code);
    bytes.insert(bytes.end(), code.begin(), code.end());
    expected = crypto::sha256(bytes);
    ASSERT_EQ(c.state_digest, expected) << "seq " << c.seq;
  }
}

TEST(ReplicaCore, TheStartDigestSeedsTheWholeChain) {
  const Digest other = crypto::sha256(std::string_view("another card file"));
  CoreSpec spec;
  spec.start = &other;
  const std::vector<Step> steps = run(spec);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].verdict.content.code, healthy_steps()[i].verdict.content.code);
    EXPECT_NE(steps[i].verdict.content.state_digest,
              healthy_steps()[i].verdict.content.state_digest);
  }
}

TEST(ReplicaCore, DecisionsAreTheRulesEnginesDecisions) {
  rules::Engine engine(world().cards);
  for (std::size_t i = 0; i < world().traffic.size(); ++i) {
    const Sequenced& e = world().traffic[i];
    EXPECT_EQ(healthy_steps()[i].verdict.content.code, engine.apply(e.ts_ms, e.tx))
        << "seq " << e.seq;
  }
}

TEST(ReplicaCore, VerdictsCarryTheSequencedInputsAndVerify) {
  const crypto::VerifyingKey key = verifier_from(7);
  const crypto::VerifyingKey other = verifier_from(8);
  for (std::size_t i = 0; i < world().traffic.size(); ++i) {
    const Sequenced& e = world().traffic[i];
    const Step& s = healthy_steps()[i];
    const voter::ReplicaVerdict& v = s.verdict;
    EXPECT_EQ(s.action, Action::kSend);
    EXPECT_EQ(v.replica, 0);
    EXPECT_EQ(v.content.seq, e.seq);
    EXPECT_EQ(v.content.ts_ms, e.ts_ms);
    EXPECT_EQ(v.content.tx_digest,
              wire::transaction_digest(e.tx, crypto::card_ref_of(card_ref_key(), e.tx)));
    EXPECT_EQ(v.content.rules_version, rules::kRulesVersion);
    EXPECT_EQ(v.fingerprint, build_fingerprint());
    EXPECT_TRUE(v.signature_valid);
    EXPECT_TRUE(signature_ok(v, key)) << "seq " << e.seq;
    EXPECT_FALSE(signature_ok(v, other)) << "seq " << e.seq;
  }
  EXPECT_FALSE(build_fingerprint().empty());
}

// A certificate signs the transaction digest, so whoever holds one and the
// transaction's other fields could test PAN guesses against a digest of the
// PAN itself: the digest holds the PAN's reference under the deployment's
// key instead, and without that key it cannot be made again.
TEST(ReplicaCore, TheTransactionDigestHoldsThePansReferenceUnderTheDeploymentsKey) {
  const World& w = world();
  const Sequenced& e = w.traffic.front();
  ASSERT_TRUE(e.tx.pan.has_value());
  const crypto::SymmetricKey other_key = crypto::SymmetricKey::generate();
  ReplicaCore ours(0, w.cards, w.card_digest, key_from(7), card_ref_key(), Fault{}, 1);
  ReplicaCore theirs(0, w.cards, w.card_digest, key_from(7), other_key, Fault{}, 1);
  const Digest digest = ours.apply(e.seq, e.ts_ms, e.tx).verdict.content.tx_digest;
  EXPECT_EQ(digest,
            wire::transaction_digest(e.tx, crypto::card_ref_bytes(card_ref_key(), *e.tx.pan)));
  EXPECT_NE(digest, theirs.apply(e.seq, e.ts_ms, e.tx).verdict.content.tx_digest);
  // Any other reference, the PAN's bytes for one, gives another digest.
  CardRef pan_bytes{};
  std::copy_n(e.tx.pan->begin(), std::min(pan_bytes.size(), e.tx.pan->size()), pan_bytes.begin());
  EXPECT_NE(digest, wire::transaction_digest(e.tx, pan_bytes));

  // Without a PAN there is nothing to refer to: the keys do not matter.
  Transaction no_pan = w.traffic[1].tx;
  no_pan.pan.reset();
  EXPECT_EQ(ours.apply(2, w.traffic[1].ts_ms, no_pan).verdict.content.tx_digest,
            theirs.apply(2, w.traffic[1].ts_ms, no_pan).verdict.content.tx_digest);
}

TEST(ReplicaCore, ReplicaIndexIsSignedIn) {
  CoreSpec spec;
  spec.replica = 2;
  auto core = make_core(spec);
  const Sequenced& e = world().traffic[0];
  voter::ReplicaVerdict v = apply_and_sign(*core, e).verdict;
  const crypto::VerifyingKey key = verifier_from(7);
  EXPECT_EQ(v.replica, 2);
  EXPECT_TRUE(signature_ok(v, key));
  v.replica = 1;  // claimed as another replica's
  EXPECT_FALSE(signature_ok(v, key));
}

// Every k seqs however long the history: a checkpoint costs what changed
// since the last one (checkpoint.h), so the interval need not grow.
TEST(CheckpointSchedule, EveryKSeqs) {
  constexpr std::uint64_t k = 1000;
  EXPECT_FALSE(is_checkpoint_seq(999, k));
  EXPECT_TRUE(is_checkpoint_seq(1000, k));
  EXPECT_TRUE(is_checkpoint_seq(64'000, k));
  EXPECT_TRUE(is_checkpoint_seq(65'000, k));
  EXPECT_FALSE(is_checkpoint_seq(65'001, k));
  EXPECT_TRUE(is_checkpoint_seq(400'001'000, k));
  EXPECT_TRUE(is_checkpoint_seq(1, 1));
  EXPECT_TRUE(is_checkpoint_seq(0xFFFF'FFFF'FFFF'FFFFu, 1));
  EXPECT_FALSE(is_checkpoint_seq(0xFFFF'FFFF'FFFF'FFFFu, 2));
}

TEST(ReplicaCore, CheckpointDigestsComeAtTheScheduledSeqsOnly) {
  const World& w = world();
  ReplicaCore core(0, w.cards, w.card_digest, key_from(7), card_ref_key(), Fault{}, 1,
                   /*checkpoint_interval=*/2);
  std::uint64_t checkpoints = 0;
  for (const Sequenced& e : w.traffic) {
    const Step step = core.apply(e.seq, e.ts_ms, e.tx);
    const bool has = step.verdict.content.checkpoint_digest != Digest{};
    EXPECT_EQ(has, is_checkpoint_seq(e.seq, 2)) << "seq " << e.seq;
    if (has) {
      ++checkpoints;
      EXPECT_EQ(core.latest_checkpoint().seq, e.seq);
      const ReplicaCore::Snapshot snapshot = core.latest_snapshot();
      EXPECT_EQ(snapshot.seq, e.seq);
      Digest from_bytes{};
      ASSERT_TRUE(checkpoint_digest(snapshot.engine_state, &from_bytes).is_ok());
      EXPECT_EQ(step.verdict.content.checkpoint_digest, from_bytes);
    }
  }
  EXPECT_EQ(checkpoints, 200u);  // seqs 1 to 400, every 2nd
}

// The seqs still to apply up to and including the next checkpoint seq, from
// which the replica loop decides when to do checkpoint work ahead
// (ReplicaNode::checkpoint_work_waiting): the interval at the start and right
// after a checkpoint, 1 when the next seq is the checkpoint's, and after a
// snapshot is installed as after that checkpoint.
TEST(ReplicaCore, CountsTheSeqsLeftBeforeTheNextCheckpoint) {
  const World& w = world();
  constexpr std::uint64_t kInterval = 100;
  ReplicaCore core(0, w.cards, w.card_digest, key_from(7), card_ref_key(), Fault{}, 1, kInterval);
  EXPECT_EQ(core.seqs_to_checkpoint(), kInterval);
  for (std::size_t i = 0; i < 250; ++i) {
    const std::uint64_t seq = w.traffic[i].seq;
    core.apply(seq, w.traffic[i].ts_ms, w.traffic[i].tx);
    if (seq == 99 || seq == 199) {
      EXPECT_EQ(core.seqs_to_checkpoint(), 1u) << seq;
    } else if (seq == 100 || seq == 200) {
      EXPECT_EQ(core.seqs_to_checkpoint(), kInterval) << seq;
    } else if (seq == 150) {
      EXPECT_EQ(core.seqs_to_checkpoint(), 50u);
    }
  }
  ReplicaCore repaired(0, w.cards, w.card_digest, key_from(7), card_ref_key(), Fault{}, 1,
                       kInterval);
  const ReplicaCore::Snapshot snapshot = core.latest_snapshot();
  ASSERT_EQ(snapshot.seq, 200u);
  ASSERT_TRUE(repaired.install(snapshot).is_ok());
  EXPECT_EQ(repaired.seqs_to_checkpoint(), kInterval);
}

// Work done ahead of a checkpoint (prepare_checkpoint, between messages)
// leaves the snapshot a repair is given at the checkpoint's state: a core
// that installs it, taken while pages were written ahead, goes on exactly
// as the core it came from.
TEST(ReplicaCore, ASnapshotTakenWhileWorkIsDoneAheadIsTheCheckpointsState) {
  const World& w = world();
  constexpr std::uint64_t kInterval = 100;
  ReplicaCore core(0, w.cards, w.card_digest, key_from(7), card_ref_key(), Fault{}, 1, kInterval);
  std::vector<Step> steps;
  // A step of one page after every 3rd transaction: the 80 cards' 3 pages
  // are written ahead again and again.
  const auto apply_from = [&](std::size_t from, std::size_t to) {
    for (std::size_t i = from; i < to; ++i) {
      steps.push_back(core.apply(w.traffic[i].seq, w.traffic[i].ts_ms, w.traffic[i].tx));
      if (i % 3 == 0) core.prepare_checkpoint(1);
    }
  };
  apply_from(0, 250);
  const ReplicaCore::Snapshot snapshot = core.latest_snapshot();
  ASSERT_EQ(snapshot.seq, 200u);
  apply_from(250, w.traffic.size());

  ReplicaCore repaired(0, w.cards, w.card_digest, key_from(7), card_ref_key(), Fault{}, 1,
                       kInterval);
  const Status s = repaired.install(snapshot);
  ASSERT_TRUE(s.is_ok()) << s.to_string();
  for (std::size_t i = 200; i < w.traffic.size(); ++i) {
    const Step step = repaired.apply(w.traffic[i].seq, w.traffic[i].ts_ms, w.traffic[i].tx);
    EXPECT_EQ(step.verdict.content.state_digest, steps[i].verdict.content.state_digest) << i;
    EXPECT_EQ(step.verdict.content.checkpoint_digest, steps[i].verdict.content.checkpoint_digest)
        << i;
  }
}

TEST(ReplicaCoreDeathTest, ApplyingOutOfOrderIsABug) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  const Sequenced& e = world().traffic[0];
  EXPECT_DEATH(
      {
        auto core = make_core(CoreSpec{});
        static_cast<void>(core->apply(2, e.ts_ms, e.tx));
      },
      "assertion failed");
}

// ---------------------------------------------------------------------------
// Faults in the core

TEST(ReplicaCoreFault, FlipOneInvertsEveryCodeButNotTheState) {
  const std::vector<Step> steps = run(CoreSpec{0, fault("flip:1")});
  const crypto::VerifyingKey key = verifier_from(7);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const voter::VerdictContent& got = steps[i].verdict.content;
    const voter::VerdictContent& want = healthy_steps()[i].verdict.content;
    const ResponseCode expected =
        want.code == ResponseCode::kApproved ? ResponseCode::kDoNotHonour : ResponseCode::kApproved;
    EXPECT_EQ(got.code, expected) << "healthy " << to_string(want.code) << " at seq " << want.seq;
    EXPECT_EQ(got.state_digest, want.state_digest) << "seq " << want.seq;
    EXPECT_EQ(got.seq, want.seq);
    EXPECT_EQ(got.ts_ms, want.ts_ms);
    EXPECT_EQ(got.tx_digest, want.tx_digest);
    EXPECT_EQ(got.rules_version, want.rules_version);
    EXPECT_EQ(steps[i].action, Action::kSend);
    EXPECT_TRUE(signature_ok(steps[i].verdict, key))
        << "a flip is validly signed, seq " << want.seq;
  }
}

TEST(ReplicaCoreFault, BadSigOneKeepsContentButTheSignatureFails) {
  const std::vector<Step> steps = run(CoreSpec{0, fault("badsig:1")});
  const crypto::VerifyingKey key = verifier_from(7);
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const voter::ReplicaVerdict& v = steps[i].verdict;
    EXPECT_EQ(v.content, healthy_steps()[i].verdict.content);
    EXPECT_EQ(v.fingerprint, healthy_steps()[i].verdict.fingerprint);
    EXPECT_EQ(steps[i].action, Action::kSend);
    EXPECT_FALSE(signature_ok(v, key)) << "seq " << v.content.seq;
  }
}

TEST(ReplicaCoreFault, DropOneDropsEveryVerdictButTheStateGoesOn) {
  const std::vector<Step> steps = run(CoreSpec{0, fault("drop:1")});
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].action, Action::kDrop) << "seq " << i + 1;
    EXPECT_EQ(steps[i].verdict.content, healthy_steps()[i].verdict.content);
  }
}

TEST(ReplicaCoreFault, CrashAfterNTransactions) {
  for (const std::uint64_t n :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{5}, std::uint64_t{399}}) {
    const std::vector<Step> steps = run(CoreSpec{0, fault("crash:" + std::to_string(n))});
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::uint64_t seq = i + 1;
      EXPECT_EQ(steps[i].action, seq > n ? Action::kCrash : Action::kSend)
          << "crash:" << n << " at seq " << seq;
    }
  }
}

TEST(ReplicaCoreFault, HangAfterNTransactions) {
  for (const std::uint64_t n : {std::uint64_t{0}, std::uint64_t{10}, std::uint64_t{400}}) {
    const std::vector<Step> steps = run(CoreSpec{0, fault("hang:" + std::to_string(n))});
    for (std::size_t i = 0; i < steps.size(); ++i) {
      const std::uint64_t seq = i + 1;
      EXPECT_EQ(steps[i].action, seq > n ? Action::kHang : Action::kSend)
          << "hang:" << n << " at seq " << seq;
    }
  }
}

// delay is applied by the I/O loop: the core's verdicts are the healthy ones.
TEST(ReplicaCoreFault, DelayLeavesTheCoreUntouched) {
  const std::vector<Step> steps = run(CoreSpec{0, fault("delay:50")});
  for (std::size_t i = 0; i < steps.size(); ++i) {
    EXPECT_EQ(steps[i].action, Action::kSend);
    EXPECT_EQ(steps[i].verdict.content, healthy_steps()[i].verdict.content);
    EXPECT_EQ(steps[i].verdict.signature, healthy_steps()[i].verdict.signature);
  }
}

TEST(ReplicaCoreFault, ProbabilityZeroIsHealthy) {
  for (const char* text : {"flip:0", "badsig:0", "drop:0", "flip:0.000000"}) {
    const std::vector<Step> steps = run(CoreSpec{0, fault(text)});
    for (std::size_t i = 0; i < steps.size(); ++i) {
      ASSERT_EQ(steps[i].action, Action::kSend) << text;
      ASSERT_EQ(steps[i].verdict.content, healthy_steps()[i].verdict.content) << text;
      ASSERT_EQ(steps[i].verdict.signature, healthy_steps()[i].verdict.signature) << text;
    }
  }
}

TEST(ReplicaCoreFault, FlipPatternRepeatsWithTheSeedAndOnlyWithIt) {
  const auto pattern = [](std::uint64_t seed, int replica) {
    return flipped(run(CoreSpec{replica, fault("flip:0.3"), seed}), healthy_steps());
  };
  const std::vector<bool> first = pattern(42, 0);
  EXPECT_EQ(pattern(42, 0), first) << "same seed, same flips";
  EXPECT_NE(pattern(43, 0), first) << "another seed, other flips";
  EXPECT_NE(pattern(42, 1), first) << "another replica, other flips";
  const auto count = static_cast<std::size_t>(std::count(first.begin(), first.end(), true));
  // 400 draws at p = 0.3: mean 120, sd about 9.2; this range is over 5 sd wide.
  EXPECT_GT(count, 70u);
  EXPECT_LT(count, 170u);
}

TEST(ReplicaCoreFault, BadSigAndDropPatternsRepeatWithTheSeed) {
  const crypto::VerifyingKey key = verifier_from(7);
  const auto bad = [&](std::uint64_t seed) {
    std::vector<bool> out;
    for (const Step& s : run(CoreSpec{0, fault("badsig:0.5"), seed})) {
      out.push_back(!signature_ok(s.verdict, key));
    }
    return out;
  };
  EXPECT_EQ(bad(5), bad(5));
  EXPECT_NE(bad(5), bad(6));
  const auto drops = [](std::uint64_t seed) {
    std::vector<bool> out;
    for (const Step& s : run(CoreSpec{0, fault("drop:0.5"), seed})) {
      out.push_back(s.action == Action::kDrop);
    }
    return out;
  };
  EXPECT_EQ(drops(5), drops(5));
  EXPECT_NE(drops(5), drops(6));
}

// ---------------------------------------------------------------------------
// parse_fault and to_string

TEST(ParseFault, AcceptsTheInterfaceForms) {
  Fault f;
  ASSERT_TRUE(parse_fault("flip:0.01", &f).is_ok());
  EXPECT_EQ(f.kind, Fault::Kind::kFlip);
  EXPECT_EQ(f.probability_ppm, 10'000u);

  ASSERT_TRUE(parse_fault("corrupt-state:5", &f).is_ok());
  EXPECT_EQ(f.kind, Fault::Kind::kCorruptState);
  EXPECT_EQ(f.after_count, 5u);

  ASSERT_TRUE(parse_fault("crash:1000", &f).is_ok());
  EXPECT_EQ(f.kind, Fault::Kind::kCrash);
  EXPECT_EQ(f.after_count, 1000u);

  ASSERT_TRUE(parse_fault("hang:10", &f).is_ok());
  EXPECT_EQ(f.kind, Fault::Kind::kHang);
  EXPECT_EQ(f.after_count, 10u);

  ASSERT_TRUE(parse_fault("delay:50", &f).is_ok());
  EXPECT_EQ(f.kind, Fault::Kind::kDelay);
  EXPECT_EQ(f.delay_ms, 50u);

  ASSERT_TRUE(parse_fault("badsig:0.5", &f).is_ok());
  EXPECT_EQ(f.kind, Fault::Kind::kBadSig);
  EXPECT_EQ(f.probability_ppm, 500'000u);

  ASSERT_TRUE(parse_fault("drop:1", &f).is_ok());
  EXPECT_EQ(f.kind, Fault::Kind::kDrop);
  EXPECT_EQ(f.probability_ppm, 1'000'000u);

  f.kind = Fault::Kind::kCrash;
  ASSERT_TRUE(parse_fault("none", &f).is_ok());
  EXPECT_EQ(f.kind, Fault::Kind::kNone);
}

TEST(ParseFault, ProbabilityEdges) {
  const std::vector<std::pair<std::string, std::uint32_t>> cases = {
      {"flip:0", 0},           {"flip:1", 1'000'000},
      {"flip:1.0", 1'000'000}, {"flip:1.000000", 1'000'000},
      {"flip:0.000001", 1},    {"flip:0.999999", 999'999},
      {"flip:0.5", 500'000},   {"drop:0.25", 250'000},
  };
  for (const auto& [text, ppm] : cases) {
    Fault f;
    const Status s = parse_fault(text, &f);
    ASSERT_TRUE(s.is_ok()) << text << ": " << s.to_string();
    EXPECT_EQ(f.probability_ppm, ppm) << text;
  }
}

TEST(ParseFault, CountEdges) {
  Fault f;
  ASSERT_TRUE(parse_fault("crash:0", &f).is_ok());
  EXPECT_EQ(f.after_count, 0u);
  ASSERT_TRUE(parse_fault("hang:18446744073709551615", &f).is_ok());
  EXPECT_EQ(f.after_count, 18446744073709551615u);
  ASSERT_TRUE(parse_fault("delay:0", &f).is_ok());
  ASSERT_TRUE(parse_fault("delay:3600000", &f).is_ok());
  EXPECT_EQ(f.delay_ms, 3'600'000u);
}

TEST(ParseFault, RefusesBadFormsNamingTheFault) {
  for (const std::string text : {"flip:2",
                                 "flip:-1",
                                 "crash:x",
                                 "delay:",
                                 "unknown:1",
                                 "flip",
                                 "flip:",
                                 "flip:1.1",
                                 "flip:1.000001",
                                 "flip:0.0000001",
                                 "flip:.5",
                                 "flip:0.",
                                 "flip:0.5x",
                                 "flip:1e-3",
                                 "flip: 0.5",
                                 "badsig:01",
                                 "drop:-0",
                                 "crash:-1",
                                 "crash:1.5",
                                 "crash:",
                                 "crash",
                                 "hang:1x",
                                 "hang:18446744073709551616",
                                 "corrupt-state:",
                                 "delay:3600001",
                                 "delay:-5",
                                 "FLIP:0.1",
                                 "none:1",
                                 "",
                                 ":",
                                 "flip:0.1:2"}) {
    Fault f;
    f.kind = Fault::Kind::kHang;
    f.after_count = 77;
    const Status s = parse_fault(text, &f);
    EXPECT_EQ(s.code(), Status::Code::kInvalidArgument) << "'" << text << "' accepted";
    EXPECT_NE(s.message().find("'" + text + "'"), std::string::npos)
        << "message should name '" << text << "': " << s.message();
  }
}

TEST(ParseFault, MessagesSayWhatIsExpected) {
  Fault f;
  EXPECT_NE(parse_fault("flip:2", &f).message().find("flip:0.01"), std::string::npos);
  EXPECT_NE(parse_fault("crash:x", &f).message().find("crash:1000"), std::string::npos);
  EXPECT_NE(parse_fault("delay:", &f).message().find("delay:MS"), std::string::npos);
  const Status unknown = parse_fault("unknown:1", &f);
  EXPECT_NE(unknown.message().find("unknown fault"), std::string::npos) << unknown.message();
  EXPECT_NE(unknown.message().find("corrupt-state:N"), std::string::npos) << unknown.message();
}

TEST(FaultToString, CanonicalFormsRoundTrip) {
  for (const std::string text :
       {"none", "flip:0.01", "corrupt-state:5", "crash:1000", "hang:10", "delay:50", "badsig:0.5",
        "drop:1", "flip:0", "flip:0.000001", "flip:0.999999", "crash:0", "delay:3600000",
        "hang:18446744073709551615"}) {
    Fault f;
    ASSERT_TRUE(parse_fault(text, &f).is_ok()) << text;
    EXPECT_EQ(to_string(f), text);
  }
}

TEST(FaultToString, ParseOfToStringGivesTheSameFault) {
  for (const std::string text : {"flip:0.010", "flip:1.0", "badsig:0.500000", "drop:0.000"}) {
    Fault f;
    ASSERT_TRUE(parse_fault(text, &f).is_ok()) << text;
    Fault g;
    ASSERT_TRUE(parse_fault(to_string(f), &g).is_ok()) << to_string(f);
    EXPECT_EQ(g.kind, f.kind) << text;
    EXPECT_EQ(g.probability_ppm, f.probability_ppm) << text;
  }
  // Every probability in ppm survives the trip.
  for (std::uint32_t ppm = 0; ppm <= 1'000'000; ppm += 997) {
    Fault f;
    f.kind = Fault::Kind::kFlip;
    f.probability_ppm = ppm;
    Fault g;
    ASSERT_TRUE(parse_fault(to_string(f), &g).is_ok()) << to_string(f);
    ASSERT_EQ(g.probability_ppm, ppm) << to_string(f);
  }
}

}  // namespace
}  // namespace triad::replica
