// LoRA training speed on this machine: tokens/s and achieved matmul FLOP/s of slmify's trainer on
// a SmolLM2-135M-shaped model (random weights, sequences of 256 tokens), as a share of the bf16
// and fp32 matmul peak libtorch reaches here in the same run, and against HF PEFT + transformers
// training the same shape in the same run (bench/peft_train_bench.py). Runs unchanged on CUDA.
// FLOPs counted: frozen base forward + input gradient (4 per weight per token), LoRA forward +
// both gradients (6 per weight per token), attention score and value matmuls as computed (full
// T x T, forward + backward = 3x forward), the LM head at the target positions only (4 per weight).
#include <torch/cuda.h>
#include <torch/types.h>

#include <cstdio>

#include "bench_models.h"
#include "core/log.h"
#include "model/backend.h"
#include "model/model.h"
#include "train/trainer.h"

using namespace slmify;
using namespace slmify::bench;

int main(int argc, char** argv) {
  const int64_t seq = argc > 1 ? std::stoll(argv[1]) : 256;
  const int64_t steps = argc > 2 ? std::stoll(argv[2]) : 6;
  const int64_t batch = argc > 3 ? std::stoll(argv[3]) : 4;
  const std::string device = argc > 4 && std::string(argv[4]).size() ? argv[4] : (torch::cuda::is_available() ? "cuda" : "cpu");
  const std::string python = argc > 5 ? argv[5] : "";
  log_set_level(LogLevel::warn);
  int threads = backend_set_threads(0);
  fs::path dir = fs::temp_directory_path() / ("slmify-bench-train-" + random_suffix());
  make_model(dir);
  const bool cuda = device == "cuda";
  auto peak = [&](torch::ScalarType dt) {
    if (!cuda) return matmul_gflops(batch * seq, 576, 1536, dt);
    torch::NoGradGuard ng;
    auto o = torch::TensorOptions().dtype(dt).device(torch::kCUDA);
    auto a = torch::randn({8192, 8192}, o), b = torch::randn({8192, 8192}, o);
    torch::matmul(a, b);
    torch::cuda::synchronize();
    auto t = clk::now();
    for (int i = 0; i < 10; ++i) torch::matmul(a, b);
    torch::cuda::synchronize();
    return 10 * 2.0 * 8192.0 * 8192.0 * 8192.0 / seconds(t) / 1e9;
  };
  const double peak_bf16 = peak(torch::kBFloat16), peak_fp32 = peak(torch::kFloat32);
  std::printf("device %s (%d CPU threads); seq %lld, batch %lld, LoRA r=16 on all linear layers\n", device.c_str(), threads,
              (long long)seq, (long long)batch);
  std::printf("baseline: libtorch matmul %s: bf16 %.1f GFLOP/s, fp32 %.1f GFLOP/s\n",
              cuda ? "[8192^3]" : ("[" + std::to_string(batch * seq) + " x 576] x [576 x 1536]").c_str(), peak_bf16, peak_fp32);

  // Examples: random tokens, the second half of each sequence is the reply (the loss's targets).
  std::mt19937 rng(3);
  TrainTask task;
  task.name = "bench";
  for (int64_t i = 0; i < batch * (steps + 1); ++i) {
    TrainExample x;
    for (int64_t t = 0; t < seq; ++t) {
      x.ids.push_back(int32_t(rng() % 49000) + 1);
      x.mask.push_back(t >= seq / 2 ? 1 : 0);
    }
    task.train.push_back(std::move(x));
  }
  const double targets = double(seq - seq / 2);
  for (const char* dtype : {"bf16", "fp32"}) {
    ModelOptions mo;
    mo.device = device;
    mo.dtype = dtype;
    mo.tokenizer = false;
    auto m = model_load(dir, mo);
    const ModelConfig& c = m->config();
    TrainJob job;
    job.cfg.lora_rank = 16;
    job.cfg.lora_alpha = 32;
    job.cfg.lora_dropout = 0.0;
    job.cfg.max_length = seq;
    job.cfg.batch_size = batch;
    job.cfg.max_steps = steps + 1;
    job.cfg.eval_every = 1000000;
    job.cfg.save_every = 1000000;
    job.cfg.packing = false;
    job.tasks = {task};
    job.work = dir / ("work-" + std::string(dtype));
    job.out = dir / ("out-" + std::string(dtype));
    std::vector<double> at;
    job.on_step = [&](const json& line) { at.push_back(line["elapsed_s"].get<double>()); };
    train_job(*m, job);
    const double secs = at.back() - at.front();  // the first step warms up
    const double tokens = double(batch * seq * steps);
    // FLOPs per step.
    const double H = double(c.hidden_size), V = double(c.vocab_size), L = double(c.num_layers);
    const double base = double(model_param_count(c)) - V * H;  // non-embedding weights
    double lora = 0;
    const double r = 16, I = double(c.intermediate_size), q = double(c.q_dim()), kv = double(c.kv_dim());
    lora = L * r * ((H + q) + 2 * (H + kv) + (q + H) + 2 * (H + I) + (I + H));
    const double attn = L * 2.0 * 2.0 * double(seq) * q;  // QKᵀ and AV per token, full T x T
    const double per_step = double(batch) * (double(seq) * (4 * base + 6 * lora + 3 * attn) + targets * 4 * V * H);
    const double gflops = per_step * steps / secs / 1e9;
    const double pk = std::string(dtype) == "bf16" ? peak_bf16 : peak_fp32;
    std::printf("slmify %s base: %.0f tokens/s, %.1f GFLOP/s = %.0f%% of the %s matmul peak (%.0f%% of bf16's)\n", dtype,
                tokens / secs, gflops, 100 * gflops / pk, dtype, 100 * gflops / peak_bf16);
  }
  if (!python.empty()) {
    std::string cmd = python + " " + std::string(SLMIFY_SOURCE_DIR) + "/bench/peft_train_bench.py " + dir.string() + " " +
                      std::to_string(seq) + " " + std::to_string(steps) + " " + std::to_string(batch) + " " + device;
    std::fflush(stdout);
    int rc = std::system(cmd.c_str());
    if (rc != 0) std::printf("(HF PEFT comparison failed: exit %d)\n", rc);
  }
  fs::remove_all(dir);
}
