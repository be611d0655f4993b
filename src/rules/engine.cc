// The rules engine: rules.md sections 4 and 5 as a deterministic state
// machine.
//
// Readings of rules.md this implementation commits to (each is tested in
// tests/rules/engine_test.cc):
//
// Input and order
// - The front end guarantees that ids are unique and that ts never goes
//   down. A lower ts than the previous call's is a bug and aborts
//   (TRIAD_ASSERT, on in every build). If an id repeats anyway, the first
//   transaction with that id is the one a reversal finds.
// - The transaction's own `ts` field is ignored; T is the sequenced ts_ms.
//
// Rule 1 (format)
// - "Always" fields: id (1..64 of [A-Za-z0-9._:-]), mti (4 digits), pan (1+
//   digits), stan (6 digits), terminal (exactly 8 bytes 0x20..0x7E).
// - 0100/0200 add: proc (6 digits), amount (integer 0..=999999999999),
//   currency (3 digits and in the table of section 3), expiry (YYMM, MM
//   01..12), mcc (4 digits), merchant (1..15 bytes 0x20..0x7E).
// - 0400 adds orig_id (same format as id). Any other well-formed mti needs
//   the always fields only, and then gets 12 (rule 2). A missing or
//   malformed mti is a 30.
// - A field whose bit is set in tx.malformed_fields is malformed. Fields not
//   required for the transaction at hand are ignored, bit or no bit.
//
// Rules 2 to 14 (0100/0200)
// - Rule 3: PAN length 12..19 and Luhn. Card file PANs outside that length
//   can therefore never be found.
// - Rule 6: expired iff the card's (2000+YY, MM) is before the UTC calendar
//   month of T; months computed with integer arithmetic for any int64 T.
//   The tx expiry is compared with the card file's as a number (both are
//   validated YYMM).
// - Rule 7 applies only when `currency` differs from the card's currency:
//   then billing_amount (integer 0..=999999999999) and billing_currency (3
//   digits) must both be present and well-formed, and billing_currency must
//   equal the card's currency, else 30; the account amount is then
//   billing_amount. When `currency` equals the card's, billing_* are ignored
//   whatever they hold.
// - Rule 8 looks at `amount` only: 0, or strictly more than 10^(6+exponent)
//   of `currency`, is 13. (An account amount of 0 via billing_amount is
//   allowed.)
// - Rule 10: every earlier 0100/0200 that passed rule 1 counts, whatever its
//   outcome (12, 14, 56, ..., 94 included); the current one is recorded
//   before its own later rules run. Reversals and other MTIs never count.
// - Rule 11: approved 0100/0200 of the card with ts in (T-60000, T], reversed
//   ones included. Since a card is only approved while it has fewer than 10
//   in the window, the count never exceeds 10.
// - Rule 12: cash is proc starting "01"; sum of account amounts of the
//   card's approved, not reversed cash transactions with ts in
//   (T-86400000, T]; 61 iff amount + sum > cash_daily_limit (equal is fine).
// - Rule 13: 51 iff account amount > credit_limit - holds, holds being the
//   account amounts of all approved, not reversed 0100/0200 of the card
//   (they never expire). Equal is approved.
// - "The card" is the card record found by PAN.
//
// 0400
// - 30 (always fields + orig_id), 14, then 25 if no earlier transaction has
//   id == orig_id (the reversal's own id is recorded only after the
//   lookup), or the first one with it is not an approved 0100/0200, or its
//   PAN string differs from the reversal's, or it is already reversed.
//   Otherwise 00: its hold is released and it leaves rules 12 and 13 (not
//   11). A reversal does not check card status or expiry.
// - Every transaction's id is recorded, whatever its mti and outcome, if it
//   is well-formed (a malformed id can never equal a well-formed orig_id).
//
// No overflow (all int64):
// - Amounts and limits are validated to 0..=999999999999 (< 2^40).
// - holds: only grows on approval, when amount <= credit_limit - holds, so
//   0 <= holds <= credit_limit always (asserted).
// - cash_in_window: likewise 0 <= cash_in_window <= cash_daily_limit.
// - Limit checks are written `amount > limit - sum`, where 0 <= sum <= limit
//   (the two invariants above), so every operand and result is in [0, 2^40).
// - Windows use in_window() (calendar.h), an unsigned difference that is
//   exact for any two int64 with earlier <= now, so T near INT64_MIN is fine.
// - Calendar arithmetic: see calendar.h.
//
// Speed: state is running sums per card plus three FIFO queues (rule 10
// keys, rule 11 approvals, rule 12 cash), evicted from the front as T
// advances, so each transaction costs O(1) amortised: a card lookup, one
// rule 10 table probe and one id table insert, with no allocation except
// when a container grows. Hash containers are only ever looked up, never
// iterated.
//
// Memory: the rule 10 table and the queues hold one day of traffic at most;
// the id table (about 40 bytes + the id per transaction) and the list of
// approvals (48 bytes each) grow for the engine's lifetime, because section
// 5 rule 3 puts no time limit on finding an original.
#include "rules/engine.h"

#include <algorithm>
#include <cstring>
#include <deque>
#include <limits>

#include "common/assert.h"
#include "rules/calendar.h"
#include "rules/card_index.h"
#include "rules/currency.h"
#include "rules/flat_map.h"
#include "rules/formats.h"
#include "rules/id_table.h"

namespace triad::rules {
namespace {

constexpr std::int64_t kDuplicateWindowMs = 86'400'000;
constexpr std::int64_t kFrequencyWindowMs = 60'000;
constexpr std::int64_t kCashWindowMs = 86'400'000;
constexpr std::uint32_t kFrequencyLimit = 10;
constexpr std::uint64_t kNotApproved = std::numeric_limits<std::uint64_t>::max();

struct CardState {
  std::int64_t credit_limit = 0;
  std::int64_t cash_daily_limit = 0;
  std::int64_t expiry_month = 0;  // expiry_month_index()
  std::uint16_t expiry_yymm = 0;
  std::uint16_t currency = 0;
  CardStatus status = CardStatus::kActive;
  std::vector<std::uint16_t> blocked_mccs;  // sorted
  std::int64_t holds = 0;                   // 0 ..= credit_limit
  std::int64_t cash_in_window = 0;          // 0 ..= cash_daily_limit
  std::uint32_t approvals_in_window = 0;    // 0 ..= kFrequencyLimit
};

// An approved 0100/0200.
struct Approval {
  PanKey pan;
  CardState* card = nullptr;
  std::int64_t ts_ms = 0;
  std::int64_t amount = 0;  // account amount, the hold
  bool cash = false;
  bool reversed = false;
};

// Rule 10 key: terminal (8 bytes) and stan (6 digits).
struct DuplicateKey {
  std::uint64_t terminal = 0;
  std::uint32_t stan = 0;
  friend bool operator==(const DuplicateKey&, const DuplicateKey&) = default;
};

struct DuplicateKeyHash {
  std::size_t operator()(const DuplicateKey& k) const noexcept {
    std::uint64_t x = k.terminal ^ (static_cast<std::uint64_t>(k.stan) * 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return static_cast<std::size_t>(x ^ (x >> 31));
  }
};

enum class Kind : std::uint8_t { kAuthorization, kReversal, kOther };

// Present, not flagged malformed, and passing `check`.
template <class Check>
bool string_ok(const Transaction& tx, Field field, const std::optional<std::string>& value,
               Check check) {
  return !tx.is_malformed(field) && value.has_value() && check(std::string_view(*value));
}

bool integer_ok(const Transaction& tx, Field field, const std::optional<std::int64_t>& value) {
  return !tx.is_malformed(field) && value.has_value() && format::is_amount(*value);
}

bool is_pan(std::string_view s) { return format::is_digits(s); }
bool is_stan(std::string_view s) { return format::is_n_digits(s, 6); }
bool is_terminal(std::string_view s) { return s.size() == 8 && format::is_printable(s); }
bool is_merchant(std::string_view s) {
  return !s.empty() && s.size() <= 15 && format::is_printable(s);
}
bool is_supported_currency(std::string_view s) {
  return format::is_n_digits(s, 3) &&
         currency_exponent(static_cast<std::uint16_t>(format::digits_value(s))) >= 0;
}

// Rule 3: length 12..19 and Luhn.
bool is_valid_card_number(std::string_view pan) {
  return pan.size() >= 12 && pan.size() <= 19 && format::luhn_ok(pan);
}

}  // namespace

struct Engine::State {
  explicit State(std::vector<std::pair<PanKey, CardState>> cards) : index(std::move(cards)) {}

  CardIndex<CardState> index;
  std::uint64_t applied = 0;
  bool any_applied = false;
  std::int64_t last_ts_ms = 0;

  // id -> index in `approvals`, or kNotApproved. First id wins.
  IdTable ids;
  std::vector<Approval> approvals;

  // Rule 10: newest ts per key within the window, and the FIFO that evicts.
  struct DuplicateEntry {
    std::int64_t ts_ms;
    DuplicateKey key;
  };
  FlatMap<DuplicateKey, std::int64_t, DuplicateKeyHash> duplicate_last_ts;
  std::deque<DuplicateEntry> duplicate_fifo;

  // Rule 11: approvals in (T-60000, T], in ts order.
  struct FrequencyEntry {
    std::int64_t ts_ms;
    CardState* card;
  };
  std::deque<FrequencyEntry> frequency_fifo;

  // Rule 12: approved cash transactions in (T-86400000, T], in ts order.
  struct CashEntry {
    std::int64_t ts_ms;
    std::uint64_t approval;
  };
  std::deque<CashEntry> cash_fifo;

  void evict(std::int64_t now_ms);
  // Records this (terminal, stan) at now_ms; returns whether an earlier one
  // lies in the rule 10 window.
  bool note_duplicate(std::int64_t now_ms, std::string_view terminal, std::string_view stan);
  ResponseCode decide(std::int64_t now_ms, const Transaction& tx, std::uint64_t* approval);
  ResponseCode decide_authorization(std::int64_t now_ms, const Transaction& tx,
                                    std::uint64_t* approval);
  ResponseCode decide_reversal(std::int64_t now_ms, const Transaction& tx);
};

void Engine::State::evict(std::int64_t now_ms) {
  while (!duplicate_fifo.empty() &&
         !in_window(duplicate_fifo.front().ts_ms, now_ms, kDuplicateWindowMs)) {
    // The map holds the newest ts of the key; erase it once that one left
    // the window too. (A later entry of the same key may already have done
    // so, in this same loop.)
    const DuplicateKey& key = duplicate_fifo.front().key;
    const std::int64_t* last = duplicate_last_ts.find(key);
    if (last != nullptr && !in_window(*last, now_ms, kDuplicateWindowMs)) {
      duplicate_last_ts.erase(key);
    }
    duplicate_fifo.pop_front();
  }
  while (!frequency_fifo.empty() &&
         !in_window(frequency_fifo.front().ts_ms, now_ms, kFrequencyWindowMs)) {
    CardState* card = frequency_fifo.front().card;
    TRIAD_ASSERT(card->approvals_in_window > 0);
    --card->approvals_in_window;
    frequency_fifo.pop_front();
  }
  while (!cash_fifo.empty() && !in_window(cash_fifo.front().ts_ms, now_ms, kCashWindowMs)) {
    const Approval& a = approvals[cash_fifo.front().approval];
    if (!a.reversed) {
      a.card->cash_in_window -= a.amount;
      TRIAD_ASSERT(a.card->cash_in_window >= 0);
    }
    cash_fifo.pop_front();
  }
}

bool Engine::State::note_duplicate(std::int64_t now_ms, std::string_view terminal,
                                   std::string_view stan) {
  DuplicateKey key;
  static_assert(sizeof key.terminal == 8);
  std::memcpy(&key.terminal, terminal.data(), 8);
  key.stan = static_cast<std::uint32_t>(format::digits_value(stan));
  const auto [last, inserted] = duplicate_last_ts.try_emplace(key, now_ms);
  // Entries still in the map are in the window (evict() ran for now_ms).
  const bool seen = !inserted;
  *last = now_ms;
  duplicate_fifo.push_back({now_ms, key});
  return seen;
}

ResponseCode Engine::State::decide(std::int64_t now_ms, const Transaction& tx,
                                   std::uint64_t* approval) {
  // Rule 1, the fields every MTI needs.
  if (!string_ok(tx, Field::kId, tx.id, format::is_transaction_id) ||
      !string_ok(tx, Field::kMti, tx.mti,
                 [](std::string_view s) { return format::is_n_digits(s, 4); }) ||
      !string_ok(tx, Field::kPan, tx.pan, is_pan) ||
      !string_ok(tx, Field::kStan, tx.stan, is_stan) ||
      !string_ok(tx, Field::kTerminal, tx.terminal, is_terminal)) {
    return ResponseCode::kFormatError;
  }
  Kind kind = Kind::kOther;
  if (*tx.mti == "0100" || *tx.mti == "0200") {
    kind = Kind::kAuthorization;
  } else if (*tx.mti == "0400") {
    kind = Kind::kReversal;
  }
  switch (kind) {
    case Kind::kAuthorization:
      return decide_authorization(now_ms, tx, approval);
    case Kind::kReversal:
      return decide_reversal(now_ms, tx);
    case Kind::kOther:
      break;
  }
  return ResponseCode::kInvalidTransaction;  // rule 2
}

ResponseCode Engine::State::decide_authorization(std::int64_t now_ms, const Transaction& tx,
                                                 std::uint64_t* approval) {
  // 1. Format.
  if (!string_ok(tx, Field::kProc, tx.proc,
                 [](std::string_view s) { return format::is_n_digits(s, 6); }) ||
      !integer_ok(tx, Field::kAmount, tx.amount) ||
      !string_ok(tx, Field::kCurrency, tx.currency, is_supported_currency) ||
      !string_ok(tx, Field::kExpiry, tx.expiry,
                 [](std::string_view s) { return format::parse_yymm(s).has_value(); }) ||
      !string_ok(tx, Field::kMcc, tx.mcc,
                 [](std::string_view s) { return format::is_n_digits(s, 4); }) ||
      !string_ok(tx, Field::kMerchant, tx.merchant, is_merchant)) {
    return ResponseCode::kFormatError;
  }
  // Passed rule 1: counts for rule 10 from now on, whatever the outcome.
  const bool duplicate = note_duplicate(now_ms, *tx.terminal, *tx.stan);

  // 2. Processing code.
  const std::string_view proc = *tx.proc;
  const bool cash = proc.starts_with("01");
  if (!cash && !proc.starts_with("00")) return ResponseCode::kInvalidTransaction;

  // 3. Card number.
  const std::string_view pan = *tx.pan;
  if (!is_valid_card_number(pan)) return ResponseCode::kInvalidCardNumber;
  const std::optional<PanKey> pan_key = make_pan_key(pan);
  TRIAD_ASSERT(pan_key.has_value());

  // 4. Card record.
  CardState* card = index.find(*pan_key);
  if (card == nullptr) return ResponseCode::kNoCardRecord;

  // 5. Status.
  switch (card->status) {
    case CardStatus::kActive:
      break;
    case CardStatus::kLost:
      return ResponseCode::kLostCard;
    case CardStatus::kStolen:
      return ResponseCode::kStolenCard;
    case CardStatus::kBlocked:
      return ResponseCode::kRestrictedCard;
  }

  // 6. Expiry.
  const std::optional<std::uint16_t> expiry = format::parse_yymm(*tx.expiry);
  if (*expiry != card->expiry_yymm || card->expiry_month < utc_month_index(now_ms)) {
    return ResponseCode::kExpiredCard;
  }

  // 7. Foreign currency needs billing fields in the card's currency.
  const auto currency = static_cast<std::uint16_t>(format::digits_value(*tx.currency));
  const std::int64_t amount = *tx.amount;
  std::int64_t account_amount = amount;
  if (currency != card->currency) {
    if (!integer_ok(tx, Field::kBillingAmount, tx.billing_amount) ||
        !string_ok(tx, Field::kBillingCurrency, tx.billing_currency,
                   [](std::string_view s) { return format::is_n_digits(s, 3); }) ||
        format::digits_value(*tx.billing_currency) != card->currency) {
      return ResponseCode::kFormatError;
    }
    account_amount = *tx.billing_amount;
  }

  // 8. Amount.
  if (amount == 0 || amount > max_transaction_amount(currency_exponent(currency))) {
    return ResponseCode::kInvalidAmount;
  }

  // 9. Blocked merchant category.
  const auto mcc = static_cast<std::uint16_t>(format::digits_value(*tx.mcc));
#if TRIAD_RULES_TEST_FAULT
  // Test-only build (triad-replica-faulty): rule 9 is skipped, so the
  // differential test can show that it catches a divergent build.
  static_cast<void>(mcc);
#else
  if (std::binary_search(card->blocked_mccs.begin(), card->blocked_mccs.end(), mcc)) {
    return ResponseCode::kNotPermitted;
  }
#endif

  // 10. Duplicate transmission.
  if (duplicate) return ResponseCode::kDuplicate;

  // 11. Frequency.
  if (card->approvals_in_window >= kFrequencyLimit) return ResponseCode::kExceedsFrequencyLimit;

  // 12. Daily cash.
  if (cash && account_amount > card->cash_daily_limit - card->cash_in_window) {
    return ResponseCode::kExceedsWithdrawalLimit;
  }

  // 13. Credit.
  if (account_amount > card->credit_limit - card->holds) return ResponseCode::kInsufficientFunds;

  // 14. Approved: place the hold.
  card->holds += account_amount;
  TRIAD_ASSERT(card->holds <= card->credit_limit);
  *approval = approvals.size();
  approvals.push_back({*pan_key, card, now_ms, account_amount, cash, false});
  ++card->approvals_in_window;
  TRIAD_ASSERT(card->approvals_in_window <= kFrequencyLimit);
  frequency_fifo.push_back({now_ms, card});
  if (cash) {
    card->cash_in_window += account_amount;
    TRIAD_ASSERT(card->cash_in_window <= card->cash_daily_limit);
    cash_fifo.push_back({now_ms, *approval});
  }
  return ResponseCode::kApproved;
}

ResponseCode Engine::State::decide_reversal(std::int64_t now_ms, const Transaction& tx) {
  // 1. Format.
  if (!string_ok(tx, Field::kOrigId, tx.orig_id, format::is_transaction_id)) {
    return ResponseCode::kFormatError;
  }
  // 2. Card number.
  const std::string_view pan = *tx.pan;
  if (!is_valid_card_number(pan)) return ResponseCode::kInvalidCardNumber;

  // 3. The original.
  const std::uint64_t* found = ids.find(*tx.orig_id);
  if (found == nullptr || *found == kNotApproved) return ResponseCode::kUnableToLocateOriginal;
  Approval& original = approvals[*found];
  if (original.reversed || original.pan != make_pan_key(pan)) {
    return ResponseCode::kUnableToLocateOriginal;
  }

  // 4. Release the hold; leave rules 12 and 13 (rule 11 keeps counting it).
  original.reversed = true;
  CardState* card = original.card;
  card->holds -= original.amount;
  TRIAD_ASSERT(card->holds >= 0);
  if (original.cash && in_window(original.ts_ms, now_ms, kCashWindowMs)) {
    card->cash_in_window -= original.amount;
    TRIAD_ASSERT(card->cash_in_window >= 0);
  }
  return ResponseCode::kApproved;
}

namespace {

std::vector<std::pair<PanKey, CardState>> make_card_states(const CardFile& file) {
  std::vector<std::pair<PanKey, CardState>> cards;
  cards.reserve(file.cards.size());
  for (const CardRecord& r : file.cards) {
    // The parser validated all of this; a CardFile built otherwise must
    // hold to the same rules.
    TRIAD_ASSERT(format::is_digits(r.pan));
    TRIAD_ASSERT(currency_exponent(r.currency) >= 0);
    TRIAD_ASSERT(r.expiry_yymm % 100 >= 1 && r.expiry_yymm % 100 <= 12 && r.expiry_yymm <= 9912);
    TRIAD_ASSERT(format::is_amount(r.credit_limit) && format::is_amount(r.cash_daily_limit));
    TRIAD_ASSERT(std::is_sorted(r.blocked_mccs.begin(), r.blocked_mccs.end()));
    const std::optional<PanKey> key = make_pan_key(r.pan);
    if (!key) continue;  // longer than 19 digits: rule 3 rejects such a PAN first
    CardState card;
    card.credit_limit = r.credit_limit;
    card.cash_daily_limit = r.cash_daily_limit;
    card.expiry_yymm = r.expiry_yymm;
    card.expiry_month = expiry_month_index(r.expiry_yymm);
    card.currency = r.currency;
    card.status = r.status;
    card.blocked_mccs = r.blocked_mccs;
    cards.emplace_back(*key, std::move(card));
  }
  return cards;
}

}  // namespace

Engine::Engine(const CardFile& cards) : state_(std::make_unique<State>(make_card_states(cards))) {}

Engine::~Engine() = default;

ResponseCode Engine::apply(std::int64_t ts_ms, const Transaction& tx) {
  State& s = *state_;
  TRIAD_ASSERT(!s.any_applied || ts_ms >= s.last_ts_ms);
  s.any_applied = true;
  s.last_ts_ms = ts_ms;
  ++s.applied;
  const bool record_id = tx.id && !tx.is_malformed(Field::kId) && format::is_transaction_id(*tx.id);
  const std::uint64_t id_hash = record_id ? s.ids.hash_and_prefetch(*tx.id) : 0;
  s.evict(ts_ms);

  std::uint64_t approval = kNotApproved;
  const ResponseCode code = s.decide(ts_ms, tx, &approval);
  // Record the id for reversal lookups (after the lookup a 0400 made).
  if (record_id) s.ids.insert_if_absent(*tx.id, id_hash, approval);
  return code;
}

std::uint64_t Engine::applied_count() const { return state_->applied; }

}  // namespace triad::rules
