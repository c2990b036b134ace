// Small linear algebra for the embedding, private to lib/cluster (Eigen stays out of the stage's
// public header): a CSR sparse matrix with the two products the randomised SVD needs, seeded
// Gaussian matrices, and thin orthonormalisation. Tested by tests/cluster/test_parts.cpp.
#pragma once

// Dense products go to the BLAS that faiss links anyway (OpenBLAS: AVX-512 kernels, about 5x
// Eigen's portable SSE2 build), measured by bench/bench_cluster.
#ifndef EIGEN_USE_BLAS
#define EIGEN_USE_BLAS
#endif
#include <Eigen/Dense>
#include <cstdint>
#include <vector>

namespace slmify {

using Mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

/// Compressed sparse rows: row i holds idx/val[ptr[i] .. ptr[i+1]).
struct Csr {
  size_t rows = 0, cols = 0;
  std::vector<size_t> ptr;
  std::vector<int32_t> idx;
  std::vector<float> val;
};

Csr csr_transpose(const Csr& a);
/// a * m for a dense row-major m [a.cols x l]; rows in parallel (OpenMP).
Mat csr_times(const Csr& a, const Mat& m);
/// Template overload for mapped matrices.
Mat csr_times(const Csr& a, const Eigen::Map<const Mat>& m);
/// [rows x cols] of independent standard normal values, the same for the same seed everywhere
/// (splitmix64 and Box-Muller, not the standard library's distributions).
Mat gaussian_matrix(size_t rows, size_t cols, uint64_t seed);
/// An orthonormal basis of the columns of m (thin Householder QR): [m.rows x m.cols].
Mat orthonormalize(const Mat& m);

}  // namespace slmify
