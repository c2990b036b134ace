// The faiss k-means path against the brute-force reference (tests/reference/kmeans_reference.h)
// from the same initial centroids, best-of-restarts, the silhouette against scikit-learn's, and
// the centroid index file (write, read back, damage).
#include <catch2/catch.hpp>
#include <random>

#include "../core/test_util.h"
#include "../reference/kmeans_reference.h"
#include "cluster/kmeans.h"
#include "core/error.h"
#include "mixture.h"

using namespace slmify;
namespace fs = std::filesystem;

namespace {

// n unit vectors around `k` random directions with noise `spread`; labels in `truth`.
std::vector<float> blobs(size_t n, int d, int k, double spread, uint64_t seed, std::vector<int>& truth) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> g(0, 1);
  std::vector<double> centres(size_t(k) * size_t(d));
  for (double& c : centres) c = g(rng);
  std::vector<float> x(n * size_t(d));
  truth.assign(n, 0);
  for (size_t i = 0; i < n; ++i) {
    int c = int(i % size_t(k));
    truth[i] = c;
    double norm = 0;
    for (int j = 0; j < d; ++j) {
      double v = centres[size_t(c) * size_t(d) + size_t(j)] + spread * g(rng);
      x[i * size_t(d) + size_t(j)] = float(v);
      norm += v * v;
    }
    for (int j = 0; j < d; ++j) x[i * size_t(d) + size_t(j)] = float(x[i * size_t(d) + size_t(j)] / std::sqrt(norm));
  }
  return x;
}

}  // namespace

TEST_CASE("faiss spherical k-means equals the brute-force reference from the same start", "[cluster][kmeans]") {
  for (uint64_t seed : {1u, 2u, 3u}) {
    std::vector<int> truth;
    const size_t n = 600;
    const int d = 16, k = 5;
    std::vector<float> x = blobs(n, d, k, 0.9, seed, truth);  // overlapping: the iterations matter
    std::vector<float> init(x.begin() + 7 * d, x.begin() + 7 * d + k * d);  // points 7..11 as the start
    KMeansParams p{k, 1, 12, seed};
    KMeansResult got = kmeans_fit(x.data(), n, d, p, init.data());
    slmify_reference::KMeans want = slmify_reference::reference_spherical_kmeans(x, n, d, init, k, 12);
    INFO("seed " << seed << ", smallest best-vs-second margin in the reference " << want.min_margin);
    // Exact equality is only meaningful without near-ties; the seeded data is checked for them
    // (deterministically, in the fp64 reference), so that fp32 rounding cannot flip a point.
    REQUIRE(want.min_margin > 1e-4);
    std::vector<int> a(got.assign.begin(), got.assign.end());
    CHECK(a == want.assign);
    CHECK(got.objective == Approx(want.objective).epsilon(1e-4));
    for (size_t i = 0; i < got.centroids.size(); ++i) REQUIRE(got.centroids[i] == Approx(want.centroids[i]).margin(1e-4));
  }
}

TEST_CASE("k-means recovers separated blobs and restarts never lower the objective", "[cluster][kmeans]") {
  std::vector<int> truth;
  const size_t n = 900;
  const int d = 24;
  std::vector<float> x = blobs(n, d, 6, 0.25, 11, truth);
  KMeansResult one = kmeans_fit(x.data(), n, d, {6, 1, 30, 5});
  KMeansResult many = kmeans_fit(x.data(), n, d, {6, 6, 30, 5});
  std::vector<int> a(many.assign.begin(), many.assign.end());
  CHECK(slmify_test::ari(a, truth) > 0.99);
  CHECK(many.objective >= one.objective - 1e-3);
  // Every point is with its most similar centroid (the brute-force assignment).
  slmify_reference::KMeans ref;
  ref.centroids = many.centroids;
  slmify_reference::reference_assign(x, n, d, ref, 6);
  CHECK(ref.assign == a);
}

TEST_CASE("silhouette agrees with scikit-learn's", "[cluster][kmeans][slow]") {
  std::vector<int> truth;
  const size_t n = 300;
  const int d = 8;
  std::vector<float> x = blobs(n, d, 4, 0.5, 3, truth);
  std::vector<int32_t> labels(truth.begin(), truth.end());
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  double ours = silhouette(x.data(), d, all, labels);
  slmify_test::TempDir tmp;
  std::string py = "import numpy as np\nfrom sklearn.metrics import silhouette_score\nx = np.array([";
  for (size_t i = 0; i < n * size_t(d); ++i) py += std::to_string(x[i]) + ",";
  py += "]).reshape(" + std::to_string(n) + "," + std::to_string(d) + ")\nl = [";
  for (int l : truth) py += std::to_string(l) + ",";
  py += "]\nprint(silhouette_score(x, l, metric='cosine'))\n";
  slmify_test::write_bytes(tmp / "s.py", py);
  auto r = slmify_test::run_command(slmify_test::shell_quote(slmify_test::python_exe()) + " " + slmify_test::shell_quote((tmp / "s.py").string()));
  REQUIRE(r.status == 0);
  CHECK(ours == Approx(std::stod(r.out)).margin(1e-4));
}

TEST_CASE("k: auto finds the number of blobs and reports its curve", "[cluster][kmeans]") {
  std::vector<int> truth;
  const size_t n = 300;
  const int d = 8;
  std::vector<float> x = blobs(n, d, 4, 0.5, 3, truth);
  std::vector<int32_t> labels(truth.begin(), truth.end()), shuffled(labels);
  std::vector<size_t> all(n);
  for (size_t i = 0; i < n; ++i) all[i] = i;
  for (size_t i = 0; i < n; ++i) shuffled[i] = int32_t(i / 75);  // blocks, independent of the blobs (i % 4)
  CHECK(silhouette(x.data(), d, all, labels) > 0.3);          // the true partition scores well
  CHECK(std::abs(silhouette(x.data(), d, all, shuffled)) < 0.1);  // a scrambled one near 0
  KChoice c = kmeans_choose_k(x.data(), n, d, 2, 9, {2, 3, 30, 1});
  CHECK(c.k == 4);
  REQUIRE(c.curve.size() == 8);
  CHECK(c.curve.front().k == 2);
  CHECK(c.curve.back().k == 9);
}

TEST_CASE("the centroid index is a faiss index that reads back and a damaged one is refused", "[cluster][kmeans]") {
  slmify_test::TempDir tmp;
  std::vector<float> c = {1, 0, 0, 0, 1, 0};
  std::string sha = centroid_index_write(tmp / "c.faiss", c, 2, 3, 0600);
  CHECK(sha == slmify_test::sha256sum_cmd(tmp / "c.faiss"));
  int k = 0, d = 0;
  CHECK(centroid_index_read(tmp / "c.faiss", k, d) == c);
  CHECK(k == 2);
  CHECK(d == 3);
  slmify_test::write_bytes(tmp / "bad.faiss", "not an index");
  Error e = slmify_test::expect_error([&] { centroid_index_read(tmp / "bad.faiss", k, d); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(e.problems()[0].where, Catch::Contains("bad.faiss"));
}
