// Shared by bench_model and bench_train: libtorch's matmul throughput here (the baseline) and a
// SmolLM2-135M-shaped checkpoint with random weights, written through the real safetensors path.
#pragma once

#include <torch/types.h>

#include <chrono>
#include <cstring>
#include <random>

#include "core/fsutil.h"
#include "model/hf_config.h"
#include "model/safetensors.h"

namespace slmify::bench {
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

inline double seconds(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

// GFLOP/s of an [m,k]x[k,n] matmul in `dtype`, best of a few runs.
inline double matmul_gflops(int64_t m, int64_t k, int64_t n, torch::ScalarType dtype) {
  torch::NoGradGuard ng;
  auto a = torch::randn({m, k}).to(dtype), b = torch::randn({k, n}).to(dtype);
  torch::matmul(a, b);
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    auto t = clk::now();
    torch::matmul(a, b);
    best = std::min(best, seconds(t));
  }
  return 2.0 * double(m) * double(k) * double(n) / best / 1e9;
}

// SmolLM2-135M's shape (HuggingFaceTB/SmolLM2-135M config.json): random bf16 weights.
inline void make_model(const fs::path& dir) {
  nlohmann::json cfg = {{"architectures", {"LlamaForCausalLM"}}, {"model_type", "llama"}, {"vocab_size", 49152},
                        {"hidden_size", 576}, {"intermediate_size", 1536}, {"num_hidden_layers", 30},
                        {"num_attention_heads", 9}, {"num_key_value_heads", 3}, {"head_dim", 64},
                        {"max_position_embeddings", 8192}, {"rms_norm_eps", 1e-5}, {"rope_theta", 100000.0},
                        {"tie_word_embeddings", true}, {"bos_token_id", 0}, {"eos_token_id", 0}};
  fs::create_directories(dir);
  write_file_atomic(dir / "config.json", cfg.dump());
  ModelConfig c = model_config_parse(cfg, "config.json");
  std::mt19937 rng(1);
  std::normal_distribution<float> nd(0.0f, 0.02f);
  std::vector<std::vector<uint16_t>> data;
  std::vector<TensorData> tensors;
  for (const WeightSpec& s : model_weight_specs(c)) {
    int64_t n = 1;
    for (int64_t d : s.shape) n *= d;
    std::vector<uint16_t> v(static_cast<size_t>(n));
    for (uint16_t& x : v) {
      float f = s.name.find("norm") != std::string::npos ? 1.0f : nd(rng);
      uint32_t bits;
      std::memcpy(&bits, &f, 4);
      x = uint16_t(bits >> 16);
    }
    data.push_back(std::move(v));
    tensors.push_back({s.name, DType::bf16, s.shape, std::as_bytes(std::span(data.back()))});
  }
  safetensors_write(dir / "model.safetensors", tensors);
}

}  // namespace slmify::bench
