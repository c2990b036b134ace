// plan.yaml: emitted with yaml-cpp, read back, as JSON, and explained in words (see plan.h).
#include "select/plan.h"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "core/error.h"

namespace slmify {

using json = nlohmann::json;

namespace {

double round4(double v) { return std::round(v * 1e4) / 1e4; }

void emit_candidate(YAML::Emitter& out, const PlanCandidate& c) {
  out << YAML::BeginMap;
  out << YAML::Key << "model" << YAML::Value << c.model;
  out << YAML::Key << "path" << YAML::Value << c.path;
  out << YAML::Key << "score" << YAML::Value << round4(c.score);
  out << YAML::Key << "prior" << YAML::Value << round4(c.prior);
  out << YAML::Key << "probe" << YAML::Value << YAML::Flow << YAML::BeginMap;
  out << YAML::Key << "loss_per_token";
  if (c.probe.ran) out << YAML::Value << round4(c.probe.loss_per_token);
  else out << YAML::Value << YAML::Null;
  out << YAML::Key << "tokens" << YAML::Value << c.probe.tokens;
  out << YAML::Key << "calls" << YAML::Value << c.probe.calls;
  if (!c.probe.skipped.empty()) out << YAML::Key << "skipped" << YAML::Value << c.probe.skipped;
  out << YAML::EndMap;
  out << YAML::Key << "fits" << YAML::Value << c.fits;
  out << YAML::Key << "failed" << YAML::Value << YAML::Flow << YAML::BeginSeq;
  for (const std::string& f : c.failed) out << f;
  out << YAML::EndSeq;
  out << YAML::Key << "reasons" << YAML::Value << YAML::BeginSeq;
  for (const std::string& r : c.reasons) out << r;
  out << YAML::EndSeq;
  out << YAML::Key << "params_b" << YAML::Value << c.params_b;
  out << YAML::Key << "serve_gb" << YAML::Value << round4(c.serve_gb);
  out << YAML::Key << "train_gb" << YAML::Value << round4(c.train_gb);
  out << YAML::Key << "license" << YAML::Value << c.license;
  out << YAML::Key << "architecture" << YAML::Value << c.architecture;
  out << YAML::Key << "trainable" << YAML::Value << c.trainable;
  out << YAML::EndMap;
}

class Reader {
 public:
  Reader(std::string source) : source_(std::move(source)) {}
  [[noreturn]] void bad(const YAML::Node& n, const std::string& path, const std::string& what) const {
    YAML::Mark m = n.Mark();
    std::string at = m.line < 0 ? source_ : source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
    throw_bad_data(at + " " + path, what, "plan.yaml is written by `slmify select`; run select again instead of editing it");
  }
  const YAML::Node need(const YAML::Node& n, const char* key, const std::string& path) const {
    if (!n.IsMap() || !n[key]) bad(n, path, std::string("has no ") + key);
    return n[key];
  }
  template <class T>
  T get(const YAML::Node& n, const char* key, const std::string& path) const {
    YAML::Node v = need(n, key, path);
    try {
      return v.as<T>();
    } catch (const YAML::Exception&) {
      bad(v, path + "." + key, "has the wrong type");
    }
  }
  template <class T>
  T opt(const YAML::Node& n, const char* key, T dflt) const {
    if (!n.IsMap() || !n[key] || n[key].IsNull()) return dflt;
    try {
      return n[key].as<T>();
    } catch (const YAML::Exception&) {
      bad(n[key], key, "has the wrong type");
    }
  }
  PlanCandidate candidate(const YAML::Node& n, const std::string& path) const {
    PlanCandidate c;
    c.model = get<std::string>(n, "model", path);
    c.path = opt<std::string>(n, "path", "");
    c.score = get<double>(n, "score", path);
    c.prior = get<double>(n, "prior", path);
    YAML::Node pr = need(n, "probe", path);
    c.probe.ran = pr["loss_per_token"] && !pr["loss_per_token"].IsNull();
    c.probe.loss_per_token = opt<double>(pr, "loss_per_token", 0.0);
    c.probe.tokens = opt<int64_t>(pr, "tokens", 0);
    c.probe.calls = opt<int64_t>(pr, "calls", 0);
    c.probe.skipped = opt<std::string>(pr, "skipped", "");
    c.fits = get<bool>(n, "fits", path);
    if (n["failed"])
      for (const YAML::Node& f : n["failed"]) c.failed.push_back(f.as<std::string>());
    if (n["reasons"])
      for (const YAML::Node& r : n["reasons"]) c.reasons.push_back(r.as<std::string>());
    c.params_b = opt<double>(n, "params_b", 0.0);
    c.serve_gb = opt<double>(n, "serve_gb", 0.0);
    c.train_gb = opt<double>(n, "train_gb", 0.0);
    c.license = opt<std::string>(n, "license", "");
    c.architecture = opt<std::string>(n, "architecture", "");
    c.trainable = opt<bool>(n, "trainable", false);
    return c;
  }

 private:
  std::string source_;
};

json candidate_json(const PlanCandidate& c) {
  json probe = {{"loss_per_token", c.probe.ran ? json(round4(c.probe.loss_per_token)) : json()}, {"tokens", c.probe.tokens}, {"calls", c.probe.calls}};
  if (!c.probe.skipped.empty()) probe["skipped"] = c.probe.skipped;
  return {{"model", c.model}, {"path", c.path}, {"score", round4(c.score)}, {"prior", round4(c.prior)}, {"probe", probe},
          {"fits", c.fits}, {"failed", c.failed}, {"reasons", c.reasons}, {"params_b", c.params_b}, {"serve_gb", round4(c.serve_gb)},
          {"train_gb", round4(c.train_gb)}, {"license", c.license}, {"architecture", c.architecture}, {"trainable", c.trainable}};
}

std::string fixed(double v, int digits) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

void explain_candidate(std::ostringstream& o, const PlanCandidate& c, const std::string& tag) {
  o << "  " << tag << " " << c.model << (c.path.empty() ? "  (not local: would have to be downloaded)" : "  (" + c.path + ")") << "\n";
  o << "      score " << fixed(c.score, 4) << ", prior " << fixed(c.prior, 4);
  if (c.probe.ran) o << ", probe " << fixed(c.probe.loss_per_token, 4) << " nats/token over " << c.probe.tokens << " tokens of " << c.probe.calls << " calls";
  else if (!c.probe.skipped.empty()) o << ", no probe: " << c.probe.skipped;
  o << "\n";
  for (const std::string& r : c.reasons) o << "      - " << r << "\n";
}

}  // namespace

std::string plan_to_yaml(const Plan& p) {
  YAML::Emitter out;
  out.SetDoublePrecision(6);  // significant digits: a tiny model's 0.000158B parameters stay readable
  out << YAML::BeginMap;
  out << YAML::Key << "version" << YAML::Value << p.version;
  out << YAML::Key << "source" << YAML::Value << p.clusters;
  out << YAML::Key << "warnings" << YAML::Value;
  if (p.warnings.empty()) out << YAML::Flow;
  out << YAML::BeginSeq;
  for (const std::string& w : p.warnings) out << w;
  out << YAML::EndSeq;
  out << YAML::Key << "clusters" << YAML::Value << YAML::BeginSeq;
  for (const PlanCluster& c : p.clusters_list) {
    out << YAML::BeginMap;
    out << YAML::Key << "id" << YAML::Value << c.id;
    out << YAML::Key << "label" << YAML::Value << YAML::DoubleQuoted << c.label;
    out << YAML::Key << "kind" << YAML::Value << c.kind;
    out << YAML::Key << "calls" << YAML::Value << c.calls;
    out << YAML::Key << "eval_calls" << YAML::Value << c.eval_calls;
    out << YAML::Key << "longest_tokens" << YAML::Value << c.longest_tokens;
    out << YAML::Key << "required_context" << YAML::Value << c.required_context;
    out << YAML::Key << "decision" << YAML::Value << c.decision;
    out << YAML::Key << "reason" << YAML::Value << YAML::DoubleQuoted << c.reason;
    out << YAML::Key << "chosen" << YAML::Value << YAML::Flow << YAML::BeginMap << YAML::Key << "model" << YAML::Value
        << YAML::DoubleQuoted << c.chosen_model << YAML::Key << "path" << YAML::Value << YAML::DoubleQuoted << c.chosen_path
        << YAML::EndMap;
    out << YAML::Key << "candidates" << YAML::Value << YAML::BeginSeq;
    for (const PlanCandidate& k : c.candidates) emit_candidate(out, k);
    out << YAML::EndSeq;
    out << YAML::Key << "finetune" << YAML::Value;
    if (c.finetune)
      out << YAML::Flow << YAML::BeginMap << YAML::Key << "method" << YAML::Value << c.finetune->method << YAML::Key << "lora_rank"
          << YAML::Value << c.finetune->lora_rank << YAML::Key << "lora_alpha" << YAML::Value << c.finetune->lora_alpha
          << YAML::Key << "max_length" << YAML::Value << c.finetune->max_length << YAML::EndMap;
    else
      out << YAML::Null;
    out << YAML::Key << "others" << YAML::Value << YAML::BeginSeq;
    for (const PlanCandidate& k : c.others) emit_candidate(out, k);
    out << YAML::EndSeq;
    out << YAML::EndMap;
  }
  out << YAML::EndSeq;
  out << YAML::EndMap;
  return "# Written by `slmify select` (docs/select.md). finetune reads `chosen` and `finetune` per cluster.\n" +
         std::string(out.c_str()) + "\n";
}

Plan plan_from_yaml(const std::string& text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& ex) {
    throw_bad_data(source + ":" + std::to_string(ex.mark.line + 1) + ":" + std::to_string(ex.mark.column + 1),
                   "is not valid YAML: " + ex.msg, "run `slmify select` again to rewrite the plan");
  }
  Reader r(source);
  Plan p;
  p.version = r.get<int64_t>(root, "version", "plan");
  if (p.version != 1) r.bad(root["version"], "version", "is " + std::to_string(p.version) + "; this slmify reads plan version 1");
  p.clusters = r.opt<std::string>(root, "source", "");
  if (root["warnings"])
    for (const YAML::Node& w : root["warnings"]) p.warnings.push_back(w.as<std::string>());
  YAML::Node list = r.need(root, "clusters", "plan");
  if (!list.IsSequence()) r.bad(list, "clusters", "must be a list");
  for (size_t i = 0; i < list.size(); ++i) {
    const YAML::Node& n = list[i];
    std::string path = "clusters[" + std::to_string(i) + "]";
    PlanCluster c;
    c.id = r.get<int64_t>(n, "id", path);
    c.label = r.opt<std::string>(n, "label", "");
    c.kind = r.get<std::string>(n, "kind", path);
    c.calls = r.get<int64_t>(n, "calls", path);
    c.eval_calls = r.opt<int64_t>(n, "eval_calls", 0);
    c.longest_tokens = r.opt<int64_t>(n, "longest_tokens", 0);
    c.required_context = r.opt<int64_t>(n, "required_context", 0);
    c.decision = r.get<std::string>(n, "decision", path);
    if (c.decision != "finetune" && c.decision != "llm") r.bad(n["decision"], path + ".decision", "must be finetune or llm (got " + c.decision + ")");
    c.reason = r.opt<std::string>(n, "reason", "");
    YAML::Node ch = r.need(n, "chosen", path);
    c.chosen_model = r.opt<std::string>(ch, "model", "");
    c.chosen_path = r.opt<std::string>(ch, "path", "");
    if (n["candidates"])
      for (size_t k = 0; k < n["candidates"].size(); ++k) c.candidates.push_back(r.candidate(n["candidates"][k], path + ".candidates[" + std::to_string(k) + "]"));
    if (n["others"])
      for (size_t k = 0; k < n["others"].size(); ++k) c.others.push_back(r.candidate(n["others"][k], path + ".others[" + std::to_string(k) + "]"));
    if (n["finetune"] && !n["finetune"].IsNull()) {
      PlanFinetune f;
      f.method = r.get<std::string>(n["finetune"], "method", path + ".finetune");
      f.lora_rank = r.get<int64_t>(n["finetune"], "lora_rank", path + ".finetune");
      f.lora_alpha = r.get<double>(n["finetune"], "lora_alpha", path + ".finetune");
      f.max_length = r.get<int64_t>(n["finetune"], "max_length", path + ".finetune");
      c.finetune = f;
    }
    p.clusters_list.push_back(std::move(c));
  }
  return p;
}

json plan_to_json(const Plan& p) {
  json clusters = json::array();
  for (const PlanCluster& c : p.clusters_list) {
    json cand = json::array(), others = json::array();
    for (const PlanCandidate& k : c.candidates) cand.push_back(candidate_json(k));
    for (const PlanCandidate& k : c.others) others.push_back(candidate_json(k));
    clusters.push_back({{"id", c.id}, {"label", c.label}, {"kind", c.kind}, {"calls", c.calls}, {"eval_calls", c.eval_calls},
                        {"longest_tokens", c.longest_tokens}, {"required_context", c.required_context},
                        {"decision", c.decision}, {"reason", c.reason},
                        {"chosen", {{"model", c.chosen_model}, {"path", c.chosen_path}}}, {"candidates", cand},
                        {"finetune", c.finetune ? json{{"method", c.finetune->method}, {"lora_rank", c.finetune->lora_rank},
                                                       {"lora_alpha", c.finetune->lora_alpha}, {"max_length", c.finetune->max_length}}
                                                 : json()},
                        {"others", others}});
  }
  return {{"version", p.version}, {"source", p.clusters}, {"warnings", p.warnings}, {"clusters", clusters}};
}

std::string plan_explain(const Plan& p, int64_t cluster) {
  const PlanCluster* c = nullptr;
  std::string ids;
  for (const PlanCluster& x : p.clusters_list) {
    ids += (ids.empty() ? "" : ", ") + std::to_string(x.id);
    if (x.id == cluster) c = &x;
  }
  if (!c) throw_usage("--explain " + std::to_string(cluster), "is not a cluster of this plan", "the plan's clusters are " + ids);
  std::ostringstream o;
  o << "cluster " << c->id << " \"" << c->label << "\": " << c->kind << ", " << c->calls << " calls (" << c->eval_calls
    << " held out), longest call about " << c->longest_tokens << " tokens, so a context of at least " << c->required_context << " is required\n";
  o << "decision: " << c->decision << ": " << c->reason << "\n";
  if (!c->chosen_model.empty()) o << "chosen: " << c->chosen_model << (c->chosen_path.empty() ? "" : " (" + c->chosen_path + ")") << "\n";
  if (c->finetune) o << "fine-tuning: " << c->finetune->method << ", rank " << c->finetune->lora_rank << ", alpha " << c->finetune->lora_alpha
                     << ", max_length " << c->finetune->max_length << "\n";
  if (!c->candidates.empty()) o << "\nkept candidates, best first:\n";
  int rank = 1;
  for (const PlanCandidate& k : c->candidates) explain_candidate(o, k, "#" + std::to_string(rank++));
  bool header_fit = false, header_no = false;
  for (const PlanCandidate& k : c->others) {
    if (k.fits && !header_fit) o << "\nfit but not kept (select.candidates keeps " << c->candidates.size() << "):\n", header_fit = true;
    if (!k.fits && !header_no) o << "\nexcluded by a constraint:\n", header_no = true;
    explain_candidate(o, k, k.fits ? "#" + std::to_string(rank++) : "-");
  }
  return o.str();
}

}  // namespace slmify
