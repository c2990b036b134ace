// A Hugging Face model's config.json and generation_config.json, read into one plain struct that
// parameterises the single transformer implementation (lib/model/transformer.cpp). No torch here:
// `slmify model info`, select and the CLI use it. Which families and fields are supported, and
// how each maps, is in docs/models.md. Tested by tests/model/test_transformer.cpp (with
// transformers' own configs) and tests/model/test_safetensors.cpp (errors).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace slmify {

struct RopeScaling {
  std::string type = "default";  ///< default, linear, llama3
  double factor = 1.0;
  double low_freq_factor = 1.0;     ///< llama3
  double high_freq_factor = 4.0;    ///< llama3
  int64_t original_max_position = 8192;  ///< llama3
};

struct ModelConfig {
  std::string model_type;     ///< llama, mistral, qwen2, phi3, gemma
  std::string architecture;   ///< e.g. LlamaForCausalLM
  int64_t vocab_size = 0;
  int64_t hidden_size = 0;
  int64_t intermediate_size = 0;
  int64_t num_layers = 0;
  int64_t num_heads = 0;
  int64_t num_kv_heads = 0;
  int64_t head_dim = 0;       ///< config head_dim when given, else hidden/heads
  int64_t max_position_embeddings = 0;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  RopeScaling rope_scaling;
  bool tie_word_embeddings = false;
  bool qkv_bias = false;      ///< q/k/v projections have biases (Qwen2; attention_bias)
  bool o_bias = false;        ///< o_proj has a bias (attention_bias on Llama)
  bool mlp_bias = false;
  bool fused_qkv = false;     ///< Phi-3: self_attn.qkv_proj
  bool fused_gate_up = false; ///< Phi-3: mlp.gate_up_proj (first half gate)
  bool gemma = false;         ///< Gemma: RMSNorm x(1+w), embeddings x sqrt(hidden)
  std::string hidden_act = "silu";  ///< silu, gelu_tanh
  std::optional<int64_t> sliding_window;  ///< attend to at most this many previous positions
  std::string torch_dtype = "float32";    ///< dtype the weights were saved in
  std::optional<int32_t> bos_token_id;
  std::vector<int32_t> eos_token_ids;     ///< config plus generation_config, in order, unique
  nlohmann::json raw;                     ///< config.json as read

  int64_t q_dim() const { return num_heads * head_dim; }
  int64_t kv_dim() const { return num_kv_heads * head_dim; }
};

/// Reads config.json (and generation_config.json for EOS ids) of `model_dir`. Unsupported
/// architectures and missing or inconsistent fields are usage Errors naming the file and field.
ModelConfig model_config_load(const std::filesystem::path& model_dir);
/// Same from an already parsed config.json (`source` names it in errors).
ModelConfig model_config_parse(const nlohmann::json& config, const std::string& source);
/// The model_types slmify runs, for messages and docs.
const std::vector<std::string>& model_config_supported();

/// The weight tensors (HF names and shapes) a checkpoint of this config must contain.
struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape;
};
std::vector<WeightSpec> model_weight_specs(const ModelConfig& c);
int64_t model_param_count(const ModelConfig& c);

/// Sampling defaults from generation_config.json (absent fields keep these values).
struct GenerationDefaults {
  bool do_sample = false;
  double temperature = 1.0;
  int64_t top_k = 50;
  double top_p = 1.0;
  double repetition_penalty = 1.0;
  int64_t max_new_tokens = 256;
};
GenerationDefaults generation_defaults_load(const std::filesystem::path& model_dir);

}  // namespace slmify
