// Record schema v1 (lib/core/record.h): record_check accepts full records and names the path of
// what is wrong; record_content_id ignores metadata; utf8_valid follows RFC 3629.
#include <catch2/catch.hpp>

#include <functional>
#include <regex>
#include <string>
#include <vector>

#include "core/record.h"
#include "test_util.h"

using namespace slmify;
using slmify_test::run_command;
using slmify_test::shell_quote;
using slmify_test::TempDir;

namespace {

// A record using every part of the schema: all message roles, tools, tool calls in the history
// and in the response, usage, latency, cost, meta and annotations.
json full_record() {
  return json::parse(R"({
    "id": "0123456789abcdef0123456789abcdef",
    "ts": "2026-11-28T10:00:00.123Z",
    "source": {"format": "openai-chat", "file": "logs/calls.jsonl", "line": 17, "agent": "planner", "session": "s-1"},
    "hci": false,
    "status": "ok",
    "request": {
      "model": "gpt-4o",
      "messages": [
        {"role": "system", "content": "You plan trips."},
        {"role": "user", "content": "Weather in Paris?", "name": "alice"},
        {"role": "assistant", "content": null,
         "tool_calls": [{"id": "call_1", "type": "function",
                         "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\": 21}"},
        {"role": "developer", "content": "Answer in one line."}
      ],
      "tools": [{"type": "function",
                 "function": {"name": "get_weather", "description": "Current weather",
                              "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                                             "required": ["city"]},
                              "strict": true}}],
      "tool_choice": "auto",
      "params": {"temperature": 0.2, "max_tokens": 256}
    },
    "response": {
      "content": null,
      "tool_calls": [{"id": "call_2", "type": "function",
                      "function": {"name": "get_weather", "arguments": "{\"city\": \"Lyon\"}"}}],
      "finish_reason": "tool_calls",
      "model": "gpt-4o-2024-08-06"
    },
    "usage": {"prompt_tokens": 812, "completion_tokens": 64, "total_tokens": 876},
    "latency_ms": 930,
    "cost_usd": 0.0041,
    "meta": {"tenant": "acme"},
    "ann": {"scrub": {"emails": 1}, "cluster": {"id": 3, "dist": 0.18}, "split": "train"}
  })");
}

struct BadCase {
  const char* name;
  std::function<void(json&)> mutate;
  std::string path;  // the message must start with "<path>: "
};

}  // namespace

TEST_CASE("record_check accepts a full valid record", "[core][record]") {
  json rec = full_record();
  CHECK(record_check(rec) == "");
  CHECK(record_check(slmify_test::make_record(1)) == "");
}

TEST_CASE("record_check accepts the optional and nullable forms", "[core][record]") {
  SECTION("status error with a null response") {
    json r = slmify_test::make_record(1);
    r["status"] = "error";
    r["response"] = nullptr;
    CHECK(record_check(r) == "");
  }
  SECTION("status error with an error response") {
    json r = slmify_test::make_record(1);
    r["status"] = "error";
    r["response"] = {{"content", nullptr}, {"error", {{"message", "rate limited"}}}};
    CHECK(record_check(r) == "");
  }
  SECTION("nulls where the schema allows them") {
    json r = slmify_test::make_record(1);
    r["ts"] = nullptr;
    r["usage"] = nullptr;
    r["latency_ms"] = nullptr;
    r["cost_usd"] = nullptr;
    r["request"]["model"] = nullptr;
    r["source"]["agent"] = nullptr;
    r["response"]["finish_reason"] = nullptr;
    CHECK(record_check(r) == "");
  }
  SECTION("source may carry more identifying fields (docs: \"others: any\")") {
    json r = slmify_test::make_record(1);
    r["source"]["span_id"] = "abc";
    r["source"]["parent"] = {{"trace", 1}};
    CHECK(record_check(r) == "");
  }
  SECTION("tool call arguments may be an empty JSON object text and ids/types are optional") {
    json r = slmify_test::make_record(1);
    r["response"] = {{"content", nullptr}, {"tool_calls", {{{"function", {{"name", "noop"}, {"arguments", "{}"}}}}}}};
    CHECK(record_check(r) == "");
  }
  SECTION("unicode everywhere") {
    json r = slmify_test::make_record(1, "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D");
    CHECK(record_check(r) == "");
  }
}

TEST_CASE("record_check rejects bad records naming the path", "[core][record]") {
  std::vector<BadCase> cases = {
      {"missing id", [](json& r) { r.erase("id"); }, "id"},
      {"empty id", [](json& r) { r["id"] = ""; }, "id"},
      {"id not a string", [](json& r) { r["id"] = 5; }, "id"},
      {"unknown top-level field", [](json& r) { r["extra"] = 1; }, "extra"},
      {"missing source", [](json& r) { r.erase("source"); }, "source"},
      {"missing source.format", [](json& r) { r["source"].erase("format"); }, "source.format"},
      {"source.line negative", [](json& r) { r["source"]["line"] = -3; }, "source.line"},
      {"source.file not a string", [](json& r) { r["source"]["file"] = 12; }, "source.file"},
      {"hci missing", [](json& r) { r.erase("hci"); }, "hci"},
      {"hci a string", [](json& r) { r["hci"] = "no"; }, "hci"},
      {"bad status", [](json& r) { r["status"] = "fine"; }, "status"},
      {"missing request", [](json& r) { r.erase("request"); }, "request"},
      {"request unknown field", [](json& r) { r["request"]["temperature"] = 1; }, "request.temperature"},
      {"no messages", [](json& r) { r["request"]["messages"] = json::array(); }, "request.messages"},
      {"bad role", [](json& r) { r["request"]["messages"][1]["role"] = "robot"; }, "request.messages[1].role"},
      {"role missing", [](json& r) { r["request"]["messages"][0].erase("role"); }, "request.messages[0].role"},
      {"message content missing", [](json& r) { r["request"]["messages"][1].erase("content"); },
       "request.messages[1].content"},
      {"message content a number", [](json& r) { r["request"]["messages"][1]["content"] = 7; },
       "request.messages[1].content"},
      {"multi-part message content", [](json& r) { r["request"]["messages"][1]["content"] = json::array({{{"type", "text"}, {"text", "hi"}}}); },
       "request.messages[1].content"},
      {"message unknown field", [](json& r) { r["request"]["messages"][0]["weight"] = 1; },
       "request.messages[0].weight"},
      {"tool message without tool_call_id", [](json& r) { r["request"]["messages"][3].erase("tool_call_id"); },
       "request.messages[3].tool_call_id"},
      {"history tool call arguments an object",
       [](json& r) { r["request"]["messages"][2]["tool_calls"][0]["function"]["arguments"] = {{"city", "Paris"}}; },
       "request.messages[2].tool_calls[0].function.arguments"},
      {"tool without name", [](json& r) { r["request"]["tools"][0]["function"].erase("name"); },
       "request.tools[0].function.name"},
      {"tool of another type", [](json& r) { r["request"]["tools"][0]["type"] = "retrieval"; }, "request.tools[0].type"},
      {"tool parameters not an object", [](json& r) { r["request"]["tools"][0]["function"]["parameters"] = "x"; },
       "request.tools[0].function.parameters"},
      {"tools not an array", [](json& r) { r["request"]["tools"] = json::object(); }, "request.tools"},
      {"params not an object", [](json& r) { r["request"]["params"] = 1; }, "request.params"},
      {"missing response", [](json& r) { r.erase("response"); }, "response"},
      {"response null with status ok", [](json& r) { r["response"] = nullptr; }, "response"},
      {"response without content", [](json& r) { r["response"].erase("content"); }, "response.content"},
      {"response unknown field", [](json& r) { r["response"]["text"] = "hi"; }, "response.text"},
      {"response tool call arguments an object",
       [](json& r) { r["response"]["tool_calls"][0]["function"]["arguments"] = json::object(); },
       "response.tool_calls[0].function.arguments"},
      {"response tool call arguments missing",
       [](json& r) { r["response"]["tool_calls"][0]["function"].erase("arguments"); },
       "response.tool_calls[0].function.arguments"},
      {"response tool call without function", [](json& r) { r["response"]["tool_calls"][0].erase("function"); },
       "response.tool_calls[0].function"},
      {"response tool_calls not an array", [](json& r) { r["response"]["tool_calls"] = "x"; }, "response.tool_calls"},
      {"response error a number", [](json& r) { r["response"]["error"] = 3; }, "response.error"},
      {"negative usage", [](json& r) { r["usage"]["prompt_tokens"] = -1; }, "usage.prompt_tokens"},
      {"fractional usage", [](json& r) { r["usage"]["completion_tokens"] = 1.5; }, "usage.completion_tokens"},
      {"usage not an object", [](json& r) { r["usage"] = 5; }, "usage"},
      {"negative latency", [](json& r) { r["latency_ms"] = -5; }, "latency_ms"},
      {"negative cost", [](json& r) { r["cost_usd"] = -0.01; }, "cost_usd"},
      {"cost a string", [](json& r) { r["cost_usd"] = "0.01"; }, "cost_usd"},
      {"meta not an object", [](json& r) { r["meta"] = json::array(); }, "meta"},
      {"ann not an object", [](json& r) { r["ann"] = "train"; }, "ann"},
  };
  for (const BadCase& c : cases) {
    json r = full_record();
    REQUIRE(record_check(r) == "");
    c.mutate(r);
    std::string err = record_check(r);
    INFO(c.name << " -> \"" << err << "\"");
    CHECK(err.rfind(c.path + ": ", 0) == 0);
  }

  SECTION("the message says what is wrong and shows the value") {
    json r = full_record();
    r["request"]["messages"][1]["role"] = "robot";
    std::string err = record_check(r);
    CHECK_THAT(err, Catch::Contains("\"robot\"") && Catch::Contains("system") && Catch::Contains("tool"));
    r = full_record();
    r["extra"] = 1;
    CHECK_THAT(record_check(r), Catch::Contains("unknown field"));
    r = full_record();
    r["response"] = nullptr;
    CHECK_THAT(record_check(r), Catch::Contains("status"));
    r = full_record();
    r["usage"]["prompt_tokens"] = -1;
    CHECK_THAT(record_check(r), Catch::Contains("-1"));
  }
  SECTION("a record that is not an object") {
    CHECK(record_check(json::array({1, 2})).rfind("record: ", 0) == 0);
    CHECK(record_check(json("text")).rfind("record: ", 0) == 0);
    CHECK(record_check(json()).rfind("record: ", 0) == 0);
  }
}

TEST_CASE("record_content_id ignores metadata and changes with the content", "[core][record]") {
  json a = full_record();
  std::string id = record_content_id(a);
  CHECK(std::regex_match(id, std::regex("^[0-9a-f]{32}$")));

  json b = a;
  b["id"] = "something-else";
  b["ts"] = "2030-01-01T00:00:00.000Z";
  b["source"] = {{"format", "langfuse"}, {"file", "other.jsonl"}, {"line", 99}};
  b["latency_ms"] = 12345;
  b["cost_usd"] = 1.5;
  b["usage"] = {{"prompt_tokens", 1}};
  b["hci"] = true;
  b["meta"] = {{"x", 1}};
  b["ann"] = json::object();
  CHECK(record_content_id(b) == id);

  json c = a;
  c["request"]["messages"][1]["content"] = "Weather in Rome?";
  CHECK(record_content_id(c) != id);
  json d = a;
  d["response"]["tool_calls"][0]["function"]["arguments"] = "{\"city\": \"Nice\"}";
  CHECK(record_content_id(d) != id);
  json e = a;
  e["request"]["model"] = "gpt-4o-mini";
  CHECK(record_content_id(e) != id);
}

TEST_CASE("record_content_id does not depend on key order and hashes the canonical JSON", "[core][record]") {
  json a = json::parse(
      R"({"id":"x","source":{"format":"f"},"hci":false,"status":"ok",
          "response":{"content":"hello","finish_reason":"stop"},
          "request":{"messages":[{"role":"user","content":"hi"}],"model":"m"}})");
  json b = json::parse(
      R"({"request":{"model":"m","messages":[{"content":"hi","role":"user"}]},"status":"ok",
          "response":{"finish_reason":"stop","content":"hello"},"hci":true,"source":{"format":"g"},"id":"y"})");
  CHECK(record_content_id(a) == record_content_id(b));
  // Independent check: the canonical form (sorted keys, no spaces) hashed by sha256sum.
  TempDir tmp;
  auto p = tmp / "canonical.json";
  slmify_test::write_bytes(
      p, R"({"request":{"messages":[{"content":"hi","role":"user"}],"model":"m"},"response":{"content":"hello","finish_reason":"stop"}})");
  CHECK(record_content_id(a) == slmify_test::sha256sum_cmd(p).substr(0, 32));
}

TEST_CASE("utf8_valid follows RFC 3629", "[core][record]") {
  struct Case {
    const char* name;
    std::string s;
    bool valid;
  };
  std::vector<Case> cases = {
      {"empty", "", true},
      {"ascii", "hello\tworld", true},
      {"NUL byte", std::string("a\0b", 3), true},
      {"2-byte e-acute", "caf\xC3\xA9", true},
      {"3-byte CJK", "\xE6\x97\xA5\xE6\x9C\xAC", true},
      {"4-byte emoji", "\xF0\x9F\x98\x80", true},
      {"RTL hebrew", "\xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D", true},
      {"U+FFFF", "\xEF\xBF\xBF", true},
      {"U+10FFFF (the last code point)", "\xF4\x8F\xBF\xBF", true},
      {"U+D7FF (before the surrogates)", "\xED\x9F\xBF", true},
      {"U+E000 (after the surrogates)", "\xEE\x80\x80", true},
      {"overlong '/' in 2 bytes", "\xC0\xAF", false},
      {"overlong NUL in 2 bytes", "\xC0\x80", false},
      {"overlong U+007F in 2 bytes (C1)", "\xC1\xBF", false},
      {"overlong '/' in 3 bytes", "\xE0\x80\xAF", false},
      {"overlong U+07FF in 3 bytes", "\xE0\x9F\xBF", false},
      {"overlong '/' in 4 bytes", "\xF0\x80\x80\xAF", false},
      {"overlong U+FFFF in 4 bytes", "\xF0\x8F\xBF\xBF", false},
      {"high surrogate U+D800", "\xED\xA0\x80", false},
      {"low surrogate U+DFFF", "\xED\xBF\xBF", false},
      {"CESU-8 surrogate pair", "\xED\xA0\xBD\xED\xB8\x80", false},
      {"above U+10FFFF", "\xF4\x90\x80\x80", false},
      {"F5 lead byte", "\xF5\x80\x80\x80", false},
      {"5-byte form", "\xF8\x88\x80\x80\x80", false},
      {"FF byte", "a\xFF", false},
      {"lone continuation byte", "a\x80z", false},
      {"truncated 2-byte at end", "abc\xC3", false},
      {"truncated 3-byte at end", "abc\xE6\x97", false},
      {"truncated 4-byte at end", "\xF0\x9F\x98", false},
      {"truncated 3-byte before ascii", "\xE6\x97z", false},
      {"latin-1 e-acute", "caf\xE9", false},
  };
  for (const Case& c : cases) {
    INFO(c.name);
    CHECK(utf8_valid(c.s) == c.valid);
  }
}

TEST_CASE("utf8_valid agrees with python's decoder on every 1- to 3-byte prefix class", "[core][record]") {
  // Independent oracle: python's strict UTF-8 decoder on all two-byte strings and on three-byte
  // strings led by E0, ED, EF, F0 and F4 (the bytes with special second-byte ranges).
  TempDir tmp;
  std::vector<std::string> samples;
  for (int a = 0; a < 256; ++a)
    for (int b = 0; b < 256; ++b) samples.push_back({static_cast<char>(a), static_cast<char>(b)});
  for (int a : {0xE0, 0xED, 0xEF, 0xF0, 0xF4})
    for (int b = 0x70; b < 0xD0; ++b)
      for (int c : {0x41, 0x80, 0xBF, 0xC0})
        for (int d : {0x80, 0xBF, 0x41})
          samples.push_back({static_cast<char>(a), static_cast<char>(b), static_cast<char>(c), static_cast<char>(d)});
  std::string hex;
  static const char* digits = "0123456789abcdef";
  for (const std::string& s : samples) {
    for (unsigned char ch : s) hex += {digits[ch >> 4], digits[ch & 15]};
    hex += "\n";
  }
  auto in = tmp / "samples.txt";
  auto script = tmp / "oracle.py";
  slmify_test::write_bytes(in, hex);
  slmify_test::write_bytes(script,
                           "import sys\n"
                           "out = []\n"
                           "for line in open(sys.argv[1]):\n"
                           "    b = bytes.fromhex(line.strip())\n"
                           "    try:\n"
                           "        b.decode('utf-8', 'strict'); out.append('1')\n"
                           "    except UnicodeDecodeError:\n"
                           "        out.append('0')\n"
                           "sys.stdout.write(''.join(out))\n");
  auto r = run_command(slmify_test::python_exe() + " " + shell_quote(script.string()) + " " + shell_quote(in.string()));
  REQUIRE(r.status == 0);
  REQUIRE(r.out.size() == samples.size());
  size_t mismatches = 0;
  for (size_t i = 0; i < samples.size(); ++i) {
    bool expected = r.out[i] == '1';
    if (utf8_valid(samples[i]) != expected) {
      if (mismatches++ < 5) {
        std::string h;
        for (unsigned char ch : samples[i]) h += {digits[ch >> 4], digits[ch & 15], ' '};
        UNSCOPED_INFO("disagreement on bytes " << h << "(python says " << (expected ? "valid" : "invalid") << ")");
      }
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("utc_now_iso8601 is UTC with milliseconds", "[core][record]") {
  std::string ts = utc_now_iso8601();
  CHECK(std::regex_match(ts, std::regex(R"(^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$)")));
  // Same instant as the system clock's UTC date (compare the date part with `date -u`).
  auto r = run_command("date -u +%Y-%m-%d");
  REQUIRE(r.status == 0);
  std::string date = r.out.substr(0, 10);
  std::string again = utc_now_iso8601();
  CHECK((ts.substr(0, 10) == date || again.substr(0, 10) == date));
}

namespace {

// Content ids computed by python with the recipe of docs/dataset-format.md, one per JSONL line.
std::vector<std::string> python_content_ids(const std::vector<json>& recs) {
  TempDir tmp;
  auto in = tmp / "records.jsonl";
  auto script = tmp / "ids.py";
  std::string lines;
  for (const json& r : recs) lines += r.dump() + "\n";
  slmify_test::write_bytes(in, lines);
  slmify_test::write_bytes(script,
                           "import hashlib, json, sys\n"
                           "for line in open(sys.argv[1], encoding='utf-8'):\n"
                           "    r = json.loads(line)\n"
                           "    text = json.dumps({'request': r['request'], 'response': r['response']}, sort_keys=True,\n"
                           "                      separators=(',', ':'), ensure_ascii=False)\n"
                           "    print(hashlib.sha256(text.encode()).hexdigest()[:32])\n");
  auto r = run_command(slmify_test::python_exe() + " " + shell_quote(script.string()) + " " + shell_quote(in.string()));
  REQUIRE(r.status == 0);
  std::vector<std::string> ids;
  size_t start = 0, nl;
  while ((nl = r.out.find('\n', start)) != std::string::npos) {
    ids.push_back(r.out.substr(start, nl - start));
    start = nl + 1;
  }
  return ids;
}

}  // namespace

TEST_CASE("record_content_id equals the python recipe of docs/dataset-format.md", "[core][record]") {
  std::vector<json> recs;
  recs.push_back(full_record());
  recs.push_back(slmify_test::make_record(7, "\xE4\xBD\xA0\xE5\xA5\xBD \xF0\x9F\x98\x80 \xD7\xA9\xD7\x9C\xD7\x95\xD7\x9D caf\xC3\xA9"));
  static const char kControls[] = "tab\there, newline\n, nul \0, bell \x07, del \x7f, quote \" back \\ slash /";
  json ctl = slmify_test::make_record(8, std::string(kControls, sizeof kControls - 1));
  recs.push_back(ctl);
  json num = slmify_test::make_record(9);
  num["request"]["params"] = {{"temperature", 0.7}, {"top_p", 1.0}, {"tiny", 1e-05}, {"small", 0.0001},
                              {"huge", 1e21}, {"neg", -2.5}, {"int", -3}, {"big", 9007199254740993ll},
                              {"third", 1.0 / 3.0}, {"seed", 123456789}};
  recs.push_back(num);
  json keys = slmify_test::make_record(10);
  keys["request"]["params"] = {{"\xC3\xA9t\xC3\xA9", 1}, {"Zeta", 2}, {"alpha", 3}, {"\xF0\x9F\x98\x80", 4}, {"_", 5}};
  keys["request"]["tool_choice"] = {{"type", "function"}, {"function", {{"name", "f"}}}};
  recs.push_back(keys);
  json err = slmify_test::make_record(11);
  err["status"] = "error";
  err["response"] = nullptr;
  recs.push_back(err);

  std::vector<std::string> expected = python_content_ids(recs);
  REQUIRE(expected.size() == recs.size());
  for (size_t i = 0; i < recs.size(); ++i) {
    INFO("record " << i << ": " << recs[i].dump());
    CHECK(record_content_id(recs[i]) == expected[i]);
  }
}

TEST_CASE("record_prepare writes the same line as dump() and the same id as record_content_id", "[core][record]") {
  for (int i = 0; i < 20; ++i) {
    json r = slmify_test::make_record(i, i % 3 ? "text " + std::to_string(i) : "");
    if (i % 2) r["meta"] = {{"agent_tag", "x"}, {"n", i}};
    if (i % 4 == 0) r["ann"] = {{"cluster", {{"id", i}, {"dist", 0.25}}}, {"split", "train"}};
    if (i % 5 == 0) r["usage"] = {{"prompt_tokens", 10}, {"completion_tokens", i}};
    if (i == 7) r["request"]["messages"][0]["content"] = "unicode: 日本語 ✓ \"quoted\" \\ back";
    json copy = r;
    PreparedRecord p = record_prepare(r);
    INFO(copy.dump());
    REQUIRE(p.problem.empty());
    CHECK(p.id == record_content_id(copy));
    CHECK(r["id"] == p.id);
    CHECK(p.line == r.dump());
  }
  json bad = slmify_test::make_record(1);
  bad["status"] = "maybe";
  PreparedRecord p = record_prepare(bad);
  CHECK_THAT(p.problem, Catch::Contains("status"));
  CHECK(p.line.empty());
}

TEST_CASE("iso8601_valid accepts real moments and refuses impossible ones", "[core][record]") {
  for (const char* ok : {"2026-11-28", "2026-11-28T10:00:00Z", "2026-11-28T10:00:00.123Z", "2026-11-28 10:00:00",
                         "2026-11-28T10:00", "2026-11-28T10:00:00+01:00", "2026-11-28T10:00:00-0530", "2024-02-29T00:00:00Z",
                         "2016-12-31T23:59:60Z", "2000-02-29"})
    CHECK(iso8601_valid(ok));
  for (const char* bad : {"2026-13-45T99:99:99Z", "2026-02-29", "1900-02-29", "2026-04-31", "2026-11-28T24:00:00Z",
                          "2026-11-28T10:60:00Z", "2026-11-28T10:00:61Z", "2026-11-28T10:00:00ZZ", "2026-11-28T10:00:00.Z",
                          "2026-11-28T10:00:00+25:00", "2026-1-28", "yesterday", "", "2026-11-28T"})
    CHECK_FALSE(iso8601_valid(bad));
  json r = json::parse(R"({"id": "x", "ts": "2026-13-45T99:99:99Z", "source": {"format": "openai-chat"}, "hci": false, "status": "ok",
                           "request": {"messages": [{"role": "user", "content": "q"}]}, "response": {"content": "a"}})");
  CHECK_THAT(record_check(r), Catch::StartsWith("ts: must be an ISO-8601 date-time"));
}

TEST_CASE("utf8_repair replaces each byte outside valid UTF-8 and keeps the rest", "[core][record]") {
  CHECK(utf8_repair("caf\xc3\xa9") == "caf\xc3\xa9");
  CHECK(utf8_repair("caf\xe9!") == "caf\xef\xbf\xbd!");
  CHECK(utf8_repair("\xed\xa0\x80") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a surrogate, encoded: three bad bytes
  CHECK(utf8_repair("\xf0\x9f\x98") == "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");  // a cut 4-byte sequence
  CHECK(utf8_valid(utf8_repair(std::string("\x80\xff\x00z", 4))));
}
