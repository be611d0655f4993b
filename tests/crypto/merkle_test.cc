#include "crypto/merkle.h"

#include <gtest/gtest.h>

#include <string>

#include "crypto/hash.h"

namespace triad::crypto {
namespace {

std::vector<Digest> leaves(std::size_t n) {
  std::vector<Digest> out;
  for (std::size_t i = 0; i < n; ++i) {
    const std::string data = "leaf " + std::to_string(i);
    out.push_back(merkle_leaf_hash(
        std::span(reinterpret_cast<const std::uint8_t*>(data.data()), data.size())));
  }
  return out;
}

// RFC 6962 section 2.1, as written: MTH(D[n]) splits at the largest power of
// two smaller than n. The level-by-level tree must give the same root.
Digest reference_root(std::span<const Digest> d) {
  if (d.size() == 1) return d[0];
  std::size_t k = 1;
  while (k * 2 < d.size()) k *= 2;
  return merkle_node_hash(reference_root(d.subspan(0, k)), reference_root(d.subspan(k)));
}

TEST(Merkle, DomainSeparatesLeavesFromNodes) {
  // Leaf and node hashes differ from plain SHA-256 and from each other, so an
  // inner node can never pass for a leaf (the second-preimage attack).
  const Digest a = leaves(1)[0];
  std::vector<std::uint8_t> both(a.begin(), a.end());
  both.insert(both.end(), a.begin(), a.end());
  EXPECT_NE(merkle_node_hash(a, a), merkle_leaf_hash(both));
  EXPECT_NE(merkle_leaf_hash(both), sha256(both));
}

TEST(Merkle, RootsEqualTheRfc6962DefinitionAndEveryPathLeadsToIt) {
  for (std::size_t n = 1; n <= 70; ++n) {
    const std::vector<Digest> d = leaves(n);
    const MerkleTree tree(d);
    ASSERT_EQ(tree.size(), n);
    ASSERT_EQ(tree.root(), reference_root(d)) << "n " << n;
    for (std::size_t i = 0; i < n; ++i) {
      Digest root{};
      ASSERT_TRUE(merkle_root_from_path(d[i], i, n, tree.path(i), &root)) << n << " " << i;
      ASSERT_EQ(root, tree.root()) << "n " << n << " index " << i;
    }
  }
}

TEST(Merkle, OneLeafIsItsOwnRootWithAnEmptyPath) {
  const std::vector<Digest> d = leaves(1);
  const MerkleTree tree(d);
  EXPECT_EQ(tree.root(), d[0]);
  EXPECT_TRUE(tree.path(0).empty());
  Digest root{};
  EXPECT_TRUE(merkle_root_from_path(d[0], 0, 1, {}, &root));
  EXPECT_EQ(root, d[0]);
}

TEST(Merkle, AWrongLeafIndexSizeOrPathDoesNotLeadToTheRoot) {
  const std::size_t n = 13;
  const std::vector<Digest> d = leaves(n);
  const MerkleTree tree(d);
  for (std::size_t i = 0; i < n; ++i) {
    const std::vector<Digest> path = tree.path(i);
    Digest root{};
    // Another leaf at this position.
    const Digest other = d[(i + 1) % n];
    ASSERT_TRUE(merkle_root_from_path(other, i, n, path, &root));
    EXPECT_NE(root, tree.root());
    // Another position for this leaf (a path has the length its position needs).
    for (std::size_t j = 0; j < n; ++j) {
      if (j != i && merkle_root_from_path(d[i], j, n, path, &root)) {
        EXPECT_NE(root, tree.root());
      }
    }
    // Each path digest damaged in turn.
    for (std::size_t k = 0; k < path.size(); ++k) {
      std::vector<Digest> damaged = path;
      damaged[k][0] ^= 1;
      ASSERT_TRUE(merkle_root_from_path(d[i], i, n, damaged, &root));
      EXPECT_NE(root, tree.root());
    }
    // A path too long or too short for the size is refused outright.
    std::vector<Digest> longer = path;
    longer.push_back(d[0]);
    EXPECT_FALSE(merkle_root_from_path(d[i], i, n, longer, &root));
    if (!path.empty()) {
      EXPECT_FALSE(
          merkle_root_from_path(d[i], i, n, std::span(path).first(path.size() - 1), &root));
    }
  }
  Digest root{};
  EXPECT_FALSE(merkle_root_from_path(d[0], n, n, tree.path(0), &root));
  EXPECT_FALSE(merkle_root_from_path(d[0], 0, 0, {}, &root));
}

}  // namespace
}  // namespace triad::crypto
