// `slmify retrain PIPELINE`: one cycle of step six. Collect what is new since the last cycle,
// scrub it, place it in the existing clusters and measure drift, fine-tune again the clusters with
// enough new calls, evaluate new and serving adapters on the same held-out calls (held out for
// ever), promote per cluster only what beats the serving adapter by the margin, and register the
// result (adapters + refreshed router) in the version registry. Every step's output is committed
// atomically under WORK/retrain/cycle-NNNN, so a killed cycle resumes where it stopped.
// Behaviour and exit codes: docs/retrain.md. Tested by tests/retrain/test_retrain.cpp.
#pragma once

#include <functional>
#include <map>
#include <string>

#include "core/stage.h"

namespace slmify {

using RetrainStageFn = std::function<json(const PipelineConfig&, const StageIO&, const Context&)>;

struct RetrainOptions {
  std::string command = "slmify retrain";
  double lock_wait_s = 0;
  std::string who;  ///< recorded in the registry log (empty: from the environment)
  /// The stages a cycle uses; the CLI passes the real ones (tests may pass their own).
  RetrainStageFn collect, scrub, cluster, select, finetune, eval;
};

/// Runs one cycle. Returns the cycle report (also written to WORK/retrain/cycle-NNNN/report.json)
/// whose "outcome" is "promoted", "kept" or "nothing_new"; the CLI maps them to exit codes 0, 7, 5.
json retrain_run(const PipelineConfig& config, const Context& ctx, const RetrainOptions& options);

}  // namespace slmify
