// Reading the audit store (`triad audit`): a decision by transaction id, and
// the divergences and repairs since a time. Safe while `triad up` writes:
// in WAL mode a reader sees the last committed batch and blocks nobody.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "audit/records.h"
#include "audit/sqlite.h"
#include "triad/status.h"

namespace triad::audit {

using Event = std::variant<DivergenceRow, RepairRow>;

class AuditReader {
 public:
  // Opens an existing database. NotFound naming the path when there is none
  // (no `triad up` has run with this --dir); IoError or Corruption when it
  // cannot be read; InvalidArgument when its schema is newer than ours.
  static Status open(const std::string& path, AuditReader* out);

  // Every decision recorded for `id`, newest run first: an id is decided
  // once per run, but the idempotency record does not outlive a restart of
  // `triad up`, so a later run may have sequenced the same id again. Empty
  // when there is none.
  Status decisions_for_id(const std::string& id, std::vector<DecisionRow>* out);

  // The newest `limit` decisions (latest run first, then highest seq: the
  // order Triad sequenced them, which a step of the wall clock cannot
  // change) whose card reference is `card_ref` (crypto::card_ref of the PAN
  // under the store's key). Reads about `limit` rows however many the card
  // has. NotFound when the store predates card references (schema version 1).
  Status decisions_for_card(const std::string& card_ref, std::size_t limit,
                            std::vector<DecisionRow>* out);

  // The certificate of the newest certified decision at `seq` in any run
  // (the answer a journalled seq had before a restart). NotFound when no
  // run has one.
  Status certificate_at(std::uint64_t seq, std::vector<std::uint8_t>* out);

  // Divergences and repair transitions with at_ms >= since_ms, oldest
  // first; at the same millisecond a divergence comes before a repair (a
  // divergence is what starts one).
  Status events_since(std::int64_t since_ms, std::vector<Event>* out);

 private:
  // Version 4 and later: the newest `limit` decisions (by run, then seq)
  // whose `column` equals `value`, found through the lookup tables under
  // `key`, newest first.
  Status lookup_decisions(std::int64_t key, std::string_view column, const std::string& value,
                          std::size_t limit, std::vector<DecisionRow>* out);

  sql::Db db_;
  int schema_version_ = 0;
};

// "2026-11-26T08:00:00.123Z".
std::string format_utc_ms(std::int64_t ms);

// The argument of `--since`: an ISO-8601 UTC time, "2026-11-26T08:00:00Z"
// (fraction of a second allowed, "Z" required), or a duration before
// `now_ms`: a positive integer and a unit s, m, h or d ("10m", "2h", "1d").
// InvalidArgument saying which forms are accepted otherwise.
Status parse_since(std::string_view text, std::int64_t now_ms, std::int64_t* out_ms);

}  // namespace triad::audit
