// The rules engine per rule family (rules.md sections 4 and 5). Each
// benchmark runs a stream of transactions that the engine decides at one
// family's rule, so its time is what a transaction decided there costs: the
// rules run in order, so every check before that rule is in it too, and so is
// the bookkeeping apply() does for every transaction (the id kept for
// reversals, the duplicate table, the expiry of the time windows).
// BM_RulesEnginePerTransaction (micro_bench.cc) is the sample traffic's mix.
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/response_code.h"
#include "rules/engine.h"
#include "rules/formats.h"
#include "triad/transaction.h"

namespace triad {
namespace {

constexpr std::size_t kCardCount = 1000;
constexpr std::size_t kStreamLength = 4096;
constexpr std::int64_t kStartTsMs = 1798761600000;  // 2027-01-01T00:00:00Z
// Apart enough that no card reaches rule 11's 10 approvals per 60 s when
// approvals go round the cards, close enough that a stream on one card
// (4,096 transactions, 41 s) stays inside that window.
constexpr std::int64_t kStepMs = 10;
constexpr std::int64_t kCardCreditLimit = 1'000'000'000;
constexpr std::int64_t kCardCashDailyLimit = 100'000;
constexpr std::uint16_t kBlockedMerchantCategory = 7995;

// A 16-digit PAN for `n` that passes the Luhn check (rules.md rule 3).
std::string valid_pan(std::uint64_t n) {
  char body[16];
  std::snprintf(body, sizeof body, "400000%09llu", static_cast<unsigned long long>(n));
  std::string pan(body);
  pan.push_back('0');
  while (!rules::format::luhn_ok(pan)) ++pan.back();  // one of ten digits fits
  return pan;
}

enum CardRole : std::size_t {
  kLostCard = kCardCount - 1,
  kSmallLimitCard = kCardCount - 2,
  kActiveCards = kCardCount - 2,  // cards 0 .. kActiveCards - 1 are plain active ones
};

rules::CardFile make_cards() {
  rules::CardFile file;
  for (std::size_t i = 0; i < kCardCount; ++i) {
    rules::CardRecord card;
    card.pan = valid_pan(i);
    card.expiry_yymm = 3012;
    card.currency = 840;  // USD
    card.credit_limit = i == kSmallLimitCard ? 1000 : kCardCreditLimit;
    card.cash_daily_limit = kCardCashDailyLimit;
    card.blocked_mccs = {kBlockedMerchantCategory};
    if (i == kLostCard) card.status = rules::CardStatus::kLost;
    file.cards.push_back(std::move(card));
  }
  return file;
}

std::string digits(std::uint64_t value, int width) {
  char text[24];
  std::snprintf(text, sizeof text, "%0*llu", width, static_cast<unsigned long long>(value));
  return text;
}

// A goods-and-services authorization on `card` that every rule approves; its
// (terminal, stan) is unique to `n`.
Transaction authorization(std::uint64_t n, std::size_t card) {
  Transaction tx;
  tx.id = "fam-" + std::to_string(n);
  tx.mti = "0100";
  tx.pan = valid_pan(card);
  tx.proc = "000000";
  tx.amount = 100;
  tx.currency = "840";
  tx.expiry = "3012";
  tx.mcc = "5411";
  tx.stan = digits(n % 1'000'000, 6);
  tx.terminal = digits(n / 1'000'000, 8);
  tx.merchant = "BENCH";
  return tx;
}

Transaction reversal(std::uint64_t n, std::size_t card, const std::string& orig_id) {
  Transaction tx = authorization(n, card);
  tx.mti = "0400";
  tx.orig_id = orig_id;
  return tx;
}

struct Stream {
  std::vector<Transaction> setup;  // applied, untimed, to each fresh engine
  std::vector<Transaction> timed;  // each decided with `expected`
  ResponseCode expected = ResponseCode::kApproved;
};

enum class Family {
  kFormat,             // rule 1: currency not in the table
  kProcessingCode,     // rule 2
  kCardNumber,         // rule 3: Luhn
  kCardRecord,         // rule 4: PAN not in the card file
  kCardStatus,         // rule 5: lost card
  kExpiry,             // rule 6: expiry differs from the card file's
  kBillingCurrency,    // rule 7: foreign currency without billing fields
  kAmount,             // rule 8: amount 0
  kBlockedMcc,         // rule 9
  kDuplicate,          // rule 10: same terminal and stan as an earlier one
  kFrequency,          // rule 11: the card's 10 approvals in the last 60 s
  kCashLimit,          // rule 12
  kInsufficientFunds,  // rule 13
  kApproved,           // rule 14, round the cards
  kReversal,           // section 5: the original found, its hold released
  kReversalUnknown,    // section 5 rule 3: no such original
};

// Ids of the setup continue from kSetupIds, the timed ones from 0, so the
// two never collide.
constexpr std::uint64_t kSetupIds = 10'000'000;

Stream make_stream(Family family) {
  Stream s;
  for (std::uint64_t n = 0; n < kStreamLength; ++n) {
    const std::size_t card = n % kActiveCards;
    Transaction tx = authorization(n, card);
    switch (family) {
      case Family::kFormat:
        tx.currency = "999";
        s.expected = ResponseCode::kFormatError;
        break;
      case Family::kProcessingCode:
        tx.proc = "200000";
        s.expected = ResponseCode::kInvalidTransaction;
        break;
      case Family::kCardNumber:
        tx.pan->back() = tx.pan->back() == '9' ? '0' : static_cast<char>(tx.pan->back() + 1);
        s.expected = ResponseCode::kInvalidCardNumber;
        break;
      case Family::kCardRecord:
        tx.pan = valid_pan(kCardCount + n);
        s.expected = ResponseCode::kNoCardRecord;
        break;
      case Family::kCardStatus:
        tx.pan = valid_pan(kLostCard);
        s.expected = ResponseCode::kLostCard;
        break;
      case Family::kExpiry:
        tx.expiry = "2901";
        s.expected = ResponseCode::kExpiredCard;
        break;
      case Family::kBillingCurrency:
        tx.currency = "978";  // EUR on a USD card, no billing_amount
        s.expected = ResponseCode::kFormatError;
        break;
      case Family::kAmount:
        tx.amount = 0;
        s.expected = ResponseCode::kInvalidAmount;
        break;
      case Family::kBlockedMcc:
        tx.mcc = std::to_string(kBlockedMerchantCategory);
        s.expected = ResponseCode::kNotPermitted;
        break;
      case Family::kDuplicate:
        tx.stan = "000001";
        tx.terminal = "TDUPLICA";
        if (n == 0) s.setup.push_back(tx);  // the earlier one, approved
        tx.id = "fam-dup-" + std::to_string(n);
        s.expected = ResponseCode::kDuplicate;
        break;
      case Family::kFrequency:
        tx.pan = valid_pan(0);
        if (n < 10) s.setup.push_back(authorization(kSetupIds + n, 0));
        s.expected = ResponseCode::kExceedsFrequencyLimit;
        break;
      case Family::kCashLimit:
        tx.proc = "010000";
        tx.amount = kCardCashDailyLimit + 1;
        s.expected = ResponseCode::kExceedsWithdrawalLimit;
        break;
      case Family::kInsufficientFunds:
        tx.pan = valid_pan(kSmallLimitCard);
        tx.amount = 1001;
        s.expected = ResponseCode::kInsufficientFunds;
        break;
      case Family::kApproved:
        s.expected = ResponseCode::kApproved;
        break;
      case Family::kReversal: {
        Transaction original = authorization(kSetupIds + n, card);
        tx = reversal(n, card, *original.id);
        s.setup.push_back(std::move(original));
        s.expected = ResponseCode::kApproved;
        break;
      }
      case Family::kReversalUnknown:
        tx = reversal(n, card, "no-such-" + std::to_string(n));
        s.expected = ResponseCode::kUnableToLocateOriginal;
        break;
    }
    s.timed.push_back(std::move(tx));
  }
  return s;
}

// Whether transaction n was decided `expected`; if not, the benchmark
// reports an error instead of a figure that would belong to another rule.
bool decided_as(benchmark::State& state, std::uint64_t n, ResponseCode code,
                ResponseCode expected) {
  if (code == expected) return true;
  state.SkipWithError(("transaction " + std::to_string(n) + " was decided " + to_string(code) +
                       ", not " + to_string(expected))
                          .c_str());
  return false;
}

// A fresh engine with the stream's setup applied; returns the ts to go on
// from.
std::unique_ptr<rules::Engine> fresh_engine(const rules::CardFile& cards, const Stream& stream,
                                            std::int64_t* ts_ms) {
  auto engine = std::make_unique<rules::Engine>(cards);
  *ts_ms = kStartTsMs;
  for (const Transaction& tx : stream.setup) {
    engine->apply(*ts_ms, tx);
    *ts_ms += kStepMs;
  }
  return engine;
}

void BM_RulesFamily(benchmark::State& state, Family family) {
  static const rules::CardFile cards = make_cards();
  const Stream stream = make_stream(family);
  // Every timed transaction must be decided where this family says, or the
  // figure would belong to another rule.
  std::int64_t ts_ms = 0;
  auto engine = fresh_engine(cards, stream, &ts_ms);
  for (std::size_t i = 0; i < stream.timed.size(); ++i) {
    const ResponseCode code =
        engine->apply(ts_ms + static_cast<std::int64_t>(i) * kStepMs, stream.timed[i]);
    if (!decided_as(state, i, code, stream.expected)) return;
  }
  engine = fresh_engine(cards, stream, &ts_ms);
  std::size_t i = 0;
  for (auto _ : state) {
    if (i == stream.timed.size()) {
      state.PauseTiming();
      engine = fresh_engine(cards, stream, &ts_ms);
      i = 0;
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(engine->apply(ts_ms, stream.timed[i]));
    ts_ms += kStepMs;
    ++i;
  }
  state.SetLabel(std::string("decided ") + std::string(to_string(stream.expected)));
}

BENCHMARK_CAPTURE(BM_RulesFamily, r01_format, Family::kFormat);
BENCHMARK_CAPTURE(BM_RulesFamily, r02_processing_code, Family::kProcessingCode);
BENCHMARK_CAPTURE(BM_RulesFamily, r03_card_number, Family::kCardNumber);
BENCHMARK_CAPTURE(BM_RulesFamily, r04_card_record, Family::kCardRecord);
BENCHMARK_CAPTURE(BM_RulesFamily, r05_card_status, Family::kCardStatus);
BENCHMARK_CAPTURE(BM_RulesFamily, r06_expiry, Family::kExpiry);
BENCHMARK_CAPTURE(BM_RulesFamily, r07_billing_currency, Family::kBillingCurrency);
BENCHMARK_CAPTURE(BM_RulesFamily, r08_amount, Family::kAmount);
BENCHMARK_CAPTURE(BM_RulesFamily, r09_blocked_mcc, Family::kBlockedMcc);
BENCHMARK_CAPTURE(BM_RulesFamily, r10_duplicate, Family::kDuplicate);
BENCHMARK_CAPTURE(BM_RulesFamily, r11_frequency, Family::kFrequency);
BENCHMARK_CAPTURE(BM_RulesFamily, r12_cash_limit, Family::kCashLimit);
BENCHMARK_CAPTURE(BM_RulesFamily, r13_insufficient_funds, Family::kInsufficientFunds);
BENCHMARK_CAPTURE(BM_RulesFamily, r14_approved, Family::kApproved);
BENCHMARK_CAPTURE(BM_RulesFamily, reversal_approved, Family::kReversal);
BENCHMARK_CAPTURE(BM_RulesFamily, reversal_unknown_original, Family::kReversalUnknown);

// The longest single apply() while the engine's tables grow: state.range(0)
// approved authorizations round the cards, each with a new id and a new
// (terminal, stan), so the id table, rule 10's table and the list of
// approvals all pass several doublings. A table that rehashed or copied
// everything when it grew made one apply() take time proportional to its
// size, in all three replicas at the same seq; the counters say how long
// the longest took and at which transaction.
void BM_RulesLongestApply(benchmark::State& state) {
  static const rules::CardFile cards = make_cards();
  const auto count = static_cast<std::uint64_t>(state.range(0));
  std::vector<Transaction> txs;
  txs.reserve(count);
  for (std::uint64_t n = 0; n < count; ++n) txs.push_back(authorization(n, n % kActiveCards));
  double longest_us = 0;
  double longest_at = 0;
  double total_us = 0;
  for (auto _ : state) {
    rules::Engine engine(cards);
    // kStepMs apart: 2.9 hours in all, so every one stays in rule 10's
    // one-day window.
    std::int64_t ts_ms = kStartTsMs;
    for (std::uint64_t n = 0; n < count; ++n) {
      const auto start = std::chrono::steady_clock::now();
      const ResponseCode code = engine.apply(ts_ms, txs[n]);
      ts_ms += kStepMs;
      const double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
              .count();
      total_us += us;
      if (us > longest_us) {
        longest_us = us;
        longest_at = static_cast<double>(n);
      }
      if (!decided_as(state, n, code, ResponseCode::kApproved)) return;
    }
  }
  state.counters["longest_apply_us"] = longest_us;
  state.counters["longest_at_tx"] = longest_at;
  state.counters["mean_apply_us"] =
      total_us / (static_cast<double>(count) * static_cast<double>(state.iterations()));
}
BENCHMARK(BM_RulesLongestApply)->Arg(1 << 20)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace triad
