// The engine's card lookup: PAN -> the card's position, behind one small type so
// the container can differ between replica builds (design.md "Diversity").
// Chosen at compile time with TRIAD_CARD_INDEX=hash|ordered|sorted (CMake
// cache variable of the same name; default hash). All three are always
// compiled so tests can check them against each other; only lookups are
// ever made, so no iteration order can reach a verdict.
#pragma once

#include <algorithm>
#include <compare>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "rules/formats.h"

namespace triad::rules {

// A PAN of 1..19 digits, packed: the digits' value (< 10^19 < 2^64) and the
// length (so leading zeros still tell PANs apart). Equal keys <=> equal PANs.
struct PanKey {
  std::uint64_t value = 0;
  std::uint8_t length = 0;
  friend auto operator<=>(const PanKey&, const PanKey&) = default;
};

inline constexpr std::size_t kMaxPanKeyDigits = 19;

// nullopt unless `pan` is 1..19 ASCII digits.
constexpr std::optional<PanKey> make_pan_key(std::string_view pan) {
  if (pan.size() > kMaxPanKeyDigits || !format::is_digits(pan)) return std::nullopt;
  std::uint64_t v = 0;
  for (const char c : pan) v = v * 10 + static_cast<std::uint64_t>(c - '0');
  return PanKey{v, static_cast<std::uint8_t>(pan.size())};
}

struct PanKeyHash {
  std::size_t operator()(const PanKey& k) const noexcept {
    // splitmix64 finaliser over value and length.
    std::uint64_t x = k.value ^ (static_cast<std::uint64_t>(k.length) << 58);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<std::size_t>(x ^ (x >> 31));
  }
};

// std::unordered_map.
template <class Value>
class HashCardIndex {
 public:
  // Keys must be unique (asserted).
  explicit HashCardIndex(std::vector<std::pair<PanKey, Value>> entries) {
    map_.reserve(entries.size());
    for (auto& [key, value] : entries) {
      const bool inserted = map_.emplace(key, std::move(value)).second;
      TRIAD_ASSERT(inserted);
    }
  }
  // The value for this PAN, or nullptr.
  Value* find(const PanKey& key) {
    const auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }
  std::size_t size() const { return map_.size(); }

 private:
  std::unordered_map<PanKey, Value, PanKeyHash> map_;
};

// std::map (red-black tree).
template <class Value>
class OrderedCardIndex {
 public:
  explicit OrderedCardIndex(std::vector<std::pair<PanKey, Value>> entries) {
    for (auto& [key, value] : entries) {
      const bool inserted = map_.emplace(key, std::move(value)).second;
      TRIAD_ASSERT(inserted);
    }
  }
  Value* find(const PanKey& key) {
    const auto it = map_.find(key);
    return it == map_.end() ? nullptr : &it->second;
  }
  std::size_t size() const { return map_.size(); }

 private:
  std::map<PanKey, Value> map_;
};

// A vector sorted by key, binary search.
template <class Value>
class SortedCardIndex {
 public:
  explicit SortedCardIndex(std::vector<std::pair<PanKey, Value>> entries)
      : entries_(std::move(entries)) {
    std::sort(entries_.begin(), entries_.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; });
    for (std::size_t i = 1; i < entries_.size(); ++i) {
      TRIAD_ASSERT(entries_[i - 1].first < entries_[i].first);
    }
  }
  Value* find(const PanKey& key) {
    const auto it = std::lower_bound(entries_.begin(), entries_.end(), key,
                                     [](const auto& e, const PanKey& k) { return e.first < k; });
    return (it == entries_.end() || it->first != key) ? nullptr : &it->second;
  }
  std::size_t size() const { return entries_.size(); }

 private:
  std::vector<std::pair<PanKey, Value>> entries_;
};

// TRIAD_CARD_INDEX is an identifier (hash, ordered, sorted); paste it onto a
// prefix to turn it into a number the preprocessor can compare.
#define TRIAD_CARD_INDEX_KIND_hash 1
#define TRIAD_CARD_INDEX_KIND_ordered 2
#define TRIAD_CARD_INDEX_KIND_sorted 3
#define TRIAD_CARD_INDEX_PASTE_(a, b) a##b
#define TRIAD_CARD_INDEX_PASTE(a, b) TRIAD_CARD_INDEX_PASTE_(a, b)
#ifdef TRIAD_CARD_INDEX
#define TRIAD_CARD_INDEX_KIND TRIAD_CARD_INDEX_PASTE(TRIAD_CARD_INDEX_KIND_, TRIAD_CARD_INDEX)
#else
#define TRIAD_CARD_INDEX_KIND 1
#endif

#if TRIAD_CARD_INDEX_KIND == 1
template <class Value>
using CardIndex = HashCardIndex<Value>;
inline constexpr const char* kCardIndexName = "hash";
#elif TRIAD_CARD_INDEX_KIND == 2
template <class Value>
using CardIndex = OrderedCardIndex<Value>;
inline constexpr const char* kCardIndexName = "ordered";
#elif TRIAD_CARD_INDEX_KIND == 3
template <class Value>
using CardIndex = SortedCardIndex<Value>;
inline constexpr const char* kCardIndexName = "sorted";
#else
#error "TRIAD_CARD_INDEX must be hash, ordered or sorted"
#endif

}  // namespace triad::rules
