// The engine's internal containers against the standard library's, on
// random operations with hash functions that force long probe clusters.
#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <random>
#include <string>

#include "rules/flat_map.h"
#include "rules/id_table.h"

namespace triad::rules {
namespace {

struct BadHash {  // 8 distinct homes only: long clusters, wrap-around
  std::size_t operator()(std::uint32_t k) const { return (k % 8) * 0x9e3779b9u; }
};
struct IdentityHash {
  std::size_t operator()(std::uint32_t k) const { return k; }
};

template <class Hash>
void check_flat_map(std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  FlatMap<std::uint32_t, std::int64_t, Hash> map(16);
  std::map<std::uint32_t, std::int64_t> model;
  for (int step = 0; step < 20'000; ++step) {
    const auto key = static_cast<std::uint32_t>(rng() % 300);
    switch (rng() % 3) {
      case 0: {
        const auto value = static_cast<std::int64_t>(rng() % 1000);
        const auto [where, inserted] = map.try_emplace(key, value);
        const auto [it, model_inserted] = model.try_emplace(key, value);
        ASSERT_EQ(inserted, model_inserted);
        ASSERT_EQ(*where, it->second);
        break;
      }
      case 1:
        map.erase(key);
        model.erase(key);
        break;
      default: {
        const std::int64_t* found = map.find(key);
        const auto it = model.find(key);
        ASSERT_EQ(found != nullptr, it != model.end()) << "step " << step << " key " << key;
        if (found != nullptr) {
          ASSERT_EQ(*found, it->second);
        }
      }
    }
    ASSERT_EQ(map.size(), model.size());
  }
  for (std::uint32_t key = 0; key < 300; ++key) {
    ASSERT_EQ(map.find(key) != nullptr, model.count(key) == 1) << key;
  }
}

TEST(FlatMapTest, MatchesStdMap) {
  for (std::uint64_t seed = 1; seed <= 5; ++seed) {
    check_flat_map<BadHash>(seed);
    check_flat_map<IdentityHash>(seed);
  }
}

TEST(IdTableTest, FirstInsertWinsAndEverythingIsFound) {
  IdTable table;
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

}  // namespace
}  // namespace triad::rules
