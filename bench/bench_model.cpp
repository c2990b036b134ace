// Model inference speed on this machine: prefill and decode tokens/s of a SmolLM2-135M-shaped
// Llama (random weights, written and loaded through the real safetensors path), in fp32 and bf16,
// next to the matmul throughput libtorch reaches here in the same run (the ceiling for prefill)
// and the bytes of weights each decode step must stream; then, given the all-MiniLM-L6-v2
// directory, the sentence encoder's sentences/s on quick-start-like texts. Run by scripts/bench.
#include <torch/types.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/fsutil.h"
#include "model/backend.h"
#include "model/encoder.h"
#include "model/hf_config.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "bench_models.h"

using namespace slmify;
using namespace slmify::bench;

namespace {

double flops_of_matmul(int64_t rows) { return matmul_gflops(rows, 384, 1536, torch::kFloat32); }

// Sentences/s of the encoder (what `cluster.embedding: model` costs) on texts of 20-120 words,
// batches of 32, with the fp32 GEMM rate of the encoder's FFN shape measured just before.
void bench_encoder(const fs::path& minilm, double gemm_gflops) {
  std::vector<std::string> texts;
  std::mt19937 rng(3);
  const char* words[] = {"order", "refund", "the", "parcel", "route", "ticket", "priority", "JSON", "boots", "zipper"};
  for (int i = 0; i < 256; ++i) {
    std::string s = "Ticket " + std::to_string(1000 + i);
    for (unsigned k = 0, n = 20 + rng() % 100; k < n; ++k) s += std::string(" ") + words[rng() % 10];
    texts.push_back(s);
  }
  std::printf("baseline: libtorch matmul [256 x 384] x [384 x 1536] fp32 %.1f GFLOP/s\n", gemm_gflops);
  for (const char* dtype : {"fp32", "bf16"}) {
    auto e = encoder_load(minilm, {.device = "cpu", .dtype = dtype});
    encoder_embed(*e, {texts[0]}, 1);  // warm-up
    auto t = clk::now();
    encoder_embed(*e, texts, 32);
    double s = seconds(t);
    std::printf("encoder all-MiniLM-L6-v2 %s: %zu texts in %.2f s, %.0f sentences/s (batch 32)\n", dtype, texts.size(), s,
                double(texts.size()) / s);
  }
}

}  // namespace

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
  if (argc > 3) bench_encoder(argv[3], flops_of_matmul(256));
}
