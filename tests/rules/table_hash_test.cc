// The keyed hash of the engine's tables (table_hash.h).
#include "rules/table_hash.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "rules/id_table.h"

namespace triad::rules {
namespace {

TableHashKey counting_key(unsigned char first) {
  TableHashKey key;
  for (std::size_t i = 0; i < key.bytes.size(); ++i) {
    key.bytes[i] = static_cast<unsigned char>(first + i);
  }
  return key;
}

// The SipHash paper's test vectors (key 00..0f, message 00 01 02 ...).
TEST(TableHashTest, IsSipHash24) {
  const TableHashKey key = counting_key(0);
  std::string message;
  EXPECT_EQ(table_hash(key, message), 0x726fdb47dd0e0e31u);
  for (int i = 0; i < 15; ++i) message.push_back(static_cast<char>(i));
  EXPECT_EQ(table_hash(key, message), 0xa129ca6149be45e5u);
}

TEST(TableHashTest, DependsOnTheKey) {
  EXPECT_NE(table_hash(counting_key(0), "terminal"), table_hash(counting_key(1), "terminal"));
  const TableHashKey a = TableHashKey::random();
  const TableHashKey b = TableHashKey::random();
  EXPECT_NE(a.bytes, b.bytes);
}

// Rule 10's hash was terminal ^ stan * 0x9e3779b97f4a7c15, then a fixed
// mix: every key with the same value of that expression had the same hash,
// so a client could put any number of keys in one probe cluster. Under a
// key they spread like random keys: 4,096 keys in 8,192 slots, at most a
// few per home slot (more than 8 has a probability of about 1e-5 for a
// random function; the key is fixed, so the test is deterministic).
TEST(TableHashTest, KeysCraftedForOneSlotOfAnUnkeyedHashSpreadOut) {
  const DuplicateKeyHash hash{counting_key(42)};
  constexpr std::size_t kSlots = 8192;
  std::vector<int> per_home(kSlots);
  constexpr std::uint64_t kTarget = 0x5a5a5a5a5a5a5a5a;
  for (std::uint32_t stan = 0; stan < 4096; ++stan) {
    const DuplicateKey key{.terminal = kTarget ^ (stan * 0x9e3779b97f4a7c15ULL), .stan = stan};
    ++per_home[hash(key) & (kSlots - 1)];
  }
  EXPECT_LE(*std::max_element(per_home.begin(), per_home.end()), 8);
}

TEST(TableHashTest, TheIdRecordIsKeyed) {
  const IdTable a{counting_key(0)};
  const IdTable b{counting_key(1)};
  EXPECT_EQ(a.hash_and_prefetch("id-1"), table_hash(counting_key(0), "id-1"));
  EXPECT_NE(a.hash_and_prefetch("id-1"), b.hash_and_prefetch("id-1"));
}

}  // namespace
}  // namespace triad::rules
