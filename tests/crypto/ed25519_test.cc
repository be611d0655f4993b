#include "crypto/ed25519.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <sodium.h>

#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "crypto_test_util.h"

namespace triad::crypto {
namespace {

using testing::array_from_hex;
using testing::as_bytes;
using testing::from_hex;
using testing::to_hex;

constexpr Ed25519Backend kBackends[] = {Ed25519Backend::kOpenSsl, Ed25519Backend::kSodium};

struct Rfc8032Vector {
  const char* name;
  const char* secret_key;
  const char* public_key;
  const char* message;
  const char* signature;
};

// RFC 8032 section 7.1, TEST 1, 2 and 3.
const Rfc8032Vector kVectors[] = {
    {"TEST 1", "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
     "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
    {"TEST 2", "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
     "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
    {"TEST 3", "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
     "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025", "af82",
     "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac"
     "18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a"},
};

class Ed25519Test : public ::testing::TestWithParam<Ed25519Backend> {
 protected:
  Ed25519Backend backend() const { return GetParam(); }
};

TEST_P(Ed25519Test, Rfc8032Vectors) {
  for (const auto& v : kVectors) {
    SCOPED_TRACE(v.name);
    SigningKey key;
    ASSERT_TRUE(SigningKey::from_seed(array_from_hex<32>(v.secret_key), backend(), &key).is_ok());
    EXPECT_EQ(key.backend(), backend());
    EXPECT_EQ(to_hex(key.public_key()), v.public_key);
    std::vector<std::uint8_t> message = from_hex(v.message);
    Signature signature = key.sign(message);
    EXPECT_EQ(to_hex(signature), v.signature);

    VerifyingKey verifier;
    ASSERT_TRUE(
        VerifyingKey::from_public_key(array_from_hex<32>(v.public_key), backend(), &verifier)
            .is_ok());
    EXPECT_EQ(verifier.backend(), backend());
    EXPECT_EQ(to_hex(verifier.public_key()), v.public_key);
    EXPECT_TRUE(verifier.verify(message, array_from_hex<64>(v.signature)));
  }
}

class Ed25519FailureTest : public Ed25519Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(SigningKey::generate(backend(), &key_).is_ok());
    ASSERT_TRUE(VerifyingKey::from_public_key(key_.public_key(), backend(), &verifier_).is_ok());
    message_ = from_hex("000102030405060708090a0b0c0d0e0f1011121314151617");
    signature_ = key_.sign(message_);
    ASSERT_TRUE(verifier_.verify(message_, signature_));
  }
  SigningKey key_;
  VerifyingKey verifier_;
  std::vector<std::uint8_t> message_;
  Signature signature_{};
};

TEST_P(Ed25519FailureTest, FlippedMessageBit) {
  for (size_t bit = 0; bit < message_.size() * 8; ++bit) {
    std::vector<std::uint8_t> changed = message_;
    changed[bit / 8] = static_cast<std::uint8_t>(changed[bit / 8] ^ (1u << (bit % 8)));
    EXPECT_FALSE(verifier_.verify(changed, signature_)) << "bit " << bit;
  }
  std::vector<std::uint8_t> longer = message_;
  longer.push_back(0);
  EXPECT_FALSE(verifier_.verify(longer, signature_));
  EXPECT_FALSE(verifier_.verify({}, signature_));
}

TEST_P(Ed25519FailureTest, FlippedSignatureBit) {
  for (size_t bit = 0; bit < signature_.size() * 8; ++bit) {
    Signature changed = signature_;
    changed[bit / 8] = static_cast<std::uint8_t>(changed[bit / 8] ^ (1u << (bit % 8)));
    EXPECT_FALSE(verifier_.verify(message_, changed)) << "bit " << bit;
  }
  EXPECT_FALSE(verifier_.verify(message_, Signature{}));
}

TEST_P(Ed25519FailureTest, WrongKey) {
  SigningKey other;
  ASSERT_TRUE(SigningKey::generate(backend(), &other).is_ok());
  EXPECT_NE(other.public_key(), key_.public_key());
  VerifyingKey other_verifier;
  ASSERT_TRUE(
      VerifyingKey::from_public_key(other.public_key(), backend(), &other_verifier).is_ok());
  EXPECT_FALSE(other_verifier.verify(message_, signature_));
}

TEST_P(Ed25519FailureTest, NonCanonicalSIsRejected) {
  // S + L (the group order) is the same scalar mod L but not canonical; RFC
  // 8032 requires rejecting it (malleability).
  const std::vector<std::uint8_t> order = from_hex(
      "edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");  // little-endian L
  Signature malleated = signature_;
  unsigned carry = 0;
  for (size_t i = 0; i < 32; ++i) {
    unsigned sum = unsigned{malleated[32 + i]} + unsigned{order[i]} + carry;
    malleated[32 + i] = static_cast<std::uint8_t>(sum);
    carry = sum >> 8;
  }
  EXPECT_FALSE(verifier_.verify(message_, malleated));
}

// The eight points of order 1, 2, 4 and 8, computed as multiples of one
// order-8 point.
std::vector<PublicKey> small_order_points() {
  const PublicKey order8 =
      array_from_hex<32>("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05");
  std::vector<PublicKey> points = {order8};
  for (int k = 2; k <= 8; ++k) {
    PublicKey next{};
    EXPECT_EQ(crypto_core_ed25519_add(next.data(), points.back().data(), order8.data()), 0);
    points.push_back(next);
  }
  EXPECT_EQ(to_hex(points.back()),
            "0100000000000000000000000000000000000000000000000000000000000000");  // 8P = identity
  return points;
}

TEST_P(Ed25519Test, RefusesSmallOrderMixedOrderAndInvalidKeys) {
  ASSERT_EQ(sodium_init() >= 0, true);
  VerifyingKey verifier;
  for (const PublicKey& point : small_order_points()) {
    EXPECT_EQ(VerifyingKey::from_public_key(point, backend(), &verifier).code(),
              Status::Code::kInvalidArgument)
        << to_hex(point);
  }
  // A real key plus a point of order 8.
  SigningKey key;
  ASSERT_TRUE(SigningKey::generate(backend(), &key).is_ok());
  PublicKey mixed{};
  ASSERT_EQ(crypto_core_ed25519_add(mixed.data(), key.public_key().data(),
                                    small_order_points()[0].data()),
            0);
  EXPECT_EQ(VerifyingKey::from_public_key(mixed, backend(), &verifier).code(),
            Status::Code::kInvalidArgument);
  PublicKey not_a_point{};
  not_a_point.fill(0xff);
  EXPECT_EQ(VerifyingKey::from_public_key(not_a_point, backend(), &verifier).code(),
            Status::Code::kInvalidArgument);
  EXPECT_FALSE(verifier.has_key());
}

// Without the key check, OpenSSL accepts the identity key and the signature
// (R = identity, S = 0) for every message.
TEST(Ed25519RawOpenSslTest, IdentityKeyForgesEverything) {
  PublicKey identity{};
  identity[0] = 1;
  Signature forged{};
  forged[0] = 1;
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, identity.data(), 32);
  ASSERT_NE(pkey, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, forged.data(), 64, as_bytes("pay 1000").data(), 8), 1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);

  VerifyingKey verifier;
  EXPECT_FALSE(VerifyingKey::from_public_key(identity, &verifier).is_ok());
  EXPECT_FALSE(verifier.verify(as_bytes("pay 1000"), forged));
}

// A signer that uses nonce r = 0 gets R = identity and S = H(R||A||M)*a. Such
// a signature satisfies the verification equation; OpenSSL alone accepts it,
// libsodium refuses it, and both backends here refuse it.
TEST(Ed25519CrossBackendTest, IdentityRIsRefusedByBoth) {
  ASSERT_GE(sodium_init(), 0);
  const Ed25519Seed seed = array_from_hex<32>(kVectors[1].secret_key);
  SigningKey key;
  ASSERT_TRUE(SigningKey::from_seed(seed, Ed25519Backend::kOpenSsl, &key).is_ok());
  const PublicKey& a_point = key.public_key();
  const auto message = as_bytes("nonce zero");

  unsigned char expanded[64];
  crypto_hash_sha512(expanded, seed.data(), seed.size());
  expanded[0] &= 248;
  expanded[31] &= 127;
  expanded[31] |= 64;
  Signature signature{};
  signature[0] = 1;  // R = identity
  crypto_hash_sha512_state st;
  crypto_hash_sha512_init(&st);
  crypto_hash_sha512_update(&st, signature.data(), 32);
  crypto_hash_sha512_update(&st, a_point.data(), 32);
  crypto_hash_sha512_update(&st, message.data(), message.size());
  unsigned char h[64];
  crypto_hash_sha512_final(&st, h);
  unsigned char h_reduced[32];
  crypto_core_ed25519_scalar_reduce(h_reduced, h);
  crypto_core_ed25519_scalar_mul(signature.data() + 32, h_reduced, expanded);

  // The construction is right: plain OpenSSL accepts it.
  EVP_PKEY* pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, nullptr, a_point.data(), 32);
  ASSERT_NE(pkey, nullptr);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  ASSERT_EQ(EVP_DigestVerifyInit(ctx, nullptr, nullptr, nullptr, pkey), 1);
  EXPECT_EQ(EVP_DigestVerify(ctx, signature.data(), 64, message.data(), message.size()), 1);
  EVP_MD_CTX_free(ctx);
  EVP_PKEY_free(pkey);
  EXPECT_NE(
      crypto_sign_verify_detached(signature.data(), message.data(), message.size(), a_point.data()),
      0);

  for (Ed25519Backend backend : kBackends) {
    VerifyingKey verifier;
    ASSERT_TRUE(VerifyingKey::from_public_key(a_point, backend, &verifier).is_ok());
    EXPECT_FALSE(verifier.verify(message, signature)) << ed25519_backend_name(backend);
  }
}

TEST(Ed25519CrossBackendTest, IdenticalSignaturesAndVerdicts) {
  std::mt19937_64 rng(12345);
  for (int round = 0; round < 64; ++round) {
    Ed25519Seed seed{};
    for (auto& b : seed) b = static_cast<std::uint8_t>(rng());
    std::vector<std::uint8_t> message(static_cast<size_t>(rng() % 300));
    for (auto& b : message) b = static_cast<std::uint8_t>(rng());

    SigningKey openssl_key;
    SigningKey sodium_key;
    ASSERT_TRUE(SigningKey::from_seed(seed, Ed25519Backend::kOpenSsl, &openssl_key).is_ok());
    ASSERT_TRUE(SigningKey::from_seed(seed, Ed25519Backend::kSodium, &sodium_key).is_ok());
    ASSERT_EQ(openssl_key.public_key(), sodium_key.public_key());
    const Signature signature = openssl_key.sign(message);
    ASSERT_EQ(sodium_key.sign(message), signature) << "round " << round;

    VerifyingKey openssl_verifier;
    VerifyingKey sodium_verifier;
    ASSERT_TRUE(VerifyingKey::from_public_key(openssl_key.public_key(), Ed25519Backend::kOpenSsl,
                                              &openssl_verifier)
                    .is_ok());
    ASSERT_TRUE(VerifyingKey::from_public_key(openssl_key.public_key(), Ed25519Backend::kSodium,
                                              &sodium_verifier)
                    .is_ok());
    EXPECT_TRUE(openssl_verifier.verify(message, signature));
    EXPECT_TRUE(sodium_verifier.verify(message, signature));
    // Random damage: both backends give the same answer (false).
    for (int k = 0; k < 4; ++k) {
      Signature damaged = signature;
      damaged[rng() % 64] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      EXPECT_EQ(openssl_verifier.verify(message, damaged),
                sodium_verifier.verify(message, damaged));
      EXPECT_FALSE(openssl_verifier.verify(message, damaged));
    }
  }
}

TEST(Ed25519Test, DefaultBackendIsSodiumAndCanBeChanged) {
  EXPECT_EQ(default_ed25519_backend(), Ed25519Backend::kSodium);
  SigningKey key;
  ASSERT_TRUE(SigningKey::generate(&key).is_ok());
  EXPECT_EQ(key.backend(), Ed25519Backend::kSodium);
  set_default_ed25519_backend(Ed25519Backend::kOpenSsl);
  SigningKey openssl_key;
  Status status = SigningKey::generate(&openssl_key);
  VerifyingKey verifier;
  Status verifier_status = VerifyingKey::from_public_key(key.public_key(), &verifier);
  set_default_ed25519_backend(Ed25519Backend::kSodium);
  ASSERT_TRUE(status.is_ok());
  ASSERT_TRUE(verifier_status.is_ok());
  EXPECT_EQ(openssl_key.backend(), Ed25519Backend::kOpenSsl);
  EXPECT_EQ(verifier.backend(), Ed25519Backend::kOpenSsl);
  EXPECT_TRUE(verifier.verify(as_bytes("x"), key.sign(as_bytes("x"))));
  EXPECT_STREQ(ed25519_backend_name(Ed25519Backend::kSodium), "sodium");
  EXPECT_STREQ(ed25519_backend_name(Ed25519Backend::kOpenSsl), "openssl");
}

TEST(Ed25519Test, EmptyKeys) {
  SigningKey key;
  EXPECT_FALSE(key.has_key());
  EXPECT_EQ(key.public_key(), PublicKey{});
  VerifyingKey verifier;
  EXPECT_FALSE(verifier.has_key());
  EXPECT_FALSE(verifier.verify(as_bytes("x"), Signature{}));
}

TEST(Ed25519DeathTest, SignOnEmptyKeyAborts) {
  SigningKey key;
  EXPECT_DEATH(key.sign(as_bytes("x")), "empty key");
}

TEST_P(Ed25519Test, DeterministicMovableAndCopyableVerifier) {
  SigningKey key;
  ASSERT_TRUE(SigningKey::generate(backend(), &key).is_ok());
  EXPECT_EQ(key.sign(as_bytes("same")), key.sign(as_bytes("same")));
  EXPECT_NE(key.sign(as_bytes("same")), key.sign(as_bytes("different")));

  const PublicKey public_key = key.public_key();
  SigningKey moved(std::move(key));
  EXPECT_TRUE(moved.has_key());
  EXPECT_EQ(moved.public_key(), public_key);
  EXPECT_EQ(moved.backend(), backend());
  Signature signature = moved.sign(as_bytes("hello"));

  VerifyingKey verifier;
  ASSERT_TRUE(VerifyingKey::from_public_key(public_key, backend(), &verifier).is_ok());
  VerifyingKey copy = verifier;
  VerifyingKey assigned;
  assigned = copy;
  verifier = VerifyingKey();  // the copies keep the shared key alive
  EXPECT_TRUE(copy.verify(as_bytes("hello"), signature));
  EXPECT_TRUE(assigned.verify(as_bytes("hello"), signature));
  EXPECT_EQ(assigned.backend(), backend());
  EXPECT_FALSE(verifier.verify(as_bytes("hello"), signature));

  // Two keys generated in a row differ.
  SigningKey second;
  ASSERT_TRUE(SigningKey::generate(backend(), &second).is_ok());
  EXPECT_NE(second.public_key(), public_key);
}

TEST_P(Ed25519Test, SameKeyFromSeveralThreads) {
  SigningKey key;
  ASSERT_TRUE(SigningKey::generate(backend(), &key).is_ok());
  VerifyingKey verifier;
  ASSERT_TRUE(VerifyingKey::from_public_key(key.public_key(), backend(), &verifier).is_ok());
  const Signature expected = key.sign(as_bytes("shared"));
  std::atomic<int> wrong{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) {
        if (key.sign(as_bytes("shared")) != expected) ++wrong;
        if (!verifier.verify(as_bytes("shared"), expected)) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

std::string backend_name(const ::testing::TestParamInfo<Ed25519Backend>& info) {
  return ed25519_backend_name(info.param);
}

INSTANTIATE_TEST_SUITE_P(Backends, Ed25519Test, ::testing::ValuesIn(kBackends), backend_name);
INSTANTIATE_TEST_SUITE_P(Backends, Ed25519FailureTest, ::testing::ValuesIn(kBackends),
                         backend_name);

}  // namespace
}  // namespace triad::crypto
