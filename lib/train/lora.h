// LoRA on a loaded transformer, and the PEFT adapter format. INCLUDES LIBTORCH: lib/train only.
// One set of trainable fp32 A/B tensors per target Linear; with n_adapters > 1 they are stacked
// ([n, r, in], [n, out, r]) and every batch row picks its adapter (multi-adapter training).
// Tested by tests/train/test_lora.cpp (B = 0 equals the base, gradients against finite
// differences, merge, PEFT round trip in Python).
#pragma once

#include <torch/types.h>

#include <filesystem>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/transformer.h"

namespace slmify {

struct LoraOptions {
  int64_t rank = 16;
  double alpha = 32;
  double dropout = 0.0;
  bool rslora = false;
  std::vector<std::string> target_modules = {"all-linear"};  ///< all-linear or short names (q_proj, ...)
  int64_t n_adapters = 1;
  uint64_t seed = 0;
  double scale() const;
};

struct LoraTarget {
  std::string module;  ///< HF module path, e.g. model.layers.0.self_attn.q_proj
  Linear* linear = nullptr;
  torch::Tensor a, b;  ///< the trainable leaves
};

struct LoraSet {
  LoraOptions opts;
  std::vector<std::string> short_names;  ///< target_modules as written to adapter_config.json
  std::vector<LoraTarget> targets;
  torch::Tensor rows;  ///< [B] int64: adapter of each batch row (multi-adapter)
  std::vector<torch::Tensor> parameters() const;
};

/// The short module names `target_modules` resolves to for this architecture (all-linear: every
/// attention and MLP projection; fused ones for Phi-3). usage Error naming the valid ones.
std::vector<std::string> lora_resolve_targets(const ModelConfig& c, const std::vector<std::string>& target_modules);
/// Attaches fresh LoRA branches (A ~ kaiming-uniform(a=√5) as PEFT, B = 0) to `w`; the base
/// weights get requires_grad false. Deterministic given opts.seed.
void lora_attach(TransformerWeights& w, LoraSet& set, const LoraOptions& opts);
/// Removes the branches from the Linears (the set keeps its tensors).
void lora_detach(LoraSet& set);

/// Writes adapter `index` of the set as a PEFT adapter: adapter_config.json (standard keys only)
/// and adapter_model.safetensors with PEFT's key names (base_model.model.<module>.lora_A.weight).
void lora_save_peft(const LoraSet& set, int64_t index, const std::filesystem::path& dir, const ModelConfig& c,
                    const std::string& base_model_name);
/// Loads the A/B tensors of a PEFT adapter into adapter `index` of an attached set (resuming from
/// a serving adapter); the adapter must have the set's rank and targets.
void lora_load_peft(LoraSet& set, int64_t index, const std::filesystem::path& dir);

/// Writes named tensors (fp32, bf16, f16, int64 or int32, any device) to a safetensors file,
/// atomically; used for adapters, merged checkpoints and training checkpoints.
using NamedTensors = std::vector<std::pair<std::string, torch::Tensor>>;
void tensors_save(const std::filesystem::path& path, const NamedTensors& tensors,
                  std::map<std::string, std::string> metadata = {});

/// One AdamW update as torch.optim.AdamW does it (decoupled weight decay, bias-corrected
/// moments; betas 0.9/0.999, eps 1e-8). `step` counts from 1. Parameters without a gradient
/// are left alone; gradients are cleared.
void adamw_step(std::vector<torch::Tensor>& params, std::vector<torch::Tensor>& exp_avg, std::vector<torch::Tensor>& exp_avg_sq,
                int64_t step, double lr, double weight_decay);

/// The weights of `w` under their Hugging Face names, in checkpoint order (a tied lm_head is
/// not listed: it is the embedding). The tensors alias the model's.
NamedTensors transformer_named_weights(TransformerWeights& w);

}  // namespace slmify
