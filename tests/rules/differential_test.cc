// Differential test: the real engine against the naive one of
// naive_engine.h, on random streams built to hit every response code of
// rules.md sections 4 and 5 often. One seed reproduces a whole run.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <map>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "rules/card_index.h"
#include "rules/engine.h"
#include "rules/naive_engine.h"
#include "rules/test_util.h"

namespace triad::rules {
namespace {

using testing::break_luhn;
using testing::with_check_digit;

constexpr std::uint64_t kBaseSeed = 0x7269'6164'2026'1126ULL;
constexpr int kRuns = 40;
constexpr int kTransactionsPerRun = 2'500;  // 100,000 in all

// a + b without temporaries on both sides (GCC 12 -Wrestrict false positive).
std::string cat(std::string_view a, std::string_view b) {
  std::string s;
  s.reserve(a.size() + b.size());
  s.append(a);
  s.append(b);
  return s;
}

const char* const kCurrencies[] = {"840", "978", "392", "048", "826", "414", "036"};
const char* const kMccs[] = {"5411", "5812", "6011", "7995", "4829", "5999"};

// Generates a card file and a stream of (ts, transaction) for one run.
class Generator {
 public:
  // With `long_lived_cards`, no card expires during the run (for timing a
  // realistic mix, where most transactions reach the later rules).
  explicit Generator(std::uint64_t seed, bool long_lived_cards = false) : rng_(seed) {
    make_cards();
    // Start a little before a month boundary, so expiry changes mid-run; one
    // run in ten starts before the epoch.
    const int year = static_cast<int>(pick(10) == 0 ? 1960 + pick(9) : 2024 + pick(8));
    const auto month = static_cast<unsigned>(1 + pick(12));
    ts_ms_ = testing::utc_ms(year, month, 1) - range(0, 3 * 86'400'000LL);
    make_expiries(year, static_cast<int>(month));
    if (long_lived_cards) {
      for (CardRecord& c : cards_.cards) c.expiry_yymm = 9912;
    }
    // Both engines get the cards through the card file parser.
    const std::string text = to_csv(cards_);
    cards_ = CardFile{};
    const Status parsed = parse_card_file(text, &cards_);
    if (!parsed.is_ok()) ADD_FAILURE() << parsed.to_string();
  }

  const CardFile& cards() const { return cards_; }

  std::int64_t next(Transaction* out) {
    advance_time();
    Transaction tx =
        (forced_card_ < 0 && burst_left_ == 0 && pick(100) < 10) ? make_reversal() : make_auth();
    if (pick(100) < 2) damage(&tx);
    if (pick(200) == 0 && !used_ids_.empty()) tx.id = used_ids_[pick(used_ids_.size())].first;
    remember(tx);
    *out = std::move(tx);
    return ts_ms_;
  }

  // The verdict the last transaction got, so later ones can probe the edges
  // of the windows it opened.
  void observe(ResponseCode code) {
    if (last_card_ < 0 || code != ResponseCode::kApproved) return;
    const auto card = static_cast<std::size_t>(last_card_);
    auto& approvals = approvals_by_card_[card];
    approvals.push_back(ts_ms_);
    if (approvals.size() > 10) approvals.erase(approvals.begin());
    if (last_cash_) {
      auto& cash = cash_by_card_[card];
      cash.push_back(ts_ms_);
      if (cash.size() > 5) cash.erase(cash.begin());
    }
  }

 private:
  // Uniform in [0, n), by rejection on the raw mt19937_64 output (which the
  // standard fixes), so a seed gives the same stream on every standard
  // library; std::uniform_int_distribution does not promise that.
  std::uint64_t pick(std::uint64_t n) {
    const std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
    const std::uint64_t limit = max - max % n;  // a multiple of n
    std::uint64_t x = rng_();
    while (x >= limit) x = rng_();
    return x % n;
  }
  std::int64_t range(std::int64_t lo, std::int64_t hi) {
    return lo + static_cast<std::int64_t>(pick(static_cast<std::uint64_t>(hi - lo) + 1));
  }
  std::string digits(int n) {
    std::string s;
    for (int i = 0; i < n; ++i) s += static_cast<char>('0' + pick(10));
    return s;
  }

  void make_cards() {
    approvals_by_card_.resize(50);
    cash_by_card_.resize(50);
    for (int i = 0; i < 50; ++i) {
      CardRecord c;
      int length = 16;
      if (i % 17 == 5) length = 12;
      if (i % 17 == 6) length = 19;
      if (i == 7) length = 11;  // in the file, but rule 3 rejects it
      if (i == 8) length = 20;
      c.pan = with_check_digit(cat("4", digits(length - 2)));
      const auto s = pick(100);
      c.status = s < 85   ? CardStatus::kActive
                 : s < 90 ? CardStatus::kLost
                 : s < 95 ? CardStatus::kStolen
                          : CardStatus::kBlocked;
      const auto cur = pick(100);
      c.currency = cur < 70 ? 840 : cur < 80 ? 978 : cur < 90 ? 392 : cur < 95 ? 48 : 826;
      // Round limits and (often) round amounts make "exactly at the limit" common.
      c.credit_limit = pick(20) == 0 ? 0 : 1'000 * range(0, 60);
      c.cash_daily_limit = 1'000 * range(0, 15);
      for (const char* mcc : kMccs) {
        if (pick(100) < 12) c.blocked_mccs.push_back(static_cast<std::uint16_t>(std::stoi(mcc)));
      }
      std::sort(c.blocked_mccs.begin(), c.blocked_mccs.end());
      cards_.cards.push_back(c);
    }
  }

  static std::string to_csv(const CardFile& file) {
    std::string t = "pan,expiry,status,currency,credit_limit,cash_daily_limit,blocked_mccs\r\n";
    for (const CardRecord& c : file.cards) {
      static constexpr char kStatus[] = {'A', 'L', 'S', 'B'};
      char fields[96];
      std::snprintf(fields, sizeof fields, ",%04d,%c,%03d,%lld,%lld,", c.expiry_yymm,
                    kStatus[static_cast<int>(c.status)], c.currency,
                    static_cast<long long>(c.credit_limit),
                    static_cast<long long>(c.cash_daily_limit));
      t += c.pan;
      t += fields;
      for (std::size_t i = 0; i < c.blocked_mccs.size(); ++i) {
        char mcc[8];
        std::snprintf(mcc, sizeof mcc, "%s%04d", i == 0 ? "" : ";", c.blocked_mccs[i]);
        t += mcc;
      }
      t += "\r\n";
    }
    return t;
  }

  void make_expiries(int year, int month) {
    for (CardRecord& c : cards_.cards) {
      // From two months before the start to six after, within 2000..2099.
      int index = (year % 100) * 12 + (month - 1) + static_cast<int>(range(-2, 6));
      index = std::clamp(index, 0, 99 * 12 + 11);
      c.expiry_yymm = static_cast<std::uint16_t>((index / 12) * 100 + index % 12 + 1);
    }
  }

  // `v` in decimal, zero-padded to `width` digits.
  static std::string padded(int v, int width) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%0*d", width, v);
    return buf;
  }

  void advance_time() {
    const auto r = pick(1000);
    std::int64_t step = 0;
    if (burst_left_ > 0) {
      step = range(0, 2'500);
    } else if (r < 100) {
      step = 0;
    } else if (r < 700) {
      step = range(0, 300);
    } else if (r < 950) {
      step = range(300, 3'000);
    } else if (r < 975) {
      step = range(3'000, 120'000);
    } else if (r < 977) {
      step = range(3'600'000, 30 * 3'600'000LL);
    }
    ts_ms_ += step;
    forced_card_ = -1;
    // Land on a window edge of the card's own approvals: the tenth most
    // recent one + 60000 (or - 1), or a cash approval + 86400000 (or - 1).
    const auto probe = pick(100);
    if (probe < 4) {
      const bool cash = probe >= 2;
      const std::size_t start = pick(cards_.cards.size());
      for (std::size_t n = 0; n < cards_.cards.size(); ++n) {
        const std::size_t card = (start + n) % cards_.cards.size();
        const auto& list = cash ? cash_by_card_[card] : approvals_by_card_[card];
        if (list.empty() || (!cash && list.size() < 10)) continue;
        const std::int64_t base = cash ? list[pick(list.size())] : list.front();
        const std::int64_t target =
            base + (cash ? 86'400'000 : 60'000) - static_cast<std::int64_t>(pick(2));
        if (target < ts_ms_) continue;
        ts_ms_ = target;
        forced_card_ = static_cast<int>(card);
        forced_cash_ = cash;
        break;
      }
      if (forced_card_ >= 0) return;
    }
    // Or on the rule 10 window edge of a recent (terminal, stan).
    if (probe >= 4 && probe < 6 && !recent_keys_.empty()) {
      const std::size_t i = pick(recent_keys_.size());
      std::int64_t last = recent_keys_[i].second;
      for (std::size_t j = i + 1; j < recent_keys_.size(); ++j) {
        if (recent_keys_[j].first == recent_keys_[i].first) last = recent_keys_[j].second;
      }
      const std::int64_t target = last + 86'400'000 - static_cast<std::int64_t>(pick(2));
      if (target >= ts_ms_) {
        ts_ms_ = target;
        forced_key_ = recent_keys_[i].first;
        return;
      }
    }
    // Land exactly on (or just inside) a window edge of a recent transaction.
    if (pick(100) < 3 && !recent_ts_.empty()) {
      static constexpr std::int64_t kEdges[] = {60'000, 59'999, 86'400'000, 86'399'999};
      const std::int64_t target = recent_ts_[pick(recent_ts_.size())] + kEdges[pick(4)];
      ts_ms_ = std::max(ts_ms_, target);
    }
  }

  std::string new_id() { return cat("t", std::to_string(++serial_)); }

  Transaction make_auth() {
    Transaction tx;
    tx.id = new_id();
    std::size_t card = 0;
    if (forced_card_ >= 0) {
      card = static_cast<std::size_t>(forced_card_);
    } else if (burst_left_ > 0) {
      --burst_left_;
      card = burst_card_;
    } else if (pick(100) < 2) {
      burst_left_ = 12 + static_cast<int>(pick(12));
      card = burst_card_ = pick(cards_.cards.size());
    } else {
      card = pick(100) < 30 ? pick(4) : pick(cards_.cards.size());
    }
    const CardRecord& c = cards_.cards[card];

    const auto m = pick(100);
    tx.mti = m < 50 ? "0100" : m < 97 ? "0200" : m < 98 ? "0300" : m < 99 ? "0110" : "01A0";
    const auto p = pick(100);
    tx.proc = p < 65   ? "000000"
              : p < 92 ? cat("01", digits(4))
              : p < 95 ? "200000"
              : p < 97 ? "020000"
              : p < 98 ? "00000"
                       : cat("00", digits(4));

    if (forced_card_ >= 0) {
      tx.mti = "0200";
      tx.proc = forced_cash_ ? "010000" : "000000";
    }
    const auto q = pick(100);
    last_card_ = q < 90 ? static_cast<int>(card) : -1;
    last_cash_ = tx.proc->starts_with("01");
    if (q < 90) {
      tx.pan = c.pan;
    } else if (q < 94) {
      tx.pan = with_check_digit(cat("5", digits(14)));
    } else if (q < 97) {
      tx.pan = break_luhn(c.pan);
    } else if (q < 98) {
      tx.pan = with_check_digit(pick(2) == 0 ? cat("4", digits(9)) : cat("4", digits(18)));
    } else {
      tx.pan = pick(2) == 0 ? "" : "4111-1111";
    }

    const auto a = pick(100);
    if (burst_left_ > 0) {
      tx.amount = range(1, 100);
    } else if (a < 35) {
      tx.amount = 500 * range(1, 8);
    } else if (a < 65) {
      tx.amount = range(1, 3'000);
    } else if (a < 70) {
      tx.amount = 0;
    } else if (a < 76) {
      static constexpr std::int64_t kEdges[] = {1'000'000,      1'000'001,     100'000'000,
                                                100'000'001,    1'000'000'000, 1'000'000'001,
                                                999'999'999'999};
      tx.amount = kEdges[pick(7)];
    } else if (a < 90) {
      tx.amount = range(3'000, 30'000);
    } else if (a < 99) {
      tx.amount = range(1, 500);
    } else {
      tx.amount = pick(2) == 0 ? -1 : 1'000'000'000'000;
    }

    const std::string card_currency = padded(c.currency, 3);
    const auto cu = pick(100);
    if (cu < 80) {
      tx.currency = card_currency;
    } else if (cu < 95) {
      tx.currency = kCurrencies[pick(std::size(kCurrencies))];
    } else if (cu < 98) {
      tx.currency = "999";
    } else {
      tx.currency = "84";
    }
    if (*tx.currency != card_currency || pick(5) == 0) {
      const auto b = pick(100);
      tx.billing_amount = pick(2) == 0 ? 500 * range(0, 6) : range(0, 3'000);
      tx.billing_currency = card_currency;
      if (b < 70) {
      } else if (b < 78) {
        tx.billing_currency = kCurrencies[pick(std::size(kCurrencies))];
      } else if (b < 85) {
        tx.billing_amount.reset();
      } else if (b < 90) {
        tx.billing_currency.reset();
      } else if (b < 95) {
        tx.billing_amount.reset();
        tx.set_malformed(Field::kBillingAmount);
      } else {
        tx.billing_amount = -5;
      }
    }

    const auto e = pick(100);
    tx.expiry = e < 93   ? padded(c.expiry_yymm, 4)
                : e < 97 ? padded(static_cast<int>(pick(100) * 100 + 1 + pick(12)), 4)
                : e < 99 ? "2913"
                         : "25";
    tx.mcc = pick(100) == 0 ? "541" : kMccs[pick(std::size(kMccs))];
    fill_key(&tx);
    const auto mr = pick(200);
    tx.merchant = mr == 0   ? ""
                  : mr == 1 ? std::string(16, 'M')
                            : cat("SHOP ", std::to_string(card));
    return tx;
  }

  void fill_key(Transaction* tx) {
    const auto k = pick(100);
    if (forced_key_) {
      tx->terminal = forced_key_->first;
      tx->stan = forced_key_->second;
      forced_key_.reset();
      return;
    }
    if (k < 4 && !recent_keys_.empty()) {
      const auto& key = recent_keys_[pick(recent_keys_.size())].first;
      tx->terminal = key.first;
      tx->stan = key.second;
      return;
    }
    tx->terminal = cat("TERM000", std::to_string(pick(6)));
    if (k == 99)
      tx->terminal = pick(2) == 0 ? "TERM01"
                                  : "TERM\x01"
                                    "001";
    char stan[8];
    std::snprintf(stan, sizeof stan, "%06d", static_cast<int>(pick(5'000)));
    tx->stan = stan;
  }

  Transaction make_reversal() {
    Transaction tx;
    tx.id = new_id();
    tx.mti = "0400";
    last_card_ = -1;
    fill_key(&tx);
    const auto o = pick(100);
    std::string pan = cards_.cards[pick(cards_.cards.size())].pan;
    if (o < 75 && !recent_.empty()) {
      const auto& [id, orig_pan] =
          recent_[recent_.size() - 1 - pick(std::min<std::size_t>(recent_.size(), 40))];
      tx.orig_id = id;
      pan = orig_pan;
    } else if (o < 88 && !used_ids_.empty()) {
      const auto& [id, orig_pan] = used_ids_[pick(used_ids_.size())];  // often days old
      tx.orig_id = id;
      pan = orig_pan;
    } else if (o < 94) {
      tx.orig_id = cat("unknown-", digits(3));
    } else if (o < 97) {
      tx.orig_id = "bad/id";
    }  // else missing
    const auto p = pick(100);
    if (p < 10) {
      pan = cards_.cards[pick(cards_.cards.size())].pan;
    } else if (p < 14 && !pan.empty()) {
      pan = break_luhn(pan);
    }
    tx.pan = pan;
    if (pick(50) == 0) tx.amount = -1;  // not required for 0400: ignored
    return tx;
  }

  // A missing field or one of the wrong JSON type.
  void damage(Transaction* tx) {
    const auto f = static_cast<Field>(pick(static_cast<std::uint64_t>(Field::kCount)));
    switch (f) {
      case Field::kId:
        tx->id.reset();
        break;
      case Field::kMti:
        tx->mti.reset();
        break;
      case Field::kPan:
        tx->pan.reset();
        break;
      case Field::kProc:
        tx->proc.reset();
        break;
      case Field::kAmount:
        tx->amount.reset();
        break;
      case Field::kCurrency:
        tx->currency.reset();
        break;
      case Field::kBillingAmount:
        tx->billing_amount.reset();
        break;
      case Field::kBillingCurrency:
        tx->billing_currency.reset();
        break;
      case Field::kExpiry:
        tx->expiry.reset();
        break;
      case Field::kMcc:
        tx->mcc.reset();
        break;
      case Field::kStan:
        tx->stan.reset();
        break;
      case Field::kTerminal:
        tx->terminal.reset();
        break;
      case Field::kMerchant:
        tx->merchant.reset();
        break;
      case Field::kOrigId:
        tx->orig_id.reset();
        break;
      case Field::kTs:
        tx->ts.reset();
        break;
      case Field::kCount:
        break;
    }
    if (pick(2) == 0) tx->set_malformed(f);
  }

  void remember(const Transaction& tx) {
    if (tx.id) {
      used_ids_.emplace_back(*tx.id, tx.pan.value_or(""));
      recent_.emplace_back(*tx.id, tx.pan.value_or(""));
      if (recent_.size() > 200) recent_.erase(recent_.begin(), recent_.begin() + 100);
    }
    if (tx.terminal && tx.stan) {
      recent_keys_.push_back({{*tx.terminal, *tx.stan}, ts_ms_});
      if (recent_keys_.size() > 200)
        recent_keys_.erase(recent_keys_.begin(), recent_keys_.begin() + 100);
    }
    recent_ts_.push_back(ts_ms_);
    if (recent_ts_.size() > 400) recent_ts_.erase(recent_ts_.begin(), recent_ts_.begin() + 200);
  }

  std::mt19937_64 rng_;
  CardFile cards_;
  std::int64_t ts_ms_ = 0;
  int serial_ = 0;
  int burst_left_ = 0;
  std::size_t burst_card_ = 0;
  std::vector<std::pair<std::string, std::string>> used_ids_;  // id, pan
  std::vector<std::pair<std::string, std::string>> recent_;    // id, pan
  // (terminal, stan), ts
  std::vector<std::pair<std::pair<std::string, std::string>, std::int64_t>> recent_keys_;
  std::optional<std::pair<std::string, std::string>> forced_key_;  // for the next transaction
  std::vector<std::int64_t> recent_ts_;
  std::vector<std::vector<std::int64_t>> approvals_by_card_;  // last 10 approvals' ts
  std::vector<std::vector<std::int64_t>> cash_by_card_;       // last 5 cash approvals' ts
  int last_card_ = -1;  // card of the last transaction, if it used the card's PAN
  bool last_cash_ = false;
  int forced_card_ = -1;  // the next transaction probes this card's window edge
  bool forced_cash_ = false;
};

std::string describe(const Transaction& tx) {
  std::string s;
  auto add = [&](const char* name, const auto& v) {
    if (v) {
      s += std::string(name) + "=";
      if constexpr (std::is_same_v<std::decay_t<decltype(*v)>, std::string>) {
        s += std::string("\"") + *v + "\" ";
      } else {
        s += std::to_string(*v) + " ";
      }
    }
  };
  add("id", tx.id);
  add("mti", tx.mti);
  add("pan", tx.pan);  // test data only
  add("proc", tx.proc);
  add("amount", tx.amount);
  add("currency", tx.currency);
  add("billing_amount", tx.billing_amount);
  add("billing_currency", tx.billing_currency);
  add("expiry", tx.expiry);
  add("mcc", tx.mcc);
  add("stan", tx.stan);
  add("terminal", tx.terminal);
  add("merchant", tx.merchant);
  add("orig_id", tx.orig_id);
  s += cat("malformed=", std::to_string(tx.malformed_fields));
  return s;
}

TEST(DifferentialTest, EngineAgreesWithNaiveEngine) {
  const std::set<ResponseCode> expected = {ResponseCode::kApproved,
                                           ResponseCode::kInvalidTransaction,
                                           ResponseCode::kInvalidAmount,
                                           ResponseCode::kInvalidCardNumber,
                                           ResponseCode::kUnableToLocateOriginal,
                                           ResponseCode::kFormatError,
                                           ResponseCode::kLostCard,
                                           ResponseCode::kStolenCard,
                                           ResponseCode::kInsufficientFunds,
                                           ResponseCode::kExpiredCard,
                                           ResponseCode::kNoCardRecord,
                                           ResponseCode::kNotPermitted,
                                           ResponseCode::kExceedsWithdrawalLimit,
                                           ResponseCode::kRestrictedCard,
                                           ResponseCode::kExceedsFrequencyLimit,
                                           ResponseCode::kDuplicate};
  std::map<ResponseCode, int> seen;
  std::map<std::string, int> reversal_codes;
  const auto start = std::chrono::steady_clock::now();
  for (int run = 0; run < kRuns; ++run) {
    const std::uint64_t seed = kBaseSeed + static_cast<std::uint64_t>(run);
    Generator gen(seed);
    Engine engine(gen.cards());
    testing::NaiveEngine naive(gen.cards());
    for (int i = 0; i < kTransactionsPerRun; ++i) {
      Transaction tx;
      const std::int64_t ts = gen.next(&tx);
      const ResponseCode got = engine.apply(ts, tx);
      const ResponseCode want = naive.apply(ts, tx);
      gen.observe(want);
      ASSERT_EQ(got, want) << "seed " << seed << " (base " << kBaseSeed << " + run " << run
                           << "), transaction " << i << " at ts " << ts << ": " << describe(tx)
                           << "\nengine " << to_string(got) << ", naive " << to_string(want);
      ++seen[got];
      if (tx.mti == "0400") ++reversal_codes[to_string(got)];
    }
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  std::string summary;
  for (const auto& [code, n] : seen) summary += to_string(code) + cat(":", std::to_string(n)) + " ";
  std::string reversals;
  for (const auto& [code, n] : reversal_codes)
    reversals += code + cat(":", std::to_string(n)) + " ";
  std::printf("%d transactions in %lld ms\ncodes %s\n0400 codes %s\n", kRuns * kTransactionsPerRun,
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()),
              summary.c_str(), reversals.c_str());
  for (const ResponseCode code : expected) {
    EXPECT_GE(seen[code], 1) << "response code " << to_string(code) << " never occurred";
  }
  for (const char* code : {"00", "14", "25", "30"}) {
    EXPECT_GE(reversal_codes[code], 1) << "0400 never got " << code;
  }
}

// Not a benchmark (bench/ has those): a sanity check that one transaction
// costs well under a microsecond, with the time printed. Transactions are
// generated in small batches so they are in cache when applied, as they are
// right after decoding in a replica.
TEST(DifferentialTest, EngineThroughput) {
  Generator gen(kBaseSeed + 1, /*long_lived_cards=*/true);
  Engine engine(gen.cards());
  std::vector<std::pair<std::int64_t, Transaction>> batch(256);
  std::uint64_t approved = 0;
  std::uint64_t count = 0;
  std::chrono::nanoseconds spent{0};
  for (int round = 0; round < 1'000; ++round) {
    for (auto& [ts, tx] : batch) ts = gen.next(&tx);
    const auto start = std::chrono::steady_clock::now();
    for (const auto& [ts, tx] : batch) {
      approved += engine.apply(ts, tx) == ResponseCode::kApproved ? 1u : 0u;
    }
    spent += std::chrono::steady_clock::now() - start;
    // (No observe(): the probes need verdicts in order, and this only times.)
    count += batch.size();
  }
  std::printf("%llu transactions, %llu approved, %.1f ns per transaction (%s card index)\n",
              static_cast<unsigned long long>(count), static_cast<unsigned long long>(approved),
              static_cast<double>(spent.count()) / static_cast<double>(count), kCardIndexName);
  EXPECT_EQ(engine.applied_count(), count);
}

}  // namespace
}  // namespace triad::rules
