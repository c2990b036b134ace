// The `otel` importer: turns the LLM-call spans of an OTLP/JSON traces document into records
// (docs/collect.md, section otel). Content is read in the three conventions instrumentations use:
// indexed gen_ai.prompt.N.* attributes (OpenLLMetry), JSON gen_ai.input/output.messages (semconv
// 1.37+), and one event per message (semconv 1.28-1.36). Tested by tests/collect/test_otel.cpp
// against examples/formats/otel-indexed.json and otel-messages.jsonl.
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <vector>

#include "collect/importers.h"

namespace slmify {

namespace {

using Dropped = std::map<std::string, uint64_t>;
using Parents = std::map<std::string, std::pair<std::string, std::string>>;
using Events = std::vector<std::pair<std::string, json>>;  // {name, attributes} per span event

// ---- OTLP/JSON values -------------------------------------------------------------------------

// Standard base64 (with or without padding); false when `s` is not base64.
json otel_value(const json& v);

// An OTLP attribute list [{key, value: AnyValue}] as a JSON object (the last of repeated keys wins).
json otel_attrs(const json& list) {
  json out = json::object();
  if (!list.is_array()) return out;
  for (const json& kv : list)
    if (kv.is_object() && kv.contains("key") && kv["key"].is_string())
      out[kv["key"].get<std::string>()] = otel_value(kv.value("value", json()));
  return out;
}

// An OTLP/JSON AnyValue as plain JSON. intValue is a string holding an int64 (proto3 JSON) or a
// number; doubleValue may be a string for NaN and infinities (these become null); bytesValue is
// base64 and becomes its text when that is UTF-8. A value not wrapped in an AnyValue is kept.
json otel_value(const json& v) {
  if (!v.is_object()) return v;
  if (auto it = v.find("stringValue"); it != v.end()) return *it;
  if (auto it = v.find("boolValue"); it != v.end()) return *it;
  if (auto it = v.find("intValue"); it != v.end()) {
    if (!it->is_string()) return *it;
    const std::string& s = it->get_ref<const std::string&>();
    int64_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    return (ec == std::errc() && end == s.data() + s.size()) ? json(n) : *it;
  }
  if (auto it = v.find("doubleValue"); it != v.end()) {
    if (!it->is_string()) return *it;
    char* end = nullptr;
    double d = std::strtod(it->get_ref<const std::string&>().c_str(), &end);
    return (*end == '\0' && std::isfinite(d)) ? json(d) : json();
  }
  if (auto it = v.find("arrayValue"); it != v.end()) {
    json out = json::array();
    if (it->is_object() && it->contains("values") && (*it)["values"].is_array())
      for (const json& x : (*it)["values"]) out.push_back(otel_value(x));
    return out;
  }
  if (auto it = v.find("kvlistValue"); it != v.end())
    return it->is_object() ? otel_attrs(it->value("values", json::array())) : json::object();
  if (auto it = v.find("bytesValue"); it != v.end()) {
    std::string bytes;
    if (it->is_string() && base64_decode(it->get<std::string>(), bytes) && utf8_valid(bytes)) return bytes;
    return *it;
  }
  return nullptr;  // an empty AnyValue
}

// attrs[key] when present and not null.
const json* attr(const json& attrs, const std::string& key) {
  auto it = attrs.find(key);
  return it == attrs.end() || it->is_null() ? nullptr : &*it;
}

// attrs[key] as text: strings as they are, numbers written out, anything else "".
std::string attr_str(const json& attrs, const std::string& key) {
  const json* v = attr(attrs, key);
  if (!v) return "";
  if (v->is_string()) return v->get<std::string>();
  return v->is_number() ? v->dump() : "";
}

// Unix nanoseconds from a string or a number; 0 when absent or unusable.
uint64_t nanos(const json& v) {
  if (v.is_number_unsigned() || v.is_number_integer()) return v.get<int64_t>() > 0 ? v.get<uint64_t>() : 0;
  if (v.is_number_float()) return v.get<double>() > 0 ? static_cast<uint64_t>(v.get<double>()) : 0;
  if (!v.is_string()) return 0;
  const std::string& s = v.get_ref<const std::string&>();
  uint64_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  return ec == std::errc() && end == s.data() + s.size() ? n : 0;
}

// A JSON-valued attribute, written either as JSON text or as an OTLP array/kvlist value.
json json_attr(const json& v, const std::string& key) {
  if (!v.is_string()) return v;
  json parsed = json_parse_embedded(v.get_ref<const std::string&>());
  if (parsed.is_discarded()) throw ImportError(key + " is not valid JSON");
  return parsed;
}

// Calls f(resource attributes, span) for every span of the document.
template <class F>
void for_each_span(const json& doc, F&& f) {
  auto rs = doc.is_object() ? doc.find("resourceSpans") : doc.end();
  if (!doc.is_object() || rs == doc.end() || !rs->is_array())
    throw ImportError("OTLP document: resourceSpans must be an array");
  for (const json& r : *rs) {
    if (!r.is_object()) throw ImportError("OTLP document: resourceSpans entries must be objects");
    json res_attrs = r.contains("resource") && r["resource"].is_object() ? otel_attrs(r["resource"].value("attributes", json()))
                                                                         : json::object();
    // "instrumentationLibrarySpans" is the name OTLP used before 0.15.
    for (const char* scopes_key : {"scopeSpans", "instrumentationLibrarySpans"}) {
      auto ss = r.find(scopes_key);
      if (ss == r.end() || !ss->is_array()) continue;
      for (const json& scope : *ss) {
        if (!scope.is_object() || !scope.contains("spans") || !scope["spans"].is_array()) continue;
        for (const json& span : scope["spans"]) f(res_attrs, span);
      }
    }
  }
}

// ---- messages ---------------------------------------------------------------------------------

// A role of dataset format v1 for a role name as instrumentations write it.
std::string role_of(const std::string& r) {
  for (const char* known : {"system", "developer", "user", "assistant", "tool"})
    if (r == known) return r;
  if (r == "model" || r == "ai") return "assistant";
  if (r == "human") return "user";
  if (r == "function") return "tool";
  if (r.empty()) throw ImportError("message without a role");
  throw ImportError("unknown message role \"" + r + "\"");
}

json tool_call(const json& id, const json& name, const json& arguments) {
  if (!name.is_string() || name.get_ref<const std::string&>().empty()) throw ImportError("tool call without a name");
  json tc = {{"type", "function"}, {"function", {{"name", name}, {"arguments", arguments_text(arguments)}}}};
  if (id.is_string() && !id.get_ref<const std::string&>().empty()) tc["id"] = id;
  return tc;
}

// A tool call as events and JSON text write it: OpenAI-shaped {id, type, function: {name,
// arguments}} or flat {id, name, arguments}.
json tool_call_of(const json& tc) {
  if (!tc.is_object()) throw ImportError("a tool call must be an object");
  const json& f = tc.contains("function") && tc["function"].is_object() ? tc["function"] : tc;
  return tool_call(tc.value("id", json()), f.value("name", json()), f.value("arguments", json()));
}

// Message content as a string or null: a list of parts is reduced to its text (content_text).
json text_of(const json& content, Dropped& dropped) {
  if (content.is_null() || content.is_string()) return content;
  if (content.is_array()) return content_text(content, dropped);
  return content.dump();
}

json make_message(const std::string& role, json content, json tool_calls) {
  json m = {{"role", role_of(role)}, {"content", std::move(content)}};
  if (tool_calls.is_array() && !tool_calls.empty()) {
    m["tool_calls"] = std::move(tool_calls);
    if (m["content"] == "") m["content"] = nullptr;  // a turn of only tool calls
  }
  return m;
}

json tool_message(const json& id, json content) {
  if (!id.is_string() || id.get_ref<const std::string&>().empty()) throw ImportError("tool message without the id of the call it answers");
  if (!content.is_string()) content = content.is_null() ? "" : content.dump();
  return {{"role", "tool"}, {"content", std::move(content)}, {"tool_call_id", id}};
}

// The conversation of one span, in whichever convention it was found.
struct Conversation {
  json input = json::array();  // request messages
  json output;                 // the first output message, or null
  uint64_t extra_choices = 0;  // further output messages (dropped, counted)
  bool any() const { return !input.empty() || !output.is_null(); }
};

// Calls f(key, value) for the members of object `obj` whose key starts with `prefix`.
template <class F>
void for_prefix(const json& obj, const std::string& prefix, F&& f) {
  if (!obj.is_object()) return;
  const auto& m = obj.get_ref<const json::object_t&>();
  for (auto it = m.lower_bound(prefix); it != m.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    f(it->first, it->second);
}

// Fields of indexed attributes: prefix + "N.rest" -> N -> {rest: value}, in index order.
std::map<long, json> indexed(const json& obj, const std::string& prefix) {
  std::map<long, json> out;
  for_prefix(obj, prefix, [&](const std::string& k, const json& v) {
    long n = 0;
    auto [end, ec] = std::from_chars(k.data() + prefix.size(), k.data() + k.size(), n);
    if (ec != std::errc() || end == k.data() + k.size() || *end != '.') return;
    json& fields = out[n];
    if (fields.is_null()) fields = json::object();
    fields[std::string(end + 1)] = v;
  });
  return out;
}

// One gen_ai.prompt.N / gen_ai.completion.N group as a message.
json indexed_message(const json& f, bool output, Dropped& dropped) {
  std::string role = attr_str(f, "role");
  if (role.empty()) role = output ? "assistant" : "user";
  json content = text_of(f.value("content", json()), dropped);
  if (role_of(role) == "tool") return tool_message(f.value("tool_call_id", json()), content);
  json calls = json::array();
  for (auto& [_, tc] : indexed(f, "tool_calls."))
    calls.push_back(tool_call(tc.value("id", json()), tc.value("name", json()), tc.value("arguments", json())));
  json m = make_message(role, std::move(content), std::move(calls));
  if (output && f.contains("finish_reason")) m["finish_reason"] = f["finish_reason"];
  return m;
}

// Convention 1: gen_ai.prompt.N.* and gen_ai.completion.N.* attributes.
Conversation from_indexed(const json& attrs, Dropped& dropped) {
  Conversation c;
  for (auto& [_, f] : indexed(attrs, "gen_ai.prompt.")) c.input.push_back(indexed_message(f, false, dropped));
  for (auto& [_, f] : indexed(attrs, "gen_ai.completion.")) {
    if (c.output.is_null()) c.output = indexed_message(f, true, dropped);
    else ++c.extra_choices;
  }
  return c;
}

// The parts of one semconv message, as text, tool calls and tool responses.
struct Parts {
  json text;  // null when there is no text part
  json calls = json::array();
  json responses = json::array();  // tool messages
};

Parts parts_of(const json& m, Dropped& dropped) {
  Parts p;
  if (!m.is_object()) throw ImportError("a message must be an object");
  if (!m.contains("parts")) {  // some instrumentations write {role, content} instead
    p.text = text_of(m.value("content", json()), dropped);
    return p;
  }
  if (!m["parts"].is_array()) throw ImportError("message parts must be an array");
  for (const json& part : m["parts"]) {
    std::string type = part.is_object() ? attr_str(part, "type") : "";
    if (type == "text" && part.contains("content") && part["content"].is_string()) {
      std::string t = part["content"].get<std::string>();
      p.text = p.text.is_null() ? t : p.text.get<std::string>() + "\n" + t;
    } else if (type == "tool_call") {
      p.calls.push_back(tool_call(part.value("id", json()), part.value("name", json()), part.value("arguments", json())));
    } else if (type == "tool_call_response") {
      p.responses.push_back(tool_message(part.value("id", json()), part.value("response", json())));
    } else {
      ++dropped[type.empty() ? "unknown" : type];
    }
  }
  return p;
}

// gen_ai.system_instructions: a list of parts, or plain text.
json system_message(const json& v, Dropped& dropped) {
  json parsed = v.is_string() ? json_parse_embedded(v.get_ref<const std::string&>()) : v;
  if (!parsed.is_array()) return make_message("system", v.is_string() ? v : json(v.dump()), json());
  Parts p = parts_of(json{{"parts", parsed}}, dropped);
  return make_message("system", p.text, json());
}

// gen_ai.input.messages as request messages; a message's tool results become tool messages
// placed before the rest of it, as the chat APIs order them.
void json_input(const json& v, json& input, Dropped& dropped) {
  json msgs = json_attr(v, "gen_ai.input.messages");
  if (!msgs.is_array()) throw ImportError("gen_ai.input.messages must be a list of messages");
  for (const json& m : msgs) {
    Parts p = parts_of(m, dropped);
    for (json& r : p.responses) input.push_back(std::move(r));
    std::string role = attr_str(m, "role");
    if (role_of(role) == "tool") {  // a tool message written as {role, content, tool_call_id}
      json id = m.contains("tool_call_id") ? m["tool_call_id"] : m.value("id", json());
      if (p.responses.empty()) input.push_back(tool_message(id, p.text));
    } else if (!p.text.is_null() || !p.calls.empty() || p.responses.empty()) {
      json msg = make_message(role, p.text, p.calls);
      if (m.contains("name") && m["name"].is_string()) msg["name"] = m["name"];
      input.push_back(std::move(msg));
    }
  }
}

// gen_ai.output.messages: the first is the output, the others are counted.
void json_output(const json& v, Conversation& c, Dropped& dropped) {
  json msgs = json_attr(v, "gen_ai.output.messages");
  if (!msgs.is_array()) throw ImportError("gen_ai.output.messages must be a list of messages");
  for (const json& m : msgs) {
    if (!c.output.is_null()) {
      ++c.extra_choices;
      continue;
    }
    Parts p = parts_of(m, dropped);
    if (!p.responses.empty()) dropped["tool_call_response"] += p.responses.size();
    std::string role = attr_str(m, "role");
    c.output = make_message(role.empty() ? "assistant" : role, p.text, p.calls);
    if (m.contains("finish_reason")) c.output["finish_reason"] = m["finish_reason"];
  }
}

// Convention 2: gen_ai.input.messages / output.messages / system_instructions, on the span or on
// its gen_ai.client.inference.operation.details event (`details`, an object of attributes).
Conversation from_json_attrs(const json& attrs, const json& details, Dropped& dropped) {
  auto find = [&](const char* key) { return attr(attrs, key) ? attr(attrs, key) : attr(details, key); };
  Conversation c;
  if (const json* sys = find("gen_ai.system_instructions")) c.input.push_back(system_message(*sys, dropped));
  if (const json* in = find("gen_ai.input.messages")) json_input(*in, c.input, dropped);
  if (const json* out = find("gen_ai.output.messages")) json_output(*out, c, dropped);
  return c;
}

// Tool calls of an event attribute: JSON text or an OTLP array.
json event_tool_calls(const json& attrs) {
  json calls = json::array();
  const json* v = attr(attrs, "tool_calls");
  if (!v) return calls;
  json list = json_attr(*v, "tool_calls");
  if (!list.is_array()) throw ImportError("tool_calls must be a list");
  for (const json& tc : list) calls.push_back(tool_call_of(tc));
  return calls;
}

// Convention 3: gen_ai.{system,user,assistant,tool}.message and gen_ai.choice events. `events`
// holds {name, attrs} per event; the choice with the lowest index is the output.
Conversation from_events(const Events& events, Dropped& dropped) {
  Conversation c;
  std::optional<int64_t> best_index;
  for (const auto& [name, a] : events) {
    if (name == "gen_ai.choice") {
      int64_t index = attr(a, "index") && a["index"].is_number_integer() ? a["index"].get<int64_t>() : 0;
      if (best_index) ++c.extra_choices;
      if (best_index && index >= *best_index) continue;
      best_index = index;
      json msg = attr(a, "message") ? json_attr(a["message"], "message") : json::object();
      if (!msg.is_object()) msg = {{"content", msg}};
      std::string role = attr_str(msg, "role");
      c.output = make_message(role.empty() ? "assistant" : role, text_of(msg.value("content", json()), dropped),
                              event_tool_calls(msg));
      if (attr(a, "finish_reason")) c.output["finish_reason"] = a["finish_reason"];
      continue;
    }
    static const std::pair<const char*, const char*> roles[] = {{"gen_ai.system.message", "system"},
                                                                {"gen_ai.user.message", "user"},
                                                                {"gen_ai.assistant.message", "assistant"},
                                                                {"gen_ai.tool.message", "tool"}};
    for (const auto& [event_name, event_role] : roles) {
      if (name != event_name) continue;
      std::string role = attr_str(a, "role");
      json content = text_of(a.value("content", json()), dropped);
      if (role_of(role.empty() ? event_role : role) == "tool")
        c.input.push_back(tool_message(attr(a, "id") ? a["id"] : a.value("tool_call_id", json()), content));
      else
        c.input.push_back(make_message(role.empty() ? event_role : role, content, event_tool_calls(a)));
    }
  }
  return c;
}

// A tool definition, semconv-flat {type, name, description, parameters} or OpenAI-shaped
// {type, function: {...}}, as a dataset tool; null (counted) for tools that are not functions.
json tool_definition(const json& t, Dropped& dropped) {
  if (!t.is_object()) throw ImportError("a tool definition must be an object");
  std::string type = attr_str(t, "type");
  if (!type.empty() && type != "function") {
    ++dropped["tool:" + type];
    return nullptr;
  }
  const json& f = t.contains("function") && t["function"].is_object() ? t["function"] : t;
  if (!f.contains("name") || !f["name"].is_string() || f["name"].get_ref<const std::string&>().empty())
    throw ImportError("tool definition without a name");
  json fn = {{"name", f["name"]}};
  if (f.contains("description") && f["description"].is_string()) fn["description"] = f["description"];
  if (const json* p = attr(f, "parameters")) {
    json schema = p->is_string() ? json_parse_embedded(p->get_ref<const std::string&>()) : *p;
    if (schema.is_object()) fn["parameters"] = schema;
    else ++dropped["tool_parameters"];  // not a JSON Schema object: kept out, counted
  }
  if (f.contains("strict") && f["strict"].is_boolean()) fn["strict"] = f["strict"];
  return {{"type", "function"}, {"function", fn}};
}

// Tools offered: gen_ai.tool.definitions (span or details event), else llm.request.functions.N.*.
json tools_of(const json& attrs, const json& details, Dropped& dropped) {
  json tools = json::array();
  const json* defs = attr(attrs, "gen_ai.tool.definitions") ? attr(attrs, "gen_ai.tool.definitions")
                                                             : attr(details, "gen_ai.tool.definitions");
  if (defs) {
    json list = json_attr(*defs, "gen_ai.tool.definitions");
    if (!list.is_array()) throw ImportError("gen_ai.tool.definitions must be a list");
    for (const json& t : list)
      if (json d = tool_definition(t, dropped); !d.is_null()) tools.push_back(std::move(d));
    return tools;
  }
  for (auto& [_, f] : indexed(attrs, "llm.request.functions.")) tools.push_back(tool_definition(f, dropped));
  return tools;
}

// ---- spans ------------------------------------------------------------------------------------

// One span with its attributes and events decoded.
struct SpanView {
  const json& span;
  const json& res_attrs;  // the resource's attributes
  json attrs;
  Events events;
  json details = json::object();  // attributes of its gen_ai.client.inference.operation.details event
};

// The span's events; a gen_ai.event.content JSON object (Azure AI Inference and others put the
// event body there) is merged into the attributes.
Events events_of(const json& span) {
  Events out;
  if (!span.contains("events") || !span["events"].is_array()) return out;
  for (const json& e : span["events"]) {
    if (!e.is_object()) continue;
    json a = otel_attrs(e.value("attributes", json()));
    if (const json* body = attr(a, "gen_ai.event.content"); body && body->is_string()) {
      json parsed = json_parse_embedded(body->get_ref<const std::string&>());
      if (parsed.is_object())
        for (auto it = parsed.begin(); it != parsed.end(); ++it)
          if (!a.contains(it.key())) a[it.key()] = it.value();
    }
    out.emplace_back(attr_str(e, "name"), std::move(a));
  }
  return out;
}

// What the summary and the quarantine say about a span.
std::string span_desc(const json& span) {
  if (!span.is_object()) return "span (not an object)";
  return "span \"" + attr_str(span, "name") + "\" " + attr_str(span, "spanId") + " in trace " + attr_str(span, "traceId");
}

// The agent of the nearest ancestor that names one, following the parents map.
std::string inherited_agent(const Parents& parents, std::string id) {
  for (int hops = 0; !id.empty() && hops < 10000; ++hops) {  // bounded: a damaged file may hold a cycle
    auto it = parents.find(id);
    if (it == parents.end()) break;
    if (!it->second.second.empty()) return it->second.second;
    id = it->second.first;
  }
  return "";
}

// record.source: ids, span name, agent (own, nearest ancestor's, service) and session.
json source_of(const SpanView& s, const Parents& parents) {
  std::string trace = attr_str(s.span, "traceId"), parent = attr_str(s.span, "parentSpanId");
  std::string agent = attr_str(s.attrs, "gen_ai.agent.name");
  if (agent.empty()) agent = inherited_agent(parents, parent);
  if (agent.empty()) agent = attr_str(s.res_attrs, "service.name");
  std::string session;
  for (const json* a : {&s.attrs, &s.res_attrs})
    for (const char* key : {"gen_ai.conversation.id", "session.id"})
      if (session.empty()) session = attr_str(*a, key);
  if (session.empty()) session = trace;
  json source = {{"format", "otel"}, {"trace_id", trace}, {"span_id", attr_str(s.span, "spanId")}};
  if (!parent.empty()) source["parent_span_id"] = parent;
  source["span_name"] = attr_str(s.span, "name");
  source["agent"] = agent.empty() ? json() : json(agent);
  source["session"] = session.empty() ? json() : json(session);
  return source;
}

// request.params: every gen_ai.request.* attribute but the model, by its name after the prefix.
json params_of(const json& attrs) {
  static const std::string prefix = "gen_ai.request.";
  json p = json::object();
  for_prefix(attrs, prefix, [&](const std::string& k, const json& v) {
    if (k != "gen_ai.request.model" && !v.is_null()) p[k.substr(prefix.size())] = v;
  });
  return p;
}

json request_of(const SpanView& s, const Conversation& c, json tools) {
  std::string model = attr_str(s.attrs, "gen_ai.request.model");
  if (model.empty()) model = attr_str(s.attrs, "gen_ai.response.model");
  json request = {{"model", model.empty() ? json() : json(model)}, {"messages", c.input}};
  if (!tools.empty()) request["tools"] = std::move(tools);
  if (json p = params_of(s.attrs); !p.empty()) request["params"] = std::move(p);
  return request;
}

bool is_error(const json& span) {
  if (!span.contains("status") || !span["status"].is_object()) return false;
  const json& code = span["status"].value("code", json());
  return code == 2 || code == "STATUS_CODE_ERROR" || code == "2";
}

// response.error of a failed span: status message and error.type, or the recorded exception's.
json error_of(const SpanView& s) {
  std::string message = attr_str(s.span["status"], "message"), type = attr_str(s.attrs, "error.type");
  for (const auto& [name, a] : s.events)
    if (name == "exception") {
      if (message.empty()) message = attr_str(a, "exception.message");
      if (type.empty()) type = attr_str(a, "exception.type");
    }
  json err = {{"message", message.empty() ? "span status is ERROR" : message}};
  if (!type.empty()) err["type"] = type;
  return err;
}

// record.response of a call that succeeded: the first output message.
json response_of(const SpanView& s, const json& out) {
  if (out["content"].is_null() && !out.contains("tool_calls")) throw ImportError("LLM span output has no text and no tool calls");
  json r = {{"content", out["content"]}};
  if (out.contains("tool_calls")) r["tool_calls"] = out["tool_calls"];
  json finish = out.value("finish_reason", json());
  if (const json* frs = attr(s.attrs, "gen_ai.response.finish_reasons"); finish.is_null() && frs)
    finish = frs->is_array() && !frs->empty() ? (*frs)[0] : *frs;
  r["finish_reason"] = finish.is_string() ? finish : json();
  std::string model = attr_str(s.attrs, "gen_ai.request.model"), resp_model = attr_str(s.attrs, "gen_ai.response.model");
  if (!resp_model.empty() && !model.empty() && resp_model != model) r["model"] = resp_model;
  return r;
}

// A non-negative integer token count, or null.
json token_count(const json& attrs, const char* key) {
  const json* v = attr(attrs, key);
  if (v && (v->is_number_unsigned() || (v->is_number_integer() && v->get<int64_t>() >= 0))) return *v;
  return nullptr;
}

json usage_of(const json& attrs) {
  json u = json::object();
  json in = token_count(attrs, "gen_ai.usage.input_tokens"), out = token_count(attrs, "gen_ai.usage.output_tokens");
  if (in.is_null()) in = token_count(attrs, "gen_ai.usage.prompt_tokens");
  if (out.is_null()) out = token_count(attrs, "gen_ai.usage.completion_tokens");
  if (!in.is_null()) u["prompt_tokens"] = in;
  if (!out.is_null()) u["completion_tokens"] = out;
  return u;
}

// The record of one LLM span from its conversation; throws ImportError.
json span_record(const SpanView& s, const Parents& parents, const Conversation& c, json tools, Dropped& dropped) {
  if (c.input.empty()) throw ImportError("LLM span without input messages (is content capture off?)");
  bool failed = is_error(s.span);
  if (!failed && c.output.is_null()) throw ImportError("LLM span without an output message");
  if (c.extra_choices) dropped["choices"] += c.extra_choices;

  json rec = {{"source", source_of(s, parents)}, {"status", failed ? "error" : "ok"}, {"request", request_of(s, c, std::move(tools))}};
  rec["response"] = failed ? json{{"content", nullptr}, {"error", error_of(s)}} : response_of(s, c.output);
  const json& start_v = s.span.contains("startTimeUnixNano") ? s.span["startTimeUnixNano"] : json();
  if (json ts = timestamp_from(start_v); !ts.is_null()) rec["ts"] = ts;
  uint64_t start = nanos(start_v), end = nanos(s.span.value("endTimeUnixNano", json()));
  if (start && end >= start) rec["latency_ms"] = static_cast<double>(end - start) / 1e6;
  if (json u = usage_of(s.attrs); !u.empty()) rec["usage"] = std::move(u);
  json meta = json::object();
  std::string provider = attr_str(s.attrs, "gen_ai.provider.name");
  if (provider.empty()) provider = attr_str(s.attrs, "gen_ai.system");
  if (!provider.empty()) meta["provider"] = provider;
  if (!dropped.empty()) meta["dropped_parts"] = dropped;
  if (!meta.empty()) rec["meta"] = std::move(meta);
  return rec;
}

bool is_llm_operation(const std::string& op) { return op == "chat" || op == "text_completion" || op == "generate_content"; }

// One span: its record, or nothing when it is not an LLM call (counted in `skipped`); throws
// ImportError when it is one that cannot be converted.
std::optional<Imported> import_span(const json& span, const json& res_attrs, const Parents& parents, OtelSkipped& skipped) {
  if (!span.is_object()) throw ImportError("span is not a JSON object");
  SpanView s{span, res_attrs, otel_attrs(span.value("attributes", json())), events_of(span)};
  // An explicit other operation (invoke_agent, execute_tool, embeddings) is not a call even when
  // it carries messages: agent spans may repeat the content of their model calls.
  std::string op = attr_str(s.attrs, "gen_ai.operation.name");
  if (!op.empty() && !is_llm_operation(op)) {
    ++skipped[op];
    return std::nullopt;
  }
  for (const auto& [name, a] : s.events)
    if (name == "gen_ai.client.inference.operation.details") s.details = a;
  Imported imp;
  Conversation c = from_json_attrs(s.attrs, s.details, imp.dropped_parts);
  if (!c.any()) c = from_indexed(s.attrs, imp.dropped_parts);
  if (!c.any()) c = from_events(s.events, imp.dropped_parts);
  if (op.empty() && !c.any()) {
    ++skipped["other"];
    return std::nullopt;
  }
  json tools = tools_of(s.attrs, s.details, imp.dropped_parts);
  imp.record = span_record(s, parents, c, std::move(tools), imp.dropped_parts);
  return imp;
}

// One attribute of an OTLP attribute list, decoded; null when absent.
json find_attr(const json& list, const char* key) {
  if (!list.is_array()) return nullptr;
  for (const json& kv : list)
    if (kv.is_object() && kv.contains("key") && kv["key"] == key) return otel_value(kv.value("value", json()));
  return nullptr;
}

}  // namespace

void otel_collect_parents(const json& doc, Parents& parents) {
  for_each_span(doc, [&](const json&, const json& span) {
    if (!span.is_object()) return;
    std::string id = attr_str(span, "spanId");
    if (id.empty()) return;
    json agent = find_attr(span.value("attributes", json()), "gen_ai.agent.name");
    parents[id] = {attr_str(span, "parentSpanId"), agent.is_string() ? agent.get<std::string>() : ""};
  });
}

void import_otel(const json& doc, const Parents& parents, const std::function<void(Imported&&)>& emit,
                 const std::function<void(const std::string& reason, const std::string& span)>& fail, OtelSkipped& skipped) {
  for_each_span(doc, [&](const json& res_attrs, const json& span) {
    std::optional<Imported> imp;
    try {
      imp = import_span(span, res_attrs, parents, skipped);
    } catch (const ImportError& e) {
      return fail(e.what(), span_desc(span));
    } catch (const json::exception& e) {  // a value of an unexpected type deep inside a span
      return fail(std::string("malformed span: ") + e.what(), span_desc(span));
    }
    if (imp) emit(std::move(*imp));
  });
}

}  // namespace slmify
