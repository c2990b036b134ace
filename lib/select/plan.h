// select's output, plan.yaml: per cluster the decision (finetune or llm) and why, the ranked
// candidates with scores, probe results and reasons, and the suggested fine-tuning settings.
// finetune reads it. Written with yaml-cpp's emitter, read back by plan_from_yaml (round trip
// tested by tests/select/test_select.cpp). Reference: docs/select.md ("plan.yaml").
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace slmify {

struct PlanProbe {
  bool ran = false;
  double loss_per_token = 0;  ///< mean NLL (nats) of the LLM's answer tokens, zero-shot
  int64_t tokens = 0;         ///< answer tokens scored
  int64_t calls = 0;          ///< calls scored
  std::string skipped;        ///< why it did not run ("" when it ran)
};

struct PlanCandidate {
  std::string model;  ///< catalog id (or local:NAME)
  std::string path;   ///< local model directory, "" when it would have to be downloaded
  double score = 0;   ///< what ranks the candidates (docs/select.md)
  double prior = 0;   ///< from published scores weighted by the cluster's kind
  PlanProbe probe;
  bool fits = false;  ///< passes every constraint
  std::vector<std::string> failed;   ///< constraints it fails: params, serve_memory, train_memory, license, context, trainable
  std::vector<std::string> reasons;  ///< in words: the constraints (failed ones first) and the score
  double params_b = 0, serve_gb = 0, train_gb = 0;
  std::string license, architecture;
  bool trainable = false;
};

struct PlanFinetune {
  std::string method = "lora";
  int64_t lora_rank = 16;
  double lora_alpha = 32;
  int64_t max_length = 1024;
};

struct PlanCluster {
  int64_t id = 0;
  std::string label;
  std::string kind;           ///< tool_call, json, code, text
  int64_t calls = 0, eval_calls = 0;
  int64_t longest_tokens = 0;      ///< the cluster's longest call (prompt + answer), estimated tokens
  int64_t required_context = 0;    ///< longest_tokens x context_headroom
  std::string decision;  ///< finetune or llm
  std::string reason;
  std::string chosen_model, chosen_path;
  std::vector<PlanCandidate> candidates;  ///< the kept candidates (select.candidates), best first
  std::vector<PlanCandidate> others;      ///< every other catalog model: fitting but not kept, then not fitting
  std::optional<PlanFinetune> finetune;   ///< for decision finetune
};

struct Plan {
  int64_t version = 1;
  std::string clusters;                ///< the cluster dataset it was made from
  std::vector<std::string> warnings;   ///< local directories disagreeing with the catalog, ...
  std::vector<PlanCluster> clusters_list;
};

std::string plan_to_yaml(const Plan& p);
/// Reads plan.yaml; bad_data Error naming `source` and the field when it is not a version-1 plan.
Plan plan_from_yaml(const std::string& text, const std::string& source);
nlohmann::json plan_to_json(const Plan& p);
/// Why each candidate of `cluster` was or was not chosen, as text; usage Error for an id not in the plan.
std::string plan_explain(const Plan& p, int64_t cluster);

}  // namespace slmify
