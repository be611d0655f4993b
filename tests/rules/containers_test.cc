// The engine's internal containers against the standard library's, on
// random operations with hash functions that force long probe clusters.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>

#include <cstdint>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "rules/chunked_vector.h"
#include "rules/flat_map.h"
#include "rules/id_table.h"
#include "rules/zeroed_block.h"

namespace triad::rules {
namespace {

struct BadHash {  // 8 distinct homes only: long clusters, wrap-around
  std::size_t operator()(std::uint32_t k) const { return (k % 8) * 0x9e3779b9u; }
};
struct IdentityHash {
  std::size_t operator()(std::uint32_t k) const { return k; }
};

// Random operations against std::map. `inserts_in_8` of every 8 are
// insertions, 2 erasures, the rest lookups. The map grows and drains into
// the larger table over the operations that follow (flat_map.h), so a key
// may sit in either table: iteration is checked to visit each member once
// while that lasts. Returns how many steps found the map growing.
template <class Hash>
int check_flat_map(std::uint64_t seed, std::uint32_t key_range, int steps,
                   std::uint64_t inserts_in_8) {
  std::mt19937_64 rng(seed);
  FlatMap<std::uint32_t, std::int64_t, Hash> map(16);
  std::map<std::uint32_t, std::int64_t> model;
  int steps_while_growing = 0;
  for (int step = 0; step < steps; ++step) {
    const auto key = static_cast<std::uint32_t>(rng() % key_range);
    const std::uint64_t op = rng() % 8;
    if (op < inserts_in_8) {
      const auto value = static_cast<std::int64_t>(step);
      const auto [where, inserted] = map.try_emplace(key, value);
      const auto [it, model_inserted] = model.try_emplace(key, value);
      EXPECT_EQ(inserted, model_inserted) << "step " << step;
      EXPECT_EQ(*where, it->second);
      *where = value + 1;  // writes through the pointer land in the map
      it->second = value + 1;
    } else if (op < inserts_in_8 + 2) {
      map.erase(key);
      model.erase(key);
    } else {
      const std::int64_t* found = map.find(key);
      const auto it = model.find(key);
      EXPECT_EQ(found != nullptr, it != model.end()) << "step " << step << " key " << key;
      if (found != nullptr) {
        EXPECT_EQ(*found, it->second);
      }
    }
    EXPECT_EQ(map.size(), model.size());
    if (map.growing()) {
      ++steps_while_growing;
      if (step % 64 == 0) {
        std::map<std::uint32_t, std::int64_t> seen;
        map.for_each(
            [&](std::uint32_t k, std::int64_t v) { EXPECT_TRUE(seen.emplace(k, v).second); });
        EXPECT_EQ(seen, model) << "step " << step;
      }
    }
    if (::testing::Test::HasFailure()) return steps_while_growing;
  }
  for (std::uint32_t key = 0; key < key_range; ++key) {
    const std::int64_t* found = map.find(key);
    const auto it = model.find(key);
    EXPECT_EQ(found != nullptr, it != model.end()) << key;
    if (found != nullptr && it != model.end()) {
      EXPECT_EQ(*found, it->second) << key;
    }
  }
  return steps_while_growing;
}

TEST(FlatMapTest, MatchesStdMap) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    check_flat_map<BadHash>(seed, 300, 20'000, 3);
    check_flat_map<IdentityHash>(seed, 300, 20'000, 3);
  }
}

// Mostly insertions over many keys: growth after growth, each drained while
// the operations go on.
TEST(FlatMapTest, MatchesStdMapWhileGrowing) {
  for (std::uint64_t seed = 1; seed <= 3; ++seed) {
    EXPECT_GT((check_flat_map<BadHash>(seed, 20'000, 60'000, 5)), 100);
    EXPECT_GT((check_flat_map<IdentityHash>(seed, 20'000, 60'000, 5)), 100);
  }
}

TEST(ChunkedVectorTest, KeepsOrderAndReferencesAcrossChunks) {
  ChunkedVector<std::uint64_t, 8> v;
  EXPECT_TRUE(v.empty());
  v.push_back(100);
  const std::uint64_t* first = &v[0];
  for (std::uint64_t i = 1; i < 100; ++i) v.push_back(100 + i);
  EXPECT_EQ(v.size(), 100u);
  EXPECT_EQ(first, &v[0]);  // nothing moved when chunks were added
  EXPECT_EQ(*first, 100u);
  EXPECT_EQ(v.back(), 199u);
  v[57] = 7;
  std::vector<std::uint64_t> seen;
  v.for_each([&](std::uint64_t x) { seen.push_back(x); });
  ASSERT_EQ(seen.size(), 100u);
  for (std::uint64_t i = 0; i < 100; ++i) EXPECT_EQ(seen[i], i == 57 ? 7 : 100 + i) << i;
}

// Every id is found, with its first value, after each insertion, including
// while the index grows and old ids are only in the old index.
TEST(IdTableTest, EveryIdIsFoundWhileTheIndexGrows) {
  IdTable table{TableHashKey{}};
  std::vector<std::string> ids;
  for (std::uint64_t i = 0; i < 40'000; ++i) {
    ids.push_back("id-" + std::to_string(i));
    table.insert_if_absent(ids.back(), i);
    table.insert_if_absent(ids.back(), i + 1);  // first insertion wins
    // The newest, the oldest and one in between.
    for (const std::uint64_t k : {i, std::uint64_t{0}, i / 2}) {
      const std::uint64_t* found = table.find(ids[k]);
      ASSERT_NE(found, nullptr) << "after " << i << ": " << ids[k];
      ASSERT_EQ(*found, k);
    }
    ASSERT_EQ(table.find("id-" + std::to_string(i + 1)), nullptr);
  }
  EXPECT_EQ(table.size(), ids.size());
  std::uint64_t k = 0;  // entries come in the order first recorded
  table.for_each([&](std::string_view id, std::uint64_t value) {
    ASSERT_LT(k, ids.size());
    EXPECT_EQ(id, ids[k]);
    EXPECT_EQ(value, k);
    ++k;
  });
  EXPECT_EQ(k, ids.size());
}

TEST(IdTableTest, FirstInsertWinsAndEverythingIsFound) {
  IdTable table{TableHashKey{}};
  std::map<std::string, std::uint64_t> model;
  std::mt19937_64 rng(7);
  for (std::uint64_t i = 0; i < 100'000; ++i) {
    // Lengths 1..64, some repeats.
    std::string id = std::to_string(rng() % 80'000);
    id.insert(id.begin(), 'x');
    id.resize(1 + rng() % 64, 'p');
    table.insert_if_absent(id, i);
    model.try_emplace(id, i);
  }
  EXPECT_EQ(table.size(), model.size());
  for (const auto& [id, value] : model) {
    const std::uint64_t* found = table.find(id);
    ASSERT_NE(found, nullptr) << id;
    ASSERT_EQ(*found, value) << id;
  }
  EXPECT_EQ(table.find("never"), nullptr);
  EXPECT_EQ(table.find(std::string(64, 'z')), nullptr);
}

// Random pushes and pops against std::deque, with chunks of 8 so that
// chunks come and go, and the FIFO empties now and then.
TEST(ChunkedFifoTest, MatchesStdDeque) {
  std::mt19937_64 rng(7);
  ChunkedFifo<std::uint64_t, 8> fifo;
  std::deque<std::uint64_t> model;
  for (std::uint64_t step = 0; step < 200'000; ++step) {
    // Phases of mostly pushes and mostly pops.
    const bool pushing = (step / 1000) % 2 == 0 ? rng() % 4 != 0 : rng() % 4 == 0;
    if (pushing || model.empty()) {
      fifo.push_back(step);
      model.push_back(step);
    } else {
      ASSERT_EQ(fifo.front(), model.front()) << step;
      fifo.pop_front();
      model.pop_front();
    }
    ASSERT_EQ(fifo.size(), model.size());
    ASSERT_EQ(fifo.empty(), model.empty());
    if (!model.empty()) {
      ASSERT_EQ(fifo.back(), model.back()) << step;
      const std::size_t i = rng() % model.size();
      ASSERT_EQ(fifo[i], model[i]) << step;
    }
  }
}

// A retired table's block is given back a slice per call: an own mapping
// over bytes / kReleaseSliceBytes calls, a heap block at the first.
TEST(ZeroedBlockTest, ReleaseSomeGivesBackASliceAtATime) {
  constexpr std::size_t kBytes = 256 << 10;
  ZeroedBlock block(kBytes);
  auto* bytes = static_cast<std::uint8_t*>(block.data());
  ASSERT_NE(bytes, nullptr);
  EXPECT_EQ(bytes[0], 0);
  EXPECT_EQ(bytes[kBytes - 1], 0);
  bytes[0] = 1;
  bytes[kBytes - 1] = 1;
  const std::size_t slices = kBytes / ZeroedBlock::kReleaseSliceBytes;
  for (std::size_t i = 1; i < slices; ++i) {
    block.release_some();
    EXPECT_TRUE(block.held()) << i;
    EXPECT_EQ(block.data(), nullptr) << "not to be used once given back in part";
  }
  block.release_some();
  EXPECT_FALSE(block.held());
  block.release_some();  // nothing left: no-op

  ZeroedBlock small(ZeroedBlock::kOwnMappingBytes / 2);
  ASSERT_NE(small.data(), nullptr);
  small.release_some();
  EXPECT_FALSE(small.held());

  ZeroedBlock partly(kBytes);
  partly.release_some();
  partly = ZeroedBlock(kBytes);  // the rest of the old one goes at once
  EXPECT_NE(partly.data(), nullptr);
}

// touch_some faults in a block's pages ahead of use, in order, a few at a
// time, and leaves the contents zero.
TEST(ZeroedBlockTest, TouchSomeFaultsInPagesAheadOfUse) {
  constexpr std::size_t kPage = 4096;
  constexpr std::size_t kBytes = 256 << 10;
  ZeroedBlock block(kBytes);
  auto* bytes = static_cast<std::uint8_t*>(block.data());
  ASSERT_NE(bytes, nullptr);
  // One fault, one page: no transparent huge page, whatever the system's
  // default (the engine's mappings get none where it is madvise-only).
  ASSERT_EQ(::madvise(bytes, kBytes, MADV_NOHUGEPAGE), 0);
  const auto resident = [&] {
    std::vector<unsigned char> pages(kBytes / kPage);
    EXPECT_EQ(::mincore(bytes, kBytes, pages.data()), 0);
    std::size_t n = 0;
    for (unsigned char p : pages) n += p & 1u;
    return n;
  };
  EXPECT_EQ(resident(), 0u) << "a fresh mapping holds no page";
  EXPECT_EQ(block.touch_some(100), 100u);
  EXPECT_EQ(resident(), 1u);
  EXPECT_EQ(block.touch_some(kPage), kPage + 100);
  EXPECT_EQ(resident(), 2u);
  EXPECT_EQ(block.touch_some(10 * kPage), 11 * kPage + 100);
  EXPECT_EQ(resident(), 12u);
  EXPECT_EQ(block.touch_some(kBytes), kBytes) << "not beyond the block";
  EXPECT_EQ(resident(), kBytes / kPage);
  for (std::size_t i = 0; i < kBytes; ++i) ASSERT_EQ(bytes[i], 0) << i;

  ZeroedBlock small(ZeroedBlock::kOwnMappingBytes / 2);  // from the heap
  EXPECT_EQ(small.touch_some(ZeroedBlock::kOwnMappingBytes), ZeroedBlock::kOwnMappingBytes / 2);
  ZeroedBlock partly(kBytes);
  EXPECT_EQ(partly.touch_some(kPage), kPage);
  partly.release_some();
  EXPECT_EQ(partly.touch_some(kPage), kPage) << "nothing touched once given back in part";
}

// A table of C slots calls prepare at each insertion and grows when it says
// so, at the insertion past half full: the next block is made no earlier
// than 7/16 full, and all of it has been written (a zero a page) by the time
// the grown table takes it.
TEST(NextBlockTest, IsWhollyFaultedInWhenTheTableGrows) {
  for (const std::size_t slot_bytes : {std::size_t{8}, std::size_t{24}}) {
    for (const std::size_t capacity : {std::size_t{16}, std::size_t{1024}, std::size_t{1} << 16}) {
      NextBlock next;
      ZeroedBlock retired;
      std::size_t size = 0;
      while (!next.prepare(size, capacity, slot_bytes, &retired)) {
        if (size < capacity * 7 / 16) {
          ASSERT_FALSE(next.held()) << size;
        }
        ++size;
      }
      EXPECT_EQ(size, capacity / 2) << "grows at the insertion past half full";
      ASSERT_TRUE(next.held());
      const ZeroedBlock block = next.take(2 * capacity * slot_bytes);
      EXPECT_EQ(block.touched(), block.bytes()) << slot_bytes << " " << capacity;
      EXPECT_FALSE(retired.held());
    }
  }
}

// A map that shrinks after taking its next table gives it back, and takes
// it again as it grows.
TEST(FlatMapTest, GivesBackTheNextTableWhenItShrinks) {
  FlatMap<std::uint32_t, std::int64_t, IdentityHash> map(1024);
  std::uint32_t key = 0;
  while (!map.next_taken()) map.try_emplace(key++, 0);
  EXPECT_EQ(key, 1024u * 7 / 16 + 1) << "taken by the insertion past 7/16";
  while (map.size() >= 1024 / 4) map.erase(--key);
  map.try_emplace(100'000, 0);
  EXPECT_FALSE(map.next_taken());
  for (std::uint32_t k = 0; k < 1024; ++k) map.try_emplace(k, 1);
  EXPECT_TRUE(map.growing() || map.next_taken());
  for (std::uint32_t k = 0; k < 1024; ++k) ASSERT_NE(map.find(k), nullptr) << k;
  EXPECT_NE(map.find(100'000), nullptr);
}

long minor_faults() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_minflt;
}

// reserve_empty(n): n members go in with no growth and no next table taken
// ahead (the table stays under 7/16 full), the smallest such table, its
// pages already in memory, and the map grows as before past them.
TEST(FlatMapTest, ReserveEmptyTakesTheTableForCountMembersAtOnce) {
  for (const std::uint32_t count : {0u, 1u, 447u, 448u, 5'000u, 100'000u}) {
    SCOPED_TRACE(count);
    FlatMap<std::uint32_t, std::int64_t, IdentityHash> map(1024);
    map.reserve_empty(count);
    const std::size_t capacity = map.capacity();
    EXPECT_GE(capacity * 7, std::size_t{count} * 16);
    EXPECT_TRUE(capacity == 1024 || (capacity / 2) * 7 < std::size_t{count} * 16) << "smallest";
    const long faults_before = minor_faults();
    for (std::uint32_t k = 0; k < count; ++k) {
      map.try_emplace(k, k);
      ASSERT_FALSE(map.growing() || map.next_taken()) << "at " << k;
    }
    // Its pages were faulted in with the table, in one pass (a restore
    // fills it whole), not one fault per page as the members go in.
    // (Where transparent huge pages are always on, a fault a page would
    // not show either.)
    const long table_pages = static_cast<long>(capacity * 24 / 4096);  // 24-byte slots
    EXPECT_LT(minor_faults() - faults_before, table_pages / 4 + 16) << table_pages << " pages";
    EXPECT_EQ(map.capacity(), capacity);
    for (std::uint32_t k = count; map.capacity() == capacity; ++k) map.try_emplace(k, k);
    for (std::uint32_t k = 0; k < count; ++k) ASSERT_NE(map.find(k), nullptr) << k;
  }
}

TEST(IdTableTest, ReserveEmptyTakesTheIndexForCountIdsAtOnce) {
  for (const std::size_t count :
       {std::size_t{0}, std::size_t{1'792}, std::size_t{1'793}, std::size_t{60'000}}) {
    SCOPED_TRACE(count);
    IdTable table{TableHashKey{}};
    table.reserve_empty(count);
    const std::size_t capacity = table.capacity();
    EXPECT_GE(capacity * 7, count * 16);
    EXPECT_TRUE(capacity == 4096 || (capacity / 2) * 7 < count * 16) << "smallest";
    for (std::size_t i = 0; i < count; ++i) {
      ASSERT_TRUE(table.insert_if_absent("id-" + std::to_string(i), i));
      ASSERT_FALSE(table.next_taken()) << "at " << i;
    }
    EXPECT_EQ(table.capacity(), capacity);
    for (std::size_t i = 0; i < count; ++i) {
      const std::uint64_t* found = table.find("id-" + std::to_string(i));
      ASSERT_NE(found, nullptr) << i;
      ASSERT_EQ(*found, i);
    }
  }
}

}  // namespace
}  // namespace triad::rules
