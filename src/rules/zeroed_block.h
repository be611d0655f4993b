// Zero-filled memory for the engine's hash tables, whose empty slot is all
// zero bytes. Pages are faulted in only as slots are written, so a table
// that grows (flat_map.h, id_table.h) pays for its new memory as keys land
// in it rather than all at once. A large block is its own mapping: from
// calloc it came from the heap, and freeing a drained table there took the
// heap's trim with it (`brk` calls of 2.8-5.7 ms under strace), making the
// longest apply() 14-25 ms at a million approvals against 9-16 ms as its own
// mapping (BM_RulesLongestApply, 2026-12-04). Unmapping is not free either:
// 1.1-7.9 ms for 8 MiB under strace on the 2-core VM; that is what the
// longest apply() now waits for.
#pragma once

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <utility>

#include "common/assert.h"

namespace triad::rules {

class ZeroedBlock {
 public:
  static constexpr std::size_t kOwnMappingBytes = std::size_t{1} << 20;

  ZeroedBlock() = default;
  explicit ZeroedBlock(std::size_t bytes) : bytes_(bytes) {
    if (bytes >= kOwnMappingBytes) {
      void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      TRIAD_ASSERT(p != MAP_FAILED);  // out of memory: no safe way to go on deciding
      data_ = p;
    } else {
      data_ = std::calloc(bytes, 1);
      TRIAD_ASSERT(data_ != nullptr);
    }
  }
  ZeroedBlock(ZeroedBlock&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  ZeroedBlock& operator=(ZeroedBlock&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
    }
    return *this;
  }
  ZeroedBlock(const ZeroedBlock&) = delete;
  ZeroedBlock& operator=(const ZeroedBlock&) = delete;
  ~ZeroedBlock() { release(); }

  void* data() const { return data_; }

 private:
  void release() {
    if (data_ == nullptr) return;
    if (bytes_ >= kOwnMappingBytes) {
      ::munmap(data_, bytes_);
    } else {
      std::free(data_);
    }
    data_ = nullptr;
  }

  void* data_ = nullptr;
  std::size_t bytes_ = 0;
};

}  // namespace triad::rules
