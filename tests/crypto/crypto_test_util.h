// Helpers shared by the crypto tests.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace triad::crypto::testing {

// Bytes from lower- or upper-case hexadecimal; fails the test on bad input.
inline std::vector<std::uint8_t> from_hex(std::string_view hex) {
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<std::uint8_t> out;
  EXPECT_EQ(hex.size() % 2, 0u) << hex;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    int hi = nibble(hex[i]);
    int lo = nibble(hex[i + 1]);
    EXPECT_GE(hi, 0) << hex;
    EXPECT_GE(lo, 0) << hex;
    out.push_back(static_cast<std::uint8_t>((hi << 4) | lo));
  }
  return out;
}

template <size_t N>
std::array<std::uint8_t, N> array_from_hex(std::string_view hex) {
  std::vector<std::uint8_t> bytes = from_hex(hex);
  std::array<std::uint8_t, N> out{};
  EXPECT_EQ(bytes.size(), N) << hex;
  for (size_t i = 0; i < N && i < bytes.size(); ++i) out[i] = bytes[i];
  return out;
}

inline std::string to_hex(std::span<const std::uint8_t> bytes) {
  constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::uint8_t b : bytes) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

inline std::span<const std::uint8_t> as_bytes(std::string_view s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

}  // namespace triad::crypto::testing
