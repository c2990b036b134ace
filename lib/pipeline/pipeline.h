// `slmify run`: the plan of stages in a work directory, why each runs or is skipped (make-like:
// an output is up to date when its manifest records this slmify version, the same config digest
// and the digests its inputs have now), and running it under the work directory's lock.
// Tested by tests/core/test_pipeline.cpp (with stand-in stages) and tests/cli/test_cli.cpp.
#pragma once

#include <functional>
#include <map>
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

/// Which of the pipeline's stages to consider: `from` and `until` are stage names ("" = the ends).
struct StageRange {
  std::string from, until;
};

/// The stages of `config.stages` (limited to `range`) with their inputs and outputs under
/// `config.workdir`. Throws a usage Error when from/until name no stage of the pipeline.
std::vector<PlannedStage> pipeline_plan(const PipelineConfig& config, const StageRange& range = {});
json pipeline_plan_json(const std::vector<PlannedStage>& plan);
/// Inputs and output of one stage under the work directory.
StageIO pipeline_stage_io(const PipelineConfig& config, const std::string& stage);
/// Whether the stage's output is up to date; `reason` says why or why not.
bool pipeline_stage_up_to_date(const PipelineConfig& config, const std::string& stage, std::string& reason);

using StageRunner = std::function<json(const PipelineConfig&, const StageIO&, const Context&)>;

struct RunOptions {
  StageRange range;
  bool force = false;                          ///< run every stage in range even when up to date
  std::map<std::string, StageRunner> runners;  ///< stage name -> its run(); the CLI passes the real ones
  std::string command = "slmify run";          ///< recorded in the lock file
  double lock_wait_s = 0;                      ///< wait this long for another run's lock
};

/// Runs the plan under the work directory's lock: each stage whose output is not up to date (or
/// every stage with force), in order, re-checking each when its turn comes, so that a stage whose
/// inputs an earlier stage just rewrote runs again. A stage that fails stops the run; the outputs
/// of the stages before it stay, and the next run resumes at the first stage that is not up to
/// date. Returns the summary: per stage its action, reason, seconds, figures and reports.
json pipeline_run(const PipelineConfig& config, const Context& ctx, const RunOptions& options);

/// The summary as lines for a terminal: one line per stage, then where the reports are.
std::string pipeline_summary_text(const json& summary);
/// The replaceability table of an eval report.json (per cluster: kind, metric, SLM, base, decision).
std::string eval_table_text(const json& report);

/// Whether a stage is built into this version.
bool stage_available(const std::string& stage);

}  // namespace slmify
