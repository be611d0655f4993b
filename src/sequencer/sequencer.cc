#include "sequencer/sequencer.h"

#include <algorithm>

#include "common/assert.h"

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

Admission Sequencer::lookup(const std::string& id, const Digest& content_digest) const {
  const auto it = record_.find(id);
  if (it == record_.end()) return {Admission::Kind::kNew, 0, 0};
  const Record& r = it->second;
  if (r.content_digest != content_digest) return {Admission::Kind::kIdReused, 0, 0};
  return {Admission::Kind::kRepeated, r.seq, r.ts_ms};
}

Status Sequencer::restore(const std::string& id, const Digest& content_digest, std::uint64_t seq,
                          std::int64_t ts_ms) {
  TRIAD_ASSERT(seq == next_seq_);
  if (ts_ms < last_ts_ms_) {
    return Status::corruption("seq " + std::to_string(seq) + " has ts " + std::to_string(ts_ms) +
                              " before the previous seq's " + std::to_string(last_ts_ms_));
  }
  const auto [it, inserted] = record_.try_emplace(id, Record{content_digest, seq, ts_ms});
  if (!inserted) {
    return Status::corruption("id " + id + " is at seq " + std::to_string(it->second.seq) +
                              " and again at seq " + std::to_string(seq));
  }
  last_ts_ms_ = ts_ms;
  ++next_seq_;
  return Status::ok();
}

}  // namespace triad::sequencer
