// The collect stage: collect_run() is what `slmify collect` and `slmify run` both call.
#pragma once

#include "core/stage.h"

namespace slmify {

/// Runs collect with the effective config; returns the stage summary (accounting and figures).
json collect_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

}  // namespace slmify
