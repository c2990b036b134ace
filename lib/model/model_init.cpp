// model_init: tokenizer from the dataset's text, Llama config, random weights, atomic write.
#include "model/model_init.h"

#include <random>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "model/hf_config.h"
#include "model/safetensors.h"
#include "model/tokenizer.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

struct Shape {
  int64_t hidden, intermediate, layers, heads, kv_heads, vocab;
};

Shape shape_of(const std::string& size) {
  if (size == "tiny") return {64, 176, 2, 4, 2, 1024};
  if (size == "small") return {256, 688, 4, 8, 4, 4096};
  throw_usage("--size", "must be tiny or small (got " + size + ")");
}

void add_text(const json& v, std::vector<std::string>& out) {
  constexpr size_t kMax = 4000;
  if (v.is_string()) {
    const std::string& s = v.get_ref<const std::string&>();
    if (!s.empty()) out.push_back(s.substr(0, kMax));
  } else if (v.is_array()) {  // content parts
    for (const json& p : v)
      if (p.is_object() && p.contains("text")) add_text(p["text"], out);
  }
}

// The texts of a call: messages, tool definitions, the response and its tool calls.
void record_texts(const json& rec, std::vector<std::string>& out) {
  const json& req = rec["request"];
  if (req.contains("messages"))
    for (const json& m : req["messages"]) {
      if (m.contains("content")) add_text(m["content"], out);
      if (m.contains("tool_calls") && m["tool_calls"].is_array())
        for (const json& tc : m["tool_calls"]) out.push_back(tc.dump().substr(0, 4000));
    }
  if (req.contains("tools") && req["tools"].is_array())
    for (const json& t : req["tools"]) out.push_back(t.dump().substr(0, 4000));
  const json& resp = rec["response"];
  if (resp.contains("content")) add_text(resp["content"], out);
  if (resp.contains("tool_calls") && resp["tool_calls"].is_array())
    for (const json& tc : resp["tool_calls"]) out.push_back(tc.dump().substr(0, 4000));
}

// Random weights as transformers initialises Llama: N(0, 0.02) for matrices, ones for norms.
std::vector<float> init_tensor(const WeightSpec& s, std::mt19937_64& rng) {
  int64_t n = 1;
  for (int64_t d : s.shape) n *= d;
  std::vector<float> v(size_t(n), 1.0f);
  if (s.name.find("norm") != std::string::npos) return v;
  std::normal_distribution<float> nd(0.0f, 0.02f);
  for (float& x : v) x = nd(rng);
  return v;
}

// ChatML with tools the way Qwen2.5 and Hermes-style models see them (a `# Tools` block in the
// system turn, <tool_call> JSON in replies, <tool_response> in a user turn), and no default system
// prompt. slmify's built-in "chatml" renderer produces the same text; tests/cli/test_cli_model.cpp
// checks it against transformers' apply_chat_template on a model made by model init.
const char* const kChatTemplate = R"JINJA({#- slmify chatml-tools v1 -#}
{%- if tools %}
{{- '<|im_start|>system\n' }}
{%- if messages[0].role == 'system' %}{{- messages[0].content }}{%- endif %}
{{- '\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>' }}
{%- for tool in tools %}{{- '\n' + (tool | tojson) }}{%- endfor %}
{{- '\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call><|im_end|>\n' }}
{%- elif messages[0].role == 'system' %}
{{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
{%- endif %}
{%- for message in messages %}
{%- if message.role == 'system' and loop.first %}
{%- elif message.role == 'assistant' and message.tool_calls %}
{{- '<|im_start|>assistant' }}
{%- if message.content %}{{- '\n' + message.content }}{%- endif %}
{%- for call in message.tool_calls %}
{%- set f = call.function if call.function is defined else call %}
{{- '\n<tool_call>\n{"name": "' + f.name + '", "arguments": ' }}
{%- if f.arguments is string %}{{- f.arguments }}{%- else %}{{- f.arguments | tojson }}{%- endif %}
{{- '}\n</tool_call>' }}
{%- endfor %}
{{- '<|im_end|>\n' }}
{%- elif message.role == 'tool' %}
{%- if loop.first or loop.previtem.role != 'tool' %}{{- '<|im_start|>user' }}{%- endif %}
{{- '\n<tool_response>\n' + message.content + '\n</tool_response>' }}
{%- if loop.last or loop.nextitem.role != 'tool' %}{{- '<|im_end|>\n' }}{%- endif %}
{%- else %}
{{- '<|im_start|>' + message.role + '\n' + message.content + '<|im_end|>\n' }}
{%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}{{- '<|im_start|>assistant\n' }}{%- endif %})JINJA";

}  // namespace

const std::string& model_init_chat_template() {
  static const std::string t = kChatTemplate;
  return t;
}

json model_init(const ModelInitOptions& o) {
  const Shape sh = shape_of(o.size);
  if (fs::exists(o.output) && !o.force && !fs::is_empty(o.output))
    throw_usage(o.output.string(), "exists and is not empty", "choose another -o, or pass --force to replace it");

  std::vector<std::string> texts;
  uint64_t records = 0;
  {
    DatasetReader reader(o.dataset, o.read);
    json rec;
    while (reader.next(rec) && texts.size() < 50000) {
      record_texts(rec, texts);
      ++records;
    }
  }
  if (texts.empty())
    throw_usage(o.dataset.string(), "has no text to train a tokenizer on", "run model init on a dataset with calls (e.g. scrub's output)");

  fs::path parent = o.output.parent_path().empty() ? fs::path(".") : o.output.parent_path();
  fs::create_directories(parent);
  fs::path tmp = parent / ("." + o.output.filename().string() + ".tmp-" + random_suffix());
  try {
    fs::create_directories(tmp);
    tokenizer_train_sentencepiece(texts, int(sh.vocab), tmp, o.seed, {"<|im_start|>", "<|im_end|>"});
    {  // the chat template goes where transformers looks for it
      json tc = json::parse(read_file(tmp / "tokenizer_config.json"));
      tc["chat_template"] = model_init_chat_template();
      write_file_atomic(tmp / "tokenizer_config.json", tc.dump(2) + "\n");
    }
    auto tok = tokenizer_load(tmp);
    const int64_t vocab = tok->vocab_size();
    const int32_t im_end = tok->token_id("<|im_end|>").value_or(2);

    json cfg = {{"architectures", {"LlamaForCausalLM"}},
                {"model_type", "llama"},
                {"vocab_size", vocab},
                {"hidden_size", sh.hidden},
                {"intermediate_size", sh.intermediate},
                {"num_hidden_layers", sh.layers},
                {"num_attention_heads", sh.heads},
                {"num_key_value_heads", sh.kv_heads},
                {"head_dim", sh.hidden / sh.heads},
                {"hidden_act", "silu"},
                {"max_position_embeddings", 2048},
                {"rms_norm_eps", 1e-5},
                {"rope_theta", 10000.0},
                {"tie_word_embeddings", true},
                {"attention_bias", false},
                {"mlp_bias", false},
                {"initializer_range", 0.02},
                {"bos_token_id", 1},
                {"eos_token_id", json::array({2, im_end})},
                {"pad_token_id", 0},
                {"torch_dtype", "float32"},
                {"use_cache", true}};
    ModelConfig mc = model_config_parse(cfg, "config.json");
    write_file_atomic(tmp / "config.json", cfg.dump(2) + "\n");
    json gen = {{"bos_token_id", 1}, {"eos_token_id", json::array({2, im_end})}, {"pad_token_id", 0}, {"do_sample", false}};
    write_file_atomic(tmp / "generation_config.json", gen.dump(2) + "\n");

    std::mt19937_64 rng(o.seed);
    std::vector<std::vector<float>> data;
    std::vector<TensorData> tensors;
    std::vector<WeightSpec> specs = model_weight_specs(mc);
    data.reserve(specs.size());
    for (const WeightSpec& s : specs) {
      data.push_back(init_tensor(s, rng));
      tensors.push_back({s.name, DType::f32, s.shape, std::as_bytes(std::span(data.back()))});
    }
    safetensors_write(tmp / "model.safetensors", tensors);
    json made = {{"slmify", "model init"}, {"size", o.size}, {"seed", o.seed}, {"dataset", o.dataset.string()}, {"records", records}};
    write_file_atomic(tmp / "slmify_init.json", made.dump(2) + "\n");
    fsync_path(tmp);
    if (fs::exists(o.output)) fs::remove_all(o.output);
    fs::rename(tmp, o.output);
    fsync_path(parent);
    return {{"output", o.output.string()}, {"parameters", model_param_count(mc)}, {"vocab_size", vocab},
            {"size", o.size}, {"records", records}, {"texts", texts.size()}};
  } catch (...) {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    throw;
  }
}

}  // namespace slmify
