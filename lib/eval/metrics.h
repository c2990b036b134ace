// How close a small model's answer is to the LLM's, per output kind: exact match after
// normalisation; tool calls (function names, arguments compared as JSON structurally); JSON answers
// (validity, field-level F1 over flattened leaf paths); free text (ROUGE-L F1 over words, and chrF
// with character 6-grams and beta 2 as sacrebleu defines it). Plain C++, no model code.
// Formulas: docs/eval.md. Tested by tests/eval/test_metrics.cpp against hand-computed cases and
// rouge-score/sacrebleu (tests/reference/metrics_reference.py).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/record.h"

namespace slmify {

/// One tool call of an answer.
struct ReplyCall {
  std::string name;
  json arguments;          ///< parsed arguments; the raw text as a JSON string when they do not parse
  bool arguments_ok = true;
};

/// An answer as text plus tool calls: the logged LLM response, or a generation parsed back.
struct Reply {
  std::string content;
  std::vector<ReplyCall> calls;
  bool calls_ok = true;  ///< false when the text holds a tool-call block that does not parse
};

/// How a chat template writes tool calls in the reply text.
enum class ToolCallFormat {
  tags,       ///< ChatML / Hermes / Qwen2.5: <tool_call>\n{"name": .., "arguments": ..}\n</tool_call>, one per call
  bare_json,  ///< Llama 3.1 {"name", "parameters"} and Mistral [{"name", "arguments"}]: the whole reply is JSON
};

/// The logged response ({"content", "tool_calls": [{"function": {"name", "arguments"}}]}).
Reply reply_from_response(const json& response);
/// A generated reply parsed back the way `format` writes tool calls (the inverse of chat_render).
Reply reply_parse(std::string_view text, ToolCallFormat format);
/// The reply as one text: content, then one line "NAME ARGS" per call (canonical JSON).
std::string reply_text(const Reply& r);

/// Trimmed, every run of whitespace one space; case and punctuation kept.
std::string normalize_text(std::string_view s);
/// Equal after normalize_text, or, when both parse as JSON, equal as JSON (json_equal).
bool exact_match(std::string_view a, std::string_view b);
/// Structural equality: objects as key sets (order ignored), arrays in order, numbers by value
/// (1, 1.0 and 1e0 are equal; relative tolerance 1e-9), strings, booleans and null exactly.
bool json_equal(const json& a, const json& b);
/// The JSON object or array an answer holds: the whole text, or the body of a ``` / ```json fence.
std::optional<json> json_answer(std::string_view s);
/// (RFC 6901 path, canonical value) of every leaf; empty objects and arrays are leaves.
std::vector<std::pair<std::string, std::string>> json_leaves(const json& j);
/// F1 of the leaf (path, value) pairs of `pred` against `ref`.
double json_field_f1(const json& pred, const json& ref);

/// Words for ROUGE-L: ASCII lowercased, runs of [a-z0-9] and of non-ASCII letters (rouge-score's
/// tokenizer on ASCII text; it drops non-ASCII letters, we keep them).
std::vector<std::string> rouge_tokens(std::string_view s);
/// ROUGE-L F1 (Lin 2004): LCS of the word sequences, P = LCS/|pred|, R = LCS/|ref|, F = 2PR/(P+R);
/// 1 when both have no words, 0 when one has none.
double rouge_l_f1(std::string_view pred, std::string_view ref);
/// chrF (Popović 2015) as sacrebleu's CHRF() sentence score / 100: character n-grams (Unicode code
/// points, whitespace removed) for n = 1..order; precision and recall averaged over the orders
/// that both sides have, then F-beta.
double chrf(std::string_view hyp, std::string_view ref, int order = 6, double beta = 2.0);

/// The output kinds clusters.json names, each with its primary metric.
const char* primary_metric_of(std::string_view kind);  ///< tool_call_match, field_f1, exact_match, rouge_l

/// Every metric of one answer against the LLM's; null where it does not apply.
struct CallScores {
  double exact_match = 0;
  std::optional<double> tool_name_match, tool_call_match;  ///< when either side calls tools
  std::optional<double> json_valid, field_f1;              ///< kind json
  double rouge_l = 0, chrf = 0;
  double primary = 0;  ///< the kind's primary metric for this call
};
/// Scores `pred` against `ref` for a cluster whose output kind is `kind`. With tool calls on either
/// side, the call match needs the same calls (as a multiset: name and arguments) and, when the LLM
/// answered in text, the SLM must not call a tool.
CallScores score_reply(std::string_view kind, const Reply& pred, const Reply& ref);
json scores_to_json(const CallScores& s);

}  // namespace slmify
