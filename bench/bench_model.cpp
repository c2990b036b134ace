// Model inference speed on this machine: prefill and decode tokens/s of a SmolLM2-135M-shaped
// Llama (random weights, written and loaded through the real safetensors path), in fp32 and bf16,
// next to the matmul throughput libtorch reaches here in the same run (the ceiling for prefill)
// and the bytes of weights each decode step must stream. Run by scripts/bench.
#include <torch/types.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/fsutil.h"
#include "model/backend.h"
#include "model/hf_config.h"
#include "model/model.h"
#include "model/safetensors.h"

using namespace slmify;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

static double seconds(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

// GFLOP/s of an [m,k]x[k,n] matmul in `dtype`, best of a few runs.
static double matmul_gflops(int64_t m, int64_t k, int64_t n, torch::ScalarType dtype) {
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
static void make_model(const fs::path& dir) {
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

int main(int argc, char** argv) {
  const int64_t prompt_len = argc > 1 ? std::stoll(argv[1]) : 256;
  const int64_t new_tokens = argc > 2 ? std::stoll(argv[2]) : 64;
  int threads = backend_set_threads(0);
  fs::path dir = fs::temp_directory_path() / ("slmify-bench-model-" + random_suffix());
  auto t = clk::now();
  make_model(dir);
  std::printf("SmolLM2-135M-shaped model written in %.1f s; %d CPU threads\n", seconds(t), threads);
  std::printf("baseline: libtorch matmul [%lld x 576] x [576 x 1536]: fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s\n",
              (long long)prompt_len, matmul_gflops(prompt_len, 576, 1536, torch::kFloat32),
              matmul_gflops(prompt_len, 576, 1536, torch::kBFloat16));
  std::mt19937 rng(2);
  TokenIds prompt(static_cast<size_t>(prompt_len));
  for (int32_t& x : prompt) x = int32_t(rng() % 49000) + 1;
  for (const char* dtype : {"fp32", "bf16"}) {
    ModelOptions o;
    o.device = "cpu";
    o.dtype = dtype;
    o.tokenizer = false;
    t = clk::now();
    auto m = model_load(dir, o);
    double load = seconds(t);
    const double params = double(model_param_count(m->config()));
    // Matmul work per token: every weight once, but the tied embedding only as the LM head, which
    // prefill runs for the last position alone.
    const double flops_prefill = 2 * (params - double(m->config().vocab_size * m->config().hidden_size));
    GenerateOptions g;
    g.max_new_tokens = new_tokens;
    g.stop_tokens = {};
    model_generate(*m, TokenIds(prompt.begin(), prompt.begin() + 8), g);  // warm-up
    GenerateResult r = model_generate(*m, prompt, g);
    const double pre_tps = double(prompt_len) / r.prefill_seconds;
    const double dec_tps = double(r.tokens.size()) / r.decode_seconds;
    const double bytes = params * (std::string(dtype) == "bf16" ? 2 : 4);
    std::printf("%s: load %.2f s | prefill %lld tokens: %.0f tokens/s (%.1f GFLOP/s of matmul) | "
                "decode %zu tokens: %.1f tokens/s (%.1f GB/s of weights streamed)\n",
                dtype, load, (long long)prompt_len, pre_tps, flops_prefill * pre_tps / 1e9, r.tokens.size(), dec_tps, bytes * dec_tps / 1e9);
  }
  fs::remove_all(dir);
}
