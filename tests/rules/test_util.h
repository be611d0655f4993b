// Helpers shared by the rules tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

#include "triad/transaction.h"

namespace triad::rules::testing {

// `body` followed by its Luhn check digit.
inline std::string with_check_digit(const std::string& body) {
  int sum = 0;
  bool twice = true;  // the digit left of the check digit is doubled
  for (auto it = body.rbegin(); it != body.rend(); ++it) {
    int d = *it - '0';
    if (twice) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    twice = !twice;
  }
  return body + static_cast<char>('0' + (10 - sum % 10) % 10);
}

// `pan` with its last digit changed so the Luhn check fails.
inline std::string break_luhn(std::string pan) {
  pan.back() = pan.back() == '9' ? '0' : static_cast<char>(pan.back() + 1);
  return pan;
}

// Milliseconds since the epoch of a UTC date and time (std::chrono calendar).
inline std::int64_t utc_ms(int y, unsigned mo, unsigned d, int h = 0, int mi = 0, int s = 0,
                           int ms = 0) {
  using namespace std::chrono;
  const sys_days date{year{y} / month{mo} / day{d}};
  return duration_cast<milliseconds>(date.time_since_epoch()).count() +
         ((static_cast<std::int64_t>(h) * 60 + mi) * 60 + s) * 1000 + ms;
}

// A valid 0100 purchase of `amount` US cents on `pan` at TERM0001.
inline Transaction authorization(const std::string& id, const std::string& pan, std::int64_t amount,
                                 const std::string& stan) {
  Transaction tx;
  tx.id = id;
  tx.mti = "0100";
  tx.pan = pan;
  tx.proc = "000000";
  tx.amount = amount;
  tx.currency = "840";
  tx.expiry = "2812";
  tx.mcc = "5411";
  tx.stan = stan;
  tx.terminal = "TERM0001";
  tx.merchant = "SHOP";
  return tx;
}

// A 0400 reversal of `orig_id` on `pan` at TERM0001.
inline Transaction reversal(const std::string& id, const std::string& orig_id,
                            const std::string& pan, const std::string& stan) {
  Transaction tx;
  tx.id = id;
  tx.mti = "0400";
  tx.pan = pan;
  tx.stan = stan;
  tx.terminal = "TERM0001";
  tx.orig_id = orig_id;
  return tx;
}

}  // namespace triad::rules::testing
