// The authorization rules of rules.md (sections 4, 5 and 7's data) as a
// deterministic state machine: no I/O, no clock, no randomness, no floating
// point, and no container iteration order reaching a verdict. Same card file
// and same sequence of (seq, ts, transaction) give the same response codes
// on every build.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/response_code.h"
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
Status load_card_file(const std::string& path, CardFile* out);

// Minor-unit exponent of a supported currency, or -1 when unsupported.
int currency_exponent(std::uint16_t iso_numeric);

class Engine {
 public:
  explicit Engine(const CardFile& cards);
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Decides one sequenced transaction and applies the decision to the state.
  // `ts_ms` must not be lower than the previous call's (the sequencer
  // guarantees it; a violation is a bug and aborts).
  ResponseCode apply(std::int64_t ts_ms, const Transaction& tx);

  std::uint64_t applied_count() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace triad::rules
