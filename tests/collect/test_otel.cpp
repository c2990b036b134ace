// The otel importer (lib/collect/otel.cpp): every field of the records made from
// examples/formats/otel-indexed.json (OpenLLMetry-style indexed attributes) and otel-messages.jsonl
// (semconv 1.37 JSON messages, a failed call, per-message events, a details event), checked
// against records written out by hand; agent inheritance, skipped spans, failures, value decoding.
#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "collect/importers.h"
#include "core/record.h"

using namespace slmify;

namespace {

using Parents = std::map<std::string, std::pair<std::string, std::string>>;

std::string example_path(const std::string& name) { return std::string(SLMIFY_SOURCE_DIR) + "/examples/formats/" + name; }

json load_json(const std::string& name) {
  std::ifstream in(example_path(name));
  REQUIRE(in);
  return json::parse(in);
}

std::vector<json> load_lines(const std::string& name) {
  std::ifstream in(example_path(name));
  REQUIRE(in);
  std::vector<json> docs;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) docs.push_back(json::parse(line));
  return docs;
}

struct Collected {
  std::vector<Imported> imported;
  std::vector<std::pair<std::string, std::string>> failures;  // reason, span
  OtelSkipped skipped;
  const json& record(size_t i) const { return imported.at(i).record; }
};

// What the driver does with one file: parents from every document first, then the import.
Collected collect_docs(const std::vector<json>& docs) {
  Collected c;
  Parents parents;
  for (const json& d : docs) otel_collect_parents(d, parents);
  for (const json& d : docs)
    import_otel(
        d, parents, [&](Imported&& imp) { c.imported.push_back(std::move(imp)); },
        [&](const std::string& reason, const std::string& span) { c.failures.emplace_back(reason, span); }, c.skipped);
  return c;
}

// One OTLP document around `spans`, with the resource's service.name.
json otlp(const std::vector<json>& spans, const std::string& service = "svc") {
  json resource = {{"attributes", json::array({{{"key", "service.name"}, {"value", {{"stringValue", service}}}}})}};
  json scope = {{"scope", {{"name", "test"}}}, {"spans", json(spans)}};
  return {{"resourceSpans", json::array({{{"resource", resource}, {"scopeSpans", json::array({scope})}}})}};
}

json str_attr(const std::string& key, const std::string& value) { return {{"key", key}, {"value", {{"stringValue", value}}}}; }

// A chat span with one user message and one answer in gen_ai.input/output.messages.
json chat_span(const std::string& id, const std::string& parent, json extra_attrs = json::array()) {
  json attrs = {str_attr("gen_ai.operation.name", "chat"),
                str_attr("gen_ai.input.messages", R"([{"role":"user","parts":[{"type":"text","content":"hi"}]}])"),
                str_attr("gen_ai.output.messages", R"([{"role":"assistant","parts":[{"type":"text","content":"hello"}]}])")};
  for (const json& a : extra_attrs) attrs.push_back(a);
  return {{"traceId", "0123456789abcdef0123456789abcdef"}, {"spanId", id}, {"parentSpanId", parent}, {"name", "chat m"},
          {"startTimeUnixNano", "1795860012000000000"}, {"endTimeUnixNano", "1795860012250000000"}, {"attributes", attrs}};
}

json plain_span(const std::string& id, const std::string& parent, json attrs) {
  return {{"traceId", "0123456789abcdef0123456789abcdef"}, {"spanId", id}, {"parentSpanId", parent}, {"name", "step"},
          {"attributes", attrs}};
}

void check_record(const json& got, const std::string& expected_text) {
  json expected = json::parse(expected_text);
  INFO("diff (expected -> got): " << json::diff(expected, got).dump());
  CHECK(got == expected);
}

}  // namespace

TEST_CASE("otel: OpenLLMetry indexed attributes, agent from the invoke_agent parent", "[collect][otel]") {
  Collected c = collect_docs({load_json("otel-indexed.json")});
  CHECK(c.failures.empty());
  CHECK(c.skipped == OtelSkipped{{"invoke_agent", 1}, {"other", 1}});
  REQUIRE(c.imported.size() == 2);

  const std::string tools = R"([
    {"type": "function", "function": {"name": "lookup_order", "description": "Fetch an order by its id",
      "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}},
    {"type": "function", "function": {"name": "issue_refund", "description": "Refund an order in full or in part",
      "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"}},
                     "required": ["order_id", "amount"]}}}])";
  const std::string system = R"({"role": "system", "content": "You are Acme's refund agent. Look up the order before deciding. Refund only orders delivered less than 30 days ago; otherwise explain the return policy."})";
  const std::string user = R"({"role": "user", "content": "Order 88213 arrived broken, I want my money back."})";
  const std::string call = R"({"id": "call_Qm3f8Rk2LwV1bT6nYx0aHc4e", "type": "function", "function": {"name": "lookup_order", "arguments": "{\"order_id\":\"88213\"}"}})";

  check_record(c.record(0), R"({
    "ts": "2026-11-28T10:00:12.004Z",
    "source": {"format": "otel", "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "b7ad6b7169203331",
               "parent_span_id": "eee19b7ec3c1b174", "span_name": "openai.chat", "agent": "refund-agent",
               "session": "5b8efff798038103d269b633813fc60c"},
    "status": "ok",
    "request": {"model": "gpt-4o-mini", "messages": [)" + system + "," + user + R"(], "tools": )" + tools + R"(,
                "params": {"temperature": 0.0, "max_tokens": 512}},
    "response": {"content": null, "tool_calls": [)" + call + R"(], "finish_reason": "tool_calls",
                 "model": "gpt-4o-mini-2024-07-18"},
    "usage": {"prompt_tokens": 168, "completion_tokens": 19},
    "latency_ms": 777.595,
    "meta": {"provider": "openai"}})");

  check_record(c.record(1), R"({
    "ts": "2026-11-28T10:00:12.862Z",
    "source": {"format": "otel", "trace_id": "5b8efff798038103d269b633813fc60c", "span_id": "9f4c2ae81d07b6c3",
               "parent_span_id": "eee19b7ec3c1b174", "span_name": "openai.chat", "agent": "refund-agent",
               "session": "5b8efff798038103d269b633813fc60c"},
    "status": "ok",
    "request": {"model": "gpt-4o-mini", "messages": [)" + system + "," + user + R"(,
                  {"role": "assistant", "content": null, "tool_calls": [)" + call + R"(]},
                  {"role": "tool", "tool_call_id": "call_Qm3f8Rk2LwV1bT6nYx0aHc4e",
                   "content": "{\"order_id\":\"88213\",\"status\":\"delivered\",\"delivered_at\":\"2026-11-21\",\"total\":49.9,\"currency\":\"EUR\"}"}],
                "tools": )" + tools + R"(,
                "params": {"temperature": 0.0, "max_tokens": 512}},
    "response": {"content": "I'm sorry your order arrived damaged. Order 88213 was delivered on 21 November, which is within our 30-day window, so it qualifies for a full refund of EUR 49.90. Shall I go ahead?",
                 "finish_reason": "stop", "model": "gpt-4o-mini-2024-07-18"},
    "usage": {"prompt_tokens": 255, "completion_tokens": 46},
    "latency_ms": 1367.547,
    "meta": {"provider": "openai"}})");
  for (const Imported& imp : c.imported) CHECK(imp.dropped_parts.empty());
}

TEST_CASE("otel: semconv JSON messages, a failed call, events and a details event", "[collect][otel]") {
  Collected c = collect_docs(load_lines("otel-messages.jsonl"));
  CHECK(c.failures.empty());
  CHECK(c.skipped == OtelSkipped{{"execute_tool", 1}, {"invoke_agent", 1}});
  REQUIRE(c.imported.size() == 6);

  const std::string kb_head = R"(
    "status": "ok",
    "request": {"model": "gpt-4.1-mini",
                "tools": [{"type": "function", "function": {"name": "search_kb", "description": "Search the Acme knowledge base",
                  "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "limit": {"type": "integer"}},
                                 "required": ["query"]}}}],
                "params": {"temperature": 0.2, "max_tokens": 800, "seed": 42},
                "messages": [
                  {"role": "system", "content": "You answer questions about Acme's products using only the knowledge base. Cite article ids."},
                  {"role": "user", "content": "Does the X200 router support WPA3?"})";
  const std::string kb_call = R"({"id": "call_VhX2aR8kLp0eQ3mN7sT1uYb4", "type": "function",
                                  "function": {"name": "search_kb", "arguments": "{\"query\":\"X200 WPA3\"}"}})";

  SECTION("a tool loop in gen_ai.input/output.messages as JSON text; agent from service.name") {
    check_record(c.record(0), R"({
      "ts": "2026-11-28T10:04:31.118Z",
      "source": {"format": "otel", "trace_id": "a3c9e1f04b7d28e65f0c1a9b3d7e4f21", "span_id": "7d3e5a1c9b0f2e48",
                 "parent_span_id": "1f0e9d8c7b6a5948", "span_name": "chat gpt-4.1-mini", "agent": "kb-answerer",
                 "session": "conv_6c1f0a2e9b54"},)" + kb_head + R"(]},
      "response": {"content": null, "tool_calls": [)" + kb_call + R"(], "finish_reason": "tool_call",
                   "model": "gpt-4.1-mini-2025-04-14"},
      "usage": {"prompt_tokens": 412, "completion_tokens": 27},
      "latency_ms": 783.975,
      "meta": {"provider": "openai", "dropped_parts": {"uri": 1}}})");
    check_record(c.record(1), R"({
      "ts": "2026-11-28T10:04:32.050Z",
      "source": {"format": "otel", "trace_id": "a3c9e1f04b7d28e65f0c1a9b3d7e4f21", "span_id": "c4a7e2f9d1b06358",
                 "parent_span_id": "1f0e9d8c7b6a5948", "span_name": "chat gpt-4.1-mini", "agent": "kb-answerer",
                 "session": "conv_6c1f0a2e9b54"},)" + kb_head + R"(,
                  {"role": "assistant", "content": null, "tool_calls": [)" + kb_call + R"(]},
                  {"role": "tool", "tool_call_id": "call_VhX2aR8kLp0eQ3mN7sT1uYb4",
                   "content": "{\"results\":[{\"id\":\"KB-1042\",\"snippet\":\"WPA3-Personal is supported from firmware 3.1.\",\"title\":\"X200 security settings\"}]}"}]},
      "response": {"content": "Yes. The X200 supports WPA3-Personal from firmware 3.1 on; update the firmware first if it is older (KB-1042).",
                   "finish_reason": "stop", "model": "gpt-4.1-mini-2025-04-14"},
      "usage": {"prompt_tokens": 498, "completion_tokens": 31},
      "latency_ms": 1237.238,
      "meta": {"provider": "openai", "dropped_parts": {"uri": 1}}})");
    CHECK(c.imported[0].dropped_parts == std::map<std::string, uint64_t>{{"uri", 1}});
  }

  SECTION("a failed call (status code 2) with OTLP array/kvlist message values and the span's own agent") {
    check_record(c.record(2), R"({
      "ts": "2026-11-28T10:07:02.500Z",
      "source": {"format": "otel", "trace_id": "0e6f3b2a9c8d47e1b5a4f3c2d1e0f9a8", "span_id": "5e1d9c3b7a2f4068",
                 "span_name": "chat claude-sonnet-4-5", "agent": "invoice-extractor",
                 "session": "0e6f3b2a9c8d47e1b5a4f3c2d1e0f9a8"},
      "status": "error",
      "request": {"model": "claude-sonnet-4-5",
                  "messages": [
                    {"role": "system", "content": "Return JSON with keys vendor, number, date (ISO-8601), total, currency."},
                    {"role": "user", "content": "Extract vendor, invoice number, date and total from this invoice:\nACME PARTS GmbH\nInvoice RE-2026-11873, 24.11.2026\nTotal due: EUR 1,284.00"}],
                  "params": {"max_tokens": 1024, "temperature": 0.0}},
      "response": {"content": null,
                   "error": {"message": "Error code: 529 - {'type': 'error', 'error': {'type': 'overloaded_error', 'message': 'Overloaded'}}",
                             "type": "anthropic.InternalServerError"}},
      "latency_ms": 510.651,
      "meta": {"provider": "anthropic"}})");
  }

  SECTION("per-message events: gen_ai.*.message and gen_ai.choice (JSON text and kvlist)") {
    const std::string head = R"(
      "source": {"format": "otel", "trace_id": "7c2d4e6f8a0b1c3d5e7f9a1b3c5d7e9f", "span_id": "SPAN",
                 "span_name": "chat gpt-4o-mini", "agent": "ticket-summarizer", "session": "sess-7f3a91"},
      "status": "ok",
      "request": {"model": "gpt-4o-mini", "messages": [
        {"role": "system", "content": "Summarise the support ticket in one sentence for the on-call engineer. If it mentions an order, look it up first."},
        {"role": "user", "content": "Customer says the checkout page shows 'payment failed' but the card was charged; order 99120, Visa, Safari on iOS 18."})";
    const std::string call = R"({"id": "call_Hn4kT8rQ1bY6mW0sV3cZ9pXe", "type": "function",
                                 "function": {"name": "get_order", "arguments": "{\"order_id\": \"99120\"}"}})";
    auto with_span = [](std::string s, const std::string& id) { return s.replace(s.find("SPAN"), 4, id); };
    check_record(c.record(3), "{" + with_span(head, "8e0a2c4e6f8b1d3f") + R"(]},
      "ts": "2026-11-28T10:11:40.200Z",
      "response": {"content": null, "tool_calls": [)" + call + R"(], "finish_reason": "tool_calls",
                   "model": "gpt-4o-mini-2024-07-18"},
      "usage": {"prompt_tokens": 131, "completion_tokens": 18},
      "latency_ms": 616.028,
      "meta": {"provider": "openai"}})");
    check_record(c.record(4), "{" + with_span(head, "a1c3e5f7b9d20486") + R"(,
        {"role": "assistant", "content": null, "tool_calls": [)" + call + R"(]},
        {"role": "tool", "tool_call_id": "call_Hn4kT8rQ1bY6mW0sV3cZ9pXe",
         "content": "{\"order_id\":\"99120\",\"payment\":\"captured\",\"fulfilment\":\"not_created\"}"}]},
      "ts": "2026-11-28T10:11:41.020Z",
      "response": {"content": "Order 99120: card payment was captured but checkout reported failure and no fulfilment was created (Safari, iOS 18).",
                   "finish_reason": "stop", "model": "gpt-4o-mini-2024-07-18"},
      "usage": {"prompt_tokens": 183, "completion_tokens": 29},
      "latency_ms": 945.417,
      "meta": {"provider": "openai"}})");
  }

  SECTION("a details event with two candidates; agent from a parent exported on a later line") {
    check_record(c.record(5), R"({
      "ts": "2026-11-28T10:15:09.402Z",
      "source": {"format": "otel", "trace_id": "4f2a6c8e0b1d3f5a7c9e1b3d5f7a9c0e", "span_id": "d9f1b3a5c7e90214",
                 "parent_span_id": "6b8d0f2a4c6e8a1b", "span_name": "generate_content gemini-2.5-flash",
                 "agent": "lead-scorer", "session": "4f2a6c8e0b1d3f5a7c9e1b3d5f7a9c0e"},
      "status": "ok",
      "request": {"model": "gemini-2.5-flash",
                  "messages": [
                    {"role": "system", "content": "You score B2B sales leads. Answer with JSON only."},
                    {"role": "user", "content": "Score this lead from 0 to 100 and give one reason.\nCompany: Nordwind Logistik GmbH, 240 employees, requested a demo of fleet tracking, budget approved for Q1."}],
                  "params": {"temperature": 0.4, "top_p": 0.95, "top_k": 40.0, "choice.count": 2, "stop_sequences": ["\n\n\n"]}},
      "response": {"content": "{\"score\": 86, \"reason\": \"Mid-size fleet operator with approved budget and an explicit demo request.\"}",
                   "finish_reason": "stop"},
      "usage": {"prompt_tokens": 96, "completion_tokens": 71},
      "latency_ms": 1775.342,
      "meta": {"provider": "gcp.gemini", "dropped_parts": {"reasoning": 1, "choices": 1}}})");
    CHECK(c.imported[5].dropped_parts == std::map<std::string, uint64_t>{{"reasoning", 1}, {"choices", 1}});
  }
}

TEST_CASE("otel: the samples are detected as otel, and records pass the schema check once id and hci are added", "[collect][otel]") {
  std::vector<json> docs = load_lines("otel-messages.jsonl");
  docs.push_back(load_json("otel-indexed.json"));
  for (const json& d : docs) {
    InputFormat f = InputFormat::openai_chat;
    CHECK(input_format_detect(d, f));
    CHECK(f == InputFormat::otel);
  }
  Collected c = collect_docs(docs);
  REQUIRE(c.imported.size() == 8);
  size_t line = 0;
  for (const Imported& imp : c.imported) {
    json rec = imp.record;
    CHECK_FALSE(rec.contains("id"));
    CHECK_FALSE(rec.contains("hci"));
    rec["id"] = record_content_id(rec);
    rec["hci"] = false;
    rec["source"]["file"] = "traces.jsonl";
    rec["source"]["line"] = ++line;
    INFO(rec.dump());
    CHECK(record_check(rec) == "");
  }
}

TEST_CASE("otel: the agent is inherited from the nearest ancestor that names one", "[collect][otel]") {
  json agent_attr = {str_attr("gen_ai.operation.name", "invoke_agent"), str_attr("gen_ai.agent.name", "planner")};
  json tool_attr = json::array({str_attr("gen_ai.operation.name", "execute_tool")});
  // Children first, as batch exporters write them: chat -> execute_tool -> invoke_agent(planner).
  json doc = otlp({chat_span("c1", "t1"), plain_span("t1", "a1", tool_attr), plain_span("a1", "", agent_attr),
                   chat_span("c2", "a1", json::array({str_attr("gen_ai.agent.name", "critic")})),  // its own name wins
                   chat_span("c3", "gone")},                                          // parent not in the file
                  "backend");
  Collected c = collect_docs({doc});
  REQUIRE(c.imported.size() == 3);
  CHECK(c.record(0)["source"]["agent"] == "planner");
  CHECK(c.record(1)["source"]["agent"] == "critic");
  CHECK(c.record(2)["source"]["agent"] == "backend");
  CHECK(c.skipped == OtelSkipped{{"execute_tool", 1}, {"invoke_agent", 1}});

  SECTION("a cycle of parents ends at the service name") {
    Parents parents = {{"x", {"y", ""}}, {"y", {"x", ""}}};
    std::vector<json> got;
    OtelSkipped skipped;
    import_otel(otlp({chat_span("z", "x")}, "svc-z"), parents, [&](Imported&& i) { got.push_back(i.record); },
                [](const std::string&, const std::string&) { FAIL("unexpected failure"); }, skipped);
    REQUIRE(got.size() == 1);
    CHECK(got[0]["source"]["agent"] == "svc-z");
  }
}

TEST_CASE("otel: LLM spans that cannot be converted go to fail, the rest goes on", "[collect][otel]") {
  json no_content = plain_span("n1", "", {str_attr("gen_ai.operation.name", "chat"), str_attr("gen_ai.request.model", "gpt-4o")});
  json no_output = plain_span("n2", "", {str_attr("gen_ai.operation.name", "chat"),
                                         str_attr("gen_ai.input.messages", R"([{"role":"user","parts":[{"type":"text","content":"q"}]}])")});
  json bad_json = plain_span("n3", "", {str_attr("gen_ai.operation.name", "chat"), str_attr("gen_ai.input.messages", "[{not json")});
  json tool_without_id = plain_span("n4", "", {str_attr("gen_ai.prompt.0.role", "tool"), str_attr("gen_ai.prompt.0.content", "42"),
                                               str_attr("gen_ai.completion.0.content", "ok")});
  json bad_role = plain_span("n5", "", {str_attr("gen_ai.prompt.0.role", "narrator"), str_attr("gen_ai.prompt.0.content", "x"),
                                        str_attr("gen_ai.completion.0.content", "ok")});
  json wrong_type = plain_span("n6", "", json::array({str_attr("gen_ai.operation.name", "chat")}));
  wrong_type["events"] = json::parse(R"([
    {"name": "gen_ai.user.message", "attributes": [{"key": "content", "value": {"stringValue": "q"}}]},
    {"name": "gen_ai.choice", "attributes": [{"key": "message", "value": {"intValue": "7"}}]}])");
  json doc = otlp({no_content, no_output, bad_json, tool_without_id, bad_role, wrong_type, "not a span", chat_span("ok", "")});
  Collected c = collect_docs({doc});
  REQUIRE(c.imported.size() == 2);  // the good span, and the choice whose message is a bare number (taken as text)
  CHECK(c.record(0)["response"]["content"] == "7");
  CHECK(c.record(1)["source"]["span_id"] == "ok");
  REQUIRE(c.failures.size() == 6);
  CHECK(c.failures[0].first == "LLM span without input messages (is content capture off?)");
  CHECK(c.failures[0].second == "span \"step\" n1 in trace 0123456789abcdef0123456789abcdef");
  CHECK(c.failures[1].first == "LLM span without an output message");
  CHECK(c.failures[2].first == "gen_ai.input.messages is not valid JSON");
  CHECK(c.failures[3].first == "tool message without the id of the call it answers");
  CHECK(c.failures[4].first == "unknown message role \"narrator\"");
  CHECK(c.failures[5].first == "span is not a JSON object");
  CHECK(c.skipped.empty());

  SECTION("a document without a resourceSpans array throws ImportError") {
    Parents parents;
    OtelSkipped skipped;
    auto ignore = [](Imported&&) {};
    auto ignore_fail = [](const std::string&, const std::string&) {};
    CHECK_THROWS_AS(import_otel(json{{"resourceSpans", 3}}, parents, ignore, ignore_fail, skipped), ImportError);
    CHECK_THROWS_AS(otel_collect_parents(json::array(), parents), ImportError);
  }
}

TEST_CASE("otel: OTLP/JSON attribute values are decoded", "[collect][otel]") {
  json attrs = json::parse(R"([
    {"key": "gen_ai.request.a_int_string", "value": {"intValue": "-9007199254740993"}},
    {"key": "gen_ai.request.b_int_number", "value": {"intValue": 12}},
    {"key": "gen_ai.request.c_double", "value": {"doubleValue": 0.25}},
    {"key": "gen_ai.request.d_double_string", "value": {"doubleValue": "1.5"}},
    {"key": "gen_ai.request.e_nan", "value": {"doubleValue": "NaN"}},
    {"key": "gen_ai.request.f_bool", "value": {"boolValue": true}},
    {"key": "gen_ai.request.g_bytes", "value": {"bytesValue": "aGVsbG8gd29ybGQ="}},
    {"key": "gen_ai.request.h_array", "value": {"arrayValue": {"values": [{"stringValue": "a"}, {"intValue": "2"}]}}},
    {"key": "gen_ai.request.i_kvlist", "value": {"kvlistValue": {"values": [{"key": "k", "value": {"arrayValue": {}}}]}}},
    {"key": "gen_ai.request.j_empty", "value": {}},
    {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "30"}},
    {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "-1"}}
  ])");
  Collected c = collect_docs({otlp({chat_span("v1", "", attrs)})});
  REQUIRE(c.imported.size() == 1);
  const json& rec = c.record(0);
  CHECK(rec["request"]["params"] == json::parse(R"({"a_int_string": -9007199254740993, "b_int_number": 12, "c_double": 0.25,
      "d_double_string": 1.5, "f_bool": true, "g_bytes": "hello world", "h_array": ["a", 2], "i_kvlist": {"k": []}})"));
  CHECK(rec["usage"] == json{{"prompt_tokens", 30}});  // a negative count is not a count
  CHECK(rec["ts"] == "2026-11-28T10:00:12.000Z");
  CHECK(rec["latency_ms"] == 250.0);
  CHECK(rec["source"]["session"] == "0123456789abcdef0123456789abcdef");
}

TEST_CASE("otel: other span shapes found in the wild", "[collect][otel]") {
  SECTION("event bodies in gen_ai.event.content, STATUS_CODE_ERROR and the exception event") {
    json span = plain_span("e1", "", {str_attr("gen_ai.system", "az.ai.inference"), str_attr("gen_ai.request.model", "gpt-4o")});
    span["status"] = {{"code", "STATUS_CODE_ERROR"}};
    span["events"] = json::parse(R"([
      {"name": "gen_ai.user.message", "attributes": [{"key": "gen_ai.event.content", "value": {"stringValue": "{\"content\": \"ping\"}"}}]},
      {"name": "exception", "attributes": [{"key": "exception.type", "value": {"stringValue": "HttpResponseError"}},
                                           {"key": "exception.message", "value": {"stringValue": "(429) Too Many Requests"}}]}])");
    Collected c = collect_docs({otlp({span})});
    REQUIRE(c.imported.size() == 1);
    CHECK(c.record(0)["status"] == "error");
    CHECK(c.record(0)["request"]["messages"] == json::parse(R"([{"role": "user", "content": "ping"}])"));
    CHECK(c.record(0)["response"] == json::parse(R"({"content": null, "error": {"message": "(429) Too Many Requests", "type": "HttpResponseError"}})"));
    CHECK(c.record(0)["meta"] == json{{"provider", "az.ai.inference"}});
  }

  SECTION("agent spans that repeat their content are not calls; embeddings are counted") {
    json agent = chat_span("a1", "");
    agent["attributes"][0] = str_attr("gen_ai.operation.name", "invoke_agent");
    json embed = plain_span("e1", "", json::array({str_attr("gen_ai.operation.name", "embeddings")}));
    Collected c = collect_docs({otlp({agent, embed})});
    CHECK(c.imported.empty());
    CHECK(c.failures.empty());
    CHECK(c.skipped == OtelSkipped{{"embeddings", 1}, {"invoke_agent", 1}});
  }

  SECTION("a user turn carrying tool results is split, tool messages first; the pre-1.0 scope key is read") {
    json span = chat_span("u1", "", json::array({str_attr("gen_ai.input.messages", R"([
      {"role": "assistant", "parts": [{"type": "tool_call", "id": "t1", "name": "add", "arguments": "{\"a\":1}"}]},
      {"role": "user", "parts": [{"type": "tool_call_response", "id": "t1", "response": 2},
                                 {"type": "text", "content": "and now double it"}]}])")}));
    json doc = otlp({span});
    doc["resourceSpans"][0]["instrumentationLibrarySpans"] = doc["resourceSpans"][0]["scopeSpans"];
    doc["resourceSpans"][0].erase("scopeSpans");
    Collected c = collect_docs({doc});
    REQUIRE(c.imported.size() == 1);
    CHECK(c.record(0)["request"]["messages"] == json::parse(R"([
      {"role": "assistant", "content": null, "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "add", "arguments": "{\"a\":1}"}}]},
      {"role": "tool", "tool_call_id": "t1", "content": "2"},
      {"role": "user", "content": "and now double it"}])"));
  }
}
