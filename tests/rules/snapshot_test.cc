// Engine snapshots (Engine::serialize / restore) and the corrupt-state
// fault (Engine::corrupt_for_fault_injection): determinism, canonical bytes,
// the round trip and what follows it, and refusal of every bad input.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

#include "rules/card_index.h"
#include "rules/engine.h"
#include "rules/test_util.h"
#include "sample/sample.h"

namespace triad::rules {
namespace {

using testing::with_check_digit;
using RC = ResponseCode;

struct Sequenced {
  std::int64_t ts_ms;
  Transaction tx;
};

CardFile parse_cards(const std::string& text) {
  CardFile file;
  const Status s = parse_card_file(text, &file);
  EXPECT_TRUE(s.is_ok()) << s.to_string();
  return file;
}

// The default sample (1000 cards) with `count` transactions, as the replicas
// get it with client time trusted.
struct Sample {
  CardFile cards;
  std::vector<Sequenced> traffic;
};

Sample make_sample(std::size_t count, std::uint64_t seed = 1) {
  sample::Options o;
  o.seed = seed;
  o.transaction_count = count;
  Sample s;
  s.cards = parse_cards(sample::generate_card_file(o));
  for (const std::string& line : sample::generate_traffic(o)) {
    Transaction tx;
    const Status st = parse_transaction_json(line, &tx);
    EXPECT_TRUE(st.is_ok()) << st.to_string();
    EXPECT_TRUE(tx.ts.has_value());
    const std::int64_t ts = *tx.ts;
    s.traffic.push_back({ts, std::move(tx)});
  }
  return s;
}

const Sample& sample_20k() {
  static const Sample s = make_sample(20'000);
  return s;
}

std::string snapshot(const Engine& e) {
  std::string out;
  e.serialize(&out);
  return out;
}

// A small hand-made world that fills every table quickly: few cards with
// small limits, few terminals and stans (rule 10), reversals of earlier ids,
// repeated ids, other MTIs, malformed lines, and one card whose PAN has 20
// digits (never found).
const std::string kSmallPans[] = {
    with_check_digit("411111000000001"), with_check_digit("411111000000002"),
    with_check_digit("411111000000003"), with_check_digit("411111000000004"),
    with_check_digit("411111000000005"), with_check_digit("4111110000000000006"),
};

std::string small_card_file() {
  std::string t = "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\n";
  t += kSmallPans[0] + ",2812,A,840,50000,20000,7995;6011\n";
  t += kSmallPans[1] + ",2812,A,978,30000,5000,\n";
  t += kSmallPans[2] + ",2812,L,840,100000,20000,\n";
  t += kSmallPans[3] + ",2812,A,392,900000,300000,5812\n";
  t += kSmallPans[4] + ",2812,A,840,8000,8000,\n";
  t += kSmallPans[5] + ",2812,A,840,100000,20000,\n";
  return t;
}

// splitmix64: the same stream on every build.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : x_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (x_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  std::uint64_t below(std::uint64_t n) { return next() % n; }

 private:
  std::uint64_t x_;
};

std::vector<Sequenced> small_traffic(std::size_t count, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<Sequenced> out;
  std::vector<std::pair<std::string, std::string>> sent;  // id, pan
  std::int64_t ts = testing::utc_ms(2027, 3, 1);
  const char* const currencies[] = {"840", "978", "392", "840", "840", "840"};
  const char* const terminals[] = {"TERM0001", "TERM0002", "ATM 0003"};
  for (std::size_t i = 0; i < count; ++i) {
    ts += static_cast<std::int64_t>(rng.below(4) == 0 ? rng.below(3'600'000) : rng.below(9'000));
    Transaction tx;
    tx.id = "t" + std::to_string(i);
    if (rng.below(50) == 0 && !sent.empty()) tx.id = sent[rng.below(sent.size())].first;
    const std::size_t card = rng.below(6);
    tx.pan = rng.below(40) == 0 ? with_check_digit("499999999999999") : kSmallPans[card];
    tx.stan = std::to_string(100'000 + rng.below(40));
    tx.terminal = terminals[rng.below(3)];
    const std::uint64_t kind = rng.below(20);
    if (kind < 3 && !sent.empty()) {
      const auto& [orig, pan] = sent[rng.below(sent.size())];
      tx.mti = "0400";
      tx.orig_id = orig;
      tx.pan = pan;
    } else if (kind == 3) {
      tx.mti = "0300";
    } else {
      tx.mti = rng.below(2) == 0 ? "0100" : "0200";
      tx.proc = rng.below(3) == 0 ? "010000" : "000000";
      tx.amount = static_cast<std::int64_t>(1 + rng.below(6'000));
      tx.currency = currencies[card];
      tx.expiry = "2812";
      tx.mcc = rng.below(10) == 0 ? "6011" : "5411";
      tx.merchant = "SHOP";
    }
    if (rng.below(30) == 0) tx.stan.reset();  // a 30
    sent.emplace_back(*tx.id, *tx.pan);
    out.push_back({ts, std::move(tx)});
  }
  return out;
}

// FNV-1a, for pinning bytes in a test (not a digest anyone relies on).
std::uint64_t fnv1a(const std::string& bytes) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : bytes) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

TEST(SnapshotTest, SerializeIsDeterministic) {
  const CardFile cards = parse_cards(small_card_file());
  Engine engine(cards);
  const std::string empty = snapshot(engine);
  EXPECT_EQ(empty.substr(0, 18), "triad-engine-state");
  EXPECT_EQ(snapshot(engine), empty);
  EXPECT_EQ(snapshot(Engine(cards)), empty);
  for (const Sequenced& s : small_traffic(3'000, 5)) engine.apply(s.ts_ms, s.tx);
  std::string a;
  std::string b = "old content that must go";
  engine.serialize(&a);
  engine.serialize(&b);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, empty);
}

// Each replica keys its hash tables at random (table_hash.h): the codes and
// the bytes do not depend on the key.
TEST(SnapshotTest, SameHistoryGivesSameBytesWhateverTheTableKeys) {
  const auto same_history = [](const CardFile& cards, const std::vector<Sequenced>& traffic) {
    Engine a(cards, TableHashKey::random());
    Engine b(cards, TableHashKey::random());
    for (std::size_t i = 0; i < traffic.size(); ++i) {
      ASSERT_EQ(a.apply(traffic[i].ts_ms, traffic[i].tx), b.apply(traffic[i].ts_ms, traffic[i].tx));
      if ((i + 1) % 1000 == 0) {
        ASSERT_EQ(snapshot(a), snapshot(b)) << "after " << i + 1;
      }
    }
    ASSERT_EQ(snapshot(a), snapshot(b));
  };
  same_history(sample_20k().cards, sample_20k().traffic);
  same_history(parse_cards(small_card_file()), small_traffic(6'000, 3));
}

// The bytes are pinned, so the test fails in any build (card index,
// compiler, standard library) whose bytes differ. Run it in the hash,
// ordered and sorted builds (-DTRIAD_CARD_INDEX=...). A deliberate change of
// the layout must change kSnapshotFormatVersion and these values together.
TEST(SnapshotTest, BytesArePinnedAcrossBuilds) {
  const CardFile cards = parse_cards(small_card_file());
  Engine engine(cards);
  const std::vector<Sequenced> traffic = small_traffic(4'000, 11);
  std::vector<std::uint64_t> digests;
  std::size_t size = 0;
  for (std::size_t i = 0; i < traffic.size(); ++i) {
    engine.apply(traffic[i].ts_ms, traffic[i].tx);
    if ((i + 1) % 1000 == 0) {
      const std::string bytes = snapshot(engine);
      digests.push_back(fnv1a(bytes));
      size = bytes.size();
    }
  }
  std::printf(
      "card index %s: %zu bytes, fnv1a %016llx %016llx %016llx %016llx\n", kCardIndexName, size,
      static_cast<unsigned long long>(digests[0]), static_cast<unsigned long long>(digests[1]),
      static_cast<unsigned long long>(digests[2]), static_cast<unsigned long long>(digests[3]));
  // Format version 3. The three replica builds (card index, compiler and
  // standard library each different) are compared checkpoint by checkpoint
  // in tests/process/differential_test.cc.
  const std::vector<std::uint64_t> expected = {0xa00321bef675e5e2ULL, 0xc2782c5562890cd1ULL,
                                               0x7dbf4aa6e8c1355bULL, 0x4a114ff9aa231fdaULL};
  EXPECT_EQ(digests, expected);
}

TEST(SnapshotTest, EveryTransactionChangesTheBytes) {
  const CardFile cards = parse_cards(small_card_file());
  Engine engine(cards);
  std::string before = snapshot(engine);
  // Counters: tag 18, versions 8, applied 8, flag 1, last ts 8.
  constexpr std::size_t kCounterEnd = 18 + 8 + 8 + 1 + 8;
  int approved = 0;
  for (const Sequenced& s : small_traffic(2'000, 7)) {
    const RC code = engine.apply(s.ts_ms, s.tx);
    const std::string after = snapshot(engine);
    ASSERT_NE(after, before);
    if (code == RC::kApproved) {
      ++approved;
      ASSERT_NE(after.substr(kCounterEnd), before.substr(kCounterEnd)) << *s.tx.id;
    }
    before = after;
  }
  EXPECT_GT(approved, 50);
}

// Snapshot at `at`, restore into a fresh engine, run the rest on both.
void check_continuation(const CardFile& cards, const std::vector<Sequenced>& traffic,
                        std::size_t at) {
  Engine source(cards);
  for (std::size_t i = 0; i < at; ++i) source.apply(traffic[i].ts_ms, traffic[i].tx);
  const std::string bytes = snapshot(source);

  Engine restored(cards);
  const Status st = restored.restore(bytes);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  ASSERT_EQ(snapshot(restored), bytes);
  EXPECT_EQ(restored.applied_count(), at);

  std::size_t approved = 0;
  for (std::size_t i = at; i < traffic.size(); ++i) {
    const RC want = source.apply(traffic[i].ts_ms, traffic[i].tx);
    const RC got = restored.apply(traffic[i].ts_ms, traffic[i].tx);
    ASSERT_EQ(got, want) << "transaction " << i;
    approved += want == RC::kApproved ? 1 : 0;
  }
  if (traffic.size() - at >= 1'000) {
    EXPECT_GT(approved, 0u);
  }
  EXPECT_EQ(snapshot(restored), snapshot(source));
}

TEST(SnapshotTest, RestoreContinuesLikeTheSourceOnSampleTraffic) {
  const Sample& s = sample_20k();
  check_continuation(s.cards, s.traffic, 5'000);
}

TEST(SnapshotTest, RestoreContinuesLikeTheSourceOnSmallTraffic) {
  const CardFile cards = parse_cards(small_card_file());
  const std::vector<Sequenced> traffic = small_traffic(3'000, 3);
  for (const std::size_t at : {0u, 1u, 2u, 17u, 500u, 1'234u, 2'999u, 3'000u}) {
    SCOPED_TRACE(at);
    check_continuation(cards, traffic, at);
  }
}

// The tables a snapshot leaves out (the rule 10 table, the rule 11 and 12
// windows) are rebuilt at restore() as apply() keeps them, at the edges of
// their windows too: approvals 60,000 and 59,999 ms before the last ts
// (rule 11's minute), cash approvals 86,400,000 and 86,399,999 ms before
// (rule 12's day), one of them reversed, and a rule 10 key whose older
// entry has just left the day while its newer one is in it. Then both
// engines answer the same as those entries leave, one ms later.
TEST(SnapshotTest, RestoreRebuildsTheWindowsAtTheirEdges) {
  const std::string pan = with_check_digit("411111000000001");
  const CardFile cards =
      parse_cards("pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\n" + pan +
                  ",2812,A,840,1000000,10000,\n");
  const auto tx = [&](const std::string& id, std::int64_t amount, bool cash,
                      const std::string& stan) {
    Transaction t = testing::authorization(id, pan, amount, stan);
    if (cash) t.proc = "010000";
    return t;
  };
  const Transaction reversal = testing::reversal("r", "cash-reversed", pan, "100006");

  const std::int64_t last = testing::utc_ms(2027, 3, 2, 12);
  const std::vector<Sequenced> before = {
      {last - 86'400'000, tx("cash-out", 1000, true, "100001")},
      {last - 86'399'999, tx("cash-in", 2000, true, "100002")},
      {last - 86'399'998, tx("cash-reversed", 500, true, "100003")},
      {last - 60'000, tx("minute-out", 10, false, "100004")},
      {last - 59'999, tx("minute-in", 10, false, "100005")},
      {last - 100, reversal},
      {last, tx("same-key", 10, false, "100001")},  // the key of cash-out, a day later
  };
  Engine source(cards);
  for (const Sequenced& s : before) {
    ASSERT_EQ(source.apply(s.ts_ms, s.tx), RC::kApproved) << *s.tx.id;
  }
  const std::string bytes = snapshot(source);
  Engine restored(cards);
  const Status st = restored.restore(bytes);
  ASSERT_TRUE(st.is_ok()) << st.to_string();
  ASSERT_EQ(snapshot(restored), bytes);

  // One ms on, cash-in and minute-in have left their windows: the day's
  // whole cash limit is free, and nine more approvals fit in the minute
  // beside same-key and the cash one. same-key's entry makes its key a
  // duplicate; cash-in's key is free again.
  std::vector<std::pair<Transaction, RC>> after = {
      {tx("cash-all", 10'000, true, "200001"), RC::kApproved},
      {tx("again", 10, false, "100001"), RC::kDuplicate},
      {tx("key-free", 10, false, "100002"), RC::kApproved},
  };
  for (int i = 0; i < 8; ++i) {
    after.push_back({tx("more-" + std::to_string(i), 10, false, std::to_string(300'000 + i)),
                     i < 7 ? RC::kApproved : RC::kExceedsFrequencyLimit});
  }
  for (const auto& [t, want] : after) {
    EXPECT_EQ(source.apply(last + 1, t), want) << *t.id;
    EXPECT_EQ(restored.apply(last + 1, t), want) << *t.id;
  }
  EXPECT_EQ(snapshot(restored), snapshot(source));
}

TEST(SnapshotTest, RestoreReplacesAStateThatHadGoneFurther) {
  const CardFile cards = parse_cards(small_card_file());
  const std::vector<Sequenced> traffic = small_traffic(2'000, 9);
  Engine a(cards);
  for (std::size_t i = 0; i < 800; ++i) a.apply(traffic[i].ts_ms, traffic[i].tx);
  const std::string at_800 = snapshot(a);
  Engine b(cards);
  for (const Sequenced& s : traffic) b.apply(s.ts_ms, s.tx);  // all 2,000
  ASSERT_TRUE(b.restore(at_800).is_ok());
  EXPECT_EQ(snapshot(b), at_800);
  for (std::size_t i = 800; i < traffic.size(); ++i) {
    ASSERT_EQ(b.apply(traffic[i].ts_ms, traffic[i].tx), a.apply(traffic[i].ts_ms, traffic[i].tx));
  }
  EXPECT_EQ(snapshot(b), snapshot(a));
}

TEST(SnapshotTest, RestoreRefusesEveryTruncation) {
  const CardFile cards = parse_cards(small_card_file());
  Engine source(cards);
  for (const Sequenced& s : small_traffic(60, 21)) source.apply(s.ts_ms, s.tx);
  const std::string bytes = snapshot(source);

  Engine target(cards);
  const std::string untouched = snapshot(target);
  for (std::size_t n = 0; n < bytes.size(); ++n) {
    const Status st = target.restore(std::string_view(bytes).substr(0, n));
    ASSERT_EQ(st.code(), Status::Code::kCorruption) << n << ": " << st.to_string();
    ASSERT_EQ(snapshot(target), untouched) << n;  // a refused snapshot changes nothing
  }
  const Status longer = target.restore(bytes + '\0');
  EXPECT_EQ(longer.code(), Status::Code::kCorruption) << longer.to_string();
  EXPECT_NE(longer.message().find("after the end"), std::string::npos) << longer.to_string();
  const Status cut = target.restore(std::string_view(bytes).substr(0, 30));
  EXPECT_EQ(cut.message(), "engine snapshot: truncated at byte 26 of 30, reading the applied count")
      << cut.to_string();
  EXPECT_TRUE(target.restore(bytes).is_ok());
}

TEST(SnapshotTest, RestoreRefusesBadHeaders) {
  const CardFile cards = parse_cards(small_card_file());
  Engine engine(cards);
  const std::string bytes = snapshot(engine);
  std::string tag = bytes;
  tag[0] = 'T';
  EXPECT_NE(engine.restore(tag).message().find("bad format tag"), std::string::npos);
  std::string format = bytes;
  format[21] = 1;  // format version 1, which wrote the ids in byte order
  const Status f = engine.restore(format);
  EXPECT_EQ(f.code(), Status::Code::kCorruption);
  EXPECT_NE(f.message().find("format version 1"), std::string::npos) << f.to_string();
  format[21] = 2;  // format version 2, which also wrote the tables that follow from the rest
  const Status f2 = engine.restore(format);
  EXPECT_EQ(f2.code(), Status::Code::kCorruption);
  EXPECT_NE(f2.message().find("format version 2, expected 3"), std::string::npos) << f2.to_string();
  std::string rules = bytes;
  rules[25] = static_cast<char>(kRulesVersion + 1);
  const Status r = engine.restore(rules);
  EXPECT_EQ(r.code(), Status::Code::kCorruption);
  EXPECT_NE(r.message().find("rules version"), std::string::npos) << r.to_string();
}

// The ids are written in the order they were recorded, so no order checks
// that they are unique: restore does.
TEST(SnapshotTest, RestoreRefusesAnIdRecordedTwice) {
  const CardFile cards = parse_cards(small_card_file());
  Engine source(cards);
  for (const Sequenced& s : small_traffic(40, 33)) source.apply(s.ts_ms, s.tx);
  std::string bytes = snapshot(source);
  // An id is written as its length byte and its bytes: make "t5" a second "t4".
  const std::string t4("\x02t4", 3);
  const std::size_t t5 = bytes.find(std::string("\x02t5", 3));
  ASSERT_NE(bytes.find(t4), std::string::npos);
  ASSERT_NE(t5, std::string::npos);
  bytes.replace(t5, 3, t4);
  Engine target(cards);
  const std::string untouched = snapshot(target);
  const Status st = target.restore(bytes);
  EXPECT_EQ(st.code(), Status::Code::kCorruption) << st.to_string();
  EXPECT_NE(st.message().find("recorded twice"), std::string::npos) << st.to_string();
  EXPECT_EQ(snapshot(target), untouched);
}

TEST(SnapshotTest, RestoreSurvivesRandomBytesAndBitFlips) {
  const CardFile cards = parse_cards(small_card_file());
  Engine source(cards);
  for (const Sequenced& s : small_traffic(40, 33)) source.apply(s.ts_ms, s.tx);
  const std::string bytes = snapshot(source);
  Engine target(cards);
  const std::string untouched = snapshot(target);

  Rng rng(99);
  for (int i = 0; i < 2'000; ++i) {
    std::string junk(rng.below(3 * bytes.size()), '\0');
    for (char& c : junk) c = static_cast<char>(rng.below(256));
    // Half of them behind a valid header, to get past the first checks.
    if (i % 2 == 0) junk = bytes.substr(0, 26 + rng.below(bytes.size() - 26)) + junk;
    const Status st = target.restore(junk);
    ASSERT_FALSE(st.is_ok());
    ASSERT_EQ(snapshot(target), untouched);
  }
  // Every single-bit flip is refused, or is a state serialize() reproduces.
  int accepted = 0;
  for (std::size_t bit = 0; bit < bytes.size() * 8; ++bit) {
    std::string flipped = bytes;
    flipped[bit / 8] = static_cast<char>(flipped[bit / 8] ^ (1 << (bit % 8)));
    Engine e(cards);
    const Status st = e.restore(flipped);
    if (st.is_ok()) {
      ++accepted;
      ASSERT_EQ(snapshot(e), flipped) << "bit " << bit;
    } else {
      ASSERT_TRUE(st.code() == Status::Code::kCorruption ||
                  st.code() == Status::Code::kInvalidArgument)
          << st.to_string();
    }
  }
  std::printf("%d of %zu single-bit flips give another valid state\n", accepted, bytes.size() * 8);
}

TEST(SnapshotTest, RestoreRefusesAnotherCardFile) {
  const CardFile cards = parse_cards(small_card_file());
  Engine source(cards);
  for (const Sequenced& s : small_traffic(200, 4)) source.apply(s.ts_ms, s.tx);
  const std::string bytes = snapshot(source);

  const auto check_refused = [&](const std::string& other_text, const char* what) {
    SCOPED_TRACE(what);
    Engine other(parse_cards(other_text));
    const std::string untouched = snapshot(other);
    const Status st = other.restore(bytes);
    EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.to_string();
    EXPECT_EQ(st.message().rfind("snapshot does not match the card file: ", 0), 0u)
        << st.to_string();
    for (const std::string& pan : kSmallPans) {
      EXPECT_EQ(st.message().find(pan), std::string::npos) << "PAN in clear: " << st.message();
    }
    EXPECT_EQ(snapshot(other), untouched);
  };
  std::string text = small_card_file();
  check_refused(text.substr(0, text.rfind('\n', text.size() - 2) + 1), "one card fewer");
  check_refused(text + with_check_digit("411111000000007") + ",2812,A,840,1,1,\n", "one more");
  std::string limit = text;
  limit.replace(limit.find(",50000,"), 7, ",50001,");
  check_refused(limit, "another credit_limit");
  std::string status = text;
  status.replace(status.find(",L,"), 3, ",S,");
  check_refused(status, "another status");
  std::string mccs = text;
  mccs.replace(mccs.find("7995;6011"), 9, "7995");
  check_refused(mccs, "other blocked MCCs");
  std::string pan = text;
  pan.replace(pan.find(kSmallPans[1]), kSmallPans[1].size(), with_check_digit("411111000000099"));
  check_refused(pan, "another PAN");
  // The sample's 1000 cards are another card file altogether.
  Engine big(sample_20k().cards);
  const Status st = big.restore(bytes);
  EXPECT_EQ(st.code(), Status::Code::kInvalidArgument) << st.to_string();
}

TEST(SnapshotTest, CorruptStateChangesTheBytesAndTheEngineCarriesOn) {
  const Sample& s = sample_20k();
  Engine healthy(s.cards);
  Engine corrupted(s.cards);
  for (std::size_t i = 0; i < 5'000; ++i) {
    healthy.apply(s.traffic[i].ts_ms, s.traffic[i].tx);
    corrupted.apply(s.traffic[i].ts_ms, s.traffic[i].tx);
  }
  const std::string before = snapshot(corrupted);
  corrupted.corrupt_for_fault_injection(123'456'789);
  const std::string after = snapshot(corrupted);
  ASSERT_NE(after, before);
  ASSERT_EQ(after.size(), before.size());
  // A snapshot of the corrupted state is refused.
  Engine fresh(s.cards);
  const Status refused = fresh.restore(after);
  EXPECT_EQ(refused.code(), Status::Code::kCorruption) << refused.to_string();

  // It carries on; a healthy snapshot repairs it.
  for (std::size_t i = 5'000; i < 10'000; ++i) {
    healthy.apply(s.traffic[i].ts_ms, s.traffic[i].tx);
    corrupted.apply(s.traffic[i].ts_ms, s.traffic[i].tx);
  }
  EXPECT_NE(snapshot(corrupted), snapshot(healthy));
  ASSERT_TRUE(corrupted.restore(snapshot(healthy)).is_ok());
  for (std::size_t i = 10'000; i < s.traffic.size(); ++i) {
    ASSERT_EQ(corrupted.apply(s.traffic[i].ts_ms, s.traffic[i].tx),
              healthy.apply(s.traffic[i].ts_ms, s.traffic[i].tx));
  }
  EXPECT_EQ(snapshot(corrupted), snapshot(healthy));
}

TEST(SnapshotTest, CorruptStateNeverBreaksTheEngine) {
  // Every card, some many times over (past 2^63 for one), then traffic that
  // approves and reverses on those cards: no assertion may fire.
  const CardFile cards = parse_cards(small_card_file());
  const std::vector<Sequenced> traffic = small_traffic(6'000, 17);
  Engine engine(cards);
  for (std::size_t i = 0; i < 3'000; ++i) engine.apply(traffic[i].ts_ms, traffic[i].tx);
  std::string previous = snapshot(engine);
  for (std::uint64_t selector = 0; selector < 100; ++selector) {
    engine.corrupt_for_fault_injection(selector % 6 == 5 ? 0 : selector);
    const std::string now = snapshot(engine);
    ASSERT_NE(now, previous) << selector;
    previous = now;
  }
  for (std::size_t i = 3'000; i < traffic.size(); ++i)
    engine.apply(traffic[i].ts_ms, traffic[i].tx);
  EXPECT_EQ(engine.applied_count(), traffic.size());

  Engine no_cards(CardFile{});
  const std::string empty = snapshot(no_cards);
  no_cards.corrupt_for_fault_injection(7);
  EXPECT_EQ(snapshot(no_cards), empty);
}

// Not a benchmark: the cost of serialize() for 1,000 cards when it runs as
// the checkpoint does, every 1,000 transactions, printed at 10,000 and
// 100,000 transactions with the total next to the time spent in apply().
TEST(SnapshotTest, SerializeCost) {
  using Clock = std::chrono::steady_clock;
  const auto ms = [](Clock::duration d) {
    return static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(d).count()) /
           1e3;
  };
  const Sample s = make_sample(100'000);
  Engine engine(s.cards);
  std::string out;
  Clock::duration applying{};
  Clock::duration checkpointing{};
  for (std::size_t i = 0; i < s.traffic.size(); i += 1'000) {
    const auto start = Clock::now();
    for (std::size_t k = i; k < i + 1'000; ++k) engine.apply(s.traffic[k].ts_ms, s.traffic[k].tx);
    const auto applied = Clock::now();
    engine.serialize(&out);
    const auto serialized = Clock::now();
    applying += applied - start;
    checkpointing += serialized - applied;
    const std::size_t done = i + 1'000;
    if (done != 10'000 && done != 100'000) continue;
    Engine restored(s.cards);
    const Status st = restored.restore(out);
    const auto restored_at = Clock::now();
    ASSERT_TRUE(st.is_ok()) << st.to_string();
    std::printf(
        "after %zu transactions: %zu bytes, serialize %.2f ms, restore %.2f ms; so far %.1f ms "
        "in apply, %.1f ms in serialize every 1,000\n",
        done, out.size(), ms(serialized - applied), ms(restored_at - serialized), ms(applying),
        ms(checkpointing));
  }
}

}  // namespace
}  // namespace triad::rules
