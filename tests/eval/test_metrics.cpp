// eval's metrics against hand-computed cases, the published ROUGE-L example (Lin 2004), the
// reference packages (rouge-score, sacrebleu via tests/reference/metrics_reference.py), and tool
// calls parsed back from what chat_render writes for them.
#include <catch2/catch.hpp>

#include "../core/test_util.h"
#include "eval/metrics.h"
#include "model/chat_template.h"

using namespace slmify;


TEST_CASE("metrics: exact match after normalisation and structural JSON equality", "[eval]") {
  CHECK(normalize_text("  Hello \t  world\n\nagain ") == "Hello world again");
  CHECK(exact_match("Hello   world", "Hello world\n"));
  CHECK_FALSE(exact_match("Hello world", "hello world"));  // case counts
  CHECK_FALSE(exact_match("Hello world.", "Hello world"));
  // Key order and number formatting do not count; array order and types do.
  CHECK(exact_match(R"({"a": 1, "b": [1, 2.5]})", R"({ "b": [1.0, 2.50], "a": 1e0 })"));
  CHECK(json_equal(json::parse(R"({"x": 0.30000000000000004})"), json::parse(R"({"x": 0.3})")));
  CHECK_FALSE(json_equal(json::parse("[1, 2]"), json::parse("[2, 1]")));
  CHECK_FALSE(json_equal(json::parse(R"({"a": "1"})"), json::parse(R"({"a": 1})")));
  CHECK_FALSE(json_equal(json::parse(R"({"a": 1})"), json::parse(R"({"a": 1, "b": null})")));
  CHECK(json_equal(json::parse("12345678901234567"), json::parse("12345678901234567")));
  CHECK_FALSE(json_equal(json::parse("12345678901234567"), json::parse("12345678901234568")));
}

TEST_CASE("metrics: JSON answers, leaf paths and field-level F1", "[eval]") {
  REQUIRE(json_answer("```json\n{\"a\": 1}\n```"));
  CHECK(*json_answer("```json\n{\"a\": 1}\n```") == json{{"a", 1}});
  CHECK(json_answer(" [1, 2] ").has_value());
  CHECK_FALSE(json_answer("{\"a\": 1").has_value());
  CHECK_FALSE(json_answer("42").has_value());  // a JSON answer is an object or an array
  auto leaves = json_leaves(json::parse(R"({"a/b": {"c": [1, 2.0], "d": {}}, "e~": null})"));
  std::vector<std::pair<std::string, std::string>> want = {{"/a~1b/c/0", "1"}, {"/a~1b/c/1", "2"}, {"/a~1b/d", "{}"}, {"/e~0", "null"}};
  CHECK(leaves == want);
  // Hand-computed: 2 of 3 leaves agree on both sides -> P = R = 2/3.
  CHECK(json_field_f1(json::parse(R"({"name": "Ana", "email": null, "order_id": "124"})"),
                      json::parse(R"({"name": "Ana", "email": null, "order_id": "123"})")) == Approx(2.0 / 3));
  // Pred has 2 leaves, both right; ref has 3: P = 1, R = 2/3, F1 = 0.8.
  CHECK(json_field_f1(json::parse(R"({"a": {"b": 1.0, "c": [1]}})"), json::parse(R"({"a": {"b": 1, "c": [1, 2]}})")) == Approx(0.8));
  CHECK(json_field_f1(json::parse(R"({"x": 1})"), json::parse(R"({"y": 1})")) == 0.0);
  CHECK(json_field_f1(json::parse("{}"), json::parse("{}")) == 1.0);
}

TEST_CASE("metrics: ROUGE-L on Lin's published example and hand-computed cases", "[eval]") {
  // Lin (2004), section 3.1: reference S1, candidates S2 (LCS 3 of 4) and S3 (LCS 2 of 4).
  CHECK(rouge_l_f1("police kill the gunman", "police killed the gunman") == Approx(0.75));
  CHECK(rouge_l_f1("the gunman kill police", "police killed the gunman") == Approx(0.5));
  CHECK(rouge_tokens("Don't STOP-now 42x!") == std::vector<std::string>{"don", "t", "stop", "now", "42x"});
  CHECK(rouge_tokens("Café über—naïve") == std::vector<std::string>{"café", "über", "naïve"});
  // "a b c d e" against "a x c y e": LCS a c e = 3, P = R = 3/5.
  CHECK(rouge_l_f1("a b c d e", "a x c y e") == Approx(0.6));
  // P = 2/2, R = 2/4: F = 2 * 1 * 0.5 / 1.5.
  CHECK(rouge_l_f1("a d", "a b c d") == Approx(2.0 / 3));
  CHECK(rouge_l_f1("", "") == 1.0);
  CHECK(rouge_l_f1("...", "words") == 0.0);
}

TEST_CASE("metrics: chrF hand-computed", "[eval]") {
  // "ab" against "abc": 1-grams P 2/2, R 2/3; 2-grams P 1/1, R 1/2; no 3-grams in the
  // hypothesis, so two effective orders: P = 1, R = 7/12, F2 = 5 * 7/12 / (4 + 7/12) = 7/11.
  CHECK(chrf("ab", "abc") == Approx(7.0 / 11));
  CHECK(chrf("same text", "same text") == Approx(1.0));
  CHECK(chrf("a b c", "abc") == Approx(1.0));  // whitespace is removed
  CHECK(chrf("xyz", "abc") == 0.0);
  CHECK(chrf("", "abc") == 0.0);
}

TEST_CASE("metrics: ROUGE-L and chrF equal rouge-score and sacrebleu", "[eval][python]") {
  json rows = json::parse(slmify_test::read_bytes(slmify_test::python_reference_dir("metrics_reference.py") / "expected.json"));
  REQUIRE(rows.size() >= 20);
  for (const json& r : rows) {
    const std::string pred = r["pred"], ref = r["ref"];
    INFO(pred << " | " << ref);
    if (r.contains("rouge_l")) CHECK(rouge_l_f1(pred, ref) == Approx(r["rouge_l"].get<double>()).margin(1e-12));
    CHECK(chrf(pred, ref) == Approx(r["chrf"].get<double>()).margin(1e-12));
  }
}

TEST_CASE("metrics: tool calls parse back from what the chatml-tools template renders", "[eval]") {
  json tools = json::array({{{"type", "function"}, {"function", {{"name", "route_ticket"}, {"parameters", {{"type", "object"}}}}}}});
  json calls = json::array(
      {{{"id", "c1"}, {"type", "function"}, {"function", {{"name", "route_ticket"}, {"arguments", R"({"queue": "billing", "priority": 2})"}}}},
       {{"id", "c2"}, {"type", "function"}, {"function", {{"name", "lookup"}, {"arguments", R"({"ids": [1, 2], "deep": {"x": null}})"}}}}});
  for (std::string content : {"", "Routing it now."}) {
    json messages = json::array({{{"role", "user"}, {"content", "Where does ticket 7 go?"}},
                                 {{"role", "assistant"}, {"content", content}, {"tool_calls", calls}}});
    std::string reply;
    for (const ChatSegment& s : chat_render(chat_template_named("chatml-tools"), messages, tools, false))
      if (s.assistant) reply += s.text;
    REQUIRE(reply.size() > 10);
    reply = reply.substr(0, reply.rfind("<|im_end|>"));  // the stop token is not part of the decoded text
    Reply parsed = reply_parse(reply, ToolCallFormat::tags);
    Reply logged = reply_from_response({{"content", content}, {"tool_calls", calls}});
    CHECK(parsed.content == content);
    REQUIRE(parsed.calls.size() == 2);
    CHECK(parsed.calls_ok);
    CHECK(parsed.calls[0].name == "route_ticket");
    CHECK(parsed.calls[1].arguments == json::parse(R"({"ids": [1, 2], "deep": {"x": null}})"));
    CallScores s = score_reply("tool_call", parsed, logged);
    CHECK(s.primary == 1.0);
    CHECK(s.exact_match == 1.0);
  }
}

TEST_CASE("metrics: tool-call scores: names, structural arguments, order, broken output", "[eval]") {
  Reply ref = reply_from_response(json::parse(R"({"content": null, "tool_calls": [
      {"function": {"name": "a", "arguments": "{\"x\": 1, \"y\": [1, 2]}"}},
      {"function": {"name": "b", "arguments": "{}"}}]})"));
  // Same calls in the other order, keys reordered, 1 written as 1.0: a match.
  Reply swapped = reply_parse("<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n"
                              "{\"name\": \"a\", \"arguments\": {\"y\": [1, 2], \"x\": 1.0}}\n</tool_call>",
                              ToolCallFormat::tags);
  CallScores s = score_reply("tool_call", swapped, ref);
  CHECK(*s.tool_name_match == 1.0);
  CHECK(*s.tool_call_match == 1.0);
  // A wrong argument: the names match, the calls do not.
  Reply wrong = reply_parse("<tool_call>\n{\"name\": \"a\", \"arguments\": {\"x\": 2, \"y\": [1, 2]}}\n</tool_call>\n"
                            "<tool_call>\n{\"name\": \"b\", \"arguments\": {}}\n</tool_call>", ToolCallFormat::tags);
  s = score_reply("tool_call", wrong, ref);
  CHECK(*s.tool_name_match == 1.0);
  CHECK(*s.tool_call_match == 0.0);
  CHECK(s.primary == 0.0);
  // Cut off by the token limit, or not JSON: not OK, no match.
  Reply cut = reply_parse("<tool_call>\n{\"name\": \"a\", \"argum", ToolCallFormat::tags);
  CHECK_FALSE(cut.calls_ok);
  REQUIRE(cut.calls.size() == 1);
  CHECK(score_reply("tool_call", cut, ref).primary == 0.0);
  // Text where the LLM called tools, and a tool call where it answered in text.
  CHECK(*score_reply("tool_call", reply_parse("I will route it.", ToolCallFormat::tags), ref).tool_call_match == 0.0);
  Reply text_ref = reply_from_response({{"content", "No tool needed."}});
  CHECK(*score_reply("tool_call", swapped, text_ref).tool_call_match == 0.0);
  CHECK(score_reply("tool_call", reply_parse("No tool  needed.", ToolCallFormat::tags), text_ref).primary == 1.0);
  // Arguments logged as a string that is not JSON are compared as that string.
  Reply odd = reply_from_response(json::parse(R"({"tool_calls": [{"function": {"name": "a", "arguments": "not json"}}]})"));
  CHECK_FALSE(odd.calls_ok);
  CHECK(odd.calls[0].arguments == "not json");
}

TEST_CASE("metrics: bare JSON tool calls (Llama 3.1, Mistral)", "[eval]") {
  Reply l = reply_parse(R"({"name": "get_weather", "parameters": {"city": "Oslo"}})", ToolCallFormat::bare_json);
  REQUIRE(l.calls.size() == 1);
  CHECK(l.calls[0].name == "get_weather");
  CHECK(l.calls[0].arguments == json{{"city", "Oslo"}});
  Reply m = reply_parse(R"([TOOL_CALLS] [{"name": "a", "arguments": {"k": 1}}, {"name": "b", "arguments": {}}])", ToolCallFormat::bare_json);
  CHECK(m.calls.size() == 2);
  Reply t = reply_parse(R"({"sentiment": "positive"})", ToolCallFormat::bare_json);
  CHECK(t.calls.empty());
  CHECK(t.content == R"({"sentiment": "positive"})");
}

TEST_CASE("metrics: the primary metric follows the output kind", "[eval]") {
  CHECK(std::string(primary_metric_of("tool_call")) == "tool_call_match");
  CHECK(std::string(primary_metric_of("json")) == "field_f1");
  CHECK(std::string(primary_metric_of("code")) == "exact_match");
  CHECK(std::string(primary_metric_of("text")) == "rouge_l");
  Reply ref = reply_from_response({{"content", R"({"sentiment": "negative", "score": 2})"}});
  CallScores j = score_reply("json", reply_parse("```json\n{\"score\": 2.0, \"sentiment\": \"positive\"}\n```", ToolCallFormat::tags), ref);
  CHECK(*j.json_valid == 1.0);
  CHECK(j.primary == Approx(0.5));
  CHECK(score_reply("json", reply_parse("{broken", ToolCallFormat::tags), ref).primary == 0.0);
  CHECK(*score_reply("json", reply_parse("{broken", ToolCallFormat::tags), ref).json_valid == 0.0);
  Reply code = reply_from_response({{"content", "SELECT 1\nFROM t;"}});
  CHECK(score_reply("code", reply_parse("SELECT 1 FROM t;", ToolCallFormat::tags), code).primary == 1.0);
  CallScores text = score_reply("text", reply_parse("police kill the gunman", ToolCallFormat::tags),
                                reply_from_response({{"content", "police killed the gunman"}}));
  CHECK(text.primary == Approx(0.75));
  CHECK_FALSE(text.tool_call_match.has_value());
  json js = scores_to_json(text);
  CHECK(js["tool_call_match"].is_null());
  CHECK(js["rouge_l"] == Approx(0.75));
}
