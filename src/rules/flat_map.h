// A small open-addressing hash map for the engine's hot path: linear
// probing, power-of-two capacity, load at most 1/2, backward-shift deletion
// (no tombstones), no allocation except when it grows. Looked up by the
// rules; iterated only by Engine::serialize, which sorts what it collects, so
// its layout cannot reach a verdict or a snapshot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "common/assert.h"

namespace triad::rules {

template <class Key, class Value, class Hash>
class FlatMap {
 public:
  explicit FlatMap(std::size_t initial_capacity = 1024) {
    std::size_t capacity = 16;
    while (capacity < initial_capacity) capacity *= 2;
    slots_.resize(capacity);
    mask_ = capacity - 1;
  }

  // The value of `key`, or nullptr.
  Value* find(const Key& key) {
    for (std::size_t i = home(key);; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == key) return &s.value;
    }
  }

  // Inserts (key, value) unless `key` is present. Returns the value in the
  // map and whether it was inserted.
  std::pair<Value*, bool> try_emplace(const Key& key, const Value& value) {
    if ((size_ + 1) * 2 > slots_.size()) grow();
    std::size_t i = home(key);
    for (;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (!s.used) break;
      if (s.key == key) return {&s.value, false};
    }
    slots_[i] = Slot{key, value, true};
    ++size_;
    return {&slots_[i].value, true};
  }

  // Removes `key` if present.
  void erase(const Key& key) {
    std::size_t hole = home(key);
    for (;; hole = (hole + 1) & mask_) {
      if (!slots_[hole].used) return;
      if (slots_[hole].key == key) break;
    }
    // Backward shift: move later members of the cluster into the hole when
    // their home position is not cyclically in (hole, j].
    for (std::size_t j = (hole + 1) & mask_; slots_[j].used; j = (j + 1) & mask_) {
      const std::size_t k = home(slots_[j].key);
      const bool k_in_hole_to_j = hole <= j ? (hole < k && k <= j) : (hole < k || k <= j);
      if (!k_in_hole_to_j) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole].used = false;
    --size_;
  }

  std::size_t size() const { return size_; }

  // Calls f(key, value) for every member, in slot order: an order that
  // depends on the capacity and the insertion history, so a caller must sort
  // what it collects before anything reaches a verdict or a snapshot.
  template <class F>
  void for_each(F f) const {
    for (const Slot& s : slots_) {
      if (s.used) f(s.key, s.value);
    }
  }

 private:
  struct Slot {
    Key key{};
    Value value{};
    bool used = false;
  };

  std::size_t home(const Key& key) const { return Hash{}(key)&mask_; }

  void grow() {
    std::vector<Slot> old(slots_.size() * 2);
    old.swap(slots_);
    mask_ = slots_.size() - 1;
    size_ = 0;
    for (const Slot& s : old) {
      if (s.used) try_emplace(s.key, s.value);
    }
  }

  std::vector<Slot> slots_;
  std::size_t mask_ = 0;
  std::size_t size_ = 0;
};

}  // namespace triad::rules
