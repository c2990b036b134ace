// BERT as transformers' BertModel (post-LN blocks, erf GELU, absolute positions) with
// sentence-transformers' mean pooling and normalisation, for encoder.h. Texts are sorted by token
// count and run in padded batches under a key-padding mask.
// Tested by tests/model/test_encoder.cpp against transformers on all-MiniLM-L6-v2.
#include "model/encoder.h"

#include <ATen/Context.h>
#include <ATen/ops/scaled_dot_product_attention.h>
#include <torch/cuda.h>
#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/normalization.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fsutil.h"
#include "model/backend.h"
#include "model/transformer.h"

namespace slmify {

namespace fs = std::filesystem;
namespace F = torch::nn::functional;
using json = nlohmann::json;

struct BertConfig {
  int64_t vocab = 0, hidden = 0, layers = 0, heads = 0, intermediate = 0, positions = 0, types = 0;
  double ln_eps = 1e-12;
};

struct BertLayer {
  torch::Tensor q_w, q_b, k_w, k_b, v_w, v_b, o_w, o_b;  // [H, H], [H]
  torch::Tensor ln1_w, ln1_b;                          // [H] after attention
  torch::Tensor up_w, up_b;                            // [I, H], [I]
  torch::Tensor down_w, down_b;                        // [H, I], [H]
  torch::Tensor ln2_w, ln2_b;                          // [H] after the MLP
};

struct EncoderWeights {
  BertConfig config;
  int64_t max_tokens = 512;
  torch::Device device = torch::kCPU;
  torch::ScalarType dtype = torch::kFloat32;
  torch::Tensor word, position, token_type;  // [V, H], [P, H], [types, H]
  torch::Tensor ln_w, ln_b;                  // [H]
  std::vector<BertLayer> layers;

  // Hidden states of the last layer for ids [B, T] with `valid` [B, T] bool marking real tokens.
  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& valid) const {
    const BertConfig& c = config;
    const int64_t B = ids.size(0), T = ids.size(1), nh = c.heads, hd = c.hidden / c.heads;
    torch::Tensor x = word.index_select(0, ids.reshape(-1)).view({B, T, c.hidden});  // [B, T, H]
    x = x + position.narrow(0, 0, T).unsqueeze(0) + token_type[0];                  // token type 0 everywhere
    x = torch::layer_norm(x, {c.hidden}, ln_w, ln_b, c.ln_eps);
    torch::Tensor mask = valid.view({B, 1, 1, T});  // [B, 1, 1, T] true = attend (padding keys hidden)
    for (const BertLayer& L : layers) {
      torch::Tensor q = torch::linear(x, L.q_w, L.q_b).view({B, T, nh, hd}).transpose(1, 2);  // [B, nh, T, hd]
      torch::Tensor k = torch::linear(x, L.k_w, L.k_b).view({B, T, nh, hd}).transpose(1, 2);
      torch::Tensor v = torch::linear(x, L.v_w, L.v_b).view({B, T, nh, hd}).transpose(1, 2);
      torch::Tensor a = at::scaled_dot_product_attention(q, k, v, mask, 0.0, false, 1.0 / std::sqrt(double(hd)));
      a = a.transpose(1, 2).reshape({B, T, c.hidden});  // [B, T, H]
      x = torch::layer_norm(torch::linear(a, L.o_w, L.o_b) + x, {c.hidden}, L.ln1_w, L.ln1_b, c.ln_eps);
      torch::Tensor h = F::gelu(torch::linear(x, L.up_w, L.up_b), F::GELUFuncOptions().approximate("none"));  // [B, T, I]
      x = torch::layer_norm(torch::linear(h, L.down_w, L.down_b) + x, {c.hidden}, L.ln2_w, L.ln2_b, c.ln_eps);
    }
    return x;
  }
};

namespace {

json read_json(const fs::path& p) {
  try {
    return json::parse(read_file(p));
  } catch (const json::exception& e) {
    throw_bad_data(p.string(), std::string("not valid JSON: ") + e.what(), "copy the model directory again");
  }
}

int64_t config_int(const json& j, const char* key, const fs::path& p) {
  if (!j.contains(key) || !j[key].is_number_integer() || j[key].get<int64_t>() <= 0)
    throw_bad_data(p.string() + " " + key, "missing or not a positive integer", "the config.json of a BERT model has it");
  return j[key].get<int64_t>();
}

BertConfig read_bert_config(const fs::path& dir) {
  fs::path p = dir / "config.json";
  if (!fs::exists(p)) throw_io(p.string(), "missing", "point at a sentence-transformers model directory (config.json, model.safetensors, tokenizer.json)");
  json j = read_json(p);
  std::string type = j.value("model_type", "");
  if (type != "bert")
    throw_usage(p.string() + " model_type", "\"" + type + "\" is not a supported encoder", "supported: bert (e.g. all-MiniLM-L6-v2)");
  if (j.value("hidden_act", "gelu") != "gelu")
    throw_usage(p.string() + " hidden_act", "\"" + j.value("hidden_act", "") + "\" is not supported", "BERT encoders use gelu");
  if (j.value("position_embedding_type", "absolute") != "absolute")
    throw_usage(p.string() + " position_embedding_type", "only absolute position embeddings are supported");
  BertConfig c;
  c.vocab = config_int(j, "vocab_size", p);
  c.hidden = config_int(j, "hidden_size", p);
  c.layers = config_int(j, "num_hidden_layers", p);
  c.heads = config_int(j, "num_attention_heads", p);
  c.intermediate = config_int(j, "intermediate_size", p);
  c.positions = config_int(j, "max_position_embeddings", p);
  c.types = config_int(j, "type_vocab_size", p);
  if (j.contains("layer_norm_eps") && j["layer_norm_eps"].is_number()) c.ln_eps = j["layer_norm_eps"].get<double>();
  if (c.hidden % c.heads != 0) throw_bad_data(p.string(), "hidden_size is not a multiple of num_attention_heads");
  return c;
}

// sentence-transformers' modules: the Pooling module must pool by mean; max_seq_length truncates.
int64_t read_sentence_config(const fs::path& dir, const BertConfig& c) {
  std::string pooling = "1_Pooling";
  if (fs::exists(dir / "modules.json")) {
    json m = read_json(dir / "modules.json");
    if (m.is_array())
      for (const json& mod : m)
        if (mod.is_object() && mod.value("type", "").find("Pooling") != std::string::npos) pooling = mod.value("path", pooling);
  }
  fs::path pc = dir / pooling / "config.json";
  if (fs::exists(pc)) {
    json p = read_json(pc);
    for (const char* mode : {"pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
                             "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"})
      if (p.value(mode, false)) throw_usage(pc.string() + " " + mode, "only mean pooling is supported");
    if (!p.value("pooling_mode_mean_tokens", true)) throw_usage(pc.string(), "only mean pooling is supported");
  }
  int64_t max_tokens = c.positions;
  if (fs::exists(dir / "sentence_bert_config.json")) {
    json s = read_json(dir / "sentence_bert_config.json");
    if (s.contains("max_seq_length") && s["max_seq_length"].is_number_integer())
      max_tokens = std::min(max_tokens, s["max_seq_length"].get<int64_t>());
  }
  return max_tokens;
}

struct Loader {
  const Checkpoint& ckpt;
  std::string prefix;  // "" or "bert."
  torch::Device device;
  torch::ScalarType dtype;

  torch::Tensor get(const std::string& name, const std::vector<int64_t>& shape) const {
    const SafetensorsFile* file = nullptr;
    const TensorInfo* t = ckpt.find(prefix + name, &file);
    if (!t)
      throw_bad_data(ckpt.files()[0]->path().string(), "tensor " + prefix + name + " is missing",
                     "the checkpoint does not match its config.json; copy the model again");
    if (t->shape != shape || (t->dtype != DType::f32 && t->dtype != DType::f16 && t->dtype != DType::bf16)) {
      std::string want;
      for (int64_t s : shape) want += (want.empty() ? "" : ", ") + std::to_string(s);
      throw_bad_data(file->path().string(), "tensor " + prefix + name + " is not an F32/F16/BF16 tensor of shape [" + want + "]",
                     "the weights and config.json do not belong together");
    }
    return checkpoint_tensor(ckpt, prefix + name).to(device, dtype);
  }
};

void load_weights(EncoderWeights& w, const fs::path& dir) {
  const BertConfig& c = w.config;
  Checkpoint ckpt(dir);
  Loader ld{ckpt, ckpt.find("bert.embeddings.word_embeddings.weight") ? "bert." : "", w.device, w.dtype};
  const int64_t H = c.hidden, I = c.intermediate;
  w.word = ld.get("embeddings.word_embeddings.weight", {c.vocab, H});
  w.position = ld.get("embeddings.position_embeddings.weight", {c.positions, H});
  w.token_type = ld.get("embeddings.token_type_embeddings.weight", {c.types, H});
  w.ln_w = ld.get("embeddings.LayerNorm.weight", {H});
  w.ln_b = ld.get("embeddings.LayerNorm.bias", {H});
  for (int64_t i = 0; i < c.layers; ++i) {
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    BertLayer& L = w.layers.emplace_back();
    L.q_w = ld.get(p + "attention.self.query.weight", {H, H});
    L.q_b = ld.get(p + "attention.self.query.bias", {H});
    L.k_w = ld.get(p + "attention.self.key.weight", {H, H});
    L.k_b = ld.get(p + "attention.self.key.bias", {H});
    L.v_w = ld.get(p + "attention.self.value.weight", {H, H});
    L.v_b = ld.get(p + "attention.self.value.bias", {H});
    L.o_w = ld.get(p + "attention.output.dense.weight", {H, H});
    L.o_b = ld.get(p + "attention.output.dense.bias", {H});
    L.ln1_w = ld.get(p + "attention.output.LayerNorm.weight", {H});
    L.ln1_b = ld.get(p + "attention.output.LayerNorm.bias", {H});
    L.up_w = ld.get(p + "intermediate.dense.weight", {I, H});
    L.up_b = ld.get(p + "intermediate.dense.bias", {I});
    L.down_w = ld.get(p + "output.dense.weight", {H, I});
    L.down_b = ld.get(p + "output.dense.bias", {H});
    L.ln2_w = ld.get(p + "output.LayerNorm.weight", {H});
    L.ln2_b = ld.get(p + "output.LayerNorm.bias", {H});
  }
}

}  // namespace

Encoder::Encoder() = default;
Encoder::~Encoder() = default;
int Encoder::dim() const { return static_cast<int>(weights_->config.hidden); }
int64_t Encoder::max_tokens() const { return weights_->max_tokens; }
std::string Encoder::device() const { return weights_->device.is_cuda() ? "cuda" : "cpu"; }
std::string Encoder::dtype() const { return weights_->dtype == torch::kBFloat16 ? "bf16" : "fp32"; }

std::unique_ptr<Encoder> encoder_load(const fs::path& dir, const EncoderOptions& opts) {
  if (!fs::is_directory(dir))
    throw_io(dir.string(), "is not a directory", "point at a sentence-transformers model directory (config.json, model.safetensors, tokenizer.json)");
  const bool cuda = torch::cuda::is_available();
  if (opts.device != "auto" && opts.device != "cpu" && opts.device != "cuda")
    throw_usage("device", "must be auto, cpu or cuda (got " + opts.device + ")");
  if (opts.device == "cuda" && !cuda) throw_usage("device cuda", "no CUDA device is available on this machine", "use cpu or auto");
  if (opts.dtype != "auto" && opts.dtype != "fp32" && opts.dtype != "bf16")
    throw_usage("dtype", "must be auto, fp32 or bf16 (got " + opts.dtype + ")");

  auto e = std::make_unique<Encoder>();
  e->dir_ = dir;
  e->weights_ = std::make_unique<EncoderWeights>();
  EncoderWeights& w = *e->weights_;
  w.config = read_bert_config(dir);
  w.max_tokens = read_sentence_config(dir, w.config);
  w.device = (opts.device == "cuda" || (opts.device == "auto" && cuda)) ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  w.dtype = opts.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  e->tokenizer_ = tokenizer_load(dir);
  const Tokenizer& tok = *e->tokenizer_;
  if (tok.kind() != "wordpiece" || !tok.specials().bos || !tok.specials().eos)
    throw_usage((dir / "tokenizer.json").string(), "the encoder needs a WordPiece tokenizer.json that adds [CLS] and [SEP]");
  if (tok.vocab_size() > w.config.vocab)
    throw_bad_data(dir.string(), "the tokenizer has " + std::to_string(tok.vocab_size()) + " tokens but config.json says vocab_size " +
                                     std::to_string(w.config.vocab), "the tokenizer files belong to another model");
  if (w.device.is_cpu()) {
    backend_set_threads(opts.threads);  // explicitly: libtorch may default to one thread
    at::globalContext().setFlushDenormal(true);  // denormals are 10-100x slower on x86 and below any resolution here
  }
  torch::NoGradGuard no_grad;
  load_weights(w, dir);
  return e;
}

TokenIds encoder_tokenize(const Encoder& e, std::string_view text, int64_t max_tokens) {
  const Tokenizer& tok = e.tokenizer();
  if (max_tokens <= 0) max_tokens = e.max_tokens();
  max_tokens = std::max<int64_t>(max_tokens, 2);  // [CLS] and [SEP] always
  TokenIds body = tok.encode(text, /*parse_special=*/false);
  if (static_cast<int64_t>(body.size()) > max_tokens - 2) body.resize(static_cast<size_t>(max_tokens - 2));
  TokenIds ids;
  ids.reserve(body.size() + 2);
  ids.push_back(*tok.specials().bos);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(*tok.specials().eos);
  return ids;
}

std::vector<float> encoder_embed(Encoder& e, const std::vector<std::string>& texts, int batch_size, int64_t max_tokens) {
  EncoderWeights& w = e.weights();
  if (batch_size <= 0) throw_usage("batch_size", "must be > 0 (got " + std::to_string(batch_size) + ")");
  if (max_tokens > w.config.positions)
    throw_usage("max_tokens", "must be at most " + std::to_string(w.config.positions) + ", the model's max_position_embeddings (got " +
                                  std::to_string(max_tokens) + ")");
  const size_t n = texts.size();
  const int64_t H = w.config.hidden;
  std::vector<TokenIds> ids(n);
  for (size_t i = 0; i < n; ++i) ids[i] = encoder_tokenize(e, texts[i], max_tokens);
  std::vector<size_t> order(n);  // longest first, so each batch pads little
  std::iota(order.begin(), order.end(), size_t(0));
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return ids[a].size() > ids[b].size(); });

  std::vector<float> out(n * static_cast<size_t>(H));
  torch::InferenceMode inference;
  const auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  for (size_t start = 0; start < n; start += static_cast<size_t>(batch_size)) {
    const size_t stop = std::min(n, start + static_cast<size_t>(batch_size));
    const int64_t B = static_cast<int64_t>(stop - start), T = static_cast<int64_t>(ids[order[start]].size());
    torch::Tensor tid = torch::zeros({B, T}, i64);                      // [B, T], padding id 0 (masked anyway)
    torch::Tensor valid = torch::zeros({B, T}, i64.dtype(torch::kBool));  // [B, T]
    auto tid_a = tid.accessor<int64_t, 2>();
    auto valid_a = valid.accessor<bool, 2>();
    for (int64_t b = 0; b < B; ++b) {
      const TokenIds& row = ids[order[start + static_cast<size_t>(b)]];
      for (size_t t = 0; t < row.size(); ++t) tid_a[b][static_cast<int64_t>(t)] = row[t], valid_a[b][static_cast<int64_t>(t)] = true;
    }
    torch::Tensor hidden = w.forward(tid.to(w.device), valid.to(w.device)).to(torch::kFloat32);  // [B, T, H]
    torch::Tensor m = valid.to(w.device).unsqueeze(-1).to(torch::kFloat32);                    // [B, T, 1]
    torch::Tensor mean = (hidden * m).sum(1) / m.sum(1).clamp_min(1e-9);                        // [B, H]
    torch::Tensor unit = F::normalize(mean, F::NormalizeFuncOptions().p(2).dim(1)).to(torch::kCPU).contiguous();  // [B, H]
    const float* src = unit.data_ptr<float>();
    for (int64_t b = 0; b < B; ++b)
      std::copy(src + b * H, src + (b + 1) * H, out.begin() + static_cast<std::ptrdiff_t>(order[start + static_cast<size_t>(b)] * static_cast<size_t>(H)));
  }
  return out;
}

}  // namespace slmify
