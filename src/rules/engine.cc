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
// when a container grows. Hash containers are only looked up, never
// iterated: serialize() writes the lists and FIFOs in the order they were
// made, and restore() rebuilds the tables (see "Snapshots").
//
// Memory: the rule 10 table and the queues hold one day of traffic at most;
// the id table (about 40 bytes + the id per transaction), the list of
// approvals (48 bytes each) and the log of reversals (8 bytes each, for
// checkpoints) grow for the engine's lifetime, because section 5 rule 3
// puts no time limit on finding an original.
#include "rules/engine.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/assert.h"
#include "rules/calendar.h"
#include "rules/card_index.h"
#include "rules/chunked_vector.h"
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
  std::uint32_t ordinal = 0;                // position in the card file, from 0
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

std::vector<std::pair<PanKey, std::uint32_t>> card_positions(const CardFile& file);

struct Engine::State {
  State(const CardFile& file, const TableHashKey& key);
  const TableHashKey table_key;  // of `ids` and `duplicate_last_ts`
  // Approvals and the windows point into `cards`: a copy would point into
  // the original.
  State(const State&) = delete;
  State& operator=(const State&) = delete;

  // PAN -> the card's position in `cards`. A PAN of more than 19 digits has
  // no PanKey and is never found (rule 3 refuses such a PAN first); its card
  // keeps its initial state.
  CardIndex<std::uint32_t> index;
  // Every card of the card file, in file order, and its PAN: card i's is
  // pan_text[pan_starts[i], pan_starts[i + 1]). Never resized after
  // construction, so pointers to cards stay valid. In file order and in one
  // block each so that a checkpoint's page of cards is a run of memory: read
  // through a pointer per card into the index and a PAN string each, with a
  // million cards, the cache misses were most of a page's cost.
  std::vector<CardState> cards;
  std::string pan_text;
  std::vector<std::size_t> pan_starts;
  std::string_view pan_of(std::size_t card) const {
    return std::string_view(pan_text).substr(pan_starts[card],
                                             pan_starts[card + 1] - pan_starts[card]);
  }
  std::uint64_t applied = 0;
  bool any_applied = false;
  std::int64_t last_ts_ms = 0;

  // id -> index in `approvals`, or kNotApproved. First id wins.
  IdTable ids;
  ChunkedVector<Approval> approvals;
  // Since Engine::forget_changes(); not state, so not serialized: approval
  // numbers in the order reversed, and the cards whose running sums changed,
  // each once.
  std::vector<std::uint64_t> reversed_approvals;
  std::vector<std::uint32_t> changed_cards;
  std::vector<bool> card_changed;  // by card number
  void note_changed(const CardState& card) {
    if (card_changed.empty()) card_changed.resize(cards.size());
    if (card_changed[card.ordinal]) return;
    card_changed[card.ordinal] = true;
    changed_cards.push_back(card.ordinal);
  }

  // Rule 10: newest ts per key within the window, and the FIFO that evicts.
  struct DuplicateEntry {
    std::int64_t ts_ms;
    DuplicateKey key;
  };
  FlatMap<DuplicateKey, std::int64_t, DuplicateKeyHash> duplicate_last_ts;
  ChunkedFifo<DuplicateEntry> duplicate_fifo;
  std::uint64_t duplicate_pushed = 0;  // Engine::duplicate_fifo_pushed; not state

  // Rule 11: approvals in (T-60000, T], in ts order.
  struct FrequencyEntry {
    std::int64_t ts_ms;
    CardState* card;
  };
  ChunkedFifo<FrequencyEntry> frequency_fifo;

  // Rule 12: approved cash transactions in (T-86400000, T], in ts order.
  struct CashEntry {
    std::int64_t ts_ms;
    std::uint64_t approval;
  };
  ChunkedFifo<CashEntry> cash_fifo;

  void evict(std::int64_t now_ms);
  // Records this (terminal, stan) at now_ms; returns whether an earlier one
  // lies in the rule 10 window.
  bool note_duplicate(std::int64_t now_ms, std::string_view terminal, std::string_view stan);
  ResponseCode decide(std::int64_t now_ms, const Transaction& tx, std::uint64_t* approval);
  ResponseCode decide_authorization(std::int64_t now_ms, const Transaction& tx,
                                    std::uint64_t* approval);
  ResponseCode decide_reversal(std::int64_t now_ms, const Transaction& tx);

  // The card file this state was built from (immutable card fields only).
  CardFile card_file() const;
  void serialize(std::string* out) const;
  void append_head(std::string* out) const;
  void append_cards(std::uint64_t first, std::uint64_t end, std::string* out) const;
  void append_approvals(std::uint64_t first, std::uint64_t end, std::string* out) const;
  void append_ids(std::uint64_t first, std::uint64_t end, std::string* out) const;
  void append_duplicate_fifo(std::uint64_t first, std::uint64_t end, std::string* out) const;
  // Loads a snapshot into this freshly built state (see Engine::restore).
  Status load(std::string_view bytes);
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
    note_changed(*card);
    frequency_fifo.pop_front();
  }
  while (!cash_fifo.empty() && !in_window(cash_fifo.front().ts_ms, now_ms, kCashWindowMs)) {
    const Approval& a = approvals[cash_fifo.front().approval];
    if (!a.reversed) {
      a.card->cash_in_window -= a.amount;
      TRIAD_ASSERT(a.card->cash_in_window >= 0);
      note_changed(*a.card);
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
  ++duplicate_pushed;
  return seen;
}

ResponseCode Engine::State::decide(std::int64_t now_ms, const Transaction& tx,
                                   std::uint64_t* approval) {
  // Rule 1, the fields every MTI needs.
  if (!string_ok(tx, Field::kId, tx.id, is_valid_transaction_id) ||
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
  const std::uint32_t* position = index.find(*pan_key);
  if (position == nullptr) return ResponseCode::kNoCardRecord;
  CardState* card = &cards[*position];

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
  note_changed(*card);
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
  if (!string_ok(tx, Field::kOrigId, tx.orig_id, is_valid_transaction_id)) {
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
  reversed_approvals.push_back(*found);
  CardState* card = original.card;
  note_changed(*card);
  card->holds -= original.amount;
  TRIAD_ASSERT(card->holds >= 0);
  if (original.cash && in_window(original.ts_ms, now_ms, kCashWindowMs)) {
    card->cash_in_window -= original.amount;
    TRIAD_ASSERT(card->cash_in_window >= 0);
  }
  return ResponseCode::kApproved;
}

namespace {

CardState make_card_state(const CardRecord& r, std::size_t ordinal) {
  CardState card;
  card.credit_limit = r.credit_limit;
  card.cash_daily_limit = r.cash_daily_limit;
  card.expiry_yymm = r.expiry_yymm;
  card.expiry_month = expiry_month_index(r.expiry_yymm);
  card.currency = r.currency;
  card.status = r.status;
  card.blocked_mccs = r.blocked_mccs;
  card.ordinal = static_cast<std::uint32_t>(ordinal);
  return card;
}

}  // namespace

std::vector<std::pair<PanKey, std::uint32_t>> card_positions(const CardFile& file) {
  TRIAD_ASSERT(file.cards.size() <= std::numeric_limits<std::uint32_t>::max());
  std::vector<std::pair<PanKey, std::uint32_t>> positions;
  positions.reserve(file.cards.size());
  for (std::size_t i = 0; i < file.cards.size(); ++i) {
    const std::optional<PanKey> key = make_pan_key(file.cards[i].pan);
    if (!key) continue;  // longer than 19 digits: rule 3 rejects such a PAN first
    positions.emplace_back(*key, static_cast<std::uint32_t>(i));
  }
  return positions;
}

Engine::State::State(const CardFile& file, const TableHashKey& key)
    : table_key(key), index(card_positions(file)), ids(key), duplicate_last_ts(1024, {key}) {
  cards.reserve(file.cards.size());
  pan_starts.reserve(file.cards.size() + 1);
  pan_starts.push_back(0);
  for (std::size_t i = 0; i < file.cards.size(); ++i) {
    const CardRecord& r = file.cards[i];
    // The parser validated all of this; a CardFile built otherwise must
    // hold to the same rules.
    TRIAD_ASSERT(format::is_digits(r.pan));
    TRIAD_ASSERT(currency_exponent(r.currency) >= 0);
    TRIAD_ASSERT(r.expiry_yymm % 100 >= 1 && r.expiry_yymm % 100 <= 12 && r.expiry_yymm <= 9912);
    TRIAD_ASSERT(format::is_amount(r.credit_limit) && format::is_amount(r.cash_daily_limit));
    TRIAD_ASSERT(std::is_sorted(r.blocked_mccs.begin(), r.blocked_mccs.end()));
    cards.push_back(make_card_state(r, i));
    pan_text += r.pan;
    pan_starts.push_back(pan_text.size());
  }
}

CardFile Engine::State::card_file() const {
  CardFile file;
  file.cards.reserve(cards.size());
  for (std::size_t i = 0; i < cards.size(); ++i) {
    const CardState& c = cards[i];
    file.cards.push_back({std::string(pan_of(i)), c.expiry_yymm, c.status, c.currency,
                          c.credit_limit, c.cash_daily_limit, c.blocked_mccs});
  }
  return file;
}

Engine::Engine(const CardFile& cards) : Engine(cards, TableHashKey::per_process()) {}

Engine::Engine(const CardFile& cards, const TableHashKey& table_key)
    : state_(std::make_unique<State>(cards, table_key)) {}

Engine::~Engine() = default;

ResponseCode Engine::apply(std::int64_t ts_ms, const Transaction& tx) {
  State& s = *state_;
  TRIAD_ASSERT(!s.any_applied || ts_ms >= s.last_ts_ms);
  s.any_applied = true;
  s.last_ts_ms = ts_ms;
  ++s.applied;
  const bool record_id = tx.id && !tx.is_malformed(Field::kId) && is_valid_transaction_id(*tx.id);
  const std::uint64_t id_hash = record_id ? s.ids.hash_and_prefetch(*tx.id) : 0;
  s.evict(ts_ms);

  std::uint64_t approval = kNotApproved;
  const ResponseCode code = s.decide(ts_ms, tx, &approval);
  // Record the id for reversal lookups (after the lookup a 0400 made).
  if (record_id) s.ids.insert_if_absent(*tx.id, id_hash, approval);
  return code;
}

std::uint64_t Engine::applied_count() const { return state_->applied; }

bool Engine::accepts_ts(std::int64_t ts_ms) const {
  return !state_->any_applied || ts_ms >= state_->last_ts_ms;
}

// ---------------------------------------------------------------------------
// Snapshots (design.md principles 3 and 7).
//
// Layout, format version 3 (2 also wrote the rule 10 table and the rule 11
// and 12 FIFOs after the rule 10 FIFO; 1 wrote the ids in ascending order
// of their bytes). Integers are fixed-width big-endian, i64 in two's
// complement; "card" is a position in the card file (u32, from 0);
// "approval" an index into the list of approvals (u64, from 0).
//
//   header      18 bytes "triad-engine-state", u32 format version (3),
//               u32 rules version (kRulesVersion)
//   counters    u64 applied_count, u8 1 if any transaction was applied else 0,
//               i64 ts of the last one (0 when none)
//   cards       u32 count, then per card of the card file, in file order:
//               u32 n + n bytes PAN digits, u16 expiry YYMM, i64 expiry month
//               index (calendar.h), u8 status (0 A, 1 L, 2 S, 3 B),
//               u16 currency, i64 credit_limit, i64 cash_daily_limit,
//               u32 n + n u16 blocked MCCs (ascending), i64 holds,
//               i64 cash_in_window, u32 approvals_in_window
//   approvals   u64 count, then per approval, in the order they were made:
//               u32 card, u8 PAN length + u64 PAN value (PanKey),
//               i64 ts, i64 account amount, u8 flags (bit 0 cash, bit 1
//               reversed)
//   ids         u64 count, then per recorded transaction id, in the order
//               they were first recorded (seq order): u8 n + n bytes id,
//               u64 approval (2^64-1: the transaction was not approved)
//   rule 10     u64 count, then per entry, oldest first: i64 ts,
//     FIFO      8 bytes terminal, u32 stan
//   (nothing after)
//
// What the engine keeps is written, derived values included (running sums,
// the expiry month), so a checkpoint digest also catches memory that went
// wrong in them, except three tables that follow wholly from what is
// written: the rule 10 table (each key's newest ts in the rule 10 FIFO) and
// the rule 11 and 12 FIFOs (the approvals, rule 12's the cash ones, within
// their window of the last ts). restore() rebuilds them. Written (format
// 2), they had to be checked against what they follow from, which a
// repair's source and the front end each did in one go, holding every
// decision for 59-310 ms per million rule 10 entries (bench/README.md).
// Layout is left out too (pointers become card and approval numbers;
// hash-table capacities, probe order, cached hashes and the id arena are
// not state). The ids are written in the order they were recorded, which
// every replica shares: it follows the seqs applied, and a restored engine
// keeps the order of its snapshot. Cards with a PAN of more than 19 digits
// are written like the others; they always keep their initial state.
//
// restore() reads a snapshot into a fresh State built from the engine's own
// card file, checks every length against the bytes left before trusting it
// and every value against the invariants apply() keeps (running sums equal
// to what the approvals and windows give, the rule 10 FIFO in ts order and
// within its window of the last ts, ids unique and well-formed, ...), and
// swaps the new state in only when all of it holds.
//
// Cost: linear in the state, which grows with the history (ids and
// approvals are kept for the engine's lifetime). No per-transaction work is
// added to apply(). The ids, the largest part, are copied in the order they
// are stored (BM_EngineSerializeCheckpoint).

namespace {

constexpr std::string_view kSnapshotTag = "triad-engine-state";
constexpr std::uint32_t kSnapshotFormatVersion = 3;

// Fixed part of each entry, for sizing the output and capping counts read.
constexpr std::size_t kCardFixedBytes = 4 + 2 + 8 + 1 + 2 + 8 + 8 + 4 + 8 + 8 + 4;
constexpr std::size_t kApprovalBytes = 4 + 1 + 8 + 8 + 8 + 1;
constexpr std::size_t kIdFixedBytes = 1 + 8;
constexpr std::size_t kDuplicateFifoBytes = 8 + 8 + 4;
static_assert(Engine::kDuplicateFifoEntryBytes == kDuplicateFifoBytes);

constexpr std::uint8_t kFlagCash = 1;
constexpr std::uint8_t kFlagReversed = 2;

// Writes into a buffer already sized to what will be written.
class Writer {
 public:
  explicit Writer(char* p) : p_(p) {}
  void u8(std::uint8_t v) { put<1>(v); }
  void u16(std::uint16_t v) { put<2>(v); }
  void u32(std::uint32_t v) { put<4>(v); }
  void u64(std::uint64_t v) { put<8>(v); }
  void i64(std::int64_t v) { put<8>(static_cast<std::uint64_t>(v)); }
  void bytes(const void* data, std::size_t n) {
    if (n == 0) return;
    std::memcpy(p_, data, n);
    p_ += n;
  }
  const char* position() const { return p_; }

 private:
  template <unsigned N>
  void put(std::uint64_t v) {
    for (unsigned i = N; i-- > 0;)
      *p_++ = static_cast<char>(static_cast<unsigned char>(v >> (8 * i)));
  }
  char* p_;
};

// Reads a snapshot; every read checks the bytes left first. The first
// failure is kept as a Corruption naming the offset and what was expected.
class Reader {
 public:
  explicit Reader(std::string_view bytes) : bytes_(bytes) {}

  bool u8(std::uint8_t* v, const char* what) { return get<1>(v, what); }
  bool u16(std::uint16_t* v, const char* what) { return get<2>(v, what); }
  bool u32(std::uint32_t* v, const char* what) { return get<4>(v, what); }
  bool u64(std::uint64_t* v, const char* what) { return get<8>(v, what); }
  bool i64(std::int64_t* v, const char* what) {
    std::uint64_t u = 0;
    if (!get<8>(&u, what)) return false;
    *v = static_cast<std::int64_t>(u);
    return true;
  }
  bool bytes(std::size_t n, std::string_view* v, const char* what) {
    if (remaining() < n) return truncated(what);
    *v = bytes_.substr(pos_, n);
    pos_ += n;
    return true;
  }
  // A count (u32 or u64) of entries of at least `min_bytes` each, refused
  // when the bytes left cannot hold that many: no length read from the input
  // can make the caller allocate more than the input's size.
  template <class T>
  bool count(T* n, std::size_t min_bytes, const char* what) {
    std::uint64_t v = 0;
    if (!get<sizeof(T)>(&v, what)) return false;
    if (v > remaining() / min_bytes) {
      return fail(std::string(what) + " " + std::to_string(v) + " is more than the " +
                  std::to_string(remaining()) + " bytes left can hold");
    }
    *n = static_cast<T>(v);
    return true;
  }

  std::size_t remaining() const { return bytes_.size() - pos_; }
  std::size_t offset() const { return pos_; }
  bool fail(const std::string& reason) {
    if (message_.empty()) message_ = "engine snapshot: " + reason;
    return false;
  }
  Status error() const { return Status::corruption(message_); }

 private:
  template <unsigned N, class T>
  bool get(T* v, const char* what) {
    if (remaining() < N) return truncated(what);
    std::uint64_t x = 0;
    for (unsigned i = 0; i < N; ++i) x = x << 8 | static_cast<unsigned char>(bytes_[pos_ + i]);
    pos_ += N;
    *v = static_cast<T>(x);
    return true;
  }
  bool truncated(const char* what) {
    return fail("truncated at byte " + std::to_string(pos_) + " of " +
                std::to_string(bytes_.size()) + ", reading " + what);
  }

  std::string_view bytes_;
  std::size_t pos_ = 0;
  std::string message_;
};

// The tag and format version a snapshot begins with.
bool read_format(Reader* r) {
  std::string_view tag;
  std::uint32_t version = 0;
  if (!r->bytes(kSnapshotTag.size(), &tag, "the format tag")) return false;
  if (tag != kSnapshotTag) return r->fail("not an engine snapshot (bad format tag)");
  if (!r->u32(&version, "the format version")) return false;
  if (version != kSnapshotFormatVersion) {
    return r->fail("format version " + std::to_string(version) + ", expected " +
                   std::to_string(kSnapshotFormatVersion));
  }
  return true;
}

Status card_mismatch(std::size_t card, std::string_view pan, const char* what) {
  return Status::invalid_argument("snapshot does not match the card file: card " +
                                  std::to_string(card) + " (PAN " + mask_pan(pan) +
                                  ") has another " + what);
}

bool is_terminal_bytes(std::uint64_t terminal) {
  char b[8];
  std::memcpy(b, &terminal, 8);
  return format::is_printable(std::string_view(b, 8));
}

}  // namespace

namespace {

// Grows *out by `size` bytes and gives a writer for them; its destructor
// asserts that exactly those were written.
class Appender {
 public:
  Appender(std::string* out, std::size_t size) : out_(out), start_(out->size()) {
    out->resize(start_ + size);
    writer_.emplace(out->data() + start_);
  }
  Writer& w() { return *writer_; }
  ~Appender() { TRIAD_ASSERT(writer_->position() == out_->data() + out_->size()); }

 private:
  std::string* out_;
  std::size_t start_;
  std::optional<Writer> writer_;
};

void append_u64(std::uint64_t v, std::string* out) { Appender(out, 8).w().u64(v); }

}  // namespace

void Engine::State::serialize(std::string* out) const {
  out->clear();
  // Room for all but the rule 10 FIFO (at most a day of traffic), so that
  // the cards and lists, the bulk, are not copied again as the string grows.
  out->reserve(kSnapshotTag.size() + 64 + cards.size() * (kCardFixedBytes + 24) +
               approvals.size() * kApprovalBytes + ids.size() * kIdFixedBytes + ids.text_bytes());
  append_head(out);
  append_cards(0, cards.size(), out);
  append_u64(approvals.size(), out);
  append_approvals(0, approvals.size(), out);
  append_u64(ids.size(), out);
  append_ids(0, ids.size(), out);
  append_u64(duplicate_fifo.size(), out);
  append_duplicate_fifo(0, duplicate_fifo.size(), out);
}

void Engine::State::append_head(std::string* out) const {
  Appender a(out, kSnapshotTag.size() + 4 + 4 + 8 + 1 + 8 + 4);
  Writer& w = a.w();
  w.bytes(kSnapshotTag.data(), kSnapshotTag.size());
  w.u32(kSnapshotFormatVersion);
  w.u32(kRulesVersion);

  w.u64(applied);
  w.u8(any_applied ? 1 : 0);
  w.i64(last_ts_ms);

  w.u32(static_cast<std::uint32_t>(cards.size()));
}

void Engine::State::append_cards(std::uint64_t first, std::uint64_t end, std::string* out) const {
  TRIAD_ASSERT(first <= end && end <= cards.size());
  std::size_t size = (end - first) * kCardFixedBytes + pan_starts[end] - pan_starts[first];
  for (std::uint64_t i = first; i < end; ++i) size += 2 * cards[i].blocked_mccs.size();
  Appender a(out, size);
  Writer& w = a.w();
  for (std::uint64_t i = first; i < end; ++i) {
    const CardState& c = cards[i];
    const std::string_view pan = pan_of(i);
    w.u32(static_cast<std::uint32_t>(pan.size()));
    w.bytes(pan.data(), pan.size());
    w.u16(c.expiry_yymm);
    w.i64(c.expiry_month);
    w.u8(static_cast<std::uint8_t>(c.status));
    w.u16(c.currency);
    w.i64(c.credit_limit);
    w.i64(c.cash_daily_limit);
    w.u32(static_cast<std::uint32_t>(c.blocked_mccs.size()));
    for (const std::uint16_t mcc : c.blocked_mccs) w.u16(mcc);
    w.i64(c.holds);
    w.i64(c.cash_in_window);
    w.u32(c.approvals_in_window);
  }
}

void Engine::State::append_approvals(std::uint64_t first, std::uint64_t end,
                                     std::string* out) const {
  Appender appender(out, (end - first) * kApprovalBytes);
  Writer& w = appender.w();
  approvals.for_range(first, end, [&w](const Approval& a) {
    w.u32(a.card->ordinal);
    w.u8(a.pan.length);
    w.u64(a.pan.value);
    w.i64(a.ts_ms);
    w.i64(a.amount);
    w.u8(static_cast<std::uint8_t>((a.cash ? kFlagCash : 0) | (a.reversed ? kFlagReversed : 0)));
  });
}

void Engine::State::append_ids(std::uint64_t first, std::uint64_t end, std::string* out) const {
  std::size_t text_bytes = 0;
  if (first == 0 && end == ids.size()) {
    text_bytes = ids.text_bytes();
  } else {
    ids.for_range(first, end, [&](std::string_view id, std::uint64_t) { text_bytes += id.size(); });
  }
  Appender appender(out, (end - first) * kIdFixedBytes + text_bytes);
  Writer& w = appender.w();
  ids.for_range(first, end, [&w](std::string_view id, std::uint64_t value) {
    w.u8(static_cast<std::uint8_t>(id.size()));
    w.bytes(id.data(), id.size());
    w.u64(value);
  });
}

void Engine::State::append_duplicate_fifo(std::uint64_t first, std::uint64_t end,
                                          std::string* out) const {
  TRIAD_ASSERT(first <= end && end <= duplicate_fifo.size());
  Appender a(out, (end - first) * kDuplicateFifoBytes);
  Writer& w = a.w();
  for (std::uint64_t i = first; i < end; ++i) {
    const DuplicateEntry& e = duplicate_fifo[i];
    w.i64(e.ts_ms);
    w.bytes(&e.key.terminal, 8);
    w.u32(e.key.stan);
  }
}

Status Engine::State::load(std::string_view bytes) {
  Reader r(bytes);
  const auto corrupt = [&r](const std::string& reason) {
    r.fail(reason);
    return r.error();
  };

  // Header.
  std::uint32_t rules_version = 0;
  if (!read_format(&r)) return r.error();
  if (!r.u32(&rules_version, "the rules version")) return r.error();
  if (rules_version != kRulesVersion) {
    return corrupt("rules version " + std::to_string(rules_version) + ", this engine has " +
                   std::to_string(kRulesVersion));
  }

  // Counters.
  std::uint8_t any = 0;
  if (!r.u64(&applied, "the applied count") || !r.u8(&any, "the any-applied flag") ||
      !r.i64(&last_ts_ms, "the last ts")) {
    return r.error();
  }
  if (any > 1) return corrupt("any-applied flag " + std::to_string(any) + " is not 0 or 1");
  any_applied = any == 1;
  if (any_applied != (applied > 0)) {
    return corrupt("applied count and any-applied flag disagree");
  }
  if (!any_applied && last_ts_ms != 0) return corrupt("last ts set with nothing applied");
  // ts <= last ts, so in_window() may be asked.
  const auto seen = [&](std::int64_t ts) { return any_applied && ts <= last_ts_ms; };

  // Cards.
  std::uint32_t card_count = 0;
  if (!r.count(&card_count, kCardFixedBytes, "the card count")) return r.error();
  if (card_count != cards.size()) {
    return Status::invalid_argument("snapshot does not match the card file: it has " +
                                    std::to_string(card_count) + " cards, the card file " +
                                    std::to_string(cards.size()));
  }
  std::vector<std::uint16_t> mccs;
  for (std::size_t i = 0; i < cards.size(); ++i) {
    const std::string_view file_pan = pan_of(i);
    CardState& card = cards[i];
    const auto bad = [&](const std::string& what) {
      return corrupt("card " + std::to_string(i) + ": " + what);
    };
    std::uint32_t pan_length = 0;
    std::string_view pan;
    std::uint16_t yymm = 0;
    std::int64_t expiry_month = 0;
    std::uint8_t status = 0;
    std::uint16_t currency = 0;
    std::int64_t credit_limit = 0;
    std::int64_t cash_daily_limit = 0;
    std::uint32_t mcc_count = 0;
    if (!r.count(&pan_length, 1, "a card's PAN length") ||
        !r.bytes(pan_length, &pan, "a card's PAN") || !r.u16(&yymm, "a card's expiry") ||
        !r.i64(&expiry_month, "a card's expiry month") || !r.u8(&status, "a card's status") ||
        !r.u16(&currency, "a card's currency") || !r.i64(&credit_limit, "a card's credit_limit") ||
        !r.i64(&cash_daily_limit, "a card's cash_daily_limit") ||
        !r.count(&mcc_count, 2, "a card's blocked MCC count")) {
      return r.error();
    }
    mccs.resize(mcc_count);
    for (std::uint16_t& mcc : mccs) {
      if (!r.u16(&mcc, "a card's blocked MCC")) return r.error();
    }
    std::int64_t holds = 0;
    std::int64_t cash_in_window = 0;
    std::uint32_t approvals_in_window = 0;
    if (!r.i64(&holds, "a card's holds") || !r.i64(&cash_in_window, "a card's cash_in_window") ||
        !r.u32(&approvals_in_window, "a card's approvals_in_window")) {
      return r.error();
    }
    // Values a card file could hold...
    if (!format::is_digits(pan)) return bad("PAN is not digits");
    if (yymm > 9912 || yymm % 100 < 1 || yymm % 100 > 12) {
      return bad("expiry is not YYMM");
    }
    if (expiry_month != expiry_month_index(yymm)) {
      return bad("expiry month does not follow from the expiry");
    }
    if (status > static_cast<std::uint8_t>(CardStatus::kBlocked)) {
      return bad("status " + std::to_string(status) + " is not 0..3");
    }
    if (currency_exponent(currency) < 0) return bad("currency is not supported");
    if (!format::is_amount(credit_limit) || !format::is_amount(cash_daily_limit)) {
      return bad("a limit is out of 0..999999999999");
    }
    for (std::size_t m = 0; m < mccs.size(); ++m) {
      if (mccs[m] > 9999 || (m > 0 && mccs[m - 1] >= mccs[m])) {
        return bad("blocked MCCs are not ascending 4-digit codes");
      }
    }
    // ... and this one's.
    if (pan != file_pan) {
      return Status::invalid_argument("snapshot does not match the card file: card " +
                                      std::to_string(i) + " has another PAN than " +
                                      mask_pan(file_pan));
    }
    if (yymm != card.expiry_yymm) return card_mismatch(i, file_pan, "expiry");
    if (status != static_cast<std::uint8_t>(card.status)) {
      return card_mismatch(i, file_pan, "status");
    }
    if (currency != card.currency) return card_mismatch(i, file_pan, "currency");
    if (credit_limit != card.credit_limit) return card_mismatch(i, file_pan, "credit_limit");
    if (cash_daily_limit != card.cash_daily_limit) {
      return card_mismatch(i, file_pan, "cash_daily_limit");
    }
    if (mccs != card.blocked_mccs) return card_mismatch(i, file_pan, "blocked_mccs");
    // The running sums; checked against the tables below.
    if (holds < 0 || holds > card.credit_limit) {
      return bad("holds are out of 0..credit_limit");
    }
    if (cash_in_window < 0 || cash_in_window > card.cash_daily_limit) {
      return bad("cash_in_window is out of 0..cash_daily_limit");
    }
    if (approvals_in_window > kFrequencyLimit) {
      return bad("approvals_in_window is above " + std::to_string(kFrequencyLimit));
    }
    card.holds = holds;
    card.cash_in_window = cash_in_window;
    card.approvals_in_window = approvals_in_window;
  }

  // What the running sums must be, from the tables.
  std::vector<std::int64_t> open_holds(card_count, 0);
  std::vector<std::int64_t> open_cash(card_count, 0);
  std::vector<std::uint32_t> recent_approvals(card_count, 0);

  // Approvals.
  std::uint64_t approval_count = 0;
  if (!r.count(&approval_count, kApprovalBytes, "the approval count")) return r.error();
  if (approval_count > applied) return corrupt("more approvals than transactions applied");
  approvals.reserve(approval_count);
  for (std::uint64_t k = 0; k < approval_count; ++k) {
    const auto bad = [&](const char* what) {
      return corrupt("approval " + std::to_string(k) + ": " + what);
    };
    std::uint32_t card_number = 0;
    PanKey pan;
    std::int64_t ts = 0;
    std::int64_t amount = 0;
    std::uint8_t flags = 0;
    if (!r.u32(&card_number, "an approval's card") || !r.u8(&pan.length, "an approval's PAN") ||
        !r.u64(&pan.value, "an approval's PAN") || !r.i64(&ts, "an approval's ts") ||
        !r.i64(&amount, "an approval's amount") || !r.u8(&flags, "an approval's flags")) {
      return r.error();
    }
    if (card_number >= card_count) return bad("no such card");
    CardState* card = &cards[card_number];
    if (make_pan_key(pan_of(card_number)) != pan) return bad("PAN is not its card's");
    if (!seen(ts) || (!approvals.empty() && ts < approvals.back().ts_ms)) {
      return bad("ts is out of order or after the last ts");
    }
    if (!format::is_amount(amount)) return bad("amount is out of 0..999999999999");
    if (flags > (kFlagCash | kFlagReversed)) return bad("unknown flags");
    const bool cash = (flags & kFlagCash) != 0;
    const bool reversed = (flags & kFlagReversed) != 0;
    if (!reversed) {
      open_holds[card_number] += amount;  // each term and the sum stay below 2^41
      if (open_holds[card_number] > card->credit_limit) {
        return bad("holds would exceed the card's credit_limit");
      }
    }
    approvals.push_back({pan, card, ts, amount, cash, reversed});
  }

  // Ids.
  std::uint64_t id_count = 0;
  if (!r.count(&id_count, kIdFixedBytes + 1, "the id count")) return r.error();
  if (id_count > applied) return corrupt("more ids than transactions applied");
  ids.reserve_empty(id_count);  // a fresh state: built once, not grown step by step
  std::vector<bool> referenced(approvals.size(), false);
  for (std::uint64_t k = 0; k < id_count; ++k) {
    const auto bad = [&](const char* what) {
      return corrupt("id " + std::to_string(k) + ": " + what);
    };
    std::uint8_t length = 0;
    std::string_view id;
    std::uint64_t value = 0;
    if (!r.u8(&length, "an id's length") || !r.bytes(length, &id, "an id") ||
        !r.u64(&value, "an id's approval")) {
      return r.error();
    }
    if (!is_valid_transaction_id(id)) return bad("not a well-formed id");
    // A refused snapshot leaves this state unused, so recording first is fine.
    if (!ids.insert_if_absent(id, value)) return bad("recorded twice");
    if (value != kNotApproved) {
      if (value >= approvals.size()) return bad("no such approval");
      if (referenced[value]) return bad("approval already has an id");
      referenced[value] = true;
    }
  }

  // Rule 10: the FIFO; the table of each key's newest ts follows from it.
  std::uint64_t fifo_count = 0;
  if (!r.count(&fifo_count, kDuplicateFifoBytes, "the rule 10 FIFO size")) return r.error();
  if (fifo_count > applied) return corrupt("more rule 10 entries than transactions applied");
  duplicate_last_ts.reserve_empty(fifo_count);  // at most one key per entry
  for (std::uint64_t k = 0; k < fifo_count; ++k) {
    std::int64_t ts = 0;
    std::string_view terminal;
    DuplicateKey key;
    if (!r.i64(&ts, "a rule 10 FIFO ts") || !r.bytes(8, &terminal, "a rule 10 FIFO terminal") ||
        !r.u32(&key.stan, "a rule 10 FIFO stan")) {
      return r.error();
    }
    std::memcpy(&key.terminal, terminal.data(), 8);
    if (!seen(ts) || !in_window(ts, last_ts_ms, kDuplicateWindowMs) ||
        (!duplicate_fifo.empty() && ts < duplicate_fifo.back().ts_ms)) {
      return corrupt("rule 10 FIFO entry " + std::to_string(k) + ": ts out of order or window");
    }
    if (!is_terminal_bytes(key.terminal) || key.stan > 999'999) {
      return corrupt("rule 10 FIFO entry " + std::to_string(k) + ": not a terminal and stan");
    }
    *duplicate_last_ts.try_emplace(key, ts).first = ts;
    duplicate_fifo.push_back({ts, key});
  }

  // Rules 11 and 12: their FIFOs hold exactly the approvals of the last
  // minute, and the cash approvals of the last day, of the last ts (the
  // approvals are in ts order, the minute the end of the day).
  std::size_t first_in_day = approvals.size();
  while (first_in_day > 0 &&
         in_window(approvals[first_in_day - 1].ts_ms, last_ts_ms, kCashWindowMs)) {
    --first_in_day;
  }
  for (std::size_t k = first_in_day; k < approvals.size(); ++k) {
    const Approval& a = approvals[k];
    const std::uint32_t card_number = a.card->ordinal;
    if (in_window(a.ts_ms, last_ts_ms, kFrequencyWindowMs)) {
      ++recent_approvals[card_number];
      frequency_fifo.push_back({a.ts_ms, a.card});
    }
    if (!a.cash) continue;
    if (!a.reversed) {
      open_cash[card_number] += a.amount;
      if (open_cash[card_number] > a.card->cash_daily_limit) {
        return corrupt("card " + std::to_string(card_number) +
                       ": its open cash approvals of the last day exceed its cash_daily_limit");
      }
    }
    cash_fifo.push_back({a.ts_ms, k});
  }

  if (r.remaining() != 0) {
    return corrupt(std::to_string(r.remaining()) + " bytes after the end of the snapshot");
  }

  // The running sums against the tables.
  for (std::size_t i = 0; i < cards.size(); ++i) {
    const CardState& card = cards[i];
    if (card.holds != open_holds[i]) {
      return corrupt("card " + std::to_string(i) + ": holds are not its open approvals' sum");
    }
    if (card.cash_in_window != open_cash[i]) {
      return corrupt("card " + std::to_string(i) +
                     ": cash_in_window is not the sum of its open cash of the last day");
    }
    if (card.approvals_in_window != recent_approvals[i]) {
      return corrupt("card " + std::to_string(i) +
                     ": approvals_in_window is not its approvals of the last minute");
    }
  }
  return Status::ok();
}

void Engine::serialize(std::string* out) const { state_->serialize(out); }
void Engine::append_head(std::string* out) const { state_->append_head(out); }
std::uint64_t Engine::card_count() const { return state_->cards.size(); }
void Engine::append_cards(std::uint64_t first, std::uint64_t end, std::string* out) const {
  state_->append_cards(first, end, out);
}
std::span<const std::uint32_t> Engine::changed_cards() const { return state_->changed_cards; }
std::span<const std::uint64_t> Engine::reversed_approvals() const {
  return state_->reversed_approvals;
}
void Engine::forget_changes() {
  for (const std::uint32_t card : state_->changed_cards) state_->card_changed[card] = false;
  state_->changed_cards.clear();
  state_->reversed_approvals.clear();
}
std::uint64_t Engine::duplicate_fifo_size() const { return state_->duplicate_fifo.size(); }
std::uint64_t Engine::duplicate_fifo_pushed() const { return state_->duplicate_pushed; }
void Engine::append_duplicate_fifo(std::uint64_t first, std::uint64_t end, std::string* out) const {
  state_->append_duplicate_fifo(first, end, out);
}

std::uint64_t Engine::approval_count() const { return state_->approvals.size(); }
std::uint64_t Engine::id_count() const { return state_->ids.size(); }
void Engine::append_approvals(std::uint64_t first, std::uint64_t end, std::string* out) const {
  state_->append_approvals(first, end, out);
}
void Engine::append_ids(std::uint64_t first, std::uint64_t end, std::string* out) const {
  state_->append_ids(first, end, out);
}

Status Engine::split_snapshot(std::string_view bytes, std::uint64_t card_page_entries,
                              std::uint64_t page_entries, SnapshotParts* out) {
  TRIAD_ASSERT(card_page_entries > 0 && page_entries > 0);
  *out = SnapshotParts{};
  Reader r(bytes);
  std::string_view skipped;
  if (!read_format(&r)) return r.error();
  // Rules version, counters.
  if (!r.bytes(4 + 8 + 1 + 8, &skipped, "the counters")) return r.error();
  std::uint32_t card_count = 0;
  if (!r.count(&card_count, kCardFixedBytes, "the card count")) return r.error();
  out->head = bytes.substr(0, r.offset());
  out->card_count = card_count;
  for (std::uint64_t done = 0; done < card_count;) {
    const std::uint64_t n = std::min<std::uint64_t>(card_page_entries, card_count - done);
    const std::size_t page_start = r.offset();
    for (std::uint64_t k = 0; k < n; ++k) {
      std::uint32_t pan_length = 0;
      std::uint32_t mcc_count = 0;
      if (!r.count(&pan_length, 1, "a card's PAN length") ||
          !r.bytes(std::size_t{pan_length} + 2 + 8 + 1 + 2 + 8 + 8, &skipped, "a card") ||
          !r.count(&mcc_count, 2, "a card's blocked MCC count") ||
          !r.bytes(2 * std::size_t{mcc_count} + 8 + 8 + 4, &skipped, "a card")) {
        return r.error();
      }
    }
    out->card_pages.push_back(bytes.substr(page_start, r.offset() - page_start));
    done += n;
  }

  if (!r.count(&out->approval_count, kApprovalBytes, "the approval count")) return r.error();
  for (std::uint64_t done = 0; done < out->approval_count; done += page_entries) {
    const std::uint64_t n = std::min(page_entries, out->approval_count - done);
    std::string_view page;
    if (!r.bytes(n * kApprovalBytes, &page, "the approvals")) return r.error();
    out->approval_pages.push_back(page);
  }

  if (!r.count(&out->id_count, kIdFixedBytes, "the id count")) return r.error();
  for (std::uint64_t done = 0; done < out->id_count;) {
    const std::uint64_t n = std::min(page_entries, out->id_count - done);
    const std::size_t page_start = r.offset();
    for (std::uint64_t k = 0; k < n; ++k) {
      std::uint8_t length = 0;
      if (!r.u8(&length, "an id's length") ||
          !r.bytes(length + std::size_t{8}, &skipped, "an id")) {
        return r.error();
      }
    }
    out->id_pages.push_back(bytes.substr(page_start, r.offset() - page_start));
    done += n;
  }

  std::uint64_t fifo_count = 0;
  if (!r.count(&fifo_count, kDuplicateFifoBytes, "the rule 10 FIFO size") ||
      !r.bytes(fifo_count * kDuplicateFifoBytes, &out->duplicate_fifo, "the rule 10 FIFO")) {
    return r.error();
  }
  // Bytes the digest would not cover: restore() refuses them, so a state
  // that gives the majority's digest must not have them either.
  if (r.remaining() != 0) {
    r.fail(std::to_string(r.remaining()) + " bytes after the rule 10 FIFO, the end of the state");
    return r.error();
  }
  return Status::ok();
}

Status Engine::restore(std::string_view bytes) {
  auto fresh = std::make_unique<State>(state_->card_file(), state_->table_key);
  TRIAD_RETURN_IF_ERROR(fresh->load(bytes));
  state_ = std::move(fresh);
  return Status::ok();
}

// Only for divergence-injection tests (interface.md `corrupt-state:N`).
//
// Sets the lowest clear bit of the chosen card's `holds`: one bit flip,
// 0 -> 1, so holds grows by 2^k (k <= 40 the first time: holds < 2^40).
// Nothing aborts afterwards: approvals check `amount > credit_limit -
// holds` (no overflow, and when holds now exceed the limit the card simply
// gets 51), so `holds <= credit_limit` still holds after each new approval;
// reversals subtract amounts that were in the true holds, so holds stay >=
// 2^k > 0. The card's verdicts may change (as real memory corruption
// would), serialize() changes at once, and restore() refuses such a
// snapshot (its holds no longer equal the open approvals' sum), while a
// healthy snapshot restores into this engine normally.
void Engine::corrupt_for_fault_injection(std::uint64_t selector) {
  State& s = *state_;
  if (s.cards.empty()) return;
  CardState& card = s.cards[selector % s.cards.size()];
  TRIAD_ASSERT(card.holds >= 0);
  const auto holds = static_cast<std::uint64_t>(card.holds);
  // (Only when flipped 63 times on one card would the lowest clear bit be
  // the sign bit; then bit 0 goes 1 -> 0 instead, still far above any sum.)
  const std::uint64_t bit =
      card.holds == std::numeric_limits<std::int64_t>::max() ? 1 : ~holds & (holds + 1);
  card.holds = static_cast<std::int64_t>(holds ^ bit);
}

}  // namespace triad::rules
