// The scrub stage is not implemented in this version; it reports so with ExitCode::unavailable.
#include "scrub/scrub.h"

namespace slmify {

json scrub_run(const PipelineConfig&, const StageIO&, const Context&) { stage_unavailable("scrub", "the scrub stage"); }

}  // namespace slmify
