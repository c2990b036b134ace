// ChatML renderers: plain ChatML with an optional default system turn (chatml, qwen2, smollm2, and
// hermes without tools), Qwen2.5 with its `# Tools` system block and <tool_call> JSON (also
// chatml-tools: the same without a default system prompt, the template `slmify model init` writes), and
// Hermes-2-Pro/3's tool_use template (tools described in the system turn, <tool_response> turns).
// Tested by tests/model/test_chat_template.cpp against the real templates in
// tests/fixtures/chat_templates/ (Qwen2.5-7B-Instruct, SmolLM2, Qwen2, Hermes-3 default and tool_use).
#include <algorithm>

#include "model/chat_render.h"

namespace slmify::chat {

using nlohmann::json;

namespace {

void plain_turn(const Message& m, SegmentWriter& w) {
  if (m.role == "assistant") {
    w.text("<|im_start|>assistant\n", m.index);
    w.reply(m.content + "<|im_end|>", m.index);
    w.text("\n", m.index);
  } else {
    w.text("<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n", m.index);
  }
}

// An assistant turn whose body starts with "\n" (tool calls): the header keeps that newline.
void call_turn(const Message& m, const std::string& body, SegmentWriter& w) {
  w.text("<|im_start|>assistant\n", m.index);
  w.reply(body.substr(1) + "<|im_end|>", m.index);
  w.text("\n", m.index);
}

std::string call_json(const ToolCall& c) {
  return "{\"name\": \"" + c.name + "\", \"arguments\": " + py_json(c.arguments) + "}";
}

void render_plain(const ChatTemplate& t, const std::vector<Message>& msgs, SegmentWriter& w) {
  w.text(t.bos_token);
  for (const Message& m : msgs) {
    if (m.index == 0 && m.role != "system" && !t.default_system.empty())
      w.text("<|im_start|>system\n" + t.default_system + "<|im_end|>\n");
    plain_turn(m, w);
  }
}

void render_qwen25(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools,
                   SegmentWriter& w) {
  const bool first_system = msgs[0].role == "system";
  if (!tools.empty()) {
    w.text("<|im_start|>system\n");
    if (first_system) w.text(msgs[0].content, 0);
    else w.text(t.default_system);
    std::string block =
        "\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n<tools>";
    for (const json& tool : tools) block += "\n" + py_json(tool);
    block +=
        "\n</tools>\n\nFor each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
        "<args-json-object>}\n</tool_call><|im_end|>\n";
    w.text(block);
  } else if (first_system) {
    w.text("<|im_start|>system\n" + msgs[0].content + "<|im_end|>\n", 0);
  } else if (!t.default_system.empty()) {
    w.text("<|im_start|>system\n" + t.default_system + "<|im_end|>\n");
  }
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    if (m.role == "system" && i == 0) continue;
    if (m.role == "assistant" && !m.calls.empty()) {
      std::string body = m.content.empty() ? "" : "\n" + m.content;
      for (const ToolCall& c : m.calls) body += "\n<tool_call>\n" + call_json(c) + "\n</tool_call>";
      call_turn(m, body, w);
    } else if (m.role == "tool") {
      std::string s;
      if (i == 0 || msgs[i - 1].role != "tool") s += "<|im_start|>user";
      s += "\n<tool_response>\n" + m.content + "\n</tool_response>";
      if (i + 1 == msgs.size() || msgs[i + 1].role != "tool") s += "<|im_end|>\n";
      w.text(s, m.index);
    } else {
      plain_turn(m, w);
    }
  }
}

// Hermes' json_to_python_type macro, including what it does with arrays ("list[Union[]]": it
// recurses on the items filter of the schema) and schemas without a type ("Union[]").
std::string hermes_type(const json& spec) {
  if (!spec.is_object() || !spec.contains("type") || spec.at("type").is_null()) return "Union[]";
  const json& type = spec.at("type");
  if (type.is_string()) {
    const std::string& s = type.get_ref<const std::string&>();
    if (s == "string") return "str";
    if (s == "number") return "float";
    if (s == "integer") return "int";
    if (s == "boolean") return "bool";
    if (s == "array") return "list[Union[]]";
    if (s == "object")
      return spec.contains("additionalProperties") ? "dict[str, " + hermes_type(spec.at("additionalProperties")) + "]"
                                                   : "dict";
    return "Any";  // the template recurses without end on other type names
  }
  if (type.is_array()) {
    std::string out = "Union[";
    for (size_t i = 0; i < type.size(); ++i) out += (i ? "," : "") + hermes_type(json{{"type", type[i]}});
    return out + "]";
  }
  return "Any";
}

std::string hermes_tool(const json& tool) {
  const json& f = tool.at("function");
  const std::string name = f.value("name", "");
  const json params = f.value("parameters", json::object());
  const json props = params.is_object() ? params.value("properties", json::object()) : json::object();
  std::vector<std::string> keys;
  for (auto it = props.begin(); it != props.end(); ++it) keys.push_back(it.key());
  std::sort(keys.begin(), keys.end(), json_key_less);
  std::string s = "{\"type\": \"function\", \"function\": {\"name\": \"" + name + "\", \"description\": \"" + name + "(";
  for (size_t i = 0; i < keys.size(); ++i) s += (i ? ", " : "") + keys[i] + ": " + hermes_type(props.at(keys[i]));
  s += ")";
  if (f.contains("return")) s += " -> " + hermes_type(f.at("return"));
  s += " - " + f.value("description", std::string()) + "\n\n";
  for (size_t i = 0; i < keys.size(); ++i) {
    if (i == 0) s += "    Args:\n";
    const json& p = props.at(keys[i]);
    const std::string desc = p.is_object() && p.contains("description") && p.at("description").is_string()
                                 ? p.at("description").get<std::string>()
                                 : "";
    s += "        " + keys[i] + "(" + hermes_type(p) + "): " + py_strip(desc);
  }
  if (f.contains("return") && f.at("return").is_object() && f.at("return").contains("description"))
    s += "\n    Returns:\n        " + f.at("return").value("description", std::string());
  s += "\", \"parameters\": " + (keys.empty() ? std::string("{}") : py_json(params)) + "}";
  return s;
}

void render_hermes_tools(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools,
                         SegmentWriter& w) {
  std::string head = t.bos_token +
                     "<|im_start|>system\nYou are a function calling AI model. You are provided with function "
                     "signatures within <tools></tools> XML tags. You may call one or more functions to assist with "
                     "the user query. Don't make assumptions about what values to plug into functions. Here are the "
                     "available tools: <tools> ";
  for (size_t i = 0; i < tools.size(); ++i) head += (i ? "\n" : "") + hermes_tool(tools[i]);
  head +=
      " </tools>Use the following pydantic model json schema for each tool call you will make: {\"properties\": "
      "{\"name\": {\"title\": \"Name\", \"type\": \"string\"}, \"arguments\": {\"title\": \"Arguments\", \"type\": "
      "\"object\"}}, \"required\": [\"name\", \"arguments\"], \"title\": \"FunctionCall\", \"type\": \"object\"}}\n"
      "For each function call return a json object with function name and arguments within "
      "<tool_call></tool_call> XML tags as follows:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": "
      "<args-dict>}\n</tool_call><|im_end|>\n";
  w.text(head);
  for (size_t i = 0; i < msgs.size(); ++i) {
    const Message& m = msgs[i];
    const bool last = i + 1 == msgs.size();
    if (m.role == "assistant" && !m.calls.empty()) {
      std::string body;
      for (const ToolCall& c : m.calls) body += "\n<tool_call>\n" + call_json(c) + "\n</tool_call>";
      call_turn(m, body, w);
    } else if (m.role == "tool") {
      std::string s;
      if (i > 0 && msgs[i - 1].role != "tool") s += "<|im_start|>tool\n";
      s += "<tool_response>\n" + m.content + (last ? "\n</tool_response>" : "\n</tool_response>\n");
      if (last || msgs[i + 1].role != "tool") s += "<|im_end|>";
      w.text(s, m.index);
    } else {
      plain_turn(m, w);
    }
  }
}

}  // namespace

void render_chatml(const ChatTemplate& t, const std::vector<Message>& msgs, const std::vector<json>& tools, bool gen,
                   SegmentWriter& w) {
  bool tool_use = !tools.empty();
  for (const Message& m : msgs) tool_use = tool_use || !m.calls.empty() || m.role == "tool";
  if (t.name == "qwen2.5" || t.name == "chatml-tools") {
    render_qwen25(t, msgs, tools, w);
  } else if (t.name == "hermes" && tool_use) {
    render_hermes_tools(t, msgs, tools, w);
  } else {
    require_no_tools(t, msgs, tools);
    render_plain(t, msgs, w);
  }
  if (gen) w.text("<|im_start|>assistant\n");
}

}  // namespace slmify::chat
