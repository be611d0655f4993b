#include "crypto/aead.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto_test_util.h"

namespace triad::crypto {
namespace {

using testing::array_from_hex;
using testing::from_hex;

std::span<const std::uint8_t> bytes(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// NIST GCM test vector (gcmEncryptExtIV256, Count 0 of the 96-bit IV, 128-bit
// plaintext, no AAD set), so the mode is AES-256-GCM and not something near it.
TEST(Aes256Gcm, KnownAnswer) {
  SymmetricKey key;
  key.bytes() =
      array_from_hex<32>("31bdadd96698c204aa9ce1448ea94ae1fb4a9a0b3c9d773b51bb1822666b8f22");
  const auto nonce = array_from_hex<12>("0d18e06c7c725ac9e362e1ce");
  const std::vector<std::uint8_t> plain = from_hex("2db5168e932556f8089a0622981d017d");
  Aes256Gcm aead(key);
  std::vector<std::uint8_t> sealed;
  aead.seal(nonce, {}, plain, &sealed);
  EXPECT_EQ(sealed, from_hex("fa4362189661d163fcd6a56d8bf0405a"
                             "d636ac1bbedd5cc3ee727dc2ab4a9489"));
  std::vector<std::uint8_t> opened;
  ASSERT_TRUE(aead.open(nonce, {}, sealed, &opened).is_ok());
  EXPECT_EQ(opened, plain);
}

TEST(Aes256Gcm, AnyChangeFailsTheTag) {
  const SymmetricKey key = SymmetricKey::generate();
  Aes256Gcm aead(key);
  std::array<std::uint8_t, kAeadNonceBytes> nonce{};
  random_bytes(nonce);
  std::vector<std::uint8_t> sealed;
  aead.seal(nonce, bytes("seq 1"), bytes("4111111111111111"), &sealed);
  std::vector<std::uint8_t> out;
  ASSERT_TRUE(aead.open(nonce, bytes("seq 1"), sealed, &out).is_ok());
  EXPECT_EQ(aead.open(nonce, bytes("seq 2"), sealed, &out).code(), Status::Code::kCorruption);
  EXPECT_TRUE(out.empty());
  sealed[3] ^= 1;
  EXPECT_EQ(aead.open(nonce, bytes("seq 1"), sealed, &out).code(), Status::Code::kCorruption);
  sealed[3] ^= 1;
  Aes256Gcm other(SymmetricKey::generate());
  EXPECT_EQ(other.open(nonce, bytes("seq 1"), sealed, &out).code(), Status::Code::kCorruption);
  EXPECT_EQ(aead.open(nonce, {}, std::span(sealed).first(5), &out).code(),
            Status::Code::kCorruption);
}

// One object seals and opens many messages (the key is set once, the nonce
// per message): each result is what a fresh object gives, and a failed
// open leaves the next one unaffected.
TEST(Aes256Gcm, ManyMessagesOnOneObjectMatchFreshObjects) {
  const SymmetricKey key = SymmetricKey::generate();
  Aes256Gcm reused(key);
  for (int i = 0; i < 50; ++i) {
    std::array<std::uint8_t, kAeadNonceBytes> nonce{};
    random_bytes(nonce);
    const std::string plain = "transaction " + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 7, 'x');
    const std::string aad = "seq " + std::to_string(i);
    std::vector<std::uint8_t> sealed;
    std::vector<std::uint8_t> fresh;
    reused.seal(nonce, bytes(aad), bytes(plain), &sealed);
    Aes256Gcm(key).seal(nonce, bytes(aad), bytes(plain), &fresh);
    ASSERT_EQ(sealed, fresh) << i;
    std::vector<std::uint8_t> out;
    if (i % 3 == 0) {  // a failed open in between
      EXPECT_EQ(reused.open(nonce, bytes("other"), sealed, &out).code(), Status::Code::kCorruption);
    }
    ASSERT_TRUE(reused.open(nonce, bytes(aad), sealed, &out).is_ok()) << i;
    EXPECT_EQ(std::string(out.begin(), out.end()), plain);
  }
}

}  // namespace
}  // namespace triad::crypto
