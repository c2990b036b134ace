// The cluster stage: cluster_run() is what `slmify cluster` and `slmify run` both call.
#pragma once

#include "core/stage.h"

namespace slmify {

/// Runs cluster with the effective config; returns the stage summary (accounting and figures).
json cluster_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

}  // namespace slmify
