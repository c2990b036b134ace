// model_load: config, tokenizer, chat template and weights of an HF directory onto a device.
#include "model/model.h"

#include <ATen/Context.h>
#include <torch/cuda.h>

#include <algorithm>

#include "core/error.h"
#include "core/log.h"
#include "model/backend.h"
#include "model/transformer.h"

namespace slmify {

namespace fs = std::filesystem;

Model::Model() = default;
Model::~Model() = default;

const Tokenizer& Model::tokenizer() const {
  if (!tokenizer_)
    throw_usage(dir_.string(), "the model was loaded without a tokenizer", "add tokenizer.json or tokenizer.model to the model directory");
  return *tokenizer_;
}

const ChatTemplate& Model::chat_template() const {
  if (!chat_template_)
    throw_usage(dir_.string(), chat_template_error_.empty() ? "the model has no chat template" : chat_template_error_,
                "name one with --chat-template (" + [] {
                  std::string s;
                  for (const auto& n : chat_template_names()) s += (s.empty() ? "" : ", ") + n;
                  return s;
                }() + "), or use --raw");
  return *chat_template_;
}

std::string Model::device() const { return weights_->device.is_cuda() ? "cuda" : "cpu"; }
std::string Model::dtype() const { return weights_->dtype == torch::kBFloat16 ? "bf16" : "fp32"; }

std::vector<int32_t> Model::stop_ids() const {
  std::vector<int32_t> ids = config_.eos_token_ids;
  if (tokenizer_ && tokenizer_->specials().eos) {
    int32_t e = *tokenizer_->specials().eos;
    if (std::find(ids.begin(), ids.end(), e) == ids.end()) ids.push_back(e);
  }
  return ids;
}

std::unique_ptr<Model> model_load(const fs::path& dir, const ModelOptions& opts) {
  if (!fs::is_directory(dir))
    throw_io(dir.string(), "is not a directory", "point --model at a Hugging Face model directory (config.json, model.safetensors, tokenizer files)");
  auto m = std::make_unique<Model>();
  m->dir_ = dir;
  m->config_ = model_config_load(dir);
  if (opts.tokenizer) m->tokenizer_ = tokenizer_load(dir);
  // The template a fine-tuned adapter (or a fully fine-tuned model) was trained with wins over the
  // base's own: training and serving render the same way (lib/model/chat_template_choose.cpp).
  std::optional<ChatTemplate> trained;
  if (opts.chat_template.empty() || opts.chat_template == "auto") {
    if (!opts.adapter.empty()) trained = chat_template_read(opts.adapter);
    if (!trained && !opts.chat_template_dir.empty()) trained = chat_template_read(opts.chat_template_dir);
    if (!trained) trained = chat_template_read(dir);
  }
  if (trained) {
    m->chat_template_ = *trained;
  } else if (!opts.chat_template.empty() && opts.chat_template != "auto") {
    m->chat_template_ = chat_template_named(opts.chat_template);
  } else if (m->tokenizer_ && !m->tokenizer_->specials().chat_template.empty()) {
    try {
      m->chat_template_ = chat_template_detect(m->tokenizer_->specials().chat_template, m->config_.model_type);
    } catch (const Error& e) {
      m->chat_template_error_ = e.problems().empty() ? "unrecognised chat template" : e.problems()[0].what;
    }
  }

  const bool cuda = torch::cuda::is_available();
  if (opts.device != "auto" && opts.device != "cpu" && opts.device != "cuda")
    throw_usage("--device", "must be auto, cpu or cuda (got " + opts.device + ")");
  if (opts.device == "cuda" && !cuda)
    throw_usage("--device cuda", "no CUDA device is available on this machine", "use --device cpu or auto");
  torch::Device device = (opts.device == "cuda" || (opts.device == "auto" && cuda)) ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  if (opts.dtype != "auto" && opts.dtype != "fp32" && opts.dtype != "bf16")
    throw_usage("--dtype", "must be auto, fp32 or bf16 (got " + opts.dtype + ")");
  // auto: bf16 where the hardware has it natively (CUDA; CPUs with AVX512-BF16 or AMX, where
  // scripts/bench measured 2.5x the fp32 prefill rate), fp32 elsewhere (bf16 is emulated, slower).
  const bool native_bf16 = device.is_cuda() || backend_info().cpu_bf16;
  torch::ScalarType dtype = opts.dtype == "bf16" || (opts.dtype == "auto" && native_bf16) ? torch::kBFloat16 : torch::kFloat32;
  if (device.is_cpu()) {
    backend_set_threads(0);  // explicitly: libtorch may default to one thread
    // Denormal floats (e.g. softmax weights of far-away keys) are 10-100x slower on x86 unless
    // flushed to zero; their values are below what any logit can resolve.
    at::globalContext().setFlushDenormal(true);
  }

  Checkpoint ckpt(dir);
  m->weights_ = std::make_unique<TransformerWeights>();
  transformer_load(*m->weights_, m->config_, ckpt, device, dtype);
  if (!opts.adapter.empty()) transformer_load_adapter(*m->weights_, opts.adapter, opts.merge_adapter);
  if (m->tokenizer_ && m->tokenizer_->vocab_size() > m->config_.vocab_size)
    throw_bad_data(dir.string(), "the tokenizer has " + std::to_string(m->tokenizer_->vocab_size()) + " tokens but config.json says vocab_size " +
                                     std::to_string(m->config_.vocab_size),
                   "the tokenizer files belong to another model");
  return m;
}

std::vector<float> model_logits(Model& m, const TokenIds& ids) {
  torch::NoGradGuard no_grad;
  TransformerWeights& w = m.weights();
  const int64_t T = static_cast<int64_t>(ids.size());
  SLMIFY_ASSERT(T > 0, "model_logits needs at least one token");
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), i64).view({1, T}).to(w.device);
  torch::Tensor pos = torch::arange(T, i64).view({1, T}).to(w.device);
  torch::Tensor logits = w.logits(w.forward(t, pos, nullptr)).to(torch::kCPU).contiguous();  // [1, T, V]
  return std::vector<float>(logits.data_ptr<float>(), logits.data_ptr<float>() + logits.numel());
}

MaskedNll model_masked_nll(Model& m, const TokenIds& ids, const std::vector<uint8_t>& mask) {
  SLMIFY_ASSERT(ids.size() == mask.size(), "model_masked_nll: ids and mask differ in length");
  MaskedNll r;
  std::vector<int64_t> scored;  // positions t >= 1 predicted from logits at t-1
  for (size_t t = 1; t < ids.size(); ++t)
    if (mask[t]) scored.push_back(static_cast<int64_t>(t));
  if (scored.empty()) return r;
  torch::NoGradGuard no_grad;
  TransformerWeights& w = m.weights();
  const int64_t T = static_cast<int64_t>(ids.size());
  auto i64 = torch::TensorOptions().dtype(torch::kInt64);
  torch::Tensor t = torch::tensor(std::vector<int64_t>(ids.begin(), ids.end()), i64).view({1, T}).to(w.device);
  torch::Tensor pos = torch::arange(T, i64).view({1, T}).to(w.device);
  torch::Tensor hidden = w.forward(t, pos, nullptr);                                   // [1, T, H]
  torch::Tensor at = torch::tensor(scored, i64).to(w.device);                         // [S]
  torch::Tensor prev = hidden.index_select(1, at - 1);                                // [1, S, H]
  torch::Tensor logp = torch::log_softmax(w.logits(prev).to(torch::kFloat32), -1);   // [1, S, V]
  torch::Tensor target = t.index_select(1, at).unsqueeze(-1);                         // [1, S, 1]
  r.nll_sum = -logp.gather(-1, target).sum().item<double>();
  r.tokens = static_cast<int64_t>(scored.size());
  return r;
}

}  // namespace slmify
