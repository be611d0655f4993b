#include "crypto/ed25519.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <utility>

#include "crypto/key_access.h"
#include "crypto/openssl_util.h"

namespace triad::crypto {

struct detail::SodiumSecretKey {
  std::array<unsigned char, crypto_sign_SECRETKEYBYTES> bytes{};
};

void detail::SodiumSecretKeyFree::operator()(SodiumSecretKey* key) const {
  sodium_memzero(key->bytes.data(), key->bytes.size());
  delete key;
}

void detail::EvpPkeyFree::operator()(evp_pkey_st* pkey) const { EVP_PKEY_free(pkey); }

namespace {

using detail::fatal_crypto;
using detail::MdCtxPtr;
using detail::PkeyPtr;
using detail::take_openssl_error;

std::atomic<Ed25519Backend> g_default_backend{Ed25519Backend::kSodium};

void ensure_sodium() {
  static const bool ready = [] {
    if (sodium_init() < 0) fatal_crypto("sodium_init");
    return true;
  }();
  (void)ready;
}

// OpenSSL wants a non-null pointer even for an empty message.
const std::uint8_t* message_data(std::span<const std::uint8_t> message) {
  static const std::uint8_t kEmpty = 0;
  return message.empty() ? &kEmpty : message.data();
}

bool raw_public_key(EVP_PKEY* pkey, PublicKey* out) {
  size_t len = out->size();
  return EVP_PKEY_get_raw_public_key(pkey, out->data(), &len) == 1 && len == out->size();
}

// Whether R is the identity point. With a key checked to be in the
// prime-order subgroup, the identity is the only small-order R that can ever
// satisfy the verification equation: its signer chose nonce r = 0, which the
// signing algorithm never does. libsodium refuses it; OpenSSL accepts it, so it
// is refused up front and both backends accept the same signatures.
bool r_is_identity(const Signature& signature) {
  if (signature[0] != 0x01) return false;
  return std::all_of(signature.begin() + 1, signature.begin() + 32,
                     [](std::uint8_t b) { return b == 0; });
}

}  // namespace

const char* ed25519_backend_name(Ed25519Backend backend) {
  return backend == Ed25519Backend::kSodium ? "sodium" : "openssl";
}
void set_default_ed25519_backend(Ed25519Backend backend) { g_default_backend.store(backend); }
Ed25519Backend default_ed25519_backend() { return g_default_backend.load(); }

// ---- SigningKey ----

SigningKey::SigningKey() = default;
SigningKey::~SigningKey() = default;
SigningKey::SigningKey(SigningKey&&) noexcept = default;
SigningKey& SigningKey::operator=(SigningKey&&) noexcept = default;

Status SigningKey::generate(SigningKey* out) { return generate(default_ed25519_backend(), out); }

Status SigningKey::generate(Ed25519Backend backend, SigningKey* out) {
  Ed25519Seed seed;
  if (RAND_priv_bytes(seed.data(), static_cast<int>(seed.size())) != 1) {
    return Status::internal("Ed25519 key generation: random generator failed: " +
                            take_openssl_error());
  }
  Status status = from_seed(seed, backend, out);
  OPENSSL_cleanse(seed.data(), seed.size());
  return status;
}

Status SigningKey::from_seed(const Ed25519Seed& seed, SigningKey* out) {
  return from_seed(seed, default_ed25519_backend(), out);
}

Status SigningKey::from_seed(const Ed25519Seed& seed, Ed25519Backend backend, SigningKey* out) {
  PkeyPtr pkey(
      EVP_PKEY_new_raw_private_key_ex(nullptr, "ED25519", nullptr, seed.data(), seed.size()));
  if (pkey == nullptr) {
    return Status::internal("Ed25519 secret key refused by OpenSSL: " + take_openssl_error());
  }
  return KeyAccess::adopt(std::move(pkey), backend, out);
}

Status KeyAccess::adopt(detail::PkeyPtr pkey, Ed25519Backend backend, SigningKey* out) {
  if (pkey == nullptr || EVP_PKEY_is_a(pkey.get(), "ED25519") != 1) {
    return Status::corruption("not an Ed25519 key");
  }
  PublicKey public_key{};
  if (!raw_public_key(pkey.get(), &public_key)) {
    return Status::corruption("cannot read the Ed25519 public key: " + take_openssl_error());
  }
  std::unique_ptr<detail::SodiumSecretKey, detail::SodiumSecretKeyFree> sodium;
  if (backend == Ed25519Backend::kSodium) {
    ensure_sodium();
    Ed25519Seed seed{};
    size_t seed_len = seed.size();
    if (EVP_PKEY_get_raw_private_key(pkey.get(), seed.data(), &seed_len) != 1 ||
        seed_len != seed.size()) {
      return Status::corruption("cannot read the Ed25519 secret key: " + take_openssl_error());
    }
    sodium.reset(new detail::SodiumSecretKey);
    PublicKey sodium_public{};
    int rc = crypto_sign_seed_keypair(sodium_public.data(), sodium->bytes.data(), seed.data());
    sodium_memzero(seed.data(), seed.size());
    if (rc != 0 || sodium_public != public_key) {
      return Status::internal("libsodium and OpenSSL disagree on the Ed25519 public key");
    }
  }
  out->pkey_ = std::move(pkey);
  out->sodium_ = std::move(sodium);
  out->public_key_ = public_key;
  out->backend_ = backend;
  return Status::ok();
}

Signature SigningKey::sign(std::span<const std::uint8_t> message) const {
  if (pkey_ == nullptr) fatal_crypto("SigningKey::sign called on an empty key");
  Signature signature{};
  if (backend_ == Ed25519Backend::kSodium) {
    if (sodium_ == nullptr || crypto_sign_detached(signature.data(), nullptr, message_data(message),
                                                   message.size(), sodium_->bytes.data()) != 0) {
      fatal_crypto("crypto_sign_detached (libsodium)");
    }
    return signature;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) fatal_crypto("EVP_MD_CTX_new");
  if (EVP_DigestSignInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, pkey_.get(), nullptr) !=
      1) {
    fatal_crypto("EVP_DigestSignInit_ex(Ed25519)");
  }
  size_t len = signature.size();
  if (EVP_DigestSign(ctx.get(), signature.data(), &len, message_data(message), message.size()) !=
          1 ||
      len != signature.size()) {
    fatal_crypto("EVP_DigestSign(Ed25519)");
  }
  return signature;
}

// ---- VerifyingKey ----

VerifyingKey::VerifyingKey() = default;
VerifyingKey::~VerifyingKey() = default;
VerifyingKey::VerifyingKey(VerifyingKey&&) noexcept = default;
VerifyingKey& VerifyingKey::operator=(VerifyingKey&&) noexcept = default;

VerifyingKey::VerifyingKey(const VerifyingKey& other)
    : public_key_(other.public_key_), backend_(other.backend_), has_key_(other.has_key_) {
  if (other.pkey_ != nullptr) {
    if (EVP_PKEY_up_ref(other.pkey_.get()) != 1) fatal_crypto("EVP_PKEY_up_ref");
    pkey_.reset(other.pkey_.get());
  }
}

VerifyingKey& VerifyingKey::operator=(const VerifyingKey& other) {
  if (this != &other) {
    VerifyingKey copy(other);
    *this = std::move(copy);
  }
  return *this;
}

Status VerifyingKey::from_public_key(const PublicKey& key, VerifyingKey* out) {
  return from_public_key(key, default_ed25519_backend(), out);
}

Status VerifyingKey::from_public_key(const PublicKey& key, Ed25519Backend backend,
                                     VerifyingKey* out) {
  // OpenSSL takes any 32 bytes, including the identity point, under which
  // (R = identity, S = 0) verifies every message. libsodium's check refuses
  // non-canonical, small-order, mixed-order and off-curve encodings.
  ensure_sodium();
  if (crypto_core_ed25519_is_valid_point(key.data()) != 1) {
    return Status::invalid_argument(
        "Ed25519 public key is not a point of the prime-order subgroup (small-order, "
        "mixed-order or not on the curve)");
  }
  PkeyPtr pkey;
  if (backend == Ed25519Backend::kOpenSsl) {
    pkey.reset(EVP_PKEY_new_raw_public_key_ex(nullptr, "ED25519", nullptr, key.data(), key.size()));
    if (pkey == nullptr) {
      return Status::invalid_argument("Ed25519 public key refused by OpenSSL: " +
                                      take_openssl_error());
    }
  }
  out->pkey_ = std::move(pkey);
  out->public_key_ = key;
  out->backend_ = backend;
  out->has_key_ = true;
  return Status::ok();
}

bool VerifyingKey::verify(std::span<const std::uint8_t> message, const Signature& signature) const {
  if (!has_key_ || r_is_identity(signature)) return false;
  if (backend_ == Ed25519Backend::kSodium) {
    return crypto_sign_verify_detached(signature.data(), message_data(message), message.size(),
                                       public_key_.data()) == 0;
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) {
    ERR_clear_error();
    return false;
  }
  bool ok = EVP_DigestVerifyInit_ex(ctx.get(), nullptr, nullptr, nullptr, nullptr, pkey_.get(),
                                    nullptr) == 1 &&
            EVP_DigestVerify(ctx.get(), signature.data(), signature.size(), message_data(message),
                             message.size()) == 1;
  if (!ok) ERR_clear_error();
  return ok;
}

}  // namespace triad::crypto
