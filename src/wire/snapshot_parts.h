// A replica's state snapshot (schemas/replica.fbs, Snapshot) in parts. The
// state grows with the card file, the rule 10 window and every id ever
// decided, past what one message should hold (a peer's message is what
// ZeroMQ makes us allocate before anything is checked), so it travels as a
// run of messages, each a slice of the state, and is put together here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "triad/status.h"
#include "triad/wire/replica_generated.h"

namespace triad::wire {

// The largest slice of state in one message; a slice costs the event loop a
// copy of a few ms. A state at the limit below goes in 120 messages: with
// the live entries queued beside them, the front end's queue for a replica
// (256 messages) may drop one, and the replica then refuses the install.
inline constexpr std::size_t kSnapshotPartBytes = 16 * 1024 * 1024;
// The largest state a snapshot may hold: what one stored snapshot file holds
// (one AES-GCM message, which OpenSSL counts in int), with room to spare for
// the file's other fields. Beyond it a snapshot is refused whole, with this
// reason, and repairs replay the journal.
inline constexpr std::uint64_t kMaxSnapshotStateBytes = 2'000'000'000;

// A snapshot's fields, viewed where they lie (an assembly, a held copy, a
// stored snapshot).
struct SnapshotView {
  std::uint64_t seq = 0;
  std::span<const std::uint8_t> state_digest;
  std::span<const std::uint8_t> checkpoint_digest;
  std::span<const std::uint8_t> engine_state;
};

// Which message carries the parts.
enum class SnapshotCarrier : std::uint8_t {
  kInstall,      // ToReplica.install: front end to a replica in repair
  kFromReplica,  // FromReplica.snapshot: a replica answering snapshot_request
};

// The messages carrying `snapshot`, in order: at least one (an empty state
// too), each with a slice of at most `part_bytes` (> 0) of the state.
std::vector<std::vector<std::uint8_t>> encode_snapshot(SnapshotCarrier carrier,
                                                       const SnapshotView& snapshot,
                                                       std::size_t part_bytes = kSnapshotPartBytes);
// One of them: the slice of `size` bytes at `offset`.
std::vector<std::uint8_t> encode_snapshot_part(SnapshotCarrier carrier,
                                               const SnapshotView& snapshot, std::size_t offset,
                                               std::size_t size);

// Puts one peer's snapshot together from its parts as they arrive. The
// state is card data: what was gathered is wiped when dropped.
class SnapshotAssembly {
 public:
  enum class Progress : std::uint8_t {
    kIgnored,  // a part of a run not under way: the rest of one dropped
    kPartial,
    kComplete,
  };

  SnapshotAssembly() = default;
  SnapshotAssembly(const SnapshotAssembly&) = delete;
  SnapshotAssembly& operator=(const SnapshotAssembly&) = delete;
  ~SnapshotAssembly() { clear(); }

  // Adds a part (from a verified message). A part at offset 0 starts a new
  // snapshot, dropping what was gathered (the peer was asked again, or
  // restarted). Any other continues the one under way, and must: same seq,
  // digests and size, at the offset reached; with none under way it is
  // ignored (the rest of a run dropped, or refused, before). Corruption
  // naming what does not hold otherwise, and what was gathered is dropped;
  // for a size over kMaxSnapshotStateBytes (an honest replica's state may
  // grow past it) Rejected, with the size and the limit.
  Status add(const Snapshot& part, Progress* progress);
  // The whole snapshot once add() said kComplete, until the next add() or
  // clear().
  SnapshotView view() const;
  // Whether a run is under way (or complete, until clear()), and its seq.
  bool under_way() const { return under_way_; }
  std::uint64_t seq() const { return seq_; }
  // The state's bytes gathered so far.
  std::size_t gathered_bytes() const { return engine_state_.size(); }
  // Wipes and frees what was gathered.
  void clear();

 private:
  bool under_way_ = false;
  std::uint64_t seq_ = 0;
  std::uint64_t total_bytes_ = 0;
  std::vector<std::uint8_t> state_digest_;
  std::vector<std::uint8_t> checkpoint_digest_;
  // The state so far, in one buffer grown (doubling, up to the size the
  // first part claims) as slices come: not taken at the claimed size up
  // front (a faulty peer's claim of 2 GB would cost that much, or fail, at
  // once), nor a block per slice (a faulty peer's 1-byte parts would cost
  // far more than their bytes). A buffer outgrown is wiped, not left in the
  // heap.
  std::vector<std::uint8_t> engine_state_;
};

}  // namespace triad::wire
