// Chat templates of the supported model families, built in (no Jinja interpreter): ChatML (Qwen2,
// Qwen2.5, SmolLM2, Hermes-2-Pro/3), Llama-2, Llama-3/3.1, Mistral (v1, v3, v3-tekken), Phi-3,
// Gemma. A model's template is recognised from its tokenizer_config.json `chat_template` or named
// explicitly. Rendering keeps track of which text is the assistant's reply, so finetune can train
// on those tokens only. docs/chat-templates.md says what each family renders and where we differ.
// Tested by tests/model/test_chat_template.cpp against the real Jinja templates rendered by
// transformers (tests/reference/chat_reference.py, fixtures in tests/fixtures/chat_templates/).
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
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

/// Whether the template has a way to show tools offered, tool calls and tool results (qwen2.5,
/// chatml-tools, hermes, llama3.1, mistral-v3, mistral-v3-tekken).
bool chat_template_shows_tools(const ChatTemplate& t);

/// The template a fine-tuned model is trained and served with, as `finetune.chat_template` picks it.
struct ChatTemplateChoice {
  ChatTemplate tpl;
  std::string jinja;  ///< its Jinja source where known (the model's own, chatml-tools, a file); "" otherwise
  std::string note;   ///< why `auto` did not take the model's own template ("" when it did)
};
/// `setting`: "auto" (or ""), a built-in name, or a path to a Jinja file (a value ending in .jinja
/// or holding a '/'), recognised like tokenizer_config.json's. auto takes the model's own template
/// (`model_jinja`); where that cannot show tools and `needs_tools`, or the model has none (or one
/// that is not built in), it takes chatml-tools: ChatML with Qwen2.5's tool convention, whose
/// <|im_start|>/<|im_end|> markers `tok` should have as tokens (the note says when it has not).
ChatTemplateChoice chat_template_choose(std::string_view setting, std::string_view model_jinja, std::string_view model_type,
                                        bool needs_tools, const Tokenizer* tok);

/// The file that records, in an adapter (or fine-tuned model) directory, the template it was
/// trained with, so that generate, eval, route and a server render prompts the same way. Next to
/// it, chat_template.jinja holds the Jinja source where known (vLLM's --chat-template, transformers).
inline constexpr const char* kChatTemplateFile = "slmify_chat_template.json";
/// Writes both files into `dir` (atomically each).
void chat_template_write(const std::filesystem::path& dir, const ChatTemplateChoice& c);
/// The template recorded in `dir`, or nullopt when the file is absent; bad_data Error naming the
/// file for an unreadable one, a wrong format or version, or an unknown template name.
std::optional<ChatTemplate> chat_template_read(const std::filesystem::path& dir);

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
