// The spread of one figure over the rounds of `triad bench --rounds N`:
// merged runs give one ratio, which does not say whether every round was
// near it or one slow round made it.
#pragma once

#include <cstddef>
#include <vector>

namespace triad::loadgen {

struct Spread {
  std::size_t count = 0;
  double min = 0;
  double median = 0;  // of an even count, the mean of the middle two
  double max = 0;
};

// All zero for no values.
Spread spread_of(std::vector<double> values);

}  // namespace triad::loadgen
