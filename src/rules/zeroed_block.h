// Zero-filled memory for the engine's hash tables, whose empty slot is all
// zero bytes. Pages are faulted in only as they are written, so a table that
// grows (flat_map.h, id_table.h) pays for its new memory over time rather
// than all at once. Writing into a fresh block at random (the keys moved
// into a larger table) takes a fault at nearly every write, though: in
// 50,000/s floods (2026-12-05) applies of 6-10 faults and 200-450 us of CPU
// each came for hundreds of seqs after the id index doubled, in all three
// replicas at the same seqs. So a growing table takes its next block early
// and faults it in a page at a time (NextBlock, touch_some) before it is
// used. (With 4 KiB pages: transparent huge pages are madvise-only on these
// VMs, and these mappings are not madvised; bench/README.md says why.)
//
// A block of kOwnMappingBytes or more is its own mapping, and a table that
// has drained its old block gives it back a slice per operation
// (release_some) rather than all at once. Giving memory back is slow on
// the 2-core VMs: in BM_RulesLongestApply (2026-12-05) one munmap of a
// drained table took 0.3-5.6 ms (2-32 MiB), and a free() of a 256 KiB heap
// block 5.8 ms; that was the longest apply() of a million, in all three
// replicas at the same seq, where the vote cannot hide it. Unmapping it in
// slices did not help (the pause came as the first 2 MiB were gone);
// dropping its pages in slices (MADV_DONTNEED) and unmapping the emptied
// range at the end did: no pause left at any retirement. (From calloc, a
// large block's free also took the heap's trim with it, `brk` calls of
// 2.8-5.7 ms under strace, 2026-12-04.)
#pragma once

#include <sys/mman.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <utility>

#include "common/assert.h"

namespace triad::rules {

class ZeroedBlock {
 public:
  static constexpr std::size_t kOwnMappingBytes = std::size_t{64} << 10;
  // What release_some gives back at most per call: a few pages.
  static constexpr std::size_t kReleaseSliceBytes = std::size_t{16} << 10;

  // When a block's pages are faulted in: as they are first written, or all
  // at once as it is made (MAP_POPULATE, one pass in the kernel rather than
  // a fault per page: for a table about to be filled whole, as a restore's).
  enum class Pages : std::uint8_t { kOnFirstWrite, kNow };

  ZeroedBlock() = default;
  explicit ZeroedBlock(std::size_t bytes, Pages pages = Pages::kOnFirstWrite) : bytes_(bytes) {
    if (bytes >= kOwnMappingBytes) {
      const int populate = pages == Pages::kNow ? MAP_POPULATE : 0;
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | populate, -1, 0);
      TRIAD_ASSERT(p != MAP_FAILED);  // out of memory: no safe way to go on deciding
      TRIAD_ASSERT(bytes % kReleaseSliceBytes == 0);  // slices start on a page
      data_ = p;
    } else {
      data_ = std::calloc(bytes, 1);
      TRIAD_ASSERT(data_ != nullptr);
    }
  }
  ZeroedBlock(ZeroedBlock&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)),
        bytes_(std::exchange(other.bytes_, 0)),
        released_(std::exchange(other.released_, 0)),
        touched_(std::exchange(other.touched_, 0)) {}
  ZeroedBlock& operator=(ZeroedBlock&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
      released_ = std::exchange(other.released_, 0);
      touched_ = std::exchange(other.touched_, 0);
    }
    return *this;
  }
  ZeroedBlock(const ZeroedBlock&) = delete;
  ZeroedBlock& operator=(const ZeroedBlock&) = delete;
  ~ZeroedBlock() { release(); }

  // Null once given back, whole or (release_some) in part: the contents are
  // not to be used after the first release_some.
  void* data() const { return released_ == 0 ? data_ : nullptr; }
  bool held() const { return data_ != nullptr; }
  std::size_t bytes() const { return bytes_; }
  std::size_t touched() const { return touched_; }

  // Faults in the pages of the next `bytes` (from the start, as far as the
  // block goes) by writing a zero every kPageBytes: the contents do not
  // change. (A heap block need not start on a page, and its pages are most
  // likely in memory already.) Returns how many bytes from the start it has
  // written so far; nothing more once the block is given back in part.
  std::size_t touch_some(std::size_t bytes) {
    if (data() == nullptr) return touched_;
    const std::size_t end = std::min(bytes_, touched_ + bytes);
    for (std::size_t page = (touched_ + kPageBytes - 1) / kPageBytes * kPageBytes; page < end;
         page += kPageBytes) {
      static_cast<volatile char*>(data_)[page] = 0;
    }
    touched_ = end;
    return touched_;
  }

  // Drops the pages of the next kReleaseSliceBytes of a block no longer
  // used, and unmaps it with the last slice (a heap block is freed whole);
  // then the block holds nothing.
  void release_some() {
    if (data_ == nullptr) return;
    if (bytes_ < kOwnMappingBytes) return release();
    const std::size_t n = std::min(kReleaseSliceBytes, bytes_ - released_);
    ::madvise(static_cast<char*>(data_) + released_, n, MADV_DONTNEED);
    released_ += n;
    if (released_ == bytes_) release();  // the last slice: unmaps the emptied range
  }

 private:
  void release() {
    if (data_ == nullptr) return;
    if (bytes_ >= kOwnMappingBytes) {
      ::munmap(data_, bytes_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
    bytes_ = 0;
    released_ = 0;
    touched_ = 0;
  }

  // The smallest page size Linux has (x86-64, arm64 by default): where pages
  // are larger, some writes land on a page already touched.
  static constexpr std::size_t kPageBytes = 4096;

  void* data_ = nullptr;
  std::size_t bytes_ = 0;
  std::size_t released_ = 0;  // bytes from the start whose pages were dropped
  std::size_t touched_ = 0;   // bytes from the start whose pages touch_some wrote
};

// The next block of a table that doubles at half full: taken at 7/16 full,
// C/16 insertions before the table of C slots grows, and faulted in
// kTouchSlotsPerInsert slots' worth per insertion, so that all of it is in
// memory by then (2C / (C/16) = 32 slots would just do). The cost is memory
// held early: a table that passes 7/16 full and then stops growing, as rule
// 10's can once its window is full, holds three times its own memory until
// it shrinks below 1/4, where it gives the block back. The highest load a
// table reaches after its last doubling can be anywhere from 1/4 to 1/2; on
// a log scale 7/16 to 1/2 is 19% of that range, where 3/8 to 1/2, the point
// the block was taken at before (2026-12-05), was 41%.
class NextBlock {
 public:
  static constexpr std::size_t kTouchSlotsPerInsert = 40;
  static_assert(kTouchSlotsPerInsert >= 32);

  // At each insertion into a table of `capacity` slots of `slot_bytes`
  // holding `size` (the new one not counted). Returns whether the table
  // must grow now, the insertion taking it past half full: the timing above
  // is reckoned from that point, so it is decided here alone. A block given
  // back goes to `retired`, to be released a slice per operation; while
  // that is busy with another, this one is kept.
  bool prepare(std::size_t size, std::size_t capacity, std::size_t slot_bytes,
               ZeroedBlock* retired) {
    if (!block_.held()) {
      if (takes_next(size + 1, capacity)) block_ = ZeroedBlock(2 * capacity * slot_bytes);
    } else if (size * 4 < capacity) {
      if (!retired->held()) *retired = std::move(block_);
    } else {
      block_.touch_some(kTouchSlotsPerInsert * slot_bytes);
    }
    return (size + 1) * 2 > capacity;
  }

  // The block of `bytes` for the grown table, once prepare said to grow: by
  // then it is held (taken at 7/16 at the latest, in that very call, and
  // not given back above 1/4).
  ZeroedBlock take(std::size_t bytes) {
    TRIAD_ASSERT(block_.held() && block_.bytes() == bytes);
    return std::move(block_);
  }
  bool held() const { return block_.held(); }

  // The capacity, `capacity` doubled as often as it takes, of a table that
  // holds `count` members with no next block taken: for one filled in bulk
  // (a restore), which then grows through no smaller table.
  static std::size_t capacity_for(std::size_t count, std::size_t capacity) {
    while (takes_next(count, capacity)) capacity *= 2;
    return capacity;
  }

 private:
  // Past 7/16 full.
  static bool takes_next(std::size_t size, std::size_t capacity) {
    return size * 16 > capacity * 7;
  }

  ZeroedBlock block_;
};

}  // namespace triad::rules
