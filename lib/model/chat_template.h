// Chat templates of the supported model families, built in (no Jinja interpreter): ChatML (Qwen2,
// Qwen2.5, SmolLM2, Hermes-2-Pro/3), Llama-2, Llama-3/3.1, Mistral (v1, v3, v3-tekken), Phi-3,
// Gemma. A model's template is recognised from its tokenizer_config.json `chat_template` or named
// explicitly. Rendering keeps track of which text is the assistant's reply, so finetune can train
// on those tokens only. docs/chat-templates.md says what each family renders and where we differ.
// Tested by tests/model/test_chat_template.cpp against the real Jinja templates rendered by
// transformers (tests/reference/chat_reference.py, fixtures in tests/fixtures/chat_templates/).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/tokenizer.h"

namespace slmify {

enum class ChatFamily { chatml, llama2, llama3, mistral, phi3, gemma };

struct ChatTemplate {
  ChatFamily family = ChatFamily::chatml;
  std::string name;            ///< e.g. "chatml", "qwen2.5", "llama3.1", "mistral-v3"; see chat_template_names()
  std::string default_system;  ///< system prompt the template adds when the messages have none ("" = none)
  std::string bos_token;       ///< BOS text the template writes ("" when it writes none), e.g. "<s>"
  std::string eos_token;       ///< EOS text the template writes after replies, e.g. "</s>" ("" = none)
  std::string date_string = "26 Jul 2024";  ///< Llama-3.1 "Today Date:" line; the template's own default
};

/// Names accepted by chat_template_named() (and the `--chat-template` flags).
std::vector<std::string> chat_template_names();
/// The template called `name` (aliases such as "llama3.2" or "phi3.5" too); usage Error listing the
/// names otherwise.
ChatTemplate chat_template_named(std::string_view name);
/// Recognises the family of a Jinja chat_template source (as found in tokenizer_config.json) by
/// distinctive markers (table in docs/chat-templates.md); `model_type` (config.json) picks the BOS of
/// a ChatML template that writes one ("<s>" for mistral/mixtral/internlm2). usage Error naming what was
/// seen when nothing matches or the template is of a known but unsupported kind (Qwen3, Mistral v7).
ChatTemplate chat_template_detect(std::string_view jinja_source, std::string_view model_type);

/// One piece of rendered text; special tokens appear literally (encode with parse_special).
struct ChatSegment {
  std::string text;
  bool assistant = false;  ///< part of an assistant reply the model should learn to produce
  int message = -1;        ///< index into `messages` of the message this text renders; -1 for template text
};

/// Renders OpenAI-style `messages` (roles system/developer/user/assistant/tool; assistant
/// `tool_calls` with `arguments` as a JSON string or object; `tool` results) and OpenAI-style
/// `tools` (may be null or empty) the way the family was trained to see them. With
/// add_generation_prompt the text ends with the header of a new assistant turn. An assistant
/// segment is the reply's content (and tool calls) plus the end-of-turn token, never the header.
/// bad_data Error for what the family cannot express (tools for a family without a tool format,
/// roles that do not alternate where the template requires it, arguments that are not JSON).
std::vector<ChatSegment> chat_render(const ChatTemplate& t, const nlohmann::json& messages,
                                     const nlohmann::json& tools, bool add_generation_prompt);

/// The segments joined (what apply_chat_template(tokenize=False) returns).
std::string chat_text(const std::vector<ChatSegment>& segments);

struct ChatTokens {
  TokenIds ids;
  std::vector<uint8_t> assistant_mask;  ///< 1 where ids[i] belongs to an assistant reply
};

/// Tokenises the joined text once with special tokens parsed, no BOS/EOS added (the template writes
/// them), exactly as the model sees it at inference; marks the tokens of assistant segments. A
/// token that straddles a segment boundary counts with the segment it ends in.
ChatTokens chat_encode(const Tokenizer& tok, const std::vector<ChatSegment>& segments);

}  // namespace slmify
