// `slmify run`: the plan of stages in a work directory and why each would run or be skipped.
// Tested by tests/core/test_pipeline.cpp and tests/cli/test_cli.cpp (run --dry-run).
#pragma once

#include <string>
#include <vector>

#include "core/stage.h"

namespace slmify {

struct PlannedStage {
  std::string stage;
  StageIO io;
  bool available = false;  ///< built into this version
  bool up_to_date = false; ///< output manifest matches inputs, config and version
  std::string reason;      ///< why it runs or is skipped
};

/// The stages of `config.stages` with their inputs and outputs under `config.workdir`.
std::vector<PlannedStage> pipeline_plan(const PipelineConfig& config);
json pipeline_plan_json(const std::vector<PlannedStage>& plan);
/// Runs the pipeline. Not built yet: validates, then reports ExitCode::unavailable.
json pipeline_run(const PipelineConfig& config, const Context& ctx);

/// Whether a stage is built into this version.
bool stage_available(const std::string& stage);

}  // namespace slmify
