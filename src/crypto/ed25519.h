// Ed25519 signatures (RFC 8032, pure Ed25519, no context or prehash).
//
// Two interchangeable backends sit behind SigningKey and VerifyingKey:
// libsodium (the default: about twice as fast to sign and verify) and OpenSSL
// 3. They
// give byte-identical signatures and accept exactly the same signatures:
// - a public key must be a canonical point of the prime-order subgroup (no
//   small-order or mixed-order keys, which would let a crafted signature
//   verify for every message);
// - S must be canonical (S < L) and R must not be the identity point (which
//   only a signer deliberately using nonce 0 can produce).
//
// Both classes hold a parsed key, so sign() and verify() do not re-parse it,
// and both are safe to call from several threads on the same object at once.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>

#include "common/types.h"
#include "triad/status.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header.

namespace triad::crypto {

enum class Ed25519Backend : std::uint8_t {
  kOpenSsl,  // OpenSSL 3 EVP
  kSodium,   // libsodium
};

// "openssl" or "sodium".
const char* ed25519_backend_name(Ed25519Backend backend);
// The backend of keys made without naming one: kSodium until changed. Set it
// once at start-up (e.g. from a flag) before any key is made; a key keeps the
// backend it was made with.
void set_default_ed25519_backend(Ed25519Backend backend);
Ed25519Backend default_ed25519_backend();

namespace detail {
struct EvpPkeyFree {
  void operator()(evp_pkey_st* pkey) const;
};
struct SodiumSecretKey;  // libsodium's 64-byte secret key, wiped when freed.
struct SodiumSecretKeyFree {
  void operator()(SodiumSecretKey* key) const;
};
}  // namespace detail

// The 32-byte RFC 8032 secret key ("seed").
using Ed25519Seed = std::array<std::uint8_t, 32>;

class SigningKey {
 public:
  // Holds no key until generate(), from_seed() or load_signing_key() fills it;
  // sign() on an empty key is a bug and aborts.
  SigningKey();
  ~SigningKey();
  SigningKey(SigningKey&&) noexcept;
  SigningKey& operator=(SigningKey&&) noexcept;
  SigningKey(const SigningKey&) = delete;
  SigningKey& operator=(const SigningKey&) = delete;

  // A new key from OpenSSL's CSPRNG. Returns Internal when the generator or
  // the backend fails; *out is unchanged on failure.
  static Status generate(SigningKey* out);
  static Status generate(Ed25519Backend backend, SigningKey* out);
  // The key for an RFC 8032 secret key. Returns Internal when the backend
  // refuses it (not expected for any 32 bytes); *out is unchanged on failure.
  static Status from_seed(const Ed25519Seed& seed, SigningKey* out);
  static Status from_seed(const Ed25519Seed& seed, Ed25519Backend backend, SigningKey* out);

  // The 64-byte signature of `message`. Deterministic: the same key and
  // message always give the same signature, whichever the backend. Never
  // fails; a backend failure (out of memory) or an empty key prints the
  // reason and aborts.
  Signature sign(std::span<const std::uint8_t> message) const;

  // All zero for an empty key.
  const PublicKey& public_key() const { return public_key_; }
  // False for a default-constructed or moved-from key.
  bool has_key() const { return pkey_ != nullptr; }
  Ed25519Backend backend() const { return backend_; }

 private:
  friend struct KeyAccess;
  // Always set for a non-empty key (key files are written from it); the
  // sodium key is set too when the backend is kSodium.
  std::unique_ptr<evp_pkey_st, detail::EvpPkeyFree> pkey_;
  std::unique_ptr<detail::SodiumSecretKey, detail::SodiumSecretKeyFree> sodium_;
  PublicKey public_key_{};
  Ed25519Backend backend_ = Ed25519Backend::kOpenSsl;
};

class VerifyingKey {
 public:
  // Holds no key until from_public_key() fills it; verify() on it returns false.
  VerifyingKey();
  ~VerifyingKey();
  VerifyingKey(VerifyingKey&&) noexcept;
  VerifyingKey& operator=(VerifyingKey&&) noexcept;
  // Copies share the parsed key (it is immutable and reference-counted).
  VerifyingKey(const VerifyingKey& other);
  VerifyingKey& operator=(const VerifyingKey& other);

  // Returns InvalidArgument when `key` is not the canonical encoding of a
  // point in Ed25519's prime-order subgroup (a small-order key such as the
  // identity, a mixed-order key, or bytes that are not a point at all), or
  // when the backend refuses it. Costs about one signature verification, so
  // make keys once. *out is unchanged on failure.
  static Status from_public_key(const PublicKey& key, VerifyingKey* out);
  static Status from_public_key(const PublicKey& key, Ed25519Backend backend, VerifyingKey* out);

  // True only when `signature` is a valid Ed25519 signature of `message`
  // under this key (see the rules at the top). False on any failure,
  // including an empty key or a backend error; never throws or aborts.
  bool verify(std::span<const std::uint8_t> message, const Signature& signature) const;

  const PublicKey& public_key() const { return public_key_; }
  bool has_key() const { return has_key_; }
  Ed25519Backend backend() const { return backend_; }

 private:
  std::unique_ptr<evp_pkey_st, detail::EvpPkeyFree> pkey_;  // kOpenSsl only
  PublicKey public_key_{};
  Ed25519Backend backend_ = Ed25519Backend::kOpenSsl;
  bool has_key_ = false;
};

}  // namespace triad::crypto
