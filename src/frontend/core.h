// The front end's logic without its I/O: sequencing, the idempotency record,
// the in-memory journal, fan-out, signature checks, the vote, the answers.
// It is stepped with what arrived and the time, and returns what to send, so
// the real process (frontend.cc) and the deterministic simulator
// (tests/sim) drive the very same code.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/log.h"
#include "common/types.h"
#include "crypto/aead.h"
#include "crypto/ed25519.h"
#include "frontend/archive.h"
#include "frontend/intake_throttle.h"
#include "journal/journal.h"
#include "journal/snapshot_file.h"
#include "repair/repair.h"
#include "replica/checkpoint.h"
#include "sequencer/sequencer.h"
#include "triad/transaction.h"
#include "voter/voter.h"
#include "wire/snapshot_parts.h"

namespace triad::wire {
struct ClientRequest;
struct Verdict;
struct InstallRefused;
struct Snapshot;
struct VerdictBatch;
}  // namespace triad::wire

namespace triad::frontend {

// What the core wants sent. The caller sends it all and then clears it.
struct Outbox {
  struct ToClient {
    std::string client;  // ZeroMQ routing id
    std::vector<std::uint8_t> bytes;
    // The seq a decision answers, or an id refused for reuse was sequenced
    // at: it is sent once the journal holds that seq durably (ReplyGate);
    // 0 for other errors and pongs.
    std::uint64_t seq = 0;
    // The client sends batches, so this reply may leave in one with others
    // to the same client (schemas/client.fbs).
    bool batchable = false;
  };
  struct ToReplica {
    int replica;
    std::vector<std::uint8_t> bytes;
  };
  // From the repair supervisor: kill (kStop) or start afresh (kStart) a
  // replica's process, then report back with on_process_exited/started.
  struct ProcessCommand {
    enum class Kind : std::uint8_t { kStop, kStart } kind;
    int replica;
    std::uint64_t launch = 0;  // kStart: the new process's (ReplicaView::launch)
  };
  // What happened, for the shell's metrics and audit store: the core keeps
  // no history beyond what it needs to answer and to repair.
  struct DecisionRecord {
    std::uint64_t seq = 0;
    std::string id;
    std::int64_t ts_ms = 0;
    std::string code;
    std::string agree;      // replica names in the majority, e.g. "ab"; empty if fail-safe
    std::string divergent;  // replica names known divergent at decision time
    bool fail_safe = false;
    std::uint64_t latency_us = 0;           // from sequencing to decision
    std::vector<std::uint8_t> certificate;  // empty for fail-safe declines
    CardRef card_ref{};                     // zeros when the transaction has no PAN
  };
  struct DivergenceRecord {
    std::uint64_t seq = 0;
    int replica = 0;
    std::string kind;      // voter::to_string(DivergenceKind)
    std::string evidence;  // observed and majority codes, as logged
  };
  struct RepairRecord {
    int replica = 0;
    std::string from;  // repair::to_string(ReplicaState)
    std::string to;
    std::string reason;
    std::string mode;  // the system mode after the transition
  };
  std::vector<ToClient> to_clients;
  std::vector<ToReplica> to_replicas;
  std::vector<ProcessCommand> processes;
  std::vector<DecisionRecord> decisions;
  std::vector<DivergenceRecord> divergences;
  std::vector<RepairRecord> repairs;
  // New fail-safe declines, for the answer log: written (and synced) before
  // their replies are sent.
  std::vector<journal::FailSafeAnswer> fail_safe_answers;
  // A snapshot to store (Config::store_snapshot_every), with its seq's
  // certificate; every seq up to it is decided, and its digests are the
  // majority's checkpoint. The shell checks that its state gives that
  // checkpoint digest (linear in the state: off the event loop) and makes
  // the journal and the archive's certificates durable through that seq
  // first.
  std::optional<journal::StoredSnapshot> snapshot_to_store;
  void clear() {
    to_clients.clear();
    to_replicas.clear();
    processes.clear();
    decisions.clear();
    divergences.clear();
    repairs.clear();
    fail_safe_answers.clear();
    if (snapshot_to_store) journal::wipe_state(&*snapshot_to_store);  // not handed over
    snapshot_to_store.reset();
  }
};

// The core is the sequencer's History: it reads what a seq holds from the
// in-memory part of the journal or back from the archive.
class Core : private sequencer::History {
 public:
  struct Config {
    bool trust_client_time = false;
    // The key of the idempotency record's id hashes (Sequencer::Config):
    // random in the process.
    crypto::ShortHashKey id_hash_key{};
    // The deployment's card reference key, the replicas' too: a PAN is
    // hashed into its transaction's digest as its reference under it
    // (wire::transaction_digest). Required (create() refuses zeros).
    crypto::SymmetricKey card_ref_key;
    std::uint64_t deadline_us = 1'000'000;
    // Hard cap on the seqs the voter holds open (undecided, or decided and
    // waiting for their third verdict, at most a deadline): the memory
    // backstop. Also caps the admission limit (see admission_limit()).
    std::size_t max_in_flight = 20'000;
    // Repeats of undecided ids waiting for their answers, at most (of all
    // seqs): each is a request held in memory until its seq is decided, and
    // a client retrying while a replay or a stall lasts adds one per retry.
    // Past it a repeat is answered Overloaded.
    std::size_t max_waiting_repeats = 65'536;
    std::array<PublicKey, kReplicaCount> replica_keys{};
    repair::Supervisor::Config repair;
    // Replica a alone decides (frontend::Config::simplex): benchmark only.
    bool simplex = false;
    // What the core lets go of, it reads back from here (not owned; must
    // outlive the core).
    Archive* archive = nullptr;
    // How many of the newest transactions stay in memory once decided, so
    // that a replica that reconnects or fetches a gap is mostly sent them
    // without a read from disk.
    std::size_t keep_recent = 16'384;
    // Recent seqs whose agreed and per-replica verdicts are kept, to judge a
    // replica in repair near the live edge (about 8 MB at this size, all
    // set up by create()). Tests that make many cores make it small.
    std::size_t agreed_ring = 16'384;
    // Entries sent to one replica at once when it needs earlier seqs
    // (hello, fetch, replay after a snapshot). A part stops the event loop
    // while it is read back and encoded, and requests arriving meanwhile
    // wait: on two busy cores a part of 16,384 took 22-38 ms read back from
    // disk and 13 ms from memory, one of 2,048 3-11 ms and 1-4 ms
    // (bench/README.md, "Resending to a replica").
    std::size_t max_resend_entries = 2'048;
    // The next part goes, at a message with verdicts, while the replica has
    // fewer than this many sent and not yet answered: a fresh replica of a
    // long journal is fed about as fast as it applies (a replay of 31,000
    // seqs took 0.23-0.38 s here), instead of the whole journal encoded in
    // one turn, most of it to be dropped at the socket's high-water mark.
    std::size_t resend_window_entries = 16'384;
    // Every this many seqs (0: never), a healthy replica is asked for its
    // latest checkpoint snapshot, which goes to the shell to store
    // (Outbox::snapshot_to_store) once it matches the majority's checkpoint
    // and every seq up to it is decided: a restart then decides only the
    // seqs after it again (recover()).
    std::uint64_t store_snapshot_every = 100'000;
    // The largest slice of state in one install message (tests use small
    // ones, so that a small state travels in many parts).
    std::size_t snapshot_part_bytes = wire::kSnapshotPartBytes;
    // The share of a repair's snapshot checked at each turn of the event
    // loop (Transfer::checking): about 1.7 ms on this VM (tests use small
    // ones, so that a small state takes many turns).
    std::size_t snapshot_check_step_bytes = 2 * 1024 * 1024;
  };

  // InvalidArgument when a replica key is not a valid Ed25519 public key or
  // there is no archive.
  static Status create(const Config& config, std::uint64_t now_us, std::unique_ptr<Core>* out);

  // One frame from a client: one request or a batch of them, each handled
  // (and answered) on its own. `wall_ms` is the clock for sequenced time.
  void on_client_message(const std::string& client, std::span<const std::uint8_t> payload,
                         std::uint64_t now_us, std::int64_t wall_ms, Outbox* out);
  // A frame from a client whose connection the shell no longer admits (its
  // key was taken off the allow-list after the handshake): each request in
  // it is answered NotAdmitted, `why` saying so, and none is sequenced.
  void refuse_unadmitted_client(const std::string& client, std::span<const std::uint8_t> payload,
                                const std::string& why, Outbox* out);
  // After each drain of the client socket: `read` requests, and whether it
  // ended by finding the socket empty (see IntakeThrottle).
  void on_client_drain(std::size_t read, bool emptied, std::uint64_t now_us) {
    intake_throttle_.on_drain(read, emptied, now_us, [&] { return decided_per_second(now_us); });
  }
  // After a restart, before any replica connects: takes back what the input
  // journal holds, seqs 1..`journalled` (read from the archive, a part at a
  // time; only the idempotency record and the answers stay in memory, the
  // transactions are read again as the replay reaches them), as if it had
  // just been sequenced:
  // the sequencer continues after the last seq and ts, the idempotency
  // record answers the earlier ids, and the replicas, which start from the
  // card file, are sent all of it again; the rules are deterministic, so each
  // seq gets its original code. Replay is paced (see pump_replay) so no
  // recovered seq waits behind thousands of others and reaches the deadline.
  // Until every recovered seq has been sent, a new id is refused as
  // overloaded ("recovering: ..."), so new traffic never waits behind the
  // replay either; a repeated earlier id waits for (or gets) its answer.
  // The one exception is a seq the voter declined fail-safe (91, 96) before
  // the restart: `fail_safe` (the answer log) has it, and its earlier answer
  // is what a repeated id gets, whatever the replay decides. A record whose
  // transaction digest is not the journalled one's, or whose seq the
  // journal does not reach, is dropped with a warning (its seq was lost
  // before the journal's sync, and may be sequenced again) and left out of
  // *fail_safe, which the caller then writes back as the whole answer log
  // (journal::AnswerLog::rewrite) before anything is sequenced.
  // Corruption when the entries contradict each other (an id twice, ts
  // going backwards), or the archive's error when it cannot read them; the
  // core is then unusable.
  //
  // With `stored` (the newest snapshot the shell stored, read back), the
  // seqs up to its seq are not decided again: their answers are the ones
  // the archive kept (Archive::kept_answer) or the answer log's, each
  // replica is sent the snapshot at its first hello, and the replay starts
  // after it. Only when it holds: its seq journalled, its certificate
  // valid with the replicas' keys for that seq, ts, transaction and rules
  // version and giving its digests, the state giving that checkpoint
  // digest, and an answer kept for every seq up to it. Otherwise (logged)
  // the whole journal is replayed. *start_seq is the seq started from (0:
  // the card file), for Archive keep_through.
  Status recover(std::uint64_t journalled, std::vector<journal::FailSafeAnswer>* fail_safe,
                 const journal::StoredSnapshot* stored = nullptr,
                 std::uint64_t* start_seq = nullptr);
  // The shell wrote every seq up to `seq` to the input journal, and is done
  // with this turn's Outbox: the core may let go of the transactions up to
  // there that are decided and sent (all but the newest keep_recent), and
  // reads them back from the archive when a replica needs them again.
  void release_journaled(std::uint64_t seq);
  // Sends what was sequenced (or, during recovery, opened for replay) since
  // the last call to every connected replica. Call after a burst of client
  // messages, so entries travel in batches.
  void flush_new_entries(Outbox* out);
  // One frame from replica `replica` (the name comes from the connection).
  void on_replica_message(int replica, std::span<const std::uint8_t> payload, std::uint64_t now_us,
                          Outbox* out);
  // The replica's connection or process is gone: send nothing more until it
  // says hello again.
  void on_replica_gone(int replica);
  // The replica's process ended (whether asked to or not) / was started.
  void on_process_exited(int replica, std::uint64_t now_us, Outbox* out);
  void on_process_started(int replica, std::uint64_t now_us, Outbox* out);
  // `triad inject`: forwards the fault (already validated) to the replica.
  void inject(int replica, const std::string& fault, Outbox* out);
  void on_time(std::uint64_t now_us, Outbox* out);

  // The earliest time on_time has something to do, for the poll timeout.
  std::optional<std::uint64_t> next_timer_us() const;

  struct ReplicaView {
    bool connected = false;
    // A resend in parts (Config::max_resend_entries): seqs still to send.
    std::uint64_t resend_from = 0;
    std::uint64_t resend_to = 0;
    // What the latest resend sent so far (0: none since it connected): seqs
    // resent_from..resent_to, the last part at resent_at_us. A hello naming
    // resent_from soon after crossed it; so did a fetch from a seq in it
    // beyond its last fetch's (the replica is applying it).
    std::uint64_t resent_from = 0;
    std::uint64_t resent_to = 0;
    std::uint64_t resent_at_us = 0;
    std::uint64_t fetched_from = 0;  // its last fetch's first seq
    // When a fetch or hello of it was last answered with seqs (0: never).
    std::uint64_t range_answered_us = 0;
    std::string fingerprint;
    std::uint64_t next_seq = 1;          // as last reported in a hello
    std::uint64_t last_verdict_seq = 0;  // highest seq it gave a verdict for
    std::uint64_t checked_through = 0;   // highest seq (at most opened) of its checked batches
    std::uint64_t last_verdict_us = 0;   // when its last verdicts arrived (0: none yet)
    std::uint64_t last_message_us = 0;   // when its last well-formed message arrived (0: none)
    // Which process of it messages are taken from (FromReplica.launch): the
    // one started last, 1 for the first. The shell starts each with it.
    std::uint64_t launch = 1;
    // That process exited, and no other has been asked for since (the
    // kStart command that gives the next launch clears it).
    bool reaped = false;
    // The highest applied_through its verdict messages said (at most
    // opened): ahead of last_verdict_seq when it holds its verdicts back
    // (the delay fault).
    std::uint64_t reported_applied_seq = 0;
    std::uint64_t rejoined_at_seq = 0;  // first seq opened after its last rejoin
    // recover()'s stored snapshot, since it connected: not sent, sent, or
    // refused (it fetches the whole journal instead).
    enum class StartSnapshot : std::uint8_t { kNotSent, kSent, kRefused };
    StartSnapshot start_snapshot = StartSnapshot::kNotSent;
    wire::PartWindow start_window;  // how far start_install_ went to it
    // The seqs it has applied, as far as the front end knows: its verdicts,
    // its hello, what its verdicts' message said.
    std::uint64_t applied_through() const {
      return std::max({last_verdict_seq, next_seq > 0 ? next_seq - 1 : 0, reported_applied_seq});
    }
    // Whether verdicts of it arrived within the last `window_us`.
    bool answered_within(std::uint64_t window_us, std::uint64_t now_us) const {
      return last_verdict_us != 0 && now_us < last_verdict_us + window_us;
    }
    // Whether any well-formed message of it arrived within the last `window_us`.
    bool heard_within(std::uint64_t window_us, std::uint64_t now_us) const {
      return last_message_us != 0 && now_us < last_message_us + window_us;
    }
  };
  const ReplicaView& replica(int r) const { return replicas_[static_cast<std::size_t>(r)]; }
  // Every replica that takes part (a alone in simplex) said hello.
  bool all_connected() const;
  // "replicas a and b report the same build fingerprint \"...\"", or empty.
  std::string identical_builds() const;

  struct Counters {
    std::uint64_t sequenced = 0;
    std::uint64_t decisions = 0;
    std::uint64_t fail_safe = 0;
    std::uint64_t replayed = 0;
    std::uint64_t client_errors = 0;
    std::uint64_t malformed_replica_messages = 0;
    std::uint64_t late_verdicts = 0;
    std::uint64_t overloaded = 0;  // refused with Overloaded, not sequenced (in client_errors too)
    std::uint64_t not_admitted = 0;  // requests refused with NotAdmitted (in client_errors too)
    // Transactions read back from the archive (DIR/journal) to resend to a
    // replica that needed seqs older than the newest keep_recent.
    std::uint64_t entries_read_back = 0;
    // Hellos not answered: they named the seq of a resend sent moments
    // before, which they had crossed (kResendPatienceUs in core.cc).
    std::uint64_t hellos_crossing_a_resend = 0;
    // Fetches not answered: a replica being replayed or given a snapshot
    // gets the live seqs ahead of them and asks for the gap meanwhile.
    std::uint64_t fetches_crossing_a_resend = 0;
    // Fetches and hellos not answered: sooner after the last one answered
    // than a healthy replica asks (kRangeRequestGapUs in core.cc).
    std::uint64_t range_requests_too_soon = 0;
    // Verdict batches dropped before their signature check: nothing here
    // would use any of their verdicts (worth_checking).
    std::uint64_t unchecked_batches = 0;
    // Messages read after the process that sent them was reaped: counted
    // for their votes only (count_votes_of_reaped_process).
    std::uint64_t reaped_process_messages = 0;
    // Agreed decisions on a transaction digest other than the front end's,
    // answered fail-safe (96) instead.
    std::uint64_t digest_mismatches = 0;
    // Journalled seqs the replay after a restart could not decide again,
    // answered with the certificate their answer had before (earlier_answer).
    std::uint64_t earlier_answers = 0;
    // Snapshots handed to the shell to store (Config::store_snapshot_every).
    std::uint64_t snapshots_handed_over = 0;
  };
  const Counters& counters() const { return counters_; }
  std::size_t in_flight() const { return voter_.open_count(); }
  // Admission control (the rule is explained at the definition): a new
  // transaction is refused with Overloaded at `now_us` when the undecided
  // ones reach admission_limit(), or a voting replica's lag (seqs sequenced
  // after its applied_through()) reaches replica_lag_limit(), or one has had
  // a seq to apply for replica_wait_limit_us(), or the voter holds max_in_flight
  // seqs, or beyond the admission rate IntakeThrottle allows while the
  // client socket is backlogged. (While max_in_flight answers wait for the
  // journal's sync, the shell reads no request at all.)
  std::size_t admission_limit(std::uint64_t now_us);
  // Admissions per second IntakeThrottle allows at `now_us`; 0 when it
  // does not hold.
  double intake_cap_per_second(std::uint64_t now_us) const {
    return intake_throttle_.cap_per_second(now_us);
  }
  std::size_t replica_lag_limit(std::uint64_t now_us);
  // The lag of the voting replica furthest behind, of those heard from
  // within kSilentFor16thsOfDeadline / 16 of the deadline before `now_us`
  // (a silent one holds nothing).
  std::uint64_t slowest_voting_lag(std::uint64_t now_us) const;
  // The longest a voting replica that is at least kReplicaLagFloor seqs
  // behind, and still answering (a verdict within the last
  // replica_wait_limit_us()), has had a seq to apply at `now_us` (since the
  // oldest seq past its applied_through() was sent); 0 when there is none.
  // Admission stops at replica_wait_limit_us().
  std::uint64_t slowest_voting_wait_us(std::uint64_t now_us) const;
  std::uint64_t replica_wait_limit_us() const { return config_.deadline_us / 4; }
  // A replica works through all it received and answers it in signed
  // batches (ReplicaNode::kMaxVerdictsPerMessage at most), so even a healthy
  // one is a burst behind now and then: the lag below which no replica stops
  // admission is four times the undecided floor.
  static constexpr std::size_t kReplicaLagFloor = 4096;
  // A replica silent this many 16ths of the deadline is left out of the lag
  // rule (why 7: the comment at Core::admission_limit).
  static constexpr std::uint64_t kSilentFor16thsOfDeadline = 7;
  std::uint64_t last_seq() const { return sequencer_.last_seq(); }
  // A sequenced transaction the core still holds (from the oldest one not
  // released, see release_journaled, to last_seq()): for the input journal
  // and, in the same turn as its decision, the audit store.
  std::int64_t sequenced_ts_ms(std::uint64_t seq) const { return entry(seq).ts_ms; }
  const Transaction& sequenced_tx(std::uint64_t seq) const { return entry(seq).tx; }
  // Transactions held in memory (what release_journaled has not let go).
  std::size_t entries_in_memory() const { return journal_.size(); }
  // Recovery (see recover()): the last recovered seq, and how many of them
  // have been sent to the replicas again.
  std::uint64_t recovered_seq() const { return recovered_seq_; }
  // The stored snapshot's seq recover() started from (0: none).
  std::uint64_t start_seq() const { return start_seq_; }
  // Bytes of the stored snapshot's state held for replicas yet to load it.
  std::size_t start_state_bytes_held() const;
  // Bytes of replicas' snapshots gathered so far, parts of runs not whole.
  std::size_t snapshot_bytes_gathered() const;
  // The seq of the newest snapshot handed to the shell to store, or
  // recover()'s (0: none).
  std::uint64_t handed_over_snapshot_seq() const { return handed_over_seq_; }
  std::uint64_t replay_sent_seq() const { return std::min(opened_seq_, recovered_seq_); }
  bool recovering() const { return opened_seq_ < recovered_seq_ || !start_state_held_; }
  const repair::Supervisor& supervisor() const { return supervisor_; }
  // `triad status --json`: per replica and for the system.
  std::string status_json(std::uint64_t now_us) const;

 private:
  Core(const Config& config, std::uint64_t now_us);

  // Where a request's reply goes.
  struct ReplyTo {
    const std::string& client;  // ZeroMQ routing id
    std::uint64_t tag;
    bool batchable;  // the request came in a batch
  };
  struct Waiter {
    std::string client;
    std::uint64_t tag;
    bool batchable;
    bool replayed;
  };
  struct JournalEntry {
    std::int64_t ts_ms;
    Transaction tx;
    CardRef card_ref;            // crypto::card_ref_of the tx, given with its answer
    Digest tx_digest;            // wire::transaction_digest, which its certificate must carry
    std::uint64_t sequenced_us;  // monotonic, for the decision latency
    // The request that sequenced it, answered at the decision; none for a
    // seq recovered from the journal. Kept here rather than in waiters_, so
    // the common case costs no allocation.
    std::optional<Waiter> sequenced_by;
  };
  // The answer given for a seq, kept to answer a repeated id identically:
  // five bytes a seq, for as long as the core runs. Its certificate (empty
  // for a fail-safe decline, which no replica agreed to) is in the archive.
  struct Answer {
    std::array<char, 2> code{};  // two digits; {0, 0}: not decided yet
    std::uint8_t agree = 0;      // replica masks, as in voter::Decision
    std::uint8_t divergent = 0;
    bool certified = false;  // two replicas agreed: the archive has its certificate
    bool decided() const { return code[0] != 0; }
  };

  // The replicas whose verdicts count: replica a alone in simplex.
  std::uint8_t voting_mask() const {
    return config_.simplex ? std::uint8_t{1} : supervisor_.voting_mask();
  }
  bool in_memory(std::uint64_t seq) const {
    return seq >= journal_base_ && seq - journal_base_ < journal_.size();
  }
  const JournalEntry& entry(std::uint64_t seq) const;
  // The transaction digest of a transaction read back from the journal (one
  // taken in keeps its own: JournalEntry::tx_digest).
  Digest digest_of(const Transaction& tx) const;
  JournalEntry& entry(std::uint64_t seq);
  // sequencer::History: seq's id, content digest and ts, from memory or the
  // archive.
  Status sequenced(std::uint64_t seq, sequencer::Sequenced* out) override;
  // Calls handle(request, batchable) for the frame's request or each part
  // of its batch, once the whole frame has been checked; a frame too large
  // or malformed is answered with the error instead.
  template <typename Handle>
  void each_client_request(const std::string& client, std::span<const std::uint8_t> payload,
                           Outbox* out, Handle&& handle);
  // One request of a client frame (a batch's part or the frame itself).
  void on_request(const wire::ClientRequest& request, const std::string& client, bool batchable,
                  std::uint64_t now_us, std::int64_t wall_ms, Outbox* out);
  // `after_seq`: a seq the reply must not leave before (ToClient::seq).
  void reply_error(const ReplyTo& to, int kind, const std::string& message, Outbox* out,
                   std::uint64_t after_seq = 0);
  // Unavailable: the journal could not be read back to tell whether `id` is
  // a repeat (sequencer::History).
  void reply_unreadable(const ReplyTo& to, const std::string& id, const Status& status,
                        Outbox* out);
  // A repeated id whose seq is decided: its answer again, certificate and all.
  void reply_repeated(const ReplyTo& to, std::uint64_t seq, const std::string& id,
                      std::int64_t ts_ms, const CardRef& card_ref, Outbox* out);
  void reply_decision(const ReplyTo& to, std::uint64_t seq, const std::string& id,
                      std::int64_t ts_ms, const CardRef& card_ref,
                      std::span<const std::uint8_t> certificate, bool replayed, Outbox* out);
  // Sends replica `replica` the entries from..to, the first
  // Config::max_resend_entries of them now and the rest by continue_resend;
  // none beyond what was sent to every replica.
  void send_range(int replica, std::uint64_t from, std::uint64_t to, std::uint64_t now_us,
                  Outbox* out);
  void continue_resend(int replica, std::uint64_t now_us, Outbox* out);
  // Whether a fetch or hello asking for seqs comes too soon after the last
  // one answered (kRangeRequestGapUs); counts it if so.
  bool range_asked_too_soon(const ReplicaView& view, std::uint64_t now_us);
  void on_fetch(int replica, std::uint64_t from, std::uint64_t to, std::uint64_t now_us,
                Outbox* out);
  // The journal entries from..to as ToReplica messages of kResendBatch each,
  // those the core let go of read back from the archive; `to` at most
  // opened_seq_. Stops at the first it cannot read back, with the archive's
  // error.
  Status encode_range(std::uint64_t from, std::uint64_t to,
                      std::vector<std::vector<std::uint8_t>>* messages);
  void on_hello(int replica, std::uint64_t next_seq, std::string fingerprint,
                std::uint32_t rules_version, std::uint64_t now_us, Outbox* out);
  // A verdict read from a batch, its signature already checked.
  void on_verdict(int replica, const voter::ReplicaVerdict& verdict, std::uint64_t now_us);
  // Reads replica r's batch into batch_, its signature checked
  // (wire::read_verdict_batch); false, counted and logged, when it is
  // malformed.
  bool read_batch(int r, const wire::VerdictBatch* batch, std::uint64_t now_us);
  static bool sent_by_reaped_process(const ReplicaView& view, std::uint64_t launch);
  void count_votes_of_reaped_process(int replica, const wire::FromReplica& msg,
                                     std::uint64_t now_us);
  // What every replica message is followed by: the voter's and the repair
  // supervisor's output, the replay, the snapshots waited for.
  void after_replica_message(std::uint64_t now_us, Outbox* out);
  // A part of a replica's snapshot: gathered while something waits for a
  // snapshot from it (a repair's source, or one asked for to store), then
  // on_snapshot once whole. A part that does not continue the others fails
  // what waits for it at once.
  void on_snapshot_part(int replica, const wire::Snapshot& part, std::uint64_t now_us, Outbox* out);
  // Whether a repair waits for replica `source`'s snapshot for replica `r`.
  bool awaits_snapshot(int r, int source) const;
  // Whether anything (a repair, the store) waits for `source`'s snapshot.
  bool snapshot_awaited_from(int source) const;
  // Wipes what was gathered of a snapshot nothing waits for any longer (its
  // repair ended or passed the source over, the store asked another): a
  // source that stopped halfway would otherwise leave it held, card data
  // and up to the state's size. After each message and tick.
  void drop_unawaited_snapshot_parts();
  // Tells `source` what was gathered of its snapshot (SnapshotAck).
  void ack_snapshot_part(int source, std::uint64_t now_us, Outbox* out);
  // Says it again to a source whose parts stopped (wire::kSnapshotReackUs):
  // an acknowledgement lost would stall the transfer.
  void reack_stalled_snapshots(std::uint64_t now_us, Outbox* out);
  // A snapshot gathered whole: to the repairs and the store waiting for it.
  void on_snapshot(int replica, wire::SnapshotAssembly* assembly, std::uint64_t now_us,
                   Outbox* out);
  // The replica in repair could not install the snapshot it was sent: its
  // repair attempt fails now, not at the repair's timeout.
  void on_install_refused(int replica, const wire::InstallRefused& refused, std::uint64_t now_us);
  // The replica gathered this much of the install it is sent (a repair's,
  // or the stored snapshot after a restart): the next parts go.
  void on_install_ack(int replica, const wire::SnapshotAck& ack, Outbox* out);
  // The parts of its install (a repair's, or start_install_) the window lets go.
  void send_install_parts(int replica, Outbox* out);
  void send_start_parts(int replica, Outbox* out);
  // Checks the snapshot for replica `r` against the majority's checkpoint at
  // its seq and installs it, or falls back to replaying the whole journal;
  // holds a copy while the vote at that seq is still open.
  // `state_to_take`, when not null, holds the bytes snapshot.engine_state
  // views, to move rather than copy (tens of MB).
  void consider_snapshot(int r, const wire::SnapshotView& snapshot,
                         std::vector<std::uint8_t>* state_to_take, std::uint64_t now_us,
                         Outbox* out);
  // What is wrong with a snapshot as against the agreed content at its seq;
  // empty when nothing is.
  static std::string snapshot_problem(const wire::SnapshotView& snapshot,
                                      const voter::VerdictContent& agreed);
  // The same without recomputing the checkpoint digest from the state.
  static std::string digests_problem(const wire::SnapshotView& snapshot,
                                     const voter::VerdictContent& agreed);
  // A share (Config::snapshot_check_step_bytes) of the check of replica r's snapshot
  // (Transfer::checking); once it is whole, installs it or passes its source
  // over. Then for every replica with a check under way.
  void continue_snapshot_check(int r, std::uint64_t now_us, Outbox* out);
  void continue_snapshot_checks(std::uint64_t now_us, Outbox* out);
  // Replica r's snapshot does not check: its source is passed over.
  void refuse_snapshot(int r, const std::string& problem, std::uint64_t now_us);
  // Sets start_state_held_ once it holds: a quorum of the voting replicas
  // holds the stored snapshot's state and none is still loading it, or the
  // one still loading it has been waited for long enough
  // (kStartLoadPatienceMinUs).
  void note_start_state(std::uint64_t now_us);
  // Wipes and frees start_install_ (card data, and as large as the state)
  // once every replica taking part holds start_seq_'s state or a later one:
  // a fresh process after that is repaired from a healthy replica's
  // snapshot, as in any run.
  void release_start_snapshot();
  // Config::store_snapshot_every: asks a healthy replica for its snapshot
  // when one is due, and hands a fitting one to the shell.
  void ask_for_snapshot_to_store(std::uint64_t now_us, Outbox* out);
  void store_snapshot(int source, const wire::SnapshotView& snapshot, Outbox* out);
  static journal::StoredSnapshot stored_of(const wire::SnapshotView& snapshot);
  // The ToReplica messages installing the snapshot, in order.
  std::vector<std::vector<std::uint8_t>> install_messages(const wire::SnapshotView& snapshot) const;
  // recover()'s check of a stored snapshot: the install messages for the
  // replicas in *install, its certificate's content in *content.
  Status check_stored(const journal::StoredSnapshot& stored, std::uint64_t journalled,
                      std::vector<std::vector<std::uint8_t>>* install,
                      voter::VerdictContent* content);
  // Considers again each held snapshot whose seq the voter has decided.
  void release_held_snapshots(std::uint64_t now_us, Outbox* out);
  // Whether a batch from replica r holds a verdict anything here would use,
  // so that its signature is worth checking (about 60 us): one the voter
  // awaits from r; while r is in repair, one beyond what its process was
  // checked through (its replay, checked against the agreed answers, comes
  // in order); one near the live edge, not yet in the ring, while any
  // replica is in repair (they rejoin on agreeing with another's). Not
  // verdicts that come after their seq closed (a late replica's, old
  // batches sent again), nor seqs never sent: a faulty replica can send
  // those at will.
  bool worth_checking(int replica, const wire::VerdictBatch& batch) const;
  void check_repairing_verdict(int replica, const voter::ReplicaVerdict& verdict,
                               std::uint64_t now_us);
  void rejoin_with_the_start_state(int r, std::uint64_t now_us);
  // Replica r, in repair, votes again; `why` goes to the log.
  void rejoin(int r, const std::string& why, std::uint64_t now_us);
  void rejoin_those_it_matches(int from, const voter::VerdictContent& content,
                               std::uint64_t now_us);
  // Whether a repaired replica's verdict for `seq` is recent enough to show
  // it caught up.
  bool near_live_edge(std::uint64_t seq) const;
  // Whether a validly signed verdict of a replica other than r, kept in
  // recent_, equals `content`.
  bool matches_another(int r, const voter::VerdictContent& content) const;
  void handle_voter_output(std::uint64_t now_us, Outbox* out);
  // For a journalled seq the replay cannot decide again: the certificate its
  // answer had before the restart (Archive::earlier_certificate), when it
  // holds with the replicas' keys for this very seq, ts and transaction.
  // False (logged) otherwise; the answer is then the fail-safe decline.
  bool earlier_answer(std::uint64_t seq, const JournalEntry& e, std::string* code,
                      std::uint8_t* agree, std::vector<std::uint8_t>* certificate);
  // Checks `certificate` with the replicas' keys, and that it is of this
  // build's rules version, for `seq` at `ts_ms` and `tx_digest`.
  Status check_certificate_of(std::span<const std::uint8_t> certificate, std::uint64_t seq,
                              std::int64_t ts_ms, const Digest& tx_digest,
                              voter::VerdictContent* content, std::uint8_t* signed_by) const;
  // Whether a missing verdict shows a fault of the replica's own (the rule
  // at the definition); if not, the supervisor only counts it.
  bool missing_is_own_fault(const voter::Divergence& d, std::uint64_t now_us);
  void handle_repair_output(Outbox* out);
  void send_control(int replica, const std::string* inject, bool snapshot_request, Outbox* out);
  // During recovery: opens the next recovered seqs in the voter, at most
  // kReplayWindow undecided at a time, and sends them. Each one's deadline
  // counts from when it is sent, not from the restart.
  void pump_replay(std::uint64_t now_us, Outbox* out);
  // Sends replica r, in repair, the journal from `from` to replay; the
  // first time in its attempt, the attempt's deadline is moved to allow for
  // the replay's length (Supervisor::on_replay), once only, so that a
  // replica saying hello again and again cannot put it off.
  void send_repair_replay(int r, std::uint64_t from, std::uint64_t now_us, Outbox* out);

  // A repair in progress: where the snapshot comes from and how far it got.
  struct Transfer {
    bool active = false;
    int source = -1;
    // The ToReplica{install} parts, sent once it says hello, a few at a
    // time as it acknowledges them.
    wire::PartSender<std::vector<std::uint8_t>> install;
    std::uint64_t installed_seq = 0;  // the snapshot's seq, once sent
    bool installed = false;           // the replica said hello after it
    bool replay_allowed_for = false;  // the attempt's deadline allows for its replay
    // A snapshot that came before the vote at its seq ended (the source
    // applied a checkpoint seq the other replicas' verdicts had not decided
    // yet): checked when that seq is decided, rather than thrown away for a
    // replay of the whole journal.
    // On the heap, as Checking: the state holds card data and is wiped
    // wherever the transfer ends.
    struct Held {
      std::uint64_t seq = 0;
      std::vector<std::uint8_t> state_digest, checkpoint_digest, engine_state;
      ~Held() { crypto::wipe_and_free(&engine_state); }
    };
    std::unique_ptr<Held> held;
    // A snapshot being checked against the majority's checkpoint digest, a
    // share at each turn of the event loop: at about 0.85 ms per MB on this
    // VM, the whole of a 74 MB state at once held every decision for 66 ms
    // (bench/README.md, "A repair under load"). On the heap: the steps
    // view the state's bytes.
    struct Checking {
      std::uint64_t seq = 0;
      Digest state_digest{};
      Digest checkpoint_digest{};
      std::vector<std::uint8_t> engine_state;
      replica::CheckpointDigestSteps steps;
      ~Checking() { crypto::wipe_and_free(&engine_state); }
    };
    std::unique_ptr<Checking> checking;
  };

  // Decisions counted per time bucket over the last second, for the
  // admission limit: index (now_us / kRateBucketUs) % kRateBuckets.
  static constexpr std::size_t kRateBuckets = 8;
  static constexpr std::uint64_t kRateBucketUs = 125'000;
  void roll_rate_window(std::uint64_t now_us);
  static constexpr std::uint64_t kRateWindowUs = (kRateBuckets - 1) * kRateBucketUs;
  // Decisions in the completed buckets (all but the newest), and per second.
  std::uint64_t decided_in_window(std::uint64_t now_us);
  double decided_per_second(std::uint64_t now_us);
  // ", intake backlogged (...)" while IntakeThrottle caps admissions.
  std::string intake_note(std::uint64_t now_us) const;
  // max(floor, measured decisions per second * budget_us).
  std::size_t limit_for_budget(std::uint64_t budget_us, std::size_t floor, std::uint64_t now_us);

  Config config_;
  IntakeThrottle intake_throttle_;
  std::array<std::uint64_t, kRateBuckets> decided_per_bucket_{};
  std::uint64_t rate_bucket_ = 0;  // now_us / kRateBucketUs of the newest bucket
  std::array<crypto::VerifyingKey, kReplicaCount> keys_;
  std::array<ReplicaView, kReplicaCount> replicas_;
  sequencer::Sequencer sequencer_;
  voter::Voter voter_;
  voter::Output voter_out_;
  repair::Supervisor supervisor_;
  repair::Output repair_out_;
  std::array<Transfer, kReplicaCount> transfers_;
  // Agreed content of recent seqs (ring, index seq % size), to tell when a
  // replica in repair has caught up; and of recent checkpoint seqs, to check
  // a snapshot against the majority's checkpoint digest.
  std::vector<std::optional<voter::VerdictContent>> agreed_;
  std::vector<voter::VerdictContent> checkpoints_;
  // Validly signed verdicts of every replica for recent seqs (ring), so a
  // replica in repair can rejoin even where no majority formed.
  struct RecentVerdicts {
    std::uint64_t seq = 0;
    std::array<std::optional<voter::VerdictContent>, kReplicaCount> by_replica;
  };
  std::vector<RecentVerdicts> recent_;
  // The recent part of the input journal (the shell writes the durable
  // one), from which replicas are sent and resent: seqs journal_base_ ..
  // last_seq() (during recovery, to the part the replay read ahead); the
  // older ones are read back from the archive.
  std::deque<JournalEntry> journal_;
  std::uint64_t journal_base_ = 1;
  // Index seq - 1. A deque, not a vector: it grows by the block, where a
  // vector doubling at a hundred million seqs would stop the event loop.
  std::deque<Answer> answers_;
  // Repeats of an id whose seq is not decided yet, answered with it.
  std::unordered_map<std::uint64_t, std::vector<Waiter>> waiters_;
  std::size_t waiting_repeats_ = 0;           // of all seqs (Config::max_waiting_repeats)
  std::vector<voter::ReplicaVerdict> batch_;  // reused per verdict batch: no allocation
  std::uint64_t flushed_seq_ = 0;             // entries up to here were sent to connected replicas
  std::uint64_t opened_seq_ = 0;              // entries up to here were opened in the voter
  std::uint64_t recovered_seq_ = 0;           // the last seq recover() took from the journal
  bool replay_read_failed_ = false;           // logged once, until a read succeeds again
  // When a missing verdict was found that nothing showed to be its
  // replica's own fault (missing_is_own_fault: no majority, no peer
  // answering that seq in time, the replica itself silent), until the next
  // verdict from any replica; 0: none since.
  // Kept, not derived from their last verdicts: after an idle hour those
  // are an hour old, and a stall of the next seq would count as an hour's
  // silence.
  std::uint64_t all_silent_since_us_ = 0;
  // Fail-safe declines given before the restart, by seq: the answer a
  // repeated id gets, not the replay's decision.
  std::unordered_map<std::uint64_t, std::string> recovered_fail_safe_;
  // Every seq up to here is decided (advanced by ask_for_snapshot_to_store).
  std::uint64_t decided_through_ = 0;
  // Config::store_snapshot_every: the newest snapshot's seq handed to the
  // shell to store (or start_seq_), the replica asked for the next one (-1:
  // none) and when.
  std::uint64_t handed_over_seq_ = 0;
  int store_source_ = -1;
  int store_last_asked_ = -1;
  std::uint64_t store_asked_us_ = 0;
  // No store ask before this (a replica's state was over the limit).
  std::uint64_t store_paused_until_us_ = 0;
  // A snapshot to store that came before every seq up to it was decided
  // (store_snapshot), and its source.
  std::optional<journal::StoredSnapshot> held_store_;
  int held_store_source_ = -1;
  // recover()'s stored snapshot: its seq and the install messages a replica
  // gets at its first hello (empty: none, or released by
  // release_start_snapshot).
  std::uint64_t start_seq_ = 0;
  std::vector<std::vector<std::uint8_t>> start_install_;
  // When each source was last told what was gathered of its snapshot.
  std::array<std::uint64_t, kReplicaCount> snapshot_acked_us_{};
  // Each replica's snapshot parts gathered so far (on_snapshot_part).
  std::array<wire::SnapshotAssembly, kReplicaCount> snapshot_parts_;
  // Whether a quorum of the voting replicas held that state, none still
  // loading it, at some hello since (note_start_state); until then nothing
  // is opened, replayed or new, since its deadline would run meanwhile.
  // True without a stored snapshot.
  bool start_state_held_ = true;
  // When the stored snapshot was first sent to a replica, and when a quorum
  // first held its state with another replica still loading it.
  std::optional<std::uint64_t> start_sent_us_;
  std::optional<std::uint64_t> start_quorum_us_;
  Counters counters_;
  // Malformed replica messages: counted each, logged at most 10 a second
  // per replica (one flooding hides no other's).
  std::array<log::Limiter, kReplicaCount> malformed_log_{log::Limiter(10), log::Limiter(10),
                                                         log::Limiter(10)};
  log::Limiter digest_mismatch_log_{10};
};

}  // namespace triad::frontend
