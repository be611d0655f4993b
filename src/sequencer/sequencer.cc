#include "sequencer/sequencer.h"

#include <algorithm>

#include "common/assert.h"

namespace triad::sequencer {

Status Sequencer::find(std::string_view id, std::uint64_t hash, const Digest& content_digest,
                       Admission* out) const {
  *out = {};
  Status read = Status::ok();
  index_.find_if(hash, [&](std::uint64_t seq) {
    Sequenced earlier;
    read = history_->sequenced(seq, &earlier);
    if (!read.is_ok()) return true;
    if (earlier.id != id) return false;  // another id with the same hash
    *out = earlier.content_digest == content_digest
               ? Admission{Admission::Kind::kRepeated, seq, earlier.ts_ms}
               : Admission{Admission::Kind::kIdReused, seq, 0};
    return true;
  });
  return read;  // *out is still {} when a read failed: it is set only on a match
}

Status Sequencer::admit(std::string_view id, const Digest& content_digest,
                        std::optional<std::int64_t> client_ts_ms, std::int64_t now_ms,
                        Admission* out) {
  const std::uint64_t hash = config_.id_hash(config_.id_hash_key, id);
  TRIAD_RETURN_IF_ERROR(find(id, hash, content_digest, out));
  if (out->kind != Admission::Kind::kNew) return Status::ok();
  const std::int64_t wanted = (config_.trust_client_time && client_ts_ms) ? *client_ts_ms : now_ms;
  last_ts_ms_ = std::max(last_ts_ms_, wanted);
  index_.insert(hash, next_seq_);
  *out = {Admission::Kind::kNew, next_seq_++, last_ts_ms_};
  return Status::ok();
}

Status Sequencer::lookup(std::string_view id, const Digest& content_digest, Admission* out) const {
  return find(id, config_.id_hash(config_.id_hash_key, id), content_digest, out);
}

Status Sequencer::restore(std::string_view id, const Digest& content_digest, std::uint64_t seq,
                          std::int64_t ts_ms) {
  TRIAD_ASSERT(seq == next_seq_);
  if (ts_ms < last_ts_ms_) {
    return Status::corruption("seq " + std::to_string(seq) + " has ts " + std::to_string(ts_ms) +
                              " before the previous seq's " + std::to_string(last_ts_ms_));
  }
  const std::uint64_t hash = config_.id_hash(config_.id_hash_key, id);
  Admission earlier;
  TRIAD_RETURN_IF_ERROR(find(id, hash, content_digest, &earlier));
  if (earlier.kind != Admission::Kind::kNew) {
    return Status::corruption("id " + std::string(id) + " is at seq " +
                              std::to_string(earlier.seq) + " and again at seq " +
                              std::to_string(seq));
  }
  index_.insert(hash, seq);
  last_ts_ms_ = ts_ms;
  ++next_seq_;
  return Status::ok();
}

}  // namespace triad::sequencer
