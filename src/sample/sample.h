// Sample data for Triad's demo and process-level tests: a realistic card file
// (rules.md section 2) and realistic traffic (rules.md section 1) that, run
// through the rules with client time trusted, produces every response code of
// rules.md sections 4 and 5 amid a mostly-approved mix.
//
// Both outputs are a pure function of Options: the generator draws only the
// raw output of std::mt19937_64 (whose sequence the standard fixes) and maps
// it with its own integer arithmetic, so the files are byte-identical on every
// build, compiler and standard library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace triad::sample {

struct Options {
  std::uint64_t seed = 1;
  std::size_t card_count = 1000;
  std::size_t transaction_count = 20000;
  std::int64_t start_ts_ms = 1798761600000;  // 2027-01-01T00:00:00Z; traffic ts values start here
};

// The card file text (rules.md section 2), header line included, every line
// ending in '\n'. Deterministic for a given Options (only seed, card_count
// and start_ts_ms matter; expiries are spread around the month of start_ts).
std::string generate_card_file(const Options& options);

// JSON Lines transactions (rules.md section 1), one string per line without
// the newline, exactly options.transaction_count of them. Every line has a
// valid, unique "id" ("tx-000001", ...) and a "ts" (ms since the epoch,
// non-decreasing, the first >= start_ts_ms) so a run with client time trusted
// is deterministic. Uses the cards of generate_card_file(options).
// Deterministic for a given Options.
std::vector<std::string> generate_traffic(const Options& options);

// A traffic line with "seq" added as its first field: the sequenced form that
// `triad-replica --replay` reads (its "ts" is already non-decreasing).
std::string with_seq(const std::string& line, std::uint64_t seq);

}  // namespace triad::sample
