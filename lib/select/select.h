// The select stage: select_run() is what `slmify select` and `slmify run` both call. It reads the
// cluster dataset (clusters.json and the annotated calls), checks every catalog model against the
// constraints, scores the ones that fit (published scores weighted by the task's kind, and the
// probe on the cluster's own calls where a model is local), and writes plan.yaml into an artifact
// directory. Behaviour: docs/select.md. Tested by tests/select/test_select.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "core/stage.h"

namespace slmify {

/// Runs select with the effective config; returns the plan as JSON plus the stage's figures.
json select_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

/// Why each candidate of `cluster` was or was not chosen, from the plan.yaml in `select_dir`.
std::string select_explain(const std::filesystem::path& select_dir, int64_t cluster);

}  // namespace slmify
