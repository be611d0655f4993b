#include "crypto/merkle.h"

#include <utility>

#include "common/assert.h"
#include "crypto/hash.h"

namespace triad::crypto {
namespace {

// One context per thread: hashing a tree is thousands of short messages.
Sha256& hasher() {
  thread_local Sha256 h;
  return h;
}

constexpr std::uint8_t kLeafPrefix = 0x00;
constexpr std::uint8_t kNodePrefix = 0x01;

}  // namespace

Digest merkle_leaf_hash(std::span<const std::uint8_t> data) {
  Sha256& h = hasher();
  h.update(std::span<const std::uint8_t>(&kLeafPrefix, 1));
  h.update(data);
  return h.finish();
}

Digest merkle_node_hash(const Digest& left, const Digest& right) {
  Sha256& h = hasher();
  h.update(std::span<const std::uint8_t>(&kNodePrefix, 1));
  h.update(left);
  h.update(right);
  return h.finish();
}

MerkleTree::MerkleTree(std::vector<Digest> leaf_hashes) {
  TRIAD_ASSERT(!leaf_hashes.empty());
  levels_.push_back(std::move(leaf_hashes));
  while (levels_.back().size() > 1) {
    const std::vector<Digest>& below = levels_.back();
    std::vector<Digest> above;
    above.reserve((below.size() + 1) / 2);
    for (std::size_t i = 0; i + 1 < below.size(); i += 2) {
      above.push_back(merkle_node_hash(below[i], below[i + 1]));
    }
    if (below.size() % 2 == 1) above.push_back(below.back());
    levels_.push_back(std::move(above));
  }
}

std::vector<Digest> MerkleTree::path(std::size_t index) const {
  std::vector<Digest> out;
  path(index, &out);
  return out;
}

void MerkleTree::path(std::size_t index, std::vector<Digest>* out) const {
  TRIAD_ASSERT(index < size());
  out->clear();
  for (std::size_t level = 0; level + 1 < levels_.size(); ++level) {
    const std::size_t sibling = index ^ 1u;
    // No sibling: the node was carried up unchanged, nothing to hash.
    if (sibling < levels_[level].size()) out->push_back(levels_[level][sibling]);
    index >>= 1;
  }
}

bool merkle_root_from_path(const Digest& leaf_hash, std::uint64_t index, std::uint64_t size,
                           std::span<const Digest> path, Digest* root) {
  if (index >= size) return false;
  std::uint64_t fn = index;
  std::uint64_t sn = size - 1;
  Digest r = leaf_hash;
  for (const Digest& p : path) {
    if (sn == 0) return false;
    if ((fn & 1u) == 1 || fn == sn) {
      r = merkle_node_hash(p, r);
      if ((fn & 1u) == 0) {
        while ((fn & 1u) == 0 && fn != 0) {
          fn >>= 1;
          sn >>= 1;
        }
      }
    } else {
      r = merkle_node_hash(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return false;
  *root = r;
  return true;
}

}  // namespace triad::crypto
