// The eval stage: for every cluster with an adapter, the fine-tuned small model answers the
// cluster's held-out calls and is scored against the LLM's answers with the metric of the
// cluster's output kind; a cluster whose primary metric reaches its threshold is replaceable.
// Writes report.json, report.html, the router and per-call files. eval_run() is what
// `slmify eval` and `slmify run` both call. Behaviour: docs/eval.md. Tested by tests/eval/.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/stage.h"
#include "eval/metrics.h"

namespace slmify {

/// Runs eval with the effective config: io.inputs = {CLUSTER_DIR, FINETUNE_DIR}, io.output the
/// eval directory. Returns the summary (totals, per-cluster decisions).
json eval_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

/// One model to answer with.
struct EvalModelSpec {
  std::string base;         ///< HF directory of the base model
  std::string adapter_dir;  ///< PEFT LoRA adapter, or a full checkpoint (method full); "" = the base alone
  std::string method;       ///< lora or full
  std::string template_dir; ///< without an adapter: render with the chat template trained into this adapter directory ("" = the base's)
};

struct EvalGeneration {
  std::string text;           ///< decoded, special tokens skipped
  std::string finish_reason;  ///< stop, stop_string, length; "error" when nothing was generated
  std::string error;          ///< why (the template cannot render the request, the prompt is too long)
  int64_t prompt_tokens = 0, new_tokens = 0;
  double seconds = 0;         ///< wall time of the batch it was generated in (its latency when served so)
};

/// What generates answers. eval_run() uses the models of lib/model; tests give their own.
class EvalBackend {
 public:
  virtual ~EvalBackend() = default;
  virtual void load(const EvalModelSpec& spec) = 0;
  /// How the loaded model's chat template writes tool calls.
  virtual ToolCallFormat tool_call_format() const = 0;
  /// Greedy answers to records' requests ({"messages", "tools"}), in order, as one batch, of at
  /// most max_new_tokens tokens each.
  virtual std::vector<EvalGeneration> generate(const std::vector<const json*>& records, int64_t max_new_tokens) = 0;
  virtual std::string device() const = 0;
};

/// The lib/model backend: eval.device, eval.max_new_tokens; the request rendered with the model's
/// chat template (tools included, generation prompt added).
std::unique_ptr<EvalBackend> eval_model_backend(const EvalConfig& config);

/// eval_run() with a given backend.
json eval_run_with(const PipelineConfig& config, const StageIO& io, const Context& ctx, EvalBackend& backend);

}  // namespace slmify
