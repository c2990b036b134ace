// The select stage is not implemented in this version; it reports so with ExitCode::unavailable.
#include "select/select.h"

namespace slmify {

json select_run(const PipelineConfig&, const StageIO&, const Context&) { stage_unavailable("select", "the select stage"); }

}  // namespace slmify
