#include "crypto/card_ref.h"

#include <gtest/gtest.h>

namespace triad::crypto {
namespace {

SymmetricKey counting_key() {
  SymmetricKey key;
  for (std::size_t i = 0; i < key.bytes().size(); ++i)
    key.bytes()[i] = static_cast<std::uint8_t>(i);
  return key;
}

// Expected values from Python's hmac module (an independent implementation):
// hmac.new(bytes(range(32)), PAN, sha256).hexdigest()[:32].
TEST(CardRefTest, IsTheFirst128BitsOfHmacSha256InHex) {
  EXPECT_EQ(card_ref(counting_key(), "4000001234567899"), "44bff59d71042aa42827ce8cf741badc");
  EXPECT_EQ(card_ref(counting_key(), "4000001234567898"), "5ba43012f3cc3a4c074b10c34d5bd615");
  EXPECT_EQ(card_ref(counting_key(), "4000001234567899").size(), kCardRefChars);
}

TEST(CardRefTest, DependsOnTheKey) {
  const SymmetricKey other = SymmetricKey::generate();
  EXPECT_NE(card_ref(other, "4000001234567899"), card_ref(counting_key(), "4000001234567899"));
  EXPECT_EQ(card_ref(other, "4000001234567899"), card_ref(other, "4000001234567899"));
}

}  // namespace
}  // namespace triad::crypto
