// The eval stage is not implemented in this version; it reports so with ExitCode::unavailable.
#include "eval/eval.h"

namespace slmify {

json eval_run(const PipelineConfig&, const StageIO&, const Context&) { stage_unavailable("eval", "the eval stage"); }

}  // namespace slmify
