// The training loop: batches (packed or length-bucketed), masked next-token loss on the reply
// tokens, AdamW with warm-up and cosine decay, gradient accumulation and clipping, evaluation
// with early stopping, per-step logs, checkpoints and exact resume. See trainer.h.
#include "train/trainer.h"

#include <sys/resource.h>
#include <torch/nn/functional/loss.h>
#include <torch/torch.h>

#if __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#define SLMIFY_CUDA_STATS 1
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <limits>
#include <numeric>
#include <random>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "model/model.h"
#include "model/safetensors.h"
#include "model/transformer.h"
#include "train/lora.h"

namespace slmify {
namespace fs = std::filesystem;
namespace F = torch::nn::functional;

namespace {

uint64_t mix(uint64_t a, uint64_t b) {  // splitmix64 of a combined pair
  uint64_t z = a * 0x9E3779B97F4A7C15ULL + b + 0x632BE59BD9B4E019ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

struct Seq {
  int task = 0;
  std::vector<PrefixGroup> groups;  // examples of the task's train (or eval) list, by shared prefix
  int64_t len = 0;                  // tokens the row spends
};

// Shared-prefix packing needs this many common tokens: shorter prefixes save too little.
constexpr int64_t kMinSharedPrefix = 16;

// Rows of one task: its examples in `order`, grouped by shared prefix (when enabled), the groups
// packed first-fit.
std::vector<Seq> task_rows(const FinetuneConfig& c, const std::vector<TrainExample>& ex, const std::vector<int32_t>& order,
                           int task, int64_t pack_len) {
  const bool share = c.packing && c.shared_prefix && !c.prompt_loss;
  std::vector<PrefixGroup> groups = group_shared_prefix(ex, order, pack_len, share ? kMinSharedPrefix : 0);
  std::vector<int64_t> lengths(groups.size());
  std::vector<int32_t> gorder(groups.size());
  for (size_t g = 0; g < groups.size(); ++g) lengths[g] = groups[g].len;
  std::iota(gorder.begin(), gorder.end(), 0);
  std::vector<Seq> rows;
  for (auto& s : pack_examples(lengths, gorder, pack_len, c.packing)) {
    Seq q;
    q.task = task;
    for (int32_t g : s) {
      q.len += lengths[size_t(g)];
      q.groups.push_back(std::move(groups[size_t(g)]));
    }
    rows.push_back(std::move(q));
  }
  return rows;
}

struct EpochPlan {
  std::vector<Seq> seqs;
  std::vector<std::vector<int32_t>> micro;          // sequence indices per micro-batch
  std::vector<std::pair<size_t, size_t>> steps;     // [begin, end) micro-batches per optimiser step
};

// Packed sequences are no longer than the longest example needs (at least 256 tokens, at most
// max_length): a row's cost grows faster than its length (attention), so packing short calls into
// max_length rows would cost more than it saves.
int64_t pack_length(const TrainJob& job) {
  int64_t longest = 0;
  for (const TrainTask& t : job.tasks)
    for (const TrainExample& x : t.train) longest = std::max(longest, int64_t(x.ids.size()));
  return std::min(job.cfg.max_length, std::max<int64_t>(256, longest));
}

EpochPlan plan_epoch(const TrainJob& job, int64_t epoch) {
  const FinetuneConfig& c = job.cfg;
  const int64_t pack_len = pack_length(job);
  EpochPlan p;
  for (size_t t = 0; t < job.tasks.size(); ++t) {
    const auto& ex = job.tasks[t].train;
    std::vector<int32_t> order(ex.size());
    std::iota(order.begin(), order.end(), 0);
    std::mt19937_64 rng(mix(uint64_t(c.seed), uint64_t(epoch) * 1000003 + t));
    std::shuffle(order.begin(), order.end(), rng);
    for (Seq& q : task_rows(c, ex, order, int(t), pack_len)) p.seqs.push_back(std::move(q));
  }
  std::vector<int32_t> order(p.seqs.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(mix(uint64_t(c.seed), uint64_t(epoch) + 0xE90C));
  std::shuffle(order.begin(), order.end(), rng);
  if (!c.packing) {  // length bucketing: similar lengths share a batch, less padding
    const size_t window = size_t(c.batch_size) * 64;
    for (size_t a = 0; a < order.size(); a += window) {
      auto e = order.begin() + std::min(order.size(), a + window);
      std::stable_sort(order.begin() + a, e, [&](int32_t x, int32_t y) { return p.seqs[x].len > p.seqs[y].len; });
    }
  }
  for (size_t a = 0; a < order.size(); a += size_t(c.batch_size))
    p.micro.emplace_back(order.begin() + a, order.begin() + std::min(order.size(), a + size_t(c.batch_size)));
  for (size_t a = 0; a < p.micro.size(); a += size_t(c.grad_accum))
    p.steps.emplace_back(a, std::min(p.micro.size(), a + size_t(c.grad_accum)));
  return p;
}

struct MicroBatch {
  torch::Tensor ids, pos, seg, branch, src, tgt, task, rows;  // see build_micro
  AttentionBlocks blocks;   // the same structure as seg/branch, per call
  int64_t tokens = 0;       // tokens computed (a shared prefix once)
  int64_t call_tokens = 0;  // tokens of the calls trained on (a shared prefix once per call)
  int64_t targets = 0;
};

// Rows of packed examples: ids/pos/seg [B, T] (seg 0 = padding, one segment per prefix group),
// branch [B, T] (0 = the group's shared prefix, k = its k-th member's own tokens; undefined when
// no row shares a prefix), src [N] flat indices of the positions whose output predicts tgt [N],
// task [N] of each target. Positions continue from the prefix in every branch.
MicroBatch build_micro(const TrainJob& job, const std::vector<const Seq*>& seqs, bool from_eval,
                       torch::Device dev) {
  int64_t T = 8;
  for (const Seq* s : seqs) T = std::max(T, s->len);
  T = (T + 7) / 8 * 8;
  const int64_t B = int64_t(seqs.size());
  std::vector<int64_t> ids(size_t(B * T), 0), pos(size_t(B * T), 0), seg(size_t(B * T), 0), branch(size_t(B * T), 0),
      rows(static_cast<size_t>(B));
  std::vector<int64_t> src, tgt, task;
  MicroBatch mb;
  bool shared = false;
  for (int64_t b = 0; b < B; ++b) {
    const Seq& s = *seqs[size_t(b)];
    rows[size_t(b)] = s.task;
    const auto& list = from_eval ? job.tasks[size_t(s.task)].eval : job.tasks[size_t(s.task)].train;
    int64_t off = 0, segment = 0;
    std::vector<AttentionBlock>& row_blocks = mb.blocks.emplace_back();
    for (const PrefixGroup& g : s.groups) {
      ++segment;
      const int64_t P = g.prefix;
      shared = shared || P > 0;
      const int64_t prefix_at = off;  // flat offset of the prefix in the row
      if (P > 0) row_blocks.push_back({0, 0, off, P});
      if (P > 0) {
        const TrainExample& x0 = list[size_t(g.ex[0])];
        for (int64_t i = 0; i < P; ++i) {
          size_t at = size_t(b * T + off + i);
          ids[at] = x0.ids[size_t(i)];
          pos[at] = i;
          seg[at] = segment;
        }
        off += P;
      }
      int64_t br = 0;
      for (int32_t e : g.ex) {
        const TrainExample& x = list[size_t(e)];
        ++br;
        mb.call_tokens += int64_t(x.ids.size());
        const int64_t start = off;  // flat offset of ids[P]
        row_blocks.push_back({P > 0 ? prefix_at : 0, P, start, int64_t(x.ids.size()) - P});
        for (size_t i = size_t(P); i < x.ids.size(); ++i) {
          size_t at = size_t(b * T + start + int64_t(i) - P);
          ids[at] = x.ids[i];
          pos[at] = int64_t(i);
          seg[at] = segment;
          branch[at] = br;
          if (i > 0 && x.mask[i]) {
            // Predicted from ids[i-1]: in this branch, or the prefix's last token for i == P.
            int64_t from = int64_t(i) - 1 >= P ? b * T + start + int64_t(i) - 1 - P : b * T + prefix_at + P - 1;
            src.push_back(from);
            tgt.push_back(x.ids[i]);
            task.push_back(s.task);
          }
        }
        off += int64_t(x.ids.size()) - P;
      }
    }
    mb.tokens += off;
  }
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  auto mk = [&](std::vector<int64_t>& v, std::vector<int64_t> shape) { return torch::from_blob(v.data(), shape, i64).clone().to(dev); };
  mb.ids = mk(ids, {B, T});
  mb.pos = mk(pos, {B, T});
  mb.seg = mk(seg, {B, T});
  if (shared) mb.branch = mk(branch, {B, T});
  mb.rows = mk(rows, {B});
  mb.targets = int64_t(src.size());
  mb.src = mk(src, {mb.targets});
  mb.tgt = mk(tgt, {mb.targets});
  mb.task = mk(task, {mb.targets});
  return mb;
}

// Summed NLL per task of the micro-batch's targets (and the differentiable total).
torch::Tensor micro_nll(TransformerWeights& w, LoraSet* lora, const MicroBatch& mb) {
  if (lora) lora->rows = mb.rows;
  // Per-call attention blocks, unless a sliding window shorter than the row needs the dense mask.
  const auto& win = w.config.sliding_window;
  const bool by_blocks = !win || *win >= mb.ids.size(1);
  torch::Tensor hidden = w.forward(mb.ids, mb.pos, nullptr, {}, mb.seg, mb.branch, by_blocks ? &mb.blocks : nullptr);  // [B, T, H]
  torch::Tensor h = hidden.reshape({-1, hidden.size(-1)}).index_select(0, mb.src);  // [N, H]
  torch::Tensor logits = w.logits(h);                                             // [N, V] fp32
  return F::cross_entropy(logits, mb.tgt, F::CrossEntropyFuncOptions().reduction(torch::kNone));  // [N]
}

// Rebinds the weights of `w` to `params` (method full: fresh leaves that require grad).
void full_bind(TransformerWeights& w, NamedTensors& params) {
  size_t k = 0;
  w.embed = params[k++].second;
  for (int64_t i = 0; i < w.config.num_layers; ++i) {
    std::string pre = "model.layers." + std::to_string(i) + ".";
    DecoderLayer& L = w.layers[size_t(i)];
    L.input_norm = params[k++].second;
    L.post_attention_norm = params[k++].second;
    for (const char* name : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.qkv_proj", "self_attn.o_proj",
                             "mlp.gate_proj", "mlp.up_proj", "mlp.gate_up_proj", "mlp.down_proj"}) {
      Linear* lin = transformer_linear(w, pre + name);
      if (!lin) continue;
      lin->weight = params[k++].second;
      if (lin->bias.defined()) lin->bias = params[k++].second;
    }
  }
  w.final_norm = params[k++].second;
  if (w.config.tie_word_embeddings) w.lm_head.weight = w.embed;
  else w.lm_head.weight = params[k++].second;
}

double peak_memory_mb(torch::Device dev) {
#ifdef SLMIFY_CUDA_STATS
  if (dev.is_cuda()) {
    auto st = c10::cuda::CUDACachingAllocator::getDeviceStats(dev.index() < 0 ? 0 : dev.index());
    return double(st.allocated_bytes[0].peak) / (1024.0 * 1024.0);
  }
#endif
  (void)dev;
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return double(ru.ru_maxrss) / 1024.0;  // KiB on Linux
}

struct TaskState {
  double best_eval = std::numeric_limits<double>::infinity();
  int64_t best_step = -1, bad = 0;
  bool stopped = false;
  double last_eval = std::nan(""), last_train = std::nan("");
  std::vector<torch::Tensor> best;  // snapshot of this task's weights at best_eval
};

void copy_files(const fs::path& from, const fs::path& to, const std::vector<std::string>& names) {
  for (const std::string& n : names) {
    std::error_code ec;
    if (fs::exists(from / n, ec)) fs::copy_file(from / n, to / n, fs::copy_options::overwrite_existing, ec);
    if (ec) throw_errno("copying", (from / n).string(), ec.value());
  }
}

}  // namespace

std::vector<json> train_job(Model& model, const TrainJob& job) {
  const FinetuneConfig& c = job.cfg;
  const bool full = c.method == "full";
  const int64_t n_tasks = int64_t(job.tasks.size());
  SLMIFY_ASSERT(n_tasks >= 1, "a job needs a task");
  SLMIFY_ASSERT(!full || n_tasks == 1, "method full trains one task per job");
  TransformerWeights& w = model.weights();
  const torch::Device dev = w.device;
  const std::string label = n_tasks == 1 ? job.tasks[0].name : std::to_string(n_tasks) + " adapters";

  // Trainable parameters.
  LoraSet lora;
  NamedTensors full_params;
  std::vector<torch::Tensor> params;
  for (auto& [name, t] : transformer_named_weights(w)) t.set_requires_grad(false);
  if (full) {
    SLMIFY_ASSERT(w.dtype == torch::kFloat32, "method full trains fp32 weights");
    full_params = transformer_named_weights(w);
    for (auto& [name, t] : full_params) {
      t = t.detach().clone().set_requires_grad(true);
      params.push_back(t);
    }
    full_bind(w, full_params);
  } else {
    LoraOptions lo;
    lo.rank = c.lora_rank;
    lo.alpha = c.lora_alpha;
    lo.dropout = c.lora_dropout;
    lo.rslora = c.rslora;
    lo.target_modules = c.target_modules;
    lo.n_adapters = n_tasks;
    lo.seed = uint64_t(c.seed);
    lora_attach(w, lora, lo);
    for (int64_t t = 0; t < n_tasks; ++t)
      if (!job.tasks[size_t(t)].init_adapter.empty()) lora_load_peft(lora, t, job.tasks[size_t(t)].init_adapter);
    params = lora.parameters();
  }
  // The weights of task t (slices of stacked LoRA tensors in multi-adapter mode).
  auto task_weights = [&](int64_t t) {
    std::vector<torch::Tensor> v;
    for (const torch::Tensor& p : params) v.push_back(p.dim() == 3 && !full ? p[t] : p);
    return v;
  };

  // The schedule of the whole run.
  std::vector<EpochPlan> epochs;
  int64_t total_steps = 0;
  for (int64_t e = 0;; ++e) {
    if (c.max_steps == 0 && e >= c.epochs) break;
    if (c.max_steps > 0 && total_steps >= c.max_steps) break;
    epochs.push_back(plan_epoch(job, e));
    if (epochs.back().steps.empty()) throw_usage("finetune", "no training sequences", "every example was skipped; see the counts in the log");
    total_steps += int64_t(epochs.back().steps.size());
  }
  if (c.max_steps > 0) total_steps = c.max_steps;
  {
    int64_t calls = 0, call_tokens = 0, row_tokens = 0;
    for (const Seq& q : epochs[0].seqs) {
      row_tokens += q.len;
      for (const PrefixGroup& g : q.groups)
        for (int32_t e : g.ex) ++calls, call_tokens += int64_t(job.tasks[size_t(q.task)].train[size_t(e)].ids.size());
    }
    char buf[256];
    std::snprintf(buf, sizeof buf, "finetune %s: an epoch is %lld calls (%s tokens) in %zu rows of %s tokens%s", label.c_str(),
                  (long long)calls, format_count(double(call_tokens)).c_str(), epochs[0].seqs.size(), format_count(double(row_tokens)).c_str(),
                  row_tokens < call_tokens ? (" (shared prefixes: " + std::to_string(double(call_tokens) / double(row_tokens)).substr(0, 4) + "x fewer)").c_str() : "");
    log_info(buf);
  }
  const int64_t warmup = int64_t(std::ceil(c.warmup_ratio * double(total_steps)));
  auto lr_at = [&](int64_t s) {  // s: 0-based optimiser step
    if (s < warmup) return c.lr * double(s + 1) / double(warmup);
    double progress = total_steps > warmup ? double(s - warmup) / double(total_steps - warmup) : 1.0;
    return c.lr * 0.5 * (1.0 + std::cos(M_PI * progress));
  };

  // Optimiser state (adamw_step: as torch.optim.AdamW).
  std::vector<torch::Tensor> m1, m2;
  for (const torch::Tensor& p : params) {
    m1.push_back(torch::zeros_like(p, p.options().requires_grad(false)));
    m2.push_back(torch::zeros_like(p, p.options().requires_grad(false)));
  }
  std::vector<TaskState> ts(static_cast<size_t>(n_tasks));
  int64_t step = 0, tokens_seen = 0;  // tokens_seen: of the calls trained on (effective)
  int64_t computed_seen = 0;             // tokens computed in this process (a shared prefix once per row)
  double elapsed_before = 0;

  // Resume from the job's checkpoint when it belongs to this very job.
  fs::create_directories(job.work);
  const fs::path ckpt_path = job.work / "checkpoint.safetensors", log_path = job.work / "train_log.jsonl";
  if (fs::exists(ckpt_path)) {
    SafetensorsFile f(ckpt_path);
    json st = json::parse(f.metadata().at("state"));
    if (st.value("fingerprint", "") != job.fingerprint || st.value("params", int64_t(-1)) != int64_t(params.size())) {
      log_info("finetune " + label + ": the checkpoint in " + job.work.string() + " is from another run; starting afresh");
    } else {
      torch::NoGradGuard ng;
      Checkpoint ck(job.work, "checkpoint.safetensors");
      auto load = [&](const std::string& name, torch::Tensor& dst) { dst.copy_(checkpoint_tensor(ck, name).to(dst.device(), dst.scalar_type())); };
      for (size_t i = 0; i < params.size(); ++i) {
        load("p." + std::to_string(i), params[i]);
        load("m." + std::to_string(i), m1[i]);
        load("v." + std::to_string(i), m2[i]);
      }
      step = st["step"];
      tokens_seen = st["tokens"];
      elapsed_before = st["elapsed_s"];
      for (int64_t t = 0; t < n_tasks; ++t) {
        const json& j = st["tasks"][size_t(t)];
        TaskState& s = ts[size_t(t)];
        s.best_eval = j["best_eval"].is_null() ? std::numeric_limits<double>::infinity() : j["best_eval"].get<double>();
        s.best_step = j["best_step"];
        s.bad = j["bad"];
        s.stopped = j["stopped"];
        s.last_eval = j["last_eval"].is_null() ? std::nan("") : j["last_eval"].get<double>();
        s.last_train = j["last_train"].is_null() ? std::nan("") : j["last_train"].get<double>();
        if (s.best_step >= 0)
          for (size_t i = 0; i < params.size(); ++i) {
            torch::Tensor b = checkpoint_tensor(ck, "best." + std::to_string(t) + "." + std::to_string(i));
            s.best.push_back(b.to(dev, torch::kFloat32).to(params[i].scalar_type()));
          }
      }
      // The log keeps the steps the checkpoint covers.
      std::ifstream in(log_path);
      std::string line, kept;
      while (std::getline(in, line))
        if (!line.empty() && json::parse(line).value("step", int64_t(0)) <= step) kept += line + "\n";
      write_file_atomic(log_path, kept);
      log_info("finetune " + label + ": resuming at step " + std::to_string(step) + " of " + std::to_string(total_steps));
    }
  }
  if (step == 0) write_file_atomic(log_path, "");
  FILE* logf = std::fopen(log_path.c_str(), "a");
  if (!logf) throw_errno("opening", log_path.string(), errno);
  struct Closer {
    FILE* f;
    ~Closer() { std::fclose(f); }
  } closer{logf};

  auto save_checkpoint = [&](double elapsed) {
    NamedTensors t;
    for (size_t i = 0; i < params.size(); ++i) {
      t.emplace_back("p." + std::to_string(i), params[i]);
      t.emplace_back("m." + std::to_string(i), m1[i]);
      t.emplace_back("v." + std::to_string(i), m2[i]);
    }
    json tasks = json::array();
    for (int64_t k = 0; k < n_tasks; ++k) {
      const TaskState& s = ts[size_t(k)];
      auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
      tasks.push_back({{"best_eval", num(s.best_eval)}, {"best_step", s.best_step}, {"bad", s.bad}, {"stopped", s.stopped},
                       {"last_eval", num(s.last_eval)}, {"last_train", num(s.last_train)}});
      for (size_t i = 0; i < s.best.size(); ++i) t.emplace_back("best." + std::to_string(k) + "." + std::to_string(i), s.best[i]);
    }
    json st = {{"fingerprint", job.fingerprint}, {"step", step}, {"tokens", tokens_seen}, {"elapsed_s", elapsed},
               {"params", params.size()}, {"tasks", tasks}};
    std::fflush(logf);
    ::fsync(fileno(logf));
    tensors_save(ckpt_path, t, {{"state", st.dump()}});
  };

  // Evaluation: mean NLL per target token of each task's eval examples.
  auto evaluate = [&]() {
    torch::NoGradGuard ng;
    std::vector<double> sum(size_t(n_tasks), 0.0), cnt(size_t(n_tasks), 0.0);
    for (int64_t t = 0; t < n_tasks; ++t) {
      const auto& ev = job.tasks[size_t(t)].eval;
      if (ev.empty()) continue;
      // A bounded sample (the first eval_loss_examples, the same at every evaluation).
      size_t n = c.eval_loss_examples > 0 ? std::min(ev.size(), size_t(c.eval_loss_examples)) : ev.size();
      std::vector<int32_t> order(n);
      std::iota(order.begin(), order.end(), 0);
      FinetuneConfig packed = c;
      packed.packing = true;
      std::vector<Seq> seqs = task_rows(packed, ev, order, int(t), c.max_length);
      for (size_t a = 0; a < seqs.size(); a += size_t(c.batch_size)) {
        std::vector<const Seq*> group;
        for (size_t b = a; b < std::min(seqs.size(), a + size_t(c.batch_size)); ++b) group.push_back(&seqs[b]);
        MicroBatch mb = build_micro(job, group, true, dev);
        torch::Tensor nll = micro_nll(w, full ? nullptr : &lora, mb);
        sum[size_t(t)] += nll.sum().item<double>();
        cnt[size_t(t)] += double(mb.targets);
      }
    }
    std::vector<double> out(size_t(n_tasks), std::nan(""));
    for (int64_t t = 0; t < n_tasks; ++t)
      if (cnt[size_t(t)] > 0) out[size_t(t)] = sum[size_t(t)] / cnt[size_t(t)];
    return out;
  };

  auto t_start = std::chrono::steady_clock::now();
  auto elapsed = [&] { return elapsed_before + std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count(); };
  const int64_t start_step = step;
  const int64_t start_tokens = tokens_seen;
  bool stopped_early = false;
  int64_t s_global = 0;  // optimiser steps before the current epoch
  for (size_t e = 0; e < epochs.size() && step < total_steps && !stopped_early; ++e) {
    const EpochPlan& ep = epochs[e];
    for (size_t ls = 0; ls < ep.steps.size(); ++ls) {
      const int64_t this_step = s_global + int64_t(ls);
      if (this_step < step) continue;  // done before the resume
      if (step >= total_steps) break;
      auto [mb_a, mb_b] = ep.steps[ls];
      std::vector<std::vector<const Seq*>> groups;
      for (size_t k = mb_a; k < mb_b; ++k) {
        groups.emplace_back();
        for (int32_t s : ep.micro[k]) groups.back().push_back(&ep.seqs[size_t(s)]);
      }
      std::vector<MicroBatch> mbs;
      int64_t step_targets = 0, step_tokens = 0, step_computed = 0;
      for (auto& g : groups) {
        mbs.push_back(build_micro(job, g, false, dev));
        step_targets += mbs.back().targets;
        step_tokens += mbs.back().call_tokens;
        step_computed += mbs.back().tokens;
      }
      std::vector<double> task_sum(size_t(n_tasks), 0.0), task_cnt(size_t(n_tasks), 0.0);
      double loss_sum = 0;
      for (size_t k = 0; k < mbs.size(); ++k) {
        if (mbs[k].targets == 0) continue;
        torch::manual_seed(mix(uint64_t(c.seed), uint64_t(step) * 1009 + k));  // dropout: same masks after a resume
        torch::Tensor nll = micro_nll(w, full ? nullptr : &lora, mbs[k]);
        torch::Tensor loss = nll.sum() / double(std::max<int64_t>(1, step_targets));
        loss.backward();
        torch::Tensor d = nll.detach().to(torch::kCPU, torch::kFloat64), tk = mbs[k].task.to(torch::kCPU);
        auto dp = d.accessor<double, 1>();
        auto tp = tk.accessor<int64_t, 1>();
        for (int64_t i = 0; i < d.size(0); ++i) {
          task_sum[size_t(tp[i])] += dp[i];
          task_cnt[size_t(tp[i])] += 1;
          loss_sum += dp[i];
        }
      }
      // Clip, then AdamW.
      torch::NoGradGuard ng;
      double sq = 0;
      for (torch::Tensor& p : params)
        if (p.grad().defined()) sq += p.grad().pow(2).sum().item<double>();
      const double grad_norm = std::sqrt(sq);
      const double clip = c.grad_clip > 0 && grad_norm > c.grad_clip ? c.grad_clip / (grad_norm + 1e-6) : 1.0;
      const double lr = lr_at(step);
      if (clip != 1.0)
        for (torch::Tensor& p : params)
          if (p.grad().defined()) p.mutable_grad().mul_(clip);
      adamw_step(params, m1, m2, step + 1, lr, c.weight_decay);
      ++step;
      tokens_seen += step_tokens;
      computed_seen += step_computed;
      const double loss = step_targets ? loss_sum / double(step_targets) : std::nan("");
      for (int64_t t = 0; t < n_tasks; ++t)
        if (task_cnt[size_t(t)] > 0) ts[size_t(t)].last_train = task_sum[size_t(t)] / task_cnt[size_t(t)];

      // Evaluate, keep the best weights, stop early.
      json eval_j;
      if (step % c.eval_every == 0 || step == total_steps) {
        std::vector<double> ev = evaluate();
        eval_j = json::array();
        bool all_stopped = true, any_eval = false;
        for (int64_t t = 0; t < n_tasks; ++t) {
          TaskState& s = ts[size_t(t)];
          if (std::isnan(ev[size_t(t)])) {
            eval_j.push_back(nullptr);
            all_stopped = false;
            continue;
          }
          any_eval = true;
          s.last_eval = ev[size_t(t)];
          eval_j.push_back(ev[size_t(t)]);
          if (ev[size_t(t)] < s.best_eval) {
            s.best_eval = ev[size_t(t)];
            s.best_step = step;
            s.bad = 0;
            s.best.clear();
            for (const torch::Tensor& x : task_weights(t)) s.best.push_back(x.detach().clone());
          } else if (++s.bad >= c.early_stopping_patience && c.early_stopping_patience > 0) {
            s.stopped = true;
          }
          all_stopped = all_stopped && s.stopped;
        }
        if (any_eval && all_stopped && step < total_steps) stopped_early = true;
      }
      const double el = elapsed();
      const double rate = double(tokens_seen - start_tokens) / std::max(1e-9, el - elapsed_before);
      const double eta = (el - elapsed_before) / double(step - start_step) * double(total_steps - step);
      json line = {{"step", step}, {"epoch", e}, {"loss", loss}, {"lr", lr}, {"grad_norm", grad_norm},
                   {"tokens", tokens_seen}, {"tokens_per_s", rate}, {"computed_tokens_per_s", double(computed_seen) / std::max(1e-9, el - elapsed_before)},
                   {"elapsed_s", el}};
      if (n_tasks > 1) {
        json per = json::array();
        for (int64_t t = 0; t < n_tasks; ++t) per.push_back(task_cnt[size_t(t)] > 0 ? json(task_sum[size_t(t)] / task_cnt[size_t(t)]) : json(nullptr));
        line["task_loss"] = per;
      }
      if (!eval_j.is_null()) line["eval_loss"] = n_tasks == 1 ? eval_j[0] : eval_j;
      std::fputs((line.dump() + "\n").c_str(), logf);
      char buf[256];
      std::snprintf(buf, sizeof buf, "finetune %s: step %lld/%lld loss %.4f lr %.2e %s tok/s eta %s", label.c_str(),
                    (long long)step, (long long)total_steps, loss, lr, format_count(rate).c_str(), format_duration(eta).c_str());
      std::string msg = buf;
      if (!eval_j.is_null() && n_tasks == 1 && !eval_j[0].is_null()) {
        std::snprintf(buf, sizeof buf, " eval %.4f", eval_j[0].get<double>());
        msg += buf;
      }
      log_info(msg);
      if (job.on_step) job.on_step(line);
      if (stopped_early) {
        log_info("finetune " + label + ": stopping early, the eval loss has not improved for " +
                 std::to_string(c.early_stopping_patience) + " evaluations");
        break;
      }
      if (step % c.save_every == 0 && step < total_steps) save_checkpoint(el);
    }
    s_global += int64_t(ep.steps.size());
  }
  std::fflush(logf);
  const double train_seconds = elapsed();

  // Outputs: each task's best weights (or the last, without an eval split).
  std::vector<json> metrics;
  for (int64_t t = 0; t < n_tasks; ++t) {
    const TrainTask& task = job.tasks[size_t(t)];
    TaskState& s = ts[size_t(t)];
    fs::path dir = job.out / task.name;
    fs::create_directories(dir);
    {
      torch::NoGradGuard ng;
      if (!s.best.empty()) {
        std::vector<torch::Tensor> cur = task_weights(t);
        for (size_t i = 0; i < cur.size(); ++i) cur[i].copy_(s.best[i]);
      }
    }
    if (full) {
      NamedTensors named;
      for (size_t i = 0; i < full_params.size(); ++i) named.emplace_back(full_params[i].first, params[i].to(torch::kFloat32));
      tensors_save(dir / "model.safetensors", named);
      copy_files(model.dir(), dir, {"config.json", "generation_config.json", "tokenizer.json", "tokenizer.model",
                                    "tokenizer_config.json", "special_tokens_map.json"});
    } else {
      lora_save_peft(lora, t, dir, w.config, job.base_name);
    }
    int64_t train_targets = 0, eval_targets = 0, train_tokens = 0;
    for (const TrainExample& x : task.train) {
      train_targets += x.targets();
      train_tokens += int64_t(x.ids.size());
    }
    for (const TrainExample& x : task.eval) eval_targets += x.targets();
    auto num = [](double x) { return std::isfinite(x) ? json(x) : json(nullptr); };
    json mj = task.info;
    mj.update({{"name", task.name},
               {"method", c.method},
               {"steps", step},
               {"total_steps", total_steps},
               {"stopped_early", stopped_early},
               {"train_examples", task.train.size()},
               {"eval_examples", task.eval.size()},
               {"train_tokens_per_epoch", train_tokens},
               {"train_target_tokens_per_epoch", train_targets},
               {"eval_target_tokens", eval_targets},
               {"tokens_processed", tokens_seen},
               {"computed_tokens", computed_seen},
               {"final_train_loss", num(s.last_train)},
               {"final_eval_loss", num(s.last_eval)},
               {"best_eval_loss", num(s.best_eval)},
               {"best_step", s.best_step},
               {"weights_from_step", s.best.empty() ? step : s.best_step},
               {"train_seconds", train_seconds},
               {"tokens_per_s", double(tokens_seen - start_tokens) / std::max(1e-9, train_seconds - elapsed_before)},
               {"peak_memory_mb", peak_memory_mb(dev)},
               {"device", model.device()},
               {"base_dtype", model.dtype()},
               {"resumed_from_step", start_step}});
    if (!full) mj["lora"] = {{"rank", c.lora_rank}, {"alpha", c.lora_alpha}, {"dropout", c.lora_dropout}, {"rslora", c.rslora},
                             {"target_modules", lora.short_names}, {"multi_adapter", n_tasks > 1}};
    write_file_atomic(dir / "metrics.json", mj.dump(2) + "\n");
    copy_files(job.work, dir, {"train_log.jsonl"});
    metrics.push_back(mj);
  }
  if (!full) lora_detach(lora);
  return metrics;
}

}  // namespace slmify
