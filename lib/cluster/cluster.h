// The cluster stage: cluster_run() is what `slmify cluster` and `slmify run` both call;
// cluster_assign() is `slmify cluster --assign CLUSTERS_DIR`, which retrain and routing use to put
// new calls into existing clusters. Behaviour: docs/cluster.md.
#pragma once

#include <string>

#include "core/stage.h"

namespace slmify {

/// Runs cluster with the effective config; returns the stage summary (accounting and figures).
json cluster_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

/// Assigns the calls of io.inputs[0] to the clusters that `slmify cluster` wrote to
/// `clusters_dir` (its embedding model and centroid index); a call farther from its nearest
/// centroid than that cluster's calibrated distance is an outlier (id -1). Writes the dataset with
/// ann.cluster and ann.split, and assignment.json (shares against the clusters', outliers).
json cluster_assign(const PipelineConfig& config, const StageIO& io, const std::string& clusters_dir, const Context& ctx);

/// The checks both share: one input, an output, an embedding this version has.
void cluster_check_inputs(const PipelineConfig& config, const StageIO& io, const std::string& command);

}  // namespace slmify
