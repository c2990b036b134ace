// faiss k-means, silhouette and the centroid index; see kmeans.h.
// Tested by tests/cluster/test_kmeans.cpp against tests/reference/kmeans_reference.h.
#include "cluster/kmeans.h"

#include <faiss/Clustering.h>
#include <faiss/IndexFlat.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>

#include <Eigen/Dense>
#include <algorithm>
#include <memory>
#include <numeric>

#include "core/error.h"
#include "core/fsutil.h"

namespace slmify {

namespace {

using RowMat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// The first `m` indices of a seeded shuffle of 0..n-1 (Fisher-Yates with splitmix64), sorted.
std::vector<size_t> seeded_sample(size_t n, size_t m, uint64_t seed) {
  std::vector<size_t> idx(n);
  std::iota(idx.begin(), idx.end(), 0);
  uint64_t s = seed ^ 0x51a7c0de;
  for (size_t i = 0; i < std::min(m, n); ++i) {
    s += 0x9e3779b97f4a7c15ull;
    uint64_t z = s;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    std::swap(idx[i], idx[i + static_cast<size_t>(z % (n - i))]);
  }
  idx.resize(std::min(m, n));
  std::sort(idx.begin(), idx.end());
  return idx;
}

}  // namespace

namespace {

uint64_t next_random(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// k-means++ seeding (Arthur and Vassilvitskii 2007) with cosine distance, on a seeded sample of
// at most 256 points per centroid: far-apart starts, so that a large task is not split while two
// small ones share a centroid (faiss 1.7 starts from random points).
std::vector<float> kmeanspp_init(const float* x, size_t n, int d, int k, uint64_t seed) {
  std::vector<size_t> pool = seeded_sample(n, static_cast<size_t>(k) * 256, seed);
  uint64_t state = seed * 0x2545f4914f6cdd1dull + 17;
  std::vector<float> c;
  std::vector<double> dist(pool.size(), 1e300);
  size_t first = pool[next_random(state) % pool.size()];
  c.insert(c.end(), x + first * static_cast<size_t>(d), x + (first + 1) * static_cast<size_t>(d));
  for (int j = 1; j < k; ++j) {
    const float* last = c.data() + static_cast<size_t>(j - 1) * static_cast<size_t>(d);
    double total = 0;
    for (size_t i = 0; i < pool.size(); ++i) {
      const float* p = x + pool[i] * static_cast<size_t>(d);
      double dot = 0;
      for (int t = 0; t < d; ++t) dot += double(p[t]) * last[t];
      double dd = std::max(0.0, 1.0 - dot);
      dist[i] = std::min(dist[i], dd * dd);
      total += dist[i];
    }
    double r = total > 0 ? static_cast<double>(next_random(state) >> 11) * 0x1.0p-53 * total : 0;
    size_t pick = pool[next_random(state) % pool.size()];
    for (size_t i = 0; i < pool.size() && total > 0; ++i) {
      r -= dist[i];
      if (r <= 0) {
        pick = pool[i];
        break;
      }
    }
    c.insert(c.end(), x + pick * static_cast<size_t>(d), x + (pick + 1) * static_cast<size_t>(d));
  }
  return c;
}

KMeansResult kmeans_once(const float* x, size_t n, int d, const KMeansParams& p, const float* init) {
  faiss::ClusteringParameters cp;
  cp.niter = p.iterations;
  cp.nredo = 1;
  cp.spherical = true;
  cp.seed = static_cast<int>(p.seed & 0x7fffffff);
  cp.min_points_per_centroid = 1;  // small clusters are legitimate here: no warning
  cp.verbose = false;
  faiss::Clustering clus(d, static_cast<size_t>(p.k), cp);
  clus.centroids.assign(init, init + static_cast<size_t>(p.k) * static_cast<size_t>(d));
  faiss::IndexFlatIP index(d);
  clus.train(static_cast<faiss::Index::idx_t>(n), x, index);
  KMeansResult r;
  r.k = p.k;
  r.d = d;
  r.centroids = clus.centroids;
  kmeans_assign(r.centroids.data(), r.k, d, x, n, r.assign, r.sim);
  for (float s : r.sim) r.objective += s;
  return r;
}

}  // namespace

KMeansResult kmeans_fit(const float* x, size_t n, int d, const KMeansParams& p, const float* init) {
  SLMIFY_ASSERT(p.k >= 1 && static_cast<size_t>(p.k) <= n, "k-means needs 1 <= k <= n");
  if (init) return kmeans_once(x, n, d, p, init);
  // `restarts` runs of faiss's Lloyd iterations, each from its own k-means++ start; the best
  // objective is kept.
  KMeansResult best;
  for (int r = 0; r < std::max(1, p.restarts); ++r) {
    KMeansParams q = p;
    q.seed = p.seed * 1000003ull + static_cast<uint64_t>(r);
    std::vector<float> start = kmeanspp_init(x, n, d, p.k, q.seed);
    KMeansResult got = kmeans_once(x, n, d, q, start.data());
    if (r == 0 || got.objective > best.objective) best = std::move(got);
  }
  return best;
}

void kmeans_assign(const float* centroids, int k, int d, const float* x, size_t n, std::vector<int32_t>& assign,
                   std::vector<float>& sim) {
  faiss::IndexFlatIP index(d);
  index.add(k, centroids);
  std::vector<faiss::Index::idx_t> labels(n);
  sim.assign(n, 0.0f);
  index.search(static_cast<faiss::Index::idx_t>(n), x, 1, sim.data(), labels.data());
  assign.resize(n);
  for (size_t i = 0; i < n; ++i) assign[i] = static_cast<int32_t>(labels[i] < 0 ? 0 : labels[i]);
}

double silhouette(const float* x, int d, const std::vector<size_t>& sample, const std::vector<int32_t>& labels) {
  const size_t m = sample.size();
  if (m < 2) return 0;
  RowMat xs(static_cast<Eigen::Index>(m), d);
  for (size_t i = 0; i < m; ++i)
    xs.row(static_cast<Eigen::Index>(i)) = Eigen::Map<const Eigen::RowVectorXf>(x + sample[i] * static_cast<size_t>(d), d);
  RowMat gram = xs * xs.transpose();
  int32_t k = 0;
  for (size_t i : sample) k = std::max(k, labels[i] + 1);
  std::vector<double> sum(static_cast<size_t>(k));
  std::vector<size_t> count(static_cast<size_t>(k), 0);
  for (size_t i : sample) ++count[static_cast<size_t>(labels[i])];
  double total = 0;
  for (size_t i = 0; i < m; ++i) {
    std::fill(sum.begin(), sum.end(), 0.0);
    for (size_t j = 0; j < m; ++j)
      if (j != i) sum[static_cast<size_t>(labels[sample[j]])] += 1.0 - gram(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(j));
    size_t own = static_cast<size_t>(labels[sample[i]]);
    if (count[own] < 2) continue;  // a singleton scores 0
    double a = sum[own] / static_cast<double>(count[own] - 1), b = -1;
    for (size_t c = 0; c < sum.size(); ++c)
      if (c != own && count[c] > 0) {
        double mean = sum[c] / static_cast<double>(count[c]);
        if (b < 0 || mean < b) b = mean;
      }
    if (b < 0) continue;  // one cluster only
    double den = std::max(a, b);
    total += den > 0 ? (b - a) / den : 0;
  }
  return total / static_cast<double>(m);
}

KChoice kmeans_choose_k(const float* x, size_t n, int d, int k_min, int k_max, const KMeansParams& p) {
  KChoice choice;
  if (n < 3) {
    choice.k = 1;
    return choice;
  }
  int lo = std::max(2, k_min), hi = std::min(k_max, static_cast<int>(n) - 1);
  lo = std::min(lo, hi);
  // The search runs on a seeded sample of at most kSearchSample calls (faiss trains on at most 256
  // per centroid anyway); the silhouette is measured on its first kSilhouetteSample points.
  std::vector<size_t> pick = seeded_sample(n, kSearchSample, p.seed);
  std::vector<float> xs(pick.size() * static_cast<size_t>(d));
  for (size_t i = 0; i < pick.size(); ++i) std::copy_n(x + pick[i] * static_cast<size_t>(d), d, xs.begin() + static_cast<long>(i * static_cast<size_t>(d)));
  std::vector<size_t> sample = seeded_sample(pick.size(), kSilhouetteSample, p.seed + 1);
  choice.sample = sample.size();
  double best = -2;
  for (int k = lo; k <= hi; ++k) {
    KMeansParams q = p;
    q.k = k;
    q.restarts = std::min(p.restarts, 2);  // the curve needs the shape, the final fit the full restarts
    KMeansResult r = kmeans_fit(xs.data(), pick.size(), d, q);
    double s = silhouette(xs.data(), d, sample, r.assign);
    choice.curve.push_back({k, s, r.objective});
    if (s > best + 1e-9) best = s, choice.k = k;
  }
  return choice;
}

std::string centroid_index_write(const std::filesystem::path& path, const std::vector<float>& centroids, int k, int d,
                                 unsigned mode) {
  faiss::IndexFlatIP index(d);
  index.add(k, centroids.data());
  faiss::VectorIOWriter w;
  faiss::write_index(&index, &w);
  FileSink out(path, static_cast<mode_t>(mode));
  out.write(w.data.data(), w.data.size());
  return out.finish();
}

std::vector<float> centroid_index_read(const std::filesystem::path& path, int& k, int& d) {
  std::string bytes = read_file(path);
  faiss::VectorIOReader r;
  r.data.assign(bytes.begin(), bytes.end());
  std::unique_ptr<faiss::Index> index;
  try {
    index.reset(faiss::read_index(&r));
  } catch (const faiss::FaissException& e) {
    throw_bad_data(path.string(), std::string("is not a readable faiss index: ") + e.what(),
                   "run `slmify cluster` again to write the cluster directory anew");
  }
  auto* flat = dynamic_cast<faiss::IndexFlat*>(index.get());
  if (!flat || flat->metric_type != faiss::METRIC_INNER_PRODUCT)
    throw_bad_data(path.string(), "holds another kind of faiss index than the flat inner-product index slmify writes",
                   "run `slmify cluster` again to write the cluster directory anew");
  k = static_cast<int>(flat->ntotal);
  d = static_cast<int>(flat->d);
  return std::vector<float>(flat->get_xb(), flat->get_xb() + static_cast<size_t>(k) * static_cast<size_t>(d));
}

}  // namespace slmify
