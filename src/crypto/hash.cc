#include "crypto/hash.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <cstring>

#include "common/assert.h"
#include "crypto/openssl_util.h"

namespace triad::crypto {
namespace {

using detail::fatal_crypto;

// Fetched once per process: an explicit fetch avoids the implicit provider
// lookup EVP_sha256() costs on every EVP_DigestInit. Never freed on purpose.
const EVP_MD* sha256_md() {
  static const EVP_MD* const md = [] {
    EVP_MD* m = EVP_MD_fetch(nullptr, "SHA2-256", nullptr);
    if (m == nullptr) fatal_crypto("EVP_MD_fetch(SHA2-256)");
    return m;
  }();
  return md;
}

EVP_MAC* hmac_mac() {
  static EVP_MAC* const mac = [] {
    EVP_MAC* m = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (m == nullptr) fatal_crypto("EVP_MAC_fetch(HMAC)");
    return m;
  }();
  return mac;
}

const std::uint8_t* bytes_of(std::string_view s) {
  return reinterpret_cast<const std::uint8_t*>(s.data());
}

struct MacCtxFree {
  void operator()(EVP_MAC_CTX* p) const { EVP_MAC_CTX_free(p); }
};

}  // namespace

void Sha256::CtxDeleter::operator()(evp_md_ctx_st* ctx) const { EVP_MD_CTX_free(ctx); }

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ == nullptr) fatal_crypto("EVP_MD_CTX_new");
  if (EVP_DigestInit_ex2(ctx_.get(), sha256_md(), nullptr) != 1) {
    fatal_crypto("EVP_DigestInit_ex2(SHA-256)");
  }
}

Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&& other) noexcept = default;
Sha256& Sha256::operator=(Sha256&& other) noexcept = default;

void Sha256::update(std::span<const std::uint8_t> data) {
  TRIAD_ASSERT(ctx_ != nullptr);
  if (data.empty()) return;
  if (EVP_DigestUpdate(ctx_.get(), data.data(), data.size()) != 1) {
    fatal_crypto("EVP_DigestUpdate(SHA-256)");
  }
}

void Sha256::update(std::string_view data) { update({bytes_of(data), data.size()}); }

Digest Sha256::finish() {
  TRIAD_ASSERT(ctx_ != nullptr);
  Digest out{};
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_.get(), out.data(), &len) != 1 || len != out.size()) {
    fatal_crypto("EVP_DigestFinal_ex(SHA-256)");
  }
  if (EVP_DigestInit_ex2(ctx_.get(), sha256_md(), nullptr) != 1) {
    fatal_crypto("EVP_DigestInit_ex2(SHA-256)");
  }
  return out;
}

Digest sha256(std::span<const std::uint8_t> data) {
  thread_local Sha256 hasher;
  hasher.update(data);
  return hasher.finish();
}

Digest sha256(std::string_view data) { return sha256({bytes_of(data), data.size()}); }

Digest hmac_sha256(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  // One context per thread, with its digest set once; EVP_MAC_init with a key
  // (re)starts it, so no allocation per call.
  thread_local std::unique_ptr<EVP_MAC_CTX, MacCtxFree> ctx = [] {
    std::unique_ptr<EVP_MAC_CTX, MacCtxFree> c(EVP_MAC_CTX_new(hmac_mac()));
    if (c == nullptr) fatal_crypto("EVP_MAC_CTX_new(HMAC)");
    char digest_name[] = "SHA2-256";
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
                           OSSL_PARAM_construct_end()};
    if (EVP_MAC_CTX_set_params(c.get(), params) != 1) fatal_crypto("EVP_MAC_CTX_set_params");
    return c;
  }();
  // OpenSSL treats a null key as "reuse the previous key", so an empty key
  // still needs a non-null pointer.
  static const std::uint8_t kNoKey = 0;
  const std::uint8_t* key_data = key.empty() ? &kNoKey : key.data();
  if (EVP_MAC_init(ctx.get(), key_data, key.size(), nullptr) != 1) fatal_crypto("EVP_MAC_init");
  if (!data.empty() && EVP_MAC_update(ctx.get(), data.data(), data.size()) != 1) {
    fatal_crypto("EVP_MAC_update");
  }
  Digest out{};
  size_t len = 0;
  if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
    fatal_crypto("EVP_MAC_final");
  }
  return out;
}

std::uint64_t short_hash(const ShortHashKey& key, std::string_view data) {
  static_assert(sizeof(ShortHashKey) == crypto_shorthash_KEYBYTES);
  std::array<unsigned char, crypto_shorthash_BYTES> out{};
  static_assert(sizeof(out) == sizeof(std::uint64_t));
  crypto_shorthash(out.data(), bytes_of(data), data.size(), key.data());
  // Any fixed byte order will do: h never leaves the process.
  std::uint64_t h = 0;
  std::memcpy(&h, out.data(), sizeof(h));
  return h;
}

}  // namespace triad::crypto
