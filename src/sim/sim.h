// The deterministic simulator (design.md, "Layout and style": TigerBeetle):
// the front end's Core and three ReplicaNodes in one process, joined by an
// in-memory transport, on a simulated clock. There are no threads, no real
// time and no I/O; one seed drives everything: the traffic, the clients'
// pacing and retries, every message delay, every lost message, the replica
// faults, process start-up and exit. So a run is a pure function of its
// Scenario, and a failing seed reproduces exactly.
//
// How a run goes:
//  - A discrete-event queue ordered by (time, sequence number). Each link
//    (client <-> front end, front end <-> replica r) delivers in FIFO order,
//    as ZeroMQ over TCP does: a message never overtakes an earlier one on
//    its link, whatever delay it drew.
//  - The front end is driven exactly as src/frontend/frontend.cc drives it:
//    a burst of client messages, then flush_new_entries; every Outbox is sent
//    after its process commands ran; a message to a replica whose process is
//    gone makes the core forget the connection (EHOSTUNREACH); timers fire at
//    next_timer_us().
//  - A replica process is a ReplicaNode (the same code as triad-replica).
//    The crash fault ends it (its last verdicts still arrive, like ZeroMQ's
//    linger); kStop kills it; the exit is reported to the core a little
//    later (the shell reaps children between polls); kStart creates a fresh
//    node from the card file, with no fault, after a start-up delay.
//  - While the main traffic runs, each front end -> replica message may be
//    lost (what a ZeroMQ high-water-mark drop would do); replicas recover by
//    gap detection, Fetch and the idle Hello.
//  - After the main traffic is answered, loss stops and a trickle of settle
//    transactions (one per settle_interval_us) runs until the cluster is
//    settled: three healthy replicas at the last seq with equal state, or
//    until max_settle_us.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "common/response_code.h"
#include "common/types.h"
#include "repair/repair.h"
#include "replica/fault.h"
#include "replica/replica.h"
#include "triad/status.h"
#include "triad/transaction.h"

namespace triad::sim {

// Random numbers from the raw outputs of std::mt19937_64 only (the standard
// fixes that sequence; its distributions differ between libraries).
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() { return engine_(); }
  // Uniform in [0, n), n > 0 (rejection, so no modulo bias).
  std::uint64_t below(std::uint64_t n);
  // Uniform in [lo, hi], lo <= hi.
  std::uint64_t between(std::uint64_t lo, std::uint64_t hi) { return lo + below(hi - lo + 1); }
  // True with probability ppm / 1,000,000.
  bool chance(std::uint32_t ppm) { return below(1'000'000) < ppm; }

 private:
  std::mt19937_64 engine_;
};

// An independent seed for stream `stream` of `seed` (splitmix64).
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t stream);

struct Scenario {
  std::uint64_t seed = 1;

  // Traffic: triad::sample's card file and transactions (client time trusted).
  std::size_t card_count = 50;
  std::size_t transaction_count = 300;  // the main traffic
  std::size_t settle_reserve = 200;     // extra transactions for the settle trickle

  // Clients: each gets every client_count-th transaction, sends bursts of
  // 1..max_burst every 1..max_gap_us (or max_burst exactly every fixed_gap_us), with
  // at most `window` unanswered.
  int client_count = 2;
  std::size_t window = 16;
  std::size_t max_burst = 8;
  std::uint64_t max_gap_us = 20'000;
  std::uint64_t fixed_gap_us = 0;
  // Per answered submission of the main traffic: the client submits the same
  // transaction again (same id and content, a new tag), later.
  std::uint32_t retry_ppm = 0;
  // Per new submission: the same transaction is sent twice in a row, the
  // second while the first is still undecided.
  std::uint32_t duplicate_ppm = 0;

  // Replicas: fault of each original process (a restarted one has none), and
  // the seed of each one's fault dice.
  std::array<replica::Fault, kReplicaCount> faults{};
  std::array<std::uint64_t, kReplicaCount> fault_seeds{1, 2, 3};
  std::uint64_t checkpoint_interval = 50;

  // Links: a delay of min..max_delay_us, and with probability spike_ppm a
  // further 0..max_spike_us. FIFO per link regardless.
  std::uint64_t min_delay_us = 20;
  std::uint64_t max_delay_us = 2'000;
  std::uint32_t spike_ppm = 10'000;
  std::uint64_t max_spike_us = 100'000;
  // Front end -> replica messages lost while the main traffic runs.
  std::uint32_t loss_ppm = 0;

  // Processes: start-up (card file, key) and how soon the front end reaps an
  // exit.
  std::uint64_t min_boot_us = 2'000;
  std::uint64_t max_boot_us = 40'000;
  std::uint64_t max_reap_us = 50'000;
  // A timer's turn takes 1..max_turn_us of simulated time (0: none): the
  // same actor's next timer waits for it, messages do not. So what goes on
  // in shares, a turn each (a repair's snapshot copied by its source and
  // checked by the front end), has verdicts, checkpoints, exits and
  // timeouts arrive between its shares, as in the real event loops.
  std::uint64_t max_turn_us = 1'000;

  // The front end.
  std::uint64_t deadline_us = 1'000'000;
  repair::Supervisor::Config repair;

  // After the main traffic.
  bool settle = true;
  std::uint64_t settle_interval_us = 1'000'000;
  std::uint64_t max_settle_us = 300'000'000;

  // What to keep: certificates (the checker verifies them) and the log.
  bool keep_certificates = true;
  bool capture_log = false;
  // Safety net against a livelock of the simulated system.
  std::uint64_t max_events = 50'000'000;
};

// The mix the simulation test draws from: 0, 1 or 2 faulty replicas with
// kinds and parameters, loss in some seeds, retries, pacing, checkpoint
// interval, transient limit. A pure function of `seed`.
Scenario scenario_for_seed(std::uint64_t seed);
// One line: "seed 7: 312 tx, 2 clients, faults a=crash:120 c=flip:0.2, loss 1% ..."
std::string describe(const Scenario& scenario);
// Replicas with a fault, as a bit mask.
std::uint8_t faulty_mask(const Scenario& scenario);

// The replicas' Ed25519 keys (fixed, derived from their names). Key pairs
// are made with the default backend (crypto::set_default_ed25519_backend).
crypto::SigningKey replica_signing_key(int replica);
PublicKey replica_public_key(int replica);
// The card reference key of the simulated deployment (fixed, like the above).
const crypto::SymmetricKey& card_ref_key();
// Writes DIR/keys/replica-{a,b,c}.{key,pub}, as `triad keygen` would, so
// triad::Keyring::load_dir(DIR) can check the simulated certificates.
Status write_keys(const std::string& dir);

struct Submission {
  std::size_t tx = 0;  // index in Result::traffic
  int client = 0;
  std::uint64_t tag = 0;  // index in Result::submissions + 1
  bool repeat = false;    // the same transaction was submitted before
  bool settle = false;
  std::uint64_t sent_us = 0;
};

struct Reply {
  std::uint64_t at_us = 0;
  std::string error;  // a refusal; empty for a decision
  std::string id;
  std::uint64_t seq = 0;
  std::int64_t ts_ms = 0;
  std::string code;
  std::string agree;
  std::string divergent;
  bool replayed = false;
  std::vector<std::uint8_t> certificate;
  std::vector<std::uint8_t> card_ref;
};

// Per seq, as the simulator saw it.
struct SeqRecord {
  std::uint64_t opened_us = 0;
  std::uint8_t voting_mask = 0;  // the supervisor's, when the seq was opened
  // When the first verdict of replica r for this seq reached the front end.
  std::array<std::optional<std::uint64_t>, kReplicaCount> verdict_us;
  // ... and the code it carried (the ResponseCode's value; 0xFF: none came).
  std::array<std::uint8_t, kReplicaCount> verdict_code{0xFF, 0xFF, 0xFF};
};

struct ReplicaEnd {
  repair::ReplicaState state = repair::ReplicaState::kHealthy;
  repair::Supervisor::Stats stats;
  bool running = false;  // a process is up (started and not crashed or killed)
  bool hung = false;
  bool connected = false;
  std::uint32_t processes = 0;  // started so far; 1 = only the original
  std::uint64_t next_seq = 0;
  Digest state_digest{};
  replica::ReplicaCore::Snapshot snapshot;
};

struct Result {
  std::string card_file;
  std::vector<Transaction> traffic;
  std::vector<Submission> submissions;
  std::vector<std::vector<Reply>> replies;                        // per submission
  std::vector<SeqRecord> seqs;                                    // index seq - 1
  std::array<std::vector<std::uint64_t>, kReplicaCount> lost_us;  // messages to r lost
  std::array<ReplicaEnd, kReplicaCount> replicas;
  std::uint64_t last_seq = 0;
  std::uint64_t start_us = 0;
  std::uint64_t main_done_us = 0;  // the main traffic was answered
  std::uint64_t end_us = 0;
  bool settled = false;
  std::uint64_t events = 0;
  std::uint64_t decisions = 0;
  std::uint64_t fail_safe = 0;
  // Resends the front end read back from its archive (past its few recent
  // entries in memory): repairs and refetches after loss.
  std::uint64_t archive_reads = 0;
  // Messages of a replica's process read after it was reaped, counted for
  // their votes only (Core::count_votes_of_reaped_process).
  std::uint64_t reaped_process_messages = 0;
  Digest trace{};                   // hash of every event, in order
  std::vector<std::string> errors;  // the harness's own checks (e.g. a start while running)
  std::string log;                  // when Scenario::capture_log
};

// Runs one scenario to the end. Deterministic: the same Scenario gives the
// same Result, trace included (the trace hashes message bytes, which carry
// the build fingerprint, so traces compare within one build; the decisions,
// seqs and times are the same on every build). While it runs it takes over
// the process-wide log sink (log::set_capture), so runs must not overlap.
Result run(const Scenario& scenario);

// "05" for "00", "00" for any other code: what the flip fault answers.
ResponseCode flipped(ResponseCode code);

// The reference: rules::Engine applied to the sequenced transactions of
// `result` (seq order, the sequenced ts of their decisions). Index seq - 1;
// empty when some seq has no decision (the checker reports that).
std::vector<ResponseCode> reference_codes(const Result& result);

}  // namespace triad::sim
