// The scrub stage: scrub_run() is what `slmify scrub` and `slmify run` both call.
#pragma once

#include "core/stage.h"

namespace slmify {

/// Runs scrub with the effective config; returns the stage summary (accounting and figures).
json scrub_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

}  // namespace slmify
