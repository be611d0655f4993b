// A validator replica: applies sequenced transactions strictly in seq order
// to its own copy of the card state and answers each with a signed verdict.
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/types.h"
#include "crypto/aead.h"
#include "crypto/ed25519.h"
#include "replica/checkpoint.h"
#include "replica/fault.h"
#include "rules/engine.h"
#include "voter/voter.h"

namespace triad::replica {

// How this binary was built: compiler and version, standard library,
// optimisation flags, card-index variant, source revision. Signed into every
// verdict so a certificate says which builds vouched for it.
const std::string& build_fingerprint();

// Whether `seq` carries a full-state checkpoint when the interval is `every`
// (>= 1): every `every` seqs. A function of seq alone, so every replica, and
// a repaired one restored at any seq, agrees on the schedule. The interval
// used to double as the history grew, when a checkpoint serialized and
// hashed the whole state; now a checkpoint costs what changed since the last
// one (checkpoint.h), so a fixed interval keeps each one small and bounds a
// repaired replica's replay after its snapshot. It does not bound how long
// the scrub takes to re-read old approvals and ids (checkpoint.h): that
// grows with the history.
bool is_checkpoint_seq(std::uint64_t seq, std::uint64_t every);

// The deterministic heart of a replica, without I/O: decide, chain the state
// digest, sign. Faults are applied here so the simulator and tests share them.
class ReplicaCore {
 public:
  // At the checkpoint seqs (is_checkpoint_seq with checkpoint_interval) the
  // engine state's checkpoint digest (checkpoint.h) goes into that seq's
  // verdict, and the state is kept as the snapshot a replica in repair can
  // be given.
  // `card_ref_key`: the deployment's card reference key, under which a
  // transaction's PAN is hashed into its digest (wire::transaction_digest).
  ReplicaCore(int replica, const rules::CardFile& cards, const Digest& card_file_digest,
              crypto::SigningKey key, const crypto::SymmetricKey& card_ref_key, Fault fault,
              std::uint64_t seed, std::uint64_t checkpoint_interval = 1000);

  enum class Action : std::uint8_t { kSend, kDrop, kCrash, kHang };
  struct Step {
    Action action = Action::kSend;
    voter::ReplicaVerdict verdict;  // not signed yet: see sign()
    bool bad_signature = false;     // the badsig fault picked this verdict
  };

  // Applies the entry with seq == next_seq() (asserted) and ts_ms accepted by
  // accepts_ts() (asserted by the engine).
  Step apply(std::uint64_t seq, std::int64_t ts_ms, const Transaction& tx);
  // False when ts_ms is lower than the last applied entry's.
  bool accepts_ts(std::int64_t ts_ms) const { return engine_.accepts_ts(ts_ms); }

  // Signs `verdicts` as one batch (wire::sign_verdict_batch): one Ed25519
  // signature over their Merkle root, with this replica's key, or with the
  // badsig fault's wrong key when `bad_signature`. Does nothing without a key
  // (the offline replay).
  void sign(std::span<voter::ReplicaVerdict> verdicts, bool bad_signature) const;

  std::uint64_t next_seq() const { return next_seq_; }
  const Digest& state_digest() const { return state_digest_; }
  int replica() const { return replica_; }
  const Fault& fault() const { return fault_; }
  // A new fault from now on ("after N" counts from here); none stops one.
  void set_fault(const Fault& fault);

  struct Checkpoint {
    std::uint64_t seq = 0;  // 0: the start state, before any transaction
    Digest state_digest{};
    Digest checkpoint_digest{};  // checkpoint_digest() of the engine state
  };
  struct Snapshot : Checkpoint {
    std::string engine_state;  // rules::Engine::serialize()'s bytes
  };
  // The latest checkpoint seq and its digests.
  const Checkpoint& latest_checkpoint() const { return checkpoint_; }
  // The state at the latest checkpoint seq. Copies the whole state: for a
  // repair, not for every checkpoint.
  Snapshot latest_snapshot() const;
  // latest_snapshot() a share at a time (Checkpointer::StateCopy), for a
  // replica that answers verdicts between shares: a repair's source. A copy
  // started drops one under way; one goes on across checkpoints (the
  // snapshot is still the checkpoint it started from), and an install drops
  // it.
  void start_snapshot_copy();
  bool copying_snapshot() const { return snapshot_copy_ != nullptr; }
  // Of the copy under way: the checkpoint copied, and its state's size.
  const Checkpoint& snapshot_copy_of() const;
  std::size_t snapshot_copy_bytes() const;
  // Copies about `max_bytes` (> 0) more; the snapshot once whole, which ends
  // the copy.
  std::optional<Snapshot> continue_snapshot_copy(std::size_t max_bytes);
  void drop_snapshot_copy() { snapshot_copy_.reset(); }
  // Replaces the whole state with `snapshot` (state transfer during repair):
  // next_seq() becomes snapshot.seq + 1. Corruption when the bytes do not
  // give the checkpoint digest or the engine refuses them; the state is
  // then unchanged.
  Status install(const Snapshot& snapshot);
  // Part of the next checkpoint's work, done ahead when nothing else is
  // waiting (Checkpointer::note_changes and prepare): the card pages
  // waiting to be rewritten, and one step of at most `max_pages` pages,
  // which says whether any is left. Neither changes a verdict or a digest.
  std::uint64_t note_checkpoint_changes() { return checkpointer_.note_changes(engine_); }
  bool prepare_checkpoint(std::uint64_t max_pages) {
    return checkpointer_.prepare(engine_, max_pages);
  }
  // The seqs still to apply up to and including the next checkpoint seq.
  std::uint64_t seqs_to_checkpoint() const {
    return checkpoint_interval_ - (next_seq_ - 1) % checkpoint_interval_;
  }

 private:
  void take_checkpoint(std::uint64_t seq);

  int replica_;
  rules::Engine engine_;
  crypto::SigningKey key_;
  crypto::SymmetricKey card_ref_key_;
  crypto::SigningKey wrong_key_;  // for the badsig fault
  Fault fault_;
  FaultDice dice_;
  std::uint64_t seed_;
  std::uint64_t checkpoint_interval_;
  std::uint64_t applied_since_fault_ = 0;
  bool corrupted_ = false;
  std::uint64_t next_seq_ = 1;
  Digest state_digest_{};
  Checkpoint checkpoint_;
  Checkpointer checkpointer_;
  struct SnapshotCopy {
    explicit SnapshotCopy(const Checkpoint& checkpoint, const Checkpointer& kept)
        : of(checkpoint), state(kept) {}
    Checkpoint of;
    Checkpointer::StateCopy state;
  };
  std::unique_ptr<SnapshotCopy> snapshot_copy_;
};

struct Config {
  int replica = 0;
  std::string cards_path;
  std::string key_path;
  std::string card_ref_key_path;  // the deployment's card reference key (layout.h)
  std::string endpoint;           // the front end's replica socket
  // CURVE: this replica's secret key and the front end's public key (both
  // files, layout.h). Set: the link is encrypted and the replica talks only
  // to the holder of the front end's secret key. Empty: plain TCP.
  std::string curve_key_path;
  std::string curve_server_key_path;
  Fault fault;
  std::uint64_t seed = 1;
  std::string log_path;  // empty: standard error only
  std::uint64_t checkpoint_interval = 1000;
  // Which process of this replica it is (FromReplica.launch): the front end
  // tells a message of a process it has reaped from its successor's by it.
  std::uint64_t launch = 0;
};

// Offline differential mode: applies a file of sequenced transactions (JSON
// Lines, each a transaction with its "seq" (1, 2, 3 ...) and sequenced "ts")
// straight to the rules, no network, and writes "SEQ CODE STATE_DIGEST" per
// line to `out`, plus " checkpoint CHECKPOINT_DIGEST" at each checkpoint seq
// (is_checkpoint_seq: every K seqs; the whole state compared, not only the
// decisions). The PANs are hashed into the state digests under the key at
// `card_ref_key_path`, or, when it is empty, under an all-zero key: the
// digests then compare builds with one another, not with a cluster's.
// Returns 0, or 2 with the line and reason on standard error.
int replay(const std::string& cards_path, const std::string& card_ref_key_path,
           const std::string& input_path, std::uint64_t checkpoint_interval, std::FILE* out);

// Runs until SIGTERM/SIGINT (exit 0) or a start-up failure (exit 2, one line
// on standard error naming the cause).
int run(const Config& config);

}  // namespace triad::replica
