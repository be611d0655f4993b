#include "sequencer/id_index.h"

#include <utility>

namespace triad::sequencer {

IdIndex::IdIndex() : tables_(std::size_t{1} << kTableBits) {
  for (Table& t : tables_) t.slots.resize(kInitialSlots);
}

std::size_t IdIndex::capacity_bytes() const {
  std::size_t slots = 0;
  for (const Table& t : tables_) slots += t.slots.size();
  return slots * sizeof(Slot);
}

void IdIndex::place(std::vector<Slot>* slots, Slot slot) {
  const std::size_t mask = slots->size() - 1;
  std::size_t i = slot.hash & mask;
  while ((*slots)[i].seq != 0) i = (i + 1) & mask;
  (*slots)[i] = slot;
}

void IdIndex::insert(std::uint64_t hash, std::uint64_t seq) {
  TRIAD_ASSERT(seq != 0);
  Table& t = table_of(hash);
  // At most three quarters full: an absent hash (every new id) then probes
  // 8.5 slots on average, a few cache lines.
  if (4 * (t.used + 1) > 3 * t.slots.size()) {
    std::vector<Slot> grown(2 * t.slots.size());
    for (const Slot& s : t.slots) {
      if (s.seq != 0) place(&grown, s);
    }
    t.slots = std::move(grown);
  }
  place(&t.slots, {hash, seq});
  ++t.used;
  ++size_;
}

}  // namespace triad::sequencer
