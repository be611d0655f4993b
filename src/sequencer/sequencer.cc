#include "sequencer/sequencer.h"

#include <algorithm>

namespace triad::sequencer {

Admission Sequencer::admit(const std::string& id, const Digest& content_digest,
                           std::optional<std::int64_t> client_ts_ms, std::int64_t now_ms) {
  const auto [it, inserted] = record_.try_emplace(id);
  if (!inserted) {
    const Record& r = it->second;
    if (r.content_digest != content_digest) return {Admission::Kind::kIdReused, 0, 0};
    return {Admission::Kind::kRepeated, r.seq, r.ts_ms};
  }
  const std::int64_t wanted = (config_.trust_client_time && client_ts_ms) ? *client_ts_ms : now_ms;
  last_ts_ms_ = std::max(last_ts_ms_, wanted);
  it->second = Record{content_digest, next_seq_, last_ts_ms_};
  return {Admission::Kind::kNew, next_seq_++, last_ts_ms_};
}

}  // namespace triad::sequencer
