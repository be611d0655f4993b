#include "rules/currency.h"

#include "rules/engine.h"

namespace triad::rules {
namespace {

// Exponent by numeric code 0..999, -1 for unsupported: one load per lookup.
constexpr std::array<std::int8_t, 1000> make_exponent_table() {
  std::array<std::int8_t, 1000> table{};
  for (auto& e : table) e = -1;
  for (const CurrencyInfo& c : kCurrencies) table[c.code] = c.exponent;
  return table;
}

constexpr std::array<std::int8_t, 1000> kExponentByCode = make_exponent_table();

}  // namespace

int currency_exponent(std::uint16_t iso_numeric) {
  return iso_numeric < kExponentByCode.size() ? kExponentByCode[iso_numeric] : -1;
}

}  // namespace triad::rules
