#include "crypto/base64.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crypto_test_util.h"

namespace triad::crypto {
namespace {

using testing::as_bytes;

std::string decode_to_string(std::string_view text) {
  std::vector<std::uint8_t> out;
  Status status = base64_decode(text, &out);
  EXPECT_TRUE(status.is_ok()) << text << ": " << status.to_string();
  return std::string(out.begin(), out.end());
}

TEST(Base64Test, Rfc4648Section10) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(as_bytes(plain)), encoded);
    EXPECT_EQ(decode_to_string(encoded), plain);
  }
}

TEST(Base64Test, AllByteValuesRoundTrip) {
  std::vector<std::uint8_t> data;
  for (int i = 0; i < 256; ++i) data.push_back(static_cast<std::uint8_t>(i));
  for (size_t len = 0; len <= data.size(); ++len) {
    std::vector<std::uint8_t> part(data.begin(), data.begin() + static_cast<long>(len));
    std::vector<std::uint8_t> decoded;
    ASSERT_TRUE(base64_decode(base64_encode(part), &decoded).is_ok());
    ASSERT_EQ(decoded, part);
  }
  EXPECT_EQ(base64_encode(std::vector<std::uint8_t>{0xfb, 0xff, 0xfe}), "+//+");
}

TEST(Base64Test, IgnoresSurroundingWhitespace) {
  EXPECT_EQ(decode_to_string("Zm9vYmFy\n"), "foobar");
  EXPECT_EQ(decode_to_string(" \t\r\nZm9vYg==\r\n "), "foob");
  EXPECT_EQ(decode_to_string("  \n"), "");
}

// Expects InvalidArgument whose message names `position`.
void expect_rejected(std::string_view text, size_t position) {
  std::vector<std::uint8_t> out = {1, 2, 3};
  Status status = base64_decode(text, &out);
  EXPECT_EQ(status.code(), Status::Code::kInvalidArgument) << "'" << text << "'";
  EXPECT_NE(status.message().find("position " + std::to_string(position)), std::string::npos)
      << "'" << text << "': " << status.message();
  EXPECT_EQ(out, (std::vector<std::uint8_t>{1, 2, 3})) << "output changed on failure";
}

TEST(Base64Test, RejectsBadCharacters) {
  expect_rejected("Zm9v!mFy", 4);
  expect_rejected("Zm9vYm-y", 6);  // URL-safe alphabet is not accepted
  expect_rejected("Zm9v_mFy", 4);
  expect_rejected("Zm9v\nYmFy", 4);  // inner whitespace
  expect_rejected("Zm9v YmFy", 4);
  expect_rejected(std::string_view("Zm\0v", 4), 2);
  expect_rejected("Zm9v\xc3\xa9mFy", 4);
}

TEST(Base64Test, RejectsBadPadding) {
  expect_rejected("Zg=a", 2);  // '=' followed by data
  expect_rejected("Z===", 1);  // three '='
  expect_rejected("====", 0);
  expect_rejected("Zg==Zm8=", 2);  // padding in the middle
  expect_rejected("Zh==", 1);      // unused bits set ('h' = 33 has low bits 0001)
  expect_rejected("Zm9=", 2);      // '9' = 61 has low bits 01
  expect_rejected(" Zh==", 2);     // positions count from the start of the text
}

TEST(Base64Test, RejectsBadLength) {
  expect_rejected("Zg", 2);  // missing padding
  expect_rejected("Zg=", 3);
  expect_rejected("Zm9vY", 5);
  expect_rejected("Z", 1);
  expect_rejected("  Zm9vY\n", 7);
}

}  // namespace
}  // namespace triad::crypto
