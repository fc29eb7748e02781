// Percentiles of a sample of latencies: p50, p99 and the maximum (nearest rank), and the
// sample's size; all zero for an empty sample.
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace shmpool::bench {

struct Summary {
  double p50 = 0, p99 = 0, max = 0;
  size_t n = 0;
};

inline Summary Summarize(std::vector<double> v) {
  if (v.empty()) return {};
  std::sort(v.begin(), v.end());
  auto at = [&v](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))]; };
  return {at(0.50), at(0.99), v.back(), v.size()};
}

}  // namespace shmpool::bench
