#include "loadgen/spread.h"

#include <algorithm>

namespace triad::loadgen {

Spread spread_of(std::vector<double> values) {
  if (values.empty()) return {};
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  const double median = n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
  return {n, values.front(), median, values.back()};
}

}  // namespace triad::loadgen
