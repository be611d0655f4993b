// The front end of `triad up`: sequencer, fan-out, voter and replica
// supervisor in one process, driven by one event loop.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>

#include "journal/journal.h"
#include "replica/fault.h"

namespace triad::frontend {

struct Config {
  std::string cards_path;
  std::string dir = "triad-data";
  std::string listen_endpoint = "tcp://127.0.0.1:7700";
  bool trust_client_time = false;
  std::uint64_t deadline_ms = 1000;    // fan-out to fail-safe decision
  std::size_t max_in_flight = 20'000;  // seqs held open before "overloaded" (Core::Config)
  std::array<replica::Fault, 3> faults{};
  std::uint64_t seed = 1;
  std::uint64_t checkpoint_interval = 1000;  // K: a full-state digest voted every K seqs
  // A snapshot stored (DIR/snapshot) every this many seqs, so that a restart
  // replays only the journal after it; 0: never (Core::Config).
  std::uint64_t snapshot_every = 100'000;
  std::uint32_t transient_limit = 3;  // M transient faults within the window -> repair
  std::uint64_t transient_window_ms = 60'000;
  // The replica programs of a, b, c: normally three different builds.
  std::array<std::string, 3> replica_binaries;
  // Start even when two replicas report the same build fingerprint (tests,
  // or a deliberate single-toolchain setup); otherwise that is refused.
  bool allow_identical_builds = false;
  // The audit store, DIR/audit.db: every decision with its certificate,
  // divergence and repair. Rows older than the retention are deleted; 0
  // keeps them forever.
  bool audit = true;
  // The simplex benchmark baseline (`triad bench --compare`): only replica a
  // runs and its validly signed verdict decides alone. Same code and signing
  // as TMR, no vote, no fault tolerance; its certificates carry one signature,
  // so `triad verify` (which wants two) refuses them.
  bool simplex = false;
  std::uint32_t audit_retention_days = 0;
  // Prometheus metrics over HTTP at http://metrics_host:metrics_port/metrics;
  // none when unset. Port 0: one the system picks (the log names it).
  std::optional<std::uint16_t> metrics_port;
  std::string metrics_host = "127.0.0.1";
  // When the input journal (DIR/journal) is fdatasynced; see journal.h.
  journal::FsyncPolicy fsync;
  // CURVE on every socket (keys in DIR/keys/curve, made when missing); off:
  // plain TCP (`triad up --no-curve`).
  bool curve = true;
  // With CURVE: a directory of client public keys (NAME.pub); only those are
  // admitted on the client socket. Empty: any client key is admitted.
  std::string client_allow_dir;
};

// Runs `triad up`: prints "ready ENDPOINT" on standard output once the three
// replicas are connected, then serves until SIGINT/SIGTERM and stops every
// process it started. Returns the exit status: 0 after a clean stop, 2 for a
// start-up failure (bad card file, port in use, ...), with a one-line error
// on standard error naming the cause.
int run(const Config& config);

}  // namespace triad::frontend
