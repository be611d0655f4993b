// Merkle trees over SHA-256, with the tree shape and the domain separation of
// RFC 6962 / RFC 9162 (Certificate Transparency): leaf = H(0x00 || data),
// node = H(0x01 || left || right), a tree of n leaves splits at the largest
// power of two below n. A replica signs one root per batch of verdicts instead
// of every verdict, and each certificate carries its verdict's audit path, so
// one Ed25519 signature vouches for thousands of decisions and any one of them
// still verifies offline on its own.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/types.h"

namespace triad::crypto {

Digest merkle_leaf_hash(std::span<const std::uint8_t> data);
Digest merkle_node_hash(const Digest& left, const Digest& right);

// A whole tree, kept level by level so any leaf's audit path is a lookup.
class MerkleTree {
 public:
  // At least one leaf (asserted): an empty batch has nothing to sign.
  explicit MerkleTree(std::vector<Digest> leaf_hashes);

  std::size_t size() const { return levels_.front().size(); }
  const Digest& root() const { return levels_.back().front(); }
  // The audit path of leaf `index` (< size(), asserted), bottom up.
  std::vector<Digest> path(std::size_t index) const;
  // The same, into `out` (its capacity is reused).
  void path(std::size_t index, std::vector<Digest>* out) const;

 private:
  // levels_[0] are the leaves, levels_.back() the root alone. An odd last
  // node moves up a level unchanged, which gives RFC 6962's shape.
  std::vector<std::vector<Digest>> levels_;
};

// RFC 9162 section 2.1.3.2: the root that `path` leads to from `leaf_hash` at
// `index` in a tree of `size` leaves; false when the path cannot belong to
// such a tree (wrong length, index >= size).
bool merkle_root_from_path(const Digest& leaf_hash, std::uint64_t index, std::uint64_t size,
                           std::span<const Digest> path, Digest* root);

}  // namespace triad::crypto
