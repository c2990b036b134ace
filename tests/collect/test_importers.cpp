// The openai-chat, openai-ft and anthropic importers (lib/collect/openai.cpp, anthropic.cpp,
// normalize.cpp): every field of the record made from every line of examples/formats/
// openai-chat.jsonl, openai-ft.jsonl and anthropic.jsonl, compared with records written out by hand
// from reading those lines (docs/collect.md says what each field must be); format detection; the
// shared helpers; hand-made edge cases and failures.
#include <catch2/catch.hpp>

#include <fstream>
#include <string>
#include <vector>

#include "collect/importers.h"
#include "core/record.h"

using namespace slmify;

namespace {

std::vector<json> load_lines(const std::string& name) {
  std::ifstream in(std::string(SLMIFY_SOURCE_DIR) + "/examples/formats/" + name);
  REQUIRE(in);
  std::vector<json> lines;
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) lines.push_back(json::parse(line));
  return lines;
}

// Compares a whole record; on a difference, the JSON patch from `want` to `got` names the fields.
void check_record(const json& got, const json& want) {
  INFO("difference (JSON patch from expected to produced): " << json::diff(want, got).dump());
  CHECK(got == want);
}

// What the driver adds before writing: the record must then match the dataset schema.
void check_schema(const json& rec) {
  json full = rec;
  full["hci"] = false;
  full["id"] = record_content_id(full);
  CHECK(full["id"].get<std::string>().size() == 32);
  CHECK(record_check(full) == "");
}

// what() of the ImportError that `f` throws; fails the test when it throws none.
template <class F>
std::string import_error(F&& f) {
  try {
    f();
  } catch (const ImportError& e) {
    return e.what();
  }
  FAIL("no ImportError was thrown");
  return "";
}

// Tool definitions that several sample lines share, as the record must hold them.
const char* kRouteTicket = R"json({"type": "function", "function": {"name": "route_ticket",
  "description": "Send a support ticket to a queue with a priority.",
  "parameters": {"type": "object", "properties": {
    "queue": {"type": "string", "enum": ["billing", "shipping", "returns", "account", "technical", "product"]},
    "priority": {"type": "string", "enum": ["low", "normal", "high"]}},
    "required": ["queue", "priority"], "additionalProperties": false},
  "strict": true}})json";

const char* kGetOrder = R"json({"type": "function", "function": {"name": "get_order",
  "description": "Look up an order by its id.",
  "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}}})json";

const char* kLookupCustomer = R"json({"type": "function", "function": {"name": "lookup_customer",
  "description": "Customer record and order history by customer id.",
  "parameters": {"type": "object", "properties": {"customer_id": {"type": "string", "description": "id like C-10442"}},
                 "required": ["customer_id"]}}})json";

const char* kIssueRefund = R"json({"type": "function", "function": {"name": "issue_refund",
  "description": "Refund an order, fully or partly.",
  "parameters": {"type": "object", "properties": {"order_id": {"type": "string"}, "amount": {"type": "number"},
                 "reason": {"type": "string"}}, "required": ["order_id", "amount"]}}})json";

json tools(std::initializer_list<const char*> defs) {
  json out = json::array();
  for (const char* d : defs) out.push_back(json::parse(d));
  return out;
}

// A minimal logged Chat Completions call that the edge cases below vary.
json chat_line() {
  return json::parse(R"json({"request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
    "response": {"created": 1795860012, "model": "m-1",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}]}})json");
}

json anthropic_line() {
  return json::parse(R"json({"request": {"model": "c", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]},
    "response": {"type": "message", "role": "assistant", "model": "c-1", "content": [{"type": "text", "text": "hello"}],
                 "stop_reason": "end_turn", "usage": {"input_tokens": 3, "output_tokens": 1}}})json");
}

}  // namespace

// ---- examples/formats/openai-chat.jsonl ------------------------------------------------------

TEST_CASE("openai-chat sample: every field of every record", "[collect][importers]") {
  std::vector<json> lines = load_lines("openai-chat.jsonl");
  REQUIRE(lines.size() == 9);
  std::vector<Imported> got;
  for (const json& l : lines) got.push_back(import_openai_chat(l));

  SECTION("line 1: tool call with tool_choice, metadata object, ISO timestamp") {
    json want = json::parse(R"json({
      "source": {"format": "openai-chat", "agent": "intake-router", "session": "s-7f3a2c"},
      "ts": "2026-11-28T10:00:12.120Z", "latency_ms": 640, "cost_usd": 4.62e-05,
      "meta": {"team": "support", "env": "prod", "ticket_id": "T-204811"},
      "status": "ok",
      "request": {"model": "gpt-4o-mini",
        "messages": [
          {"role": "system", "content": "You are the intake router of Kestrel Outfitters support. Read the ticket and call route_ticket with the queue and priority."},
          {"role": "user", "content": "Ticket T-204811 (email)\nFrom: Dana Whitfield <dana.whitfield@example.com>\nSubject: Charged twice\n\nHi, my card was charged twice for order 4820193 ($189.00). Please refund one of the charges."}],
        "tool_choice": {"type": "function", "function": {"name": "route_ticket"}},
        "params": {"temperature": 0}},
      "response": {"content": null,
        "tool_calls": [{"id": "call_Qm3xT8bYv1LkP0sNw7ZrA2cD", "type": "function",
                        "function": {"name": "route_ticket", "arguments": "{\"queue\":\"billing\",\"priority\":\"high\"}"}}],
        "finish_reason": "tool_calls", "model": "gpt-4o-mini-2024-07-18"},
      "usage": {"prompt_tokens": 212, "completion_tokens": 24, "total_tokens": 236}})json");
    want["request"]["tools"] = tools({kRouteTicket});
    check_record(got[0].record, want);
    CHECK(got[0].dropped_parts.empty());
  }

  SECTION("line 2: request_body/response_body, ts in ms, duration_ms, agent_name, conversation_id, cost") {
    // stream, user and metadata of the request are not params; no top-level metadata, so no meta
    json want = json::parse(R"json({
      "source": {"format": "openai-chat", "agent": "extractor", "session": "s-7f3a2c"},
      "ts": "2026-11-28T10:01:12.123Z", "latency_ms": 712, "cost_usd": 2.84e-05,
      "status": "ok",
      "request": {"model": "gpt-4o-mini",
        "messages": [
          {"role": "system", "content": "Extract order_id, product and amount from the ticket. Answer with one JSON object; use null for anything the ticket does not state."},
          {"role": "user", "content": "Order 4820193: the Ridgeline 45L Backpack arrived with a broken zip. I paid $189.00."}],
        "params": {"temperature": 0, "max_tokens": 300, "seed": 42, "response_format": {"type": "json_object"}}},
      "response": {"content": "{\"order_id\": \"4820193\", \"product\": \"Ridgeline 45L Backpack\", \"amount\": 189.0}",
                   "finish_reason": "stop", "model": "gpt-4o-mini-2024-07-18"},
      "usage": {"prompt_tokens": 81, "completion_tokens": 27, "total_tokens": 108}})json");
    check_record(got[1].record, want);
    CHECK_FALSE(got[1].record.contains("meta"));
    CHECK_FALSE(got[1].record["request"]["params"].contains("stream"));
    CHECK_FALSE(got[1].record["request"]["params"].contains("user"));
    CHECK_FALSE(got[1].record["request"]["params"].contains("metadata"));
  }

  SECTION("line 3: bodies one level down, tool round trip, ts in seconds, latency_s, agent_id, trace_id") {
    json want = json::parse(R"json({
      "source": {"format": "openai-chat", "agent": "replier", "session": "4bf92f3577b34da6a3ce929d0e0e4736"},
      "ts": "2026-11-28T10:02:14.000Z", "latency_ms": 1284, "cost_usd": 0.00127,
      "status": "ok",
      "request": {"model": "gpt-4o",
        "messages": [
          {"role": "system", "content": "You write reply emails for Kestrel Outfitters support. Call get_order for the order facts, then write the email."},
          {"role": "user", "content": "Write the shipping_delay email for ticket T-204877, order 4820555."},
          {"role": "assistant", "content": null,
           "tool_calls": [{"id": "call_Vb7nK2pQx9LmT4sR8wZ1cY3e", "type": "function",
                           "function": {"name": "get_order", "arguments": "{\"order_id\":\"4820555\"}"}}]},
          {"role": "tool", "tool_call_id": "call_Vb7nK2pQx9LmT4sR8wZ1cY3e",
           "content": "{\"order_id\":\"4820555\",\"customer\":\"Marta Ruiz\",\"carrier\":\"DHL\",\"tracking\":\"JD014600006281230701\",\"new_eta\":\"2026-12-02\"}"}],
        "params": {"temperature": 0.3}},
      "response": {"content": "Subject: Your order 4820555 is on its way\n\nDear Marta,\n\nyour parcel is delayed at DHL. The new delivery date is 2 December 2026; you can follow it with tracking number JD014600006281230701.\n\nKind regards,\nKestrel Outfitters Support",
                   "finish_reason": "stop", "model": "gpt-4o-2024-08-06"},
      "usage": {"prompt_tokens": 264, "completion_tokens": 61, "total_tokens": 325}})json");
    want["request"]["tools"] = tools({kGetOrder});
    check_record(got[2].record, want);
    CHECK(got[2].record["latency_ms"].get<double>() == Approx(1284.0));
    // the HTTP wrapper's method and url are not request parameters
    CHECK_FALSE(got[2].record["request"]["params"].contains("method"));
  }

  SECTION("line 4: multi-part content with an image, two choices, n in params") {
    json want = json::parse(R"json({
      "source": {"format": "openai-chat", "agent": "returns-inspector", "session": "s-7f4410"},
      "ts": "2026-11-28T10:05:00.870Z", "latency_ms": 2210, "cost_usd": 0.0007999,
      "meta": {"dropped_parts": {"image_url": 1, "choices": 1}},
      "status": "ok",
      "request": {"model": "gpt-4o-2024-08-06",
        "messages": [
          {"role": "system", "content": "You assess photos of damaged items for Kestrel Outfitters returns."},
          {"role": "user", "content": "Order 4819902, Basecamp 2P Tent: the customer says a pole snapped on first use.\nIs this a manufacturing defect? Answer defect or wear, then one sentence."}],
        "params": {"temperature": 0.7, "n": 2}},
      "response": {"content": "defect: the pole broke cleanly at the ferrule, which points to a faulty joint rather than misuse.",
                   "finish_reason": "stop"},
      "usage": {"prompt_tokens": 156, "completion_tokens": 41, "total_tokens": 197}})json");
    check_record(got[3].record, want);
    CHECK(got[3].dropped_parts == std::map<std::string, uint64_t>{{"choices", 1}, {"image_url", 1}});
  }

  SECTION("line 5: streamed chunks, content concatenated, no usage") {
    json want = json::parse(R"json({
      "source": {"format": "openai-chat", "agent": "summariser", "session": "s-7f4501"},
      "ts": "2026-11-28T10:07:00.004Z", "latency_ms": 1033, "cost_usd": 1.28e-05,
      "status": "ok",
      "request": {"model": "gpt-4o-mini",
        "messages": [
          {"role": "system", "content": "Summarise the support ticket in one sentence."},
          {"role": "user", "content": "Customer: the TrailSync GPS Watch does not pair with the app after firmware 2.4.1; reinstalling did not help."}],
        "params": {"temperature": 0.2}},
      "response": {"content": "The customer's TrailSync watch stopped pairing with the app after firmware 2.4.1, and reinstalling did not help.",
                   "finish_reason": "stop", "model": "gpt-4o-mini-2024-07-18"}})json");
    check_record(got[4].record, want);
    CHECK_FALSE(got[4].record.contains("usage"));
  }

  SECTION("line 6: {chunks: [...]}, two tool calls merged by index, usage of the final chunk") {
    json want = json::parse(R"json({
      "source": {"format": "openai-chat", "agent": "intake-router", "session": "s-batch-0091"},
      "ts": "2026-11-28T10:08:00.500Z", "latency_ms": 905, "cost_usd": 5.73e-05,
      "status": "ok",
      "request": {"model": "gpt-4o-mini",
        "messages": [
          {"role": "system", "content": "You are the intake router of Kestrel Outfitters support. Route every ticket in the batch with route_ticket."},
          {"role": "user", "content": "1. T-204901: Where is my parcel? It is 9 days late.\n2. T-204902: Do you sell the Stormshell Rain Jacket in XXL?"}],
        "params": {"temperature": 0, "parallel_tool_calls": true}},
      "response": {"content": null,
        "tool_calls": [
          {"id": "call_Hn4wQ8zK1xT7mB2vR5pL9sYc", "type": "function",
           "function": {"name": "route_ticket", "arguments": "{\"queue\":\"shipping\",\"priority\":\"normal\"}"}},
          {"id": "call_Zr6tY1mN8qW3kD5xB0vH2jPe", "type": "function",
           "function": {"name": "route_ticket", "arguments": "{\"queue\":\"product\",\"priority\":\"low\"}"}}],
        "finish_reason": "tool_calls", "model": "gpt-4o-mini-2024-07-18"},
      "usage": {"prompt_tokens": 198, "completion_tokens": 46, "total_tokens": 244}})json");
    want["request"]["tools"] = tools({kRouteTicket});
    check_record(got[5].record, want);
    CHECK_FALSE(got[5].record["request"]["params"].contains("stream_options"));
  }

  SECTION("line 7: error response with HTTP 429") {
    json want = json::parse(R"json({
      "source": {"format": "openai-chat", "agent": "intake-router", "session": "s-7f4620"},
      "ts": "2026-11-28T10:09:30.016Z", "latency_ms": 118, "cost_usd": 0,
      "status": "error",
      "request": {"model": "gpt-4o-mini",
        "messages": [
          {"role": "system", "content": "You are the intake router of Kestrel Outfitters support. Read the ticket and call route_ticket with the queue and priority."},
          {"role": "user", "content": "Ticket T-204955 (web)\nMy account is locked after a password reset."}],
        "params": {"temperature": 0}},
      "response": {"content": null,
        "error": {"message": "Rate limit reached for gpt-4o-mini in organization org-k3stR3lOutf1tt3rs on tokens per min (TPM): Limit 200000, Used 199812, Requested 1322. Please try again in 340ms. Visit https://platform.openai.com/account/rate-limits to learn more.",
                  "type": "tokens", "param": null, "code": "rate_limit_exceeded"}}})json");
    want["request"]["tools"] = tools({kRouteTicket});
    check_record(got[6].record, want);
  }

  SECTION("line 8: no timestamp, so ts from the response's created; finish_reason length") {
    json want = json::parse(R"json({
      "source": {"format": "openai-chat", "agent": "summariser", "session": "s-7f4702"},
      "ts": "2026-11-28T10:10:20.000Z", "latency_ms": 820, "cost_usd": 3.45e-05,
      "status": "ok",
      "request": {"model": "gpt-4o-mini",
        "messages": [
          {"role": "system", "content": "Summarise the ticket thread for the next support agent: what happened, what was done, what is open."},
          {"role": "user", "content": "Customer (Nov 24): the Aurora Down Sleeping Bag I returned on Nov 10 has not been refunded.\nAgent (Nov 25): refund of EUR 279.00 approved, it takes 5 to 7 working days.\nCustomer (Nov 28): still nothing on my account."}],
        "params": {"temperature": 0.2, "max_tokens": 32}},
      "response": {"content": "The customer returned an Aurora Down Sleeping Bag on 10 November. On 25 November a refund of EUR 279.00 was approved, with 5 to",
                   "finish_reason": "length", "model": "gpt-4o-mini-2024-07-18"},
      "usage": {"prompt_tokens": 102, "completion_tokens": 32, "total_tokens": 134}})json");
    check_record(got[7].record, want);
  }

  SECTION("line 9: legacy functions, function_call and the function role") {
    // the request's legacy "function_call": "auto" is neither tools nor tool_choice, so it is a param
    json want = json::parse(R"json({
      "source": {"format": "openai-chat", "agent": "stock-checker", "session": "s-7f4788"},
      "ts": "2026-11-28T10:11:40.250Z", "latency_ms": 530, "cost_usd": 3.47e-05,
      "status": "ok",
      "request": {"model": "gpt-4o-mini",
        "messages": [
          {"role": "system", "content": "You check stock for Kestrel Outfitters. Use the functions to answer."},
          {"role": "user", "content": "Is the Trailrunner GTX Shoes in size 44 in stock in Berlin, and if not, in Hamburg?"},
          {"role": "assistant", "content": null,
           "tool_calls": [{"type": "function",
                           "function": {"name": "check_stock", "arguments": "{\"sku\":\"KO-SH-330-44\",\"warehouse\":\"BER\"}"}}]},
          {"role": "tool", "tool_call_id": "check_stock",
           "content": "{\"sku\":\"KO-SH-330-44\",\"warehouse\":\"BER\",\"available\":0}"}],
        "tools": [{"type": "function", "function": {"name": "check_stock",
                   "description": "Units in stock of one SKU in one warehouse.",
                   "parameters": {"type": "object", "properties": {"sku": {"type": "string"},
                                  "warehouse": {"type": "string", "enum": ["BER", "HAM", "MAD"]}},
                                  "required": ["sku", "warehouse"]}}}],
        "params": {"temperature": 0, "function_call": "auto"}},
      "response": {"content": null,
        "tool_calls": [{"type": "function",
                        "function": {"name": "check_stock", "arguments": "{\"sku\":\"KO-SH-330-44\",\"warehouse\":\"HAM\"}"}}],
        "finish_reason": "tool_calls", "model": "gpt-4o-mini-2024-07-18"},
      "usage": {"prompt_tokens": 143, "completion_tokens": 22, "total_tokens": 165}})json");
    check_record(got[8].record, want);
  }

  SECTION("every record matches the dataset schema once id and hci are added") {
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("line " << i + 1);
      check_schema(got[i].record);
    }
  }
}

// ---- examples/formats/openai-ft.jsonl --------------------------------------------------------

TEST_CASE("openai-ft sample: every field of every record", "[collect][importers]") {
  std::vector<json> lines = load_lines("openai-ft.jsonl");
  REQUIRE(lines.size() == 5);

  SECTION("line 1: classification") {
    json want = json::parse(R"json({
      "source": {"format": "openai-ft"}, "status": "ok",
      "request": {"messages": [
        {"role": "system", "content": "You classify Kestrel Outfitters support tickets into one of: billing, shipping, returns, account, technical, product. Answer with the label only."},
        {"role": "user", "content": "I was charged twice for order 4820193."}]},
      "response": {"content": "billing", "finish_reason": "stop"}})json");
    Imported im = import_openai_ft(lines[0]);
    check_record(im.record, want);
    CHECK(im.dropped_parts.empty());
    check_schema(im.record);
  }

  SECTION("line 2: a final tool call, with tools") {
    json want = json::parse(R"json({
      "source": {"format": "openai-ft"}, "status": "ok",
      "request": {"messages": [
        {"role": "system", "content": "You are the intake router of Kestrel Outfitters support. Read the ticket and call route_ticket with the queue and priority."},
        {"role": "user", "content": "Ticket T-205010 (app)\nThe TrailSync GPS Watch will not pair since the last update."}]},
      "response": {"content": null,
        "tool_calls": [{"id": "call_Lp2sW9kT4nX7vQ1zB8mR5cYh", "type": "function",
                        "function": {"name": "route_ticket", "arguments": "{\"queue\":\"technical\",\"priority\":\"normal\"}"}}],
        "finish_reason": "tool_calls"}})json");
    want["request"]["tools"] = tools({kRouteTicket});
    Imported im = import_openai_ft(lines[1]);
    check_record(im.record, want);
    check_schema(im.record);
  }

  SECTION("line 3: multi-turn without a system message; only the last assistant turn is the response") {
    json want = json::parse(R"json({
      "source": {"format": "openai-ft"}, "status": "ok",
      "request": {"messages": [
        {"role": "user", "content": "Which table holds refunds?"},
        {"role": "assistant", "content": "refunds, one row per refund, joined to orders by order_id."},
        {"role": "user", "content": "Write the SQL for the total refunded in October 2026."}]},
      "response": {"content": "SELECT SUM(amount) FROM refunds WHERE refunded_at >= '2026-10-01' AND refunded_at < '2026-11-01';",
                   "finish_reason": "stop"}})json");
    Imported im = import_openai_ft(lines[2]);
    check_record(im.record, want);
    check_schema(im.record);
  }

  SECTION("line 4: tool round trip in the request, text answer") {
    json want = json::parse(R"json({
      "source": {"format": "openai-ft"}, "status": "ok",
      "request": {"messages": [
        {"role": "system", "content": "You write reply emails for Kestrel Outfitters support. Call get_order for the order facts, then write the email."},
        {"role": "user", "content": "Write the return_label email for order 4821077."},
        {"role": "assistant", "content": null,
         "tool_calls": [{"id": "call_Rk8vN3xQ6mT1wZ4pB9sL2cJd", "type": "function",
                         "function": {"name": "get_order", "arguments": "{\"order_id\":\"4821077\"}"}}]},
        {"role": "tool", "tool_call_id": "call_Rk8vN3xQ6mT1wZ4pB9sL2cJd",
         "content": "{\"order_id\":\"4821077\",\"customer\":\"Tom Becker\",\"item\":\"Canyon Hiking Boots\",\"return_code\":\"RMA-55120\"}"}]},
      "response": {"content": "Subject: Your return label for order 4821077\n\nDear Tom,\n\nyour return RMA-55120 for the Canyon Hiking Boots is approved. The label is attached; please drop the parcel at any post office within 14 days.\n\nKind regards,\nKestrel Outfitters Support",
                   "finish_reason": "stop"}})json");
    want["request"]["tools"] = tools({kGetOrder});
    Imported im = import_openai_ft(lines[3]);
    check_record(im.record, want);
    check_schema(im.record);
  }

  SECTION("line 5: no final assistant message is an ImportError that says so") {
    std::string why = import_error([&] { import_openai_ft(lines[4]); });
    CHECK(why == "the last message is not the assistant's, so there is no response to learn");
  }
}

// ---- examples/formats/anthropic.jsonl --------------------------------------------------------

TEST_CASE("anthropic sample: every field of every record", "[collect][importers]") {
  std::vector<json> lines = load_lines("anthropic.jsonl");
  REQUIRE(lines.size() == 7);
  std::vector<Imported> got;
  for (const json& l : lines) got.push_back(import_anthropic(l));

  SECTION("line 1: system string, tools with input_schema, text + tool_use answer, cache counts") {
    json want = json::parse(R"json({
      "source": {"format": "anthropic", "agent": "planner", "session": "esc-3107"},
      "ts": "2026-11-28T11:00:03.441Z", "latency_ms": 1890, "cost_usd": 0.002601,
      "meta": {"team": "support", "escalation": "E-3107"},
      "status": "ok",
      "request": {"model": "claude-sonnet-4-5",
        "messages": [
          {"role": "system", "content": "You are the escalation planner of Kestrel Outfitters support. Look up what you need, then write a numbered plan."},
          {"role": "user", "content": "Escalation E-3107: customer C-10442 says three orders in a row arrived damaged."}],
        "tool_choice": {"type": "auto"},
        "params": {"max_tokens": 1024, "temperature": 0.2}},
      "response": {"content": "I'll check the customer's order history first.",
        "tool_calls": [{"id": "toolu_01hxE3pyIgKpaUnArl63XykW", "type": "function",
                        "function": {"name": "lookup_customer", "arguments": "{\"customer_id\":\"C-10442\"}"}}],
        "finish_reason": "tool_calls", "model": "claude-sonnet-4-5-20250929"},
      "usage": {"prompt_tokens": 512, "completion_tokens": 71,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})json");
    want["request"]["tools"] = tools({kLookupCustomer, kIssueRefund});
    check_record(got[0].record, want);
    CHECK(got[0].dropped_parts.empty());
  }

  SECTION("line 2: system blocks joined, tool_use in history, tool_result before the user text, cache reads") {
    json want = json::parse(R"json({
      "source": {"format": "anthropic", "agent": "planner", "session": "esc-3107"},
      "ts": "2026-11-28T11:00:09.007Z", "latency_ms": 3120, "cost_usd": 0.003036,
      "status": "ok",
      "request": {"model": "claude-sonnet-4-5",
        "messages": [
          {"role": "system", "content": "You are the escalation planner of Kestrel Outfitters support.\nPolicy: refunds above EUR 500 need a team lead. Always say what to tell the customer."},
          {"role": "user", "content": "Escalation E-3107: customer C-10442 says three orders in a row arrived damaged."},
          {"role": "assistant", "content": "I'll look up the customer and the carrier's damage reports.",
           "tool_calls": [
             {"id": "toolu_01ZeiNNCiia3anXn9k3ksu9m", "type": "function",
              "function": {"name": "lookup_customer", "arguments": "{\"customer_id\":\"C-10442\"}"}},
             {"id": "toolu_01Wq8bZ2mN5xK7vR3tY9pLcD", "type": "function",
              "function": {"name": "carrier_reports", "arguments": "{\"customer_id\":\"C-10442\",\"days\":60}"}}]},
          {"role": "tool", "tool_call_id": "toolu_01ZeiNNCiia3anXn9k3ksu9m",
           "content": "{\"customer_id\":\"C-10442\",\"tier\":\"gold\",\"orders_60d\":3,\"value_60d_eur\":812.00}"},
          {"role": "tool", "tool_call_id": "toolu_01Wq8bZ2mN5xK7vR3tY9pLcD",
           "content": "3 reports, all DHL depot Leipzig, outer box crushed"},
          {"role": "user", "content": "Please write the plan now."}],
        "tools": [
          {"type": "function", "function": {"name": "lookup_customer",
            "description": "Customer record and order history by customer id.",
            "parameters": {"type": "object", "properties": {"customer_id": {"type": "string", "description": "id like C-10442"}},
                           "required": ["customer_id"]}}},
          {"type": "function", "function": {"name": "carrier_reports",
            "description": "Damage reports filed with carriers.",
            "parameters": {"type": "object", "properties": {"customer_id": {"type": "string"}, "days": {"type": "integer"}},
                           "required": ["customer_id"]}}}],
        "params": {"max_tokens": 1024}},
      "response": {"content": "1. Refund the damaged items (EUR 812.00): above EUR 500, so a team lead approves.\n2. File a claim with DHL for the Leipzig depot.\n3. Ship the next orders double-boxed.\n4. Tell the customer the refund is approved and how future parcels are protected.",
                   "finish_reason": "stop", "model": "claude-sonnet-4-5-20250929"},
      "usage": {"prompt_tokens": 2188, "completion_tokens": 96,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 1840}})json");
    check_record(got[1].record, want);
  }

  SECTION("line 3: request_body/response_body, image block dropped, max_tokens -> length") {
    json want = json::parse(R"json({
      "source": {"format": "anthropic", "agent": "returns-inspector", "session": "s-7f5120"},
      "ts": "2026-11-28T11:02:10.300Z", "latency_ms": 980, "cost_usd": 0.001814,
      "meta": {"dropped_parts": {"image": 1}},
      "status": "ok",
      "request": {"model": "claude-haiku-4-5",
        "messages": [{"role": "user", "content": "Describe the damage on this returned boot for the returns log."}],
        "params": {"max_tokens": 40}},
      "response": {"content": "The left boot's sole has separated from the upper along the toe, about 4 cm, with dried mud in the gap; the stitching beside it looks",
                   "finish_reason": "length", "model": "claude-haiku-4-5-20251001"},
      "usage": {"prompt_tokens": 1614, "completion_tokens": 40}})json");
    check_record(got[2].record, want);
    CHECK(got[2].dropped_parts == std::map<std::string, uint64_t>{{"image", 1}});
  }

  SECTION("line 4: thinking block dropped, thinking config kept in params") {
    json want = json::parse(R"json({
      "source": {"format": "anthropic", "agent": "planner", "session": "esc-3122"},
      "ts": "2026-11-28T11:05:44.912Z", "latency_ms": 6120, "cost_usd": 0.003468,
      "meta": {"dropped_parts": {"thinking": 1}},
      "status": "ok",
      "request": {"model": "claude-sonnet-4-5",
        "messages": [
          {"role": "system", "content": "You are the escalation planner of Kestrel Outfitters support."},
          {"role": "user", "content": "Escalation E-3122: a wholesale customer wants 40 Basecamp 2P Tents by 5 December; the warehouse has 25."}],
        "params": {"max_tokens": 4096, "thinking": {"type": "enabled", "budget_tokens": 2048}}},
      "response": {"content": "1. Reserve the 25 tents in stock for the order now.\n2. Confirm with the supplier that the 1 December restock covers the other 15.\n3. Offer the customer a split shipment: 25 now, 15 on 2 December, both before 5 December.\n4. If the restock slips, offer the Basecamp 3P at the same price.",
                   "finish_reason": "stop", "model": "claude-sonnet-4-5-20250929"},
      "usage": {"prompt_tokens": 86, "completion_tokens": 214,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})json");
    check_record(got[3].record, want);
    CHECK(got[3].dropped_parts == std::map<std::string, uint64_t>{{"thinking", 1}});
  }

  SECTION("line 5: streamed events, text deltas joined, input_json_delta parsed, usage merged") {
    // arguments: the reassembled input object as JSON text (compact, keys sorted as nlohmann writes them)
    json want = json::parse(R"json({
      "source": {"format": "anthropic", "agent": "planner", "session": "esc-3130"},
      "ts": "2026-11-28T11:07:30.015Z", "latency_ms": 2045, "cost_usd": 0.002076,
      "status": "ok",
      "request": {"model": "claude-sonnet-4-5",
        "messages": [
          {"role": "system", "content": "You are the escalation planner of Kestrel Outfitters support. Look up what you need, then write a numbered plan."},
          {"role": "user", "content": "Escalation E-3130: order 4821340 was refunded twice by mistake (EUR 149.00 each)."}],
        "params": {"max_tokens": 1024}},
      "response": {"content": "The second refund was a mistake; I'll reverse it.",
        "tool_calls": [{"id": "toolu_01I4ROnl89Sm995ytbxAk7jq", "type": "function",
                        "function": {"name": "issue_refund",
                                     "arguments": "{\"amount\":-149.0,\"order_id\":\"4821340\",\"reason\":\"duplicate refund\"}"}}],
        "finish_reason": "tool_calls", "model": "claude-sonnet-4-5-20250929"},
      "usage": {"prompt_tokens": 402, "completion_tokens": 58,
                "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}})json");
    want["request"]["tools"] = tools({kIssueRefund});
    check_record(got[4].record, want);
    CHECK_FALSE(got[4].record["request"]["params"].contains("stream"));
    // the arguments are JSON text of the object the deltas spell
    CHECK(json::parse(got[4].record["response"]["tool_calls"][0]["function"]["arguments"].get<std::string>()) ==
          json::parse(R"json({"order_id": "4821340", "amount": -149.0, "reason": "duplicate refund"})json"));
  }

  SECTION("line 6: overloaded error") {
    json want = json::parse(R"json({
      "source": {"format": "anthropic", "agent": "planner", "session": "esc-3131"},
      "ts": "2026-11-28T11:08:00.120Z", "latency_ms": 412, "cost_usd": 0,
      "status": "error",
      "request": {"model": "claude-sonnet-4-5",
        "messages": [
          {"role": "system", "content": "You are the escalation planner of Kestrel Outfitters support."},
          {"role": "user", "content": "Escalation E-3131: the TrailSync GPS Watch firmware 2.4.1 bricks watches; 14 tickets so far."}],
        "params": {"max_tokens": 1024}},
      "response": {"content": null, "error": {"type": "overloaded_error", "message": "Overloaded"}}})json");
    check_record(got[5].record, want);
  }

  SECTION("line 7: one system block, assistant prefill, stop_sequence -> stop, cache writes in prompt_tokens") {
    json want = json::parse(R"json({
      "source": {"format": "anthropic", "agent": "planner", "session": "esc-3140"},
      "ts": "2026-11-28T11:10:12.660Z", "latency_ms": 1340, "cost_usd": 0.001887,
      "status": "ok",
      "request": {"model": "claude-haiku-4-5",
        "messages": [
          {"role": "system", "content": "You are the escalation planner of Kestrel Outfitters support. Write the plan inside <plan> tags."},
          {"role": "user", "content": "Escalation E-3140: a customer asks to delete their account and all data."},
          {"role": "assistant", "content": "<plan>"}],
        "params": {"max_tokens": 512, "temperature": 0, "stop_sequences": ["</plan>"]}},
      "response": {"content": "\n1. Verify the requester owns the account.\n2. Cancel open orders and subscriptions.\n3. Delete the account and personal data within 30 days; keep invoices as the law requires.\n4. Confirm the deletion to the customer in writing.\n",
                   "finish_reason": "stop", "model": "claude-haiku-4-5-20251001"},
      "usage": {"prompt_tokens": 1274, "completion_tokens": 62,
                "cache_creation_input_tokens": 1210, "cache_read_input_tokens": 0}})json");
    check_record(got[6].record, want);
  }

  SECTION("every record matches the dataset schema once id and hci are added") {
    for (size_t i = 0; i < got.size(); ++i) {
      INFO("line " << i + 1);
      check_schema(got[i].record);
    }
  }
}

// ---- format detection --------------------------------------------------------------------------

TEST_CASE("input_format_detect recognises every sample line and refuses other shapes", "[collect][importers]") {
  struct File {
    const char* name;
    InputFormat want;
    size_t lines;
  };
  for (File f : {File{"openai-chat.jsonl", InputFormat::openai_chat, 9}, File{"openai-ft.jsonl", InputFormat::openai_ft, 5},
                 File{"anthropic.jsonl", InputFormat::anthropic, 7}}) {
    std::vector<json> lines = load_lines(f.name);
    CHECK(lines.size() == f.lines);
    for (size_t i = 0; i < lines.size(); ++i) {
      INFO(f.name << " line " << i + 1);
      InputFormat got = InputFormat::otel;
      REQUIRE(input_format_detect(lines[i], got));
      CHECK(std::string(input_format_name(got)) == input_format_name(f.want));
    }
  }

  InputFormat got = InputFormat::openai_ft;
  CHECK(input_format_detect(json::parse(R"({"resourceSpans": []})"), got));
  CHECK(got == InputFormat::otel);

  for (const char* text : {R"([{"messages": []}])", R"("a string")", "42", "null", "true", "{}", R"({"foo": 1})",
                           R"({"messages": "not a list"})", R"({"request": "not an object"})",
                           R"({"response": {"choices": []}})", R"({"prompt": "hi", "completion": "there"})"}) {
    INFO(text);
    CHECK_FALSE(input_format_detect(json::parse(text), got));
  }

  SECTION("names round-trip") {
    for (InputFormat f : {InputFormat::openai_chat, InputFormat::openai_ft, InputFormat::otel, InputFormat::anthropic}) {
      InputFormat back = InputFormat::otel;
      REQUIRE(input_format_parse(input_format_name(f), back));
      CHECK(back == f);
    }
    CHECK_FALSE(input_format_parse("openai", got));
    CHECK_FALSE(input_format_parse("", got));
  }
}

// ---- helpers (normalize.cpp) -------------------------------------------------------------------

TEST_CASE("content_text keeps text parts joined by newlines and counts the rest", "[collect][importers]") {
  std::map<std::string, uint64_t> dropped;
  CHECK(content_text(json(), dropped).is_null());
  CHECK(content_text("plain", dropped) == "plain");
  CHECK(content_text("", dropped) == "");
  CHECK(content_text(json::array(), dropped).is_null());
  CHECK(dropped.empty());

  json parts = json::parse(R"json([
    {"type": "text", "text": "first"},
    {"type": "image_url", "image_url": {"url": "https://x.example/a.png"}},
    {"type": "text", "text": "second"},
    {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
    {"type": "image_url", "image_url": {"url": "https://x.example/b.png"}}])json");
  CHECK(content_text(parts, dropped) == "first\nsecond");
  CHECK(dropped == std::map<std::string, uint64_t>{{"image_url", 2}, {"input_audio", 1}});

  // counts add up across calls; Responses-style text parts and bare strings are text too
  json mixed = json::parse(R"json([{"type": "input_text", "text": "a"}, "b", {"type": "output_text", "text": "c"},
                                   {"type": "file", "file": {"file_id": "f1"}}, {"no_type": true}])json");
  CHECK(content_text(mixed, dropped) == "a\nb\nc");
  CHECK(dropped == std::map<std::string, uint64_t>{{"file", 1}, {"image_url", 2}, {"input_audio", 1}, {"unknown", 1}});

  std::map<std::string, uint64_t> only;
  CHECK(content_text(json::parse(R"([{"type": "image_url", "image_url": {"url": "u"}}])"), only).is_null());
  CHECK(only == std::map<std::string, uint64_t>{{"image_url", 1}});

  CHECK_THROWS_AS(content_text(json(5), only), ImportError);
  CHECK_THROWS_AS(content_text(json::parse(R"({"text": "x"})"), only), ImportError);
  CHECK_THAT(import_error([&] { content_text(json(true), only); }), Catch::Contains("string, null or a list of parts"));
}

TEST_CASE("timestamp_from: ISO kept, Unix numbers and digit strings converted, garbage null", "[collect][importers]") {
  // ISO-8601 strings are kept as written
  CHECK(timestamp_from("2026-11-28T10:00:12.120Z") == "2026-11-28T10:00:12.120Z");
  CHECK(timestamp_from("2026-11-28T10:00:12+01:00") == "2026-11-28T09:00:12.000Z");  // offsets become UTC
  CHECK(timestamp_from("2026-11-28T01:30:00.25-05:30") == "2026-11-28T07:00:00.250Z");
  CHECK(timestamp_from("2026-11-28T10:00:12Z") == "2026-11-28T10:00:12Z");
  CHECK(timestamp_from("2026-11-28") == "2026-11-28");

  // numbers: seconds, milliseconds, microseconds, nanoseconds (1795860012 s = 2026-11-28 10:00:12 UTC)
  CHECK(timestamp_from(1795860012) == "2026-11-28T10:00:12.000Z");
  CHECK(timestamp_from(1795860012.5) == "2026-11-28T10:00:12.500Z");
  CHECK(timestamp_from(1795860012120LL) == "2026-11-28T10:00:12.120Z");
  CHECK(timestamp_from(1795860012120000LL) == "2026-11-28T10:00:12.120Z");
  CHECK(timestamp_from(1795860012120000000ULL) == "2026-11-28T10:00:12.120Z");
  CHECK(timestamp_from(1) == "1970-01-01T00:00:01.000Z");
  CHECK(timestamp_from(951782400) == "2000-02-29T00:00:00.000Z");
  CHECK(timestamp_from(1795860012.9996) == "2026-11-28T10:00:13.000Z");  // rounding carries into the second

  // digit strings are Unix times too
  CHECK(timestamp_from("1795860012") == "2026-11-28T10:00:12.000Z");
  CHECK(timestamp_from("1795860072123") == "2026-11-28T10:01:12.123Z");
  CHECK(timestamp_from("1795860012.25") == "2026-11-28T10:00:12.250Z");
  CHECK(timestamp_from("1795860012120000000") == "2026-11-28T10:00:12.120Z");

  // garbage, absent and unusable values are null
  for (const json& bad : {json(), json(true), json(0), json(-5), json(-1795860012.0), json::object(), json::array({1}),
                          json(""), json("yesterday"), json("10:00:12"), json("2026/11/28 10:00"), json("Nov 28 2026"),
                          json("abcd-ef-ghT00:00:00Z"), json("."), json("1.2.3"), json("-1795860012"), json("1e9"),
                          json(std::string(400, '9')), json(1e300)}) {
    INFO(bad.dump());
    CHECK(timestamp_from(bad).is_null());
  }
}

TEST_CASE("arguments_text: strings verbatim, other values as JSON text", "[collect][importers]") {
  CHECK(arguments_text("{\"queue\":\"billing\", \"priority\": \"high\"}") == "{\"queue\":\"billing\", \"priority\": \"high\"}");
  CHECK(arguments_text("not json at all") == "not json at all");
  CHECK(arguments_text("") == "");
  CHECK(arguments_text(json()) == "{}");
  CHECK(arguments_text(json::object()) == "{}");
  CHECK(arguments_text(json::parse(R"({"b": 2, "a": "x"})")) == "{\"a\":\"x\",\"b\":2}");
  CHECK(arguments_text(json::parse(R"([1, "two"])")) == "[1,\"two\"]");
  CHECK(arguments_text(json(7)) == "7");
  CHECK(arguments_text(json(-149.0)) == "-149.0");
}

TEST_CASE("find_key: first present key at the top level, then inside metadata or meta", "[collect][importers]") {
  json top = json::parse(R"({"ts": 1, "timestamp": 2, "metadata": {"time": 3}})");
  const json* hit = find_key(top, {"timestamp", "ts"});
  REQUIRE(hit);
  CHECK(*hit == 2);  // the order of `keys` decides
  CHECK(hit == &top["timestamp"]);
  REQUIRE(find_key(top, {"ts", "timestamp"}));
  CHECK(*find_key(top, {"ts", "timestamp"}) == 1);
  // any top-level key wins over metadata
  REQUIRE(find_key(top, {"time", "ts"}));
  CHECK(*find_key(top, {"time", "ts"}) == 1);
  REQUIRE(find_key(top, {"time"}));
  CHECK(*find_key(top, {"time"}) == 3);

  json in_meta = json::parse(R"({"request": {}, "metadata": {"session_id": "s-1", "agent": "a"}})");
  REQUIRE(find_key(in_meta, {"session", "session_id"}));
  CHECK(*find_key(in_meta, {"session", "session_id"}) == "s-1");
  CHECK(find_key(in_meta, {"session", "session_id"}) == &in_meta["metadata"]["session_id"]);

  json in_short_meta = json::parse(R"({"meta": {"cost": 0.5}})");
  REQUIRE(find_key(in_short_meta, {"cost_usd", "cost"}));
  CHECK(*find_key(in_short_meta, {"cost_usd", "cost"}) == 0.5);

  // null values count as absent
  json nulls = json::parse(R"({"agent": null, "metadata": {"agent": "from-meta"}})");
  REQUIRE(find_key(nulls, {"agent"}));
  CHECK(*find_key(nulls, {"agent"}) == "from-meta");
  CHECK(find_key(json::parse(R"({"agent": null})"), {"agent"}) == nullptr);

  // not found, not an object, metadata not an object, no deeper than one level
  CHECK(find_key(top, {"latency_ms"}) == nullptr);
  CHECK(find_key(json::array({1}), {"ts"}) == nullptr);
  CHECK(find_key(json("ts"), {"ts"}) == nullptr);
  CHECK(find_key(json::parse(R"({"metadata": "ts"})"), {"ts"}) == nullptr);
  CHECK(find_key(json::parse(R"({"metadata": {"inner": {"ts": 1}}})"), {"ts"}) == nullptr);
}

// ---- hand-made edge cases ------------------------------------------------------------------------

TEST_CASE("openai-chat edge cases", "[collect][importers]") {
  SECTION("the minimal line, req/resp wrappers, ts from created, latency and session variants") {
    json line = chat_line();
    json want = json::parse(R"json({
      "source": {"format": "openai-chat"}, "ts": "2026-11-28T10:00:12.000Z", "status": "ok",
      "request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
      "response": {"content": "hello", "finish_reason": "stop", "model": "m-1"}})json");
    check_record(import_openai_chat(line).record, want);

    json short_names = {{"req", line["request"]}, {"resp", line["response"]}, {"duration_s", 0.25}, {"session", 42},
                        {"metadata", {{"agent_id", "a-1"}, {"response_cost", 0.01}}}};
    json rec = import_openai_chat(short_names).record;
    CHECK(rec["latency_ms"].get<double>() == Approx(250.0));
    CHECK(rec["source"]["session"] == "42");
    CHECK(rec["source"]["agent"] == "a-1");
    CHECK(rec["cost_usd"] == 0.01);
    CHECK(rec["meta"] == json{{"agent_id", "a-1"}, {"response_cost", 0.01}});
    CHECK(rec["ts"] == "2026-11-28T10:00:12.000Z");
    check_schema(rec);
  }

  SECTION("choices: [] is an ImportError") {
    json line = chat_line();
    line["response"]["choices"] = json::array();
    CHECK(import_error([&] { import_openai_chat(line); }) == "the response has no choices");
  }

  SECTION("a message without role is an ImportError") {
    json line = chat_line();
    line["request"]["messages"].push_back({{"content", "no role"}});
    CHECK(import_error([&] { import_openai_chat(line); }) == "a message has no role");
    json ft = json::parse(R"({"messages": [{"content": "x"}, {"role": "assistant", "content": "y"}]})");
    CHECK(import_error([&] { import_openai_ft(ft); }) == "a message has no role");
  }

  SECTION("tool_calls that is not a list is an ImportError, in the request and in the response") {
    json line = chat_line();
    line["request"]["messages"].push_back({{"role", "assistant"}, {"content", nullptr}, {"tool_calls", {{"id", "c1"}}}});
    CHECK(import_error([&] { import_openai_chat(line); }) == "tool_calls is not a list");

    json resp_line = chat_line();
    resp_line["response"]["choices"][0]["message"]["tool_calls"] = "route_ticket";
    CHECK(import_error([&] { import_openai_chat(resp_line); }) == "tool_calls is not a list");

    // null tool_calls is what some SDKs log for "none"
    json null_calls = chat_line();
    null_calls["response"]["choices"][0]["message"]["tool_calls"] = nullptr;
    json rec = import_openai_chat(null_calls).record;
    CHECK(rec["response"]["content"] == "hello");
    CHECK_FALSE(rec["response"].contains("tool_calls"));
  }

  SECTION("HTTP status 500 and no response body is an error record") {
    json line = json::parse(R"({"request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
                                "status": 500, "timestamp": 1795860012, "latency_ms": 30000})");
    json want = json::parse(R"json({
      "source": {"format": "openai-chat"}, "ts": "2026-11-28T10:00:12.000Z", "latency_ms": 30000, "status": "error",
      "request": {"model": "m", "messages": [{"role": "user", "content": "hi"}]},
      "response": {"content": null, "error": {"message": "HTTP status 500"}}})json");
    json rec = import_openai_chat(line).record;
    check_record(rec, want);
    check_schema(rec);
    // a status of 200 without a response is no call at all
    line["status"] = 200;
    CHECK(import_error([&] { import_openai_chat(line); }) == "no response body (expected a \"response\" object)");
  }

  SECTION("a wrapper error field is an error record") {
    json line = chat_line();
    line.erase("response");
    line["error"] = "connection reset";
    json rec = import_openai_chat(line).record;
    CHECK(rec["status"] == "error");
    CHECK(rec["response"] == json{{"content", nullptr}, {"error", "connection reset"}});
  }

  SECTION("a request without messages is an ImportError") {
    json line = chat_line();
    line["request"].erase("messages");
    CHECK(import_error([&] { import_openai_chat(line); }) == "the request has no messages");
    line["request"]["messages"] = json::array();
    CHECK(import_error([&] { import_openai_chat(line); }) == "the request has no messages");
    json no_request = {{"response", chat_line()["response"]}};
    CHECK_THAT(import_error([&] { import_openai_chat(no_request); }), Catch::Contains("no request body"));
    CHECK(import_error([&] { import_openai_ft(json::parse(R"({"messages": []})")); }) == "no messages");
  }

  SECTION("a response with neither choices nor an error is an ImportError") {
    json line = chat_line();
    line["response"] = {{"id", "x"}};
    CHECK(import_error([&] { import_openai_chat(line); }) == "the response has neither choices nor an error");
  }

  SECTION("streaming: created as the ts fallback, id and name from the first delta, arguments joined") {
    json line = json::parse(R"json({"request": {"model": "m", "messages": [{"role": "user", "content": "go"}]},
      "response": [
        {"object": "chat.completion.chunk", "created": 1795860480, "model": "m-1",
         "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                                             "function": {"name": "f", "arguments": "{\"x\":"}}]}}]},
        {"object": "chat.completion.chunk", "created": 1795860480, "model": "m-1",
         "choices": [{"index": 0, "delta": {"tool_calls": [{"index": 0, "id": "call_a", "type": "function",
                                                             "function": {"name": "f", "arguments": "1}"}}]}}]},
        {"object": "chat.completion.chunk", "created": 1795860480, "model": "m-1",
         "choices": [{"index": 0, "delta": {}, "finish_reason": "tool_calls"}]}]})json");
    json want = json::parse(R"json({
      "source": {"format": "openai-chat"}, "ts": "2026-11-28T10:08:00.000Z", "status": "ok",
      "request": {"model": "m", "messages": [{"role": "user", "content": "go"}]},
      "response": {"content": null, "finish_reason": "tool_calls", "model": "m-1",
                   "tool_calls": [{"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{\"x\":1}"}}]}})json");
    json rec = import_openai_chat(line).record;
    check_record(rec, want);
    check_schema(rec);
  }

  SECTION("a streamed error chunk is an error record") {
    json line = json::parse(R"json({"request": {"messages": [{"role": "user", "content": "go"}]},
      "response": [{"object": "chat.completion.chunk", "choices": [{"index": 0, "delta": {"content": "par"}}]},
                   {"error": {"message": "stream interrupted"}}]})json");
    json rec = import_openai_chat(line).record;
    CHECK(rec["status"] == "error");
    CHECK(rec["response"]["error"] == json{{"message", "stream interrupted"}});
  }

  SECTION("the legacy function role without a name still answers a call") {
    json line = chat_line();
    line["request"]["messages"].push_back({{"role", "function"}, {"content", "42"}});
    json rec = import_openai_chat(line).record;
    CHECK(rec["request"]["messages"][1] == json{{"role", "tool"}, {"content", "42"}, {"tool_call_id", ""}});
    check_schema(rec);
  }
}

TEST_CASE("odd shapes are ImportErrors (quarantined), never other exceptions", "[collect][importers]") {
  // the driver catches ImportError only: anything else would stop the whole run
  for (const char* text : {
           R"({"request": {"messages": [{"role": "user", "content": "x"}]}, "response": {"choices": [5]}})",
           R"({"request": {"messages": [{"role": "user", "content": "x"}]}, "response": {"choices": [{"message": "hi"}]}})",
           R"({"request": {"messages": [{"role": "user", "content": "x"}]},
               "response": [{"choices": [{"index": 0, "delta": {"tool_calls": [5]}}]}]})",
           R"({"request": {"messages": [{"role": "user", "content": {"text": "x"}}]}, "response": {"choices": []}})"}) {
    INFO(text);
    CHECK_FALSE(import_error([&] { import_openai_chat(json::parse(text)); }).empty());
  }
  CHECK_THAT(import_error([&] { import_openai_ft(json::parse(R"({"messages": [{"role": "user", "content": "x"}, "assistant"]})")); }),
             Catch::Contains("has no role"));
  for (const char* text : {
           R"({"request": {"messages": [{"role": "user", "content": "x"}]}, "response": [{"type": "message_start", "message": 5}]})",
           R"({"request": {"messages": [{"role": "user", "content": "x"}]},
               "response": [{"type": "content_block_start", "index": 0, "content_block": {"type": "text"}},
                            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": 5}}]})",
           R"({"request": {"messages": [{"role": "user", "content": "x"}]},
               "response": [{"type": "content_block_delta", "index": 3, "delta": {"type": "text_delta", "text": "x"}}]})"}) {
    INFO(text);
    CHECK_FALSE(import_error([&] { import_anthropic(json::parse(text)); }).empty());
  }
}

TEST_CASE("anthropic edge cases", "[collect][importers]") {
  SECTION("the minimal line") {
    json want = json::parse(R"json({
      "source": {"format": "anthropic"}, "status": "ok",
      "request": {"model": "c", "messages": [{"role": "user", "content": "hi"}], "params": {"max_tokens": 10}},
      "response": {"content": "hello", "finish_reason": "stop", "model": "c-1"},
      "usage": {"prompt_tokens": 3, "completion_tokens": 1}})json");
    check_record(import_anthropic(anthropic_line()).record, want);
  }

  SECTION("a message without role, a request without messages") {
    json line = anthropic_line();
    line["request"]["messages"].push_back({{"content", "x"}});
    CHECK(import_error([&] { import_anthropic(line); }) == "a message has no role");
    line["request"].erase("messages");
    CHECK(import_error([&] { import_anthropic(line); }) == "the request has no messages");
  }

  SECTION("HTTP status 500 and no response body is an error record") {
    json line = anthropic_line();
    line.erase("response");
    line["status"] = 500;
    json rec = import_anthropic(line).record;
    CHECK(rec["status"] == "error");
    CHECK(rec["response"] == json{{"content", nullptr}, {"error", {{"message", "HTTP status 500"}}}});
    check_schema(rec);
  }

  SECTION("a streamed error event is an error record") {
    json line = anthropic_line();
    line["response"] = json::parse(R"json([{"type": "message_start", "message": {"type": "message", "content": []}},
      {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}])json");
    json rec = import_anthropic(line).record;
    CHECK(rec["status"] == "error");
    CHECK(rec["response"]["error"] == json{{"type", "overloaded_error"}, {"message", "Overloaded"}});
  }

  SECTION("a tool_result with no text is an empty tool message; max_tokens stop_reason is length") {
    json line = anthropic_line();
    line["request"]["messages"] = json::parse(R"json([
      {"role": "user", "content": "go"},
      {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f", "input": {"a": [1, 2]}}]},
      {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1"}]}])json");
    line["response"]["stop_reason"] = "max_tokens";
    json rec = import_anthropic(line).record;
    CHECK(rec["request"]["messages"] == json::parse(R"json([
      {"role": "user", "content": "go"},
      {"role": "assistant", "content": null,
       "tool_calls": [{"id": "t1", "type": "function", "function": {"name": "f", "arguments": "{\"a\":[1,2]}"}}]},
      {"role": "tool", "tool_call_id": "t1", "content": ""}])json"));
    CHECK(rec["response"]["finish_reason"] == "length");
    check_schema(rec);
  }
}
