// The collect stage is not implemented in this version; it reports so with ExitCode::unavailable.
#include "collect/collect.h"

namespace slmify {

json collect_run(const PipelineConfig&, const StageIO&, const Context&) { stage_unavailable("collect", "the collect stage"); }

}  // namespace slmify
