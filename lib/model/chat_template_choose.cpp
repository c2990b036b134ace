// Which chat template a fine-tuned model is trained and served with (finetune.chat_template), and
// the small file that records it in each adapter directory, so that training and serving cannot
// disagree. docs/chat-templates.md "Tools on models whose template cannot show them".
// Tested by tests/model/test_chat_template.cpp and tests/train/test_finetune.cpp.
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fsutil.h"
#include "model/chat_template.h"
#include "model/model_init.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr const char* kFormat = "slmify-chat-template";
constexpr int kVersion = 1;

bool is_file_setting(std::string_view s) {
  return s.find('/') != std::string_view::npos || (s.size() > 6 && s.substr(s.size() - 6) == ".jinja");
}

ChatTemplateChoice fallback(const std::string& why, const Tokenizer* tok) {
  ChatTemplateChoice c;
  c.tpl = chat_template_named("chatml-tools");
  c.jinja = model_init_chat_template();
  c.note = why + "; using chatml-tools (ChatML with Qwen2.5's tool convention) for training and serving";
  if (tok && (!tok->token_id("<|im_start|>") || !tok->token_id("<|im_end|>")))
    c.note += " (<|im_start|> and <|im_end|> are not tokens of this vocabulary: they are learnt as text)";
  return c;
}

}  // namespace

bool chat_template_shows_tools(const ChatTemplate& t) {
  for (const char* n : {"qwen2.5", "chatml-tools", "hermes", "llama3.1", "mistral-v3", "mistral-v3-tekken"})
    if (t.name == n) return true;
  return false;
}

ChatTemplateChoice chat_template_choose(std::string_view setting, std::string_view model_jinja, std::string_view model_type,
                                        bool needs_tools, const Tokenizer* tok) {
  ChatTemplateChoice c;
  if (is_file_setting(setting)) {
    const fs::path file{std::string(setting)};
    if (!fs::is_regular_file(file))
      throw_usage("finetune.chat_template", "the Jinja file " + file.string() + " does not exist",
                  "give auto, a built-in template name, or the path of a .jinja file");
    c.jinja = read_file(file);
    c.tpl = chat_template_detect(c.jinja, model_type);
    return c;
  }
  if (!setting.empty() && setting != "auto") {
    c.tpl = chat_template_named(setting);
    if (c.tpl.name == "chatml-tools") c.jinja = model_init_chat_template();
    return c;
  }
  if (model_jinja.empty()) return fallback("the model has no chat template", tok);
  try {
    c.tpl = chat_template_detect(model_jinja, model_type);
  } catch (const Error& e) {
    return fallback(std::string("the model's chat template is not built in (") +
                        (e.problems().empty() ? "unrecognised" : e.problems()[0].what) + ")",
                    tok);
  }
  c.jinja = std::string(model_jinja);
  if (needs_tools && !chat_template_shows_tools(c.tpl))
    return fallback("the model's chat template (" + c.tpl.name + ") cannot show the tools the calls offer", tok);
  return c;
}

void chat_template_write(const fs::path& dir, const ChatTemplateChoice& c) {
  json j = {{"format", kFormat}, {"version", kVersion}, {"name", c.tpl.name}, {"default_system", c.tpl.default_system},
            {"bos_token", c.tpl.bos_token}, {"eos_token", c.tpl.eos_token}};
  if (!c.note.empty()) j["note"] = c.note;
  write_file_atomic(dir / kChatTemplateFile, j.dump(2) + "\n");
  if (!c.jinja.empty()) write_file_atomic(dir / "chat_template.jinja", c.jinja);
}

std::optional<ChatTemplate> chat_template_read(const fs::path& dir) {
  const fs::path f = dir / kChatTemplateFile;
  std::error_code ec;
  if (!fs::exists(f, ec)) return std::nullopt;
  const std::string hint = "the directory was written by a different slmify; fine-tune it again, or delete the file to use the base model's template";
  json j;
  try {
    j = json::parse(read_file(f));
  } catch (const json::exception& e) {
    throw_bad_data(f.string(), std::string("is not JSON: ") + e.what(), hint);
  }
  if (!j.is_object() || j.value("format", "") != kFormat || !j.contains("version") || !j["version"].is_number_integer())
    throw_bad_data(f.string(), std::string("is not a ") + kFormat + " file (no format/version)", hint);
  if (j["version"].get<int64_t>() != kVersion)
    throw_bad_data(f.string(), "has version " + j["version"].dump() + "; this slmify reads version " + std::to_string(kVersion), hint);
  if (!j.contains("name") || !j["name"].is_string()) throw_bad_data(f.string(), "has no template name", hint);
  ChatTemplate t;
  try {
    t = chat_template_named(j["name"].get<std::string>());
  } catch (const Error& e) {
    throw_bad_data(f.string(), e.problems().empty() ? "names an unknown chat template" : e.problems()[0].what, hint);
  }
  // The family's text comes from the table; what a base model's template varied is kept.
  if (j.contains("default_system") && j["default_system"].is_string()) t.default_system = j["default_system"].get<std::string>();
  if (j.contains("bos_token") && j["bos_token"].is_string()) t.bos_token = j["bos_token"].get<std::string>();
  if (j.contains("eos_token") && j["eos_token"].is_string()) t.eos_token = j["eos_token"].get<std::string>();
  return t;
}

}  // namespace slmify
