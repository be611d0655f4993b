// The authorization rules of rules.md (sections 4, 5 and 7's data) as a
// deterministic state machine: no I/O, no clock, no floating point, and no
// container iteration order or randomness reaching a verdict (its hash
// tables are keyed at random, table_hash.h, which moves entries between
// slots and nothing else). Same card file and same sequence of (seq, ts,
// transaction) give the same response codes on every build.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/response_code.h"
#include "rules/table_hash.h"
#include "triad/status.h"
#include "triad/transaction.h"

namespace triad::rules {

inline constexpr std::uint32_t kRulesVersion = 1;

enum class CardStatus : std::uint8_t { kActive, kLost, kStolen, kBlocked };

// One line of the card file (rules.md section 2), validated.
struct CardRecord {
  std::string pan;
  std::uint16_t expiry_yymm = 0;  // YYMM as a number, e.g. 2812
  CardStatus status = CardStatus::kActive;
  std::uint16_t currency = 0;  // ISO 4217 numeric, one of rules.md section 3
  std::int64_t credit_limit = 0;
  std::int64_t cash_daily_limit = 0;
  std::vector<std::uint16_t> blocked_mccs;  // sorted, unique
};

struct CardFile {
  std::vector<CardRecord> cards;  // in file order
};

// Parses the text of a card file. On failure returns InvalidArgument whose
// message is "line N: <reason>" (N counts from 1, the header is line 1); no
// partial result is kept.
Status parse_card_file(std::string_view text, CardFile* out);
// Reads and parses a card file; NotFound / IoError when it cannot be read.
// Its bytes in *text when given (what the replicas' start state is a digest
// of).
Status load_card_file(const std::string& path, CardFile* out, std::string* text = nullptr);

// Minor-unit exponent of a supported currency, or -1 when unsupported.
int currency_exponent(std::uint16_t iso_numeric);

class Engine {
 public:
  // The hash tables keyed by TableHashKey::per_process().
  explicit Engine(const CardFile& cards);
  Engine(const CardFile& cards, const TableHashKey& table_key);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Decides one sequenced transaction and applies the decision to the state.
  // `ts_ms` must not be lower than the previous call's (the sequencer
  // guarantees it; a violation is a bug and aborts).
  ResponseCode apply(std::int64_t ts_ms, const Transaction& tx);

  std::uint64_t applied_count() const;
  // False when apply(ts_ms, ...) would break its ordering precondition: ts_ms
  // is lower than the last applied transaction's. Lets a caller refuse such
  // an input instead of aborting.
  bool accepts_ts(std::int64_t ts_ms) const;

  // Snapshots: checkpoint digests and repair (design.md principles 3 and 7).
  //
  // serialize() replaces *out with a canonical encoding of the whole state:
  // the cards (immutable fields and running sums) and every table apply()
  // keeps but three that follow from the others (below). It is a function of the transactions
  // applied, in order: the same on every build, card index, standard library and hash-table
  // history, so a digest of it (replica/checkpoint.h) can be voted on. The layout is documented in
  // engine.cc. It holds the PANs of the card file in clear: never log or store it where the card
  // file itself may not go. Cost: linear in the state (which grows with the history: every id and
  // approval is kept); nothing is added to apply(). Checkpoints use the
  // parts below instead, and write only what changed.
  void serialize(std::string* out) const;

  // The parts of serialize(), for checkpoints that rewrite only what changed
  // (replica/checkpoint.h). serialize() is, in this order: the head (header,
  // counters, u32 card count); the cards; the approvals (u64 count, then
  // each); the ids (u64 count, then each); the rule 10 FIFO (u64 count, then
  // each entry, oldest first). The approvals and ids grow with the history,
  // and an entry of either never changes once written, except an approval's
  // reversed flag; the rule 10 FIFO holds a day of traffic, entries join at
  // its end and leave at its front unchanged. What else apply() keeps (the
  // rule 10 table, the rule 11 and 12 FIFOs) follows from these, and
  // restore() rebuilds it. Each call appends to *out the bytes serialize()
  // writes for that part.
  void append_head(std::string* out) const;
  std::uint64_t card_count() const;
  std::uint64_t approval_count() const;
  std::uint64_t id_count() const;
  std::uint64_t duplicate_fifo_size() const;
  // Entries first..end-1 (numbered from 0: the first card of the card file,
  // approval or id, the oldest entry of the rule 10 FIFO now), without the
  // count.
  void append_cards(std::uint64_t first, std::uint64_t end, std::string* out) const;
  void append_approvals(std::uint64_t first, std::uint64_t end, std::string* out) const;
  void append_ids(std::uint64_t first, std::uint64_t end, std::string* out) const;
  void append_duplicate_fifo(std::uint64_t first, std::uint64_t end, std::string* out) const;
  static constexpr std::size_t kDuplicateFifoEntryBytes = 20;
  // Not state (restore() starts it again from 0): entries ever pushed onto
  // the rule 10 FIFO.
  std::uint64_t duplicate_fifo_pushed() const;
  // Not state either: what apply() changed since the last forget_changes()
  // (since the start or restore() before the first), for a checkpoint to
  // find what to write again. The cards (numbers in card-file order) whose
  // running sums changed, each once, in no particular order; the approvals
  // reversed, as approval numbers in the order reversed.
  // corrupt_for_fault_injection() does not add to them.
  std::span<const std::uint32_t> changed_cards() const;
  std::span<const std::uint64_t> reversed_approvals() const;
  void forget_changes();

  // serialize()'s bytes cut into its parts, with the cards in pages of
  // `card_page_entries` and the two lists in pages of `page_entries` entries
  // (the last page may hold fewer; none when there are no entries). Views
  // into `bytes`. Corruption naming the reason when a length or count in
  // them runs past their end, bytes follow the rule 10 FIFO, or their header
  // is not this format's; the values are not looked at (restore() checks
  // them).
  struct SnapshotParts {
    std::string_view head;
    std::uint64_t card_count = 0;
    std::vector<std::string_view> card_pages;
    std::uint64_t approval_count = 0;
    std::vector<std::string_view> approval_pages;
    std::uint64_t id_count = 0;
    std::vector<std::string_view> id_pages;
    std::string_view duplicate_fifo;  // the entries, without their count
  };
  static Status split_snapshot(std::string_view bytes, std::uint64_t card_page_entries,
                               std::uint64_t page_entries, SnapshotParts* out);

  // Replaces the state with the one `bytes` encodes, which serialize() of an
  // engine built from the same card file produced. Returns Corruption naming
  // the reason when the bytes are truncated, of another format or rules
  // version, or hold a value or table that engine could not have had;
  // InvalidArgument "snapshot does not match the card file: ..." when its
  // cards differ from this engine's (PANs masked). On any error the state is
  // left as it was. After success, serialize() gives `bytes` back exactly and
  // apply() answers as the engine the snapshot came from would.
  Status restore(std::string_view bytes);

  // Test and fault-injection use only (interface.md `corrupt-state:N`, the
  // divergence-injection tests): silently flips one bit of one card's
  // mutable state, so serialize() changes while apply() carries on. The card
  // is selector % (number of cards), counted in card-file order; nothing
  // happens with no cards. See engine.cc for which bit and why it is safe.
  void corrupt_for_fault_injection(std::uint64_t selector);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace triad::rules
