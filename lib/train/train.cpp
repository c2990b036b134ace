// The finetune stage is not implemented in this version; it reports so with ExitCode::unavailable.
#include "train/train.h"

namespace slmify {

json finetune_run(const PipelineConfig&, const StageIO&, const Context&) {
  stage_unavailable("finetune", "the finetune stage");
}

}  // namespace slmify
