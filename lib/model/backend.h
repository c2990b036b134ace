// What the libtorch backend of lib/model offers on this machine. This header never includes
// torch: other modules and the CLI use plain types only. Tested by tests/model/test_backend.cpp.
#pragma once

#include <string>
#include <vector>

namespace slmify {

struct BackendInfo {
  bool torch = false;          ///< built with libtorch at all
  std::string torch_version;   ///< e.g. "2.15.0"
  bool cuda_built = false;     ///< libtorch_cuda is linked (the CUDA code path exists)
  std::string cuda_runtime;    ///< CUDA runtime version libtorch was built with, e.g. "13.2"
  bool cuda_available = false; ///< a usable GPU is present now
  int cuda_devices = 0;
  int cpu_threads = 0;         ///< intra-op threads libtorch uses
  bool cpu_bf16 = false;       ///< the CPU has native bf16 (AVX512-BF16 or AMX) per oneDNN's check
};

BackendInfo backend_info();

/// Sets libtorch's intra-op thread count (0: one per core). Returns the count in effect.
int backend_set_threads(int n);

/// c = a x b for row-major [n,n] float matrices, computed by libtorch on `device` ("cpu" or "cuda").
/// A smoke test of the tensor path; the model code proper arrives with the model core.
std::vector<float> backend_matmul(const std::vector<float>& a, const std::vector<float>& b, int n,
                                  const std::string& device = "cpu");

}  // namespace slmify
