// Loading a transformer's weights from safetensors (checked against the config's shapes), the RoPE
// frequencies (default, linear, llama3), and merging PEFT LoRA adapters for inference.
#include <cmath>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fsutil.h"
#include "model/transformer.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

torch::ScalarType torch_dtype_of(DType t) {
  switch (t) {
    case DType::f32: return torch::kFloat32;
    case DType::f16: return torch::kFloat16;
    case DType::bf16: return torch::kBFloat16;
    case DType::i64: return torch::kInt64;
    case DType::i32: return torch::kInt32;
    case DType::u8: return torch::kUInt8;
    case DType::boolean: return torch::kBool;
  }
  return torch::kFloat32;
}

torch::Tensor checkpoint_tensor(const Checkpoint& ckpt, const std::string& name) {
  const SafetensorsFile* file = nullptr;
  const TensorInfo* t = ckpt.find(name, &file);
  SLMIFY_ASSERT(t, "checkpoint_tensor: " + name + " not found");
  torch::Tensor out = torch::empty(t->shape, torch::TensorOptions().dtype(torch_dtype_of(t->dtype)));
  auto bytes = file->bytes(*t);
  std::memcpy(out.data_ptr(), bytes.data(), bytes.size());  // the mapping may be unaligned: copy
  return out;
}

namespace {

// HF: inv_freq = 1 / theta^(arange(0, hd, 2) / hd) in fp32, then the scaling rule.
torch::Tensor rope_inv_freq(const ModelConfig& c) {
  torch::Tensor idx = torch::arange(0, c.head_dim, 2, torch::TensorOptions().dtype(torch::kInt64)).to(torch::kFloat32);
  torch::Tensor inv = 1.0 / torch::pow(torch::tensor(c.rope_theta, torch::kFloat32), idx / double(c.head_dim));
  const RopeScaling& s = c.rope_scaling;
  if (s.type == "linear") return inv / s.factor;
  if (s.type != "llama3") return inv;
  const double old_len = double(s.original_max_position);
  const double low_wl = old_len / s.low_freq_factor, high_wl = old_len / s.high_freq_factor;
  torch::Tensor wl = 2 * M_PI / inv;
  torch::Tensor scaled = torch::where(wl > low_wl, inv / s.factor, inv);
  torch::Tensor smooth = (old_len / wl - s.low_freq_factor) / (s.high_freq_factor - s.low_freq_factor);
  torch::Tensor smoothed = (1 - smooth) * scaled / s.factor + smooth * scaled;
  torch::Tensor medium = (wl >= high_wl) & (wl <= low_wl);
  return torch::where(medium, smoothed, scaled);
}

struct Loader {
  const Checkpoint& ckpt;
  torch::Device device;
  torch::ScalarType dtype;
  std::set<std::string> used;

  torch::Tensor get(const std::string& name, const std::vector<int64_t>& shape) {
    const SafetensorsFile* file = nullptr;
    const TensorInfo* t = ckpt.find(name, &file);
    std::string where = ckpt.files().size() == 1 ? ckpt.files()[0]->path().string() : ckpt.files()[0]->path().parent_path().string();
    if (!t)
      throw_bad_data(where, "tensor " + name + " is missing",
                     "the checkpoint does not match its config.json (wrong num_hidden_layers, or an unsupported variant); copy the checkpoint again");
    if (t->shape != shape) {
      auto str = [](const std::vector<int64_t>& v) {
        std::string s = "[";
        for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + std::to_string(v[i]);
        return s + "]";
      };
      throw_bad_data(file->path().string(), "tensor " + name + " has shape " + str(t->shape) + ", config.json implies " + str(shape),
                     "the weights and config.json do not belong together");
    }
    if (t->dtype != DType::f32 && t->dtype != DType::f16 && t->dtype != DType::bf16)
      throw_bad_data(file->path().string(), "tensor " + name + " has dtype " + dtype_name(t->dtype) + ", weights must be F32, F16 or BF16");
    used.insert(name);
    return checkpoint_tensor(ckpt, name).to(device, dtype);
  }
  Linear linear(const std::string& prefix, int64_t out, int64_t in, bool bias) {
    Linear l;
    l.weight = get(prefix + ".weight", {out, in});
    if (bias) l.bias = get(prefix + ".bias", {out});
    return l;
  }
};

std::string shape_str(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

}  // namespace

void transformer_load(TransformerWeights& w, const ModelConfig& c, const Checkpoint& ckpt, torch::Device device,
                      torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  w.config = c;
  w.device = device;
  w.dtype = dtype;
  Loader ld{ckpt, device, dtype, {}};
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  w.embed = ld.get("model.embed_tokens.weight", {c.vocab_size, H});
  w.layers.resize(size_t(c.num_layers));
  for (int64_t i = 0; i < c.num_layers; ++i) {
    std::string p = "model.layers." + std::to_string(i) + ".";
    DecoderLayer& L = w.layers[size_t(i)];
    L.input_norm = ld.get(p + "input_layernorm.weight", {H});
    L.post_attention_norm = ld.get(p + "post_attention_layernorm.weight", {H});
    if (c.fused_qkv) {
      L.qkv = ld.linear(p + "self_attn.qkv_proj", c.q_dim() + 2 * c.kv_dim(), H, c.qkv_bias);
    } else {
      L.q = ld.linear(p + "self_attn.q_proj", c.q_dim(), H, c.qkv_bias);
      L.k = ld.linear(p + "self_attn.k_proj", c.kv_dim(), H, c.qkv_bias);
      L.v = ld.linear(p + "self_attn.v_proj", c.kv_dim(), H, c.qkv_bias);
    }
    L.o = ld.linear(p + "self_attn.o_proj", H, c.q_dim(), c.o_bias);
    if (c.fused_gate_up) {
      L.gate_up = ld.linear(p + "mlp.gate_up_proj", 2 * I, H, false);
    } else {
      L.gate = ld.linear(p + "mlp.gate_proj", I, H, c.mlp_bias);
      L.up = ld.linear(p + "mlp.up_proj", I, H, c.mlp_bias);
    }
    L.down = ld.linear(p + "mlp.down_proj", H, I, c.mlp_bias && !c.fused_gate_up);
  }
  w.final_norm = ld.get("model.norm.weight", {H});
  if (c.tie_word_embeddings) {
    w.lm_head.weight = w.embed;  // like the reference, an lm_head.weight in the file is ignored
    ld.used.insert("lm_head.weight");
  } else {
    w.lm_head = ld.linear("lm_head", c.vocab_size, H, false);
  }
  w.inv_freq = rope_inv_freq(c).to(device);
}

Linear* transformer_linear(TransformerWeights& w, const std::string& module) {
  if (module == "lm_head") return &w.lm_head;
  const std::string pre = "model.layers.";
  if (module.rfind(pre, 0) != 0) return nullptr;
  size_t dot = module.find('.', pre.size());
  if (dot == std::string::npos) return nullptr;
  size_t idx = 0;
  try {
    idx = std::stoul(module.substr(pre.size(), dot - pre.size()));
  } catch (...) {
    return nullptr;
  }
  if (idx >= w.layers.size()) return nullptr;
  DecoderLayer& L = w.layers[idx];
  std::string rest = module.substr(dot + 1);
  const bool fq = w.config.fused_qkv, fg = w.config.fused_gate_up;
  if (rest == "self_attn.q_proj" && !fq) return &L.q;
  if (rest == "self_attn.k_proj" && !fq) return &L.k;
  if (rest == "self_attn.v_proj" && !fq) return &L.v;
  if (rest == "self_attn.qkv_proj" && fq) return &L.qkv;
  if (rest == "self_attn.o_proj") return &L.o;
  if (rest == "mlp.gate_proj" && !fg) return &L.gate;
  if (rest == "mlp.up_proj" && !fg) return &L.up;
  if (rest == "mlp.gate_up_proj" && fg) return &L.gate_up;
  if (rest == "mlp.down_proj") return &L.down;
  return nullptr;
}

void transformer_load_adapter(TransformerWeights& w, const fs::path& dir, bool merge) {
  torch::NoGradGuard no_grad;
  fs::path cfg_path = dir / "adapter_config.json";
  if (!fs::exists(cfg_path)) throw_io(cfg_path.string(), "adapter directory has no adapter_config.json", "point --adapter at a PEFT LoRA adapter directory");
  json cfg;
  try {
    cfg = json::parse(read_file(cfg_path));
  } catch (const json::exception& ex) {
    throw_bad_data(cfg_path.string(), std::string("not valid JSON: ") + ex.what());
  }
  if (cfg.value("peft_type", std::string("LORA")) != "LORA")
    throw_usage(cfg_path.string(), "peft_type " + cfg.value("peft_type", std::string()) + " is not supported", "slmify loads LoRA adapters");
  if (cfg.value("use_dora", false)) throw_usage(cfg_path.string(), "DoRA adapters (use_dora: true) are not supported");
  if (cfg.value("bias", std::string("none")) != "none")
    throw_usage(cfg_path.string(), "adapters with bias " + cfg.value("bias", std::string()) + " are not supported", "train with bias: none");
  if (!cfg.contains("r") || !cfg["r"].is_number_integer() || cfg["r"].get<int64_t>() <= 0)
    throw_bad_data(cfg_path.string(), "r must be a positive integer");
  const double r = cfg["r"].get<double>();
  const double alpha = cfg.contains("lora_alpha") && cfg["lora_alpha"].is_number() ? cfg["lora_alpha"].get<double>() : r;
  const bool rs = cfg.value("use_rslora", false);
  if (cfg.contains("rank_pattern") && cfg["rank_pattern"].is_object() && !cfg["rank_pattern"].empty())
    throw_usage(cfg_path.string(), "rank_pattern is not supported", "train the adapter with one rank for all modules");
  Checkpoint ckpt = [&] {
    if (!fs::exists(dir / "adapter_model.safetensors"))
      throw_io((dir / "adapter_model.safetensors").string(), "adapter weights are missing",
               fs::exists(dir / "adapter_model.bin") ? "adapter_model.bin is not supported: re-save with safe_serialization=True" : "");
    // Checkpoint expects model.safetensors; open the adapter file directly.
    return Checkpoint(dir, "adapter_model.safetensors");
  }();
  const std::string pre = "base_model.model.", suf_a = ".lora_A.weight";
  int merged = 0;
  for (const std::string& name : ckpt.names()) {
    if (name.find("lora_embedding") != std::string::npos)
      throw_usage(dir.string(), "embedding LoRA (" + name + ") is not supported");
    if (name.size() < suf_a.size() || name.compare(name.size() - suf_a.size(), suf_a.size(), suf_a) != 0) {
      if (name.find(".lora_B.") == std::string::npos)
        throw_usage(dir.string(), "tensor " + name + " is not a LoRA A/B weight", "slmify merges only lora_A/lora_B (no modules_to_save)");
      continue;
    }
    if (name.rfind(pre, 0) != 0) throw_bad_data(dir.string(), "tensor " + name + " does not start with base_model.model.");
    std::string module = name.substr(pre.size(), name.size() - pre.size() - suf_a.size());
    Linear* lin = transformer_linear(w, module);
    if (!lin) throw_usage(dir.string(), "adapter targets " + module + ", which this model does not have", "the adapter was trained for another architecture");
    std::string bname = pre + module + ".lora_B.weight";
    if (!ckpt.find(bname)) throw_bad_data(dir.string(), "tensor " + bname + " is missing");
    torch::Tensor A = checkpoint_tensor(ckpt, name).to(torch::kFloat32);   // [r, in]
    torch::Tensor B = checkpoint_tensor(ckpt, bname).to(torch::kFloat32);  // [out, r]
    if (A.dim() != 2 || B.dim() != 2 || A.size(1) != lin->weight.size(1) || B.size(0) != lin->weight.size(0) || A.size(0) != B.size(1))
      throw_bad_data(dir.string(), "LoRA tensors of " + module + " (A " + shape_str(A) + ", B " + shape_str(B) + ") do not fit its weight " + shape_str(lin->weight), "the adapter was trained for another model size");
    const double rank = double(A.size(0));
    const double scale = rs ? alpha / std::sqrt(rank) : alpha / rank;
    if (merge) {
      torch::Tensor delta = torch::matmul(B, A).mul(scale);  // [out, in]
      lin->weight = (lin->weight.to(torch::kCPU, torch::kFloat32) + delta).to(w.device, w.dtype);
    } else {  // kept as a separate fp32 branch, as in training
      lin->lora_a = A.to(w.device);
      lin->lora_b = B.to(w.device);
      lin->lora_scale = scale;
    }
    ++merged;
  }
  (void)r;
  if (merged == 0) throw_bad_data(dir.string(), "the adapter has no LoRA weights");
  if (w.config.tie_word_embeddings && (w.lm_head.lora_a.defined() || w.lm_head.weight.data_ptr() != w.embed.data_ptr()))
    throw_usage(dir.string(), "the adapter changes lm_head of a model with tied embeddings", "train without lm_head in target_modules");
}

}  // namespace slmify
