#include <unistd.h>

#include <CLI/CLI.hpp>
#include <array>
#include <climits>
#include <cstdio>
#include <limits>

#include "cli/commands.h"
#include "cli/options.h"
#include "common/layout.h"
#include "common/types.h"
#include "frontend/frontend.h"

namespace triad::cli {

std::string self_dir() {
  char path[PATH_MAX];
  const ssize_t n = ::readlink("/proc/self/exe", path, sizeof path - 1);
  if (n <= 0) return ".";
  std::string p(path, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

int run_up_command(int argc, char** argv) {
  CLI::App app{"Start the front end and the three replicas a, b, c; stays in the foreground."};
  frontend::Config config;
  config.dir = layout::kDefaultDir;
  std::vector<std::string> injects;
  std::string one_binary;
  app.add_option("--cards", config.cards_path, "card file (CSV, rules.md section 2)")->required();
  app.add_option("--dir", config.dir, "state directory: keys, logs (default triad-data)");
  app.add_option("--listen", config.listen_endpoint, "client endpoint")->capture_default_str();
  app.add_flag("--trust-client-time", config.trust_client_time,
               "use a transaction's ts field as its sequenced time");
  app.add_option("--inject", injects, "REPLICA=FAULT, e.g. b=crash:1000 (repeatable)");
  app.add_option("--seed", config.seed, "seed of injected faults")
      ->check(decimal_range(0, std::numeric_limits<std::uint64_t>::max()))
      ->capture_default_str();
  app.add_option("--deadline-ms", config.deadline_ms, "time to a fail-safe decision")
      ->check(decimal_range(1, 600'000))
      ->capture_default_str();
  app.add_option("--max-in-flight", config.max_in_flight,
                 "seqs held open (undecided, or awaiting their third verdict) before overload; "
                 "caps the admission limit")
      ->check(decimal_range(1, 10'000'000))
      ->capture_default_str();
  app.add_option("--checkpoint-every", config.checkpoint_interval,
                 "vote a full-state checkpoint digest every K transactions (a fixed interval: "
                 "each checkpoint rewrites what changed since the last, and a repaired replica "
                 "replays about K transactions at most after its snapshot)")
      ->check(decimal_range(1, 1'000'000))
      ->capture_default_str();
  app.add_option("--snapshot-every", config.snapshot_every,
                 "store a replica's state snapshot that matches the majority's checkpoint in "
                 "DIR/snapshot every N transactions, so that a restart replays only the "
                 "journal after it; 0: none stored (a restart still starts from one stored "
                 "before, when it holds)")
      ->check(decimal_range(0, 1'000'000'000))
      ->capture_default_str();
  app.add_option("--transient-limit", config.transient_limit,
                 "transient faults (wrong code, bad signature, missing) within the window that "
                 "send a replica to repair")
      ->check(decimal_range(1, 1024))
      ->capture_default_str();
  app.add_option("--transient-window-ms", config.transient_window_ms,
                 "the window of --transient-limit")
      ->check(decimal_range(1, 86'400'000))
      ->capture_default_str();
  app.add_option("--replica-bin", one_binary,
                 "run this one replica program for a, b and c (needs --allow-identical-builds)");
  app.add_flag("--allow-identical-builds", config.allow_identical_builds,
               "start even if two replicas report the same build fingerprint");
  app.add_option("--audit-retention-days", config.audit_retention_days,
                 "delete audit records (DIR/audit.db) older than N days; 0 keeps them forever")
      ->check(decimal_range(0, 36'500))
      ->capture_default_str();
  bool no_audit = false;
  app.add_flag("--no-audit", no_audit, "keep no audit store (decisions are not recorded)");
  app.add_flag("--simplex", config.simplex,
               "benchmark baseline: replica a alone decides, no vote, NOT fault tolerant");
  int metrics_port = 0;
  const CLI::Option* metrics_option =
      app.add_option("--metrics-port", metrics_port,
                     "serve Prometheus metrics at http://HOST:PORT/metrics (off when not given; "
                     "0: a free port, named in the log)")
          ->check(decimal_range(0, 65535));
  app.add_option("--metrics-host", config.metrics_host, "address the metrics server listens on")
      ->capture_default_str();
  std::string fsync = "batch";
  app.add_option("--fsync", fsync,
                 "input journal sync: batch (every group commit; an answered transaction "
                 "survives power loss), interval:MS (up to MS ms lost on power loss) or never "
                 "(survives a front end crash, not an OS crash)")
      ->capture_default_str();
  bool no_curve = false;
  app.add_flag("--no-curve", no_curve,
               "plain TCP on every ZeroMQ link: no encryption, no authentication (comparisons)");
  app.add_option("--client-allow", config.client_allow_dir,
                 "admit only the client CURVE public keys in this directory (NAME.pub files, e.g. "
                 "DIR/keys/curve/clients); default: any client key");
  if (const auto done = parse(app, argc, argv)) return *done;
  if (const std::string problem = tcp_port_problem(config.listen_endpoint); !problem.empty()) {
    std::fprintf(stderr, "triad up: --listen %s: %s\n", config.listen_endpoint.c_str(),
                 problem.c_str());
    return 2;
  }
  if (const Status s = journal::parse_fsync_policy(fsync, &config.fsync); !s.is_ok()) {
    std::fprintf(stderr, "triad up: --fsync: %s\n", s.message().c_str());
    return 2;
  }
  config.audit = !no_audit;
  config.curve = !no_curve;
  if (no_curve && !config.client_allow_dir.empty()) {
    std::fprintf(stderr, "triad up: --client-allow needs CURVE; drop --no-curve\n");
    return 2;
  }
  if (metrics_option->count() > 0) config.metrics_port = static_cast<std::uint16_t>(metrics_port);
  for (int r = 0; r < kReplicaCount; ++r) {
    config.replica_binaries[static_cast<std::size_t>(r)] =
        one_binary.empty() ? self_dir() + "/triad-replica-" + replica_name(r) : one_binary;
  }
  // A replica runs one fault: a second --inject for it would replace the
  // first without a word.
  std::array<const std::string*, kReplicaCount> injected{};
  for (const std::string& spec : injects) {
    const auto eq = spec.find('=');
    const int r = eq == 1 ? replica_index(spec[0]) : -1;
    if (r < 0) {
      std::fprintf(stderr,
                   "triad up: --inject '%s': expected REPLICA=FAULT with REPLICA a, b or c\n",
                   spec.c_str());
      return 2;
    }
    const std::string*& first = injected[static_cast<std::size_t>(r)];
    if (first != nullptr) {
      std::fprintf(stderr,
                   "triad up: --inject: replica %c is given two faults ('%s' and '%s'); one "
                   "fault per replica\n",
                   spec[0], first->c_str(), spec.c_str());
      return 2;
    }
    first = &spec;
    const Status s =
        replica::parse_fault(spec.substr(2), &config.faults[static_cast<std::size_t>(r)]);
    if (!s.is_ok()) {
      std::fprintf(stderr, "triad up: --inject: %s\n", s.message().c_str());
      return 2;
    }
  }
  return frontend::run(config);
}

}  // namespace triad::cli
