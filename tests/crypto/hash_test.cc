#include "crypto/hash.h"

#include <gtest/gtest.h>

#include <atomic>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "crypto_test_util.h"

namespace triad::crypto {
namespace {

using testing::as_bytes;
using testing::to_hex;

TEST(Sha256Test, KnownAnswers) {
  EXPECT_EQ(to_hex(sha256(std::string_view(""))),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(to_hex(sha256(std::string_view("abc"))),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(
      to_hex(sha256(std::string_view("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"))),
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  EXPECT_EQ(sha256(as_bytes("abc")), sha256(std::string_view("abc")));
}

TEST(Sha256Test, MillionA) {
  Sha256 h;
  std::string chunk(1000, 'a');
  for (int i = 0; i < 1000; ++i) h.update(chunk);
  EXPECT_EQ(to_hex(h.finish()), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST(Sha256Test, IncrementalEqualsOneShotForEverySplit) {
  std::string text;
  for (int i = 0; i < 200; ++i) text.push_back(static_cast<char>('!' + (i * 7) % 90));
  const Digest expected = sha256(text);
  Sha256 h;
  for (size_t split = 0; split <= text.size(); ++split) {
    std::string_view all(text);
    h.update(all.substr(0, split));
    h.update(as_bytes(all.substr(split)));
    ASSERT_EQ(h.finish(), expected) << "split at " << split;
  }
  // Three pieces, and empty updates in between.
  h.update(std::string_view(text).substr(0, 10));
  h.update(std::string_view());
  h.update(std::string_view(text).substr(10, 100));
  h.update(std::span<const std::uint8_t>());
  h.update(std::string_view(text).substr(110));
  EXPECT_EQ(h.finish(), expected);
}

TEST(Sha256Test, FinishResetsAndMoveKeepsState) {
  Sha256 h;
  h.update("ab");
  Sha256 moved(std::move(h));
  moved.update("c");
  EXPECT_EQ(moved.finish(), sha256(std::string_view("abc")));
  EXPECT_EQ(moved.finish(), sha256(std::string_view("")));
  Sha256 other;
  other = std::move(moved);
  other.update("abc");
  EXPECT_EQ(other.finish(), sha256(std::string_view("abc")));
}

TEST(Sha256Test, OneShotFromSeveralThreads) {
  const Digest expected = sha256(std::string_view("abc"));
  std::vector<std::thread> threads;
  std::atomic<int> wrong{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (sha256(std::string_view("abc")) != expected) ++wrong;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
}

TEST(HmacSha256Test, Rfc4231) {
  // Test case 1.
  std::vector<std::uint8_t> key1(20, 0x0b);
  EXPECT_EQ(to_hex(hmac_sha256(key1, as_bytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  // Test case 2.
  EXPECT_EQ(to_hex(hmac_sha256(as_bytes("Jefe"), as_bytes("what do ya want for nothing?"))),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Test case 6: a key longer than the block is hashed first.
  std::vector<std::uint8_t> key6(131, 0xaa);
  EXPECT_EQ(to_hex(hmac_sha256(key6, as_bytes("Test Using Larger Than Block-Size Key - Hash Key "
                                              "First"))),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
  // Test case 1 again after a different key: no state leaks between calls.
  EXPECT_EQ(to_hex(hmac_sha256(key1, as_bytes("Hi There"))),
            "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
}

// HMAC by its definition, over our own SHA-256.
Digest reference_hmac(std::span<const std::uint8_t> key, std::span<const std::uint8_t> data) {
  std::vector<std::uint8_t> k(key.begin(), key.end());
  if (k.size() > 64) {
    Digest d = sha256(k);
    k.assign(d.begin(), d.end());
  }
  k.resize(64, 0);
  Sha256 inner;
  Sha256 outer;
  std::vector<std::uint8_t> pad(64);
  for (size_t i = 0; i < 64; ++i) pad[i] = static_cast<std::uint8_t>(k[i] ^ 0x36);
  inner.update(pad);
  inner.update(data);
  Digest inner_digest = inner.finish();
  for (size_t i = 0; i < 64; ++i) pad[i] = static_cast<std::uint8_t>(k[i] ^ 0x5c);
  outer.update(pad);
  outer.update(inner_digest);
  return outer.finish();
}

TEST(HmacSha256Test, EmptyKeyAndDataAndReference) {
  EXPECT_EQ(to_hex(hmac_sha256({}, {})),
            "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
  for (size_t key_len : {0u, 1u, 32u, 63u, 64u, 65u, 200u}) {
    std::vector<std::uint8_t> key(key_len);
    for (size_t i = 0; i < key_len; ++i) key[i] = static_cast<std::uint8_t>(i * 31 + 7);
    for (size_t data_len : {0u, 1u, 55u, 64u, 200u}) {
      std::vector<std::uint8_t> data(data_len, 0x5a);
      EXPECT_EQ(hmac_sha256(key, data), reference_hmac(key, data))
          << "key " << key_len << " data " << data_len;
    }
  }
}

// The reference vectors of the SipHash paper (Aumasson and Bernstein, 2012):
// key 00 01 .. 0f; the empty message, and the 15 bytes 00 01 .. 0e.
TEST(ShortHashTest, SipHash24ReferenceVectors) {
  ShortHashKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<std::uint8_t>(i);
  EXPECT_EQ(short_hash(key, ""), 0x726fdb47dd0e0e31u);
  std::string message;
  for (char c = 0; c < 15; ++c) message.push_back(c);
  EXPECT_EQ(short_hash(key, message), 0xa129ca6149be45e5u);
  ShortHashKey other = key;
  other[0] ^= 1;
  EXPECT_NE(short_hash(other, message), short_hash(key, message)) << "the key must matter";
}

}  // namespace
}  // namespace triad::crypto
