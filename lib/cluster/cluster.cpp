// The cluster stage is not implemented in this version; it reports so with ExitCode::unavailable.
#include "cluster/cluster.h"

namespace slmify {

json cluster_run(const PipelineConfig&, const StageIO&, const Context&) { stage_unavailable("cluster", "the cluster stage"); }

}  // namespace slmify
