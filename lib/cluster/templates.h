// Prompt templates, mined Drain-style (He et al., "Drain: An Online Log Parsing Approach with
// Fixed Depth Tree", ICWS 2017) from masked text: lines are grouped by token count and first
// token; a line joins the most similar template of its group when at least half of its tokens
// agree, and the positions that differ become <*>. Rare lines (free text) become <TEXT>. The
// same mining over each call's sequence of line templates gives the call's template.
// Tested by tests/cluster/test_parts.cpp.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/record.h"

namespace slmify {

class TemplateMiner {
 public:
  /// A line template used by fewer calls than this is free text (<TEXT>): max(2, share * calls).
  static constexpr double kRareShare = 0.002;

  /// With `free_text`, rare lines and long lines that match no template become <TEXT>; without,
  /// they stay as they are (for the sequences of line templates).
  explicit TemplateMiner(bool free_text = true) : free_text_(free_text) {}

  /// Phase 1: counts every line of one masked text (mask_text), `n` times.
  void add(std::string_view masked_text, uint64_t n = 1);
  /// Phase 2: mines the line templates from every line counted, most frequent lines first.
  /// `calls` is the number of calls, for the rare-line threshold.
  void build(uint64_t calls);
  /// The template of a masked text: each line replaced by its template, rare lines by <TEXT>,
  /// runs of <TEXT> collapsed. A line never counted (a new call under --assign) is matched
  /// against the templates, <*> matching any token.
  std::string template_of(std::string_view masked_text) const;
  /// The same, one template per line.
  std::vector<std::string> line_templates(std::string_view masked_text) const;

  size_t template_count() const { return templates_.size(); }
  /// The mined templates (text and count) for saving; from_json() restores a miner that answers
  /// template_of() for new text as this one does.
  json to_json() const;
  static TemplateMiner from_json(const json& j);

 private:
  struct LineTemplate {
    std::vector<std::string> tokens;
    uint64_t count = 0;
  };
  using GroupKey = std::string;
  static GroupKey group_key(const std::vector<std::string>& tokens);
  // Index of the best template of the group for `tokens` (or -1); `wildcards_match` for lookup.
  long best_match(const std::vector<std::string>& tokens, bool wildcards_match) const;
  std::string line_text(long tpl, const std::vector<std::string>& tokens) const;

  std::unordered_map<std::string, uint64_t> line_counts_;
  std::unordered_map<std::string, std::string> line_final_;  // masked line -> template text
  std::vector<LineTemplate> templates_;
  std::unordered_map<GroupKey, std::vector<size_t>> groups_;
  uint64_t rare_below_ = 2;
  bool free_text_ = true;
};

/// Two levels of Drain: first the line templates, then the calls' sequences of line templates
/// (one token per line template), so that calls of one prompt template whose greeting, sign-off
/// or number of free-text paragraphs differ still share one template.
class PromptTemplates {
 public:
  /// Mines both levels from the distinct masked texts and the number of calls using each.
  void build(const std::vector<std::pair<std::string_view, uint64_t>>& texts, uint64_t calls);
  /// The readable template of a masked text (one line template per line; <*> where lines differ).
  std::string template_of(std::string_view masked_text);
  size_t template_count() const;
  json to_json() const;
  static PromptTemplates from_json(const json& j);

 private:
  std::string sequence(std::string_view masked_text);
  TemplateMiner lines_{true}, sequences_{false};
  std::unordered_map<std::string, std::string> line_of_;  // sequence token -> line template
};

}  // namespace slmify
