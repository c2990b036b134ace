// Brute-force spherical k-means (Lloyd's algorithm, written out): every point to the centroid of
// largest inner product (the lowest index on a tie), every centroid to the normalised mean of its
// points (kept when it has none), a fixed number of rounds. Slow and obviously correct; the faiss
// path in lib/cluster/kmeans.cpp is checked against it (tests/cluster/test_kmeans.cpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace slmify_reference {

struct KMeans {
  std::vector<float> centroids;  // [k x d]
  std::vector<int> assign;
  double objective = 0;  // sum of inner products with the assigned centroid
  // The smallest gap, over every point and every round, between its best and second-best inner
  // product: where it exceeds fp32's rounding, any correct fp32 implementation assigns the same.
  double min_margin = 1e300;
};

inline void reference_assign(const std::vector<float>& x, size_t n, int d, KMeans& m, int k) {
  m.assign.assign(n, 0);
  m.objective = 0;
  for (size_t i = 0; i < n; ++i) {
    double best = -1e300, second = -1e300;
    for (int c = 0; c < k; ++c) {
      double dot = 0;
      for (int j = 0; j < d; ++j) dot += double(x[i * size_t(d) + size_t(j)]) * m.centroids[size_t(c) * size_t(d) + size_t(j)];
      if (dot > best) second = best, best = dot, m.assign[i] = c;
      else if (dot > second) second = dot;
    }
    m.objective += best;
    if (k > 1) m.min_margin = std::min(m.min_margin, best - second);
  }
}

inline KMeans reference_spherical_kmeans(const std::vector<float>& x, size_t n, int d, const std::vector<float>& init, int k,
                                         int iterations) {
  KMeans m;
  m.centroids = init;
  for (int it = 0; it < iterations; ++it) {
    reference_assign(x, n, d, m, k);
    std::vector<double> sum(size_t(k) * size_t(d), 0.0);
    std::vector<size_t> count(size_t(k), 0);
    for (size_t i = 0; i < n; ++i) {
      ++count[size_t(m.assign[i])];
      for (int j = 0; j < d; ++j) sum[size_t(m.assign[i]) * size_t(d) + size_t(j)] += x[i * size_t(d) + size_t(j)];
    }
    for (int c = 0; c < k; ++c) {
      if (count[size_t(c)] == 0) continue;
      double norm = 0;
      for (int j = 0; j < d; ++j) norm += sum[size_t(c) * size_t(d) + size_t(j)] * sum[size_t(c) * size_t(d) + size_t(j)];
      norm = std::sqrt(norm);
      for (int j = 0; j < d; ++j) m.centroids[size_t(c) * size_t(d) + size_t(j)] = float(sum[size_t(c) * size_t(d) + size_t(j)] / norm);
    }
  }
  reference_assign(x, n, d, m, k);
  return m;
}

}  // namespace slmify_reference
