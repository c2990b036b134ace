// report.html: one self-contained page (inline SVG and CSS, no script, no network) with a 2-D
// projection of the calls coloured by cluster, the k: auto curve, and the cluster table.
// Tested by tests/cluster/test_cluster.cpp (its structure, and every cluster label in it).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/record.h"

namespace slmify {

/// 2-D coordinates [n x 2] of n points of dimension d: projections on the two principal axes of
/// the centroids weighted by cluster size (the plane that spreads the clusters most).
std::vector<float> project_2d(const float* x, size_t n, int d, const std::vector<float>& centroids, int k,
                              const std::vector<size_t>& sizes);

/// The page for the clusters.json document `clusters`; `xy` and `ids` are the coordinates and
/// cluster ids of the calls (at most kReportPoints of them, chosen with `seed`, are drawn).
std::string report_html(const json& clusters, const std::vector<float>& xy, const std::vector<int32_t>& ids, uint64_t seed);

constexpr size_t kReportPoints = 5000;

}  // namespace slmify
