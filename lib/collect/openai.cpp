// OpenAI importers: logged Chat Completions calls (wrappers, metadata, streaming chunks, legacy
// functions) and chat fine-tuning examples. Shapes: docs/collect.md. Tested by
// tests/collect/test_importers.cpp against examples/formats/openai-*.jsonl.
#include "collect/importers.h"

namespace slmify {

namespace {

json tool_call_out(const json& tc) {
  if (!tc.is_object() || !tc.contains("function") || !tc["function"].is_object())
    throw ImportError("a tool call has no function object");
  const json& f = tc["function"];
  if (!f.contains("name") || !f["name"].is_string() || f["name"].get_ref<const std::string&>().empty())
    throw ImportError("a tool call has no function name");
  json out = {{"type", "function"},
              {"function", {{"name", f["name"]}, {"arguments", arguments_text(f.value("arguments", json()))}}}};
  if (tc.contains("id") && tc["id"].is_string()) out["id"] = tc["id"];
  return out;
}

json tool_calls_out(const json& calls) {
  json out = json::array();
  if (!calls.is_array()) throw ImportError("tool_calls is not a list");
  for (const json& tc : calls) out.push_back(tool_call_out(tc));
  return out;
}

// A legacy function_call {name, arguments} as a tool call.
json function_call_out(const json& fc) {
  return tool_call_out(json{{"function", fc}});
}

json tools_out(const json& req) {
  json tools = json::array();
  if (req.contains("tools") && req["tools"].is_array()) {
    for (const json& t : req["tools"]) {
      if (!t.is_object() || !t.contains("function")) continue;  // non-function tools (e.g. web search) carry no schema
      json f = json::object();
      for (const char* k : {"name", "description", "parameters", "strict"})
        if (t["function"].contains(k) && !t["function"][k].is_null()) f[k] = t["function"][k];
      tools.push_back({{"type", "function"}, {"function", f}});
    }
  }
  if (req.contains("functions") && req["functions"].is_array())
    for (const json& f : req["functions"]) tools.push_back({{"type", "function"}, {"function", f}});
  return tools;
}

json message_out(const json& m, std::map<std::string, uint64_t>& dropped) {
  if (!m.is_object() || !m.contains("role") || !m["role"].is_string()) throw ImportError("a message has no role");
  std::string role = m["role"];
  json out = {{"role", role == "function" ? "tool" : role}, {"content", content_text(m.value("content", json()), dropped)}};
  if (m.contains("name") && m["name"].is_string()) {
    if (role == "function") out["tool_call_id"] = m["name"];  // legacy function results are keyed by name
    else out["name"] = m["name"];
  }
  if (m.contains("tool_calls") && !m["tool_calls"].is_null() && !m["tool_calls"].is_array())
    throw ImportError("tool_calls is not a list");
  if (m.contains("tool_calls") && m["tool_calls"].is_array() && !m["tool_calls"].empty())
    out["tool_calls"] = tool_calls_out(m["tool_calls"]);
  else if (m.contains("function_call") && m["function_call"].is_object())
    out["tool_calls"] = json::array({function_call_out(m["function_call"])});
  if (m.contains("tool_call_id") && m["tool_call_id"].is_string()) out["tool_call_id"] = m["tool_call_id"];
  if (out["role"] == "tool" && !out.contains("tool_call_id")) out["tool_call_id"] = "";
  if (out["role"] == "assistant" && out["content"].is_null() && !out.contains("tool_calls") && m.contains("refusal") &&
      m["refusal"].is_string())
    out["content"] = m["refusal"];
  return out;
}

json messages_out(const json& msgs, std::map<std::string, uint64_t>& dropped) {
  if (!msgs.is_array() || msgs.empty()) throw ImportError("the request has no messages");
  json out = json::array();
  for (const json& m : msgs) out.push_back(message_out(m, dropped));
  return out;
}

// Reassembles a streamed response (a list of chat.completion.chunk objects) into one completion.
json reassemble_chunks(const json& chunks) {
  std::string content;
  bool any_content = false;
  std::map<int64_t, json> calls;  // index -> tool call being built
  json finish = nullptr, usage = nullptr, model = nullptr, id = nullptr, created = nullptr;
  for (const json& c : chunks) {
    if (!c.is_object()) throw ImportError("a streaming chunk is not a JSON object");
    if (c.contains("error")) return json{{"error", c["error"]}};
    if (c.contains("model") && model.is_null()) model = c["model"];
    if (c.contains("id") && id.is_null()) id = c["id"];
    if (c.contains("created") && created.is_null()) created = c["created"];
    if (c.contains("usage") && c["usage"].is_object()) usage = c["usage"];
    if (!c.contains("choices") || !c["choices"].is_array()) continue;
    for (const json& ch : c["choices"]) {
      if (!ch.is_object() || stream_index(ch, "a streamed choice") != 0) continue;
      if (ch.contains("finish_reason") && !ch["finish_reason"].is_null()) finish = ch["finish_reason"];
      const json& d = ch.value("delta", json::object());
      if (d.contains("content") && d["content"].is_string()) content += d["content"].get<std::string>(), any_content = true;
      if (d.contains("tool_calls") && d["tool_calls"].is_array()) {
        for (const json& tc : d["tool_calls"]) {
          if (!tc.is_object()) throw ImportError("a streamed tool call is not a JSON object");
          json& call = calls[stream_index(tc, "a streamed tool call")];
          if (call.is_null()) call = {{"type", "function"}, {"function", {{"name", ""}, {"arguments", ""}}}};
          // id and name come from the first delta that has them; later repeats are ignored
          if (tc.contains("id") && tc["id"].is_string() && !call.contains("id")) call["id"] = tc["id"];
          if (tc.contains("function")) {
            const json& f = tc["function"];
            if (f.contains("name") && f["name"].is_string() && call["function"]["name"] == "")
              call["function"]["name"] = f["name"];
            if (f.contains("arguments") && f["arguments"].is_string())
              call["function"]["arguments"].get_ref<std::string&>() += f["arguments"].get_ref<const std::string&>();
          }
        }
      }
    }
  }
  json message = {{"role", "assistant"}, {"content", any_content ? json(content) : json()}};
  if (!calls.empty()) {
    json arr = json::array();
    for (auto& [_, call] : calls) arr.push_back(call);
    message["tool_calls"] = arr;
  }
  json out = {{"object", "chat.completion"}, {"choices", json::array({{{"index", 0}, {"message", message}, {"finish_reason", finish}}})}};
  if (!model.is_null()) out["model"] = model;
  if (!id.is_null()) out["id"] = id;
  if (!created.is_null()) out["created"] = created;  // the ts fallback of wrapper_metadata
  if (!usage.is_null()) out["usage"] = usage;
  return out;
}

json usage_out(const json& u) {
  json out = json::object();
  if (!u.is_object()) return out;
  for (const char* k : {"prompt_tokens", "completion_tokens", "total_tokens"})
    if (u.contains(k) && u[k].is_number_integer() && u[k].get<int64_t>() >= 0) out[k] = u[k];
  return out;
}

Imported openai_chat(const json& line) {
  Imported out;
  auto [req, resp] = unwrap_call(line, "chunks");
  if (resp.is_array()) resp = reassemble_chunks(resp);

  json& rec = out.record;
  rec["source"] = {{"format", "openai-chat"}};
  json request = {{"messages", messages_out(req->value("messages", json()), out.dropped_parts)}};
  if (req->contains("model") && (*req)["model"].is_string()) request["model"] = (*req)["model"];
  json tools = tools_out(*req);
  if (!tools.empty()) request["tools"] = tools;
  if (req->contains("tool_choice")) request["tool_choice"] = (*req)["tool_choice"];
  json params = json::object();
  for (auto it = req->begin(); it != req->end(); ++it) {
    static const char* skip[] = {"messages", "model", "tools", "functions", "tool_choice",
                                 "stream", "stream_options", "user", "metadata"};
    bool s = false;
    for (const char* k : skip) s = s || it.key() == k;
    if (!s) params[it.key()] = it.value();
  }
  if (!params.empty()) request["params"] = params;
  rec["request"] = std::move(request);

  json error = nullptr;
  if (line.contains("error") && !line["error"].is_null() && line["error"] != false) error = line["error"];
  if (resp.is_object() && resp.contains("error") && !resp["error"].is_null()) error = resp["error"];
  if (error.is_null()) error = wrapper_http_error(line);
  if (error.is_null() && (!resp.is_object() || !resp.contains("choices")))
    throw ImportError(resp.is_null() ? "no response body (expected a \"response\" object)"
                                     : "the response has neither choices nor an error");
  if (!error.is_null()) {
    rec["status"] = "error";
    rec["response"] = {{"content", nullptr}, {"error", error.is_object() || error.is_string() ? error : json(error.dump())}};
  } else {
    const json& choices = resp["choices"];
    if (!choices.is_array() || choices.empty()) throw ImportError("the response has no choices");
    if (choices.size() > 1) out.dropped_parts["choices"] += choices.size() - 1;
    const json& ch = choices[0];
    const json& msg = ch.value("message", json::object());
    json response = {{"content", content_text(msg.value("content", json()), out.dropped_parts)}};
    if (msg.contains("tool_calls") && !msg["tool_calls"].is_null() && !msg["tool_calls"].is_array())
      throw ImportError("tool_calls is not a list");
    if (msg.contains("tool_calls") && msg["tool_calls"].is_array() && !msg["tool_calls"].empty())
      response["tool_calls"] = tool_calls_out(msg["tool_calls"]);
    else if (msg.contains("function_call") && msg["function_call"].is_object())
      response["tool_calls"] = json::array({function_call_out(msg["function_call"])});
    if (response["content"].is_null() && !response.contains("tool_calls") && msg.contains("refusal") && msg["refusal"].is_string())
      response["content"] = msg["refusal"];
    response["finish_reason"] = ch.contains("finish_reason") ? ch["finish_reason"] : json();
    if (response["finish_reason"] == "function_call") response["finish_reason"] = "tool_calls";  // legacy name
    set_response_model(response, rec["request"], resp.value("model", json()));
    rec["status"] = "ok";
    rec["response"] = std::move(response);
    if (resp.contains("usage")) rec["usage"] = usage_out(resp["usage"]);
  }
  if (line.contains("usage") && line["usage"].is_object() && !rec.contains("usage")) rec["usage"] = usage_out(line["usage"]);
  wrapper_metadata(line, resp.is_object() ? &resp : nullptr, rec);
  if (!out.dropped_parts.empty()) rec["meta"]["dropped_parts"] = out.dropped_parts;
  return out;
}

Imported openai_ft(const json& line) {
  Imported out;
  const json& msgs = line.value("messages", json());
  if (!msgs.is_array() || msgs.empty()) throw ImportError("no messages");
  json all = messages_out(msgs, out.dropped_parts);
  if (all.back()["role"] != "assistant") throw ImportError("the last message is not the assistant's, so there is no response to learn");
  if (all.size() < 2) throw ImportError("only an assistant message, no request");
  json last = all.back();
  all.erase(all.size() - 1);
  json& rec = out.record;
  rec["source"] = {{"format", "openai-ft"}};
  rec["status"] = "ok";
  json request = {{"messages", all}};
  json tools = tools_out(line);
  if (!tools.empty()) request["tools"] = tools;
  if (line.contains("parallel_tool_calls")) request["params"] = {{"parallel_tool_calls", line["parallel_tool_calls"]}};
  rec["request"] = std::move(request);
  json response = {{"content", last["content"]}, {"finish_reason", last.contains("tool_calls") ? "tool_calls" : "stop"}};
  if (last.contains("tool_calls")) response["tool_calls"] = last["tool_calls"];
  rec["response"] = response;
  wrapper_metadata(line, nullptr, rec);
  if (!out.dropped_parts.empty()) rec["meta"]["dropped_parts"] = out.dropped_parts;
  return out;
}

}  // namespace

Imported import_openai_chat(const json& line) { return import_guarded(&openai_chat, line); }
Imported import_openai_ft(const json& line) { return import_guarded(&openai_ft, line); }

}  // namespace slmify
