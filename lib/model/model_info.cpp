// model_info: config, safetensors headers, tokenizer and chat template of a model directory.
#include "model/model_info.h"

#include "core/error.h"
#include "model/chat_template.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// LoRA parameters of rank r on every linear projection of every block.
int64_t lora_params(const ModelConfig& c, int64_t r) {
  const int64_t H = c.hidden_size, I = c.intermediate_size;
  int64_t per_layer = r * ((H + c.q_dim()) + 2 * (H + c.kv_dim()) + (c.q_dim() + H) + 2 * (H + I) + (I + H));
  return per_layer * c.num_layers;
}

}  // namespace

json model_info(const fs::path& dir, const MemoryEstimate& est) {
  ModelConfig c = model_config_load(dir);
  Checkpoint ck(dir);
  int64_t stored_bytes = 0;
  std::map<std::string, int64_t> dtypes;
  for (const auto& f : ck.files())
    for (const auto& [name, t] : f->tensors()) {
      stored_bytes += int64_t(t.end - t.begin);
      dtypes[dtype_name(t.dtype)] += t.numel();
    }
  std::string dtype;
  int64_t most = -1;
  for (const auto& [d, n] : dtypes)
    if (n > most) most = n, dtype = d;
  const int64_t params = model_param_count(c);
  // Estimates in bytes (docs/models.md): bf16 weights; KV cache = 2 · layers · kv_dim · context;
  // LoRA training keeps bf16 base weights, fp32 adapter weights + grads + two AdamW moments, and
  // bf16 activations ≈ tokens · layers · (10·hidden + 4·intermediate) plus fp32 logits and grads.
  const int64_t kv = 2 * c.num_layers * c.kv_dim() * est.context * 2;
  const int64_t inference = params * 2 + kv;
  const int64_t lp = lora_params(c, est.lora_rank);
  const int64_t act = est.train_tokens * c.num_layers * (10 * c.hidden_size + 4 * c.intermediate_size) * 2 +
                      est.train_tokens * c.vocab_size * 4 * 2;
  const int64_t training = params * 2 + lp * 16 + act;
  json j = {{"dir", dir.string()},
            {"model_type", c.model_type},
            {"architecture", c.architecture},
            {"parameters", params},
            {"dtype", dtype},
            {"weights_bytes", stored_bytes},
            {"layers", c.num_layers},
            {"hidden_size", c.hidden_size},
            {"intermediate_size", c.intermediate_size},
            {"heads", c.num_heads},
            {"kv_heads", c.num_kv_heads},
            {"head_dim", c.head_dim},
            {"vocab_size", c.vocab_size},
            {"max_position_embeddings", c.max_position_embeddings},
            {"rope_theta", c.rope_theta},
            {"rope_scaling", c.rope_scaling.type},
            {"tie_word_embeddings", c.tie_word_embeddings},
            {"memory", {{"inference_bf16_bytes", inference},
                        {"inference_context", est.context},
                        {"lora_training_bytes", training},
                        {"lora_rank", est.lora_rank},
                        {"lora_parameters", lp},
                        {"train_tokens_per_batch", est.train_tokens}}}};
  json tok = nullptr;
  try {
    auto t = tokenizer_load(dir);
    tok = {{"kind", t->kind()}, {"vocab_size", t->vocab_size()}, {"add_bos", t->specials().add_bos}};
    if (t->specials().bos) tok["bos"] = t->token_text(*t->specials().bos);
    if (t->specials().eos) tok["eos"] = t->token_text(*t->specials().eos);
    if (t->specials().chat_template.empty()) {
      j["chat_template"] = nullptr;
    } else {
      try {
        j["chat_template"] = chat_template_detect(t->specials().chat_template, c.model_type).name;
      } catch (const Error& e) {
        j["chat_template"] = "unrecognised: " + (e.problems().empty() ? std::string() : e.problems()[0].what);
      }
    }
  } catch (const Error& e) {
    tok = {{"error", e.problems().empty() ? std::string("unreadable") : e.problems()[0].what}};
    j["chat_template"] = nullptr;
  }
  j["tokenizer"] = tok;
  return j;
}

}  // namespace slmify
