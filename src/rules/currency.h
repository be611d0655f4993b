// The currency table of rules.md section 3.
#pragma once

#include <array>
#include <cstdint>

namespace triad::rules {

struct CurrencyInfo {
  std::uint16_t code;  // ISO 4217 numeric
  char alpha[4];
  std::int8_t exponent;  // minor-unit exponent
};

inline constexpr std::array<CurrencyInfo, 19> kCurrencies = {{
    {36, "AUD", 2},  {48, "BHD", 3},  {124, "CAD", 2}, {152, "CLP", 0}, {156, "CNY", 2},
    {344, "HKD", 2}, {356, "INR", 2}, {392, "JPY", 0}, {410, "KRW", 0}, {414, "KWD", 3},
    {484, "MXN", 2}, {702, "SGD", 2}, {710, "ZAR", 2}, {752, "SEK", 2}, {756, "CHF", 2},
    {826, "GBP", 2}, {840, "USD", 2}, {978, "EUR", 2}, {986, "BRL", 2},
}};

// Largest amount of one transaction in `exponent`'s minor units:
// 10^6 major units = 10^(6 + exponent); exponent is 0..3 here, so <= 10^9.
constexpr std::int64_t max_transaction_amount(int exponent) {
  std::int64_t v = 1'000'000;
  for (int i = 0; i < exponent; ++i) v *= 10;
  return v;
}

}  // namespace triad::rules
