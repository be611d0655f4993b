// A log-linear latency histogram in the style of HdrHistogram: values (in
// nanoseconds) fall into power-of-two buckets, each split linearly into 1024
// sub-buckets, so every recorded value is kept to within 1/1024 of itself
// (better than 3 significant decimal digits) from 1 ns up to the highest
// trackable value (60 s by default). Recording is a shift, a mask and an
// increment: cheap enough for a load generator's receive path.
#pragma once

#include <cstdint>
#include <vector>

namespace triad::loadgen {

class Histogram {
 public:
  static constexpr std::uint64_t kDefaultHighestNs = 60'000'000'000;  // 60 s

  Histogram() : Histogram(kDefaultHighestNs) {}
  explicit Histogram(std::uint64_t highest_trackable_ns);

  // Records one value; a value above the highest trackable one is recorded as
  // that highest value and counted in saturated().
  void record(std::uint64_t value_ns);

  // Adds every count of `other`, which must have the same highest trackable
  // value.
  void merge(const Histogram& other);

  std::uint64_t count() const { return total_; }
  std::uint64_t saturated() const { return saturated_; }
  std::uint64_t min() const { return total_ == 0 ? 0 : min_; }
  std::uint64_t max() const { return max_; }  // exact, as recorded (clamped)
  std::uint64_t highest_trackable() const { return highest_; }

  // The smallest recorded value v such that at least `percentile` % of the
  // recorded values are <= v, to within the histogram's precision: the result
  // r satisfies v <= r <= v + v / 1024 (and never exceeds max()). 0 when
  // empty. `percentile` is clamped to [0, 100]; 100 gives max().
  std::uint64_t value_at_percentile(double percentile) const;

  // The rank (1-based) that value_at_percentile targets among `count` sorted
  // values: ceil(percentile / 100 * count), at least 1.
  static std::uint64_t rank_for_percentile(double percentile, std::uint64_t count);

  // Bucket geometry, exposed for tests: the lowest and highest values that
  // share `value`'s counter.
  static std::uint64_t lowest_equivalent(std::uint64_t value);
  static std::uint64_t highest_equivalent(std::uint64_t value);

 private:
  static std::size_t index_of(std::uint64_t value);
  static std::uint64_t value_of_index(std::size_t index);

  std::uint64_t highest_;
  std::vector<std::uint64_t> counts_;
  std::uint64_t total_ = 0;
  std::uint64_t saturated_ = 0;
  std::uint64_t min_ = UINT64_MAX;
  std::uint64_t max_ = 0;
};

}  // namespace triad::loadgen
