// The select stage: select_run() is what `slmify select` and `slmify run` both call.
#pragma once

#include "core/stage.h"

namespace slmify {

/// Runs select with the effective config; returns the stage summary (accounting and figures).
json select_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

}  // namespace slmify
