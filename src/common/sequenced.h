// The offline form of a sequenced transaction: one JSON object per line, the
// transaction's fields plus its "seq" and sequenced "ts" (as `triad sample
// --sequenced` writes and `triad-replica --replay` reads).
#pragma once

#include <cstdint>
#include <string_view>

#include "triad/status.h"

namespace triad {

// Reads "seq" (an integer >= 1) and "ts" (an integer) from the line.
// InvalidArgument naming the field otherwise.
Status parse_sequenced_header(std::string_view line, std::uint64_t* seq, std::int64_t* ts);

}  // namespace triad
