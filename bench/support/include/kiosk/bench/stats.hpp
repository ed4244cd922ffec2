// Summary statistics for benchmark reports: one definition of a percentile for every figure we publish.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

namespace kiosk::bench {

// Nearest-rank percentile, q in [0, 1] (0.5 = median, 0.99 = p99); 0 for no samples.
inline double percentile(std::vector<double> samples, double q) {
  if (samples.empty()) return 0;
  const double rank = std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(samples.size()));
  const auto k = static_cast<std::size_t>(std::max(1.0, rank)) - 1;
  std::nth_element(samples.begin(), samples.begin() + static_cast<std::ptrdiff_t>(k), samples.end());
  return samples[k];
}

}  // namespace kiosk::bench
