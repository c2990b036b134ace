// Llama renderers: Llama-2 ([INST] with <<SYS>> folded into the first user turn), Llama-3 (header
// tokens, content trimmed) and Llama-3.1/3.2 (Cutting Knowledge/Today Date lines; with tools
// "Environment: ipython", the tool definitions in the first user turn, calls as
// {"name", "parameters"} and results in ipython turns).
// Tested by tests/model/test_chat_template.cpp against the real Llama-2-chat, Meta-Llama-3,
// Llama-3.1 and Llama-3.2 templates in tests/fixtures/chat_templates/.
#include "model/chat_render.h"

namespace slmify::chat {

using nlohmann::json;

void render_llama2(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools, bool,
                   SegmentWriter& w) {
  require_no_tools(t, msgs, tools);
  const bool has_system = msgs[0].role == "system";
  const size_t start = has_system ? 1 : 0;
  for (size_t i = start; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    const size_t k = i - start;
    if (m.role != "user" && m.role != "assistant")
      fail(t, m.index, "only user and assistant turns may follow the first system message");
    if ((m.role == "user") != (k % 2 == 0))
      fail(t, m.index, "roles must alternate user/assistant/user/... after the optional system message");
    if (m.role == "user") {
      std::string content = m.content;
      if (k == 0 && has_system) content = "<<SYS>>\n" + msgs[0].content + "\n<</SYS>>\n\n" + content;
      w.text(t.bos_token + "[INST] " + py_strip(content) + " [/INST]", m.index);
    } else {
      w.reply(" " + py_strip(m.content) + " " + t.eos_token, m.index);
    }
  }
}

namespace {

void header(const std::string& role, int index, SegmentWriter& w) {
  w.text("<|start_header_id|>" + role + "<|end_header_id|>\n\n", index);
}

void turn(const Message& m, SegmentWriter& w) {
  header(m.role, m.index, w);
  if (m.role == "assistant") w.reply(py_strip(m.content) + "<|eot_id|>", m.index);
  else w.text(py_strip(m.content) + "<|eot_id|>", m.index);
}

void render_llama31(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools,
                    SegmentWriter& w) {
  size_t next = 0;
  std::string system;
  if (msgs[0].role == "system") {
    system = py_strip(msgs[0].content);
    next = 1;
  }
  std::string head = "<|start_header_id|>system<|end_header_id|>\n\n";
  if (!tools.empty()) head += "Environment: ipython\n";
  head += "Cutting Knowledge Date: December 2023\nToday Date: " + t.date_string + "\n\n";
  w.text(head);
  w.text(system, next == 1 ? 0 : -1);
  w.text("<|eot_id|>");
  if (!tools.empty()) {
    if (next >= msgs.size() || msgs[next].role != "user")
      fail(t, next < msgs.size() ? msgs[next].index : -1,
           "the tool definitions go into the first user message, and there is none after the system message");
    std::string s =
        "<|start_header_id|>user<|end_header_id|>\n\nGiven the following functions, please respond with a JSON for a "
        "function call with its proper arguments that best answers the given prompt.\n\nRespond in the format "
        "{\"name\": function name, \"parameters\": dictionary of argument name and its value}.Do not use "
        "variables.\n\n";
    for (const json& tool : tools) s += py_json(tool, 4) + "\n\n";
    w.text(s);
    w.text(py_strip(msgs[next].content) + "<|eot_id|>", msgs[next].index);
    ++next;
  }
  for (size_t i = next; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    if (m.role == "tool") {
      // The template writes content|tojson for strings too (a string is iterable in Jinja).
      w.text("<|start_header_id|>ipython<|end_header_id|>\n\n" + py_json(json(m.content)) + "<|eot_id|>", m.index);
    } else if (!m.calls.empty()) {
      if (m.calls.size() != 1)
        fail(t, m.index, "Llama 3.1 has no format for " + std::to_string(m.calls.size()) + " tool calls in one turn",
             "drop the record or choose a template with parallel calls (qwen2.5, hermes, mistral)");
      header("assistant", m.index, w);
      const ToolCall& c = m.calls[0];
      w.reply("{\"name\": \"" + c.name + "\", \"parameters\": " + py_json(c.arguments) + "}<|eot_id|>", m.index);
    } else {
      turn(m, w);
    }
  }
}

}  // namespace

void render_llama3(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools, bool gen,
                   SegmentWriter& w) {
  w.text(t.bos_token);
  if (t.name == "llama3.1") {
    render_llama31(t, msgs, tools, w);
  } else {
    require_no_tools(t, msgs, tools);
    for (const Message& m : msgs) turn(m, w);
  }
  if (gen) header("assistant", -1, w);
}

}  // namespace slmify::chat
