// The router eval writes next to its report (eval/router/): per cluster the decision (an adapter
// or the LLM), the centroids and embedding to place a request among the clusters from the request
// alone, and per centroid the distance beyond which a request stays on the LLM.
// RouterTable::decide() is the one rule both eval's prediction and `slmify route` apply.
// Format and serving-layer use: docs/eval.md. Tested by tests/eval/test_eval.cpp.
#pragma once

#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "cluster/cluster.h"
#include "core/record.h"

namespace slmify {

inline constexpr const char* kRouterFormat = "slmify-router";
inline constexpr int kRouterVersion = 1;

/// What happens to one request.
struct RouteDecision {
  std::string route = "llm";  ///< "slm" or "llm"
  int32_t cluster = -1;       ///< the cluster the request was placed in (-1: `other`, or an outlier)
  int32_t nearest = -1;       ///< the cluster of the nearest centroid
  double dist = 0;            ///< cosine distance to that centroid
  double outlier_dist = 0;    ///< that centroid's outlier distance
  std::string model;          ///< name to serve it under: the adapter's name (route slm)
  std::string adapter_dir;    ///< the adapter (or full checkpoint) directory (route slm)
  std::string method;         ///< lora or full (route slm)
  std::string reason;         ///< why, in words
};
json route_decision_to_json(const RouteDecision& d);

/// router.json's decision table: per cluster id its entry ({"route", "adapter", "reason", ...}).
struct RouterTable {
  std::map<int32_t, json> clusters;
  static RouterTable from_json(const json& router_doc, const std::string& where);
  RouteDecision decide(const ClusterAssignment& a) const;
};

/// A router directory loaded for routing: files checked against router.json, the request-only
/// outlier distances in place.
class Router {
 public:
  static Router load(const std::filesystem::path& dir);
  /// Routes OpenAI chat request bodies ({"model", "messages", "tools", ...}); a dataset record is
  /// routed by its request alone.
  std::vector<RouteDecision> route(const std::vector<json>& requests);
  const json& doc() const { return doc_; }

 private:
  Router(ClusterAssigner a, json doc, RouterTable t) : assigner_(std::move(a)), doc_(std::move(doc)), table_(std::move(t)) {}
  ClusterAssigner assigner_;
  json doc_;
  RouterTable table_;
};

/// A request as a record the assigner embeds from its request alone: {"id", "request"}.
json router_request_record(const json& request_or_record, const std::string& id);

}  // namespace slmify
