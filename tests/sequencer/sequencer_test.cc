#include "sequencer/sequencer.h"

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <vector>

namespace triad::sequencer {
namespace {

Digest digest_of(std::uint8_t b) {
  Digest d{};
  d[0] = b;
  return d;
}

using Kind = Admission::Kind;

// The input journal as the sequencer sees it: what each seq holds, and how
// often it was asked (a read from disk, in the front end).
class FakeHistory : public History {
 public:
  Status sequenced(std::uint64_t seq, Sequenced* out) override {
    ++reads;
    if (fail) return Status::unavailable("journal unreadable");
    if (seq == 0 || seq > by_seq.size()) return Status::internal("no seq " + std::to_string(seq));
    *out = by_seq[seq - 1];
    return Status::ok();
  }
  // Records what admit() or restore() just sequenced.
  void add(const std::string& id, const Digest& digest, std::int64_t ts_ms) {
    by_seq.push_back({id, digest, ts_ms});
  }
  std::vector<Sequenced> by_seq;
  int reads = 0;
  bool fail = false;
};

// A Sequencer over a FakeHistory that it keeps up to date.
struct Fixture {
  explicit Fixture(Sequencer::Config config = {}) : s(config, &history) {}
  Admission admit(const std::string& id, const Digest& digest,
                  std::optional<std::int64_t> client_ts, std::int64_t now_ms) {
    Admission a;
    const Status st = s.admit(id, digest, client_ts, now_ms, &a);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    if (a.kind == Kind::kNew) history.add(id, digest, a.ts_ms);
    return a;
  }
  Status restore(const std::string& id, const Digest& digest, std::uint64_t seq, std::int64_t ts) {
    const Status st = s.restore(id, digest, seq, ts);
    if (st.is_ok()) history.add(id, digest, ts);
    return st;
  }
  Kind lookup(const std::string& id, const Digest& digest) {
    Admission a;
    EXPECT_TRUE(s.lookup(id, digest, &a).is_ok());
    return a.kind;
  }
  FakeHistory history;
  Sequencer s;
};

// Every id of the same length collides.
std::uint64_t length_hash(const crypto::ShortHashKey&, std::string_view id) { return id.size(); }

TEST(Sequencer, SeqFromOneAndClockTime) {
  Fixture f({.trust_client_time = false});
  const auto a = f.admit("t1", digest_of(1), 5, 1000);
  EXPECT_EQ(a.kind, Kind::kNew);
  EXPECT_EQ(a.seq, 1u);
  EXPECT_EQ(a.ts_ms, 1000);  // client ts ignored unless trusted
  const auto b = f.admit("t2", digest_of(2), std::nullopt, 1001);
  EXPECT_EQ(b.seq, 2u);
  EXPECT_EQ(b.ts_ms, 1001);
}

TEST(Sequencer, ClockGoingBackwardsIsRaised) {
  Fixture f;
  EXPECT_EQ(f.admit("t1", digest_of(1), {}, 2000).ts_ms, 2000);
  EXPECT_EQ(f.admit("t2", digest_of(2), {}, 1500).ts_ms, 2000);
}

TEST(Sequencer, TrustedClientTimeNeverGoesBackwards) {
  Fixture f({.trust_client_time = true});
  EXPECT_EQ(f.admit("t1", digest_of(1), 5000, 1).ts_ms, 5000);
  EXPECT_EQ(f.admit("t2", digest_of(2), 4000, 1).ts_ms, 5000);
  EXPECT_EQ(f.admit("t3", digest_of(3), 6000, 1).ts_ms, 6000);
  EXPECT_EQ(f.admit("t4", digest_of(4), std::nullopt, 7).ts_ms, 6000);  // no ts: clock, raised
}

TEST(Sequencer, RepeatedIdIsAnsweredNotResequenced) {
  Fixture f;
  f.admit("t1", digest_of(1), {}, 10);
  f.admit("t2", digest_of(2), {}, 11);
  EXPECT_EQ(f.history.reads, 0) << "a new id needs no read of the journal";
  const auto again = f.admit("t1", digest_of(1), {}, 99);
  EXPECT_EQ(again.kind, Kind::kRepeated);
  EXPECT_EQ(again.seq, 1u);
  EXPECT_EQ(again.ts_ms, 10);
  EXPECT_EQ(f.history.reads, 1);
  EXPECT_EQ(f.s.last_seq(), 2u);
}

TEST(Sequencer, SameIdDifferentContentIsRefused) {
  Fixture f;
  f.admit("t1", digest_of(1), {}, 10);
  const auto reused = f.admit("t1", digest_of(9), {}, 11);
  EXPECT_EQ(reused.kind, Kind::kIdReused);
  EXPECT_EQ(reused.seq, 1u) << "the seq the id already has";
  EXPECT_EQ(f.s.last_seq(), 1u);
  EXPECT_EQ(f.admit("t2", digest_of(2), {}, 12).seq, 2u);  // no seq was consumed
}

// Ids whose hashes are equal are told apart by the id the journal holds.
TEST(Sequencer, IdsWithTheSameHashAreToldApartByTheJournal) {
  Fixture f({.id_hash = length_hash});
  EXPECT_EQ(f.admit("t1", digest_of(1), {}, 10).kind, Kind::kNew);
  EXPECT_EQ(f.admit("t2", digest_of(2), {}, 11).kind, Kind::kNew);
  EXPECT_EQ(f.admit("t3", digest_of(1), {}, 12).kind, Kind::kNew) << "same content, other id";
  EXPECT_EQ(f.history.reads, 0 + 1 + 2);
  const auto t2 = f.admit("t2", digest_of(2), {}, 13);
  EXPECT_EQ(t2.kind, Kind::kRepeated);
  EXPECT_EQ(t2.seq, 2u);
  EXPECT_EQ(t2.ts_ms, 11);
  const auto t3 = f.admit("t3", digest_of(7), {}, 14);
  EXPECT_EQ(t3.kind, Kind::kIdReused);
  EXPECT_EQ(t3.seq, 3u);
  EXPECT_EQ(f.s.last_seq(), 3u);
  EXPECT_EQ(f.lookup("t4", digest_of(4)), Kind::kNew);
  EXPECT_EQ(f.lookup("t1", digest_of(1)), Kind::kRepeated);
}

// When the journal cannot be read back, nothing is decided about the id:
// no seq is used, and the same request succeeds once it can.
TEST(Sequencer, AnUnreadableJournalSequencesNothing) {
  Fixture f;
  f.admit("t1", digest_of(1), {}, 10);
  f.history.fail = true;
  Admission a;
  EXPECT_EQ(f.s.admit("t1", digest_of(1), {}, 11, &a).code(), Status::Code::kUnavailable);
  EXPECT_EQ(a.kind, Kind::kNew);
  EXPECT_EQ(a.seq, 0u);
  EXPECT_EQ(f.s.lookup("t1", digest_of(1), &a).code(), Status::Code::kUnavailable);
  EXPECT_EQ(f.s.last_seq(), 1u);
  // A new id does not need the journal.
  EXPECT_EQ(f.s.admit("t2", digest_of(2), {}, 12, &a).code(), Status::Code::kOk);
  EXPECT_EQ(a.seq, 2u);
  f.history.add("t2", digest_of(2), a.ts_ms);
  f.history.fail = false;
  EXPECT_EQ(f.admit("t1", digest_of(1), {}, 13).kind, Kind::kRepeated);
}

// After a restart the record comes back from the journal: earlier ids answer
// with their seq, new ones continue after the last, time never goes back.
TEST(Sequencer, RestoreThenContinue) {
  Fixture f;
  ASSERT_TRUE(f.restore("t1", digest_of(1), 1, 5000).is_ok());
  ASSERT_TRUE(f.restore("t2", digest_of(2), 2, 6000).is_ok());
  EXPECT_EQ(f.s.last_seq(), 2u);
  EXPECT_EQ(f.lookup("t1", digest_of(1)), Kind::kRepeated);
  EXPECT_EQ(f.lookup("t1", digest_of(9)), Kind::kIdReused);
  EXPECT_EQ(f.lookup("t3", digest_of(3)), Kind::kNew);
  EXPECT_EQ(f.s.last_seq(), 2u) << "lookup sequences nothing";
  const auto again = f.admit("t2", digest_of(2), {}, 1);
  EXPECT_EQ(again.kind, Kind::kRepeated);
  EXPECT_EQ(again.seq, 2u);
  EXPECT_EQ(again.ts_ms, 6000);
  const auto next = f.admit("t3", digest_of(3), {}, 100);  // a clock behind the journal
  EXPECT_EQ(next.seq, 3u);
  EXPECT_EQ(next.ts_ms, 6000);
}

TEST(Sequencer, RestoreRefusesWhatAdmitCannotHaveDone) {
  Fixture f;
  ASSERT_TRUE(f.restore("t1", digest_of(1), 1, 5000).is_ok());
  const Status twice = f.restore("t1", digest_of(1), 2, 5000);
  EXPECT_EQ(twice.code(), Status::Code::kCorruption);
  EXPECT_NE(twice.to_string().find("id t1 is at seq 1 and again at seq 2"), std::string::npos)
      << twice.to_string();
  Fixture g;
  ASSERT_TRUE(g.restore("t1", digest_of(1), 1, 5000).is_ok());
  EXPECT_EQ(g.restore("t2", digest_of(2), 2, 4999).code(), Status::Code::kCorruption);
  // Colliding hashes are not mistaken for the same id.
  Fixture h({.id_hash = length_hash});
  ASSERT_TRUE(h.restore("t1", digest_of(1), 1, 5000).is_ok());
  ASSERT_TRUE(h.restore("t2", digest_of(1), 2, 5000).is_ok());
  EXPECT_EQ(h.restore("t2", digest_of(2), 3, 5000).code(), Status::Code::kCorruption);
}

TEST(IdIndex, FindsEveryHashAfterManyDoublings) {
  IdIndex index;
  const std::size_t start_bytes = index.capacity_bytes();
  std::mt19937_64 rng(7);
  std::vector<std::uint64_t> hashes(200'000);
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    hashes[i] = rng();
    index.insert(hashes[i], i + 1);
  }
  EXPECT_EQ(index.size(), hashes.size());
  for (std::size_t i = 0; i < hashes.size(); ++i) {
    std::uint64_t found = 0;
    EXPECT_TRUE(index.find_if(hashes[i], [&](std::uint64_t seq) {
      found = seq;
      return true;
    }));
    ASSERT_EQ(found, i + 1);
  }
  for (int i = 0; i < 1000; ++i) {
    EXPECT_FALSE(index.find_if(rng(), [](std::uint64_t) { return true; }));
  }
  // 16 bytes a slot, at most four slots for every three ids (plus the
  // 1,024 tables' initial eight), and at least one slot per id.
  EXPECT_GE(index.capacity_bytes(), 16 * hashes.size());
  EXPECT_LE(index.capacity_bytes(), start_bytes + 2 * 16 * hashes.size() * 4 / 3);
}

TEST(IdIndex, EqualHashesAreAllVisitedInTurn) {
  IdIndex index;
  for (std::uint64_t seq = 1; seq <= 100; ++seq) index.insert(42, seq);
  index.insert(43, 1000);
  std::set<std::uint64_t> seen;
  EXPECT_FALSE(index.find_if(42, [&](std::uint64_t seq) {
    seen.insert(seq);
    return false;
  }));
  EXPECT_EQ(seen.size(), 100u);
  EXPECT_EQ(*seen.begin(), 1u);
  EXPECT_EQ(*seen.rbegin(), 100u);
  EXPECT_TRUE(index.find_if(42, [](std::uint64_t seq) { return seq == 77; }));
  EXPECT_TRUE(index.find_if(43, [](std::uint64_t seq) { return seq == 1000; }));
}

}  // namespace
}  // namespace triad::sequencer
