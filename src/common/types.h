// Small value types shared by every component.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace triad {

using Digest = std::array<std::uint8_t, 32>;     // SHA-256
using Signature = std::array<std::uint8_t, 64>;  // Ed25519
using PublicKey = std::array<std::uint8_t, 32>;  // Ed25519
using CardRef = std::array<std::uint8_t, 16>;    // a PAN's keyed reference (crypto/card_ref.h)

// Replicas are a, b, c; index 0, 1, 2 everywhere.
inline constexpr int kReplicaCount = 3;
inline constexpr char replica_name(int replica) { return static_cast<char>('a' + replica); }
// The names of the replicas whose bit is set in `mask` (bit r for replica
// r), in order: "ab" for 0b011.
inline std::string replica_names(std::uint8_t mask) {
  std::string names;
  for (int r = 0; r < kReplicaCount; ++r) {
    if (mask & (1u << r)) names.push_back(replica_name(r));
  }
  return names;
}
// -1 when `name` is not a, b or c.
inline constexpr int replica_index(char name) {
  return (name >= 'a' && name <= 'c') ? name - 'a' : -1;
}

}  // namespace triad
