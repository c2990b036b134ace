// The finetune stage (LoRA or full fine-tuning with libtorch) and `slmify merge`. finetune_run()
// is what `slmify finetune` and `slmify run` both call. Without libtorch both report
// ExitCode::unavailable. Behaviour: docs/finetune.md.
#pragma once

#include <string>
#include <vector>

#include "core/stage.h"

namespace slmify {

json finetune_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);
/// The optional pretrain stage: a `model init` model pre-trained on the cluster dataset's
/// training split (`slmify pretrain` and `slmify run`); output is a Hugging Face model directory.
json pretrain_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

/// Writes base + adapter as a merged Hugging Face checkpoint to `out` (atomically): weights in
/// `dtype` (auto: the base's stored dtype), config and tokenizer files copied from the base.
json merge_run(const std::string& base, const std::string& adapter, const std::string& out, const std::string& dtype);

/// Smoke test of the autograd path: gradient of sum(w * x)^2 with respect to w, by libtorch.
std::vector<double> train_autograd_smoke(const std::vector<double>& w, const std::vector<double>& x);

}  // namespace slmify
