// The idempotency record's index: for every id sequenced, a 64-bit keyed
// hash of it and its seq, 16 bytes a slot. The id itself, its content and
// its ts are in the input journal at that seq, so the index does not repeat
// them (Sequencer asks History when a hash matches).
//
// 1,024 open-addressing tables with linear probing, picked by the hash's top
// ten bits, each doubling on its own at three quarters full: the index
// never stops the event loop to copy all of itself (at a hundred million
// ids, 1.6-3.2 GB in all, one table's doubling moves 2-3 MB).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "common/assert.h"

namespace triad::sequencer {

class IdIndex {
 public:
  IdIndex();

  // `seq` 0 marks an empty slot, so it is never stored (seqs start at 1).
  void insert(std::uint64_t hash, std::uint64_t seq);

  // Calls `match(seq)` for each seq stored under `hash` (usually none or
  // one; more only when distinct ids share a 64-bit hash) until it returns
  // true; says whether one did.
  template <typename Match>
  bool find_if(std::uint64_t hash, Match&& match) const {
    const Table& t = table_of(hash);
    const std::size_t mask = t.slots.size() - 1;
    for (std::size_t i = hash & mask;; i = (i + 1) & mask) {
      const Slot& s = t.slots[i];
      if (s.seq == 0) return false;
      if (s.hash == hash && match(s.seq)) return true;
    }
  }

  std::size_t size() const { return size_; }
  // Bytes of slots held.
  std::size_t capacity_bytes() const;

 private:
  struct Slot {
    std::uint64_t hash = 0;
    std::uint64_t seq = 0;
  };
  struct Table {
    std::vector<Slot> slots;  // a power of two, never full
    std::size_t used = 0;
  };
  static constexpr int kTableBits = 10;
  static constexpr std::size_t kInitialSlots = 8;

  const Table& table_of(std::uint64_t hash) const { return tables_[hash >> (64 - kTableBits)]; }
  Table& table_of(std::uint64_t hash) { return tables_[hash >> (64 - kTableBits)]; }
  static void place(std::vector<Slot>* slots, Slot slot);

  std::vector<Table> tables_;
  std::size_t size_ = 0;
};

}  // namespace triad::sequencer
