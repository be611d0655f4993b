// Keyed hashing for the engine's hash tables whose keys clients choose: rule
// 10's (terminal, stan) table and the record of transaction ids.
//
// With an unkeyed hash anyone can compute many keys of one hash (rule 10's
// was invertible outright), and every insertion then walks one probe
// cluster: quadratic work, in all three replicas at once, since they share
// this code (40,000 crafted rule 10 keys took 2.1-3.3 s to apply against
// 0.5 s for random ones, 2026-12-05; at 120,000, 19.8 s against 1.6 s, and
// fail-safe declines once replicas missed their deadlines). Under SipHash-2-4
// with a secret key nobody outside can aim at a slot. Replicas draw their
// keys independently: nothing that reaches a verdict, a digest or a snapshot
// depends on where a key sits in a table (tables are looked up, never
// iterated), so they still agree bit for bit.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace triad::rules {

struct TableHashKey {
  std::array<unsigned char, 16> bytes{};

  // 16 bytes from the operating system's random source.
  static TableHashKey random();
  // One random key drawn the first time it is asked for, the same for the
  // rest of the process: the default for every Engine.
  static const TableHashKey& per_process();
};

// SipHash-2-4 of `bytes` under `key` (libsodium's crypto_shorthash).
std::uint64_t table_hash(const TableHashKey& key, std::string_view bytes);

// Rule 10 key: terminal (8 bytes) and stan (6 digits).
struct DuplicateKey {
  std::uint64_t terminal = 0;
  std::uint32_t stan = 0;
  friend bool operator==(const DuplicateKey&, const DuplicateKey&) = default;
};

struct DuplicateKeyHash {
  TableHashKey key;
  std::size_t operator()(const DuplicateKey& k) const noexcept;
};

}  // namespace triad::rules
