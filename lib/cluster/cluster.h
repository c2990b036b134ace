// The cluster stage: cluster_run() is what `slmify cluster` and `slmify run` both call;
// cluster_assign() is `slmify cluster --assign CLUSTERS_DIR`, which retrain and routing use to put
// new calls into existing clusters. Behaviour: docs/cluster.md.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/stage.h"

namespace slmify {

/// Runs cluster with the effective config; returns the stage summary (accounting and figures).
json cluster_run(const PipelineConfig& config, const StageIO& io, const Context& ctx);

/// Assigns the calls of io.inputs[0] to the clusters that `slmify cluster` wrote to
/// `clusters_dir` (its embedding model and centroid index); a call farther from its nearest
/// centroid than that cluster's calibrated distance is an outlier (id -1). Writes the dataset with
/// ann.cluster and ann.split, and assignment.json (shares against the clusters', outliers).
json cluster_assign(const PipelineConfig& config, const StageIO& io, const std::string& clusters_dir, const Context& ctx);

/// Where one call lands among the clusters of a cluster directory.
struct ClusterAssignment {
  int32_t id = -1;       ///< the cluster; -1 when the nearest centroid is `other` or the call is an outlier
  int32_t nearest = -1;  ///< the cluster of the nearest centroid (-1: `other`)
  int32_t row = -1;      ///< that centroid's row in centroids.faiss
  double dist = 0;       ///< cosine distance 1 - cos(call, centroid)
  bool outlier = false;  ///< farther than that row's outlier distance
};

/// The clusters `slmify cluster` wrote, loaded once to place calls one by one or in batches, the
/// way cluster_assign() does (cluster --assign, eval and the router use it). A record without
/// "response" (an OpenAI request body wrapped as {"request": body}) is embedded from its request
/// alone: its answer's parts (response, response shape, tools called) are left out.
class ClusterAssigner {
 public:
  /// Reads DIR/clusters.json, centroids.faiss and embedder.bin (or the embedding model that
  /// clusters.json names). With `verify`, DIR must be a cluster output whose manifest.json
  /// records those files' sha256 (a router directory has none of its own). `where` names DIR in errors.
  static ClusterAssigner load(const std::filesystem::path& dir, bool verify, const std::string& where);
  ClusterAssigner(ClusterAssigner&&) noexcept;
  ClusterAssigner& operator=(ClusterAssigner&&) noexcept;
  ~ClusterAssigner();

  std::vector<ClusterAssignment> assign(const std::vector<json>& records);
  ClusterAssignment assign(const json& record);
  const json& clusters() const;  ///< clusters.json as read
  /// Per centroid row: its cluster id (-1 for `other`) and outlier distance (from clusters.json;
  /// a router sets its own, calibrated on requests alone).
  const std::vector<int32_t>& row_cluster() const;
  std::vector<double>& row_outlier_dist();

 private:
  struct Impl;
  explicit ClusterAssigner(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// The checks both share: one input, an output, an embedding this version has.
void cluster_check_inputs(const PipelineConfig& config, const StageIO& io, const std::string& command);

}  // namespace slmify
