// A small open-addressing hash map for the engine's hot path: linear
// probing, power-of-two capacity, load at most 1/2, backward-shift deletion.
// Looked up by the rules, never iterated by them (for_each is for tests), so
// its layout cannot reach a verdict or a snapshot.
//
// It grows without a pause. Rehashing everything at once took 4-15 ms at
// 16,384 entries and up to 26 ms at 32,768 (rule 10's table in a `triad
// bench` run at 4,768/s, 2026-12-04: page faults of the new table and the
// re-inserts), in all three replicas at the same seq, so every request then
// in flight waited for it. Instead, when the table reaches half full, a
// table twice the size takes new keys and the old one is drained into it a
// few slots per operation (kMigrateSlots), finished well before the new one
// is half full in turn. Meanwhile a key is in exactly one of the two; the
// old table takes no insertions, and its slots become tombstones when their
// key moves or is erased, so its probe chains stay intact. The larger
// table's memory is taken and faulted in ahead (NextBlock, zeroed_block.h).
// The cost: a map that passes 7/16 full and then stops growing, as rule 10's
// table can once its window is full, holds three times its table's memory
// until it shrinks below 1/4.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>

#include "common/assert.h"
#include "rules/zeroed_block.h"

namespace triad::rules {

template <class Key, class Value, class Hash>
class FlatMap {
  static_assert(std::is_trivially_copyable_v<Key> && std::is_trivially_copyable_v<Value>,
                "slots are zeroed memory");

 public:
  explicit FlatMap(std::size_t initial_capacity = 1024, Hash hash = Hash{})
      : hash_(std::move(hash)) {
    std::size_t capacity = 16;
    while (capacity < initial_capacity) capacity *= 2;
    table_ = Table(capacity);
  }

  // The value of `key`, or nullptr.
  Value* find(const Key& key) { return find(key, hash_of(key)); }

  // Inserts (key, value) unless `key` is present. Returns the value in the
  // map and whether it was inserted.
  std::pair<Value*, bool> try_emplace(const Key& key, const Value& value) {
    migrate_some();
    const std::uint32_t h = hash_of(key);
    if (Value* v = find(key, h); v != nullptr) return {v, false};
    if (next_.prepare(size(), table_.capacity(), sizeof(Slot), &retired_)) start_growing();
    Slot* s = table_.insert_new(key, value, h);
    return {&s->value, true};
  }

  // Removes `key` if present.
  void erase(const Key& key) {
    migrate_some();
    const std::uint32_t h = hash_of(key);
    if (table_.erase(key, h)) return;
    if (Slot* s = draining_.find(key, h); s != nullptr) {
      s->state = kTombstone;
      --draining_.size;
    }
  }

  // Makes room for `count` members in a map that has none yet, so that
  // inserting them grows nothing and takes no next table ahead: a bulk load
  // (Engine::restore) would otherwise build and fault in every smaller
  // table on the way.
  void reserve_empty(std::size_t count) {
    TRIAD_ASSERT(size() == 0 && !growing() && !next_.held());
    const std::size_t capacity = NextBlock::capacity_for(count, table_.capacity());
    if (capacity != table_.capacity()) table_ = Table(capacity, ZeroedBlock::Pages::kNow);
  }

  std::size_t size() const { return table_.size + draining_.size; }
  // The slots of the table that takes new keys (for tests).
  std::size_t capacity() const { return table_.capacity(); }
  // Whether a table is being drained into a larger one (for tests).
  bool growing() const { return draining_.capacity() != 0; }
  // Whether the next, larger table is taken ahead of growing (for tests).
  bool next_taken() const { return next_.held(); }

  // Calls f(key, value) for every member, in slot order: an order that
  // depends on the capacity, the insertion history and the table key. For
  // tests; nothing that reaches a verdict or a snapshot may depend on it.
  template <class F>
  void for_each(F f) const {
    table_.for_each(f);
    draining_.for_each(f);
  }

 private:
  static constexpr std::uint8_t kEmpty = 0;  // zeroed memory is an empty slot
  static constexpr std::uint8_t kUsed = 1;
  static constexpr std::uint8_t kTombstone = 2;  // only in the table being drained
  // Old slots moved per operation. Draining starts at size C/2 (C the old
  // capacity) and must end before size C, when the new table is half full:
  // at 4 slots per insertion it ends after C/4 insertions at most.
  static constexpr std::size_t kMigrateSlots = 4;

  // The home hash is kept: erasing shifts and growing moves members, and
  // the keyed hash (table_hash.h) costs more than the probe it places.
  struct Slot {
    Key key;
    Value value;
    std::uint32_t hash;  // low bits of Hash: enough for 2^32 slots
    std::uint8_t state;
  };
  struct Table {
    Table() = default;
    explicit Table(std::size_t capacity,
                   ZeroedBlock::Pages pages = ZeroedBlock::Pages::kOnFirstWrite)
        : Table(ZeroedBlock(capacity * sizeof(Slot), pages), capacity) {}
    Table(ZeroedBlock b, std::size_t capacity) : block(std::move(b)), mask(capacity - 1) {
      TRIAD_ASSERT(capacity <= (std::size_t{1} << 32));
    }
    // Derived, not stored: a moved-from table then has none.
    Slot* slots() const { return static_cast<Slot*>(block.data()); }
    std::size_t capacity() const { return slots() != nullptr ? mask + 1 : 0; }
    // h is hash_of(key).
    Slot* find(const Key& key, std::uint32_t h) const {
      if (slots() == nullptr) return nullptr;
      for (std::size_t i = h & mask;; i = (i + 1) & mask) {
        Slot& s = slots()[i];
        if (s.state == kEmpty) return nullptr;
        if (s.state == kUsed && s.key == key) return &s;
      }
    }
    // `key` is in neither table and this one is below half full; h is
    // hash_of(key).
    Slot* insert_new(const Key& key, const Value& value, std::uint32_t h) {
      std::size_t i = h & mask;
      while (slots()[i].state != kEmpty) i = (i + 1) & mask;
      slots()[i] = Slot{key, value, h, kUsed};
      ++size;
      return &slots()[i];
    }
    // Backward-shift deletion (the live table has no tombstones): later
    // members of the cluster move into the hole unless their home position
    // is cyclically in (hole, j].
    bool erase(const Key& key, std::uint32_t h) {
      std::size_t hole = h & mask;
      for (;; hole = (hole + 1) & mask) {
        if (slots()[hole].state == kEmpty) return false;
        if (slots()[hole].key == key) break;
      }
      for (std::size_t j = (hole + 1) & mask; slots()[j].state != kEmpty; j = (j + 1) & mask) {
        const std::size_t k = slots()[j].hash & mask;
        const bool k_in_hole_to_j = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
        if (!k_in_hole_to_j) {
          slots()[hole] = slots()[j];
          hole = j;
        }
      }
      slots()[hole].state = kEmpty;
      --size;
      return true;
    }
    template <class F>
    void for_each(F& f) const {
      for (std::size_t i = 0; i < capacity(); ++i) {
        if (slots()[i].state == kUsed) f(slots()[i].key, slots()[i].value);
      }
    }

    ZeroedBlock block;
    std::size_t mask = 0;
    std::size_t size = 0;  // used slots
  };

  std::uint32_t hash_of(const Key& key) const { return static_cast<std::uint32_t>(hash_(key)); }

  Value* find(const Key& key, std::uint32_t h) {
    if (Slot* s = table_.find(key, h); s != nullptr) return &s->value;
    if (Slot* s = draining_.find(key, h); s != nullptr) return &s->value;
    return nullptr;
  }

  void start_growing() {
    while (growing()) migrate_some();  // not expected: draining ends long before
    const std::size_t capacity = table_.capacity() * 2;
    draining_ = std::move(table_);
    table_ = Table(next_.take(capacity * sizeof(Slot)), capacity);
    drained_up_to_ = 0;
  }

  void migrate_some() {
    retired_.release_some();
    if (!growing()) return;
    const std::size_t end = std::min(drained_up_to_ + kMigrateSlots, draining_.capacity());
    for (; drained_up_to_ < end; ++drained_up_to_) {
      Slot& s = draining_.slots()[drained_up_to_];
      if (s.state != kUsed) continue;
      table_.insert_new(s.key, s.value, s.hash);
      s.state = kTombstone;
      --draining_.size;
    }
    if (drained_up_to_ == draining_.capacity()) {
      TRIAD_ASSERT(draining_.size == 0);
      retired_ = std::move(draining_.block);
      draining_ = Table();
    }
  }

  Hash hash_;  // one for both tables: a member keeps its home hash when moved
  Table table_;
  NextBlock next_;       // the next table's memory, taken ahead
  Table draining_;       // empty (capacity 0) unless growing
  ZeroedBlock retired_;  // the drained table's memory, given back a slice per operation
  std::size_t drained_up_to_ = 0;
};

}  // namespace triad::rules
