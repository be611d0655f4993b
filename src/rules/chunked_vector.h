// An append-only array in fixed-size chunks, for the engine's lists that grow
// for its lifetime (every approval, every id). A std::vector doubles by
// copying everything into fresh memory, and the three replicas do it at the
// same seq, so the vote cannot hide it: at 16,384 approvals that was 385
// page faults (about 10 µs each on the 2-core VM) and 7-11 ms in each
// replica (an instrumented `triad bench` run at 4,768/s, 2026-12-04). Here a
// push_back that fills a chunk allocates the next one only (kChunkEntries
// entries), and nothing is ever moved, so references stay valid.
#pragma once

#include <algorithm>
#include <cstddef>
#include <deque>
#include <memory>
#include <vector>

#include "common/assert.h"

namespace triad::rules {

template <class T, std::size_t kChunkEntries = 1024>
class ChunkedVector {
  static_assert((kChunkEntries & (kChunkEntries - 1)) == 0, "a power of two");
  static constexpr std::size_t kShift = __builtin_ctzll(kChunkEntries);

 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  T& operator[](std::size_t i) {
    TRIAD_ASSERT(i < size_);
    return chunks_[i >> kShift][i & (kChunkEntries - 1)];
  }
  const T& operator[](std::size_t i) const {
    TRIAD_ASSERT(i < size_);
    return chunks_[i >> kShift][i & (kChunkEntries - 1)];
  }
  T& back() { return (*this)[size_ - 1]; }

  void push_back(const T& value) {
    if ((size_ & (kChunkEntries - 1)) == 0 && (size_ >> kShift) == chunks_.size()) {
      chunks_.push_back(std::make_unique<T[]>(kChunkEntries));
    }
    chunks_[size_ >> kShift][size_ & (kChunkEntries - 1)] = value;
    ++size_;
  }

  // Makes room for the chunk table of n entries (the chunks themselves are
  // allocated as they fill).
  void reserve(std::size_t n) { chunks_.reserve((n + kChunkEntries - 1) >> kShift); }

  // Calls f(entry) for every entry, in order.
  template <class F>
  void for_each(F f) const {
    for_range(0, size_, f);
  }
  // Calls f(entry) for entries first..end-1, in order.
  template <class F>
  void for_range(std::size_t first, std::size_t end, F f) const {
    TRIAD_ASSERT(first <= end && end <= size_);
    while (first < end) {
      const T* entries = chunks_[first >> kShift].get();
      const std::size_t chunk_end = std::min(end, ((first >> kShift) + 1) << kShift);
      for (; first < chunk_end; ++first) f(entries[first & (kChunkEntries - 1)]);
    }
  }

 private:
  std::vector<std::unique_ptr<T[]>> chunks_;
  std::size_t size_ = 0;
};

// A FIFO in fixed-size chunks, for the engine's time windows (rule 10's,
// which holds a day of transactions). std::deque keeps its blocks in one
// array that it reallocates as it grows: at 286,712 and 573,425 entries
// that was a 164 KiB and a 328 KiB copy into fresh memory, 2-6 ms in one
// apply() (BM_RulesLongestApply, 2026-12-05), in all three replicas at the
// same seq. Here a chunk goes when its last entry is popped, and the chunk
// table holds one pointer per kChunkEntries entries.
template <class T, std::size_t kChunkEntries = 1024>
class ChunkedFifo {
  static_assert((kChunkEntries & (kChunkEntries - 1)) == 0, "a power of two");
  static constexpr std::size_t kShift = __builtin_ctzll(kChunkEntries);

 public:
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }

  // The i-th entry from the front.
  const T& operator[](std::size_t i) const {
    TRIAD_ASSERT(i < size_);
    const std::size_t at = head_ + i;
    return chunks_[at >> kShift][at & (kChunkEntries - 1)];
  }
  const T& front() const { return (*this)[0]; }
  const T& back() const { return (*this)[size_ - 1]; }

  void push_back(const T& value) {
    const std::size_t at = head_ + size_;
    if ((at >> kShift) == chunks_.size()) {
      chunks_.push_back(std::make_unique<T[]>(kChunkEntries));
    }
    chunks_[at >> kShift][at & (kChunkEntries - 1)] = value;
    ++size_;
  }

  void pop_front() {
    TRIAD_ASSERT(size_ > 0);
    ++head_;
    --size_;
    if (head_ == kChunkEntries) {
      chunks_.pop_front();
      head_ = 0;
    }
  }

 private:
  std::deque<std::unique_ptr<T[]>> chunks_;
  std::size_t head_ = 0;  // the front entry's place in the first chunk
  std::size_t size_ = 0;
};

}  // namespace triad::rules
