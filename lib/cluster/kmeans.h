// Spherical k-means with faiss (several seeded restarts, the best objective kept), the choice of
// k by silhouette for `k: auto`, nearest-centroid assignment, and the centroid index file
// (faiss write_index / read_index). Points are L2-normalised rows; similarity is the inner
// product, distance 1 - similarity. faiss stays inside kmeans.cpp.
// Tested by tests/cluster/test_kmeans.cpp against tests/reference/kmeans_reference.h.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace slmify {

struct KMeansParams {
  int k = 2;
  int restarts = 5;     ///< runs from different k-means++ starts
  int iterations = 50;  ///< faiss niter, per restart
  uint64_t seed = 0;
};

struct KMeansResult {
  int k = 0, d = 0;
  std::vector<float> centroids;  ///< [k x d], unit norm
  std::vector<int32_t> assign;   ///< nearest centroid of each point
  std::vector<float> sim;        ///< cosine similarity to it
  double objective = 0;          ///< sum of sim (higher is better)
};

/// Clusters n points of dimension d (row-major) into p.k clusters; needs 1 <= p.k <= n.
/// p.restarts runs, each from a k-means++ start (cosine distance, seeded), the best objective
/// kept; with `init` ([k x d]) one run from those centroids (tests compare it with the
/// reference). faiss trains on at most 256 points per centroid, sampled with the seed.
KMeansResult kmeans_fit(const float* x, size_t n, int d, const KMeansParams& p, const float* init = nullptr);

/// The nearest of k centroids (largest inner product) of each of n points.
void kmeans_assign(const float* centroids, int k, int d, const float* x, size_t n, std::vector<int32_t>& assign,
                   std::vector<float>& sim);

/// Mean silhouette (Rousseeuw 1987) with cosine distance over the points `sample`, under `labels`
/// (one per point of x). A point alone in its cluster scores 0.
double silhouette(const float* x, int d, const std::vector<size_t>& sample, const std::vector<int32_t>& labels);

struct KCurvePoint {
  int k = 0;
  double silhouette = 0;
  double objective = 0;
};
struct KChoice {
  int k = 0;
  std::vector<KCurvePoint> curve;
  size_t sample = 0;  ///< points the silhouette was measured on
};
/// Silhouette sample size for k: auto, and the calls the search clusters.
constexpr size_t kSilhouetteSample = 2000;
constexpr size_t kSearchSample = 20000;
/// k: auto. Runs k-means on a seeded sample of at most kSearchSample points for every k in
/// [k_min, k_max] (clamped to [2, n - 1]) and measures the silhouette on kSilhouetteSample of them; the highest wins, the
/// smaller k on a tie. With fewer than 3 points, k = 1.
KChoice kmeans_choose_k(const float* x, size_t n, int d, int k_min, int k_max, const KMeansParams& p);

/// Writes the centroids as a faiss IndexFlatIP (write_index format) through a durable file;
/// returns the file's sha256.
std::string centroid_index_write(const std::filesystem::path& path, const std::vector<float>& centroids, int k, int d,
                                 unsigned mode);
/// Reads an index written by centroid_index_write; a bad file is a bad-data Error naming it.
std::vector<float> centroid_index_read(const std::filesystem::path& path, int& k, int& d);

}  // namespace slmify
