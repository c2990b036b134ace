// LoRA attach, PEFT save and load; see lora.h.
#include "train/lora.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/record.h"
#include "model/safetensors.h"

namespace slmify {
namespace fs = std::filesystem;

double LoraOptions::scale() const {
  return rslora ? alpha / std::sqrt(double(rank)) : alpha / double(rank);
}

std::vector<torch::Tensor> LoraSet::parameters() const {
  std::vector<torch::Tensor> p;
  for (const LoraTarget& t : targets) {
    p.push_back(t.a);
    p.push_back(t.b);
  }
  return p;
}

static std::vector<std::string> arch_linears(const ModelConfig& c) {
  std::vector<std::string> v;
  if (c.fused_qkv) v.push_back("qkv_proj");
  else v.insert(v.end(), {"q_proj", "k_proj", "v_proj"});
  v.push_back("o_proj");
  if (c.fused_gate_up) v.push_back("gate_up_proj");
  else v.insert(v.end(), {"gate_proj", "up_proj"});
  v.push_back("down_proj");
  return v;
}

std::vector<std::string> lora_resolve_targets(const ModelConfig& c, const std::vector<std::string>& target_modules) {
  std::vector<std::string> all = arch_linears(c);
  std::vector<std::string> out;
  for (const std::string& t : target_modules) {
    if (t == "all-linear") {
      for (const std::string& a : all)
        if (std::find(out.begin(), out.end(), a) == out.end()) out.push_back(a);
      continue;
    }
    if (std::find(all.begin(), all.end(), t) == all.end()) {
      std::string list;
      for (const std::string& a : all) list += (list.empty() ? "" : ", ") + a;
      throw_usage("finetune.target_modules", "\"" + t + "\" is not a linear layer of " + c.architecture,
                  "use all-linear or some of: " + list + (t == "lm_head" || t == "embed_tokens" ? " (LoRA on embeddings or lm_head is not supported)" : ""));
    }
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  // The order of the architecture, so adapter files do not depend on how the list was written.
  std::vector<std::string> ordered;
  for (const std::string& a : all)
    if (std::find(out.begin(), out.end(), a) != out.end()) ordered.push_back(a);
  return ordered;
}

static std::string module_path(int64_t layer, const std::string& name) {
  bool attn = name == "q_proj" || name == "k_proj" || name == "v_proj" || name == "qkv_proj" || name == "o_proj";
  return "model.layers." + std::to_string(layer) + (attn ? ".self_attn." : ".mlp.") + name;
}

void lora_attach(TransformerWeights& w, LoraSet& set, const LoraOptions& opts) {
  set.opts = opts;
  set.short_names = lora_resolve_targets(w.config, opts.target_modules);
  set.targets.clear();
  torch::NoGradGuard no_grad;
  std::mt19937_64 rng(opts.seed * 0x9E3779B97F4A7C15ULL + 0x51ED27);
  auto f32 = torch::TensorOptions().dtype(torch::kFloat32);
  const int64_t n = opts.n_adapters, r = opts.rank;
  for (int64_t l = 0; l < w.config.num_layers; ++l)
    for (const std::string& name : set.short_names) {
      LoraTarget t;
      t.module = module_path(l, name);
      t.linear = transformer_linear(w, t.module);
      SLMIFY_ASSERT(t.linear, "no linear " + t.module);
      const int64_t out = t.linear->weight.size(0), in = t.linear->weight.size(1);
      // kaiming_uniform_(a=√5) on [r, in]: bound = gain·√(3/fan_in) with gain = √(2/(1+5)) → 1/√in.
      const float bound = 1.0f / std::sqrt(float(in));
      std::uniform_real_distribution<float> u(-bound, bound);
      std::vector<float> av(size_t(n * r * in));
      for (float& x : av) x = u(rng);
      torch::Tensor a = torch::from_blob(av.data(), {n * r * in}, f32).clone();
      t.a = (n == 1 ? a.view({r, in}) : a.view({n, r, in})).to(w.device).set_requires_grad(true);
      t.b = (n == 1 ? torch::zeros({out, r}, f32) : torch::zeros({n, out, r}, f32)).to(w.device).set_requires_grad(true);
      t.linear->lora_a = t.a;
      t.linear->lora_b = t.b;
      t.linear->lora_scale = opts.scale();
      t.linear->lora_dropout = opts.dropout;
      t.linear->lora_rows = n == 1 ? nullptr : &set.rows;
      set.targets.push_back(std::move(t));
    }
}

void lora_detach(LoraSet& set) {
  for (LoraTarget& t : set.targets) {
    t.linear->lora_a = torch::Tensor();
    t.linear->lora_b = torch::Tensor();
    t.linear->lora_rows = nullptr;
  }
}

void tensors_save(const fs::path& path, const NamedTensors& tensors, std::map<std::string, std::string> metadata) {
  std::vector<torch::Tensor> keep;
  std::vector<TensorData> data;
  for (const auto& [name, t0] : tensors) {
    torch::Tensor t = t0.detach().to(torch::kCPU).contiguous();
    DType d;
    switch (t.scalar_type()) {
      case torch::kFloat32: d = DType::f32; break;
      case torch::kBFloat16: d = DType::bf16; break;
      case torch::kFloat16: d = DType::f16; break;
      case torch::kInt64: d = DType::i64; break;
      case torch::kInt32: d = DType::i32; break;
      default: SLMIFY_ASSERT(false, "tensors_save: unsupported dtype for " + name);
    }
    keep.push_back(t);
    data.push_back({name, d, t.sizes().vec(),
                    std::span<const std::byte>(static_cast<const std::byte*>(t.data_ptr()), size_t(t.nbytes()))});
  }
  safetensors_write(path, data, std::move(metadata));
}

// Parameters of method full, by their HF names (tied lm_head appears once, as the embedding).
NamedTensors transformer_named_weights(TransformerWeights& w) {
  const ModelConfig& c = w.config;
  NamedTensors p;
  p.emplace_back("model.embed_tokens.weight", w.embed);
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string pre = "model.layers." + std::to_string(i) + ".";
    DecoderLayer& L = w.layers[size_t(i)];
    p.emplace_back(pre + "input_layernorm.weight", L.input_norm);
    p.emplace_back(pre + "post_attention_layernorm.weight", L.post_attention_norm);
    for (const char* name : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.qkv_proj", "self_attn.o_proj",
                             "mlp.gate_proj", "mlp.up_proj", "mlp.gate_up_proj", "mlp.down_proj"}) {
      Linear* lin = transformer_linear(w, pre + name);
      if (!lin) continue;
      p.emplace_back(pre + name + ".weight", lin->weight);
      if (lin->bias.defined()) p.emplace_back(pre + name + ".bias", lin->bias);
    }
  }
  p.emplace_back("model.norm.weight", w.final_norm);
  if (!c.tie_word_embeddings) p.emplace_back("lm_head.weight", w.lm_head.weight);
  return p;
}

void adamw_step(std::vector<torch::Tensor>& params, std::vector<torch::Tensor>& m1, std::vector<torch::Tensor>& m2,
                int64_t step, double lr, double weight_decay) {
  torch::NoGradGuard ng;
  const double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  const double bc1 = 1.0 - std::pow(beta1, double(step)), bc2 = 1.0 - std::pow(beta2, double(step));
  for (size_t i = 0; i < params.size(); ++i) {
    torch::Tensor& p = params[i];
    if (!p.grad().defined()) continue;
    torch::Tensor g = p.grad();
    if (weight_decay > 0) p.mul_(1.0 - lr * weight_decay);
    m1[i].mul_(beta1).add_(g, 1.0 - beta1);
    m2[i].mul_(beta2).addcmul_(g, g, 1.0 - beta2);
    torch::Tensor denom = (m2[i].sqrt() / std::sqrt(bc2)).add_(eps);
    p.addcdiv_(m1[i], denom, -lr / bc1);
    p.mutable_grad().reset();
  }
}

void lora_save_peft(const LoraSet& set, int64_t index, const fs::path& dir, const ModelConfig& c,
                    const std::string& base_model_name) {
  fs::create_directories(dir);
  NamedTensors tensors;
  for (const LoraTarget& t : set.targets) {
    torch::Tensor a = t.a.dim() == 3 ? t.a[index] : t.a, b = t.b.dim() == 3 ? t.b[index] : t.b;
    tensors.emplace_back("base_model.model." + t.module + ".lora_A.weight", a.to(torch::kFloat32));
    tensors.emplace_back("base_model.model." + t.module + ".lora_B.weight", b.to(torch::kFloat32));
  }
  tensors_save(dir / "adapter_model.safetensors", tensors);
  const LoraOptions& o = set.opts;
  json cfg = {{"peft_type", "LORA"},
              {"task_type", "CAUSAL_LM"},
              {"base_model_name_or_path", base_model_name},
              {"r", o.rank},
              {"lora_alpha", o.alpha},
              {"lora_dropout", o.dropout},
              {"target_modules", set.short_names},
              {"bias", "none"},
              {"fan_in_fan_out", false},
              {"use_rslora", o.rslora},
              {"use_dora", false},
              {"modules_to_save", nullptr},
              {"init_lora_weights", true},
              {"inference_mode", true},
              {"revision", nullptr}};
  (void)c;
  write_file_atomic(dir / "adapter_config.json", cfg.dump(2) + "\n");
}

void lora_load_peft(LoraSet& set, int64_t index, const fs::path& dir) {
  Checkpoint ckpt(dir, "adapter_model.safetensors");
  torch::NoGradGuard no_grad;
  size_t used = 0;
  for (LoraTarget& t : set.targets)
    for (int ab = 0; ab < 2; ++ab) {
      std::string name = "base_model.model." + t.module + (ab == 0 ? ".lora_A.weight" : ".lora_B.weight");
      if (!ckpt.find(name))
        throw_bad_data(dir.string(), "adapter has no tensor " + name, "start from scratch (retrain.init_from: scratch) or train with the same target_modules");
      torch::Tensor src = checkpoint_tensor(ckpt, name).to(torch::kFloat32);
      torch::Tensor dst = ab == 0 ? t.a : t.b;
      if (dst.dim() == 3) dst = dst[index];
      if (src.sizes() != dst.sizes())
        throw_bad_data(dir.string(), "tensor " + name + " has another shape than this run's LoRA (rank " + std::to_string(set.opts.rank) + ")",
                       "train with the serving adapter's rank, or from scratch");
      dst.copy_(src);
      ++used;
    }
  if (used != ckpt.names().size())
    throw_bad_data(dir.string(), "adapter has tensors for modules this run does not train", "use the same target_modules as the serving adapter");
}

}  // namespace slmify
