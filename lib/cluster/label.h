// What clusters.json says about each group of calls: a readable label from its most distinctive
// terms (class-based TF-IDF, Grootendorst 2022: the calls of a cluster as one document, term
// frequency in the class times log(1 + average class length / term frequency overall)), its
// templates, size and shares of calls, tokens and cost, output kinds, means of tokens and latency.
// Tested by tests/cluster/test_cluster.cpp (labels, figures).
#pragma once

#include <array>
#include <string>
#include <vector>

#include "cluster/embed.h"
#include "cluster/view.h"
#include "core/record.h"

namespace slmify {

/// The `top` most distinctive terms of each group (group[i] in 0..groups-1 for call i), from the
/// words of the masked system prompt, user turn(s), tools and response (as selected in `parts`);
/// placeholders, numbers, one- and two-letter words and common English stop words are left out.
std::vector<std::vector<std::string>> label_terms(const Corpus& corpus, const std::array<bool, part_count>& parts,
                                                  const std::vector<int32_t>& group, size_t groups, size_t top);

/// One object per group: {size, share_calls, share_tokens, share_cost, output_kind, output_kinds,
/// mean_prompt_tokens, mean_completion_tokens, mean_latency_ms, templates: [{template, calls}]}.
std::vector<json> describe_groups(const Corpus& corpus, const std::vector<CallFacts>& facts,
                                  const std::vector<int32_t>& group, size_t groups, bool show_text);

}  // namespace slmify
