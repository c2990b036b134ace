// The chat template table (names, aliases, what each writes for BOS/EOS and a default system
// prompt), recognition of a tokenizer_config.json template by its distinctive text, rendering by
// family (chat_render_*.cpp) and tokenisation with the assistant mask.
// Tested by tests/model/test_chat_template.cpp (detection of the real templates in
// tests/fixtures/chat_templates/, chat_encode with a fake tokenizer).
#include "model/chat_template.h"

#include <algorithm>

#include "core/error.h"
#include "model/chat_render.h"

namespace slmify {

namespace {

struct TemplateRow {
  const char* name;
  ChatFamily family;
  const char* default_system;
  const char* bos;
  const char* eos;
};

const std::vector<TemplateRow>& template_table() {
  static const std::vector<TemplateRow> rows = {
      {"chatml", ChatFamily::chatml, "", "", ""},
      {"chatml-tools", ChatFamily::chatml, "", "", ""},
      {"qwen2", ChatFamily::chatml, "You are a helpful assistant.", "", ""},
      {"qwen2.5", ChatFamily::chatml, "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.", "", ""},
      {"smollm2", ChatFamily::chatml, "You are a helpful AI assistant named SmolLM, trained by Hugging Face", "", ""},
      {"hermes", ChatFamily::chatml, "You are a helpful assistant.", "<|begin_of_text|>", ""},
      {"llama2", ChatFamily::llama2, "", "<s>", "</s>"},
      {"llama3", ChatFamily::llama3, "", "<|begin_of_text|>", ""},
      {"llama3.1", ChatFamily::llama3, "", "<|begin_of_text|>", ""},
      {"mistral-v1", ChatFamily::mistral, "", "<s>", "</s>"},
      {"mistral-v3", ChatFamily::mistral, "", "<s>", "</s>"},
      {"mistral-v3-tekken", ChatFamily::mistral, "", "<s>", "</s>"},
      {"phi3", ChatFamily::phi3, "", "", "<|endoftext|>"},
      {"gemma", ChatFamily::gemma, "", "<bos>", ""},
  };
  return rows;
}

struct Alias {
  const char* alias;
  const char* name;
};
constexpr Alias aliases[] = {{"llama3.2", "llama3.1"}, {"llama3.3", "llama3.1"}, {"phi3.5", "phi3"},
                             {"gemma2", "gemma"},      {"hermes3", "hermes"},    {"hermes2-pro", "hermes"},
                             {"mistral-nemo", "mistral-v3-tekken"}};

std::string names_list() {
  std::string s;
  for (const std::string& n : chat_template_names()) s += (s.empty() ? "" : ", ") + n;
  return s;
}

[[noreturn]] void unsupported(const std::string& what) {
  throw_usage("chat_template", what, "set the chat template explicitly to one of: " + names_list());
}

}  // namespace

std::vector<std::string> chat_template_names() {
  std::vector<std::string> out;
  for (const TemplateRow& r : template_table()) out.push_back(r.name);
  return out;
}

ChatTemplate chat_template_named(std::string_view name) {
  std::string_view canonical = name;
  for (const Alias& a : aliases)
    if (name == a.alias) canonical = a.name;
  for (const TemplateRow& r : template_table()) {
    if (canonical != r.name) continue;
    ChatTemplate t;
    t.family = r.family;
    t.name = r.name;
    t.default_system = r.default_system;
    t.bos_token = r.bos;
    t.eos_token = r.eos;
    return t;
  }
  throw_usage("chat_template", "unknown chat template \"" + std::string(name) + "\"",
              "use one of: " + names_list());
}

ChatTemplate chat_template_detect(std::string_view src, std::string_view model_type) {
  auto has = [&](std::string_view marker) { return src.find(marker) != std::string_view::npos; };
  if (src.empty()) unsupported("the model has no chat_template in tokenizer_config.json");
  if (has("<|im_start|>")) {
    if (has("<think>")) unsupported("a ChatML template with <think> reasoning blocks (Qwen3, QwQ) is not built in");
    if (has("<|im_sep|>")) unsupported("the Phi-4 template is not built in");
    if (has("slmify chatml-tools")) return chat_template_named("chatml-tools");  // what `slmify model init` writes
    if (has("You are Qwen, created by Alibaba Cloud")) return chat_template_named("qwen2.5");
    if (has("named SmolLM")) return chat_template_named("smollm2");
    // ChatML that writes BOS: Hermes (and the like); the BOS text follows the base model.
    if (has("You are a function calling AI model") || has("json_to_python_type") || has("bos_token")) {
      ChatTemplate t = chat_template_named("hermes");
      if (model_type == "mistral" || model_type == "mixtral" || model_type == "internlm2") t.bos_token = "<s>";
      if (!has("You are a helpful assistant.")) t.default_system.clear();
      return t;
    }
    if (has("You are a helpful assistant.")) return chat_template_named("qwen2");
    return chat_template_named("chatml");
  }
  if (has("<|start_header_id|>"))
    return chat_template_named(has("Cutting Knowledge Date") ? "llama3.1" : "llama3");
  if (has("<start_of_turn>")) return chat_template_named("gemma");
  if (has("<|user|>") && has("<|assistant|>") && has("<|end|>")) return chat_template_named("phi3");
  if (has("[INST]")) {
    if (has("<<SYS>>")) return chat_template_named("llama2");
    if (has("[SYSTEM_PROMPT]")) unsupported("Mistral's v7 template ([SYSTEM_PROMPT]) is not built in");
    if (has(" [/INST]")) return chat_template_named("mistral-v1");
    if (has("[INST]\"") || has("[INST]'")) return chat_template_named("mistral-v3-tekken");
    return chat_template_named("mistral-v3");
  }
  std::string head(src.substr(0, 60));
  std::replace(head.begin(), head.end(), '\n', ' ');
  unsupported("the chat_template (model_type " + std::string(model_type.empty() ? "?" : model_type) +
              ", starting \"" + head + "\") is none of the built-in families");
}

std::vector<ChatSegment> chat_render(const ChatTemplate& t, const nlohmann::json& messages,
                                     const nlohmann::json& tools, bool add_generation_prompt) {
  const std::vector<chat::Message> msgs = chat::normalise_messages(messages);
  const std::vector<nlohmann::json> defs = chat::normalise_tools(tools);
  chat::SegmentWriter w;
  switch (t.family) {
    case ChatFamily::chatml: chat::render_chatml(t, msgs, defs, add_generation_prompt, w); break;
    case ChatFamily::llama2: chat::render_llama2(t, msgs, defs, add_generation_prompt, w); break;
    case ChatFamily::llama3: chat::render_llama3(t, msgs, defs, add_generation_prompt, w); break;
    case ChatFamily::mistral: chat::render_mistral(t, msgs, defs, add_generation_prompt, w); break;
    case ChatFamily::phi3: chat::render_phi3(t, msgs, defs, add_generation_prompt, w); break;
    case ChatFamily::gemma: chat::render_gemma(t, msgs, defs, add_generation_prompt, w); break;
  }
  return w.take();
}

std::string chat_text(const std::vector<ChatSegment>& segments) {
  std::string s;
  for (const ChatSegment& seg : segments) s += seg.text;
  return s;
}

ChatTokens chat_encode(const Tokenizer& tok, const std::vector<ChatSegment>& segments) {
  // Runs of segments with the same flag; the mask only changes at their boundaries.
  struct Run {
    size_t begin, end;  // byte offsets in the joined text
    bool assistant;
  };
  std::string text;
  std::vector<Run> runs;
  for (const ChatSegment& seg : segments) {
    if (seg.text.empty()) continue;
    if (runs.empty() || runs.back().assistant != seg.assistant) runs.push_back({text.size(), text.size(), seg.assistant});
    text += seg.text;
    runs.back().end = text.size();
  }
  ChatTokens out;
  out.ids = tok.encode(text, true);
  out.assistant_mask.assign(out.ids.size(), 0);
  // Where each run starts in token space. Fast path: the runs encoded one by one give the same ids
  // (true for byte-level BPE unless a merge crosses a boundary). Otherwise a boundary's token index
  // is the length of the common prefix of the whole encoding and the encoding of the text before it.
  std::vector<size_t> starts;
  TokenIds joined;
  for (const Run& r : runs) {
    starts.push_back(joined.size());
    TokenIds part = tok.encode(std::string_view(text).substr(r.begin, r.end - r.begin), true);
    joined.insert(joined.end(), part.begin(), part.end());
  }
  if (joined != out.ids) {
    for (size_t i = 0; i < runs.size(); ++i) {
      if (runs[i].begin == 0) {
        starts[i] = 0;
        continue;
      }
      const TokenIds prefix = tok.encode(std::string_view(text).substr(0, runs[i].begin), true);
      const auto lcp = std::mismatch(prefix.begin(), prefix.end(), out.ids.begin(), out.ids.end());
      starts[i] = std::max(static_cast<size_t>(lcp.first - prefix.begin()), i > 0 ? starts[i - 1] : size_t{0});
    }
  }
  for (size_t i = 0; i < runs.size(); ++i) {
    if (!runs[i].assistant) continue;
    const size_t end = i + 1 < runs.size() ? starts[i + 1] : out.ids.size();
    for (size_t k = starts[i]; k < end && k < out.ids.size(); ++k) out.assistant_mask[k] = 1;
  }
  return out;
}

}  // namespace slmify
