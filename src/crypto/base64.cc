#include "crypto/base64.h"

#include <array>
#include <utility>

namespace triad::crypto {
namespace {

constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::uint8_t kInvalid = 0xff;

constexpr std::array<std::uint8_t, 256> make_decode_table() {
  std::array<std::uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (std::uint8_t i = 0; i < 64; ++i) table[static_cast<unsigned char>(kAlphabet[i])] = i;
  return table;
}
constexpr std::array<std::uint8_t, 256> kDecode = make_decode_table();

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string describe(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u <= 0x7e) return std::string("'") + c + "'";
  constexpr char kHex[] = "0123456789abcdef";
  return std::string("byte 0x") + kHex[u >> 4] + kHex[u & 0xf];
}

Status bad(size_t position, const std::string& what) {
  return Status::invalid_argument("base64: " + what + " at position " + std::to_string(position));
}

}  // namespace

std::string base64_encode(std::span<const std::uint8_t> data) {
  std::string out;
  out.reserve((data.size() + 2) / 3 * 4);
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                      std::uint32_t{data[i + 2]};
    out.push_back(kAlphabet[(v >> 18) & 0x3f]);
    out.push_back(kAlphabet[(v >> 12) & 0x3f]);
    out.push_back(kAlphabet[(v >> 6) & 0x3f]);
    out.push_back(kAlphabet[v & 0x3f]);
  }
  size_t rest = data.size() - i;
  if (rest == 1) {
    std::uint32_t v = std::uint32_t{data[i]} << 16;
    out.push_back(kAlphabet[(v >> 18) & 0x3f]);
    out.push_back(kAlphabet[(v >> 12) & 0x3f]);
    out.append("==");
  } else if (rest == 2) {
    std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
    out.push_back(kAlphabet[(v >> 18) & 0x3f]);
    out.push_back(kAlphabet[(v >> 12) & 0x3f]);
    out.push_back(kAlphabet[(v >> 6) & 0x3f]);
    out.push_back('=');
  }
  return out;
}

Status base64_decode(std::string_view text, std::vector<std::uint8_t>* out) {
  size_t begin = 0;
  size_t end = text.size();
  while (begin < end && is_ascii_space(text[begin])) ++begin;
  while (end > begin && is_ascii_space(text[end - 1])) --end;
  const size_t n = end - begin;

  // Characters first, so a stray character is reported where it is rather
  // than as a length problem.
  size_t padding = 0;
  for (size_t i = begin; i < end; ++i) {
    char c = text[i];
    if (c == '=') {
      // Only the last one or two characters may be '=', and "x=y" is not padding.
      size_t from_end = end - i;
      if (from_end > 2 || (from_end == 2 && text[end - 1] != '=')) {
        return bad(i, "'=' before the end");
      }
      ++padding;
      continue;
    }
    if (kDecode[static_cast<unsigned char>(c)] == kInvalid) {
      return bad(i, "invalid character " + describe(c));
    }
  }
  if (n % 4 != 0) {
    return bad(end, "length " + std::to_string(n) + " is not a multiple of 4; truncated input");
  }

  std::vector<std::uint8_t> bytes;
  bytes.reserve(n / 4 * 3);
  for (size_t q = begin; q < end; q += 4) {
    std::uint32_t v = 0;
    for (size_t k = 0; k < 4; ++k) {
      char c = text[q + k];
      v = (v << 6) | (c == '=' ? 0u : std::uint32_t{kDecode[static_cast<unsigned char>(c)]});
    }
    bytes.push_back(static_cast<std::uint8_t>(v >> 16));
    bytes.push_back(static_cast<std::uint8_t>(v >> 8));
    bytes.push_back(static_cast<std::uint8_t>(v));
  }
  if (padding > 0) {
    // The last data character carries bits that padding drops; they must be 0.
    size_t last = end - padding - 1;
    std::uint8_t unused_mask = padding == 2 ? 0x0f : 0x03;
    if ((kDecode[static_cast<unsigned char>(text[last])] & unused_mask) != 0) {
      return bad(last, "non-zero unused bits in " + describe(text[last]));
    }
    bytes.resize(bytes.size() - padding);
  }
  *out = std::move(bytes);
  return Status::ok();
}

}  // namespace triad::crypto
