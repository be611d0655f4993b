// tmr_figures: measured fault tolerance of the TMR cluster against theory.
//
// For each p, the deterministic simulator (src/sim) runs the real front end
// Core (sequencer, voter, repair supervisor) and three ReplicaNodes with the
// fault flip:p on all three, each replica with its own dice: each replica
// independently returns a wrong (but validly signed) verdict with
// probability p per transaction. Repair is kept out of the measurement
// (transient limit at its maximum, 1024, within a 1 s window, at 1,000
// transactions per simulated second: a replica gets about 100 wrong verdicts
// per window at p = 0.1, so none is ever sent to repair; the tool checks
// that all three end healthy with no failure), so the cluster stays TMR.
//
// A system decision is a failure when it is wrong (an agreed code other than
// the reference rules::Engine's over the same sequence) or a fail-safe
// decline (91/96). TMR theory: the system fails when at least two of the
// three replicas are wrong on the same transaction, 3p^2 - 2p^3 (two flipped
// verdicts are equal, flip being deterministic and the state following the
// correct decision, so they form a wrong majority). The table gives, per p,
// the failures counted, their rate, its 95% Wilson score interval, theory,
// the single replica's p (and the flip rate measured on the replicas'
// verdicts), and whether theory lies in the interval.
//
// Everything is a pure function of --seed: a rerun prints the same table.
#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <string>
#include <vector>

#include "sim/sim.h"

namespace {

using triad::ResponseCode;
namespace sim = triad::sim;

struct Row {
  double p = 0;
  std::uint64_t transactions = 0;
  std::uint64_t wrong = 0;
  std::uint64_t fail_safe = 0;
  double rate = 0;
  double low = 0;
  double high = 0;
  double theory = 0;
  double replica_rate = 0;      // measured flips per verdict, all three replicas
  std::uint64_t two_wrong = 0;  // seqs where at least two replicas' verdicts were wrong
  bool inside = false;
  bool stayed_tmr = false;
  double seconds = 0;
};

// The 95% Wilson score interval of k successes in n trials.
void wilson(std::uint64_t k, std::uint64_t n, double* low, double* high) {
  const double z = 1.959963984540054;
  const double nn = static_cast<double>(n);
  const double ph = static_cast<double>(k) / nn;
  const double denom = 1 + z * z / nn;
  const double centre = (ph + z * z / (2 * nn)) / denom;
  const double half = z * std::sqrt(ph * (1 - ph) / nn + z * z / (4 * nn * nn)) / denom;
  *low = std::max(0.0, centre - half);
  *high = std::min(1.0, centre + half);
}

// "0.001" -> 1000 ppm, for the fault's integer probability.
std::uint32_t to_ppm(double p) { return static_cast<std::uint32_t>(std::llround(p * 1e6)); }

Row measure(double p, std::uint64_t n, std::uint64_t seed) {
  const auto started = std::chrono::steady_clock::now();
  sim::Scenario s;
  s.seed = sim::derive_seed(seed, to_ppm(p));
  s.card_count = 1000;
  s.transaction_count = n;
  s.settle = false;
  s.client_count = 1;
  s.window = 64;
  s.max_burst = 8;
  s.fixed_gap_us = 8'000;  // 8 transactions every 8 ms: 1,000 per simulated second
  for (int r = 0; r < triad::kReplicaCount; ++r) {
    auto& f = s.faults[static_cast<std::size_t>(r)];
    f.kind = triad::replica::Fault::Kind::kFlip;
    f.probability_ppm = to_ppm(p);
    s.fault_seeds[static_cast<std::size_t>(r)] =
        sim::derive_seed(s.seed, 100 + static_cast<std::uint64_t>(r));
  }
  s.checkpoint_interval = 1'000'000'000;  // no full-state checkpoints: flips leave the state alone
  s.repair.transient_limit = triad::repair::Supervisor::kMaxTransientLimit;
  s.repair.transient_window_us = 1'000'000;
  s.keep_certificates = false;
  s.max_events = 40 * n + 1'000'000;

  const sim::Result result = sim::run(s);
  const std::vector<ResponseCode> reference = sim::reference_codes(result);
  Row row;
  row.p = static_cast<double>(to_ppm(p)) / 1e6;
  row.transactions = result.last_seq;
  std::uint64_t verdicts = 0;
  std::uint64_t flips = 0;
  for (std::size_t i = 0; i < result.submissions.size(); ++i) {
    if (result.replies[i].size() != 1 || !result.replies[i][0].error.empty()) continue;
    const sim::Reply& d = result.replies[i][0];
    if (d.replayed || reference.empty()) continue;
    const ResponseCode expected = reference[d.seq - 1];
    if (d.agree.empty()) {
      ++row.fail_safe;
    } else if (d.code != triad::to_string(expected)) {
      ++row.wrong;
    }
    int wrong_here = 0;
    for (const std::uint8_t c : result.seqs[d.seq - 1].verdict_code) {
      if (c == 0xFF) continue;
      ++verdicts;
      wrong_here += c != static_cast<std::uint8_t>(expected);
    }
    flips += static_cast<std::uint64_t>(wrong_here);
    row.two_wrong += wrong_here >= 2;
  }
  const std::uint64_t failures = row.wrong + row.fail_safe;
  row.rate = static_cast<double>(failures) / static_cast<double>(row.transactions);
  wilson(failures, row.transactions, &row.low, &row.high);
  row.theory = 3 * row.p * row.p - 2 * row.p * row.p * row.p;
  row.inside = row.low <= row.theory && row.theory <= row.high;
  row.replica_rate = verdicts == 0 ? 0 : static_cast<double>(flips) / static_cast<double>(verdicts);
  row.stayed_tmr = result.errors.empty() && result.last_seq == n && !reference.empty();
  for (const auto& e : result.replicas) {
    row.stayed_tmr = row.stayed_tmr && e.state == triad::repair::ReplicaState::kHealthy &&
                     e.stats.failures == 0 && e.processes == 1;
  }
  row.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Measured TMR fault tolerance (flip:p on all three replicas) against 3p^2 - 2p^3"};
  std::vector<double> ps = {0.001, 0.01, 0.05, 0.1};
  std::vector<std::uint64_t> ns = {300'000, 150'000, 10'000, 5'000};
  std::uint64_t seed = 1;
  bool json = false;
  app.add_option("--p", ps, "per-replica flip probabilities")->delimiter(',');
  app.add_option("--n", ns, "transactions per p (one value for all, or one per p)")->delimiter(',');
  app.add_option("--seed", seed, "seed of the whole measurement");
  app.add_flag("--json", json, "print one JSON object instead of the table");
  CLI11_PARSE(app, argc, argv);
  if (ns.size() != 1 && ns.size() != ps.size()) {
    std::fprintf(stderr, "tmr_figures: --n takes one value or one per --p\n");
    return 2;
  }
  for (const double p : ps) {
    if (!(p > 0 && p <= 1)) {
      std::fprintf(stderr, "tmr_figures: p must be in (0, 1]\n");
      return 2;
    }
  }

  std::vector<Row> rows;
  bool ok = true;
  for (std::size_t i = 0; i < ps.size(); ++i) {
    rows.push_back(measure(ps[i], ns.size() == 1 ? ns[0] : ns[i], seed));
    ok = ok && rows.back().stayed_tmr;
    if (!json) std::fprintf(stderr, "p = %g: %.1f s\n", rows.back().p, rows.back().seconds);
  }
  if (json) {
    std::printf("{\"seed\": %llu, \"confidence\": 0.95, \"interval\": \"wilson\", \"rows\": [",
                static_cast<unsigned long long>(seed));
    for (std::size_t i = 0; i < rows.size(); ++i) {
      const Row& r = rows[i];
      std::printf(
          "%s\n  {\"p\": %g, \"transactions\": %llu, \"wrong\": %llu, \"fail_safe\": %llu, "
          "\"rate\": %.6e, \"ci_low\": %.6e, \"ci_high\": %.6e, \"tmr_theory\": %.6e, "
          "\"single_replica\": %g, \"replica_flip_rate_measured\": %.6e, "
          "\"seqs_with_two_or_more_wrong_verdicts\": %llu, \"theory_in_ci\": %s, "
          "\"stayed_tmr\": %s}",
          i == 0 ? "" : ",", r.p, static_cast<unsigned long long>(r.transactions),
          static_cast<unsigned long long>(r.wrong), static_cast<unsigned long long>(r.fail_safe),
          r.rate, r.low, r.high, r.theory, r.p, r.replica_rate,
          static_cast<unsigned long long>(r.two_wrong), r.inside ? "true" : "false",
          r.stayed_tmr ? "true" : "false");
    }
    std::printf("\n]}\n");
  } else {
    std::printf(
        "| p | transactions | wrong + fail-safe | rate | 95%% Wilson CI | TMR 3p²−2p³ | "
        "single replica p (measured) | seqs with ≥2 wrong verdicts | theory in CI |\n");
    std::printf("|---|---:|---:|---:|---|---:|---:|---:|---|\n");
    for (const Row& r : rows) {
      std::printf(
          "| %g | %llu | %llu + %llu | %.3e | [%.3e, %.3e] | %.3e | %g (%.4f) | %llu | %s |\n", r.p,
          static_cast<unsigned long long>(r.transactions), static_cast<unsigned long long>(r.wrong),
          static_cast<unsigned long long>(r.fail_safe), r.rate, r.low, r.high, r.theory, r.p,
          r.replica_rate, static_cast<unsigned long long>(r.two_wrong), r.inside ? "yes" : "no");
    }
    if (!ok)
      std::printf("\nWARNING: a run left TMR (a replica was repaired) or lost transactions.\n");
  }
  return ok ? 0 : 1;
}
