// Constraints, the prior from published scores, and the ranking of candidates (formulas in
// docs/select.md, "Scoring"). Tested by tests/select/test_select.cpp.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "model/hf_config.h"
#include "select/select_internal.h"

namespace slmify {

using json = nlohmann::json;

namespace {

std::string num(double v, int digits = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  std::string s = buf;
  if (s.find('.') != std::string::npos) {
    s.erase(s.find_last_not_of('0') + 1);
    if (s.back() == '.') s.pop_back();
  }
  return s;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string list(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return "[" + s + "]";
}

// How much each skill counts for each kind of output (weights sum to 1).
const std::map<std::string, std::map<std::string, double>>& kind_weights() {
  static const std::map<std::string, std::map<std::string, double>> w = {
      {"tool_call", {{"tools", 0.5}, {"instruction", 0.3}, {"code", 0.1}, {"knowledge", 0.1}}},
      {"json", {{"instruction", 0.45}, {"tools", 0.2}, {"code", 0.2}, {"knowledge", 0.15}}},
      {"code", {{"code", 0.6}, {"instruction", 0.2}, {"math", 0.1}, {"knowledge", 0.1}}},
      {"text", {{"instruction", 0.4}, {"knowledge", 0.4}, {"math", 0.2}}}};
  return w;
}

std::string params_words(double b) { return num(b, b < 0.01 ? 6 : 3) + "B parameters"; }
std::string gib(double v) { return num(v, v < 1 ? 3 : 1) + " GiB"; }

std::string tokens_words(int64_t t) { return std::to_string(t) + " tokens"; }

}  // namespace

int64_t select_call_tokens(const json& rec) {
  const json& u = rec.contains("usage") && rec["usage"].is_object() ? rec["usage"] : json();
  if (u.is_object() && u.contains("prompt_tokens") && u["prompt_tokens"].is_number_integer())
    return u["prompt_tokens"].get<int64_t>() + (u.contains("completion_tokens") && u["completion_tokens"].is_number_integer()
                                                    ? u["completion_tokens"].get<int64_t>() : 0);
  size_t bytes = 0;
  const json& req = rec.contains("request") ? rec["request"] : json();
  if (req.is_object() && req.contains("messages") && req["messages"].is_array())
    for (const json& m : req["messages"])
      if (m.is_object() && m.contains("content")) bytes += m["content"].is_string() ? m["content"].get_ref<const std::string&>().size() : m["content"].dump().size();
  if (req.is_object() && req.contains("tools") && req["tools"].is_array() && !req["tools"].empty()) bytes += req["tools"].dump().size();
  const json& r = rec.contains("response") ? rec["response"] : json();
  if (r.is_object()) {
    if (r.contains("content") && r["content"].is_string()) bytes += r["content"].get_ref<const std::string&>().size();
    if (r.contains("tool_calls") && r["tool_calls"].is_array())
      for (const json& tc : r["tool_calls"]) bytes += tc.dump().size();
  }
  return static_cast<int64_t>(bytes / 4);
}

double select_prior(const CatalogEntry& e, const std::string& kind, std::string& why) {
  auto wk = kind_weights().find(kind);
  const auto& weights = wk == kind_weights().end() ? kind_weights().at("text") : wk->second;
  std::map<std::string, std::vector<std::pair<std::string, double>>> by_skill;
  for (const auto& [bench, value] : e.scores) by_skill[catalog_benchmarks().at(bench)].push_back({bench, value});
  double prior = 0;
  std::string used;
  for (const auto& [skill, w] : weights) {
    auto it = by_skill.find(skill);
    if (it == by_skill.end()) continue;
    double sum = 0;
    for (const auto& [b, v] : it->second) sum += v, used += (used.empty() ? "" : ", ") + b + " " + num(v, 2);
    prior += w * (sum / static_cast<double>(it->second.size()) / 100.0);
  }
  std::string weights_words;
  for (const auto& [skill, w] : weights) weights_words += (weights_words.empty() ? "" : ", ") + skill + " " + num(w, 2);
  why = used.empty() ? "prior 0: no published score for the skills a " + kind + " task needs (" + weights_words + ")"
                     : "prior " + num(prior, 3) + " for a " + kind + " task (" + weights_words + ") from " + used;
  return prior;
}

PlanCandidate select_evaluate(const CatalogEntry& e, const SelectConfig& sc, const ClusterCalls& cl) {
  PlanCandidate c;
  c.model = e.id;
  c.path = e.path;
  c.params_b = e.params_b;
  c.license = e.license;
  c.architecture = e.architecture;
  c.trainable = e.trainable;
  MemoryNeed mem = catalog_memory(e);
  c.serve_gb = mem.serve_gb;
  c.train_gb = mem.train_gb;
  std::string how = mem.formula == "shape" ? "from params, dtype and shape" : "from params and dtype";
  std::vector<std::string> failed, passed;
  auto check = [&](const char* name, bool ok, const std::string& yes, const std::string& no) {
    (ok ? passed : failed).push_back(ok ? yes : no);
    if (!ok) c.failed.push_back(name);
  };

  check("params", e.params_b > 0 && e.params_b <= sc.max_params_b, params_words(e.params_b) + " <= max_params_b " + num(sc.max_params_b),
        e.params_b > 0 ? params_words(e.params_b) + " > max_params_b " + num(sc.max_params_b) : "parameter count unknown (config.json not understood)");
  check("serve_memory", mem.serve_gb <= sc.serve_memory_gb, "serving needs about " + gib(mem.serve_gb) + " (" + how + ") <= serve_memory_gb " + num(sc.serve_memory_gb),
        "serving needs about " + gib(mem.serve_gb) + " (" + how + ") > serve_memory_gb " + num(sc.serve_memory_gb));
  check("train_memory", mem.train_gb <= sc.train_memory_gb, "LoRA training needs about " + gib(mem.train_gb) + " (" + how + ") <= train_memory_gb " + num(sc.train_memory_gb),
        "LoRA training needs about " + gib(mem.train_gb) + " (" + how + ") > train_memory_gb " + num(sc.train_memory_gb));
  // Licences: an empty allow-list allows everything; "unknown" (a local model's) only when listed.
  bool listed = false;
  for (const std::string& l : sc.licenses) listed = listed || lower(l) == lower(e.license);
  bool lic_ok = sc.licenses.empty() || listed;
  check("license", lic_ok, sc.licenses.empty() ? "licence " + e.license + " (select.licenses is empty: every licence is allowed)"
                                    : "licence " + e.license + " is in select.licenses",
        e.license == "unknown" ? "licence unknown (a local model in no catalog): allowed only when select.licenses lists unknown; "
                                 "or describe the model in a catalog file with its licence"
                               : "licence " + e.license + " is not in select.licenses " + list(sc.licenses));
  int64_t need = cl.longest_tokens > 0 ? static_cast<int64_t>(std::ceil(double(cl.longest_tokens) * sc.context_headroom)) : 0;
  check("context", e.context >= need, "context " + std::to_string(e.context) + " >= required " + std::to_string(need),
        "context " + std::to_string(e.context) + " < required " + std::to_string(need) + " (longest call " +
            tokens_words(cl.longest_tokens) + " x context_headroom " + num(sc.context_headroom) + ")");
  std::string supported;
  for (const std::string& t : model_config_supported()) supported += (supported.empty() ? "" : ", ") + t;
  check("trainable", e.trainable, "slmify can fine-tune " + e.architecture,
        "slmify cannot fine-tune " + (e.architecture.empty() ? std::string("this architecture") : e.architecture) +
            " (its model core runs " + supported + ")");
  c.fits = failed.empty();
  c.reasons = failed;
  c.reasons.insert(c.reasons.end(), passed.begin(), passed.end());
  std::string why;
  c.prior = select_prior(e, cl.kind, why);
  c.score = c.prior;
  c.reasons.push_back(why);
  if (!e.warnings.empty())
    for (const std::string& w : e.warnings) c.reasons.push_back("warning: " + w);
  return c;
}

void select_rank(std::vector<PlanCandidate>& fitting, const SelectConfig& sc) {
  if (fitting.empty()) return;
  double smallest = 1e30;
  for (const PlanCandidate& c : fitting) smallest = std::min(smallest, std::max(c.params_b, 1e-9));
  for (PlanCandidate& c : fitting) {
    double base = c.probe.ran ? 0.8 * std::exp(-c.probe.loss_per_token) + 0.2 * c.prior : c.prior;
    double penalty = 0.02 * std::log2(std::max(c.params_b, 1e-9) / smallest);
    c.score = base - penalty;
    std::string s = "score " + num(c.score, 4) + " = ";
    s += c.probe.ran ? "0.8 x exp(-" + num(c.probe.loss_per_token, 4) + ") + 0.2 x prior " + num(c.prior, 3) : "prior " + num(c.prior, 3);
    if (penalty > 0) s += " - " + num(penalty, 4) + " for size (0.02 per doubling over the smallest fitting candidate)";
    c.reasons.push_back(s);
  }
  std::stable_sort(fitting.begin(), fitting.end(), [&](const PlanCandidate& a, const PlanCandidate& b) {
    bool la = sc.prefer_local && !a.path.empty(), lb = sc.prefer_local && !b.path.empty();
    if (la != lb) return la;
    if (a.probe.ran != b.probe.ran) return a.probe.ran;
    if (a.score != b.score) return a.score > b.score;
    if (a.params_b != b.params_b) return a.params_b < b.params_b;
    return a.model < b.model;
  });
}

}  // namespace slmify
