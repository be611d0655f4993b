// The engine's record of every transaction id it has seen (for reversal
// lookups): id -> value, first insertion wins. Ids live in a chunked arena,
// entries in an append-only chunked array, and the index is an
// open-addressing table of 8-byte slots (a hash tag and an entry number), so
// recording an id costs no allocation in the common case and about one cache
// miss, which hash_and_prefetch() lets the caller start early.
//
// Nothing grows with a pause (see flat_map.h and chunked_vector.h for what
// the pauses were): when the index is half full, a twice larger one takes
// new ids and the old one is re-indexed into it a few slots per insertion,
// done before the new one is half full; meanwhile lookups try both. The
// larger one's memory is taken and faulted in ahead (NextBlock,
// zeroed_block.h).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "common/assert.h"
#include "rules/chunked_vector.h"
#include "rules/table_hash.h"
#include "rules/zeroed_block.h"

namespace triad::rules {

class IdTable {
 public:
  static constexpr std::size_t kMaxIdBytes = 64;

  // `key` keys the index's hash (table_hash.h): clients choose the ids.
  explicit IdTable(const TableHashKey& key) : key_(key), index_(kInitialSlots) {}

  // Hash of `id`, to pass to insert_if_absent; also starts loading the
  // table slot it will probe, so the cache miss overlaps other work.
  std::uint64_t hash_and_prefetch(std::string_view id) const {
    const std::uint64_t h = hash(id);
    __builtin_prefetch(&index_.slots()[h & index_.mask]);
    return h;
  }

  // The value recorded for `id`, or nullptr.
  const std::uint64_t* find(std::string_view id) const {
    const std::uint64_t h = hash(id);
    bool found = false;
    const std::uint64_t* slot = probe(index_, id, h, &found);
    if (!found && reindexing()) slot = probe(old_index_, id, h, &found);
    return found ? &entries_[(*slot & kEntryMask) - 1].value : nullptr;
  }

  // Records (id, value) unless `id` is already there; says whether it was
  // recorded. `id` is 1..64 bytes; h == hash_and_prefetch(id).
  bool insert_if_absent(std::string_view id, std::uint64_t h, std::uint64_t value) {
    TRIAD_ASSERT(!id.empty() && id.size() <= kMaxIdBytes);
    reindex_some();
    if (next_index_.prepare(entries_.size(), index_.capacity(), sizeof(std::uint64_t), &retired_)) {
      start_growing();
    }
    bool found = false;
    std::uint64_t* slot = probe(index_, id, h, &found);
    if (found) return false;
    if (reindexing()) {
      probe(old_index_, id, h, &found);
      if (found) return false;
    }
    TRIAD_ASSERT(entries_.size() + 1 < kEntryMask);
    entries_.push_back(Entry{h, store(id), value});
    *slot = make_slot(h, entries_.size());
    return true;
  }
  bool insert_if_absent(std::string_view id, std::uint64_t value) {
    return insert_if_absent(id, hash(id), value);
  }

  // Makes room for `count` ids in a table that has none yet, so that
  // recording them grows nothing (as FlatMap::reserve_empty).
  void reserve_empty(std::size_t count) {
    TRIAD_ASSERT(entries_.size() == 0 && !reindexing() && !next_index_.held());
    const std::size_t capacity = NextBlock::capacity_for(count, index_.capacity());
    if (capacity != index_.capacity()) index_ = Index(capacity, ZeroedBlock::Pages::kNow);
  }

  std::size_t size() const { return entries_.size(); }
  // The slots of the index that takes new ids (for tests).
  std::size_t capacity() const { return index_.capacity(); }
  // Whether the next, larger index is taken ahead (for tests).
  bool next_taken() const { return next_index_.held(); }
  // The bytes of all ids together.
  std::size_t text_bytes() const { return text_bytes_; }

  // Calls f(id, value) for every entry, in the order the ids were first
  // recorded: an order that follows the history, not the set of ids. An
  // entry keeps its value once inserted, and its text stays where it is for
  // the table's lifetime.
  template <class F>
  void for_each(F f) const {
    for_range(0, entries_.size(), f);
  }
  // The same for entries first..end-1 (numbered from 0 in that order).
  template <class F>
  void for_range(std::size_t first, std::size_t end, F f) const {
    entries_.for_range(first, end, [&](const Entry& e) { f(text(e), e.value); });
  }

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

  std::uint64_t hash(std::string_view id) const { return table_hash(key_, id); }

  // Old entries re-indexed per insertion while growing. Growing starts at C/2
  // entries (C the old capacity) and must end before C, when the new index
  // is half full: at 4 per insertion it ends after C/8 insertions.
  static constexpr std::size_t kReindexPerInsert = 4;

  struct Index {
    Index() = default;
    explicit Index(std::size_t capacity,
                   ZeroedBlock::Pages pages = ZeroedBlock::Pages::kOnFirstWrite)
        : Index(ZeroedBlock(capacity * sizeof(std::uint64_t), pages), capacity) {}
    Index(ZeroedBlock b, std::size_t capacity) : block(std::move(b)), mask(capacity - 1) {}
    // Derived, not stored: a moved-from index then has none.
    std::uint64_t* slots() const { return static_cast<std::uint64_t*>(block.data()); }
    std::size_t capacity() const { return slots() != nullptr ? mask + 1 : 0; }
    ZeroedBlock block;
    std::size_t mask = 0;
  };

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
    text_bytes_ += id.size();
    return location;
  }

  // The slot holding `id` (*found), or else the empty slot that ends its
  // probe chain.
  std::uint64_t* probe(const Index& index, std::string_view id, std::uint64_t h,
                       bool* found) const {
    for (std::size_t i = h & index.mask;; i = (i + 1) & index.mask) {
      std::uint64_t* slot = &index.slots()[i];
      if (*slot == 0) {
        *found = false;
        return slot;
      }
      if ((*slot >> kEntryBits) != (h >> kEntryBits)) continue;
      const Entry& e = entries_[(*slot & kEntryMask) - 1];
      if (e.hash == h && text(e) == id) {
        *found = true;
        return slot;
      }
    }
  }

  bool reindexing() const { return old_index_.capacity() != 0; }

  void start_growing() {
    while (reindexing()) reindex_some();  // not expected: it ends long before
    old_index_ = std::move(index_);
    const std::size_t capacity = old_index_.capacity() * 2;
    index_ = Index(next_index_.take(capacity * sizeof(std::uint64_t)), capacity);
    reindexed_ = 0;
    reindex_end_ = entries_.size();
  }

  // Re-indexes the next few entries of the old index, in entry order; ids
  // are unique, so each goes to the first empty slot of its chain.
  void reindex_some() {
    retired_.release_some();
    if (!reindexing()) return;
    const std::size_t end = std::min(reindexed_ + kReindexPerInsert, reindex_end_);
    for (; reindexed_ < end; ++reindexed_) {
      const std::uint64_t h = entries_[reindexed_].hash;
      std::size_t i = h & index_.mask;
      while (index_.slots()[i] != 0) i = (i + 1) & index_.mask;
      index_.slots()[i] = make_slot(h, reindexed_ + 1);
    }
    if (reindexed_ == reindex_end_) {
      retired_ = std::move(old_index_.block);
      old_index_ = Index();
    }
  }

  TableHashKey key_;
  Index index_;
  NextBlock next_index_;  // the next index's memory, taken ahead
  Index old_index_;       // capacity 0 unless growing
  ZeroedBlock retired_;   // the old index's memory, given back a slice per insertion
  std::size_t reindexed_ = 0;
  std::size_t reindex_end_ = 0;  // entries before it are in old_index_
  ChunkedVector<Entry> entries_;
  std::vector<std::unique_ptr<char[]>> chunks_;
  std::uint64_t used_in_chunk_ = 0;
  std::size_t text_bytes_ = 0;
};

}  // namespace triad::rules
