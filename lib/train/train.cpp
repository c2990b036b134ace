// lib/train without libtorch (-DSLMIFY_WITH_TORCH=OFF): finetune and merge report that the
// backend is missing.
#include "core/error.h"
#include "train/train.h"

namespace slmify {

json finetune_run(const PipelineConfig&, const StageIO&, const Context&) {
  throw Error(ExitCode::unavailable, "", "this slmify was built without libtorch, so it cannot fine-tune",
              "rebuild with -DSLMIFY_WITH_TORCH=ON (scripts/bootstrap installs libtorch)");
}

json merge_run(const std::string&, const std::string&, const std::string&, const std::string&) {
  throw Error(ExitCode::unavailable, "", "this slmify was built without libtorch, so it cannot merge adapters",
              "rebuild with -DSLMIFY_WITH_TORCH=ON (scripts/bootstrap installs libtorch)");
}

}  // namespace slmify
