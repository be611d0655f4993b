// Field formats of rules.md sections 1 and 2, shared by the card file parser
// and the engine. Pure functions on bytes: no locale, no allocation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace triad::rules::format {

// The largest amount, billing amount or limit rules.md allows (12 digits).
inline constexpr std::int64_t kMaxAmount = 999'999'999'999;

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }

// One or more ASCII digits and nothing else.
constexpr bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (const char c : s) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// Exactly `n` ASCII digits.
constexpr bool is_n_digits(std::string_view s, std::size_t n) {
  return s.size() == n && is_digits(s);
}

// Every byte in 0x20..0x7E (the empty string qualifies).
constexpr bool is_printable(std::string_view s) {
  for (const char c : s) {
    if (c < 0x20 || c > 0x7E) return false;
  }
  return true;
}

// Value of a string already known to be 1..18 digits (no overflow possible:
// 10^18 - 1 < 2^63).
constexpr std::int64_t digits_value(std::string_view s) {
  std::int64_t v = 0;
  for (const char c : s) v = v * 10 + (c - '0');
  return v;
}

// `YYMM` with MM in 01..12, as the number YY*100+MM; nullopt otherwise.
constexpr std::optional<std::uint16_t> parse_yymm(std::string_view s) {
  if (!is_n_digits(s, 4)) return std::nullopt;
  const auto month = digits_value(s.substr(2, 2));
  if (month < 1 || month > 12) return std::nullopt;
  return static_cast<std::uint16_t>(digits_value(s));
}

// 0 ..= kMaxAmount.
constexpr bool is_amount(std::int64_t v) { return v >= 0 && v <= kMaxAmount; }

// Luhn (mod 10) check over a string of digits, check digit last.
constexpr bool luhn_ok(std::string_view digits) {
  int sum = 0;
  bool twice = false;
  for (std::size_t i = digits.size(); i-- > 0;) {
    int d = digits[i] - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return sum % 10 == 0;
}

}  // namespace triad::rules::format
