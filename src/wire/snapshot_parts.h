// A replica's state snapshot (schemas/replica.fbs, Snapshot) in parts. The
// state grows with the card file, the rule 10 window and every id ever
// decided, past what one message should hold (a peer's message is what
// ZeroMQ makes us allocate before anything is checked), so it travels as a
// run of messages, each a slice of the state, and is put together here.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "common/types.h"
#include "triad/status.h"
#include "triad/wire/replica_generated.h"

namespace triad::wire {

// The largest slice of state in one message, and how many a sender has in
// flight beyond those the receiver said it gathered (PartWindow). Whatever
// else goes on the same link waits behind what is in flight: a source's
// verdicts behind its snapshot, and on each side ZeroMQ's I/O thread, which
// encrypts and decrypts a whole message at once, behind each part. Sent all
// at once, a state of 74 MB (a million cards) held a source's verdicts, and
// so every decision while the repaired replica was out, up to 0.68 s (bench/
// README.md, "A repair under load"); in 1 MiB parts, two at a time, a
// verdict waits behind about 2 MiB.
inline constexpr std::size_t kSnapshotPartBytes = 1024 * 1024;
inline constexpr std::size_t kSnapshotWindowParts = 2;
// A receiver that got no part for this long says again what it gathered:
// an acknowledgement lost (a queue full) would otherwise stall the run
// until the wait that bounds it ends.
inline constexpr std::uint64_t kSnapshotReackUs = 1'000'000;
// The largest state a snapshot may hold: a quarter of this machine's
// memory, and never more than kMaxSnapshotStateBytes. The stored snapshot
// file has no bound of its own (it is written in segments,
// journal/snapshot_file.h); the bound is memory, where every replica keeps
// its state and the front end one or two copies while it checks, stores or
// installs one, and where a faulty source's claim is held as it is sent.
// Beyond it a snapshot is refused whole, with this reason, and repairs
// replay the journal. The same on every process of one machine.
inline constexpr std::uint64_t kMaxSnapshotStateBytes = std::uint64_t{64} << 30;  // 64 GiB
std::uint64_t max_snapshot_state_bytes();

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
// `launch`, where an encoder below takes it, is the sending replica's
// FromReplica.launch (its parts, its acknowledgements of an install); the
// front end's messages carry none.

// The messages carrying `snapshot`, in order: at least one (an empty state
// too), each with a slice of at most `part_bytes` (> 0) of the state.
std::vector<std::vector<std::uint8_t>> encode_snapshot(SnapshotCarrier carrier,
                                                       const SnapshotView& snapshot,
                                                       std::size_t part_bytes = kSnapshotPartBytes);
// One of them: the slice of `size` bytes at `offset`.
std::vector<std::uint8_t> encode_snapshot_part(SnapshotCarrier carrier,
                                               const SnapshotView& snapshot, std::size_t offset,
                                               std::size_t size, std::uint64_t launch = 0);

// A first part with none of the state, which says its size: what a sender
// whose state is over max_snapshot_state_bytes() sends, so that the receiver
// refuses the run with that reason at once.
std::vector<std::uint8_t> encode_oversized_snapshot_part(
    SnapshotCarrier carrier, std::uint64_t seq, std::span<const std::uint8_t> state_digest,
    std::span<const std::uint8_t> checkpoint_digest, std::uint64_t state_bytes,
    std::uint64_t launch = 0);
// The receiver's word that it gathered `gathered` bytes of run `seq`, for
// the sender of parts carried by `carrier`: ToReplica.snapshot_ack for a
// replica's snapshot, FromReplica.install_ack for an install.
std::vector<std::uint8_t> encode_snapshot_ack(SnapshotCarrier carrier, std::uint64_t seq,
                                              std::uint64_t gathered, std::uint64_t launch = 0);

// The sender's side of a run of parts (encode_snapshot's messages, numbered
// from 0): which may go now. At most kSnapshotWindowParts are in flight
// beyond those the receiver acknowledged (SnapshotAck), so the run shares
// the link with what else travels on it. The receiver says again what it
// gathered when parts stop coming (kSnapshotReackUs), which covers a lost
// acknowledgement; parts lost are not sent again (the run is refused or
// given up, as before).
class PartWindow {
 public:
  PartWindow() = default;
  // A run of `parts` (> 0) parts of `part_bytes` each (the last may be
  // smaller) of the snapshot of `seq`.
  PartWindow(std::uint64_t seq, std::size_t parts, std::size_t part_bytes);

  // Whether a run was started (and not ended by the sender's owner).
  bool active() const { return parts_ > 0; }
  std::uint64_t seq() const { return seq_; }
  std::size_t parts() const { return parts_; }
  std::size_t sent() const { return sent_; }
  bool all_sent() const { return active() && sent_ == parts_; }
  // The parts to send now, [sent() before the call, the returned end), which
  // count as sent from here.
  std::size_t take_due();
  // take_due(), then `part(i)` for each part i it let go, in order.
  template <typename Part>
  void for_each_due(Part&& part) {
    const std::size_t first = sent_;
    const std::size_t end = take_due();
    for (std::size_t i = first; i < end; ++i) part(i);
  }
  // The receiver gathered `gathered` bytes of run `seq`: false when that is
  // not this run, or not a count of whole parts sent (a peer's mistake).
  bool on_ack(std::uint64_t seq, std::uint64_t gathered);

 private:
  std::uint64_t seq_ = 0;
  std::size_t parts_ = 0;
  std::size_t part_bytes_ = 0;
  std::size_t sent_ = 0;
  std::size_t acked_ = 0;
};

// How many parts encode_snapshot makes of a state of `state_bytes`: at
// least one (an empty state too).
std::size_t snapshot_part_count(std::size_t state_bytes, std::size_t part_bytes);

namespace detail {
void wipe_bytes(void* data, std::size_t size);
}  // namespace detail

// A snapshot to send in parts, each encoded as the window lets it go:
// encoding them all at once cost the sender a second copy of the state, and
// the page faults of that much fresh memory, in one go (a source's verdicts
// waited behind it). `Bytes` (std::string or std::vector<std::uint8_t>)
// holds the state, card data: wiped once every part went, or when the run
// is dropped.
template <typename Bytes>
class PartSender {
 public:
  PartSender() = default;
  PartSender(SnapshotCarrier carrier, std::uint64_t seq, const Digest& state_digest,
             const Digest& checkpoint_digest, Bytes engine_state, std::size_t part_bytes,
             std::uint64_t launch = 0)
      : carrier_(carrier),
        launch_(launch),
        state_digest_(state_digest),
        checkpoint_digest_(checkpoint_digest),
        engine_state_(std::move(engine_state)),
        part_bytes_(part_bytes),
        window_(seq, snapshot_part_count(engine_state_.size(), part_bytes), part_bytes) {}
  PartSender(PartSender&& other) noexcept { *this = std::move(other); }
  PartSender& operator=(PartSender&& other) noexcept {
    if (this != &other) {
      clear();
      carrier_ = other.carrier_;
      launch_ = other.launch_;
      state_digest_ = other.state_digest_;
      checkpoint_digest_ = other.checkpoint_digest_;
      engine_state_ = std::exchange(other.engine_state_, {});
      part_bytes_ = other.part_bytes_;
      window_ = std::exchange(other.window_, {});
    }
    return *this;
  }
  ~PartSender() { clear(); }

  // Stays as it ended once every part went (all_sent()), until clear().
  const PartWindow& window() const { return window_; }
  bool on_ack(std::uint64_t seq, std::uint64_t gathered) { return window_.on_ack(seq, gathered); }
  // Encodes the parts due now and hands each to `send`, in order.
  template <typename Send>
  void send_due(Send&& send) {
    const SnapshotView view{
        window_.seq(),
        state_digest_,
        checkpoint_digest_,
        {reinterpret_cast<const std::uint8_t*>(engine_state_.data()), engine_state_.size()}};
    window_.for_each_due([&](std::size_t i) {
      const std::size_t offset = i * part_bytes_;
      send(encode_snapshot_part(carrier_, view, offset,
                                std::min(part_bytes_, engine_state_.size() - offset), launch_));
    });
    if (window_.all_sent()) release_state();
  }
  // Wipes the state; window() is then inactive.
  void clear() {
    release_state();
    window_ = {};
  }

 private:
  void release_state() {
    detail::wipe_bytes(engine_state_.data(), engine_state_.size());
    Bytes().swap(engine_state_);
  }

  SnapshotCarrier carrier_ = SnapshotCarrier::kInstall;
  std::uint64_t launch_ = 0;
  Digest state_digest_{};
  Digest checkpoint_digest_{};
  Bytes engine_state_;
  std::size_t part_bytes_ = 0;
  PartWindow window_;
};

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
  // for a size over max_snapshot_state_bytes() (an honest replica's state may
  // grow past it) Rejected, with the size and the limit, and so for a size
  // this process cannot reserve.
  Status add(const Snapshot& part, Progress* progress);
  // The whole snapshot once add() said kComplete, until the next add() or
  // clear().
  SnapshotView view() const;
  // Moves the state out of a complete snapshot (the view's engine_state
  // still points into it); view() is not to be called after.
  std::vector<std::uint8_t> release_state() { return std::exchange(engine_state_, {}); }
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
  // The state so far, in one buffer of the size the first part claims,
  // reserved (not filled) at once: its pages are the kernel's until slices
  // fill them. Not a block per slice (a faulty peer's 1-byte parts would
  // cost far more than their bytes).
  std::vector<std::uint8_t> engine_state_;
};

}  // namespace triad::wire
