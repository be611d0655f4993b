// A replica's message handling without I/O: what it does with each message
// from the front end (hello, in-order apply with gap detection and Fetch,
// control: inject, snapshot request, install), its timers (idle Hello, the
// delay fault's queue) and how it batches verdicts. It is stepped with the
// bytes that arrived and the time, and returns the messages to send, so the
// real process (replica.cc, a ZeroMQ DEALER socket) and the deterministic
// simulator (tests/sim) drive the very same code.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "replica/replica.h"
#include "wire/codec.h"
#include "wire/snapshot_parts.h"

namespace triad::replica {

class ReplicaNode {
 public:
  // FromReplica messages (FlatBuffers bytes) for the front end, in the order
  // they must be sent.
  using Messages = std::vector<std::vector<std::uint8_t>>;

  // Nothing received and no Hello sent for longer than this: a Hello, so the
  // front end resends a lost tail.
  static constexpr std::uint64_t kIdleHelloUs = 500'000;
  // At most one Fetch per this interval while a gap lasts.
  static constexpr std::uint64_t kFetchIntervalUs = 200'000;
  // Early entries held while waiting for a missing one, in count and in
  // bytes; beyond either, they are dropped and fetched again later. A
  // replica being replayed gets the live seqs ahead of the replay, and a
  // transaction can carry 64 KiB of text: by count alone, clients sending
  // large ones during a long replay could hold gigabytes in it.
  static constexpr std::size_t kMaxPending = 1'000'000;
  static constexpr std::size_t kMaxPendingBytes = std::size_t{256} << 20;
  // A burst's verdicts go out as soon as this many are queued, not only at
  // its end: the front end handles a message whole (its 5 ms bound on
  // reading replica messages falls between messages), and under a flood one
  // message of 1.4 MB (thousands of verdicts) held it for 86 ms, reading no
  // request and sending the replicas nothing meanwhile. Each message costs a
  // signature and its check (about 60 us at the front end), so 512 verdicts a
  // message at 30,000 decisions/s is about 1% of a core. In a 50,000/s flood,
  // three alternating pairs (2026-12-05): 8% more decided, client p99 282-294
  // against 306-327 ms, max 304-384 against 377-448 ms.
  static constexpr std::size_t kMaxVerdictsPerMessage = wire::kMaxVerdictsPerMessage;
  // A snapshot asked for is copied out of the checkpoint's kept pages a
  // share at a time, one at each turn (on_time; next_timer_us() is due at
  // once while a copy is under way), so that its verdicts go on between
  // shares: a share is what the window has in flight, 2 MiB.
  static constexpr std::size_t kSnapshotCopyStepParts = wire::kSnapshotWindowParts;
  // A snapshot's parts not yet sent are dropped (wiped) when the front end
  // acknowledged none of them for this long: it gave the transfer up.
  static constexpr std::uint64_t kSnapshotAbandonUs = 60'000'000;

  // `now_us` is the time the process started (a monotonic clock; the
  // simulator's own clock in tests). Its snapshot goes in slices of at most
  // `snapshot_part_bytes` (tests use small ones). `launch` is which process
  // of the replica this is (Config::launch), said in every message it sends.
  ReplicaNode(std::unique_ptr<ReplicaCore> core, std::uint64_t now_us,
              std::size_t snapshot_part_bytes = wire::kSnapshotPartBytes, std::uint64_t launch = 0);

  // The first Hello, once connected.
  void start(std::uint64_t now_us, Messages* to_front_end);

  // One message from the front end, then the batch of verdicts it produced.
  void on_message(std::span<const std::uint8_t> bytes, std::uint64_t now_us,
                  Messages* to_front_end);
  // The same without the batch of verdicts: a shell that drains a burst of
  // messages calls receive() for each and flush() once, so the verdicts of
  // the burst travel in one message (or one per kMaxVerdictsPerMessage,
  // appended as they fill). Control answers (Hello, Fetch, Snapshot) are
  // appended at once.
  void receive(std::span<const std::uint8_t> bytes, std::uint64_t now_us, Messages* to_front_end);
  // The verdicts ready to go, as one message (nothing when there are none).
  void flush(Messages* to_front_end);

  // Time passed: releases the delay fault's verdicts that are due, and says
  // Hello when idle.
  void on_time(std::uint64_t now_us, Messages* to_front_end);
  // The earliest time on_time has something to do; nullopt when nothing is
  // pending (crashed).
  std::optional<std::uint64_t> next_timer_us() const;

  // Part of the next checkpoint's work can be done ahead, so that less of it
  // falls on the checkpoint seq, where all three replicas pause at once and
  // the vote cannot hide it (ReplicaCore::prepare_checkpoint). A shell asks
  // after the messages it handled whether to start: once the card pages
  // waiting to be rewritten outnumber the seqs left before the checkpoint by
  // kPrepareMinPages. A page rewritten ahead is rewritten again if it changes
  // again before the checkpoint; starting at once did that over and over
  // with a long interval or busy cards (with a million cards and no
  // checkpoint within a run, over a quarter of a replica's CPU). Waiting
  // keeps the work near the checkpoint seq and still leaves it a seq per
  // page, about two pages a seq at most. (With the sample's 1,000 cards, 32
  // pages, it never starts: there the whole checkpoint takes about a third
  // of a millisecond.) Then, while no message is waiting, it calls
  // prepare_checkpoint(), one step of kPrepareStepPages pages, until that
  // says nothing is left.
  bool checkpoint_work_waiting();
  bool prepare_checkpoint();
  std::uint64_t checkpoint_steps_ahead() const { return checkpoint_steps_ahead_; }
  static constexpr std::uint64_t kPrepareMinPages = 64;
  static constexpr std::uint64_t kPrepareStepPages = 16;

  // The crash fault fired: the verdicts up to it were flushed into the last
  // Messages; the process must now exit at once (the node does nothing more).
  bool crashed() const { return crashed_; }
  // The hang fault fired: alive, but it answers nothing until a new fault
  // (`triad inject ... none`) is injected.
  bool hung() const { return hung_; }
  const ReplicaCore& core() const { return *core_; }
  std::uint64_t malformed_messages() const { return malformed_; }
  std::size_t pending_count() const { return pending_.size(); }
  std::size_t pending_bytes() const { return pending_bytes_; }

 private:
  struct PendingEntry {
    std::int64_t ts_ms;
    Transaction tx;
    std::size_t bytes;  // its share of pending_bytes_
  };
  void clear_pending();

  void send_hello(std::uint64_t now_us, Messages* out);
  void send_fetch(std::uint64_t from, std::uint64_t to, std::uint64_t now_us, Messages* out);
  // Starts copying the latest checkpoint's snapshot (its first share).
  void send_snapshot(std::uint64_t now_us, Messages* out);
  // One more share of the copy; the first parts once it is whole.
  void copy_snapshot(std::uint64_t now_us, Messages* out);
  // The front end gathered this much of the snapshot being sent.
  void on_snapshot_ack(const wire::SnapshotAck& ack, std::uint64_t now_us, Messages* out);
  // What it gathered of the install under way, to the front end.
  void ack_install(std::uint64_t now_us, Messages* out);
  // The parts the window lets go; the run is dropped once all went.
  void send_due_parts(Messages* out);
  void on_inject(const std::string& text);
  // A part of a snapshot to install; installs it once whole.
  void on_install_part(const wire::Snapshot& part, std::uint64_t now_us, Messages* out);
  void on_install(const wire::SnapshotView& snapshot, std::uint64_t now_us, Messages* out);
  // Keeps the state it has and tells the front end why (InstallRefused);
  // asks for the seqs missing before those it holds.
  void refuse_install(std::uint64_t seq, std::string reason, std::uint64_t now_us, Messages* out);
  void on_entry(std::uint64_t seq, std::int64_t ts_ms, Transaction tx, std::uint64_t now_us,
                Messages* out);
  void apply(std::uint64_t seq, std::int64_t ts_ms, const Transaction& tx, std::uint64_t now_us,
             Messages* out);
  void release_delayed(std::uint64_t now_us, Messages* out);
  // Queues a verdict for the next flush; flushes at kMaxVerdictsPerMessage.
  void queue(ReplicaCore::Step step, Messages* out);

  std::unique_ptr<ReplicaCore> core_;
  std::size_t snapshot_part_bytes_;
  std::uint64_t launch_;
  wire::SnapshotAssembly installing_;   // the parts of a snapshot to install
  std::uint64_t install_acked_us_ = 0;  // when it last said what it gathered
  // The snapshot being sent, and when the front end last said it gathered
  // a part of it.
  wire::PartSender<std::string> outgoing_;
  std::uint64_t outgoing_acked_us_ = 0;
  // The copy under way (ReplicaCore::copying_snapshot), for the log.
  std::uint64_t snapshot_copy_started_us_ = 0;
  std::uint64_t snapshot_copy_steps_ = 0;
  std::map<std::uint64_t, PendingEntry> pending_;
  std::size_t pending_bytes_ = 0;  // held by pending_, text included
  // Verdicts to sign and send at the next flush, and for each whether the
  // badsig fault picked it (those go in batches of their own).
  std::vector<voter::ReplicaVerdict> outbox_;
  std::vector<bool> outbox_bad_signature_;
  std::deque<std::pair<std::uint64_t, ReplicaCore::Step>> delayed_;  // (due, step)
  std::uint64_t last_received_us_;
  std::uint64_t last_hello_us_ = 0;
  std::optional<std::uint64_t> last_fetch_us_;
  std::uint64_t malformed_ = 0;
  std::uint64_t checkpoint_steps_ahead_ = 0;
  bool hung_ = false;
  bool crashed_ = false;
};

}  // namespace triad::replica
