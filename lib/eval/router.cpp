// Loading a router directory and the routing rule; see router.h. Tested by tests/eval/test_eval.cpp.
#include "eval/router.h"

#include <cmath>
#include <cstdio>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"

namespace slmify {

namespace fs = std::filesystem;

namespace {

const char* kRerunEval = "run `slmify eval` again to write the router anew";

std::string fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

}  // namespace

json route_decision_to_json(const RouteDecision& d) {
  json j = {{"route", d.route}, {"cluster", d.cluster}, {"nearest", d.nearest},
            {"dist", std::round(d.dist * 1e4) / 1e4}, {"outlier_dist", d.outlier_dist}, {"reason", d.reason}};
  if (d.route == "slm") j["model"] = d.model, j["adapter_dir"] = d.adapter_dir, j["method"] = d.method;
  return j;
}

RouterTable RouterTable::from_json(const json& doc, const std::string& where) {
  if (!doc.is_object() || doc.value("format", "") != kRouterFormat)
    throw_bad_data(where, "is not a router.json (format " + std::string(kRouterFormat) + ")", kRerunEval);
  if (doc.value("version", 0) > kRouterVersion)
    throw_bad_data(where, "router format version " + doc["version"].dump() + " is newer than this slmify reads", "upgrade slmify");
  RouterTable t;
  for (const json& c : doc.value("clusters", json::array())) {
    if (!c.is_object() || !c.contains("id") || !c["id"].is_number_integer() || !c.contains("route"))
      throw_bad_data(where, "a cluster entry lacks id or route: " + c.dump().substr(0, 200), kRerunEval);
    t.clusters[c["id"].get<int32_t>()] = c;
  }
  return t;
}

RouteDecision RouterTable::decide(const ClusterAssignment& a) const {
  RouteDecision d;
  d.cluster = a.id;
  d.nearest = a.nearest;
  d.dist = a.dist;
  d.outlier_dist = 0;
  auto it = clusters.find(a.nearest);
  if (a.nearest < 0 || it == clusters.end()) {
    d.reason = "nearest to the small clusters of `other`, which stay on the LLM";
    return d;
  }
  const json& c = it->second;
  d.outlier_dist = c.value("outlier_dist", 0.0);
  const std::string name = "cluster " + std::to_string(a.nearest);
  if (a.outlier) {
    d.reason = "outlier: distance " + fixed(a.dist, 3) + " to " + name + " is beyond its outlier distance " + fixed(d.outlier_dist, 3);
    return d;
  }
  if (c.value("route", "llm") != "slm") {
    d.reason = name + " stays on the LLM: " + c.value("reason", std::string("no decision"));
    return d;
  }
  d.route = "slm";
  d.model = c.value("adapter", std::string());
  d.adapter_dir = c.value("adapter_dir", std::string());
  d.method = c.value("method", std::string("lora"));
  d.reason = name + " (distance " + fixed(a.dist, 3) + " <= " + fixed(d.outlier_dist, 3) + ") is replaceable: " + c.value("reason", std::string());
  return d;
}

json router_request_record(const json& in, const std::string& id) {
  const bool record = in.is_object() && in.contains("request") && in["request"].is_object();
  json req = record ? in["request"] : in;
  // Content given as parts ([{"type": "text", "text": ...}]) counts by its text, as collect stores it.
  if (req.is_object() && req.contains("messages") && req["messages"].is_array())
    for (json& m : req["messages"])
      if (m.is_object() && m.contains("content") && m["content"].is_array()) {
        std::string text;
        for (const json& part : m["content"])
          if (part.is_object() && part.value("type", "") == "text" && part.contains("text") && part["text"].is_string())
            text += (text.empty() ? "" : "\n") + part["text"].get<std::string>();
        m["content"] = text;
      }
  return {{"id", record ? in.value("id", id) : id}, {"request", req}};
}

Router Router::load(const fs::path& dir) {
  const fs::path file = dir / "router.json";
  std::error_code ec;
  if (!fs::exists(file, ec))
    throw_io("--router " + dir.string(), "has no router.json", "give the router/ directory inside the output of `slmify eval`");
  json doc = json::parse(read_file(file), nullptr, false);
  if (doc.is_discarded()) throw_bad_data(file.string(), "is not valid JSON", kRerunEval);
  RouterTable table = RouterTable::from_json(doc, file.string());
  const json files = doc.value("files", json::object());
  for (const auto& [name, sha] : files.items()) {
    fs::path p = dir / name;
    if (!fs::exists(p, ec)) throw_bad_data(p.string(), "is missing from the router directory", kRerunEval);
    if (sha256_file(p) != sha.get<std::string>())
      throw_bad_data(p.string(), "does not match the sha256 recorded in router.json (it was changed after eval)", kRerunEval);
  }
  ClusterAssigner assigner = ClusterAssigner::load(dir, false, "--router " + dir.string());
  std::vector<double>& limit = assigner.row_outlier_dist();
  const json rows = doc.value("centroids", json::array());
  if (rows.size() != limit.size())
    throw_bad_data(file.string(), "lists " + std::to_string(rows.size()) + " centroids but centroids.faiss has " + std::to_string(limit.size()), kRerunEval);
  for (size_t r = 0; r < rows.size(); ++r) limit[r] = rows[r].value("outlier_dist", limit[r]);
  return Router(std::move(assigner), std::move(doc), std::move(table));
}

std::vector<RouteDecision> Router::route(const std::vector<json>& requests) {
  std::vector<json> records;
  records.reserve(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) records.push_back(router_request_record(requests[i], "request-" + std::to_string(i)));
  std::vector<ClusterAssignment> placed = assigner_.assign(records);
  std::vector<RouteDecision> out;
  out.reserve(placed.size());
  for (const ClusterAssignment& a : placed) out.push_back(table_.decide(a));
  return out;
}

}  // namespace slmify
