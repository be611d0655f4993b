// The sequencer: gives every new transaction the next seq and its sequenced
// time, and keeps the idempotency record (rules.md section 7). Pure: the
// caller passes the current time and the content digest.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>

#include "common/types.h"
#include "triad/status.h"

namespace triad::sequencer {

struct Admission {
  enum class Kind : std::uint8_t {
    kNew,       // sequenced now: send it to the replicas
    kRepeated,  // same id, same content: answer from the record, do not re-send
    kIdReused,  // same id, different content: refuse, do not sequence
  };
  Kind kind = Kind::kNew;
  std::uint64_t seq = 0;   // for kNew and kRepeated
  std::int64_t ts_ms = 0;  // for kNew and kRepeated
};

class Sequencer {
 public:
  struct Config {
    // Use the transaction's own ts when present (replay of recorded traffic).
    bool trust_client_time = false;
  };

  explicit Sequencer(Config config) : config_(config) {}

  // `now_ms` is the front end's clock. Sequenced time never goes backwards: a
  // ts older than the last sequenced one is raised to it.
  Admission admit(const std::string& id, const Digest& content_digest,
                  std::optional<std::int64_t> client_ts_ms, std::int64_t now_ms);

  // What admit() would answer, without sequencing anything: kNew for an id
  // it has not seen (seq and ts_ms then 0).
  Admission lookup(const std::string& id, const Digest& content_digest) const;

  // Rebuilds the record from the input journal after a restart, one seq at
  // a time: `seq` must be last_seq() + 1 (asserted). Corruption when the id
  // was already restored or `ts_ms` is older than the last one: the journal
  // would then say something admit() can never have done.
  Status restore(const std::string& id, const Digest& content_digest, std::uint64_t seq,
                 std::int64_t ts_ms);

  std::uint64_t last_seq() const { return next_seq_ - 1; }
  std::int64_t last_ts_ms() const { return last_ts_ms_; }
  std::size_t record_size() const { return record_.size(); }

 private:
  struct Record {
    Digest content_digest;
    std::uint64_t seq;
    std::int64_t ts_ms;
  };
  Config config_;
  std::uint64_t next_seq_ = 1;
  std::int64_t last_ts_ms_ = INT64_MIN;
  std::unordered_map<std::string, Record> record_;
};

}  // namespace triad::sequencer
