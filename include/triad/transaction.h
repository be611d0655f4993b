// A card-authorization request as the client sent it (rules.md section 1).
// Every field is optional because a missing field is itself an input the
// replicas must judge (response code 30); a field that was present in the
// client's JSON with the wrong type is kept as "malformed" for the same reason.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "triad/status.h"

namespace triad {

enum class Field : std::uint8_t {
  kId = 0,
  kMti,
  kPan,
  kProc,
  kAmount,
  kCurrency,
  kBillingAmount,
  kBillingCurrency,
  kExpiry,
  kMcc,
  kStan,
  kTerminal,
  kMerchant,
  kOrigId,
  kTs,
  kCount,
};

// The JSON name of a field ("billing_amount" ...).
const char* field_name(Field field);

struct Transaction {
  std::optional<std::string> id;
  std::optional<std::string> mti;
  std::optional<std::string> pan;
  std::optional<std::string> proc;
  std::optional<std::int64_t> amount;
  std::optional<std::string> currency;
  std::optional<std::int64_t> billing_amount;
  std::optional<std::string> billing_currency;
  std::optional<std::string> expiry;
  std::optional<std::string> mcc;
  std::optional<std::string> stan;
  std::optional<std::string> terminal;
  std::optional<std::string> merchant;
  std::optional<std::string> orig_id;
  std::optional<std::int64_t> ts;
  // Bit (1 << Field) set: the field was present with the wrong JSON type (a
  // number where a string is due, a fraction, an integer beyond 64 bits...).
  // Its value above is then empty, but for a PAN sent as a JSON number,
  // whose digits are kept (the front end refuses an id that holds them):
  // judge a field by this bit first.
  std::uint32_t malformed_fields = 0;

  bool is_malformed(Field f) const { return (malformed_fields >> static_cast<unsigned>(f)) & 1u; }
  void set_malformed(Field f) { malformed_fields |= 1u << static_cast<unsigned>(f); }

  friend bool operator==(const Transaction&, const Transaction&) = default;
};

// The longest JSON line parse_transaction_json takes: far above any
// legitimate transaction (~400 bytes) and small enough that a hostile line
// cannot make a reader allocate much.
inline constexpr std::size_t kMaxTransactionLineBytes = 64 * 1024;

// The error of a line of `bytes` bytes, over kMaxTransactionLineBytes.
Status line_too_long(std::size_t bytes);

// Parses one JSON Lines record (rules.md section 1). Unknown fields are
// ignored; known fields of the wrong JSON type are recorded in
// malformed_fields, not refused, because judging them is the replicas' job.
// Returns InvalidArgument, naming the cause, when `line` is not a JSON object.
Status parse_transaction_json(std::string_view line, Transaction* out);

// True when `id` is 1..64 characters of [A-Za-z0-9._:-] (rules.md section 1).
// The one definition: the front end refuses to sequence what fails it, and
// the rules engine's rule 1 must judge `id` and `orig_id` the same way.
constexpr bool is_valid_transaction_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  for (const char c : id) {
    const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

// "411111******1111": first 6 and last 4 digits kept (PCI DSS 3.3). A PAN of
// 10 digits or fewer is masked entirely. Use this for every PAN a person sees.
std::string mask_pan(std::string_view pan);
// `text` typed by someone (an id, a field's value), for a message: each run
// of 12 or more digits masked as a PAN is (mask_pan), digits written with
// spaces or dashes between them joined, as a card number is written. A card
// number typed where it does not belong was echoed in clear (`triad audit`'s
// "no decision for id '4760...'", `triad verify`'s "field seq is 4760..."),
// into the terminal's scrollback and whatever logs the command's output. A
// longer run is masked too: it may hold one.
std::string mask_digit_runs(std::string_view text);

}  // namespace triad
