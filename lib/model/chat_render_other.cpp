// Mistral renderers (v1: " [INST] … [/INST]" with the system prompt in the first user turn; v3 and
// v3-tekken: [AVAILABLE_TOOLS]/[TOOL_CALLS]/[TOOL_RESULTS], system prompt in the last user turn as
// mistral-common does), Phi-3 (<|system|>/<|user|>/<|assistant|> … <|end|>) and Gemma (user/model
// turns, content trimmed, a system message folded into the first user turn).
// Tested by tests/model/test_chat_template.cpp against the real Mistral-7B-Instruct-v0.2,
// Mistral-Nemo, Phi-3/3.5-mini and Gemma-2 templates and Mistral's published v3/tekken strings.
#include <algorithm>

#include "core/hash.h"
#include "model/chat_render.h"

namespace slmify::chat {

using nlohmann::json;

namespace {

// Mistral's templates require 9-character call ids; OpenAI's are longer, so others are mapped to
// the first 9 hex digits of their sha256 (the same for a call and the result that answers it).
std::string mistral_id(const std::string& id) { return id.size() == 9 ? id : sha256_hex(id).substr(0, 9); }

std::string mistral_tools(const std::vector<json>& tools, const std::string& sp) {
  std::string s = "[AVAILABLE_TOOLS]" + sp + "[";
  for (size_t i = 0; i < tools.size(); ++i) {
    const json& f = tools[i].at("function");
    std::vector<std::string> keys;
    for (auto it = f.begin(); it != f.end(); ++it)
      if (it.key() != "return") keys.push_back(it.key());
    std::sort(keys.begin(), keys.end(), json_key_less);
    s += "{\"type\": \"function\", \"function\": {";
    for (size_t k = 0; k < keys.size(); ++k) {
      const json& v = f.at(keys[k]);
      s += k ? ", " : "";
      s += "\"" + keys[k] + "\": " + (v.is_string() ? "\"" + v.get<std::string>() + "\"" : py_json(v));
    }
    s += "}}";
    s += i + 1 < tools.size() ? ", " : "]";
  }
  return s + "[/AVAILABLE_TOOLS]";
}

void render_mistral_v1(const ChatTemplate& t, const std::vector<Message>& msgs, SegmentWriter& w) {
  const bool has_system = msgs[0].role == "system";
  const size_t start = has_system ? 1 : 0;
  w.text(t.bos_token);
  for (size_t i = start; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    const size_t k = i - start;
    if ((m.role != "user" && m.role != "assistant") || (m.role == "user") != (k % 2 == 0))
      fail(t, m.index, "after the optional system message, roles must alternate user/assistant/user/...");
    if (m.role == "user") {
      const std::string sys = k == 0 && has_system ? msgs[0].content + "\n\n" : "";
      w.text(" [INST] " + sys + m.content + " [/INST]", m.index);
    } else {
      w.reply(" " + m.content + t.eos_token, m.index);
    }
  }
}

void render_mistral_v3(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools,
                       SegmentWriter& w) {
  const bool tekken = t.name == "mistral-v3-tekken";
  const std::string sp = tekken ? "" : " ";
  const bool has_system = msgs[0].role == "system";
  const size_t start = has_system ? 1 : 0;
  size_t last_user = msgs.size();
  int turns = 0;
  for (size_t i = start; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    if (m.role == "user") last_user = i;
    if (m.role == "tool" || !m.calls.empty()) continue;
    if ((m.role != "user" && m.role != "assistant") || (m.role == "user") != (turns % 2 == 0))
      fail(t, m.index, "after the optional system message, roles must alternate user/assistant/user/... "
                       "(tool calls and results aside)");
    ++turns;
  }
  w.text(t.bos_token);
  for (size_t i = start; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    if (m.role == "user") {
      // The template compares messages by value: a user turn equal to the last one gets the tools too.
      if (!tools.empty() && m.content == msgs[last_user].content) w.text(mistral_tools(tools, sp));
      const std::string sys = i == last_user && has_system ? msgs[0].content + "\n\n" : "";
      w.text("[INST]" + sp + sys + m.content + "[/INST]", m.index);
    } else if (!m.calls.empty()) {
      std::string s = "[TOOL_CALLS]" + sp + "[";
      for (size_t k = 0; k < m.calls.size(); ++k) {
        const ToolCall& c = m.calls[k];
        // mistral-common writes the arguments' keys sorted (its published strings), not as logged.
        const std::string f = py_json(json{{"name", c.name}, {"arguments", json::parse(c.arguments.dump())}});
        s += f.substr(0, f.size() - 1) + ", \"id\": \"" + mistral_id(c.id) + "\"}";
        s += k + 1 < m.calls.size() ? ", " : "]" + t.eos_token;
      }
      w.reply(s, m.index);
    } else if (m.role == "assistant") {
      w.reply((tekken ? m.content : " " + py_strip(m.content)) + t.eos_token, m.index);
    } else {
      w.text("[TOOL_RESULTS]" + sp + "{\"content\": " + m.content + ", \"call_id\": \"" + mistral_id(m.tool_call_id) +
                 "\"}[/TOOL_RESULTS]",
             m.index);
    }
  }
}

}  // namespace

void render_mistral(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools, bool,
                    SegmentWriter& w) {
  if (t.name == "mistral-v1") {
    require_no_tools(t, msgs, tools);
    render_mistral_v1(t, msgs, w);
  } else {
    render_mistral_v3(t, msgs, tools, w);
  }
}

void render_phi3(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools, bool gen,
                 SegmentWriter& w) {
  require_no_tools(t, msgs, tools);
  for (const Message& m : msgs) {
    if (m.role == "system" && !m.content.empty()) {
      w.text("<|system|>\n" + m.content + "<|end|>\n", m.index);
    } else if (m.role == "user") {
      w.text("<|user|>\n" + m.content + "<|end|>\n", m.index);
    } else if (m.role == "assistant") {
      w.text("<|assistant|>\n", m.index);
      w.reply(m.content + "<|end|>", m.index);
      w.text("\n", m.index);
    }
  }
  w.text(gen ? "<|assistant|>\n" : t.eos_token);
}

void render_gemma(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools, bool gen,
                  SegmentWriter& w) {
  require_no_tools(t, msgs, tools);
  const bool has_system = msgs[0].role == "system";
  const size_t start = has_system ? 1 : 0;
  w.text(t.bos_token);
  for (size_t i = start; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    const size_t k = i - start;
    if ((m.role != "user" && m.role != "assistant") || (m.role == "user") != (k % 2 == 0))
      fail(t, m.index, "roles must alternate user/model/user/... (a first system message is folded into the first "
                       "user turn)");
    if (m.role == "user") {
      const std::string content = k == 0 && has_system ? msgs[0].content + "\n\n" + m.content : m.content;
      w.text("<start_of_turn>user\n" + py_strip(content) + "<end_of_turn>\n", m.index);
    } else {
      w.text("<start_of_turn>model\n", m.index);
      w.reply(py_strip(m.content) + "<end_of_turn>", m.index);
      w.text("\n", m.index);
    }
  }
  if (gen) w.text("<start_of_turn>model\n");
}

}  // namespace slmify::chat
