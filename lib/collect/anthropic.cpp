// Anthropic Messages API importer: system prompts, content blocks, tool_use and tool_result,
// streaming events, errors, normalised to the record shape of the OpenAI importers.
// Shapes: docs/collect.md. Tested by tests/collect/test_importers.cpp (examples/formats/anthropic.jsonl).
#include "collect/importers.h"

namespace slmify {

namespace {

// Text of a string or a list of blocks; other blocks are counted in `dropped`.
json blocks_text(const json& content, std::map<std::string, uint64_t>& dropped) {
  if (content.is_string() || content.is_null()) return content;
  if (!content.is_array()) throw ImportError("content must be a string or a list of blocks");
  std::string text;
  bool any = false;
  for (const json& b : content) {
    std::string type = b.is_object() ? b.value("type", "") : "";
    if (type == "text" && b.contains("text") && b["text"].is_string()) {
      text += (any ? "\n" : "") + b["text"].get<std::string>();
      any = true;
    } else {
      ++dropped[type.empty() ? "unknown" : type];
    }
  }
  return any ? json(text) : json();
}

json tool_use_call(const json& b) {
  if (!b.contains("name") || !b["name"].is_string()) throw ImportError("a tool_use block has no name");
  json call = {{"type", "function"},
               {"function", {{"name", b["name"]}, {"arguments", arguments_text(b.value("input", json::object()))}}}};
  if (b.contains("id") && b["id"].is_string()) call["id"] = b["id"];
  return call;
}

// One Anthropic message may become several records messages: tool results go first as "tool"
// messages, then the remaining text (user), or text plus tool calls (assistant).
void message_out(const json& m, json& out, std::map<std::string, uint64_t>& dropped) {
  if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) throw ImportError("a message has no role");
  std::string role = m["role"];
  const json& content = m.value("content", json());
  if (!content.is_array()) {
    out.push_back({{"role", role}, {"content", blocks_text(content, dropped)}});
    return;
  }
  json rest = json::array(), calls = json::array();
  for (const json& b : content) {
    std::string type = b.is_object() ? b.value("type", "") : "";
    if (type == "tool_result") {
      json text = blocks_text(b.value("content", json()), dropped);
      json msg = {{"role", "tool"}, {"tool_call_id", b.value("tool_use_id", "")}, {"content", text.is_null() ? json("") : text}};
      out.push_back(msg);
    } else if (type == "tool_use") {
      calls.push_back(tool_use_call(b));
    } else {
      rest.push_back(b);
    }
  }
  json text = blocks_text(rest, dropped);
  if (role == "assistant") {
    if (text.is_null() && calls.empty()) return;
    json msg = {{"role", "assistant"}, {"content", text}};
    if (!calls.empty()) msg["tool_calls"] = calls;
    out.push_back(msg);
  } else if (!text.is_null()) {
    out.push_back({{"role", role}, {"content", text}});
  }
}

json finish_reason(const json& stop) {
  if (!stop.is_string()) return nullptr;
  const std::string& s = stop.get_ref<const std::string&>();
  if (s == "end_turn" || s == "stop_sequence") return "stop";
  if (s == "tool_use") return "tool_calls";
  if (s == "max_tokens") return "length";
  return s;
}

// Rebuilds a message object from the list of server-sent events of a streamed response.
json reassemble_events(const json& events) {
  json msg = {{"type", "message"}, {"content", json::array()}};
  std::map<int64_t, std::string> partial_json;  // block index -> input_json_delta text
  for (const json& e : events) {
    if (!e.is_object()) throw ImportError("a streaming event is not a JSON object");
    std::string type = e.value("type", "");
    if (type == "error") return e;
    if (type == "message_start" && e.contains("message")) {
      for (auto it = e["message"].begin(); it != e["message"].end(); ++it)
        if (it.key() != "content") msg[it.key()] = it.value();
    } else if (type == "content_block_start") {
      int64_t i = stream_index(e, "a content_block_start");
      while (int64_t(msg["content"].size()) <= i) msg["content"].push_back(json::object());
      msg["content"][i] = e.value("content_block", json::object());
    } else if (type == "content_block_delta") {
      int64_t i = stream_index(e, "a content_block_delta");
      if (i >= int64_t(msg["content"].size())) throw ImportError("a content_block_delta refers to a block that never started");
      const json& d = e.value("delta", json::object());
      json& block = msg["content"][i];
      // Appended in place: a long stream of small deltas stays linear.
      auto append = [&](const char* key) {
        if (!block.is_object()) throw ImportError("a content block is not a JSON object");
        if (!block.contains(key) || !block[key].is_string()) block[key] = "";
        block[key].get_ref<std::string&>() += d.value(key, "");
      };
      if (d.value("type", "") == "text_delta") append("text");
      else if (d.value("type", "") == "input_json_delta") partial_json[i] += d.value("partial_json", "");
      else if (d.value("type", "") == "thinking_delta") append("thinking");
    } else if (type == "message_delta") {
      const json& d = e.value("delta", json::object());
      if (d.contains("stop_reason")) msg["stop_reason"] = d["stop_reason"];
      if (e.contains("usage") && e["usage"].is_object())
        for (auto it = e["usage"].begin(); it != e["usage"].end(); ++it) msg["usage"][it.key()] = it.value();
    }
  }
  for (auto& [i, text] : partial_json) {
    json& block = msg["content"][i];
    json input = json::object();
    std::string err;
    if (text.empty() || json_parse_guarded(text, input, err) == JsonFault::none) block["input"] = std::move(input);
    else block["input"] = text;  // kept verbatim; arguments_text passes strings through
  }
  return msg;
}

json usage_out(const json& u) {
  json out = json::object();
  if (!u.is_object()) return out;
  int64_t prompt = 0;
  bool any = false;
  for (const char* k : {"input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"})
    if (u.contains(k) && u[k].is_number_integer() && u[k].get<int64_t>() >= 0) {
      prompt += u[k].get<int64_t>();
      any = true;
      if (std::string(k) != "input_tokens") out[k] = u[k];
    }
  if (any) out["prompt_tokens"] = prompt;
  if (u.contains("output_tokens") && u["output_tokens"].is_number_integer() && u["output_tokens"].get<int64_t>() >= 0)
    out["completion_tokens"] = u["output_tokens"];
  return out;
}

Imported anthropic(const json& line) {
  Imported out;
  auto [req, resp] = unwrap_call(line, "events");
  if (resp.is_array()) resp = reassemble_events(resp);

  json& rec = out.record;
  rec["source"] = {{"format", "anthropic"}};
  json messages = json::array();
  if (req->contains("system") && !(*req)["system"].is_null()) {
    json sys = blocks_text((*req)["system"], out.dropped_parts);
    if (!sys.is_null()) messages.push_back({{"role", "system"}, {"content", sys}});
  }
  const json& in_msgs = req->value("messages", json());
  if (!in_msgs.is_array() || in_msgs.empty()) throw ImportError("the request has no messages");
  for (const json& m : in_msgs) message_out(m, messages, out.dropped_parts);
  if (messages.empty()) throw ImportError("the request's messages hold no text");
  json request = {{"messages", messages}};
  if (req->contains("model") && (*req)["model"].is_string()) request["model"] = (*req)["model"];
  if (req->contains("tools") && (*req)["tools"].is_array()) {
    json tools = json::array();
    for (const json& t : (*req)["tools"]) {
      if (!t.is_object() || !t.contains("name")) continue;
      json f = {{"name", t["name"]}};
      if (t.contains("description")) f["description"] = t["description"];
      if (t.contains("input_schema") && t["input_schema"].is_object()) f["parameters"] = t["input_schema"];
      tools.push_back({{"type", "function"}, {"function", f}});
    }
    if (!tools.empty()) request["tools"] = tools;
  }
  if (req->contains("tool_choice")) request["tool_choice"] = (*req)["tool_choice"];
  json params = json::object();
  for (auto it = req->begin(); it != req->end(); ++it) {
    static const char* skip[] = {"messages", "model", "tools", "tool_choice", "system", "stream", "metadata"};
    bool s = false;
    for (const char* k : skip) s = s || it.key() == k;
    if (!s) params[it.key()] = it.value();
  }
  if (!params.empty()) request["params"] = params;
  rec["request"] = std::move(request);

  json error = nullptr;
  if (resp.is_object() && resp.value("type", "") == "error") error = resp.value("error", json("error"));
  if (line.contains("error") && !line["error"].is_null() && line["error"] != false) error = line["error"];
  if (error.is_null()) error = wrapper_http_error(line);  // the same wrappers as openai-chat
  if (error.is_null() && (!resp.is_object() || !resp.contains("content")))
    throw ImportError(resp.is_null() ? "no response body (expected a \"response\" object)"
                                     : "the response has neither content nor an error");
  if (!error.is_null()) {
    rec["status"] = "error";
    rec["response"] = {{"content", nullptr}, {"error", error.is_object() || error.is_string() ? error : json(error.dump())}};
  } else {
    json msgs = json::array();
    message_out(json{{"role", "assistant"}, {"content", resp["content"]}}, msgs, out.dropped_parts);
    json response = {{"content", nullptr}};
    if (!msgs.empty()) {
      response["content"] = msgs[0]["content"];
      if (msgs[0].contains("tool_calls")) response["tool_calls"] = msgs[0]["tool_calls"];
    }
    response["finish_reason"] = finish_reason(resp.value("stop_reason", json()));
    set_response_model(response, rec["request"], resp.value("model", json()));
    rec["status"] = "ok";
    rec["response"] = std::move(response);
    if (resp.contains("usage")) rec["usage"] = usage_out(resp["usage"]);
  }
  wrapper_metadata(line, nullptr, rec);  // Anthropic responses carry no "created" time
  if (!out.dropped_parts.empty()) rec["meta"]["dropped_parts"] = out.dropped_parts;
  return out;
}

}  // namespace

Imported import_anthropic(const json& line) { return import_guarded(&anthropic, line); }

}  // namespace slmify
