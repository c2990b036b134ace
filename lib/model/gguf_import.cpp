// gguf_import(): a llama or qwen2 GGUF file to a Hugging Face model directory. config.json comes
// from the `<arch>.*` metadata, model.safetensors from the dequantised tensors under their HF names
// (llama.cpp's converter interleaves the two rotary halves of each head in Llama q/k rows; that is
// undone here, qwen2 is stored as is), the tokenizer files from gguf_tokenizer.cpp. Also
// resolve_model_path(), the digest-keyed cache that lets a .gguf stand where a model directory goes.
// Tested by tests/model/test_gguf.cpp (transformers on the directory vs transformers on the GGUF).
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <regex>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "model/gguf.h"
#include "model/hf_config.h"
#include "model/safetensors.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Meta {
  const GgufFile& f;
  std::string arch;

  const GgufValue* get(const std::string& key, bool required) const {
    const GgufValue* v = f.find(key);
    if (!v && required)
      throw_usage(f.path().string(), "metadata " + key + " is missing", "the file does not describe a complete " + arch + " model");
    return v;
  }
  int64_t integer(const std::string& key, std::optional<int64_t> fallback = std::nullopt) const {
    const GgufValue* v = get(key, !fallback);
    if (!v) return *fallback;
    if (!v->is_integer() || v->i < 0)
      throw_usage(f.path().string(), "metadata " + key + " must be a non-negative integer, got " + v->to_json().dump());
    return v->i;
  }
  double number(const std::string& key, double fallback) const {
    const GgufValue* v = get(key, false);
    if (!v) return fallback;
    if (v->type == GgufValueType::float32 || v->type == GgufValueType::float64) return v->f;
    if (v->is_integer()) return static_cast<double>(v->i);
    throw_usage(f.path().string(), "metadata " + key + " must be a number, got " + v->to_json().dump());
  }
};

// The shortest decimal that reads back as the same float32 (1e-05, not 9.999999747378752e-06).
double short_float(double v) {
  const float want = static_cast<float>(v);
  for (int digits = 1; digits <= 9; ++digits) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.*g", digits, static_cast<double>(want));
    double d = std::strtod(buf, nullptr);
    if (static_cast<float>(d) == want) return d;
  }
  return want;
}

// llama.cpp stores Llama 3.1+ RoPE scaling as a tensor of per-frequency divisors; transformers
// describes it by four numbers. Those are recovered when the tensor matches the published
// formula with the released low/high factors and original context; anything else is refused.
json llama3_rope_scaling(const std::vector<float>& freqs, double theta, int64_t head_dim, const fs::path& path) {
  const double factor = *std::max_element(freqs.begin(), freqs.end());
  const double low = 1.0, high = 4.0, orig = 8192.0, pi = 3.14159265358979323846;
  for (size_t i = 0; i < freqs.size(); ++i) {
    double inv_freq = 1.0 / std::pow(theta, 2.0 * static_cast<double>(i) / static_cast<double>(head_dim));
    double wavelen = 2 * pi / inv_freq, want;
    if (wavelen < orig / high) want = 1.0;
    else if (wavelen > orig / low) want = factor;
    else {
      double smooth = (orig / wavelen - low) / (high - low);
      want = 1.0 / ((1 - smooth) / factor + smooth);
    }
    if (std::abs(freqs[i] - want) > 1e-4 * want)
      throw_usage(path.string(), "tensor rope_freqs.weight does not follow Llama 3's RoPE scaling (entry " + std::to_string(i) +
                                     " is " + std::to_string(freqs[i]) + ", expected " + std::to_string(want) + ")",
                  "slmify imports the RoPE scaling of released Llama 3.x models only");
  }
  return {{"rope_type", "llama3"}, {"factor", short_float(factor)}, {"low_freq_factor", low}, {"high_freq_factor", high},
          {"original_max_position_embeddings", static_cast<int64_t>(orig)}};
}

// The HF name of a GGUF tensor of a llama/qwen2 model, or "" when it has none.
std::string hf_name(const std::string& g) {
  static const std::regex layer(R"(blk\.(\d+)\.(\w+)\.(weight|bias))");
  static const std::map<std::string, std::string> top = {
      {"token_embd.weight", "model.embed_tokens.weight"}, {"output_norm.weight", "model.norm.weight"}, {"output.weight", "lm_head.weight"}};
  static const std::map<std::string, std::string> parts = {
      {"attn_norm", "input_layernorm"}, {"attn_q", "self_attn.q_proj"}, {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},   {"attn_output", "self_attn.o_proj"}, {"ffn_norm", "post_attention_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},    {"ffn_up", "mlp.up_proj"},         {"ffn_down", "mlp.down_proj"}};
  if (auto it = top.find(g); it != top.end()) return it->second;
  std::smatch m;
  if (!std::regex_match(g, m, layer)) return "";
  auto it = parts.find(m[2].str());
  if (it == parts.end()) return "";
  return "model.layers." + m[1].str() + "." + it->second + "." + m[3].str();
}

// Undoes llama.cpp's permute(): within each head of `head_dim` rows, GGUF row 2i+s holds HF row
// s·head_dim/2 + i. `x` is row-major [rows, cols] (cols = 1 for a bias).
std::vector<float> unpermute_rows(const std::vector<float>& x, int64_t rows, int64_t cols, int64_t head_dim) {
  std::vector<float> out(x.size());
  const int64_t half = head_dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    int64_t h = r / head_dim, k = r % head_dim, s = k / half, i = k % half;
    std::memcpy(&out[static_cast<size_t>(r * cols)], &x[static_cast<size_t>((h * head_dim + 2 * i + s) * cols)],
                static_cast<size_t>(cols) * sizeof(float));
  }
  return out;
}

uint16_t f32_to_bf16(float v) {  // round to nearest even, NaN kept quiet (as torch)
  uint32_t b;
  std::memcpy(&b, &v, 4);
  if ((b & 0x7FFFFFFFu) > 0x7F800000u) return static_cast<uint16_t>((b >> 16) | 0x40);
  return static_cast<uint16_t>((b + 0x7FFFu + ((b >> 16) & 1u)) >> 16);
}

json config_json(const Meta& m, const GgufFile& f, int64_t vocab, bool tied, const GgufTokenizerIds& ids, const std::string& dtype) {
  const std::string a = m.arch + ".";
  const int64_t hidden = m.integer(a + "embedding_length"), heads = m.integer(a + "attention.head_count");
  if (heads == 0 || hidden == 0) throw_usage(f.path().string(), "metadata " + a + "embedding_length and attention.head_count must be > 0");
  const int64_t head_dim = m.integer(a + "attention.key_length", m.integer(a + "rope.dimension_count", hidden / heads));
  const double theta = short_float(m.number(a + "rope.freq_base", 10000.0));
  json c = {{"architectures", {m.arch == "llama" ? "LlamaForCausalLM" : "Qwen2ForCausalLM"}},
            {"model_type", m.arch},
            {"vocab_size", vocab},
            {"hidden_size", hidden},
            {"intermediate_size", m.integer(a + "feed_forward_length")},
            {"num_hidden_layers", m.integer(a + "block_count")},
            {"num_attention_heads", heads},
            {"num_key_value_heads", m.integer(a + "attention.head_count_kv", heads)},
            {"head_dim", head_dim},
            {"hidden_act", "silu"},
            {"max_position_embeddings", m.integer(a + "context_length", 2048)},
            {"rms_norm_eps", short_float(m.number(a + "attention.layer_norm_rms_epsilon", 1e-6))},
            {"rope_theta", theta},
            {"rope_scaling", nullptr},
            {"tie_word_embeddings", tied},
            {"torch_dtype", dtype == "bf16" ? "bfloat16" : "float32"},
            {"use_cache", true}};
  if (m.arch == "llama") c["attention_bias"] = false, c["mlp_bias"] = false;
  else c["use_sliding_window"] = false, c["sliding_window"] = nullptr, c["max_window_layers"] = c["num_hidden_layers"];
  if (ids.bos) c["bos_token_id"] = *ids.bos;
  if (ids.eos) c["eos_token_id"] = *ids.eos;
  if (ids.pad) c["pad_token_id"] = *ids.pad;
  if (const GgufValue* t = m.get(a + "rope.scaling.type", false)) {
    if (t->s == "linear") c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", m.number(a + "rope.scaling.factor", 1.0)}};
    else if (t->s != "none" && !t->s.empty())
      throw_usage(f.path().string(), "RoPE scaling \"" + t->s + "\" is not supported", "slmify imports default, linear and Llama 3 RoPE");
  }
  if (const GgufTensorInfo* rf = f.tensor("rope_freqs.weight"))
    c["rope_scaling"] = llama3_rope_scaling(f.dequantize(*rf), theta, head_dim, f.path());
  return c;
}

}  // namespace

json gguf_import(const GgufImportOptions& o) {
  const auto start = std::chrono::steady_clock::now();
  if (o.dtype != "fp32" && o.dtype != "bf16") throw_usage("--dtype", "must be fp32 or bf16 (got " + o.dtype + ")");
  if (fs::exists(o.output) && !o.force && !(fs::is_directory(o.output) && fs::is_empty(o.output)))
    throw_usage(o.output.string(), "exists and is not empty", "choose another -o, or pass --force to replace it");
  GgufFile f(o.input);
  const GgufValue* arch = f.find("general.architecture");
  if (!arch || arch->type != GgufValueType::string)
    throw_usage(o.input.string(), "metadata general.architecture is missing", "this GGUF file does not say which model it holds");
  if (arch->s != "llama" && arch->s != "qwen2")
    throw_usage(o.input.string(), "architecture " + arch->s + " is not supported by model import",
                "slmify imports llama (SmolLM2, TinyLlama, Llama 3.x) and qwen2 (Qwen2, Qwen2.5) GGUF files");
  Meta m{f, arch->s};
  const GgufTensorInfo* embd = f.tensor("token_embd.weight");
  if (!embd || embd->dims.size() != 2) throw_usage(o.input.string(), "tensor token_embd.weight is missing or not 2-D");
  const bool tied = f.tensor("output.weight") == nullptr;

  fs::path parent = o.output.parent_path().empty() ? fs::path(".") : o.output.parent_path();
  fs::create_directories(parent);
  fs::path tmp = parent / ("." + o.output.filename().string() + ".tmp-" + random_suffix());
  try {
    fs::create_directories(tmp);
    GgufTokenizerIds ids = gguf_write_tokenizer(f, tmp);
    json cfg = config_json(m, f, embd->dims[1], tied, ids, o.dtype);
    ModelConfig mc = model_config_parse(cfg, o.input.string() + " (as config.json)");
    std::map<std::string, std::vector<int64_t>> want;
    for (const WeightSpec& w : model_weight_specs(mc)) want[w.name] = w.shape;

    std::vector<std::vector<float>> f32;
    std::vector<std::vector<uint16_t>> b16;
    std::vector<TensorData> out;
    std::map<std::string, int> types;
    for (const GgufTensorInfo& t : f.tensors()) {
      if (t.name == "rope_freqs.weight") continue;  // in config.json's rope_scaling
      std::string name = hf_name(t.name);
      auto w = want.find(name);
      if (name.empty() || w == want.end())
        throw_usage(o.input.string(), "tensor " + t.name + " has no place in a " + m.arch + " model of this config",
                    "the file holds a variant of the architecture that slmify does not import");
      if (t.shape() != w->second)
        throw_usage(o.input.string(), "tensor " + t.name + " has a shape that does not match the metadata",
                    "the file's metadata and tensors disagree; convert the model again");
      std::vector<float> x = f.dequantize(t);
      const bool q = name.find("q_proj") != std::string::npos, k = name.find("k_proj") != std::string::npos;
      if (m.arch == "llama" && (q || k))
        x = unpermute_rows(x, t.shape()[0], t.shape().size() > 1 ? t.shape()[1] : 1, mc.head_dim);
      types[ggml_type_name(t.type)]++;
      if (o.dtype == "bf16") {
        auto& v = b16.emplace_back(x.size());
        for (size_t i = 0; i < x.size(); ++i) v[i] = f32_to_bf16(x[i]);
        out.push_back({name, DType::bf16, w->second, std::as_bytes(std::span(v))});
      } else {
        auto& v = f32.emplace_back(std::move(x));
        out.push_back({name, DType::f32, w->second, std::as_bytes(std::span(v))});
      }
      want.erase(w);
    }
    if (!want.empty())
      throw_usage(o.input.string(), "the file lacks the tensor for " + want.begin()->first + " (and " + std::to_string(want.size() - 1) + " more)",
                  "the file is incomplete or holds a different architecture");
    safetensors_write(tmp / "model.safetensors", out);
    write_file_atomic(tmp / "config.json", cfg.dump(2) + "\n");
    json gen = {{"do_sample", false}};
    if (ids.bos) gen["bos_token_id"] = *ids.bos;
    if (ids.eos) gen["eos_token_id"] = *ids.eos;
    if (ids.pad) gen["pad_token_id"] = *ids.pad;
    write_file_atomic(tmp / "generation_config.json", gen.dump(2) + "\n");
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    json made = {{"slmify", "model import"}, {"source", fs::absolute(o.input).string()}, {"gguf_version", f.version()},
                 {"architecture", m.arch}, {"dtype", o.dtype}, {"tensor_types", types}, {"tokenizer", ids.kind}};
    write_file_atomic(tmp / "slmify_import.json", made.dump(2) + "\n");
    fsync_path(tmp);
    if (fs::exists(o.output) && !(fs::is_directory(o.output) && fs::is_empty(o.output))) {
      if (!o.force) throw_usage(o.output.string(), "appeared while importing", "another import wrote it; use that one, or pass --force");
      fs::remove_all(o.output);
    }
    fs::rename(tmp, o.output);  // onto nothing, or onto an empty directory
    fsync_path(parent);
    made["output"] = o.output.string();
    made["parameters"] = model_param_count(mc);
    made["seconds"] = seconds;
    return made;
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

fs::path resolve_model_path(const fs::path& path) {
  if (path.extension() != ".gguf" || !fs::is_regular_file(path)) return path;
  fs::path cache;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) cache = x;
  else if (const char* h = std::getenv("HOME"); h && *h) cache = fs::path(h) / ".cache";
  else throw_usage(path.string(), "cannot place the imported model: neither XDG_CACHE_HOME nor HOME is set",
                   "import it yourself with `slmify model import " + path.string() + " -o DIR` and pass DIR");
  fs::path dir = cache / "slmify" / "gguf" / sha256_file(path);
  if (fs::exists(dir / "config.json")) return dir;  // the rename makes a present directory complete
  try {
    gguf_import({path, dir, "fp32", false});
  } catch (const Error&) {
    if (fs::exists(dir / "config.json")) return dir;  // a concurrent import of the same file won
    throw;
  }
  return dir;
}

}  // namespace slmify
