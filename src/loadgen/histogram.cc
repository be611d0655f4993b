#include "loadgen/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <stdexcept>

namespace triad::loadgen {
namespace {

// 2048 sub-buckets per power of two, the lower half of which overlaps the
// previous bucket: 1024 distinct linear steps per doubling.
constexpr unsigned kHalfMagnitude = 10;
constexpr std::uint64_t kSubBucketCount = std::uint64_t{1} << (kHalfMagnitude + 1);  // 2048
constexpr std::uint64_t kHalfCount = kSubBucketCount / 2;                            // 1024
constexpr std::uint64_t kSubBucketMask = kSubBucketCount - 1;

unsigned bucket_of(std::uint64_t value) {
  // Position of the highest set bit of (value | mask), minus the sub-bucket
  // magnitude: 0 for values < 2048, 1 for 2048..4095, ...
  return static_cast<unsigned>(63 - std::countl_zero(value | kSubBucketMask)) - kHalfMagnitude;
}

}  // namespace

std::size_t Histogram::index_of(std::uint64_t value) {
  const unsigned bucket = bucket_of(value);
  const std::uint64_t sub = value >> bucket;  // 1024..2047 (or 0..2047 in bucket 0)
  return static_cast<std::size_t>((std::uint64_t{bucket} << kHalfMagnitude) + sub);
}

std::uint64_t Histogram::value_of_index(std::size_t index) {
  std::uint64_t i = index;
  if (i < kSubBucketCount) return i;  // bucket 0: exact
  const std::uint64_t bucket = (i >> kHalfMagnitude) - 1;
  const std::uint64_t sub = (i & (kHalfCount - 1)) + kHalfCount;
  return sub << bucket;
}

std::uint64_t Histogram::lowest_equivalent(std::uint64_t value) {
  const unsigned bucket = bucket_of(value);
  return (value >> bucket) << bucket;
}

std::uint64_t Histogram::highest_equivalent(std::uint64_t value) {
  const unsigned bucket = bucket_of(value);
  return lowest_equivalent(value) + ((std::uint64_t{1} << bucket) - 1);
}

Histogram::Histogram(std::uint64_t highest_trackable_ns)
    : highest_(std::max<std::uint64_t>(highest_trackable_ns, kSubBucketCount)) {
  counts_.assign(index_of(highest_) + 1, 0);
}

void Histogram::record(std::uint64_t value_ns) {
  if (value_ns > highest_) {
    value_ns = highest_;
    ++saturated_;
  }
  ++counts_[index_of(value_ns)];
  ++total_;
  min_ = std::min(min_, value_ns);
  max_ = std::max(max_, value_ns);
}

void Histogram::merge(const Histogram& other) {
  if (other.highest_ != highest_) {
    throw std::invalid_argument("Histogram::merge: different highest trackable values");
  }
  for (std::size_t i = 0; i < counts_.size(); ++i) counts_[i] += other.counts_[i];
  total_ += other.total_;
  saturated_ += other.saturated_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
}

std::uint64_t Histogram::rank_for_percentile(double percentile, std::uint64_t count) {
  if (count == 0) return 0;
  percentile = std::clamp(percentile, 0.0, 100.0);
  // The small tolerance keeps 99.9% of 1000 at rank 999 despite rounding.
  const double exact = percentile / 100.0 * static_cast<double>(count);
  auto rank = static_cast<std::uint64_t>(std::ceil(exact - 1e-9));
  return std::clamp<std::uint64_t>(rank, 1, count);
}

std::uint64_t Histogram::value_at_percentile(double percentile) const {
  if (total_ == 0) return 0;
  const std::uint64_t rank = rank_for_percentile(percentile, total_);
  std::uint64_t seen = 0;
  for (std::size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const std::uint64_t v = value_of_index(i);
      return std::min(highest_equivalent(v), max_);
    }
  }
  return max_;
}

}  // namespace triad::loadgen
