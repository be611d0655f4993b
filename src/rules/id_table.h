// The engine's record of every transaction id it has seen (for reversal
// lookups): id -> value, first insertion wins. Ids live in a chunked arena,
// entries in an append-only array, and the index is an open-addressing
// table of 8-byte slots (a hash tag and an entry number), so recording an id
// costs no allocation in the common case and about one cache miss, which
// hash_and_prefetch() lets the caller start early.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include "common/assert.h"

namespace triad::rules {

class IdTable {
 public:
  static constexpr std::size_t kMaxIdBytes = 64;

  IdTable() : slots_(kInitialSlots, 0) {}

  // Hash of `id`, to pass to insert_if_absent; also starts loading the
  // table slot it will probe, so the cache miss overlaps other work.
  std::uint64_t hash_and_prefetch(std::string_view id) const {
    const std::uint64_t h = hash(id);
    __builtin_prefetch(&slots_[h & (slots_.size() - 1)]);
    return h;
  }

  // The value recorded for `id`, or nullptr.
  const std::uint64_t* find(std::string_view id) const {
    const std::uint64_t h = hash(id);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t i = h & mask;; i = (i + 1) & mask) {
      const std::uint64_t slot = slots_[i];
      if (slot == 0) return nullptr;
      if ((slot >> kEntryBits) != (h >> kEntryBits)) continue;
      const Entry& e = entries_[(slot & kEntryMask) - 1];
      if (e.hash == h && text(e) == id) return &e.value;
    }
  }

  // Records (id, value) unless `id` is already there. `id` is 1..64 bytes;
  // h == hash_and_prefetch(id).
  void insert_if_absent(std::string_view id, std::uint64_t h, std::uint64_t value) {
    TRIAD_ASSERT(!id.empty() && id.size() <= kMaxIdBytes);
    if ((entries_.size() + 1) * 2 > slots_.size()) grow();
    const std::size_t mask = slots_.size() - 1;
    std::size_t i = h & mask;
    for (;; i = (i + 1) & mask) {
      const std::uint64_t slot = slots_[i];
      if (slot == 0) break;
      if ((slot >> kEntryBits) != (h >> kEntryBits)) continue;
      const Entry& e = entries_[(slot & kEntryMask) - 1];
      if (e.hash == h && text(e) == id) return;
    }
    TRIAD_ASSERT(entries_.size() + 1 < kEntryMask);
    entries_.push_back(Entry{h, store(id), value});
    slots_[i] = make_slot(h, entries_.size());
  }
  void insert_if_absent(std::string_view id, std::uint64_t value) {
    insert_if_absent(id, hash(id), value);
  }

  std::size_t size() const { return entries_.size(); }

  // Entry n (0 <= n < size()), numbered in insertion order: an order that
  // follows the history, not the set of entries, so a caller that needs a
  // canonical order must sort. An entry keeps its number and value once
  // inserted, and its text stays where it is for the table's lifetime.
  std::string_view id_at(std::size_t n) const { return text(entries_[n]); }
  std::uint64_t value_at(std::size_t n) const { return entries_[n].value; }

 private:
  static constexpr std::size_t kInitialSlots = 1 << 12;
  static constexpr std::size_t kChunkBytes = 1 << 16;
  // A slot: 24 high bits of the hash, then entry number + 1 (0: empty).
  static constexpr unsigned kEntryBits = 40;
  static constexpr std::uint64_t kEntryMask = (std::uint64_t{1} << kEntryBits) - 1;

  struct Entry {
    std::uint64_t hash;
    std::uint64_t location;  // chunk << 24 | offset << 8 | length
    std::uint64_t value;
  };

  static std::uint64_t hash(std::string_view id) { return std::hash<std::string_view>{}(id); }

  static std::uint64_t make_slot(std::uint64_t h, std::uint64_t entry_number) {
    return (h >> kEntryBits) << kEntryBits | entry_number;
  }

  std::string_view text(const Entry& e) const {
    const std::size_t chunk = e.location >> 24;
    const std::size_t offset = (e.location >> 8) & 0xffff;
    const std::size_t length = e.location & 0xff;
    return {chunks_[chunk].get() + offset, length};
  }

  std::uint64_t store(std::string_view id) {
    if (chunks_.empty() || used_in_chunk_ + id.size() > kChunkBytes) {
      chunks_.push_back(std::make_unique<char[]>(kChunkBytes));
      used_in_chunk_ = 0;
    }
    const std::uint64_t chunk = chunks_.size() - 1;
    std::memcpy(chunks_.back().get() + used_in_chunk_, id.data(), id.size());
    const std::uint64_t location = chunk << 24 | used_in_chunk_ << 8 | id.size();
    used_in_chunk_ += id.size();
    return location;
  }

  // Doubles the slots and re-inserts every entry, reading entries in order.
  void grow() {
    slots_.assign(slots_.size() * 2, 0);
    const std::size_t mask = slots_.size() - 1;
    for (std::size_t n = 0; n < entries_.size(); ++n) {
      std::size_t i = entries_[n].hash & mask;
      while (slots_[i] != 0) i = (i + 1) & mask;
      slots_[i] = make_slot(entries_[n].hash, n + 1);
    }
  }

  std::vector<std::uint64_t> slots_;
  std::vector<Entry> entries_;
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::uint64_t used_in_chunk_ = 0;
};

}  // namespace triad::rules
