// The sequencer: gives every new transaction the next seq and its sequenced
// time, and keeps the idempotency record (rules.md section 7). Pure: the
// caller passes the current time and the content digest, and answers for
// what it sequenced (History).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/types.h"
#include "crypto/hash.h"
#include "sequencer/id_index.h"
#include "triad/status.h"

namespace triad::sequencer {

struct Admission {
  enum class Kind : std::uint8_t {
    kNew,       // sequenced now: send it to the replicas
    kRepeated,  // same id, same content: answer from the record, do not re-send
    kIdReused,  // same id, different content: refuse, do not sequence
  };
  Kind kind = Kind::kNew;
  std::uint64_t seq = 0;   // the id's seq (0 for an id not yet sequenced)
  std::int64_t ts_ms = 0;  // for kNew and kRepeated
};

// What the sequencer gave a seq. The idempotency record keeps only a hash of
// each id and its seq; the rest is in the input journal, which the caller
// reads for it when a hash matches: for a repeated id (a client's retry),
// and about once in 2^64 / (ids sequenced) look-ups by chance.
struct Sequenced {
  std::string id;
  Digest content_digest{};
  std::int64_t ts_ms = 0;
};
class History {
 public:
  virtual ~History() = default;
  // What `seq` (sequenced or restored earlier) holds; an error when it
  // cannot be read back.
  virtual Status sequenced(std::uint64_t seq, Sequenced* out) = 0;
};

class Sequencer {
 public:
  struct Config {
    // Use the transaction's own ts when present (replay of recorded traffic).
    bool trust_client_time = false;
    // For the ids' hashes: random in a process facing clients, so that none
    // can send ids that collide on purpose; any fixed key in tests.
    crypto::ShortHashKey id_hash_key{};
    // Tests pass a weak hash here to make ids collide.
    std::uint64_t (*id_hash)(const crypto::ShortHashKey&, std::string_view) = crypto::short_hash;
  };

  // `history` must outlive the sequencer.
  Sequencer(Config config, History* history) : config_(config), history_(history) {}

  // `now_ms` is the front end's clock. Sequenced time never goes backwards: a
  // ts older than the last sequenced one is raised to it. An error only when
  // History could not read back a seq whose hash matched; nothing was
  // sequenced then.
  Status admit(std::string_view id, const Digest& content_digest,
               std::optional<std::int64_t> client_ts_ms, std::int64_t now_ms, Admission* out);

  // What admit() would answer, without sequencing anything: kNew for an id
  // it has not seen (seq and ts_ms then 0).
  Status lookup(std::string_view id, const Digest& content_digest, Admission* out) const;

  // Rebuilds the record from the input journal after a restart, one seq at
  // a time: `seq` must be last_seq() + 1 (asserted). Corruption when the id
  // was already restored or `ts_ms` is older than the last one: the journal
  // would then say something admit() can never have done.
  Status restore(std::string_view id, const Digest& content_digest, std::uint64_t seq,
                 std::int64_t ts_ms);

  std::uint64_t last_seq() const { return next_seq_ - 1; }
  std::int64_t last_ts_ms() const { return last_ts_ms_; }

 private:
  // The look-up of admit(), lookup() and restore(), with the id's hash.
  Status find(std::string_view id, std::uint64_t hash, const Digest& content_digest,
              Admission* out) const;

  Config config_;
  History* history_;
  std::uint64_t next_seq_ = 1;
  std::int64_t last_ts_ms_ = INT64_MIN;
  IdIndex index_;
};

}  // namespace triad::sequencer
