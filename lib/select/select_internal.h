// Pieces of the select stage shared by its sources (not used outside lib/select): the clusters as
// select sees them, constraint checks and the prior (score.cpp), the probe (probe.cpp).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "select/catalog.h"
#include "select/plan.h"

namespace slmify {

/// One cluster of the input, with what select needs of its calls.
struct ClusterCalls {
  int64_t id = 0;
  std::string label, kind = "text";
  int64_t calls = 0, eval_calls = 0;
  int64_t longest_tokens = 0;  ///< estimated: logged usage, else about four bytes per token
  std::vector<nlohmann::json> probe_calls;  ///< up to probe_samples eval-split records (request, response)
};

/// Estimated tokens of a call (prompt + answer): usage.prompt_tokens + usage.completion_tokens when
/// logged, else the bytes of the messages, tool definitions, answer and tool-call arguments / 4.
int64_t select_call_tokens(const nlohmann::json& rec);

/// Checks every constraint and computes the prior; the candidate's `fits` and `reasons` say why.
PlanCandidate select_evaluate(const CatalogEntry& e, const SelectConfig& sc, const ClusterCalls& cl);

/// The prior: published scores weighted by what the cluster's kind needs (0..1), and the words
/// saying which scores it used.
double select_prior(const CatalogEntry& e, const std::string& kind, std::string& why);

/// Final scores (probe over prior, a small penalty per doubling of size) and the ranking of the
/// fitting candidates; `fitting` is reordered best first.
void select_rank(std::vector<PlanCandidate>& fitting, const SelectConfig& sc);

/// Runs the probe for each local, trainable candidate that fits some cluster: loads it once and
/// scores the LLM's answers of each cluster's probe calls. Never throws for a model it cannot
/// run: the reason goes into the candidate's probe.skipped.
struct ProbeTarget {
  const ClusterCalls* cluster;
  PlanCandidate* candidate;
};
void select_probe(const SelectConfig& sc, const CatalogEntry& e, std::vector<ProbeTarget>& targets);

}  // namespace slmify
