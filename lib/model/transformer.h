// The one decoder-only transformer, parameterised by ModelConfig (Llama, Mistral, Qwen2, Phi-3,
// Gemma differ only in flags). INCLUDES LIBTORCH: only lib/model and lib/train sources include this.
// Shapes: B batch, T new positions, S cached+new positions, H hidden, V vocab, hd head_dim.
// Tested by tests/model/test_transformer.cpp (logits and generations against transformers).
#pragma once

#include <torch/types.h>

#include <vector>

#include "model/hf_config.h"
#include "model/safetensors.h"

namespace slmify {

/// y = x Wᵀ + b, plus an optional LoRA branch scale · B(A(dropout(x))) (lib/train sets it).
/// Several adapters over one base (lib/train's multi-adapter training): lora_a [n, r, in] and
/// lora_b [n, out, r], and *lora_rows [B] says which adapter each row of the batch uses.
struct Linear {
  torch::Tensor weight;  // [out, in]
  torch::Tensor bias;    // [out] or undefined
  torch::Tensor lora_a;  // [r, in] (or [n, r, in]) or undefined
  torch::Tensor lora_b;  // [out, r] (or [n, out, r])
  double lora_scale = 0.0;
  double lora_dropout = 0.0;
  const torch::Tensor* lora_rows = nullptr;  // [B] int64 adapter per row, with 3-d lora_a
  torch::Tensor forward(const torch::Tensor& x) const;
};

struct DecoderLayer {
  torch::Tensor input_norm, post_attention_norm;  // [H]
  Linear q, k, v;       // separate projections (qkv unused)
  Linear qkv;           // Phi-3 fused [(q+2kv), H]
  Linear o;
  Linear gate, up;      // separate (gate_up unused)
  Linear gate_up;       // Phi-3 fused [2I, H], first half gate
  Linear down;
};

/// Keys and values of past positions, preallocated for `capacity` positions.
struct KvCache {
  std::vector<torch::Tensor> k, v;  // per layer [B, KV, capacity, hd]
  int64_t length = 0;               // positions filled
  torch::Tensor key_valid;          // [B, capacity] bool: false for left padding
};

/// The attention of packed training rows as blocks (training, no cache): each block is a run of
/// query positions [start, start+len) of its row that attends causally to itself and fully to an
/// optional prefix [prefix_start, prefix_start+prefix_len) of the same row. The blocks of a row
/// tile it in order from position 0; positions after the last block are padding. Computed block by
/// block, so a row costs the sum of its blocks' attention, not T²: a shared prefix followed by
/// many continuations (shared-prefix packing) or many short packed calls cost what they would
/// alone. Equal to the dense mask of `segments` and `branches` (tests/train/test_lora.cpp).
struct AttentionBlock {
  int64_t prefix_start = 0, prefix_len = 0, start = 0, len = 0;
};
using AttentionBlocks = std::vector<std::vector<AttentionBlock>>;  // [B] rows

struct TransformerWeights {
  ModelConfig config;
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  torch::Tensor embed;        // [V, H]
  std::vector<DecoderLayer> layers;
  torch::Tensor final_norm;   // [H]
  Linear lm_head;             // weight aliases embed when tied
  torch::Tensor inv_freq;     // [hd/2] fp32, scaling applied

  /// Hidden states after the final norm for `ids` [B, T] at `positions` [B, T] (int64). With a
  /// cache, attends to its filled positions and appends this step's keys/values.
  /// `key_valid` [B, T] bool marks real (non-padding) tokens; undefined = all real.
  /// `segments` [B, T] int64 (training, no cache): packed sequences, a query sees only keys of its
  /// own segment (block-diagonal causal attention); positions restart per segment.
  /// `branches` [B, T] int64 (with segments): a segment that is a shared prefix (branch 0)
  /// followed by continuations (branches 1, 2, ...): a query of branch k sees the prefix and its
  /// own branch only, so each continuation is computed exactly as if it followed the prefix alone.
  /// `blocks` (training, no cache): the same structure as blocks, computed without a [T, T] mask;
  /// segments and branches are then not needed.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& positions, KvCache* cache,
                        const torch::Tensor& key_valid = {}, const torch::Tensor& segments = {},
                        const torch::Tensor& branches = {}, const AttentionBlocks* blocks = nullptr) const;
  torch::Tensor logits(const torch::Tensor& hidden) const;  // [B, T, H] -> [B, T, V] fp32
  KvCache make_cache(int64_t batch, int64_t capacity) const;
};

/// Reads the weights of `config` from `ckpt` onto device/dtype; errors name the file and tensor.
void transformer_load(TransformerWeights& w, const ModelConfig& config, const Checkpoint& ckpt,
                      torch::Device device, torch::ScalarType dtype);
/// The tensor `name` of `ckpt` as a CPU tensor of its stored dtype (copied out of the mapping).
torch::Tensor checkpoint_tensor(const Checkpoint& ckpt, const std::string& name);
/// Applies a PEFT LoRA adapter (adapter_config.json + adapter_model.safetensors) to `w`: merged
/// into the weights (W += scale·BA), or attached as separate LoRA branches of the Linears.
void transformer_load_adapter(TransformerWeights& w, const std::filesystem::path& adapter_dir, bool merge);
/// The Linear called by its HF module path, e.g. "model.layers.3.self_attn.q_proj"; nullptr if none.
Linear* transformer_linear(TransformerWeights& w, const std::string& module);

torch::ScalarType torch_dtype_of(DType t);

}  // namespace slmify
