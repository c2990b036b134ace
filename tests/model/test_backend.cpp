// The libtorch smoke path (lib/model/backend.h, lib/train/train.h): matmul against a naive triple
// loop, autograd against the analytic gradient, and what backend_info() reports. Passes on a
// machine with or without a GPU.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "core/error.h"
#include "model/backend.h"
#include "train/train.h"

using namespace slmify;

#ifdef SLMIFY_HAVE_TORCH

namespace {

std::vector<float> random_matrix(int n, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> m(size_t(n) * n);
  for (float& x : m) x = u(rng);
  return m;
}

// Reference: c[i][j] = sum_k a[i][k] * b[k][j], accumulated in double.
std::vector<float> naive_matmul(const std::vector<float>& a, const std::vector<float>& b, int n) {
  std::vector<float> c(size_t(n) * n);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int k = 0; k < n; ++k) s += double(a[size_t(i) * n + k]) * double(b[size_t(k) * n + j]);
      c[size_t(i) * n + j] = float(s);
    }
  return c;
}

void check_close(const std::vector<float>& got, const std::vector<float>& want, float tol) {
  REQUIRE(got.size() == want.size());
  size_t bad = 0;
  for (size_t i = 0; i < got.size(); ++i)
    if (!(std::fabs(got[i] - want[i]) <= tol)) {
      if (bad++ < 5) UNSCOPED_INFO("element " << i << ": " << got[i] << " vs " << want[i]);
    }
  CHECK(bad == 0);
}

}  // namespace

TEST_CASE("backend_matmul on the CPU equals a naive triple loop", "[torch]") {
  std::mt19937 rng(1234);
  const int n = 17;
  std::vector<float> a = random_matrix(n, rng), b = random_matrix(n, rng);
  std::vector<float> c = backend_matmul(a, b, n, "cpu");
  check_close(c, naive_matmul(a, b, n), 1e-4f);

  // Not symmetric in its arguments: a x b differs from b x a.
  std::vector<float> ba = backend_matmul(b, a, n, "cpu");
  float diff = 0;
  for (size_t i = 0; i < c.size(); ++i) diff = std::max(diff, std::fabs(c[i] - ba[i]));
  CHECK(diff > 1e-2f);
}

TEST_CASE("backend_matmul with the identity returns the matrix", "[torch]") {
  std::mt19937 rng(7);
  const int n = 5;
  std::vector<float> a = random_matrix(n, rng), id(size_t(n) * n, 0.0f);
  for (int i = 0; i < n; ++i) id[size_t(i) * n + i] = 1.0f;
  check_close(backend_matmul(a, id, n), a, 0.0f);
  check_close(backend_matmul(id, a, n), a, 0.0f);
}

TEST_CASE("train_autograd_smoke gives the analytic gradient 2*(w.x)*x", "[torch]") {
  std::mt19937 rng(99);
  std::normal_distribution<double> g(0.0, 1.0);
  for (size_t n : {size_t(1), size_t(3), size_t(64)}) {
    std::vector<double> w(n), x(n);
    for (size_t i = 0; i < n; ++i) w[i] = g(rng), x[i] = g(rng);
    double dot = 0;
    for (size_t i = 0; i < n; ++i) dot += w[i] * x[i];
    std::vector<double> grad = train_autograd_smoke(w, x);
    REQUIRE(grad.size() == n);
    for (size_t i = 0; i < n; ++i) {
      INFO("n " << n << " i " << i);
      CHECK(grad[i] == Approx(2.0 * dot * x[i]).epsilon(1e-12).margin(1e-12));
    }
  }
  // A hand-made case: w = (1, 2), x = (3, 4): w.x = 11, gradient (66, 88).
  std::vector<double> grad = train_autograd_smoke({1.0, 2.0}, {3.0, 4.0});
  REQUIRE(grad.size() == 2);
  CHECK(grad[0] == Approx(66.0));
  CHECK(grad[1] == Approx(88.0));
}

TEST_CASE("backend_info reports libtorch 2.x, with the CUDA path built exactly when the wheel is a CUDA build", "[torch]") {
  BackendInfo info = backend_info();
  CHECK(info.torch);
  CHECK_THAT(info.torch_version, Catch::StartsWith("2."));
  // SLMIFY_TORCH_CUDA_BUILD is what the wheel's Python side says (torch.version.cuda), at configure time.
  CHECK(info.cuda_built == bool(SLMIFY_TORCH_CUDA_BUILD));
  if (info.cuda_built) CHECK_FALSE(info.cuda_runtime.empty());
  CHECK(info.cpu_threads >= 1);
  if (info.cuda_available) {
    CHECK(info.cuda_devices > 0);
  } else {
    CHECK(info.cuda_devices == 0);
  }
}

TEST_CASE("backend_matmul on CUDA matches the CPU when a GPU is present", "[torch]") {
  BackendInfo info = backend_info();
  std::mt19937 rng(4321);
  const int n = 17;
  std::vector<float> a = random_matrix(n, rng), b = random_matrix(n, rng);
  if (!info.cuda_available) {
    // Without a GPU, asking for one is a usage error, not a crash.
    try {
      backend_matmul(a, b, n, "cuda");
      FAIL("backend_matmul on cuda without a GPU returned");
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::usage);
    }
    return;
  }
  std::vector<float> cpu = backend_matmul(a, b, n, "cpu");
  std::vector<float> gpu = backend_matmul(a, b, n, "cuda");
  // TF32 may be used on the GPU; 17 terms of products in [-1, 1] keep the error well below 1e-2.
  check_close(gpu, cpu, 1e-2f);
  check_close(gpu, naive_matmul(a, b, n), 1e-2f);
}

TEST_CASE("backend_set_threads sets the intra-op thread count", "[torch]") {
  int before = backend_info().cpu_threads;
  CHECK(backend_set_threads(2) == 2);
  CHECK(backend_info().cpu_threads == 2);
  CHECK(backend_set_threads(1) == 1);
  CHECK(backend_set_threads(0) >= 1);  // 0: one per core
  backend_set_threads(before);
}

#endif  // SLMIFY_HAVE_TORCH

// Compiled with and without libtorch (one test name for both builds, as ctest registers tests by
// reading this file, not the preprocessed one).
TEST_CASE("backend_info says whether libtorch is built in", "[model]") {
  BackendInfo info = backend_info();
#ifdef SLMIFY_HAVE_TORCH
  CHECK(info.torch);
#else
  CHECK_FALSE(info.torch);
  CHECK_FALSE(info.cuda_available);
  try {
    backend_matmul({1.0f}, {1.0f}, 1);
    FAIL("backend_matmul without libtorch returned");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::unavailable);
  }
#endif
}
