// UTC calendar arithmetic on millisecond timestamps, integers only (no
// clock, no time zone database, no floating point). Valid for every int64.
#pragma once

#include <cstdint>

namespace triad::rules {

inline constexpr std::int64_t kMsPerDay = 86'400'000;

// Rounds toward negative infinity (b > 0).
constexpr std::int64_t floor_div(std::int64_t a, std::int64_t b) {
  const std::int64_t q = a / b;
  return (a % b != 0 && a < 0) ? q - 1 : q;
}

// year * 12 + (month - 1) of the UTC calendar month holding `ts_ms`
// (proleptic Gregorian; 1970-01 is 23640).
//
// Howard Hinnant's civil_from_days. For any int64 ts_ms: |days| <= 1.07e11,
// |era| <= 7.31e5, |year| <= 2.93e8, so every intermediate value and the
// result stay below 2^40 in magnitude: nothing can overflow.
constexpr std::int64_t utc_month_index(std::int64_t ts_ms) {
  const std::int64_t days = floor_div(ts_ms, kMsPerDay);
  const std::int64_t z = days + 719'468;  // days since 0000-03-01
  const std::int64_t era = floor_div(z, 146'097);
  const std::int64_t doe = z - era * 146'097;                                        // [0, 146096]
  const std::int64_t yoe = (doe - doe / 1460 + doe / 36'524 - doe / 146'096) / 365;  // [0, 399]
  const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);                  // [0, 365]
  const std::int64_t mp = (5 * doy + 2) / 153;                                       // [0, 11]
  const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;                              // [1, 12]
  const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  return year * 12 + (month - 1);
}

// Month index of a card expiry YYMM (year 20YY), same scale as utc_month_index.
constexpr std::int64_t expiry_month_index(std::uint16_t yymm) {
  return (2000 + yymm / 100) * 12 + (yymm % 100 - 1);
}

// True when `earlier_ms` (<= now_ms) lies in (now_ms - window_ms, now_ms].
// Computed on the unsigned difference, which is exact for any two int64
// with earlier_ms <= now_ms, so it cannot overflow even near INT64_MIN.
constexpr bool in_window(std::int64_t earlier_ms, std::int64_t now_ms, std::int64_t window_ms) {
  return static_cast<std::uint64_t>(now_ms) - static_cast<std::uint64_t>(earlier_ms) <
         static_cast<std::uint64_t>(window_ms);
}

}  // namespace triad::rules
