// SHA-256 and HMAC-SHA256 (OpenSSL 3 EVP underneath), and SipHash-2-4
// (libsodium's crypto_shorthash).
//
// None of these calls can fail on valid input: OpenSSL only fails here when it
// cannot allocate memory or its SHA-256 provider is missing, and both are
// treated as fatal (the process prints the reason and aborts) rather than
// returned as a Status, so hashing stays cheap to call on the hot path.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string_view>

#include "common/types.h"

struct evp_md_ctx_st;  // OpenSSL's EVP_MD_CTX, kept out of this header.

namespace triad::crypto {

// SHA-256 of `data` in one call. Thread-safe; each thread reuses its own context.
Digest sha256(std::span<const std::uint8_t> data);
Digest sha256(std::string_view data);

// Incremental SHA-256. Feed bytes with update() in any split; finish() returns
// the digest of everything fed since construction or the previous finish(),
// and resets the object to empty so it can hash the next message without
// allocating. Not thread-safe (one object per thread). Movable, not copyable;
// a moved-from object must not be used again except to be assigned or destroyed.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(Sha256&& other) noexcept;
  Sha256& operator=(Sha256&& other) noexcept;
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(std::span<const std::uint8_t> data);
  void update(std::string_view data);
  Digest finish();

 private:
  struct CtxDeleter {
    void operator()(evp_md_ctx_st* ctx) const;
  };
  std::unique_ptr<evp_md_ctx_st, CtxDeleter> ctx_;
};

// HMAC-SHA256 (RFC 2104) of `data` under `key`; any key length, including empty.
Digest hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data);

// SipHash-2-4 of `data` under `key`: a 64-bit keyed hash for hash tables
// whose keys come from clients. Without the key nobody can choose keys that
// collide, and so make every look-up walk a long chain.
using ShortHashKey = std::array<std::uint8_t, 16>;
std::uint64_t short_hash(const ShortHashKey& key, std::string_view data);

}  // namespace triad::crypto
