// The eval stage's report.html; see report.h. Tested by tests/eval/test_eval.cpp.
#include "eval/report.h"

#include <cmath>
#include <cstdio>

namespace slmify {

namespace {

std::string pct(const json& v) {
  if (!v.is_number()) return "&ndash;";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100 * v.get<double>());
  return buf;
}

std::string num(const json& v, int digits = 3) {
  if (!v.is_number()) return "&ndash;";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v.get<double>());
  return buf;
}

std::string usd(const json& v) {
  if (!v.is_number()) return "&ndash;";
  char buf[32];
  std::snprintf(buf, sizeof buf, "$%.4g", v.get<double>());
  return buf;
}

std::string str(const json& row, const char* key) {
  return row.contains(key) && row[key].is_string() ? html_escape(row[key].get<std::string>()) : std::string("&ndash;");
}

// Three stacked bars (calls, tokens, cost): the share that can move, the rest; then one bar per
// cluster of its share of calls, green where it can move.
std::string chart(const json& report) {
  const json& t = report["totals"];
  const json& rows = report["clusters"];
  const int width = 720, label_w = 230, bar_w = width - label_w - 70, row_h = 22;
  const int height = 3 * row_h + 30 + static_cast<int>(rows.size()) * row_h + 20;
  std::string s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" + std::to_string(width) + "\" height=\"" +
                  std::to_string(height) + "\" role=\"img\" aria-label=\"replaceable share\">";
  auto bar = [&](int y, const std::string& label, double share, const char* colour, bool rest) {
    int w = static_cast<int>(std::round(bar_w * std::max(0.0, std::min(1.0, share))));
    s += "<text x=\"" + std::to_string(label_w - 6) + "\" y=\"" + std::to_string(y + 15) + "\" text-anchor=\"end\">" + label + "</text>";
    if (rest) s += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 3) + "\" width=\"" + std::to_string(bar_w) + "\" height=\"16\" fill=\"#e4e4e4\"/>";
    s += "<rect x=\"" + std::to_string(label_w) + "\" y=\"" + std::to_string(y + 3) + "\" width=\"" + std::to_string(w) + "\" height=\"16\" fill=\"" + colour + "\"/>";
    s += "<text x=\"" + std::to_string(label_w + (rest ? bar_w : w) + 6) + "\" y=\"" + std::to_string(y + 15) + "\">" + pct(json(share)) + "</text>";
  };
  int y = 0;
  bar(y, "calls that can move", t.value("share_calls", 0.0), "#2e8b57", true);
  bar(y += row_h, "tokens that can move", t.value("share_tokens", 0.0), "#2e8b57", true);
  if (t["share_cost"].is_number()) bar(y += row_h, "LLM cost that can move", t["share_cost"].get<double>(), "#2e8b57", true);
  y += row_h + 10;
  s += "<text x=\"0\" y=\"" + std::to_string(y + 14) + "\" font-weight=\"bold\">share of calls per cluster</text>";
  y += 8;
  for (const json& r : rows) {
    const int id = r.value("id", -1);
    std::string label = id < 0 ? "other" : std::to_string(id) + " " + r.value("label", std::string());
    if (label.size() > 34) label = label.substr(0, 31) + "...";
    const char* colour = r.value("replaceable", false) ? "#2e8b57" : id < 0 ? "#9e9e9e" : "#c0504d";
    bar(y += row_h, html_escape(label), r.value("share_calls", 0.0), colour, false);
  }
  return s + "</svg>";
}

std::string score_cell(const json& agg, const std::string& metric) {
  if (!agg.is_object()) return "&ndash;";
  std::string s = num(agg.value(metric, json()));
  if (agg.contains("primary_ci95")) s += " <small>[" + num(agg["primary_ci95"][0], 2) + ", " + num(agg["primary_ci95"][1], 2) + "]</small>";
  return s;
}

std::string table(const json& report) {
  std::string s =
      "<table><tr><th>cluster</th><th>kind</th><th>calls</th><th>tokens</th><th>cost</th><th>held out / evaluated</th>"
      "<th>adapter</th><th>metric (threshold)</th><th>SLM</th><th>base</th><th>routing of held-out calls<br><small>own SLM / other SLM / LLM</small></th>"
      "<th>decision</th></tr>";
  for (const json& r : report["clusters"]) {
    const int id = r.value("id", -1);
    const std::string metric = r.value("primary_metric", std::string());
    const json& rt = r["routing"];
    s += std::string("<tr class=\"") + (r.value("replaceable", false) ? "yes" : "no") + "\"><td>" +
         (id < 0 ? std::string("other") : std::to_string(id) + " " + str(r, "label")) + "</td><td>" + str(r, "output_kind") + "</td><td>" +
         pct(r["share_calls"]) + "</td><td>" + pct(r["share_tokens"]) + "</td><td>" + pct(r.value("share_cost", json())) + "</td><td>" +
         std::to_string(r.value("eval_calls", 0)) + " / " + std::to_string(r.value("evaluated", 0)) + "</td><td>" + str(r, "adapter") +
         "</td><td>" + (metric.empty() ? "&ndash;" : html_escape(metric) + " (" + num(r.value("threshold", json()), 2) + ")") + "</td><td>" +
         score_cell(r.value("slm", json()), metric) + "</td><td>" + score_cell(r.value("base", json()), metric) + "</td><td>" +
         std::to_string(rt.value("to_own_slm", 0)) + " / " + std::to_string(rt.value("to_another_slm", 0)) + " / " +
         std::to_string(rt.value("to_llm", 0)) + "</td><td><b>" + str(r, "decision") + "</b><br><small>" + str(r, "reason") +
         "</small></td></tr>";
  }
  return s + "</table>";
}

std::string examples(const json& report) {
  std::string s;
  for (const json& r : report["clusters"]) {
    if (!r.contains("examples") || r["examples"].empty()) continue;
    const double threshold = r.value("threshold", 0.0);
    const bool base = r["examples"][0].contains("base");
    s += "<h3>cluster " + std::to_string(r.value("id", -1)) + " " + str(r, "label") + "</h3><table class=\"ex\"><tr><th>prompt (last user turn)</th><th>LLM</th><th>SLM</th>" +
         (base ? "<th>base model</th>" : "") + "</tr>";
    for (const json& e : r["examples"]) {
      const double score = e.value("slm_score", 0.0);
      s += std::string("<tr><td><pre>") + str(e, "prompt") + "</pre></td><td><pre>" + str(e, "llm") + "</pre></td><td class=\"" +
           (score >= threshold ? "yes" : "no") + "\"><small>" + (score >= threshold ? "match " : "failure ") + num(e["slm_score"]) +
           "</small><pre>" + str(e, "slm") + "</pre></td>";
      if (base) s += "<td><small>" + num(e.value("base_score", json())) + "</small><pre>" + str(e, "base") + "</pre></td>";
      s += "</tr>";
    }
    s += "</table>";
  }
  return s.empty() ? "<p>No examples (none evaluated, eval.examples is 0, or the data is encrypted at rest).</p>" : s;
}

}  // namespace

std::string html_escape(std::string_view in) {
  std::string out;
  out.reserve(in.size());
  for (char c : in) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string eval_report_html(const json& report) {
  const json& t = report["totals"];
  const json& sv = t["savings"];
  std::string s =
      "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>slmify eval</title><style>"
      "body{font:14px/1.4 sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0}"
      "td,th{border:1px solid #ccc;padding:4px 6px;vertical-align:top;text-align:left}th{background:#f3f3f3}"
      "tr.yes td:first-child{border-left:4px solid #2e8b57}tr.no td:first-child{border-left:4px solid #c0504d}"
      "td.yes small{color:#2e8b57}td.no small{color:#c0504d}pre{white-space:pre-wrap;margin:2px 0;max-width:420px;font-size:12px}"
      "svg text{font:12px sans-serif}</style></head><body>";
  s += "<h1>Which tasks can move to small models?</h1>";
  s += "<p><b>" + pct(t["share_calls"]) + "</b> of calls, <b>" + pct(t["share_tokens"]) + "</b> of tokens and <b>" + pct(t["share_cost"]) +
       "</b> of the logged LLM cost can move to small models: " + std::to_string(t.value("clusters_replaceable", 0)) + " of " +
       std::to_string(t.value("clusters", 0)) + " clusters reach their threshold on held-out calls (" + std::to_string(t.value("calls", 0)) +
       " calls in all).</p>";
  s += "<p>Estimated savings over these calls: " + usd(sv["saved_usd"]) + " (LLM " + usd(sv["llm_cost_usd"]) + " against SLM " +
       usd(sv["slm_cost_usd"]) + " at " + usd(sv["slm_cost_per_mtok"]) + " per million tokens); latency per moved call " +
       num(sv["llm_latency_ms_mean"], 0) + " ms on the LLM against " + num(sv["slm_latency_ms_mean"], 0) + " ms measured for the SLM (" +
       str(sv, "slm_measured_on") + ").</p>";
  const json& rt = t["routing"];
  s += "<p>The router, placing each held-out call by its request alone, sends " + pct(rt["to_slm"]) + " of them to a small model (" +
       pct(rt["to_right_slm"]) + " to their own cluster's, " + pct(rt["to_wrong_slm"]) + " to another's) and finds " + pct(rt["outliers"]) +
       " outliers.</p>";
  s += "<h2>Replaceable share</h2>" + chart(report);
  s += "<h2>Clusters</h2>" + table(report);
  s += "<h2>Examples: LLM and SLM side by side</h2>" + examples(report);
  s += "<p><small>Clusters: " + str(report, "clusters_dir") + "; adapters: " + str(report, "finetune_dir") + "; base model: " +
       str(report, "base") + ". Metrics and decisions: docs/eval.md.</small></p></body></html>\n";
  return s;
}

}  // namespace slmify
