#include "rules/naive_engine.h"

#include <chrono>
#include <map>
#include <string>

namespace triad::rules::testing {
namespace {

// rules.md section 3, code -> exponent.
const std::map<std::string, int>& currency_table() {
  static const std::map<std::string, int> table = {
      {"036", 2}, {"048", 3}, {"124", 2}, {"152", 0}, {"156", 2}, {"344", 2}, {"356", 2},
      {"392", 0}, {"410", 0}, {"414", 3}, {"484", 2}, {"702", 2}, {"710", 2}, {"752", 2},
      {"756", 2}, {"826", 2}, {"840", 2}, {"978", 2}, {"986", 2}};
  return table;
}

bool digits_only(const std::string& s) {
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool digits_exactly(const std::string& s, std::size_t n) { return s.size() == n && digits_only(s); }

bool printable(const std::string& s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 32 || static_cast<unsigned char>(c) > 126) return false;
  }
  return true;
}

bool id_format(const std::string& s) {
  if (s.size() < 1 || s.size() > 64) return false;
  const std::string allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-";
  for (char c : s) {
    if (allowed.find(c) == std::string::npos) return false;
  }
  return true;
}

bool yymm_format(const std::string& s) {
  if (!digits_exactly(s, 4)) return false;
  const int month = std::stoi(s.substr(2));
  return month >= 1 && month <= 12;
}

bool amount_format(std::int64_t v) { return v >= 0 && v <= 999999999999; }

// Luhn, from the left: digits at an even distance from the right end are
// kept, the others doubled.
bool luhn(const std::string& pan) {
  int total = 0;
  for (std::size_t i = 0; i < pan.size(); ++i) {
    int d = pan[i] - '0';
    const bool doubled = (pan.size() - i) % 2 == 0;
    if (doubled) {
      d = d * 2;
      if (d >= 10) d = d / 10 + d % 10;
    }
    total += d;
  }
  return total % 10 == 0;
}

std::string three_digits(std::uint16_t code) {
  std::string s = std::to_string(code);
  while (s.size() < 3) s = "0" + s;
  return s;
}

std::string four_digits(std::uint16_t v) {
  std::string s = std::to_string(v);
  while (s.size() < 4) s = "0" + s;
  return s;
}

bool is_auth_mti(const std::string& mti) { return mti == "0100" || mti == "0200"; }

}  // namespace

NaiveEngine::NaiveEngine(const CardFile& cards) : cards_(cards) {}

ResponseCode NaiveEngine::apply(std::int64_t ts_ms, const Transaction& tx) {
  Past me;
  me.tx = tx;
  me.ts_ms = ts_ms;
  const ResponseCode code = decide(ts_ms, tx, &me);
  history_.push_back(me);
  return code;
}

ResponseCode NaiveEngine::decide(std::int64_t ts_ms, const Transaction& tx, Past* me) {
  const std::int64_t T = ts_ms;
  auto good_string = [&](Field f, const std::optional<std::string>& v, auto check) {
    if (tx.is_malformed(f)) return false;
    if (!v.has_value()) return false;
    return static_cast<bool>(check(*v));
  };
  auto good_amount = [&](Field f, const std::optional<std::int64_t>& v) {
    if (tx.is_malformed(f)) return false;
    if (!v.has_value()) return false;
    return amount_format(*v);
  };

  // Rule 1 for the fields every MTI needs.
  if (!good_string(Field::kId, tx.id, id_format)) return ResponseCode::kFormatError;
  if (!good_string(Field::kMti, tx.mti, [](const std::string& s) { return digits_exactly(s, 4); }))
    return ResponseCode::kFormatError;
  if (!good_string(Field::kPan, tx.pan,
                   [](const std::string& s) { return !s.empty() && digits_only(s); }))
    return ResponseCode::kFormatError;
  if (!good_string(Field::kStan, tx.stan,
                   [](const std::string& s) { return digits_exactly(s, 6); }))
    return ResponseCode::kFormatError;
  if (!good_string(Field::kTerminal, tx.terminal,
                   [](const std::string& s) { return s.size() == 8 && printable(s); }))
    return ResponseCode::kFormatError;

  if (*tx.mti == "0400") return decide_reversal(tx);
  if (!is_auth_mti(*tx.mti)) return ResponseCode::kInvalidTransaction;

  // Rule 1 for 0100/0200.
  if (!good_string(Field::kProc, tx.proc,
                   [](const std::string& s) { return digits_exactly(s, 6); }))
    return ResponseCode::kFormatError;
  if (!good_amount(Field::kAmount, tx.amount)) return ResponseCode::kFormatError;
  if (!good_string(Field::kCurrency, tx.currency, [](const std::string& s) {
        return digits_exactly(s, 3) && currency_table().count(s) == 1;
      }))
    return ResponseCode::kFormatError;
  if (!good_string(Field::kExpiry, tx.expiry, yymm_format)) return ResponseCode::kFormatError;
  if (!good_string(Field::kMcc, tx.mcc, [](const std::string& s) { return digits_exactly(s, 4); }))
    return ResponseCode::kFormatError;
  if (!good_string(Field::kMerchant, tx.merchant, [](const std::string& s) {
        return s.size() >= 1 && s.size() <= 15 && printable(s);
      }))
    return ResponseCode::kFormatError;
  me->passed_rule_1 = true;

  // Rule 2.
  const std::string prefix = tx.proc->substr(0, 2);
  if (prefix != "00" && prefix != "01") return ResponseCode::kInvalidTransaction;
  const bool cash = prefix == "01";

  // Rule 3.
  const std::string& pan = *tx.pan;
  if (pan.size() < 12 || pan.size() > 19 || !luhn(pan)) return ResponseCode::kInvalidCardNumber;

  // Rule 4.
  const CardRecord* card = nullptr;
  for (const CardRecord& c : cards_.cards) {
    if (c.pan == pan) card = &c;
  }
  if (card == nullptr) return ResponseCode::kNoCardRecord;

  // Rule 5.
  if (card->status == CardStatus::kLost) return ResponseCode::kLostCard;
  if (card->status == CardStatus::kStolen) return ResponseCode::kStolenCard;
  if (card->status == CardStatus::kBlocked) return ResponseCode::kRestrictedCard;

  // Rule 6, with the standard library's calendar.
  if (*tx.expiry != four_digits(card->expiry_yymm)) return ResponseCode::kExpiredCard;
  {
    using namespace std::chrono;
    const sys_time<milliseconds> when{milliseconds{T}};
    const year_month_day day{floor<days>(when)};
    const year_month now_month{day.year(), day.month()};
    const year_month expiry_month{year{2000 + card->expiry_yymm / 100},
                                  month{static_cast<unsigned>(card->expiry_yymm % 100)}};
    if (expiry_month < now_month) return ResponseCode::kExpiredCard;
  }

  // Rule 7.
  const std::string card_currency = three_digits(card->currency);
  std::int64_t account_amount = *tx.amount;
  if (*tx.currency != card_currency) {
    if (!good_amount(Field::kBillingAmount, tx.billing_amount)) return ResponseCode::kFormatError;
    if (!good_string(Field::kBillingCurrency, tx.billing_currency,
                     [](const std::string& s) { return digits_exactly(s, 3); }))
      return ResponseCode::kFormatError;
    if (*tx.billing_currency != card_currency) return ResponseCode::kFormatError;
    account_amount = *tx.billing_amount;
  }
  me->account_amount = account_amount;

  // Rule 8.
  std::int64_t maximum = 1000000;
  for (int i = 0; i < currency_table().at(*tx.currency); ++i) maximum *= 10;
  if (*tx.amount == 0 || *tx.amount > maximum) return ResponseCode::kInvalidAmount;

  // Rule 9.
  for (std::uint16_t blocked : card->blocked_mccs) {
    if (four_digits(blocked) == *tx.mcc) return ResponseCode::kNotPermitted;
  }

  // Rule 10.
  for (const Past& p : history_) {
    if (p.passed_rule_1 && *p.tx.terminal == *tx.terminal && *p.tx.stan == *tx.stan &&
        p.ts_ms > T - 86400000 && p.ts_ms <= T) {
      return ResponseCode::kDuplicate;
    }
  }

  // Rule 11.
  int recent = 0;
  for (const Past& p : history_) {
    if (p.approved && *p.tx.pan == pan && p.ts_ms > T - 60000 && p.ts_ms <= T) ++recent;
  }
  if (recent >= 10) return ResponseCode::kExceedsFrequencyLimit;

  // Rule 12.
  if (cash) {
    std::int64_t withdrawn = 0;
    for (const Past& p : history_) {
      if (p.approved && !p.reversed && *p.tx.pan == pan && p.tx.proc->substr(0, 2) == "01" &&
          p.ts_ms > T - 86400000 && p.ts_ms <= T) {
        withdrawn += p.account_amount;
      }
    }
    if (account_amount + withdrawn > card->cash_daily_limit) {
      return ResponseCode::kExceedsWithdrawalLimit;
    }
  }

  // Rule 13.
  std::int64_t held = 0;
  for (const Past& p : history_) {
    if (p.approved && !p.reversed && *p.tx.pan == pan) held += p.account_amount;
  }
  if (account_amount > card->credit_limit - held) return ResponseCode::kInsufficientFunds;

  // Rule 14.
  me->approved = true;
  return ResponseCode::kApproved;
}

ResponseCode NaiveEngine::decide_reversal(const Transaction& tx) {
  // Section 5 rule 1.
  if (tx.is_malformed(Field::kOrigId) || !tx.orig_id.has_value() || !id_format(*tx.orig_id)) {
    return ResponseCode::kFormatError;
  }
  // Rule 2.
  const std::string& pan = *tx.pan;
  if (pan.size() < 12 || pan.size() > 19 || !luhn(pan)) return ResponseCode::kInvalidCardNumber;
  // Rule 3: the first earlier transaction with that id.
  Past* original = nullptr;
  for (Past& p : history_) {
    if (p.tx.id.has_value() && *p.tx.id == *tx.orig_id) {
      original = &p;
      break;
    }
  }
  if (original == nullptr) return ResponseCode::kUnableToLocateOriginal;
  if (!original->approved) return ResponseCode::kUnableToLocateOriginal;
  if (*original->tx.pan != pan) return ResponseCode::kUnableToLocateOriginal;
  if (original->reversed) return ResponseCode::kUnableToLocateOriginal;
  // Rule 4.
  original->reversed = true;
  return ResponseCode::kApproved;
}

}  // namespace triad::rules::testing
