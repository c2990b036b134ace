// CSR products, seeded Gaussian matrices and thin QR for the randomised SVD; see linalg.h.
// Tested by tests/cluster/test_parts.cpp (against Eigen's dense products).
#include "cluster/linalg.h"

#include <cmath>

namespace slmify {

namespace {

template <class M>
Mat times(const Csr& a, const M& m) {
  const Eigen::Index l = m.cols();
  Mat out = Mat::Zero(static_cast<Eigen::Index>(a.rows), l);
  const long rows = static_cast<long>(a.rows);
#pragma omp parallel for schedule(dynamic, 256)
  for (long i = 0; i < rows; ++i) {
    float* dst = out.data() + i * l;
    for (size_t e = a.ptr[static_cast<size_t>(i)]; e < a.ptr[static_cast<size_t>(i) + 1]; ++e) {
      const float v = a.val[e];
      const float* src = m.data() + static_cast<Eigen::Index>(a.idx[e]) * l;
      for (Eigen::Index j = 0; j < l; ++j) dst[j] += v * src[j];
    }
  }
  return out;
}

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

Csr csr_transpose(const Csr& a) {
  Csr t;
  t.rows = a.cols;
  t.cols = a.rows;
  t.ptr.assign(a.cols + 1, 0);
  for (int32_t c : a.idx) ++t.ptr[static_cast<size_t>(c) + 1];
  for (size_t c = 0; c < a.cols; ++c) t.ptr[c + 1] += t.ptr[c];
  t.idx.resize(a.idx.size());
  t.val.resize(a.val.size());
  std::vector<size_t> next(t.ptr.begin(), t.ptr.end() - 1);
  for (size_t r = 0; r < a.rows; ++r)
    for (size_t e = a.ptr[r]; e < a.ptr[r + 1]; ++e) {
      size_t at = next[static_cast<size_t>(a.idx[e])]++;
      t.idx[at] = static_cast<int32_t>(r);
      t.val[at] = a.val[e];
    }
  return t;
}

Mat csr_times(const Csr& a, const Mat& m) { return times(a, m); }
Mat csr_times(const Csr& a, const Eigen::Map<const Mat>& m) { return times(a, m); }

Mat gaussian_matrix(size_t rows, size_t cols, uint64_t seed) {
  Mat m(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(cols));
  uint64_t state = seed * 0x9e3779b97f4a7c15ull + 0x5eed;
  float* p = m.data();
  const size_t n = rows * cols;
  for (size_t i = 0; i < n; i += 2) {
    // Box-Muller: two uniforms in (0, 1] give two independent normals.
    double u1 = (static_cast<double>(splitmix64(state) >> 11) + 1.0) * 0x1.0p-53;
    double u2 = static_cast<double>(splitmix64(state) >> 11) * 0x1.0p-53;
    double r = std::sqrt(-2.0 * std::log(u1)), t = 6.283185307179586 * u2;
    p[i] = static_cast<float>(r * std::cos(t));
    if (i + 1 < n) p[i + 1] = static_cast<float>(r * std::sin(t));
  }
  return m;
}

namespace {

Mat householder_q(const Mat& m) {
  Eigen::MatrixXf c = m;
  Eigen::HouseholderQR<Eigen::MatrixXf> qr(c);
  Eigen::MatrixXf q = qr.householderQ() * Eigen::MatrixXf::Identity(c.rows(), std::min(c.rows(), c.cols()));
  Mat out = Mat::Zero(c.rows(), c.cols());
  out.leftCols(q.cols()) = q;
  return out;
}

// One Cholesky-QR step: M R^-1 with R^T R = M^T M; false when M^T M is not positive definite.
bool cholesky_qr_step(Mat& m) {
  Eigen::MatrixXd g = (m.transpose() * m).cast<double>();
  Eigen::LLT<Eigen::MatrixXd> llt(g);
  if (llt.info() != Eigen::Success) return false;
  Eigen::MatrixXd u = llt.matrixU();
  if (u.diagonal().minCoeff() <= 1e-6 * u.diagonal().maxCoeff()) return false;
  Eigen::MatrixXf rinv = u.triangularView<Eigen::Upper>().solve(Eigen::MatrixXd::Identity(u.rows(), u.cols())).cast<float>();
  m = m * rinv;
  return true;
}

}  // namespace

Mat orthonormalize(const Mat& m) {
  // CholeskyQR2 (two steps, Fukaya et al. 2014): matrix products only, so it runs at GEMM speed;
  // Householder QR when the columns are (nearly) dependent.
  if (m.rows() >= m.cols()) {
    Mat q = m;
    if (cholesky_qr_step(q) && cholesky_qr_step(q)) return q;
  }
  return householder_q(m);
}

}  // namespace slmify
