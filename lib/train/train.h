// The finetune stage (LoRA with libtorch). finetune_run() is what `slmify finetune` and
// `slmify run` both call; it is not implemented in this version.
#pragma once

#include <vector>

#include "core/stage.h"

namespace slmify {

json finetune_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

/// Smoke test of the autograd path: gradient of sum(w * x)^2 with respect to w, by libtorch.
std::vector<double> train_autograd_smoke(const std::vector<double>& w, const std::vector<double>& x);

}  // namespace slmify
