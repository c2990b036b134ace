// The eval stage: eval_run() is what `slmify eval` and `slmify run` both call.
#pragma once

#include "core/stage.h"

namespace slmify {

/// Runs eval with the effective config; returns the stage summary (accounting and figures).
json eval_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

}  // namespace slmify
