// Zero-filled memory for the engine's hash tables, whose empty slot is all
// zero bytes. Pages are faulted in only as slots are written, so a table
// that grows (flat_map.h, id_table.h) pays for its new memory as keys land
// in it rather than all at once. A large block is its own mapping: handed to
// the allocator it came back from the heap, and freeing it there made one
// apply() take 14-25 ms at 2^17 to 2^19 rule 10 entries (the heap trimmed
// with it; BM_RulesLongestApply, 2026-12-04), where unmapping it alone takes
// well under a millisecond per 8 MiB.
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
  std::size_t bytes() const { return bytes_; }

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
