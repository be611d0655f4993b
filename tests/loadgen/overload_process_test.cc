// Limits under load: `triad up` flooded at five times its measured capacity
// (at most 50,000/s, in client batches; under AddressSanitizer 12,000/s, one request per frame) for
// 30 s, with the load generator on the same 2 cores. The front end must answer every request
// promptly, with a decision or an Overloaded refusal (not a fail-safe 91, not silence), keep its
// memory bounded, repair no replica, and serve a light load normally at once when the flood stops.
// Loopback only; every process ends with the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/layout.h"
#include "loadgen/driver.h"
#include "process/cluster.h"
#include "process/process_util.h"
#include "process/status_util.h"
#include "sample/sample.h"
#include "transport/curve.h"
#include "triad/transaction.h"

namespace triad::testing {
namespace {

// The resident set of process `pid` in KiB (VmRSS), 0 when unreadable.
std::uint64_t rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6));
  }
  return 0;
}

// `count` transactions with fresh ids "<prefix>-<i>", cycling through a pool
// of sample traffic (cards of the same sample card file), so a flood of
// hundreds of thousands costs no more generating than the pool.
std::vector<Transaction> transactions(const std::vector<Transaction>& pool,
                                      const std::string& prefix, std::uint64_t count) {
  std::vector<Transaction> out;
  out.reserve(count);
  for (std::uint64_t i = 0; i < count; ++i) {
    Transaction tx = pool[i % pool.size()];
    tx.id = prefix + "-" + std::to_string(i);
    out.push_back(std::move(tx));
  }
  return out;
}

// The cluster's client endpoint with its CURVE keys (`triad up` makes them).
loadgen::RunResult drive(const Cluster& cluster, const std::vector<Transaction>& pool,
                         const std::string& prefix, double rate, double duration_s, double warmup_s,
                         int grace_ms, std::uint64_t batch_window_us = 0) {
  loadgen::RunOptions o;
  o.endpoint = cluster.endpoint();
  const Status keys = transport::load_curve_client(
      cluster.dir(), layout::curve_client_secret_key(cluster.dir(), layout::kCurveLocalClient),
      &o.curve);
  EXPECT_TRUE(keys.is_ok()) << keys.to_string();
  o.rate = rate;
  o.duration_s = duration_s;
  o.warmup_s = warmup_s;
  o.grace_ms = grace_ms;
  o.batch_window_us = batch_window_us;
  const auto txs = transactions(pool, prefix, loadgen::request_count(o));
  loadgen::RunResult r;
  std::string error;
  EXPECT_TRUE(loadgen::run_open_loop(o, txs, &r, &error)) << error;
  return r;
}

std::uint64_t decisions_of(const loadgen::RunResult& r) { return r.answered - r.errors; }

TEST(OverloadProcessTest, FloodBeyondCapacityIsRefusedPromptlyAndRecovers) {
  TempDir tmp;
  sample::Options so;
  so.card_count = 1000;
  so.transaction_count = 20'000;
  const std::string cards = tmp.file("cards.csv");
  write_file(cards, sample::generate_card_file(so));
  std::vector<Transaction> pool;
  for (const std::string& line : sample::generate_traffic(so)) {
    Transaction tx;
    ASSERT_TRUE(parse_transaction_json(line, &tx).is_ok());
    pool.push_back(std::move(tx));
  }
#if defined(__SANITIZE_ADDRESS__)
  // Under AddressSanitizer a 3 s deadline, not the default 1 s. Admission
  // lets a voting replica lag up to max(4,096 seqs, rate x deadline / 2);
  // at the ~3,400 decisions/s measured there the floor is over a second of
  // decisions, so replica c (-O1 with assertions, the slowest build) could
  // fall a whole deadline behind and be repaired as missing. That is the
  // deadline doing its job, not the overload behaviour this test is about;
  // CI saw it twice (285 and 695 missing verdicts). In release the default
  // stays: a longer deadline admits more and slows the refusals.
  const std::vector<std::string> deadline = {"--deadline-ms", "3000"};
#else
  const std::vector<std::string> deadline;
#endif
  Cluster cluster(tmp, cards, deadline);
  ASSERT_TRUE(cluster.ready()) << read_file(tmp.file("up.stderr"));
  const pid_t frontend = cluster.process().pid();  // `triad up` is the front end

  // The capacity probe offers far more than this machine decides: 40,000/s
  // for 3 s in release (7,271-12,461 decided per second in the runs of
  // 2026-12-02 on the 2-core machine here), 12,000/s under AddressSanitizer.
  // In release it sends in client batches, as the flood does and for the
  // same reason: one request per frame, the load generator, on the same two
  // cores, fell behind reading the replies, and the front end dropped 2,482
  // over the client's high-water mark (CI, 2026-12-03, when the probe
  // decided 20,612/s, more than the 7,271-19,323/s of earlier runs).
  //
  // How long the probe and the flood wait for their last answers. Under
  // AddressSanitizer refusals queue behind the intake (below): the last may
  // come as late as the refusal bound, and an unanswered one fails the test.
  // That holds for the probe too: a CI run (2026-12-05) left 205 of the
  // probe's requests unanswered after a 5 s grace, and the front end answered
  // them later, to a client gone (198 "replies dropped"). Locally, with CPU
  // hogs on the same cores, the front end still read and decided the
  // warm-up's requests, in order, well after a 5 s grace had ended.
#if defined(__SANITIZE_ADDRESS__)
  constexpr double kProbeRate = 12'000;
  constexpr std::uint64_t kProbeBatchWindowUs = 0;
  constexpr int kGraceMs = 20'000;
#else
  constexpr double kProbeRate = 40'000;
  constexpr std::uint64_t kProbeBatchWindowUs = 1000;
  constexpr int kGraceMs = 10'000;
#endif
  // Capacity: a short run offered far more than any machine here decides;
  // the excess is refused, and what is decided per second is the capacity
  // (with the refusing included, as in the flood). It also warms up.
  const auto probe = drive(cluster, pool, "cap", kProbeRate, 3, 1, kGraceMs, kProbeBatchWindowUs);
  const double capacity = static_cast<double>(decisions_of(probe)) / 3.0;
  ASSERT_GT(capacity, 100) << "no decisions in the capacity probe";
  EXPECT_EQ(probe.unanswered, 0u);
  const std::uint64_t base_kib = rss_kib(frontend);
  ASSERT_GT(base_kib, 0u);
  const nlohmann::json before_flood = status_of(cluster.dir());
  ASSERT_TRUE(before_flood.is_object()) << "triad status failed";
  const std::uint64_t base_seq = before_flood.value("last_seq", std::uint64_t{0});

  // The flood, with the front end's resident set sampled every 250 ms.
#if defined(__SANITIZE_ADDRESS__)
  // 12,000/s (the probe's rate): 3.5 to 12 times what an AddressSanitizer
  // cluster decides on the 2-core machines here (1,000-3,400/s), and within
  // what its front end reads while deciding (1,800-15,000/s in a traced
  // flood), so the flood is felt in the intake. At 8,000/s one run decided
  // 3,389/s and refused only 58% (2026-12-02), too near the half this test
  // requires. Not a multiple of the probe: the intake throttle already cuts
  // during the probe, so there it measures the cut (1,000-1,500/s in the
  // runs of 2026-12-02), not the capacity. Release keeps 5x. One request
  // per frame, as those figures were measured: in client batches the same
  // cluster decided 4,413/s of an 8,000/s flood (CI, 2026-12-02).
  const double flood_rate = 12'000;
  constexpr std::uint64_t kFloodBatchWindowUs = 0;
#else
  // At most 50,000/s, sent in client batches (a frame every 1 ms, as a
  // switch under load would): one request per frame, the one-thread load
  // generator, on the same two cores, no longer read the replies as fast as
  // they came, and the front end dropped those over the client's high-water
  // mark (2,671 and 10,203 of floods at 57,863 and 65,632/s on one VM, none
  // at 49,250/s; 9,040 at 50,000/s and 577 at 30,000/s in CI on a slower VM,
  // the test running alone, all on 2026-12-02). Each request in a batch
  // is admitted, refused and answered on its own, so the intake is flooded
  // all the same.
  const double flood_rate = std::min(5 * capacity, 50'000.0);
  constexpr std::uint64_t kFloodBatchWindowUs = 1000;
#endif
  std::atomic<bool> flooding{true};
  std::atomic<std::uint64_t> peak_kib{base_kib};
  std::thread sampler([&] {
    while (flooding) {
      peak_kib = std::max<std::uint64_t>(peak_kib, rss_kib(frontend));
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
    }
  });
  const auto flood =
      drive(cluster, pool, "flood", flood_rate, 30, 0, kGraceMs, kFloodBatchWindowUs);
  flooding = false;
  sampler.join();
  const nlohmann::json after_flood = status_of(cluster.dir());
  ASSERT_TRUE(after_flood.is_object()) << "triad status failed";

  // Right after: a light load is served at once, with no refusal.
  const auto light = drive(cluster, pool, "light", 200, 3, 0, 3000);
  const double light_p99_ms = static_cast<double>(light.latency.value_at_percentile(99)) / 1e6;

  const std::uint64_t flood_decisions = decisions_of(flood);
  const std::uint64_t last_seq = after_flood.value("last_seq", std::uint64_t{0});
  const std::uint64_t flood_sequenced = last_seq - std::min(base_seq, last_seq);
  const double kib_per_sequenced = static_cast<double>(peak_kib.load() - base_kib) /
                                   static_cast<double>(std::max<std::uint64_t>(flood_sequenced, 1));
  std::printf(
      "overload: capacity %.0f decisions/s (probe at %.0f/s: %llu decided, %llu refused)\n"
      "overload: flood %.0f/s (%.1f x capacity) for 30 s: %llu sent, %llu answered, "
      "%llu overloaded, %llu decisions "
      "(%.0f/s), %llu fail-safe, %llu with a divergent replica, %llu unanswered, "
      "max send lag %.1f ms, p99 %.1f ms, max %.1f ms; refusals p50 %.1f ms, p99 %.1f ms\n"
      "overload: front end RSS %.1f MiB after warm-up, peak %.1f MiB during the flood "
      "(%llu sequenced meanwhile: %.2f KiB each)\n"
      "overload: recovery at 200/s for 3 s: %llu answered, %llu refused, p99 %.2f ms\n"
      "overload: status after the flood: %s\n",
      capacity, kProbeRate, static_cast<unsigned long long>(decisions_of(probe)),
      static_cast<unsigned long long>(probe.errors), flood_rate, flood_rate / capacity,
      static_cast<unsigned long long>(flood.sent), static_cast<unsigned long long>(flood.answered),
      static_cast<unsigned long long>(flood.errors),
      static_cast<unsigned long long>(flood_decisions), static_cast<double>(flood_decisions) / 30,
      static_cast<unsigned long long>(flood.fail_safe),
      static_cast<unsigned long long>(flood.divergences),
      static_cast<unsigned long long>(flood.unanswered),
      static_cast<double>(flood.max_send_lag_ns) / 1e6,
      static_cast<double>(flood.latency.value_at_percentile(99)) / 1e6,
      static_cast<double>(flood.latency.max()) / 1e6,
      static_cast<double>(flood.error_latency.value_at_percentile(50)) / 1e6,
      static_cast<double>(flood.error_latency.value_at_percentile(99)) / 1e6,
      static_cast<double>(base_kib) / 1024, static_cast<double>(peak_kib.load()) / 1024,
      static_cast<unsigned long long>(flood_sequenced), kib_per_sequenced,
      static_cast<unsigned long long>(light.answered),
      static_cast<unsigned long long>(light.errors), light_p99_ms, after_flood.dump().c_str());
  std::fflush(stdout);

  // Every request answered, with a decision or Overloaded; and refusals
  // there were (else this was no flood): most of them when the flood is at
  // least four times the probe's capacity. The 50,000/s cap can leave less
  // than twice what the cluster decides: one CI run probed 19,323/s (single
  // requests then), decided 25,047/s of the flood and refused 49.9% of it;
  // with the probe batched too, 27,083 and 29,037/s probed locally on
  // 2026-12-03, the flood 1.7-1.8x that.
  EXPECT_EQ(flood.unanswered, 0u);
  EXPECT_EQ(flood.answered, flood.sent);
  EXPECT_GT(flood.errors, 0u);
  EXPECT_EQ(flood.first_error.rfind("front end overloaded: ", 0), 0u) << flood.first_error;
  if (flood_rate >= 4 * capacity) {
    EXPECT_GT(flood.errors, flood.sent / 2);
  }
  EXPECT_GT(flood_decisions, 0u);
  // Refused, not left silent: every refusal arrives, and soon.
  // Measured on the 2-core CI machine: p99 0.3-1.3 s on an idle machine
  // (5.3 s once with another test run loading it), so the bound is 3 s
  // (three default deadlines): far from silence, but not the milliseconds
  // a dedicated intake thread would give. Under AddressSanitizer the front
  // end reads little more than the 12,000/s offered, so refusals queue
  // behind the intake: p99 2.98-11.4 s in six runs on 2026-12-03 (three of
  // them of the build before the stop signals' change), 3.69 s in a CI run
  // the same day; there the bound is five of its 3 s deadlines, refusals
  // within half the flood's length. The 3 s bound is release's.
#if defined(__SANITIZE_ADDRESS__)
  constexpr std::uint64_t kRefusalP99LimitNs = 15'000'000'000u;
#else
  constexpr std::uint64_t kRefusalP99LimitNs = 3'000'000'000u;
#endif
  EXPECT_LT(flood.error_latency.value_at_percentile(99), kRefusalP99LimitNs);
  // What was admitted was decided by the replicas, not by the deadline: a
  // handful of 91s is tolerated for a machine shared with other work.
  EXPECT_LE(flood.fail_safe, flood_decisions / 1000 + 5);
  // Memory. The front end keeps every transaction it sequenced, for now (the
  // in-memory journal, the answer and its certificate, the idempotency
  // record, the audit queue, vector growth): about 2.5 KiB each as measured
  // here, so 4 KiB per transaction sequenced during the flood is allowed,
  // plus a fixed 128 MiB for the bounded queues (25,000 replies per client,
  // 256 messages per replica link) and allocator slack. What was refused
  // (over a million requests) must leave nothing behind: at a hundred bytes
  // or so each it would break this bound, and so would queueing the flood.
  const std::uint64_t bound_kib = base_kib + 128 * 1024 + 4 * flood_sequenced;
  EXPECT_LE(peak_kib.load(), bound_kib) << "bound " << bound_kib / 1024 << " MiB";
  // No replica was failed or repaired for being slow under the flood.
  EXPECT_GE(after_flood["overloaded"].get<std::uint64_t>(), probe.errors + flood.errors);
  for (const auto& r : after_flood["replicas"]) {
    EXPECT_EQ(r["state"], "healthy") << r.dump();
    EXPECT_EQ(r["failures"].get<std::uint64_t>(), 0u) << r.dump();
  }
  // Recovery: at once, no refusal, prompt.
  EXPECT_EQ(light.unanswered, 0u);
  EXPECT_EQ(light.errors, 0u);
  EXPECT_EQ(light.answered, light.measured);
  // Measured in release right after a flood: 0.9-62 ms. Under AddressSanitizer
  // 3.5-7.1 ms in four runs, and 573 ms in one CI run (all 600 answered, none
  // refused) whose cause was not found: hence its own bound there.
#if defined(__SANITIZE_ADDRESS__)
  EXPECT_LT(light_p99_ms, 1000.0);
#else
  EXPECT_LT(light_p99_ms, 200.0);
#endif

  EXPECT_EQ(cluster.stop(), 0);
  if (HasFailure()) {
    // What the front end warned of (a replica reported missing and why, a
    // slow journal sync...): what the summary above cannot say.
    std::istringstream log(read_file(layout::frontend_log(cluster.dir())));
    std::vector<std::string> warnings;
    for (std::string line; std::getline(log, line);) {
      if (line.find(" WARN ") != std::string::npos || line.find(" ERROR ") != std::string::npos) {
        warnings.push_back(line);
      }
    }
    const std::size_t shown = std::min<std::size_t>(warnings.size(), 60);
    std::printf("overload: the front end's last %zu of %zu warnings and errors:\n", shown,
                warnings.size());
    for (std::size_t i = warnings.size() - shown; i < warnings.size(); ++i) {
      std::printf("  %s\n", warnings[i].c_str());
    }
  }
}

}  // namespace
}  // namespace triad::testing
