// The deterministic simulation, 1,000 seeds: for each seed, a whole cluster (front
// end Core, three ReplicaNodes, clients) runs in this process on a simulated
// clock with the faults, losses, delays and retries the seed draws
// (sim::scenario_for_seed), and every invariant of src/sim/check.h is checked.
//
// Seeds: TRIAD_SIM_SEEDS (default 1000; fewer in sanitizer builds) starting
// at TRIAD_SIM_FIRST_SEED (default 1), spread over kShards test cases so
// `ctest -j` runs them in parallel. TRIAD_SIM_SEED=N runs only seed N and
// prints what happened; TRIAD_SIM_LOG=FILE (or "-" for standard error) then
// also writes the cluster's log, stamped with simulated time.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <string>

#include "common/hex.h"
#include "sim/check.h"
#include "sim/sim.h"
#include "sim/sim_util.h"

#ifndef TRIAD_SIM_DEFAULT_SEEDS
#define TRIAD_SIM_DEFAULT_SEEDS 1000
#endif

namespace triad::sim {
namespace {

constexpr int kShards = 8;

std::uint64_t env_u64(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  return std::strtoull(v, nullptr, 10);
}

std::string self_path() {
  char buf[4096];
  const ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : std::string("sim_test");
}

const Keyring& keyring() { return test_keyring(); }

struct Totals {
  std::uint64_t seeds = 0, failed = 0, decisions = 0, fail_safe = 0, by_loss = 0, flip_flip = 0,
                replayed = 0, lost = 0, restarts = 0, events = 0, stuck = 0, max_settle_us = 0,
                archive_reads = 0, reaped_process_messages = 0;
  std::uint64_t by_faulty[3] = {};
};

// Runs one seed; on failure reports it with the command that reruns it.
bool run_seed(std::uint64_t seed, Totals* totals, bool verbose) {
  Scenario scenario = scenario_for_seed(seed);
  const char* log_path = std::getenv("TRIAD_SIM_LOG");
  scenario.capture_log = verbose && log_path != nullptr;
  const Result result = run(scenario);
  CheckOptions options;
  options.strict_recovery = env_u64("TRIAD_SIM_STRICT", 0) != 0;
  const CheckReport report = check(scenario, result, keyring(), options);
  if (totals != nullptr) {
    totals->stuck += !report.stuck.empty();
    if (result.settled) {
      totals->max_settle_us = std::max(totals->max_settle_us, result.end_us - result.main_done_us);
    }
    ++totals->seeds;
    totals->decisions += report.decisions;
    totals->fail_safe += report.fail_safe;
    totals->by_loss += report.fail_safe_by_loss;
    totals->flip_flip += report.flip_flip;
    totals->replayed += report.replayed;
    totals->events += result.events;
    totals->archive_reads += result.archive_reads;
    totals->reaped_process_messages += result.reaped_process_messages;
    for (const auto& l : result.lost_us) totals->lost += l.size();
    for (const auto& e : result.replicas) totals->restarts += e.processes - 1;
    const std::uint8_t f = faulty_mask(scenario);
    ++totals->by_faulty[(f & 1) + ((f >> 1) & 1) + ((f >> 2) & 1)];
  }
  if (verbose) {
    std::printf("%s\n", describe(scenario).c_str());
    std::printf(
        "last seq %llu, %llu decisions (%llu fail-safe, %llu by loss, %llu flip-flip), "
        "%llu events, simulated %.3f s, settled %s, trace %s\n",
        static_cast<unsigned long long>(result.last_seq),
        static_cast<unsigned long long>(report.decisions),
        static_cast<unsigned long long>(report.fail_safe),
        static_cast<unsigned long long>(report.fail_safe_by_loss),
        static_cast<unsigned long long>(report.flip_flip),
        static_cast<unsigned long long>(result.events),
        static_cast<double>(result.end_us - result.start_us) / 1e6,
        result.settled         ? "yes"
        : report.stuck.empty() ? "no"
                               : ("no (" + report.stuck + ")").c_str(),
        to_hex(result.trace).c_str());
    for (int r = 0; r < kReplicaCount; ++r) {
      const ReplicaEnd& e = result.replicas[static_cast<std::size_t>(r)];
      std::printf(
          "replica %c: %s, %u process(es), %llu failures, %llu repairs, %zu messages lost\n",
          replica_name(r), repair::to_string(e.state), e.processes,
          static_cast<unsigned long long>(e.stats.failures),
          static_cast<unsigned long long>(e.stats.repairs),
          result.lost_us[static_cast<std::size_t>(r)].size());
    }
    if (scenario.capture_log) {
      if (std::string(log_path) == "-") {
        std::fputs(result.log.c_str(), stderr);
      } else {
        std::ofstream(log_path) << result.log;
      }
    }
  }
  if (report.failures.empty()) return true;
  if (totals != nullptr) ++totals->failed;
  std::string lines;
  for (const std::string& f : report.failures) lines += "  " + f + "\n";
  ADD_FAILURE() << "simulation seed " << seed << " failed: " << describe(scenario) << "\n"
                << lines << "rerun just this seed: TRIAD_SIM_SEED=" << seed << " " << self_path()
                << "   (TRIAD_SIM_LOG=- adds the cluster's log)";
  return false;
}

class SimSeeds : public ::testing::TestWithParam<int> {};

TEST_P(SimSeeds, EveryInvariantHolds) {
  const int shard = GetParam();
  keyring();  // first: it also switches Ed25519 to libsodium before any key is made
  if (const char* one = std::getenv("TRIAD_SIM_SEED"); one != nullptr && *one != '\0') {
    if (shard != 0) GTEST_SKIP() << "TRIAD_SIM_SEED runs one seed, in shard 0";
    run_seed(std::strtoull(one, nullptr, 10), nullptr, /*verbose=*/true);
    return;
  }
  const std::uint64_t first = env_u64("TRIAD_SIM_FIRST_SEED", 1);
  const std::uint64_t count = env_u64("TRIAD_SIM_SEEDS", TRIAD_SIM_DEFAULT_SEEDS);
  Totals t;
  for (std::uint64_t i = static_cast<std::uint64_t>(shard); i < count; i += kShards) {
    run_seed(first + i, &t, /*verbose=*/false);
  }
  std::printf(
      "shard %d: %llu seeds (%llu/%llu/%llu with 0/1/2 faulty replicas), %llu failed; "
      "%llu decisions, %llu fail-safe (%llu explained by loss), %llu flip-flip, "
      "%llu replayed answers, %llu messages lost, %llu restarts, %llu resends read back from "
      "the archive, %llu messages of reaped processes, %llu events; "
      "%llu did not settle for a reason of check.h rule 4 (TRIAD_SIM_STRICT=1 fails them); "
      "longest settle %.1f s\n",
      shard, static_cast<unsigned long long>(t.seeds),
      static_cast<unsigned long long>(t.by_faulty[0]),
      static_cast<unsigned long long>(t.by_faulty[1]),
      static_cast<unsigned long long>(t.by_faulty[2]), static_cast<unsigned long long>(t.failed),
      static_cast<unsigned long long>(t.decisions), static_cast<unsigned long long>(t.fail_safe),
      static_cast<unsigned long long>(t.by_loss), static_cast<unsigned long long>(t.flip_flip),
      static_cast<unsigned long long>(t.replayed), static_cast<unsigned long long>(t.lost),
      static_cast<unsigned long long>(t.restarts), static_cast<unsigned long long>(t.archive_reads),
      static_cast<unsigned long long>(t.reaped_process_messages),
      static_cast<unsigned long long>(t.events), static_cast<unsigned long long>(t.stuck),
      static_cast<double>(t.max_settle_us) / 1e6);
}

// Not vacuous: the runs exercise the front end's resends from its archive.
TEST(SimSeedsArchive, RepairsAndLossAreResentFromTheArchive) {
  keyring();
  std::uint64_t reads = 0;
  for (std::uint64_t seed = 1; seed <= 20; ++seed)
    reads += run(scenario_for_seed(seed)).archive_reads;
  EXPECT_GT(reads, 0u);
}

// Not vacuous either: messages a crashed or killed process sent arrive after
// its exit was reaped, and count for their votes only.
TEST(SimSeedsReaped, MessagesOfReapedProcessesArrive) {
  keyring();
  std::uint64_t messages = 0;
  for (std::uint64_t seed = 1; seed <= 100 && messages == 0; ++seed) {
    messages += run(scenario_for_seed(seed)).reaped_process_messages;
  }
  EXPECT_GT(messages, 0u);
}

INSTANTIATE_TEST_SUITE_P(Shards, SimSeeds, ::testing::Range(0, kShards));

}  // namespace
}  // namespace triad::sim
