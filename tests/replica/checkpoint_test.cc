// Incremental checkpoints (replica/checkpoint.h): the digest a Checkpointer
// keeps up to date equals the digest computed from the engine's full bytes at
// every point of a history with reversals of old approvals; the kept bytes
// are the engine's; a checkpoint rewrites only what changed; and the scrub
// finds a page whose engine bytes changed without a transaction.
#include "replica/checkpoint.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/hex.h"
#include "rules/engine.h"
#include "sample/sample.h"
#include "triad/transaction.h"

namespace triad::replica {
namespace {

struct Sequenced {
  std::int64_t ts_ms;
  Transaction tx;
};

// The sample's cards for `o`, and its traffic applied to an engine over them.
rules::CardFile sample_cards(const sample::Options& o) {
  rules::CardFile file;
  const Status s = rules::parse_card_file(sample::generate_card_file(o), &file);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return file;
}
void apply_sample_traffic(const sample::Options& o, rules::Engine* engine) {
  for (const std::string& line : sample::generate_traffic(o)) {
    Transaction tx;
    ASSERT_TRUE(parse_transaction_json(line, &tx).is_ok());
    engine->apply(*tx.ts, tx);
  }
}

rules::CardFile cards() { return sample_cards(sample::Options{}); }

// The sample traffic of `count` transactions, with a reversal of a random
// earlier transaction (most of them approved, some long before, on pages
// long full) after every 5th. A variation changes transaction number 3 (an
// approval on the first page of each list), to make a history whose old
// bytes differ in one place and whose decisions do not. With `spacing_ms`,
// transaction k is sequenced at k * spacing_ms after the first, so that
// entries leave the day-long windows.
enum class Variation { kNone, kAmount, kId, kStan };
std::vector<Sequenced> traffic(std::size_t count, Variation variation = Variation::kNone,
                               std::int64_t spacing_ms = 0, std::size_t card_count = 1'000) {
  sample::Options o;
  o.transaction_count = count;
  o.card_count = card_count;
  std::vector<Sequenced> out;
  std::mt19937_64 rng(7);
  std::size_t n = 0;
  for (const std::string& line : sample::generate_traffic(o)) {
    Sequenced s;
    const Status st = parse_transaction_json(line, &s.tx);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    s.ts_ms =
        spacing_ms == 0 ? *s.tx.ts : o.start_ts_ms + static_cast<std::int64_t>(n) * spacing_ms;
    if (n == 3) {
      switch (variation) {
        case Variation::kNone:
          break;
        case Variation::kAmount:
          *s.tx.amount += 1;
          break;
        case Variation::kId:
          s.tx.id = "changed-3";
          break;
        case Variation::kStan:
          s.tx.stan = "987654";
          break;
      }
    }
    out.push_back(s);
    if (++n % 5 == 0) {
      Sequenced r = out[rng() % out.size()];
      if (r.tx.mti != "0400") {
        r.tx.mti = "0400";
        r.tx.orig_id = r.tx.id;
        r.tx.id = "rv-" + std::to_string(n);
        r.ts_ms = s.ts_ms;
        out.push_back(r);
      }
    }
  }
  return out;
}

std::string serialized(const rules::Engine& engine) {
  std::string out;
  engine.serialize(&out);
  return out;
}

// The engine state after the sample traffic of `count` transactions
// (traffic()), as serialize() writes it, and its parts as checkpoints cut it.
std::string state_after(std::size_t count) {
  const rules::CardFile file = cards();
  rules::Engine engine(file);
  for (const Sequenced& s : traffic(count)) engine.apply(s.ts_ms, s.tx);
  return serialized(engine);
}
rules::Engine::SnapshotParts parts_of(const std::string& bytes) {
  rules::Engine::SnapshotParts parts;
  const Status s = rules::Engine::split_snapshot(bytes, kCheckpointCardPageEntries,
                                                 kCheckpointPageEntries, &parts);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return parts;
}

Digest digest_of(const std::string& bytes) {
  Digest d{};
  const Status s = checkpoint_digest(bytes, &d);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return d;
}

// Transactions 10 s apart: 12,000 span 33 hours, so the rule 10 FIFO loses
// its oldest entries as new ones come.
TEST(Checkpointer, KeepsTheDigestAndBytesOfTheWholeStateThroughReversalsAndEvictions) {
  const rules::CardFile file = cards();
  const std::vector<Sequenced> stream = traffic(12'000, Variation::kNone, /*spacing_ms=*/10'000);
  rules::Engine engine(file);
  Checkpointer checkpointer;
  std::mt19937_64 rng(11);
  std::uint64_t next_checkpoint = 0;
  std::uint64_t approved_reversals = 0;
  std::uint64_t checkpoints = 0;
  std::uint64_t max_rewritten = 0;
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    if (i == next_checkpoint || i == stream.size()) {
      const Digest d = checkpointer.update(engine);
      const std::string bytes = serialized(engine);
      ASSERT_EQ(d, digest_of(bytes)) << "after " << i << " transactions";
      ASSERT_EQ(checkpointer.engine_state(), bytes) << "after " << i << " transactions";
      EXPECT_EQ(checkpointer.last_work().scrub_mismatches, 0u);
      if (checkpoints > 0) {
        max_rewritten = std::max(max_rewritten, checkpointer.last_work().pages_rewritten);
      }
      ++checkpoints;
      next_checkpoint = i + 1 + rng() % 400;
    }
    if (i == stream.size()) break;
    const ResponseCode code = engine.apply(stream[i].ts_ms, stream[i].tx);
    if (stream[i].tx.mti == "0400" && code == ResponseCode::kApproved) ++approved_reversals;
  }
  // The history spans many pages, reversals reached back into them, and
  // the rule 10 FIFO both filled pieces and lost its oldest entries.
  EXPECT_GT(engine.approval_count(), 6 * kCheckpointPageEntries);
  EXPECT_LT(engine.duplicate_fifo_size(), engine.duplicate_fifo_pushed() * 9 / 10);
  EXPECT_GE(checkpointer.piece_count(), 3u);
  EXPECT_GT(approved_reversals, 1000u);
  EXPECT_GT(checkpoints, 50u);
  EXPECT_GE(checkpointer.page_count(), 20u);
  // Reversals of any earlier transaction rewrite any approval page, but the
  // id pages are rewritten only as they fill.
  EXPECT_LE(max_rewritten,
            checkpointer.card_page_count() + engine.approval_count() / kCheckpointPageEntries + 3);
}

// Transactions a minute apart and checkpoints up to 3,000 transactions (two
// days) apart, a quarter of them taken twice: the whole rule 10 window is
// sometimes replaced between two checkpoints, sometimes not touched.
TEST(Checkpointer, KeepsTheDigestWhenTheWholeWindowTurnsOverBetweenCheckpoints) {
  const rules::CardFile file = cards();
  const std::vector<Sequenced> stream = traffic(9'000, Variation::kNone, /*spacing_ms=*/60'000);
  rules::Engine engine(file);
  Checkpointer checkpointer;
  std::mt19937_64 rng(5);
  std::size_t next_checkpoint = 0;
  std::size_t last_checkpoint = 0;
  std::size_t longest_gap = 0;
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    if (i == next_checkpoint || i == stream.size()) {
      const Digest expected = digest_of(serialized(engine));
      ASSERT_EQ(checkpointer.update(engine), expected) << "after " << i << " transactions";
      if (rng() % 4 == 0) {
        ASSERT_EQ(checkpointer.update(engine), expected) << "again after " << i;
      }
      longest_gap = std::max(longest_gap, i - last_checkpoint);
      last_checkpoint = i;
      next_checkpoint = i + 1 + rng() % 3000;
    }
    if (i == stream.size()) break;
    engine.apply(stream[i].ts_ms, stream[i].tx);
  }
  EXPECT_EQ(checkpointer.engine_state(), serialized(engine));
  EXPECT_GT(longest_gap, 1'700u) << "more than a day of entries between two checkpoints";
  EXPECT_GE(checkpointer.piece_count(), 1u);
}

// Transactions 0.9 s apart: the rule 10 window holds about 96,000 entries,
// more than one group of pieces (64 pieces of about 1,024 entries each), and
// as the day passes the oldest groups leave while new ones close. (The sample
// traffic six times over, with new ids and terminals, to keep the test
// fast.) A second engine's history differs in one stan near the start of
// the window at the end, in its first group, which is closed: the scrub
// finds it there too.
TEST(Checkpointer, KeepsTheDigestAsGroupsOfPiecesJoinAndLeave) {
  const rules::CardFile file = cards();
  const std::vector<Sequenced> base = traffic(40'000);
  const std::int64_t start_ms = base.front().ts_ms;
  rules::Engine engine(file);
  rules::Engine flipped(file);
  Checkpointer checkpointer;
  std::uint64_t most_groups = 0;
  std::uint64_t n = 0;
  std::mt19937_64 rng(3);
  std::uint64_t next_checkpoint = 0;
  bool stan_changed = false;
  for (int round = 0; round < 6; ++round) {
    const std::string suffix = std::string("-r").append(std::to_string(round));
    for (const Sequenced& s : base) {
      if (n == next_checkpoint) {
        ASSERT_EQ(checkpointer.update(engine), digest_of(serialized(engine)))
            << "after " << n << " transactions";
        most_groups = std::max(most_groups, checkpointer.fifo_group_count());
        next_checkpoint = n + 1 + rng() % 40'000;
      }
      Transaction tx = s.tx;
      tx.id->append(suffix);
      if (tx.orig_id) tx.orig_id->append(suffix);
      // Sample terminals end in a digit: a letter per round keeps one
      // round's (terminal, stan) from repeating the last's within the day.
      if (tx.terminal && !tx.terminal->empty())
        tx.terminal->back() = static_cast<char>('a' + round);
      const std::int64_t ts_ms = start_ms + static_cast<std::int64_t>(n++) * 900;
      const ResponseCode code = engine.apply(ts_ms, tx);
      if (!stan_changed && n > 186'000 && tx.mti != "0400") {
        tx.stan = "999999";
        stan_changed = true;
      }
      ASSERT_EQ(flipped.apply(ts_ms, tx), code) << "the histories differ in bytes only, at " << n;
    }
  }
  const Digest good = checkpointer.update(engine);
  EXPECT_EQ(good, digest_of(serialized(engine)));
  // In steps (the front end's check between messages), whatever ends a step:
  // the same as the kept pages', groups of pieces closed and open included.
  const std::string whole = serialized(engine);
  for (const std::size_t step_bytes : {std::size_t{1}, std::size_t{4096}}) {
    CheckpointDigestSteps steps;
    ASSERT_TRUE(steps.start(whole).is_ok());
    while (!steps.step(step_bytes)) {
    }
    EXPECT_EQ(steps.digest(), good) << "in steps of " << step_bytes << " bytes";
  }
  // Pins the groups of pieces (kCheckpointFifoGroupPieces), which the
  // smaller states of CheckpointDigest.IsPinned do not reach.
  EXPECT_EQ(to_hex(good), "e1f4e1ff4523444a5c1d145be39f3d22b69e66e3e07f8ed92455a93c7332aee7");
  EXPECT_EQ(checkpointer.engine_state(), serialized(engine));
  EXPECT_GE(most_groups, 2u);
  EXPECT_LT(engine.duplicate_fifo_size() + 2 * kCheckpointPageEntries * kCheckpointFifoGroupPieces,
            engine.duplicate_fifo_pushed())
      << "two groups' worth of entries left the window";

  const std::string bad = serialized(flipped);
  ASSERT_TRUE(bad != serialized(engine));
  ASSERT_GE(checkpointer.fifo_group_count(), 2u);
  flipped.forget_changes();
  const Digest bad_digest = digest_of(bad);
  const std::uint64_t bound = checkpointer.page_count() + checkpointer.piece_count();
  std::uint64_t updates = 0;
  Digest d{};
  do {
    d = checkpointer.update(flipped);
    ++updates;
  } while (d != bad_digest && updates <= bound);
  EXPECT_EQ(d, bad_digest);
  EXPECT_EQ(checkpointer.engine_state(), bad);
}

TEST(Checkpointer, RewritesOnlyThePagesThatChanged) {
  const rules::CardFile file = cards();
  const std::vector<Sequenced> stream = traffic(12'000);
  rules::Engine engine(file);
  Checkpointer checkpointer;
  std::size_t i = 0;
  for (; i + 10 < stream.size(); ++i) {
    if (stream[i].tx.mti != "0400") engine.apply(stream[i].ts_ms, stream[i].tx);
  }
  checkpointer.update(engine);
  EXPECT_EQ(checkpointer.last_work().pages_rewritten, checkpointer.page_count());
  EXPECT_EQ(checkpointer.last_work().pieces_added, checkpointer.piece_count());
  EXPECT_GE(checkpointer.piece_count(), 3u);
  // Nothing new: nothing rewritten.
  checkpointer.update(engine);
  EXPECT_EQ(checkpointer.last_work().pages_rewritten, 0u);
  EXPECT_EQ(checkpointer.last_work().pieces_added, 0u);
  EXPECT_GE(checkpointer.last_work().scrubbed, 1u);
  // Ten transactions: the page of each card whose sums changed (the ten's
  // own, and those whose entries left the windows; 32 cards a page), the
  // last page of each list, or two when a page filled, and the page of each
  // approval reversed.
  std::uint64_t reversals = 0;
  for (std::size_t k = 0; k < 10; ++k) {
    engine.apply(stream[i + k].ts_ms, stream[i + k].tx);
    if (stream[i + k].tx.mti == "0400") ++reversals;
  }
  const std::uint64_t cards_changed = engine.changed_cards().size();
  const Digest d = checkpointer.update(engine);
  EXPECT_LE(checkpointer.last_work().pages_rewritten, cards_changed + 2 + 2 + reversals);
  EXPECT_LT(checkpointer.last_work().pages_rewritten, checkpointer.card_page_count());
  EXPECT_EQ(d, digest_of(serialized(engine)));
}

// Work done ahead (prepare(), after random stretches of transactions and in
// steps of random size, as a replica does while no message waits) changes
// no digest and no kept byte: with 20,000 cards (625 pages), two
// checkpointers, one of them never preparing, give at every checkpoint the
// digest of the engine's whole bytes, and the state a repair is given
// (engine_state()) stays the state at the last update. And a card flipped
// in memory is still seen.
TEST(Checkpointer, WorkDoneAheadChangesNoDigest) {
  constexpr std::size_t kCards = 20'000;
  sample::Options o;
  o.card_count = kCards;
  const rules::CardFile file = sample_cards(o);
  const std::vector<Sequenced> stream = traffic(6'000, Variation::kNone, 10'000, kCards);
  rules::Engine engine(file);
  rules::Engine twin(file);
  Checkpointer ahead;
  Checkpointer plain;
  ASSERT_EQ(ahead.update(engine), plain.update(twin));
  std::string at_update = serialized(engine);
  std::mt19937_64 rng(13);
  std::uint64_t done_ahead = 0;
  std::uint64_t checkpoints = 0;
  // A repair's copy in shares, as transactions, work ahead and updates go
  // on: the state at the update before it started.
  std::unique_ptr<Checkpointer::StateCopy> copy;
  std::string copy_of;
  std::uint64_t copies_whole = 0;
  std::uint64_t copies_across_updates = 0;
  bool copy_crossed_an_update = false;
  for (std::size_t i = 0; i < stream.size(); ++i) {
    engine.apply(stream[i].ts_ms, stream[i].tx);
    twin.apply(stream[i].ts_ms, stream[i].tx);
    if (!copy && rng() % 50 == 0) {
      copy = std::make_unique<Checkpointer::StateCopy>(ahead);
      copy_of = at_update;
      copy_crossed_an_update = false;
    }
    if (copy && copy->step(1 + rng() % 4'096)) {
      ASSERT_EQ(copy->take(), copy_of) << "after " << i + 1;
      copy.reset();
      ++copies_whole;
      if (copy_crossed_an_update) ++copies_across_updates;
    }
    if (rng() % 5 == 0) {
      for (std::uint64_t steps = rng() % 4; steps > 0 && ahead.prepare(engine, 1 + rng() % 40);
           --steps) {
      }
      // What a repair is given is still the state at the last update.
      if (rng() % 40 == 0) {
        ASSERT_EQ(ahead.engine_state(), at_update) << "after " << i + 1;
      }
    }
    if (rng() % 400 == 0 || i + 1 == stream.size()) {
      copy_crossed_an_update = copy != nullptr;
      const Digest d = ahead.update(engine);
      at_update = serialized(engine);
      ASSERT_EQ(d, plain.update(twin)) << "after " << i + 1 << " transactions";
      ASSERT_EQ(d, digest_of(at_update)) << "after " << i + 1 << " transactions";
      EXPECT_EQ(ahead.last_work().scrub_mismatches, 0u);
      done_ahead += ahead.last_work().ahead;
      ++checkpoints;
    }
  }
  EXPECT_EQ(ahead.engine_state(), serialized(engine));
  EXPECT_GT(checkpoints, 5u);
  EXPECT_GT(done_ahead, 1'000u);
  EXPECT_GT(copies_whole, 2u);
  EXPECT_GT(copies_across_updates, 2u);

  // All the work waiting, done ahead; then a card flips in memory; the
  // next checkpoint's digest is the flipped bytes', not the twin's.
  for (std::size_t i = 0; i < 500; ++i) {
    engine.apply(stream[i].ts_ms + 600'000'000, stream[i].tx);
    twin.apply(stream[i].ts_ms + 600'000'000, stream[i].tx);
  }
  EXPECT_GE(ahead.note_changes(engine), 64u);
  while (ahead.prepare(engine, 16)) {
  }
  EXPECT_EQ(ahead.note_changes(engine), 0u);
  EXPECT_FALSE(ahead.prepare(engine, 16)) << "nothing is left";
  engine.corrupt_for_fault_injection(7);
  const Digest flipped = digest_of(serialized(engine));
  std::uint64_t updates = 0;
  Digest d{};
  Digest healthy{};
  do {
    d = ahead.update(engine);
    healthy = plain.update(twin);
    ++updates;
  } while (d != flipped && updates < 40);
  EXPECT_EQ(d, flipped);
  EXPECT_NE(d, healthy);
}

// A copy in shares goes on across updates that replace or add pages, from
// a state whose lists are one short entry each: pages small enough to lie
// inside their string (which a page moved or rewritten does not keep in
// place; up to 15 bytes in libstdc++, 22 in libc++) are the copy's own. The
// pages the updates replace are kept once each, and released when the copy
// ends.
TEST(Checkpointer, ACopyFromTinyPagesGoesOnAcrossUpdates) {
  const rules::CardFile file = cards();
  for (const std::string id : {"x", "abcdefghij"}) {
    std::vector<Sequenced> stream = traffic(3'000, Variation::kNone, 10'000);
    stream[0].tx.id = id;
    rules::Engine engine(file);
    Checkpointer checkpointer;
    engine.apply(stream[0].ts_ms, stream[0].tx);
    checkpointer.update(engine);
    const std::string at_start = serialized(engine);
    std::optional<Checkpointer::StateCopy> copy(std::in_place, checkpointer);
    std::size_t updates = 0;
    for (std::size_t i = 1; i < stream.size(); ++i) {
      engine.apply(stream[i].ts_ms, stream[i].tx);
      if (i % 100 == 0) copy->step(64);
      if (i % 300 == 0) {
        checkpointer.update(engine);
        ++updates;
        // Each page the copy may view, once, however many updates replace it.
        ASSERT_LE(checkpointer.retained_page_bytes(), at_start.size()) << id << " " << i;
      }
    }
    ASSERT_GT(updates, 5u);
    EXPECT_GT(checkpointer.retained_page_bytes(), 0u);
    ASSERT_TRUE(copy->step(copy->total_bytes()));
    EXPECT_EQ(copy->take(), at_start) << id;
    copy.reset();
    EXPECT_EQ(checkpointer.retained_page_bytes(), 0u) << "released when the copy ends";
    checkpointer.update(engine);
    EXPECT_EQ(checkpointer.engine_state(), serialized(engine));
  }
}

// A copy ended by a reset() is destroyed later, while a copy after the reset
// is under way: the later copy's kept pages stay until it ends.
TEST(Checkpointer, ACopyFromBeforeAResetLeavesTheNextOneItsPages) {
  const rules::CardFile file = cards();
  const std::vector<Sequenced> stream = traffic(2'000, Variation::kNone, 10'000);
  rules::Engine engine(file);
  Checkpointer checkpointer;
  checkpointer.update(engine);
  std::optional<Checkpointer::StateCopy> before(std::in_place, checkpointer);
  checkpointer.reset();
  for (std::size_t i = 0; i < 1'000; ++i) engine.apply(stream[i].ts_ms, stream[i].tx);
  checkpointer.update(engine);
  const std::string at_copy = serialized(engine);
  Checkpointer::StateCopy after(checkpointer);
  before.reset();
  for (std::size_t i = 1'000; i < stream.size(); ++i) engine.apply(stream[i].ts_ms, stream[i].tx);
  checkpointer.update(engine);
  EXPECT_GT(checkpointer.retained_page_bytes(), 0u);
  ASSERT_TRUE(after.step(after.total_bytes()));
  EXPECT_EQ(after.take(), at_copy);
}

// A copy in shares views the kept pages: one that goes on after a reset()
// (which drops them) stops the process rather than read freed memory.
TEST(CheckpointerDeathTest, ACopyDoesNotGoOnAfterAReset) {
  const rules::CardFile file = cards();
  const std::vector<Sequenced> stream = traffic(100, Variation::kNone, 10'000);
  rules::Engine engine(file);
  Checkpointer checkpointer;
  checkpointer.update(engine);
  Checkpointer::StateCopy copy(checkpointer);
  ASSERT_FALSE(copy.step(1));
  for (const Sequenced& s : stream) engine.apply(s.ts_ms, s.tx);
  checkpointer.reset();
  checkpointer.update(engine);
  EXPECT_DEATH(copy.step(1), "resets");
}

// Memory that changes outside apply() (here: the checkpointer is shown an
// engine whose history differs in one old approval, id or rule 10 entry,
// as if those bytes had flipped) is found by the scrub, within one pass.
class ScrubTest : public ::testing::TestWithParam<Variation> {};

TEST_P(ScrubTest, FindsAnOldPageOrPieceThatChangedWithoutATransaction) {
  const rules::CardFile file = cards();
  const std::vector<Sequenced> stream = traffic(10'000);
  const std::vector<Sequenced> changed = traffic(10'000, GetParam());
  rules::Engine engine(file);
  rules::Engine flipped(file);
  for (std::size_t i = 0; i < stream.size(); ++i) {
    const ResponseCode a = engine.apply(stream[i].ts_ms, stream[i].tx);
    const ResponseCode b = flipped.apply(changed[i].ts_ms, changed[i].tx);
    ASSERT_EQ(a, b) << "the histories must differ in bytes only, at " << i;
  }
  const std::string good = serialized(engine);
  const std::string bad = serialized(flipped);
  ASSERT_NE(good, bad);
  ASSERT_EQ(engine.approval_count(), flipped.approval_count());
  ASSERT_EQ(engine.id_count(), flipped.id_count());
  ASSERT_EQ(engine.duplicate_fifo_pushed(), flipped.duplicate_fifo_pushed());

  Checkpointer checkpointer;
  ASSERT_EQ(checkpointer.update(engine), digest_of(good));
  ASSERT_GE(checkpointer.piece_count(), 3u);
  flipped.forget_changes();  // nothing for the checkpoint to rewrite
  const std::uint64_t bound = checkpointer.page_count() + checkpointer.piece_count();
  std::uint64_t updates = 0;
  Digest d{};
  std::uint64_t mismatches = 0;
  do {
    d = checkpointer.update(flipped);
    mismatches += checkpointer.last_work().scrub_mismatches;
    ++updates;
  } while (d != digest_of(bad) && updates <= bound);
  EXPECT_EQ(d, digest_of(bad));
  EXPECT_EQ(checkpointer.engine_state(), bad);
  EXPECT_GE(mismatches, 1u);
  EXPECT_LE(updates, bound);
}

INSTANTIATE_TEST_SUITE_P(Checkpointer, ScrubTest,
                         ::testing::Values(Variation::kAmount, Variation::kId, Variation::kStan),
                         [](const auto& param_info) {
                           switch (param_info.param) {
                             case Variation::kAmount:
                               return std::string("ApprovalPage");
                             case Variation::kId:
                               return std::string("IdPage");
                             default:
                               return std::string("RuleTenPiece");
                           }
                         });

// A bit flipped in a card's memory (the corrupt-state fault) changes the
// digest at the next checkpoint with the 1,000 sample cards, and with 20,000
// (625 pages) within 20, when nothing else changes (32 pages re-read each
// time).
TEST(Checkpointer, AFlippedCardChangesTheDigestWhenItsPageIsReread) {
  for (const std::size_t card_count : {1'000u, 20'000u}) {
    sample::Options o;
    o.card_count = card_count;
    o.transaction_count = 2'000;
    const rules::CardFile file = sample_cards(o);
    rules::Engine engine(file);
    apply_sample_traffic(o, &engine);
    Checkpointer checkpointer;
    const Digest before = checkpointer.update(engine);
    engine.corrupt_for_fault_injection(card_count / 2 + 7);
    const Digest flipped = digest_of(serialized(engine));
    ASSERT_NE(before, flipped);
    std::uint64_t updates = 0;
    Digest d{};
    do {
      d = checkpointer.update(engine);
      ++updates;
    } while (d != flipped && updates < 40);
    EXPECT_EQ(d, flipped) << card_count << " cards";
    EXPECT_LE(updates, card_count == 1'000 ? 1u : 20u) << card_count << " cards";
  }
}

TEST(Checkpointer, ResetStartsAgainFromAnotherEngine) {
  const rules::CardFile file = cards();
  const std::vector<Sequenced> stream = traffic(6'000);
  const std::size_t half = stream.size() / 2;
  rules::Engine engine(file);
  for (std::size_t i = 0; i < half; ++i) engine.apply(stream[i].ts_ms, stream[i].tx);
  Checkpointer checkpointer;
  checkpointer.update(engine);
  rules::Engine restored(file);
  ASSERT_TRUE(restored.restore(serialized(engine)).is_ok());
  checkpointer.reset();
  EXPECT_EQ(checkpointer.update(restored), digest_of(serialized(engine)));
  EXPECT_EQ(checkpointer.last_work().pages_rewritten, checkpointer.page_count());
  // And carries on from there (the restored engine counts its rule 10
  // entries from 0 again, and has no changes to tell).
  for (std::size_t i = half; i < stream.size(); ++i) {
    restored.apply(stream[i].ts_ms, stream[i].tx);
    if (i % 500 == 0) {
      ASSERT_EQ(checkpointer.update(restored), digest_of(serialized(restored))) << i;
    }
  }
  EXPECT_EQ(checkpointer.update(restored), digest_of(serialized(restored)));
  EXPECT_EQ(checkpointer.engine_state(), serialized(restored));
}

// The digest of version 2 is fixed: a change to any of its constants (page
// or group size, where the rule 10 FIFO is cut, the tag) must be a new
// version, not a silent change. (The digest also follows the sample data
// and the rules: a change there changes it too, as it does the pinned
// snapshot bytes of tests/rules/snapshot_test.cc.)
TEST(CheckpointDigest, IsPinned) {
  EXPECT_EQ(to_hex(digest_of(state_after(3'000))),
            "f816da54f676b3e165e8da4acf9e2a4fb06bf87212cc9492fc6bf2ee3b205166");
  // 20,000 cards: 625 card pages, more than one group of them.
  sample::Options o;
  o.card_count = 20'000;
  o.transaction_count = 2'000;
  const rules::CardFile many = sample_cards(o);
  rules::Engine large(many);
  apply_sample_traffic(o, &large);
  EXPECT_EQ(to_hex(digest_of(serialized(large))),
            "7c6ab15a9c01a7ea2903c2a8e286deefa405707ec49638fd5f9cbad224d44e92");
  EXPECT_EQ(Checkpointer::boundary_hash(std::string(20, '\0')), 11765003476896756161u);
  EXPECT_EQ(Checkpointer::boundary_hash("0123456789abcdefghij"), 4753672238306954100u);
}

// The digest in steps (CheckpointDigestSteps, the front end's check of a
// repair's snapshot between messages) is checkpoint_digest()'s whatever the
// step's size, and a small step takes many: every page and FIFO entry is a
// share of the work.
TEST(CheckpointDigest, InStepsIsTheSameWhateverTheStepSize) {
  const std::string bytes = state_after(3'000);
  const rules::Engine::SnapshotParts parts = parts_of(bytes);
  const std::size_t pages =
      parts.card_pages.size() + parts.approval_pages.size() + parts.id_pages.size();
  ASSERT_GT(parts.duplicate_fifo.size(), 0u);
  // A step counts the FIFO's bytes twice (its entries, then its pieces):
  // one of twice the state's size is a step that does it all.
  for (const std::size_t step_bytes : {std::size_t{1}, std::size_t{100}, std::size_t{4096},
                                       std::size_t{1} << 20, 2 * bytes.size()}) {
    CheckpointDigestSteps steps;
    ASSERT_TRUE(steps.start(bytes).is_ok());
    std::size_t count = 1;
    while (!steps.step(step_bytes)) ++count;
    EXPECT_EQ(steps.digest(), digest_of(bytes)) << step_bytes;
    if (step_bytes == 1) {
      EXPECT_EQ(count, pages + parts.duplicate_fifo.size() / 20) << "one page or entry a step";
    }
    if (step_bytes == 2 * bytes.size()) {
      EXPECT_EQ(count, 1u);
    }
  }
  CheckpointDigestSteps steps;
  EXPECT_EQ(steps.start(bytes.substr(0, bytes.size() / 2)).code(), Status::Code::kCorruption);
}

// A byte changed in any part of the state (the head, a card, an approval,
// an id, a rule 10 FIFO entry) gives another digest, not a refusal. The
// bytes changed are values the cut into parts does not read.
TEST(CheckpointDigest, DependsOnEveryPart) {
  const std::string bytes = state_after(3'000);
  const rules::Engine::SnapshotParts parts = parts_of(bytes);
  ASSERT_GE(parts.card_pages.size(), 2u);
  ASSERT_GE(parts.approval_pages.size(), 2u);
  ASSERT_GE(parts.id_pages.size(), 2u);
  ASSERT_GE(parts.duplicate_fifo.size(), rules::Engine::kDuplicateFifoEntryBytes);
  const auto offset_of = [&](std::string_view part) {
    return static_cast<std::size_t>(part.data() - bytes.data());
  };
  const auto flipped_at = [&](std::size_t at) {
    std::string changed = bytes;
    changed[at] = static_cast<char>(changed[at] ^ 0x01);
    return changed;
  };
  const std::vector<std::pair<const char*, std::string>> variants = {
      // The low byte of the applied count (after the tag and two versions).
      {"head", flipped_at(18 + 4 + 4 + 7)},
      // The last byte of a page: the low byte of its last card's
      // approvals_in_window, and of its last id's approval number.
      {"card", flipped_at(offset_of(parts.card_pages[1]) + parts.card_pages[1].size() - 1)},
      {"id", flipped_at(offset_of(parts.id_pages[1]) + parts.id_pages[1].size() - 1)},
      // An amount.
      {"approval", flipped_at(offset_of(parts.approval_pages[1]) + 4 + 1 + 8 + 8 + 7)},
      // The FIFO's first stan.
      {"rule 10 FIFO",
       flipped_at(offset_of(parts.duplicate_fifo) + rules::Engine::kDuplicateFifoEntryBytes - 1)},
  };
  const Digest d = digest_of(bytes);
  for (const auto& [part, changed] : variants) {
    Digest other{};
    const Status s = checkpoint_digest(changed, &other);
    ASSERT_TRUE(s.is_ok()) << part << ": " << s.to_string();
    EXPECT_NE(other, d) << part;
  }
}

// Every byte of a state is in its digest: bytes after the rule 10 FIFO,
// which the digest would not cover (and restore() refuses), are refused,
// not given the digest of the state before them, whole or in steps. So a
// repair's source cannot pass the front end's check with a state the
// replica given it would then refuse.
TEST(CheckpointDigest, RefusesBytesAfterTheState) {
  const std::string bytes = state_after(3'000);
  const std::string longer = bytes + std::string(1, '\0');
  Digest d{};
  const Status whole = checkpoint_digest(longer, &d);
  EXPECT_EQ(whole.code(), Status::Code::kCorruption) << whole.to_string();
  EXPECT_NE(whole.message().find("1 bytes after the rule 10 FIFO"), std::string::npos)
      << whole.message();
  EXPECT_EQ(check_checkpoint_digest(longer, digest_of(bytes)).code(), Status::Code::kCorruption);
  EXPECT_TRUE(check_checkpoint_digest(bytes, digest_of(bytes)).is_ok());
  CheckpointDigestSteps steps;
  EXPECT_EQ(steps.start(longer).code(), Status::Code::kCorruption);
}

TEST(CheckpointDigest, RefusesBytesThatAreNotAnEngineState) {
  const std::string bytes = state_after(500);
  Digest d{};
  Status s = checkpoint_digest(bytes.substr(0, bytes.size() / 2), &d);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  EXPECT_EQ(s.message().rfind("engine snapshot: ", 0), 0u) << s.message();
  s = checkpoint_digest("not a snapshot at all, but long enough to read a tag", &d);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find("format tag"), std::string::npos) << s.message();
  // Format version 2 (until 2026-12-07 late: it also held the rule 10 table and
  // the rule 11 and 12 FIFOs, after the rule 10 FIFO).
  std::string version_2 = bytes;
  version_2[18 + 3] = 2;
  s = checkpoint_digest(version_2, &d);
  EXPECT_EQ(s.code(), Status::Code::kCorruption) << s.to_string();
  EXPECT_NE(s.message().find("format version 2, expected 3"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace triad::replica
