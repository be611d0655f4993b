// The log-linear histogram against a sorted-vector oracle.
#include "loadgen/histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

namespace triad::loadgen {
namespace {

// The oracle: the value of rank ceil(p/100 * n) among the sorted values.
std::uint64_t oracle(const std::vector<std::uint64_t>& sorted, double p) {
  return sorted[Histogram::rank_for_percentile(p, sorted.size()) - 1];
}

const double kPercentiles[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 99.999, 100};

void expect_matches_oracle(const Histogram& h, std::vector<std::uint64_t> values) {
  std::sort(values.begin(), values.end());
  ASSERT_EQ(h.count(), values.size());
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
  for (double p : kPercentiles) {
    const std::uint64_t want = oracle(values, p);
    const std::uint64_t got = h.value_at_percentile(p);
    // Never below the true value, and at most 1/1024 above it (> 3 digits).
    EXPECT_GE(got, want) << "p" << p;
    EXPECT_LE(got, want + want / 1024) << "p" << p;
  }
}

TEST(HistogramTest, EmptyIsZero) {
  Histogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.value_at_percentile(50), 0u);
  EXPECT_EQ(h.max(), 0u);
}

TEST(HistogramTest, SmallValuesAreExact) {
  Histogram h;
  for (std::uint64_t v = 0; v < 2048; ++v) h.record(v);
  EXPECT_EQ(h.value_at_percentile(50), 1023u);
  EXPECT_EQ(h.value_at_percentile(100), 2047u);
  for (std::uint64_t v = 0; v < 2048; ++v) {
    EXPECT_EQ(Histogram::lowest_equivalent(v), v);
    EXPECT_EQ(Histogram::highest_equivalent(v), v);
  }
}

TEST(HistogramTest, PrecisionBoundFromOneMicrosecondToSixtySeconds) {
  // Every value shares its counter only with values within 1/1024 of it.
  std::mt19937_64 rng(7);
  for (int i = 0; i < 200'000; ++i) {
    const double log_v = std::uniform_real_distribution<double>(3.0, std::log10(6e10))(rng);
    const auto v = static_cast<std::uint64_t>(std::pow(10.0, log_v));
    const std::uint64_t lo = Histogram::lowest_equivalent(v);
    const std::uint64_t hi = Histogram::highest_equivalent(v);
    ASSERT_LE(lo, v);
    ASSERT_GE(hi, v);
    ASSERT_LE(hi - lo, lo / 1024) << v;  // 3 significant digits: < 0.1 %
  }
}

TEST(HistogramTest, PercentilesMatchSortedOracleOnRandomData) {
  std::mt19937_64 rng(42);
  for (int trial = 0; trial < 20; ++trial) {
    Histogram h;
    std::vector<std::uint64_t> values;
    const std::size_t n = 1 + rng() % 50'000;
    std::lognormal_distribution<double> latency(std::log(300'000.0), 1.0 + trial * 0.1);
    for (std::size_t i = 0; i < n; ++i) {
      auto v = static_cast<std::uint64_t>(latency(rng));
      v = std::min<std::uint64_t>(v, Histogram::kDefaultHighestNs);
      values.push_back(v);
      h.record(v);
    }
    expect_matches_oracle(h, values);
  }
}

TEST(HistogramTest, UniformWideRange) {
  std::mt19937_64 rng(3);
  Histogram h;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 100'000; ++i) {
    const std::uint64_t v = 1000 + rng() % (Histogram::kDefaultHighestNs - 1000);
    values.push_back(v);
    h.record(v);
  }
  expect_matches_oracle(h, values);
}

TEST(HistogramTest, SaturatesAboveHighest) {
  Histogram h(1'000'000);
  h.record(5'000'000);
  h.record(10);
  EXPECT_EQ(h.saturated(), 1u);
  EXPECT_EQ(h.max(), 1'000'000u);
  EXPECT_EQ(h.value_at_percentile(100), 1'000'000u);
}

TEST(HistogramTest, MergeEqualsRecordingEverything) {
  std::mt19937_64 rng(11);
  Histogram a;
  Histogram b;
  Histogram both;
  std::vector<std::uint64_t> values;
  for (int i = 0; i < 30'000; ++i) {
    const std::uint64_t v = 500 + rng() % 20'000'000;
    (i % 3 == 0 ? a : b).record(v);
    both.record(v);
    values.push_back(v);
  }
  a.merge(b);
  EXPECT_EQ(a.count(), both.count());
  EXPECT_EQ(a.max(), both.max());
  EXPECT_EQ(a.min(), both.min());
  for (double p : kPercentiles) {
    EXPECT_EQ(a.value_at_percentile(p), both.value_at_percentile(p)) << p;
  }
  expect_matches_oracle(a, values);
  EXPECT_THROW(a.merge(Histogram(1'000'000)), std::invalid_argument);
}

TEST(HistogramTest, RankForPercentile) {
  EXPECT_EQ(Histogram::rank_for_percentile(50, 10), 5u);
  EXPECT_EQ(Histogram::rank_for_percentile(99.9, 1000), 999u);
  EXPECT_EQ(Histogram::rank_for_percentile(0, 10), 1u);
  EXPECT_EQ(Histogram::rank_for_percentile(100, 10), 10u);
  EXPECT_EQ(Histogram::rank_for_percentile(99.99, 100), 100u);
}

}  // namespace
}  // namespace triad::loadgen
