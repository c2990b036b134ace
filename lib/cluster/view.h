// What of a call is clustered (the "view"): its parts as text (system prompt, last or all user
// turns, tools offered and called, the shape of the response, the response), the kind of output,
// and the figures clusters.json reports per cluster. Text is masked (numbers, ids, quoted values,
// e-mail addresses, URLs) before it is featurised or mined for templates.
// Tested by tests/cluster/test_parts.cpp.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/record.h"

namespace slmify {

/// What a call answers with; the first that applies: tool calls, a JSON value, code, free text.
enum class OutputKind { tool_call = 0, json = 1, code = 2, text = 3 };
const char* output_kind_name(OutputKind k);
OutputKind output_kind_of(const json& response);

/// The parts a view can hold. `part_template` is not read from the call: the template miner
/// makes it from the masked system prompt and user turn (cluster.templates).
enum ViewPart : int {
  part_system = 0,
  part_last_user,
  part_all_user,
  part_tools,
  part_shape,
  part_response,
  part_template,
  part_count
};
/// The config name of a part ("system", "last_user", ..., "response_shape", "template").
const char* view_part_name(int part);
/// Which parts cluster.view selects (`template` is added by the caller when templates are on).
std::array<bool, part_count> view_parts_selected(const std::vector<std::string>& view);

/// Per-call figures for clusters.json; the token counts are the logged usage, or about four
/// bytes per token when the log has none.
struct CallFacts {
  std::string id;
  OutputKind kind = OutputKind::text;
  double prompt_tokens = 0, completion_tokens = 0;
  double latency_ms = -1;  ///< -1 when not logged
  double cost_usd = 0;
};

/// The raw (unmasked) text of every part of `rec` except the template, and its facts.
std::array<std::string, part_count> view_texts(const json& rec, CallFacts& facts);

/// Masks what changes from one filled-in template to the next: quoted values -> <Q>, e-mail
/// addresses -> <EMAIL>, URLs -> <URL>, numbers, dates, amounts and times -> <NUM>, tokens
/// mixing letters and digits (order ids, keys) -> <ID>. Runs of spaces collapse to one, lines
/// are kept; repeated placeholders in a row collapse to one.
std::string mask_text(std::string_view text);

/// Lowercased word tokens of `text` (letters, digits, `_`, and any non-ASCII byte; placeholders
/// such as <NUM> are single tokens), as views into a buffer the caller keeps.
void word_tokens(std::string_view text, std::string& buffer, std::vector<std::string_view>& out);

/// A readable excerpt: the first `max_bytes` bytes cut at a UTF-8 boundary, with "..." when cut.
std::string excerpt(std::string_view text, size_t max_bytes);

}  // namespace slmify
