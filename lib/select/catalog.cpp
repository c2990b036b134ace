// Catalog files (YAML, yaml-cpp) into CatalogEntry, with every problem reported at once as
// file:line:col; merging of user catalogs by id; memory estimates. Local directories: local_models.cpp.
#include "select/catalog.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <set>

#include "core/config.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "model/hf_config.h"
#include "select/catalog_data.h"  // generated from catalog.yaml by lib/select/select.cmake

namespace slmify {

namespace {

struct Parsed {
  CatalogEntry e;
  std::set<std::string> given;  ///< keys the file gave for this entry
  std::string where;            ///< "file:line:col" of the entry
};

const std::vector<std::string> kEntryKeys = {"id", "family", "architecture", "params_b", "context", "license", "tokenizer",
                                             "dtype", "shape", "scores", "sources", "notes"};
const std::vector<std::string> kShapeKeys = {"layers", "hidden", "intermediate", "heads", "kv_heads", "head_dim", "vocab"};

std::string nearest(const std::string& key, const std::vector<std::string>& valid) {
  std::string best;
  size_t bd = 1000;
  for (const std::string& v : valid) {
    size_t d = edit_distance(key, v);
    if (d < bd) bd = d, best = v;
  }
  return bd <= 3 ? best : std::string();
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const std::string& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

class Parser {
 public:
  Parser(std::string source) : source_(std::move(source)) {}
  std::vector<Problem> problems;

  std::string at(const YAML::Node& n) const {
    YAML::Mark m = n.Mark();
    if (m.line < 0) return source_;
    return source_ + ":" + std::to_string(m.line + 1) + ":" + std::to_string(m.column + 1);
  }
  void bad(const YAML::Node& n, const std::string& path, const std::string& what, const std::string& hint = {}) {
    problems.push_back({at(n) + " " + path, what, hint});
  }

  std::optional<std::string> str(const YAML::Node& n, const std::string& path) {
    if (!n.IsScalar()) {
      bad(n, path, "must be a string");
      return std::nullopt;
    }
    return n.Scalar();
  }
  std::optional<double> number(const YAML::Node& n, const std::string& path, double lo, double hi) {
    double v = 0;
    if (!n.IsScalar() || !YAML::convert<double>::decode(n, v) || !std::isfinite(v)) {
      bad(n, path, "must be a number (got " + (n.IsScalar() ? "'" + n.Scalar() + "'" : std::string("a list or map")) + ")");
      return std::nullopt;
    }
    if (v < lo || v > hi) {
      bad(n, path, "must be between " + fmt(lo) + " and " + fmt(hi) + " (got " + n.Scalar() + ")");
      return std::nullopt;
    }
    return v;
  }
  std::optional<int64_t> integer(const YAML::Node& n, const std::string& path) {
    int64_t v = 0;
    if (!n.IsScalar() || !YAML::convert<int64_t>::decode(n, v) || v <= 0) {
      bad(n, path, "must be a positive integer (got " + (n.IsScalar() ? "'" + n.Scalar() + "'" : std::string("a list or map")) + ")");
      return std::nullopt;
    }
    return v;
  }
  std::optional<std::string> one_of(const YAML::Node& n, const std::string& path, const std::vector<std::string>& allowed) {
    auto s = str(n, path);
    if (s && std::find(allowed.begin(), allowed.end(), *s) == allowed.end()) {
      bad(n, path, "must be one of " + join(allowed) + " (got '" + *s + "')");
      return std::nullopt;
    }
    return s;
  }

  void entry(const YAML::Node& n, const std::string& path, std::vector<Parsed>& out) {
    if (!n.IsMap()) return bad(n, path, "must be a map with id, architecture, params_b, ...");
    Parsed p;
    p.where = at(n);
    p.e.origin = p.where;
    for (const auto& kv : n) {
      std::string key = kv.first.Scalar();
      const YAML::Node& v = kv.second;
      std::string kp = path + "." + key;
      if (std::find(kEntryKeys.begin(), kEntryKeys.end(), key) == kEntryKeys.end()) {
        std::string near = nearest(key, kEntryKeys);
        bad(kv.first, kp, "is not a catalog key", near.empty() ? "valid keys: " + join(kEntryKeys) : "did you mean " + near + "?");
        continue;
      }
      p.given.insert(key);
      if (key == "id") {
        if (auto s = str(v, kp)) p.e.id = *s;
      } else if (key == "family") {
        if (auto s = str(v, kp)) p.e.family = *s;
      } else if (key == "architecture") {
        if (auto s = str(v, kp)) p.e.architecture = *s;
      } else if (key == "params_b") {
        if (auto x = number(v, kp, 1e-6, 10000)) p.e.params_b = *x;
      } else if (key == "context") {
        if (auto x = integer(v, kp)) p.e.context = *x;
      } else if (key == "license") {
        if (auto s = str(v, kp)) p.e.license = *s;
      } else if (key == "tokenizer") {
        if (auto s = one_of(v, kp, {"bpe", "sentencepiece", "unknown"})) p.e.tokenizer = *s;
      } else if (key == "dtype") {
        if (auto s = one_of(v, kp, {"bf16", "fp16", "fp32"})) p.e.dtype = *s;
      } else if (key == "notes") {
        if (auto s = str(v, kp)) p.e.notes = *s;
      } else if (key == "sources") {
        if (!v.IsSequence()) bad(v, kp, "must be a list of URLs");
        else
          for (size_t i = 0; i < v.size(); ++i)
            if (auto s = str(v[i], kp + "[" + std::to_string(i) + "]")) p.e.sources.push_back(*s);
      } else if (key == "shape") {
        shape(v, kp, p.e);
      } else if (key == "scores") {
        scores(v, kp, p.e);
      }
    }
    if (p.e.id.empty() && !p.given.count("id")) bad(n, path, "has no id", "give the Hugging Face id, e.g. id: Qwen/Qwen2.5-0.5B-Instruct");
    out.push_back(std::move(p));
  }

  void shape(const YAML::Node& v, const std::string& kp, CatalogEntry& e) {
    if (!v.IsMap()) return bad(v, kp, "must be a map: {layers, hidden, intermediate, heads, kv_heads, vocab}");
    ModelShape s;
    int64_t* dst[] = {&s.layers, &s.hidden, &s.intermediate, &s.heads, &s.kv_heads, &s.head_dim, &s.vocab};
    for (const auto& kv : v) {
      std::string k = kv.first.Scalar();
      auto pos = std::find(kShapeKeys.begin(), kShapeKeys.end(), k);
      if (pos == kShapeKeys.end()) {
        std::string near = nearest(k, kShapeKeys);
        bad(kv.first, kp + "." + k, "is not a shape key", near.empty() ? "valid keys: " + join(kShapeKeys) : "did you mean " + near + "?");
        continue;
      }
      if (auto x = integer(kv.second, kp + "." + k)) *dst[pos - kShapeKeys.begin()] = *x;
    }
    if (!s.layers || !s.hidden || !s.intermediate || !s.heads || !s.kv_heads || !s.vocab)
      return bad(v, kp, "needs layers, hidden, intermediate, heads, kv_heads and vocab (head_dim is optional)");
    e.shape = s;
  }

  void scores(const YAML::Node& v, const std::string& kp, CatalogEntry& e) {
    if (!v.IsMap()) return bad(v, kp, "must be a map benchmark: score, e.g. {ifeval: 71.2}");
    std::vector<std::string> names;
    for (const auto& [b, skill] : catalog_benchmarks()) names.push_back(b);
    for (const auto& kv : v) {
      std::string b = kv.first.Scalar();
      if (!catalog_benchmarks().count(b)) {
        std::string near = nearest(b, names);
        bad(kv.first, kp + "." + b, "is not a known benchmark", near.empty() ? "known: " + join(names) : "did you mean " + near + "?");
        continue;
      }
      if (auto x = number(kv.second, kp + "." + b, 0, 100)) e.scores[b] = *x;
    }
  }

  std::vector<Parsed> file(const std::string& text) {
    std::vector<Parsed> out;
    YAML::Node root;
    try {
      root = YAML::Load(text);
    } catch (const YAML::Exception& ex) {
      problems.push_back({source_ + ":" + std::to_string(ex.mark.line + 1) + ":" + std::to_string(ex.mark.column + 1),
                          "is not valid YAML: " + ex.msg, "fix the syntax at that place"});
      return out;
    }
    if (!root.IsMap() || !root["models"]) {
      problems.push_back({source_, "is not a catalog: expected a map with version: 1 and models: [...]", "see docs/select.md (The catalog)"});
      return out;
    }
    for (const auto& kv : root) {
      std::string k = kv.first.Scalar();
      if (k != "version" && k != "models") bad(kv.first, k, "is not a catalog key", "a catalog has version and models");
    }
    if (root["version"]) {
      auto v = integer(root["version"], "version");
      if (v && *v != 1) bad(root["version"], "version", "must be 1 (got " + std::to_string(*v) + ")", "this slmify reads catalog version 1");
    }
    const YAML::Node& models = root["models"];
    if (!models.IsSequence()) {
      bad(models, "models", "must be a list of model entries");
      return out;
    }
    for (size_t i = 0; i < models.size(); ++i) entry(models[i], "models[" + std::to_string(i) + "]", out);
    return out;
  }

 private:
  static std::string fmt(double v) {
    std::string s = std::to_string(v);
    s.erase(s.find_last_not_of('0') + 1);
    if (!s.empty() && s.back() == '.') s.pop_back();
    return s;
  }
  std::string source_;
};

void apply(std::vector<CatalogEntry>& base, std::vector<Parsed>& overlay, std::vector<Problem>& problems) {
  for (Parsed& p : overlay) {
    auto it = std::find_if(base.begin(), base.end(), [&](const CatalogEntry& e) { return e.id == p.e.id; });
    if (it == base.end()) {
      for (const char* k : {"architecture", "params_b", "context", "license"})
        if (!p.given.count(k))
          problems.push_back({p.where + " " + p.e.id, std::string("is a new entry without ") + k,
                              "a new id needs architecture, params_b, context and license (an existing id may give only what it changes)"});
      base.push_back(p.e);
      continue;
    }
    CatalogEntry& e = *it;
    const CatalogEntry& o = p.e;
    auto has = [&](const char* k) { return p.given.count(k) > 0; };
    if (has("family")) e.family = o.family;
    if (has("architecture")) e.architecture = o.architecture;
    if (has("params_b")) e.params_b = o.params_b;
    if (has("context")) e.context = o.context;
    if (has("license")) e.license = o.license;
    if (has("tokenizer")) e.tokenizer = o.tokenizer;
    if (has("dtype")) e.dtype = o.dtype;
    if (has("shape")) e.shape = o.shape;
    if (has("scores")) e.scores = o.scores;
    if (has("sources")) e.sources = o.sources;
    if (has("notes")) e.notes = o.notes;
    e.origin = o.origin;
  }
}

void derive(std::vector<CatalogEntry>& entries) {
  for (CatalogEntry& e : entries) e.trainable = !catalog_model_type(e.architecture).empty();
}

std::vector<Parsed> parse_or_collect(const std::string& text, const std::string& source, std::vector<Problem>& problems) {
  Parser p(source);
  std::vector<Parsed> out = p.file(text);
  problems.insert(problems.end(), p.problems.begin(), p.problems.end());
  std::set<std::string> seen;
  for (const Parsed& e : out)
    if (!e.e.id.empty() && !seen.insert(e.e.id).second)
      problems.push_back({e.where + " " + e.e.id, "appears twice in this file", "keep one entry per id"});
  return out;
}

}  // namespace

const std::map<std::string, std::string>& catalog_benchmarks() {
  static const std::map<std::string, std::string> m = {
      {"ifeval", "instruction"}, {"bfcl_v2", "tools"},     {"bfcl_v3", "tools"},       {"humaneval", "code"},
      {"mbpp", "code"},          {"livecodebench", "code"}, {"gsm8k", "math"},        {"math", "math"},
      {"math500", "math"},       {"mmlu", "knowledge"},     {"mmlu_redux", "knowledge"}, {"mmlu_pro", "knowledge"}};
  return m;
}

std::string catalog_model_type(const std::string& architecture) {
  static const std::map<std::string, std::string> m = {{"LlamaForCausalLM", "llama"}, {"MistralForCausalLM", "mistral"},
                                                       {"Qwen2ForCausalLM", "qwen2"}, {"Phi3ForCausalLM", "phi3"},
                                                       {"GemmaForCausalLM", "gemma"}};
  auto it = m.find(architecture);
  if (it == m.end()) return "";
  const auto& sup = model_config_supported();
  return std::find(sup.begin(), sup.end(), it->second) == sup.end() ? "" : it->second;
}

std::vector<CatalogEntry> catalog_parse(const std::string& yaml_text, const std::string& source) {
  std::vector<Problem> problems;
  std::vector<Parsed> parsed = parse_or_collect(yaml_text, source, problems);
  std::vector<CatalogEntry> out;
  apply(out, parsed, problems);
  if (!problems.empty()) throw Error(ExitCode::usage, problems);
  derive(out);
  return out;
}

std::vector<CatalogEntry> catalog_builtin() {
  std::vector<CatalogEntry> v = catalog_parse(kBuiltinCatalogYaml, "built-in catalog (lib/select/catalog.yaml)");
  for (CatalogEntry& e : v) e.origin = "built-in";
  return v;
}

std::vector<CatalogEntry> catalog_load(const std::vector<std::string>& files) {
  std::vector<CatalogEntry> entries = catalog_builtin();
  std::vector<Problem> problems;
  for (const std::string& f : files) {
    std::string text;
    try {
      text = read_file(f);
    } catch (const Error&) {
      problems.push_back({"select.catalogs", "cannot read " + f, "check the path (relative paths are taken from the pipeline file's directory)"});
      continue;
    }
    std::vector<Parsed> parsed = parse_or_collect(text, f, problems);
    apply(entries, parsed, problems);
  }
  if (!problems.empty()) throw Error(ExitCode::usage, problems);
  derive(entries);
  return entries;
}

MemoryNeed catalog_memory(const CatalogEntry& e) {
  constexpr double GiB = 1024.0 * 1024.0 * 1024.0;
  const double bytes = e.dtype == "fp32" ? 4 : 2;
  const double P = e.params_b * 1e9;
  MemoryNeed m;
  if (e.shape) {
    // The `slmify model info` formulas (docs/models.md), with the entry's dtype for the weights.
    const ModelShape& s = *e.shape;
    const double L = double(s.layers), H = double(s.hidden), I = double(s.intermediate), kv = double(s.kv_dim());
    const double q = double(s.heads) * double(s.head_dim ? s.head_dim : s.hidden / s.heads);
    const double cache = 2 * L * kv * 4096 * bytes;                        // K and V, 4096 tokens
    const double lora = 16 * L * ((H + q) + 2 * (H + kv) + (q + H) + 2 * (H + I) + (I + H));  // r = 16, all linear
    const double act = 2048 * L * (10 * H + 4 * I) * 2 + 2048 * double(s.vocab) * 4 * 2;  // bf16 activations, fp32 logits + grad
    m.serve_gb = (P * bytes + cache) / GiB;
    m.train_gb = (P * bytes + lora * 16 + act) / GiB;
    m.formula = "shape";
  } else {
    // Params and dtype only: weights plus 20% for the KV cache and buffers (+0.5 GiB runtime) to
    // serve; twice the weights plus 4 GiB for adapters, optimiser state and activations to train.
    m.serve_gb = (1.2 * P * bytes) / GiB + 0.5;
    m.train_gb = (2.0 * P * bytes) / GiB + 4.0;
    m.formula = "params";
  }
  return m;
}

}  // namespace slmify
