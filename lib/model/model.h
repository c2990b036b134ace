// A loaded Hugging Face causal LM (config, weights, tokenizer, chat template) behind an opaque
// handle, and generation. No torch in this header: the CLI, eval and select use it as is; the
// tensors live in lib/model/transformer.h, which only lib/model and lib/train sources include.
// Tested by tests/model/test_transformer.cpp against transformers on the same files.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "model/chat_template.h"
#include "model/hf_config.h"
#include "model/tokenizer.h"

namespace slmify {

struct ModelOptions {
  std::string device = "auto";  ///< auto (CUDA when present, else CPU), cpu, cuda
  std::string dtype = "auto";   ///< auto (bf16 on CUDA and on CPUs with native bf16, else fp32), fp32, bf16
  bool tokenizer = true;        ///< load the tokenizer (an error when it is missing)
  std::string adapter;          ///< PEFT LoRA adapter directory ("" = none)
  bool merge_adapter = true;    ///< merge it into the weights (faster) or keep separate LoRA branches
  std::string chat_template_dir;  ///< with chat_template auto and no adapter's template: use the one trained into this adapter directory (eval's base comparison)
  std::string chat_template;    ///< template name, or "" / "auto": the one the adapter (or model) was trained with (slmify_chat_template.json), else recognised from tokenizer_config.json
};

struct TransformerWeights;  // lib/model/transformer.h

class Model {
 public:
  Model();
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  const ModelConfig& config() const { return config_; }
  const Tokenizer& tokenizer() const;          ///< usage Error when the model was loaded without one
  bool has_tokenizer() const { return tokenizer_ != nullptr; }
  const ChatTemplate& chat_template() const;  ///< usage Error when none is known
  std::string device() const;                 ///< "cpu" or "cuda"
  std::string dtype() const;                  ///< "fp32" or "bf16"
  std::vector<int32_t> stop_ids() const;      ///< EOS ids of config, generation config and tokenizer
  TransformerWeights& weights() { return *weights_; }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  friend std::unique_ptr<Model> model_load(const std::filesystem::path&, const ModelOptions&);
  std::filesystem::path dir_;
  ModelConfig config_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::optional<ChatTemplate> chat_template_;
  std::string chat_template_error_;
  std::unique_ptr<TransformerWeights> weights_;
};

/// Loads `dir`; errors name the file and the tensor (missing, wrong shape, unsupported dtype).
std::unique_ptr<Model> model_load(const std::filesystem::path& dir, const ModelOptions& opts = {});

/// Logits of every position of `ids` by one full forward pass, row-major [ids.size(), vocab], fp32.
std::vector<float> model_logits(Model& m, const TokenIds& ids);

/// Teacher-forced negative log-likelihood (natural log) of the tokens of `ids` whose `mask` is
/// non-zero, each predicted from the tokens before it; position 0 is never scored. This is the
/// loss finetune minimises on assistant tokens and what select's probe measures zero-shot.
struct MaskedNll {
  double nll_sum = 0;  ///< summed over the scored tokens
  int64_t tokens = 0;  ///< scored tokens
  double per_token() const { return tokens ? nll_sum / static_cast<double>(tokens) : 0.0; }
};
MaskedNll model_masked_nll(Model& m, const TokenIds& ids, const std::vector<uint8_t>& mask);

struct GenerateOptions {
  int64_t max_new_tokens = 256;
  double temperature = 0.0;         ///< 0: greedy
  int64_t top_k = 0;                ///< 0: off
  double top_p = 1.0;               ///< 1: off
  double repetition_penalty = 1.0;  ///< 1: off (HF rule over prompt and generated tokens)
  std::vector<int32_t> stop_tokens; ///< added to the model's EOS ids
  std::vector<std::string> stop_strings;
  uint64_t seed = 0;
  bool use_cache = true;            ///< false recomputes the whole sequence each step (tests)
};

struct GenerateResult {
  TokenIds tokens;            ///< generated ids, without the prompt (a stop token is included)
  std::string text;           ///< decoded, special tokens skipped, cut before a stop string
  std::string finish_reason;  ///< stop (EOS/stop token), stop_string, length
  double prefill_seconds = 0, decode_seconds = 0;
};

/// Generates a continuation of `prompt`. on_text receives decoded text as it grows (whole UTF-8
/// characters only); it is optional. Without a tokenizer, text is empty and stop_strings unused.
GenerateResult model_generate(Model& m, const TokenIds& prompt, const GenerateOptions& opts,
                              const std::function<void(std::string_view)>& on_text = {});
/// Several prompts at once (left-padded batch); each result equals what model_generate gives
/// for that prompt alone, up to floating-point differences of the padded matmuls.
std::vector<GenerateResult> model_generate_batch(Model& m, const std::vector<TokenIds>& prompts,
                                                 const GenerateOptions& opts);

}  // namespace slmify
