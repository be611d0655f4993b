// AES-256-GCM (OpenSSL 3 EVP underneath) for data at rest, such as the input
// journal's transactions, and the random bytes its nonces come from.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "triad/status.h"

struct evp_cipher_ctx_st;  // OpenSSL's EVP_CIPHER_CTX, kept out of this header.

namespace triad::crypto {

inline constexpr std::size_t kAeadKeyBytes = 32;
inline constexpr std::size_t kAeadNonceBytes = 12;
inline constexpr std::size_t kAeadTagBytes = 16;

// A symmetric key; its bytes are wiped when it is destroyed.
class SymmetricKey {
 public:
  SymmetricKey() = default;
  ~SymmetricKey();
  SymmetricKey(const SymmetricKey& other) = default;
  SymmetricKey& operator=(const SymmetricKey& other) = default;

  // A new key from the operating system's random source.
  static SymmetricKey generate();
  std::array<std::uint8_t, kAeadKeyBytes>& bytes() { return bytes_; }
  const std::array<std::uint8_t, kAeadKeyBytes>& bytes() const { return bytes_; }

 private:
  std::array<std::uint8_t, kAeadKeyBytes> bytes_{};
};

// Overwrites `size` bytes at `data` with zeros in a way the compiler cannot
// leave out as a dead store (OPENSSL_cleanse): for secrets and PANs.
void wipe(void* data, std::size_t size);
// Wipes all of `bytes`' memory, past its size too, and gives it back (an
// empty vector keeps none).
void wipe_and_free(std::vector<std::uint8_t>* bytes);
// The same for each of `messages` (a snapshot's parts), then the list.
void wipe_and_free(std::vector<std::vector<std::uint8_t>>* messages);

// Fills `out` from OpenSSL's CSPRNG (seeded by the operating system). Aborts
// when it cannot, like the hashes: there is no safe way on without it.
void random_bytes(std::span<std::uint8_t> out);

// AES-256-GCM with one key: 96-bit nonces, 128-bit tags. Not thread-safe (one
// object per thread). A nonce must never be used twice with the same key:
// that reveals the XOR of the two plaintexts and lets the tag be forged. The
// caller chooses them; random 96-bit nonces stay safe for up to 2^32
// messages per key (NIST SP 800-38D, section 8.3).
class Aes256Gcm {
 public:
  explicit Aes256Gcm(const SymmetricKey& key);
  ~Aes256Gcm();
  Aes256Gcm(const Aes256Gcm&) = delete;
  Aes256Gcm& operator=(const Aes256Gcm&) = delete;

  // Appends the ciphertext of `plaintext` and then the tag to *out.
  void seal(std::span<const std::uint8_t, kAeadNonceBytes> nonce, std::span<const std::uint8_t> aad,
            std::span<const std::uint8_t> plaintext, std::vector<std::uint8_t>* out);
  // The inverse of seal: `sealed` is ciphertext followed by the tag. Replaces
  // *plaintext. Corruption when the tag does not verify (wrong key, nonce or
  // aad, or altered bytes); *plaintext is then empty.
  Status open(std::span<const std::uint8_t, kAeadNonceBytes> nonce,
              std::span<const std::uint8_t> aad, std::span<const std::uint8_t> sealed,
              std::vector<std::uint8_t>* plaintext);

 private:
  struct CtxDeleter {
    void operator()(evp_cipher_ctx_st* ctx) const;
  };
  // Keyed once here; each message only sets its nonce. Setting the key
  // (cipher fetch and key schedule) per message was 19% of the time the
  // front end took to read journal records back.
  std::unique_ptr<evp_cipher_ctx_st, CtxDeleter> seal_;
  std::unique_ptr<evp_cipher_ctx_st, CtxDeleter> open_;
};

}  // namespace triad::crypto
