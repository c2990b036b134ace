// libtorch backend queries; the only torch includes are here and in lib/train.
#include "model/backend.h"

#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/cuda.h>
#include <torch/version.h>
#include <torch/types.h>

#include <thread>

#include "core/error.h"

namespace slmify {

BackendInfo backend_info() {
  BackendInfo info;
  info.torch = true;
  info.torch_version = TORCH_VERSION;
  const auto& hooks = at::detail::getCUDAHooks();
  info.cuda_built = hooks.hasCUDART();
  if (info.cuda_built) {
    long v = hooks.versionCUDART();  // e.g. 13020
    info.cuda_runtime = std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
  }
  info.cuda_available = torch::cuda::is_available();
  info.cuda_devices = static_cast<int>(torch::cuda::device_count());
  info.cpu_threads = at::get_num_threads();
  info.cpu_bf16 = false;
#if defined(__x86_64__)
  __builtin_cpu_init();
  info.cpu_bf16 = __builtin_cpu_supports("avx512bf16") || __builtin_cpu_supports("amx-bf16");
#endif
  return info;
}

int backend_set_threads(int n) {
  if (n <= 0) n = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  at::set_num_threads(n);
  return at::get_num_threads();
}

std::vector<float> backend_matmul(const std::vector<float>& a, const std::vector<float>& b, int n,
                                  const std::string& device) {
  SLMIFY_ASSERT(a.size() == size_t(n) * n && b.size() == size_t(n) * n, "matrix sizes do not match n");
  torch::Device dev(device == "cuda" ? torch::kCUDA : torch::kCPU);
  if (dev.is_cuda() && !torch::cuda::is_available())
    throw_usage("--device cuda", "no CUDA device is available on this machine", "use --device cpu or auto");
  auto opts = torch::TensorOptions().dtype(torch::kFloat32);
  // from_blob does not copy; clone() owns the memory before it moves to the device.
  torch::Tensor ta = torch::from_blob(const_cast<float*>(a.data()), {n, n}, opts).clone().to(dev);  // [n, n]
  torch::Tensor tb = torch::from_blob(const_cast<float*>(b.data()), {n, n}, opts).clone().to(dev);  // [n, n]
  torch::Tensor tc = torch::matmul(ta, tb).to(torch::kCPU).contiguous();                            // [n, n]
  return std::vector<float>(tc.data_ptr<float>(), tc.data_ptr<float>() + tc.numel());
}

}  // namespace slmify
