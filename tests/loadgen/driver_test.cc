#include "loadgen/driver.h"

#include <gtest/gtest.h>

namespace triad::loadgen {
namespace {

RunResult run_of(std::uint64_t answered, double window_s, std::uint64_t latency_ns) {
  RunResult r;
  r.offered_rate = 100;
  r.sent = answered + 10;
  r.measured = answered;
  r.answered = answered;
  r.measured_window_s = window_s;
  r.codes["00"] = answered;
  for (std::uint64_t i = 0; i < answered; ++i) r.latency.record(latency_ns);
  return r;
}

TEST(MergeRun, AddsCountsAndHistogramsAndRatesOverBothWindows) {
  RunResult into = run_of(100, 1.0, 1'000);
  RunResult from = run_of(300, 2.0, 9'000);
  from.errors = 2;
  from.first_error = "front end overloaded: ...";
  from.fail_safe = 1;
  from.unanswered = 3;
  from.divergences = 4;
  from.codes["51"] = 5;
  from.max_send_lag_ns = 777;
  into.max_send_lag_ns = 5;
  from.error_latency.record(42);
  merge_run(from, &into);
  EXPECT_EQ(into.sent, 420u);
  EXPECT_EQ(into.measured, 400u);
  EXPECT_EQ(into.answered, 400u);
  EXPECT_EQ(into.errors, 2u);
  EXPECT_EQ(into.first_error, "front end overloaded: ...");  // into had none
  EXPECT_EQ(into.fail_safe, 1u);
  EXPECT_EQ(into.unanswered, 3u);
  EXPECT_EQ(into.divergences, 4u);
  EXPECT_EQ(into.codes["00"], 400u);
  EXPECT_EQ(into.codes["51"], 5u);
  EXPECT_EQ(into.max_send_lag_ns, 777u);
  EXPECT_DOUBLE_EQ(into.measured_window_s, 3.0);
  EXPECT_DOUBLE_EQ(into.achieved_rate(), 400.0 / 3.0);
  EXPECT_DOUBLE_EQ(into.offered_rate, 100.0);
  EXPECT_EQ(into.latency.count(), 400u);
  // A quarter at 1 µs, the rest at 9 µs.
  EXPECT_LE(into.latency.value_at_percentile(25), Histogram::highest_equivalent(1'000));
  EXPECT_GE(into.latency.value_at_percentile(26), Histogram::lowest_equivalent(9'000));
  EXPECT_EQ(into.error_latency.count(), 1u);
  EXPECT_FALSE(into.interrupted);
  RunResult stopped;
  stopped.interrupted = true;
  stopped.first_error = "a later one";
  merge_run(stopped, &into);
  EXPECT_TRUE(into.interrupted);
  EXPECT_EQ(into.first_error, "front end overloaded: ...");  // the first stays
}

}  // namespace
}  // namespace triad::loadgen
