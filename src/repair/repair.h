// The repair supervisor's policy (design.md principle 7): a pure state
// machine. It is fed events (a divergence or other fault, a process exited or
// started, a snapshot was installed, a replica caught up, the time is now T)
// and returns actions (stop a process, start one, transfer a snapshot) and
// state transitions to log. It owns no socket, thread, clock or process; the
// front end does all of that and reports back, so every rule below can be
// tested deterministically with injected time.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/types.h"

namespace triad::repair {

// Where a replica is in the repair cycle.
//   kHealthy     its verdicts count (bit set in voting_mask()).
//   kQuarantined sent to repair; its process is being stopped (kStopProcess
//                was issued and its exit not yet reported).
//   kDown        its process is gone; a restart is scheduled after the
//                back-off, or kStartProcess was issued and the new process
//                has not reported started yet.
//   kRepairing   its new process runs: it receives a snapshot and replays the
//                journal until it catches up.
enum class ReplicaState : std::uint8_t { kHealthy, kQuarantined, kDown, kRepairing };
// "healthy", "quarantined", "down", "repairing".
const char* to_string(ReplicaState state);

// The faults the front end reports about a replica.
enum class Fault : std::uint8_t {
  kWrongVerdict,         // transient: its verdict differs from the majority's
  kBadSignature,         // transient: its signature does not verify
  kMissing,              // transient: no verdict by the deadline
  kStateDigestMismatch,  // at once: same answer, different state digest
  kCheckpointMismatch,   // at once: its checkpoint digest differs from the majority's
  kProcessExited,        // at once: its process ended without being asked to
  kHung,                 // at once: the front end judged it hung
};
inline constexpr std::size_t kFaultKinds = 7;
// "wrong_verdict", "bad_signature", "missing", "state_digest_mismatch",
// "checkpoint_mismatch", "process_exited", "hung".
const char* to_string(Fault fault);
// True for kWrongVerdict, kBadSignature and kMissing.
bool is_transient(Fault fault);

// How the system votes: kTmr with three healthy replicas (two of three must
// agree), kDuplex with two (both must agree, else the fail-safe decline),
// kDown with fewer (every answer is the fail-safe 91).
enum class Mode : std::uint8_t { kTmr, kDuplex, kDown };
// "tmr", "duplex", "down".
const char* to_string(Mode mode);

// What the front end must do. Every action concerns `replica`.
struct Action {
  enum class Kind : std::uint8_t {
    // Make sure the replica's process is gone (kill it; it may already be
    // gone) and call on_process_exited() once it is, also when there was no
    // process to kill.
    kStopProcess,
    // Start a fresh process for the replica, from scratch (no injected
    // fault), and call on_process_started() once it runs, or
    // on_process_exited() / on_repair_failed() if it does not.
    kStartProcess,
    // Give the replica a state snapshot taken from `source` (a healthy
    // replica), checked against the majority's checkpoint digest at its seq,
    // then let it replay the journal after that seq; call
    // on_snapshot_installed() once the check has passed and the install is
    // under way (its allowance counts from then). source == -1: no replica
    // is healthy, the replica starts from the card file and replays the whole
    // journal (no on_snapshot_installed() is expected). A second transfer
    // action for a replica replaces the first (its source left kHealthy).
    kTransferSnapshot,
  };
  Kind kind = Kind::kStopProcess;
  int replica = 0;
  int source = -1;  // kTransferSnapshot only
  friend bool operator==(const Action&, const Action&) = default;
};
// "stop_process", "start_process", "transfer_snapshot".
const char* to_string(Action::Kind kind);

// A change of a replica's state, for the log. from == to == kDown when a
// start attempt failed before the process reported started (a new restart is
// scheduled).
struct Transition {
  int replica = 0;
  ReplicaState from = ReplicaState::kHealthy;
  ReplicaState to = ReplicaState::kHealthy;
  std::uint64_t at_us = 0;
  std::string reason;  // e.g. "state_digest_mismatch", "caught up", "repair timed out"
};

struct Output {
  std::vector<Action> actions;          // in the order they must be carried out
  std::vector<Transition> transitions;  // in the order they happened
  void clear() {
    actions.clear();
    transitions.clear();
  }
};

// The supervisor's rules, per replica (the replicas are independent except
// for the snapshot source and the mode).
//
// Failure (leaving kHealthy):
//  - Transient faults (kWrongVerdict, kBadSignature, kMissing) are counted.
//    When transient_limit of them fall within a sliding window of
//    transient_window_us (a fault at time t still counts at `now` while
//    now - t < transient_window_us), the replica is sent to repair. With
//    transient_limit == 1 every transient fault sends it.
//  - missing_limit consecutive kMissing (no on_verdict_ok(), kWrongVerdict or
//    kBadSignature in between: any of those resets the run) mean the replica
//    is hung: sent to repair at once.
//  - kStateDigestMismatch, kCheckpointMismatch and kHung send it to repair at
//    once; so does a process exit (on_process_exited(), or on_fault() with
//    kProcessExited, which is the same call).
//  - The transient window and the missing run are cleared whenever the
//    replica leaves kHealthy, so a rejoined replica starts with a clean slate.
//  - Faults reported for a replica that is not kHealthy are counted in
//    Stats::faults_by_kind but change nothing, except a process exit (below).
//
// The repair cycle:
//  - Sent to repair: kHealthy -> kQuarantined, action kStopProcess. The
//    failure time is recorded and the back-off of this repair chosen:
//    backoff_initial_us, or double the previous one (capped at
//    backoff_max_us) when the replica rejoined less than stable_after_us
//    before this failure. When the failure is the process exit itself there
//    is nothing to stop: kHealthy -> kDown directly, no kStopProcess.
//  - kQuarantined + its process exited -> kDown; the restart is scheduled at
//    exit time + back-off.
//  - kDown, restart time reached (by any call, on_time() included): action
//    kStartProcess; the attempt's deadline is now + repair_timeout_us.
//  - kDown after kStartProcess + on_process_started() -> kRepairing, action
//    kTransferSnapshot from the lowest-index kHealthy replica, or source -1
//    when none is healthy. A source still awaited when the last attempt
//    timed out is asked last.
//  - kRepairing + on_snapshot_installed(): noted, state unchanged; the
//    deadline is now + the install's allowance for its state's size when
//    that is later.
//  - kRepairing + on_replay(N): the deadline is now + N * replay_us_per_seq
//    when that is later.
//  - kRepairing + on_caught_up(), once the snapshot is installed (or at once
//    when the source is -1) -> kHealthy: the replica rejoins and votes again.
//    Time to repair = rejoin time - failure time, every failed attempt in
//    between included.
//  - If the snapshot source leaves kHealthy before on_snapshot_installed(),
//    a new kTransferSnapshot is issued at once from the next choice.
//  - If it is still healthy but neither on_snapshot_received() nor
//    on_snapshot_installed() has come snapshot_wait_us after the transfer
//    or after the last on_snapshot_progress() (a part of it), or
//    on_snapshot_unusable() comes, it is passed over for the rest of the
//    attempt and a new kTransferSnapshot is issued from the next healthy
//    replica not passed over, or with source -1 when none is left.
//
// A failed attempt (the replica stays out, the back-off doubles, capped at
// backoff_max_us):
//  - The attempt's deadline passes in kDown (after kStartProcess) or in
//    kRepairing, or on_repair_failed() is called there: -> kQuarantined,
//    action kStopProcess; the restart follows the exit after the doubled
//    back-off.
//  - The process exits in kRepairing or in kDown after kStartProcess:
//    -> kDown, restart scheduled at now + the doubled back-off.
//  - kQuarantined with no exit reported repair_timeout_us after the stop:
//    kStopProcess is issued again (no back-off change).
//
// So kStartProcess is only ever issued in kDown, i.e. after the exit of the
// previous process was reported, never twice without an exit in between, and
// never sooner than backoff_initial_us after that exit.
//
// Events that do not apply to a replica's current state (a start reported
// when none was asked for, a snapshot or catch-up outside kRepairing, a repair
// failure of a healthy replica, an exit while kDown with no process) are
// ignored and counted in ignored_events(): they are normal races between the
// front end's I/O and the supervisor's timers.
//
// Time is non-decreasing: a now_us below one seen before is taken as the
// latest seen. Every input call first handles its event, then fires the
// timers due at now_us (in replica order). The event is judged against the
// state the caller has seen, i.e. the actions issued so far: an exit reported
// in the same call in which a restart falls due concerns the old process,
// and a catch-up reported before the call that fires its deadline still
// counts. Nothing an event schedules is due at once (back-off and timeout
// are > 0). Misuse by the caller (a replica index outside 0..2, a null
// Output, a bad Config) is a bug and aborts.
class Supervisor {
 public:
  struct Config {
    std::uint32_t transient_limit = 3;               // 1..kMaxTransientLimit
    std::uint64_t transient_window_us = 60'000'000;  // > 0
    std::uint32_t missing_limit = 5;                 // consecutive kMissing meaning hung; >= 1
    std::uint64_t backoff_initial_us = 200'000;      // > 0
    std::uint64_t backoff_max_us = 30'000'000;       // >= backoff_initial_us
    std::uint64_t stable_after_us = 60'000'000;      // healthy this long resets the back-off
    std::uint64_t repair_timeout_us = 60'000'000;    // start -> rejoin, and stop -> exit; > 0
    // A snapshot source that has not given its snapshot this long after the
    // transfer was asked for is passed over for the rest of the attempt:
    // the next healthy replica is asked, or none (a replay of the whole
    // journal). A faulty source could otherwise hold the repair until its
    // timeout, attempt after attempt. > 0.
    std::uint64_t snapshot_wait_us = 5'000'000;
    // What installing each MiB of a snapshot's state may take, its sending
    // and the replica's restore: an installed snapshot of B bytes moves the
    // attempt's deadline to at least B / MiB * this after the install, so a
    // large state is not stopped halfway (the engine's restore, which a
    // replica installing a snapshot runs, took 41 s for 1.47 GB on a 2-core
    // VM in engine state format 2, about 36 MB/s, and 0.87-1.0 s for 40 MB
    // in format 3, 40-46 MB/s, BM_SnapshotRestore, 2026-12-08; this allows
    // 10 MiB/s).
    std::uint64_t install_us_per_mib = 100'000;
    // What replaying each seq of the journal may take: a replay of N seqs
    // (the whole journal when no snapshot could be used) moves the
    // attempt's deadline to at least N * this after it starts, so that a
    // long journal is not stopped halfway at every attempt (a restart
    // decided 200,000 seqs again in 8.8 s, about 23,000 a second with all
    // three replicas; this allows 10,000).
    std::uint64_t replay_us_per_seq = 100;
  };
  static constexpr std::uint32_t kMaxTransientLimit = 1024;

  // Per replica, for `triad status`. Times in microseconds.
  //
  // MTBF = total_up_us / failures. Before the first failure it is the uptime
  // observed so far, flagged mtbf_lower_bound (the true MTBF is at least
  // that). MTTR = total_repair_us / repairs, the mean of the completed
  // repairs; while the replica is out, the current outage so far counts as
  // one more (flagged mttr_lower_bound: it lasts at least that long). With
  // no outage yet it is 0.
  // availability_ppm = MTBF * 1,000,000 / (MTBF + MTTR), rounded down; when
  // both are 0 (no time observed) it is 1,000,000 for a healthy replica and
  // 0 for one that is out. No floating point anywhere.
  struct Stats {
    ReplicaState state = ReplicaState::kHealthy;
    std::array<std::uint64_t, kFaultKinds> faults_by_kind{};  // index: Fault; every report
    std::uint64_t failures = 0;                               // times it left kHealthy
    std::uint64_t repairs = 0;                                // completed repairs (rejoins)
    std::uint64_t failed_attempts = 0;         // repair attempts that failed and were retried
    std::uint64_t last_time_to_repair_us = 0;  // of the last completed repair; 0 before one
    std::uint64_t total_up_us = 0;             // time in kHealthy, the current interval included
    std::uint64_t total_repair_us = 0;         // time out of kHealthy, completed repairs only
    std::uint64_t current_outage_us = 0;       // since it left kHealthy; 0 when healthy
    std::uint64_t backoff_us = 0;     // back-off of the current or last repair; 0 before one
    std::uint64_t restart_at_us = 0;  // kDown with a restart pending; else 0
    int snapshot_source = -1;         // kRepairing: the source of its snapshot, -1 none
    int asked_last = -1;              // the source awaited when the last attempt timed out, -1 none
    std::uint32_t transient_in_window = 0;  // kHealthy: transient faults in the window now
    std::uint32_t consecutive_missing = 0;  // kHealthy: the current run of kMissing
    std::uint64_t mtbf_us = 0;
    bool mtbf_lower_bound = false;
    std::uint64_t mttr_us = 0;
    bool mttr_lower_bound = false;
    std::uint32_t availability_ppm = 0;  // 0..1,000,000
  };

  // All three replicas start kHealthy at `now_us`: the caller has started
  // their processes from the same card file.
  Supervisor(Config config, std::uint64_t now_us);

  // A fault of `replica` (rules above). kProcessExited is on_process_exited().
  void on_fault(int replica, Fault fault, std::uint64_t now_us, Output* out);
  // A kMissing the caller does not hold against `replica`: its peers missed
  // the seq as well, so nothing shows the fault is this replica's. Counted
  // in Stats::faults_by_kind; no step toward failure, and the run of
  // kMissing neither grows nor ends.
  void on_unattributed_missing(int replica);
  // A verdict of `replica` matched the majority: ends its run of kMissing.
  void on_verdict_ok(int replica, std::uint64_t now_us, Output* out);
  // The replica's process is gone (exited, killed, or there was none to stop).
  void on_process_exited(int replica, std::uint64_t now_us, Output* out);
  // The process started after kStartProcess runs.
  void on_process_started(int replica, std::uint64_t now_us, Output* out);
  // A part of the snapshot of the last kTransferSnapshot came: its source
  // is waited for snapshot_wait_us more. (A large state comes in many
  // parts; a source that stops sending them is passed over like one that
  // sends none, rather than holding the repair until its timeout.)
  void on_snapshot_progress(int replica, std::uint64_t now_us, Output* out);
  // The snapshot of the last kTransferSnapshot came whole (it may wait,
  // checked, for the vote at its seq): its source is no longer waited for.
  void on_snapshot_received(int replica, std::uint64_t now_us, Output* out);
  // That snapshot does not give the majority's digests: its source is
  // passed over for the attempt, as one that gave none in time.
  void on_snapshot_unusable(int replica, std::uint64_t now_us, Output* out);
  // The snapshot of the last kTransferSnapshot was checked and installed,
  // with a state of `state_bytes` (0: none sent, the start state): the
  // attempt's deadline is moved to allow for it (install_us_per_mib).
  void on_snapshot_installed(int replica, std::uint64_t state_bytes, std::uint64_t now_us,
                             Output* out);
  // The replica in repair is sent `seqs` seqs of the journal to replay: the
  // attempt's deadline is moved to allow for them (replay_us_per_seq).
  void on_replay(int replica, std::uint64_t seqs, std::uint64_t now_us, Output* out);
  // The replica replayed to the live edge and its state digest matches the
  // majority's: it rejoins.
  void on_caught_up(int replica, std::uint64_t now_us, Output* out);
  // A repair step failed (spawn, snapshot rejected, replay error...);
  // `reason` goes into the transition.
  void on_repair_failed(int replica, std::uint64_t now_us, std::string_view reason, Output* out);
  // Time passed: fires the restarts and timeouts due at now_us.
  void on_time(std::uint64_t now_us, Output* out);

  ReplicaState state(int replica) const;
  // Bit r set when replica r is kHealthy, i.e. its verdicts count.
  std::uint8_t voting_mask() const;
  Mode mode() const;
  // The earliest pending restart or deadline, for the caller's poll timeout;
  // nullopt when none is pending.
  std::optional<std::uint64_t> next_timer_us() const;
  // The replica's figures at `now_us` (taken as the latest time seen if
  // earlier), the ongoing interval included.
  Stats stats(int replica, std::uint64_t now_us) const;
  // Events ignored because they did not apply to the replica's state.
  std::uint64_t ignored_events() const { return ignored_events_; }
  // The latest time any call has brought.
  std::uint64_t latest_us() const { return now_us_; }
  const Config& config() const { return config_; }

 private:
  struct Replica {
    ReplicaState state = ReplicaState::kHealthy;
    bool start_issued = false;             // kDown: kStartProcess sent, no start/exit reported yet
    bool snapshot_installed = false;       // kRepairing
    int source = -1;                       // kRepairing: snapshot source
    std::uint8_t sources_passed_over = 0;  // kRepairing: bit r, source r gave none or a bad one
    // The source still awaited (no snapshot from it yet) when the last
    // attempt timed out, -1 if none: the next attempt asks it last. A source that
    // trickles parts, each moving the wait on, would otherwise hold every
    // attempt until its timeout, being asked first each time.
    int held_last_attempt = -1;
    bool snapshot_received = false;          // kRepairing: the current source's came
    std::uint64_t snapshot_deadline_us = 0;  // kRepairing, source >= 0, not installed
    std::uint64_t restart_at_us = 0;         // kDown && !start_issued
    std::uint64_t deadline_us = 0;           // kQuarantined, kDown && start_issued, kRepairing
    std::uint64_t healthy_since_us = 0;
    std::uint64_t left_healthy_us = 0;
    std::uint64_t last_rejoin_us = 0;
    bool rejoined = false;
    std::uint64_t backoff_us = 0;
    std::vector<std::uint64_t> transient_us;  // ring of the last transient_limit fault times
    std::size_t transient_next = 0;
    std::size_t transient_count = 0;
    std::uint32_t consecutive_missing = 0;
    std::array<std::uint64_t, kFaultKinds> faults_by_kind{};
    std::uint64_t failures = 0;
    std::uint64_t repairs = 0;
    std::uint64_t failed_attempts = 0;
    std::uint64_t last_time_to_repair_us = 0;
    std::uint64_t total_up_us = 0;
    std::uint64_t total_repair_us = 0;
  };

  Replica& at(int replica);
  const Replica& at(int replica) const;
  void set_time(std::uint64_t now_us, Output* out);
  void fire_timers(Output* out);
  void fire_due(int replica, Output* out);
  void handle_fault(int replica, Fault fault, Output* out);
  void handle_exit(int replica, Output* out);
  void handle_started(int replica, Output* out);
  void handle_caught_up(int replica, Output* out);
  std::uint32_t transient_in_window(const Replica& rep) const;
  void count_fault(int replica, Fault fault);
  void fail(int replica, std::string reason, bool process_gone, Output* out);
  void fail_attempt(int replica, std::string reason, bool process_gone, Output* out);
  void stop(int replica, Output* out);
  void schedule_restart(int replica);
  void transfer(int replica, Output* out);
  // A transfer from a source is under way: its snapshot is not installed.
  static bool snapshot_pending(const Replica& rep);
  // ... and not received either: the source is still waited for.
  static bool awaits_snapshot(const Replica& rep);
  // Moves the attempt's deadline to at least now + allowance_us (an
  // install's or a replay's), never earlier.
  void allow_from_now(Replica* rep, std::uint64_t allowance_us);
  void pass_over_source(int replica, Output* out);
  void reassign_sources(int left, Output* out);
  void set_state(int replica, ReplicaState to, std::string reason, Output* out);
  std::uint64_t doubled(std::uint64_t backoff_us) const;

  Config config_;
  std::array<Replica, kReplicaCount> replicas_;
  std::uint64_t now_us_ = 0;  // the latest time seen
  std::uint64_t ignored_events_ = 0;
};

}  // namespace triad::repair
