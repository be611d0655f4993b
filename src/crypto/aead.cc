#include "crypto/aead.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <climits>

#include "common/assert.h"
#include "crypto/openssl_util.h"

namespace triad::crypto {

using detail::fatal_crypto;

namespace {

// Fetched from the provider once for the process. OpenSSL 3 fetches the
// implementation of a built-in cipher object (EVP_aes_256_gcm()) again at
// every EVP_*Init_ex, even when only the nonce changes: half the cost of
// setting a nonce.
const EVP_CIPHER* aes_256_gcm() {
  static EVP_CIPHER* const cipher = [] {
    EVP_CIPHER* c = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
    if (c == nullptr) fatal_crypto("EVP_CIPHER_fetch(AES-256-GCM)");
    return c;
  }();
  return cipher;
}

}  // namespace

SymmetricKey::~SymmetricKey() { wipe(bytes_.data(), bytes_.size()); }

void wipe(void* data, std::size_t size) { OPENSSL_cleanse(data, size); }

void wipe_and_free(std::vector<std::uint8_t>* bytes) {
  // All of its memory: what a shrink or a reuse left past the size (a
  // decrypted buffer reused for a shorter message, say) is card data too.
  wipe(bytes->data(), bytes->capacity());
  std::vector<std::uint8_t>().swap(*bytes);
}

void wipe_and_free(std::vector<std::vector<std::uint8_t>>* messages) {
  for (auto& m : *messages) wipe_and_free(&m);
  std::vector<std::vector<std::uint8_t>>().swap(*messages);
}

SymmetricKey SymmetricKey::generate() {
  SymmetricKey key;
  random_bytes(key.bytes_);
  return key;
}

void random_bytes(std::span<std::uint8_t> out) {
  TRIAD_ASSERT(out.size() <= INT_MAX);
  if (RAND_bytes(out.data(), static_cast<int>(out.size())) != 1) fatal_crypto("RAND_bytes");
}

void Aes256Gcm::CtxDeleter::operator()(evp_cipher_ctx_st* ctx) const { EVP_CIPHER_CTX_free(ctx); }

Aes256Gcm::Aes256Gcm(const SymmetricKey& key)
    : seal_(EVP_CIPHER_CTX_new()), open_(EVP_CIPHER_CTX_new()) {
  if (seal_ == nullptr || open_ == nullptr) fatal_crypto("EVP_CIPHER_CTX_new");
  // The default GCM nonce length is 96 bits, the size used here.
  if (EVP_EncryptInit_ex(seal_.get(), aes_256_gcm(), nullptr, key.bytes().data(), nullptr) != 1) {
    fatal_crypto("EVP_EncryptInit_ex(aes-256-gcm)");
  }
  if (EVP_DecryptInit_ex(open_.get(), aes_256_gcm(), nullptr, key.bytes().data(), nullptr) != 1) {
    fatal_crypto("EVP_DecryptInit_ex(aes-256-gcm)");
  }
}

Aes256Gcm::~Aes256Gcm() = default;

void Aes256Gcm::seal(std::span<const std::uint8_t, kAeadNonceBytes> nonce,
                     std::span<const std::uint8_t> aad, std::span<const std::uint8_t> plaintext,
                     std::vector<std::uint8_t>* out) {
  TRIAD_ASSERT(aad.size() <= INT_MAX && plaintext.size() <= INT_MAX);
  EVP_CIPHER_CTX* c = seal_.get();
  if (EVP_EncryptInit_ex2(c, nullptr, nullptr, nonce.data(), nullptr) != 1) {
    fatal_crypto("EVP_EncryptInit_ex(nonce)");
  }
  int n = 0;
  if (!aad.empty() &&
      EVP_EncryptUpdate(c, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1) {
    fatal_crypto("EVP_EncryptUpdate(aad)");
  }
  const std::size_t start = out->size();
  out->resize(start + plaintext.size() + kAeadTagBytes);
  std::uint8_t* dst = out->data() + start;
  if (EVP_EncryptUpdate(c, dst, &n, plaintext.data(), static_cast<int>(plaintext.size())) != 1) {
    fatal_crypto("EVP_EncryptUpdate");
  }
  int tail = 0;
  if (EVP_EncryptFinal_ex(c, dst + n, &tail) != 1) fatal_crypto("EVP_EncryptFinal_ex");
  TRIAD_ASSERT(static_cast<std::size_t>(n + tail) == plaintext.size());
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_GET_TAG, static_cast<int>(kAeadTagBytes),
                          dst + plaintext.size()) != 1) {
    fatal_crypto("EVP_CTRL_GCM_GET_TAG");
  }
}

Status Aes256Gcm::open(std::span<const std::uint8_t, kAeadNonceBytes> nonce,
                       std::span<const std::uint8_t> aad, std::span<const std::uint8_t> sealed,
                       std::vector<std::uint8_t>* plaintext) {
  plaintext->clear();
  if (sealed.size() < kAeadTagBytes) {
    return Status::corruption("sealed data of " + std::to_string(sealed.size()) +
                              " bytes is shorter than its tag");
  }
  TRIAD_ASSERT(aad.size() <= INT_MAX && sealed.size() <= INT_MAX);
  EVP_CIPHER_CTX* c = open_.get();
  if (EVP_DecryptInit_ex2(c, nullptr, nullptr, nonce.data(), nullptr) != 1) {
    fatal_crypto("EVP_DecryptInit_ex(nonce)");
  }
  int n = 0;
  if (!aad.empty() &&
      EVP_DecryptUpdate(c, nullptr, &n, aad.data(), static_cast<int>(aad.size())) != 1) {
    fatal_crypto("EVP_DecryptUpdate(aad)");
  }
  const std::size_t length = sealed.size() - kAeadTagBytes;
  plaintext->resize(length);
  if (EVP_DecryptUpdate(c, plaintext->data(), &n, sealed.data(), static_cast<int>(length)) != 1) {
    fatal_crypto("EVP_DecryptUpdate");
  }
  // OpenSSL's API takes the expected tag through a non-const pointer.
  std::array<std::uint8_t, kAeadTagBytes> tag{};
  std::copy(sealed.end() - kAeadTagBytes, sealed.end(), tag.begin());
  if (EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_GCM_SET_TAG, static_cast<int>(kAeadTagBytes), tag.data()) !=
      1) {
    fatal_crypto("EVP_CTRL_GCM_SET_TAG");
  }
  int tail = 0;
  if (EVP_DecryptFinal_ex(c, plaintext->data() + n, &tail) != 1) {
    OPENSSL_cleanse(plaintext->data(), plaintext->size());
    plaintext->clear();
    detail::take_openssl_error();  // a failed tag check queues no useful error; clear it anyway
    return Status::corruption("authentication tag does not verify (wrong key or altered data)");
  }
  return Status::ok();
}

}  // namespace triad::crypto
