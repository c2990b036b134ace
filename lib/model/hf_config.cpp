// config.json → ModelConfig: one place that knows how each supported family spells its fields.
#include "model/hf_config.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"
#include "core/fsutil.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const char* kSupportedHint =
    "slmify runs the Llama family (Llama 2/3/3.1/3.2, TinyLlama, SmolLM2), Mistral, Qwen2/Qwen2.5 (and "
    "DeepSeek-R1-Distill-Qwen), Phi-3 and Gemma (1); see docs/models.md";

json read_json(const fs::path& p) {
  try {
    return json::parse(read_file(p));
  } catch (const json::exception& ex) {
    throw_bad_data(p.string(), std::string("not valid JSON: ") + ex.what(), "restore the file from the original checkpoint");
  }
}

struct Reader {
  const json& j;
  const std::string& source;
  bool has(const char* k) const { return j.contains(k) && !j[k].is_null(); }
  int64_t integer(const char* k, std::optional<int64_t> dflt = std::nullopt) const {
    if (!has(k)) {
      if (dflt) return *dflt;
      throw_usage(source, std::string("missing field ") + k, "the config.json is incomplete: restore it from the original checkpoint");
    }
    if (!j[k].is_number_integer() || j[k].get<int64_t>() < 0)
      throw_usage(source, std::string(k) + " must be a non-negative integer (got " + j[k].dump() + ")");
    return j[k].get<int64_t>();
  }
  double number(const json& o, const char* k, double dflt) const {
    if (!o.contains(k) || o[k].is_null()) return dflt;
    if (!o[k].is_number()) throw_usage(source, std::string(k) + " must be a number (got " + o[k].dump() + ")");
    return o[k].get<double>();
  }
  bool boolean(const char* k, bool dflt) const {
    if (!has(k)) return dflt;
    if (!j[k].is_boolean()) throw_usage(source, std::string(k) + " must be true or false (got " + j[k].dump() + ")");
    return j[k].get<bool>();
  }
};

void add_ids(const json& v, std::vector<int32_t>& out) {
  auto add = [&](const json& x) {
    if (x.is_number_integer()) {
      int32_t id = x.get<int32_t>();
      if (std::find(out.begin(), out.end(), id) == out.end()) out.push_back(id);
    }
  };
  if (v.is_array())
    for (const json& x : v) add(x);
  else
    add(v);
}

void parse_rope(const json& j, Reader& r, ModelConfig& c) {
  // transformers v5 may keep RoPE settings in rope_parameters; older configs in rope_theta + rope_scaling.
  const json* rp = j.contains("rope_parameters") && j["rope_parameters"].is_object() ? &j["rope_parameters"] : nullptr;
  c.rope_theta = r.number(j, "rope_theta", rp ? r.number(*rp, "rope_theta", 10000.0) : 10000.0);
  const json* sc = j.contains("rope_scaling") && j["rope_scaling"].is_object() ? &j["rope_scaling"] : rp;
  if (!sc) return;
  std::string type = sc->value("rope_type", sc->value("type", std::string("default")));
  if (type == "default") return;
  if (type != "linear" && type != "llama3")
    throw_usage(r.source, "rope_scaling type " + type + " is not supported",
                "slmify supports the default RoPE, linear and llama3 scaling; the model's long-context variant may have a default-RoPE sibling");
  c.rope_scaling.type = type;
  c.rope_scaling.factor = r.number(*sc, "factor", 1.0);
  c.rope_scaling.low_freq_factor = r.number(*sc, "low_freq_factor", 1.0);
  c.rope_scaling.high_freq_factor = r.number(*sc, "high_freq_factor", 4.0);
  c.rope_scaling.original_max_position = static_cast<int64_t>(r.number(*sc, "original_max_position_embeddings", 8192));
  if (c.rope_scaling.factor <= 0) throw_usage(r.source, "rope_scaling.factor must be > 0");
}

}  // namespace

const std::vector<std::string>& model_config_supported() {
  static const std::vector<std::string> v = {"llama", "mistral", "qwen2", "phi3", "gemma"};
  return v;
}

ModelConfig model_config_parse(const json& j, const std::string& source) {
  if (!j.is_object()) throw_usage(source, "config is not a JSON object");
  ModelConfig c;
  c.raw = j;
  c.model_type = j.value("model_type", std::string());
  if (j.contains("architectures") && j["architectures"].is_array() && !j["architectures"].empty() && j["architectures"][0].is_string())
    c.architecture = j["architectures"][0].get<std::string>();
  const auto& sup = model_config_supported();
  if (std::find(sup.begin(), sup.end(), c.model_type) == sup.end())
    throw_usage(source, "architecture " + (c.model_type.empty() ? std::string("(no model_type)") : c.model_type) +
                            (c.architecture.empty() ? "" : " (" + c.architecture + ")") + " is not supported",
                kSupportedHint);
  Reader r{j, source};
  c.vocab_size = r.integer("vocab_size");
  c.hidden_size = r.integer("hidden_size");
  c.intermediate_size = r.integer("intermediate_size");
  c.num_layers = r.integer("num_hidden_layers");
  c.num_heads = r.integer("num_attention_heads");
  c.num_kv_heads = r.integer("num_key_value_heads", c.num_heads);
  if (c.num_heads == 0 || c.hidden_size == 0 || c.num_layers == 0 || c.vocab_size == 0)
    throw_usage(source, "hidden_size, num_attention_heads, num_hidden_layers and vocab_size must be > 0");
  c.head_dim = r.integer("head_dim", c.hidden_size / c.num_heads);
  if (c.num_kv_heads == 0 || c.num_heads % c.num_kv_heads != 0)
    throw_usage(source, "num_attention_heads (" + std::to_string(c.num_heads) + ") must be a multiple of num_key_value_heads (" +
                            std::to_string(c.num_kv_heads) + ")");
  if (c.head_dim % 2 != 0) throw_usage(source, "head_dim must be even for rotary embeddings (got " + std::to_string(c.head_dim) + ")");
  c.max_position_embeddings = r.integer("max_position_embeddings", 2048);
  c.rms_norm_eps = r.number(j, "rms_norm_eps", 1e-6);
  parse_rope(j, r, c);
  if (r.has("partial_rotary_factor") && r.number(j, "partial_rotary_factor", 1.0) != 1.0)
    throw_usage(source, "partial_rotary_factor " + j["partial_rotary_factor"].dump() + " is not supported", "slmify applies RoPE to the whole head");
  c.tie_word_embeddings = r.boolean("tie_word_embeddings", c.model_type == "gemma");
  c.hidden_act = j.value("hidden_act", std::string("silu"));
  if (r.has("torch_dtype") && j["torch_dtype"].is_string()) c.torch_dtype = j["torch_dtype"].get<std::string>();
  if (r.has("dtype") && j["dtype"].is_string()) c.torch_dtype = j["dtype"].get<std::string>();  // transformers v5 name
  if (c.model_type == "llama") {
    c.qkv_bias = c.o_bias = r.boolean("attention_bias", false);
    c.mlp_bias = r.boolean("mlp_bias", false);
  } else if (c.model_type == "mistral") {
    if (r.has("sliding_window")) c.sliding_window = r.integer("sliding_window");
  } else if (c.model_type == "qwen2") {
    c.qkv_bias = true;  // Qwen2 hard-codes biases on q, k and v (not o)
    if (r.boolean("use_sliding_window", false))
      throw_usage(source, "use_sliding_window: true is not supported for qwen2", "released Qwen2/2.5 checkpoints set it to false");
  } else if (c.model_type == "phi3") {
    c.fused_qkv = c.fused_gate_up = true;
    if (r.has("sliding_window")) c.sliding_window = r.integer("sliding_window");
  } else if (c.model_type == "gemma") {
    c.gemma = true;
    // Gemma's reference code uses the tanh approximation whatever hidden_act says.
    c.hidden_act = j.value("hidden_activation", std::string("gelu_pytorch_tanh"));
  }
  if (c.hidden_act == "gelu_pytorch_tanh" || c.hidden_act == "gelu_new" || (c.gemma && c.hidden_act == "gelu")) c.hidden_act = "gelu_tanh";
  if (c.hidden_act != "silu" && c.hidden_act != "gelu_tanh")
    throw_usage(source, "hidden_act " + c.hidden_act + " is not supported", "slmify supports silu and gelu_pytorch_tanh");
  if (r.has("bos_token_id") && j["bos_token_id"].is_number_integer()) c.bos_token_id = j["bos_token_id"].get<int32_t>();
  if (r.has("eos_token_id")) add_ids(j["eos_token_id"], c.eos_token_ids);
  return c;
}

ModelConfig model_config_load(const fs::path& dir) {
  fs::path p = dir / "config.json";
  if (!fs::exists(p))
    throw_io(p.string(), "model directory has no config.json", "point --model at a Hugging Face model directory (config.json, model.safetensors, tokenizer files)");
  ModelConfig c = model_config_parse(read_json(p), p.string());
  fs::path g = dir / "generation_config.json";
  if (fs::exists(g)) {
    json gj = read_json(g);
    if (gj.contains("eos_token_id")) add_ids(gj["eos_token_id"], c.eos_token_ids);
  }
  return c;
}

std::vector<WeightSpec> model_weight_specs(const ModelConfig& c) {
  const int64_t H = c.hidden_size, I = c.intermediate_size, q = c.q_dim(), kv = c.kv_dim();
  std::vector<WeightSpec> w;
  w.push_back({"model.embed_tokens.weight", {c.vocab_size, H}});
  for (int64_t l = 0; l < c.num_layers; ++l) {
    std::string p = "model.layers." + std::to_string(l) + ".";
    w.push_back({p + "input_layernorm.weight", {H}});
    if (c.fused_qkv) {
      w.push_back({p + "self_attn.qkv_proj.weight", {q + 2 * kv, H}});
    } else {
      w.push_back({p + "self_attn.q_proj.weight", {q, H}});
      w.push_back({p + "self_attn.k_proj.weight", {kv, H}});
      w.push_back({p + "self_attn.v_proj.weight", {kv, H}});
      if (c.qkv_bias) {
        w.push_back({p + "self_attn.q_proj.bias", {q}});
        w.push_back({p + "self_attn.k_proj.bias", {kv}});
        w.push_back({p + "self_attn.v_proj.bias", {kv}});
      }
    }
    w.push_back({p + "self_attn.o_proj.weight", {H, q}});
    if (c.o_bias) w.push_back({p + "self_attn.o_proj.bias", {H}});
    w.push_back({p + "post_attention_layernorm.weight", {H}});
    if (c.fused_gate_up) {
      w.push_back({p + "mlp.gate_up_proj.weight", {2 * I, H}});
    } else {
      w.push_back({p + "mlp.gate_proj.weight", {I, H}});
      w.push_back({p + "mlp.up_proj.weight", {I, H}});
      if (c.mlp_bias) {
        w.push_back({p + "mlp.gate_proj.bias", {I}});
        w.push_back({p + "mlp.up_proj.bias", {I}});
      }
    }
    w.push_back({p + "mlp.down_proj.weight", {H, I}});
    if (c.mlp_bias && !c.fused_gate_up) w.push_back({p + "mlp.down_proj.bias", {H}});
  }
  w.push_back({"model.norm.weight", {H}});
  if (!c.tie_word_embeddings) w.push_back({"lm_head.weight", {c.vocab_size, H}});
  return w;
}

int64_t model_param_count(const ModelConfig& c) {
  int64_t n = 0;
  for (const WeightSpec& s : model_weight_specs(c)) {
    int64_t k = 1;
    for (int64_t d : s.shape) k *= d;
    n += k;
  }
  return n;
}

GenerationDefaults generation_defaults_load(const fs::path& dir) {
  GenerationDefaults g;
  fs::path p = dir / "generation_config.json";
  if (!fs::exists(p)) return g;
  json j = read_json(p);
  auto num = [&](const char* k, double d) { return j.contains(k) && j[k].is_number() ? j[k].get<double>() : d; };
  g.do_sample = j.contains("do_sample") && j["do_sample"].is_boolean() ? j["do_sample"].get<bool>() : g.do_sample;
  g.temperature = num("temperature", g.temperature);
  g.top_k = static_cast<int64_t>(num("top_k", double(g.top_k)));
  g.top_p = num("top_p", g.top_p);
  g.repetition_penalty = num("repetition_penalty", g.repetition_penalty);
  g.max_new_tokens = static_cast<int64_t>(num("max_new_tokens", double(g.max_new_tokens)));
  return g;
}

}  // namespace slmify
