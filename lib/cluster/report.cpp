// The self-contained HTML report of the cluster stage; see report.h.
// Tested by tests/cluster/test_cluster.cpp.
#include "cluster/report.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace slmify {

namespace {

std::string esc(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      default: o += c;
    }
  }
  return o;
}

std::string colour(int32_t id) {
  static const char* palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                                  "#17becf", "#bcbd22", "#393b79", "#ad494a", "#637939", "#7b4173", "#3182bd"};
  return id < 0 ? "#b0b0b0" : palette[static_cast<size_t>(id) % (sizeof palette / sizeof palette[0])];
}

std::string num(double v, int digits = 3) {
  char b[64];
  std::snprintf(b, sizeof b, "%.*g", digits, v);
  return b;
}

std::string pct(const json& v) { return v.is_number() ? num(100.0 * v.get<double>(), 3) + "%" : "-"; }

}  // namespace

std::vector<float> project_2d(const float* x, size_t n, int d, const std::vector<float>& centroids, int k,
                              const std::vector<size_t>& sizes) {
  Eigen::Map<const Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>> c(centroids.data(), k, d);
  Eigen::VectorXd w(k);
  double total = 0;
  for (int i = 0; i < k; ++i) total += static_cast<double>(sizes[static_cast<size_t>(i)]);
  for (int i = 0; i < k; ++i) w(i) = total > 0 ? static_cast<double>(sizes[static_cast<size_t>(i)]) / total : 1.0 / k;
  Eigen::MatrixXd cd = c.cast<double>();
  Eigen::RowVectorXd mean = w.transpose() * cd;
  Eigen::MatrixXd centred = cd.rowwise() - mean;
  Eigen::MatrixXd cov = centred.transpose() * w.asDiagonal() * centred;  // [d x d]
  Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd> eig(cov);
  Eigen::MatrixXd axes = Eigen::MatrixXd::Zero(d, 2);
  for (int j = 0; j < 2 && d - 1 - j >= 0; ++j) axes.col(j) = eig.eigenvectors().col(d - 1 - j);  // largest first
  std::vector<float> xy(n * 2);
  for (size_t i = 0; i < n; ++i) {
    Eigen::Map<const Eigen::VectorXf> v(x + i * static_cast<size_t>(d), d);
    Eigen::RowVectorXd p = (v.cast<double>().transpose() - mean) * axes;
    xy[2 * i] = static_cast<float>(p(0));
    xy[2 * i + 1] = static_cast<float>(p(1));
  }
  return xy;
}

std::string report_html(const json& clusters, const std::vector<float>& xy, const std::vector<int32_t>& ids, uint64_t seed) {
  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>slmify clusters</title>\n"
       "<style>body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}"
       "td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}th{background:#f4f4f4}"
       "pre{white-space:pre-wrap;margin:0;font-size:12px;max-width:40em}.sw{display:inline-block;width:12px;height:12px;"
       "border-radius:6px;margin-right:4px}</style></head><body>\n";
  h << "<h1>slmify clusters</h1>\n<p>" << clusters.value("calls", 0) << " calls, k = " << clusters.value("k", 0) << ", "
    << clusters.value("clusters_kept", 0) << " clusters of at least " << clusters.value("min_cluster_size", 0)
    << " calls; smaller ones form the group <b>other</b> (id -1), which stays on the LLM.</p>\n";
  // The projection: a seeded sample of points, coloured by cluster.
  const size_t n = ids.size();
  std::vector<size_t> pick;
  uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    if (n <= kReportPoints || (s >> 11) % n < kReportPoints) pick.push_back(i);
  }
  float lo_x = 0, hi_x = 0, lo_y = 0, hi_y = 0;
  for (size_t j = 0; j < pick.size(); ++j) {
    float px = xy[2 * pick[j]], py = xy[2 * pick[j] + 1];
    if (j == 0) lo_x = hi_x = px, lo_y = hi_y = py;
    lo_x = std::min(lo_x, px), hi_x = std::max(hi_x, px), lo_y = std::min(lo_y, py), hi_y = std::max(hi_y, py);
  }
  const double W = 760, H = 520, pad = 12;
  auto sx = [&](float v) { return pad + (hi_x > lo_x ? (v - lo_x) / (hi_x - lo_x) : 0.5) * (W - 2 * pad); };
  auto sy = [&](float v) { return H - pad - (hi_y > lo_y ? (v - lo_y) / (hi_y - lo_y) : 0.5) * (H - 2 * pad); };
  h << "<h2>Calls in two dimensions</h2>\n<p>" << pick.size() << " of " << n
    << " calls, projected on the two principal axes of the cluster centroids.</p>\n<svg xmlns=\"http://www.w3.org/2000/svg\" width=\""
    << W << "\" height=\"" << H << "\" style=\"border:1px solid #ddd\">\n";
  for (size_t i : pick)
    h << "<circle cx=\"" << num(sx(xy[2 * i]), 5) << "\" cy=\"" << num(sy(xy[2 * i + 1]), 5) << "\" r=\"2.2\" fill=\""
      << colour(ids[i]) << "\" fill-opacity=\"0.6\"><title>cluster " << ids[i] << "</title></circle>\n";
  h << "</svg>\n";
  const json& choice = clusters.value("k_choice", json::object());
  if (choice.value("mode", "") == "auto" && !choice.value("curve", json::array()).empty()) {
    h << "<h2>Choice of k</h2>\n<p>" << esc(choice.value("criterion", "")) << "</p>\n<table><tr><th>k</th><th>silhouette</th></tr>\n";
    for (const json& pnt : choice["curve"])
      h << "<tr><td>" << pnt.value("k", 0) << (pnt.value("k", 0) == choice.value("k", -1) ? " (chosen)" : "") << "</td><td>"
        << num(pnt.value("silhouette", 0.0)) << "</td></tr>\n";
    h << "</table>\n";
  }
  h << "<h2>Clusters</h2>\n<table><tr><th>id</th><th>label</th><th>calls</th><th>share of calls / tokens / cost</th>"
       "<th>output</th><th>mean prompt / response tokens</th><th>mean latency</th><th>eval calls</th>"
       "<th>main template (user turn)</th><th>closest to the centre</th></tr>\n";
  for (const json& c : clusters.value("clusters", json::array())) {
    int32_t id = c.value("id", -1);
    h << "<tr><td><span class=\"sw\" style=\"background:" << colour(id) << "\"></span>" << id << "</td><td>"
      << esc(c.value("label", "")) << "</td><td>" << c.value("size", 0) << "</td><td>" << pct(c["share_calls"]) << " / "
      << pct(c["share_tokens"]) << " / " << pct(c["share_cost"]) << "</td><td>" << esc(c.value("output_kind", ""))
      << "</td><td>" << num(c.value("mean_prompt_tokens", 0.0)) << " / " << num(c.value("mean_completion_tokens", 0.0))
      << "</td><td>" << (c["mean_latency_ms"].is_number() ? num(c["mean_latency_ms"].get<double>()) + " ms" : "-")
      << "</td><td>" << c.value("eval_calls", 0) << "</td><td><pre>";
    const json& t = c.value("templates", json::array());
    if (!t.empty() && t[0].contains("template")) h << esc(t[0]["template"].get<std::string>());
    h << "</pre></td><td>";
    for (const json& r : c.value("representatives", json::array()))
      h << "<pre>" << esc(r.value("excerpt", r.value("id", ""))) << "</pre>";
    h << "</td></tr>\n";
  }
  h << "</table>\n</body></html>\n";
  return h.str();
}

}  // namespace slmify
