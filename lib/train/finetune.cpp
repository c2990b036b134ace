// The finetune stage: which clusters to train on which base (select's plan, the config or the
// command line), training examples from the cluster dataset's splits, one job per adapter (or
// one multi-adapter job per base), resumable across kills through OUT.partial/, and the output
// directory (adapters.json + one PEFT adapter per cluster) committed atomically. Behaviour:
// docs/finetune.md. Tested by tests/train/test_finetune.cpp.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <map>
#include <set>

#include "core/artifact.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "core/log.h"
#include "core/stage.h"
#include "model/backend.h"
#include "model/gguf.h"
#include "model/model.h"
#include "slmify/version.h"
#include "train/train.h"
#include "train/trainer.h"

namespace slmify {
namespace fs = std::filesystem;

namespace {

struct PlanEntry {
  int64_t id = 0;
  bool finetune = false;
  std::string reason, model, path, label;
  YAML::Node overrides;  // the plan's finetune: map
};

std::map<int64_t, PlanEntry> read_plan(const std::string& file) {
  std::error_code ec;
  std::string path = file;
  if (fs::is_directory(path, ec)) path = (fs::path(path) / "plan.yaml").string();
  if (!fs::exists(path, ec))
    throw_io(path, "select's plan is missing", "run `slmify select` first, or train without a plan (finetune.base and --clusters)");
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw_bad_data(path + ":" + std::to_string(e.mark.line + 1) + ":" + std::to_string(e.mark.column + 1), "is not valid YAML: " + e.msg,
                   "re-run select to rewrite the plan");
  }
  auto where = [&](const YAML::Node& n) { return path + ":" + std::to_string(n.Mark().line + 1) + ":" + std::to_string(n.Mark().column + 1); };
  if (!root["clusters"] || !root["clusters"].IsSequence())
    throw_bad_data(path, "has no clusters: list", "re-run select to rewrite the plan");
  std::map<int64_t, PlanEntry> out;
  for (const YAML::Node& c : root["clusters"]) {
    PlanEntry e;
    try {
      e.id = c["id"].as<int64_t>();
      e.finetune = c["decision"] && c["decision"].as<std::string>() == "finetune";
      if (c["reason"]) e.reason = c["reason"].as<std::string>();
      if (c["label"]) e.label = c["label"].as<std::string>();
      if (c["chosen"] && c["chosen"].IsMap()) {
        if (c["chosen"]["model"] && !c["chosen"]["model"].IsNull()) e.model = c["chosen"]["model"].as<std::string>();
        if (c["chosen"]["path"] && !c["chosen"]["path"].IsNull()) e.path = c["chosen"]["path"].as<std::string>();
      }
      if (c["finetune"] && c["finetune"].IsMap()) e.overrides = c["finetune"];
    } catch (const YAML::Exception& ex) {
      throw_bad_data(where(c), "cluster entry is malformed: " + ex.msg, "re-run select to rewrite the plan");
    }
    out[e.id] = e;
  }
  return out;
}

// The plan's per-cluster fine-tuning settings over the stage's config.
FinetuneConfig with_overrides(FinetuneConfig c, const YAML::Node& o) {
  if (!o || !o.IsMap()) return c;
  if (o["method"]) c.method = o["method"].as<std::string>();
  if (o["lora_rank"]) c.lora_rank = o["lora_rank"].as<int64_t>();
  if (o["lora_alpha"]) c.lora_alpha = o["lora_alpha"].as<double>();
  // select estimates a cluster's longest call without the model's tokenizer, so its max_length
  // can only raise finetune.max_length, never cut calls that the config lets through.
  if (o["max_length"]) c.max_length = std::max(c.max_length, o["max_length"].as<int64_t>());
  if (o["lr"]) c.lr = o["lr"].as<double>();
  if (o["epochs"]) c.epochs = o["epochs"].as<int64_t>();
  return c;
}

// Whether a call offers tools, or its messages or answer hold tool calls or tool results.
bool record_uses_tools(const json& r) {
  auto nonempty = [](const json& j, const char* k) { return j.is_object() && j.contains(k) && j[k].is_array() && !j[k].empty(); };
  const json& req = r.contains("request") ? r["request"] : json();
  if (nonempty(req, "tools") || (r.contains("response") && nonempty(r["response"], "tool_calls"))) return true;
  if (req.is_object() && req.contains("messages") && req["messages"].is_array())
    for (const json& m : req["messages"])
      if (nonempty(m, "tool_calls") || (m.is_object() && m.value("role", "") == "tool")) return true;
  return false;
}

json finetune_config_json(const FinetuneConfig& c) {
  return {{"method", c.method}, {"lora_rank", c.lora_rank}, {"lora_alpha", c.lora_alpha}, {"lora_dropout", c.lora_dropout},
          {"rslora", c.rslora}, {"target_modules", c.target_modules}, {"max_length", c.max_length}, {"packing", c.packing},
          {"shared_prefix", c.shared_prefix}, {"eval_loss_examples", c.eval_loss_examples},
          {"batch_size", c.batch_size}, {"grad_accum", c.grad_accum}, {"lr", c.lr}, {"weight_decay", c.weight_decay},
          {"warmup_ratio", c.warmup_ratio}, {"epochs", c.epochs}, {"max_steps", c.max_steps}, {"grad_clip", c.grad_clip},
          {"eval_every", c.eval_every}, {"early_stopping_patience", c.early_stopping_patience}, {"save_every", c.save_every},
          {"device", c.device}, {"dtype", c.dtype}, {"multi_adapter", c.multi_adapter}, {"seed", c.seed}, {"prompt_loss", c.prompt_loss}, {"chat_template", c.chat_template}};
}

std::string base_digest(const fs::path& base) {
  Sha256 h;
  h.update(fs::absolute(base).lexically_normal().string() + "\n");
  std::error_code ec;
  for (const char* f : {"config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json", "tokenizer.model"})
    if (fs::exists(base / f, ec)) h.update(std::string(f) + " " + file_input_digest((base / f).string()) + "\n");
  return h.hex();
}

struct Task {
  std::string name;
  int64_t cluster = 0;  // -2: all calls
  fs::path base;
  fs::path source;  // the .gguf file `base` was imported from ("" = base is what the user gave)
  std::string base_name;
  FinetuneConfig cfg;
  std::vector<json> train, eval;  // records
  std::string label;
  fs::path init_adapter;  // finetune.init_from's adapter for this cluster ("" = fresh LoRA)
};

// finetune.init_from: the adapters of an earlier finetune output or registry version, by cluster.
std::map<int64_t, json> read_init_adapters(const fs::path& dir) {
  std::map<int64_t, json> out;
  json index;
  try {
    index = json::parse(read_file(dir / "adapters.json"));
  } catch (const Error&) {
    throw_io((dir / "adapters.json").string(), "finetune.init_from has no adapters.json", "point it at a finetune output or a registry version");
  } catch (const json::exception& e) {
    throw_bad_data((dir / "adapters.json").string(), std::string("not valid JSON: ") + e.what(), "point finetune.init_from at a finetune output");
  }
  for (const json& a : index.value("adapters", json::array()))
    if (a.contains("cluster") && a["cluster"].is_number_integer() && a.value("method", "lora") == "lora") out[a["cluster"].get<int64_t>()] = a;
  return out;
}

}  // namespace

json finetune_run(const PipelineConfig& config, const StageIO& io, const Context& ctx) {
  (void)ctx;
  const FinetuneConfig& fc = config.finetune;
  if (io.inputs.empty()) throw_usage("finetune", "no input dataset", "pass the cluster stage's output directory: slmify finetune CLUSTER_DIR --base MODEL -o OUT");
  if (io.output.empty()) throw_usage("finetune", "no output directory", "pass -o OUT");
  const std::string plan_file = !fc.plan.empty() ? fc.plan : io.inputs.size() > 1 ? io.inputs[1] : std::string();

  WriterOptions wo;
  stage_writer_options(config, "finetune", "finetune", wo);
  ArtifactWriter writer(io.output, "finetune", wo.config);  // refuses a bad output path before any work

  ReadOptions ro;
  stage_read_options(config, ro);
  DatasetReader reader(io.inputs[0], ro);
  writer.add_input(reader.input_ref());

  // Calls by cluster and split.
  std::map<int64_t, std::vector<json>> train, eval;
  std::map<int64_t, std::string> labels;
  bool annotated = false, unannotated = false;
  json rec;
  uint64_t records = 0;
  while (reader.next(rec)) {
    ++records;
    const json* ann = rec.contains("ann") ? &rec["ann"] : nullptr;
    int64_t id = -2;
    if (ann && ann->contains("cluster") && (*ann)["cluster"].is_object() && (*ann)["cluster"].contains("id")) {
      id = (*ann)["cluster"]["id"].get<int64_t>();
      annotated = true;
    } else {
      unannotated = true;
    }
    bool is_eval = ann && ann->contains("split") && (*ann)["split"] == "eval";
    (is_eval ? eval : train)[id].push_back(std::move(rec));
    rec = json();
  }
  if (records == 0) throw Error(ExitCode::nothing_to_do, io.inputs[0], "has no calls to train on", "run collect, scrub and cluster on logs that hold calls first");
  const bool all = fc.all || !annotated;
  if (!fc.all && !annotated) log_info("finetune: " + io.inputs[0] + " has no cluster annotations; training one adapter on every call");
  if (annotated && unannotated && !all)
    log_warn("finetune: some calls of " + io.inputs[0] + " have no cluster annotation; they are not trained on");
  // Cluster labels from clusters.json, for the outputs.
  {
    std::error_code ec;
    fs::path cj = fs::path(io.inputs[0]) / "clusters.json";
    if (fs::exists(cj, ec)) {
      try {
        json j = json::parse(read_file(cj));
        for (const json& c : j.value("clusters", json::array()))
          if (c.contains("id") && c.contains("label")) labels[c["id"].get<int64_t>()] = c["label"].is_string() ? c["label"].get<std::string>() : c["label"].dump();
      } catch (const json::exception&) {
      }
    }
  }

  // Which clusters, on which base.
  std::map<int64_t, PlanEntry> plan;
  if (!plan_file.empty() && !all) {
    plan = read_plan(plan_file);
    writer.add_input(input_ref(plan_file));
  }
  std::set<int64_t> wanted;
  for (const std::string& s : fc.clusters) {
    try {
      size_t used = 0;
      int64_t v = std::stoll(s, &used);
      if (used != s.size()) throw std::invalid_argument(s);
      wanted.insert(v);
    } catch (const std::exception&) {
      throw_usage("finetune.clusters", "\"" + s + "\" is not a cluster id", "give ids as in clusters.json, e.g. --clusters 3,5");
    }
  }
  std::vector<Task> tasks;
  json skipped = json::array();
  if (all) {
    Task t;
    t.name = "all";
    t.cluster = -2;
    t.cfg = fc;
    for (auto& [id, v] : train) t.train.insert(t.train.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
    for (auto& [id, v] : eval) t.eval.insert(t.eval.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
    t.label = "all calls";
    tasks.push_back(std::move(t));
  } else {
    std::set<int64_t> ids;
    for (auto& [id, v] : train) ids.insert(id);
    for (auto& [id, v] : eval) ids.insert(id);
    for (int64_t w : wanted)
      if (!ids.count(w)) {
        std::string have;
        for (int64_t i : ids) have += (have.empty() ? "" : ", ") + std::to_string(i);
        throw_usage("finetune.clusters", "cluster " + std::to_string(w) + " is not in " + io.inputs[0], "the dataset has clusters " + have);
      }
    for (int64_t id : ids) {
      if (!wanted.empty() && !wanted.count(id)) continue;
      if (id < 0) {
        skipped.push_back({{"cluster", id}, {"reason", "calls of no recurring task (other) stay on the LLM"}});
        continue;
      }
      Task t;
      t.cluster = id;
      t.name = "cluster-" + std::to_string(id);
      t.cfg = fc;
      t.label = labels.count(id) ? labels[id] : "";
      if (!plan.empty()) {
        auto it = plan.find(id);
        if (it == plan.end()) {
          skipped.push_back({{"cluster", id}, {"reason", "not in select's plan"}});
          continue;
        }
        if (!it->second.finetune) {
          skipped.push_back({{"cluster", id}, {"reason", "select: " + (it->second.reason.empty() ? std::string("stays on the LLM") : it->second.reason)}});
          continue;
        }
        t.cfg = with_overrides(fc, it->second.overrides);
        if (!it->second.path.empty()) t.base = it->second.path;
        t.base_name = it->second.model;
      }
      t.train = std::move(train[id]);
      t.eval = std::move(eval[id]);
      tasks.push_back(std::move(t));
    }
  }
  if (fc.base.empty() && plan.empty())
    throw_usage("finetune.base", "no base model", "pass --base MODEL_DIR (a Hugging Face model directory), or --plan select's plan.yaml");
  for (size_t i = 0; i < tasks.size();) {  // a plan's model that is not on this machine cannot be trained
    if (tasks[i].base.empty() && fc.base.empty()) {
      skipped.push_back({{"cluster", tasks[i].cluster},
                         {"reason", "select chose " + (tasks[i].base_name.empty() ? std::string("a model") : tasks[i].base_name) +
                                        ", which has no local directory: download it and list it in select.model_paths, or set finetune.base"}});
      tasks.erase(tasks.begin() + long(i));
    } else {
      ++i;
    }
  }
  std::map<int64_t, json> init;
  if (!fc.init_from.empty()) {
    init = read_init_adapters(fc.init_from);
    writer.add_input(input_ref(fc.init_from));
  }
  for (Task& t : tasks) {
    if (t.base.empty()) t.base = fc.base;
    t.base = fs::absolute(t.base).lexically_normal();
    if (t.base.extension() == ".gguf") {  // imported once into the digest-keyed cache; the file is the input
      t.source = t.base;
      t.base = resolve_model_path(t.base);
    }
    // adapter_config.json names the plan's Hugging Face id when there is one; a local model with no
    // catalog entry ("local:NAME") is named by its directory, which PEFT and llama.cpp can open.
    if (t.base_name.empty() || t.base_name.rfind("local:", 0) == 0) t.base_name = t.base.string();
    if (!fs::exists(t.base / "config.json"))
      throw_io((t.base / "config.json").string(), "the base model directory has no config.json", "point finetune.base at a Hugging Face model directory");
    if (t.cfg.method == "full" && t.cfg.multi_adapter) t.cfg.multi_adapter = false;
    auto it = init.find(t.cluster);
    if (it != init.end() && t.cfg.method == "lora") {
      const fs::path dir = fs::path(fc.init_from) / it->second.value("dir", "");
      json ac;
      try {
        ac = json::parse(read_file(dir / "adapter_config.json"));
      } catch (const std::exception&) {
        log_warn("finetune " + t.name + ": " + (dir / "adapter_config.json").string() + " is unreadable; starting from a fresh LoRA");
        continue;
      }
      std::error_code ec;
      if (fs::weakly_canonical(it->second.value("base", ""), ec) != fs::weakly_canonical(t.base, ec)) {
        log_warn("finetune " + t.name + ": the adapter in " + dir.string() + " was trained on " + it->second.value("base", std::string("?")) +
                 ", not " + t.base.string() + "; starting from a fresh LoRA");
        continue;
      }
      // Continue with the adapter's own shape: its rank, scaling and target modules.
      t.cfg.lora_rank = ac.value("r", t.cfg.lora_rank);
      t.cfg.lora_alpha = ac.value("lora_alpha", t.cfg.lora_alpha);
      t.cfg.rslora = ac.value("use_rslora", t.cfg.rslora);
      if (ac.contains("target_modules") && ac["target_modules"].is_array()) t.cfg.target_modules = ac["target_modules"].get<std::vector<std::string>>();
      t.init_adapter = dir;
    }
  }
  {
    std::set<std::string> bases;  // the base models are inputs too: `slmify run` retrains when one changes
    for (const Task& t : tasks)
      if (bases.insert(t.base.string()).second) writer.add_input(input_ref((t.source.empty() ? t.base : t.source).string()));
  }
  if (tasks.empty()) {
    for (const json& sk : skipped) log_warn("finetune: cluster " + sk["cluster"].dump() + " not trained: " + sk["reason"].get<std::string>());
    throw Error(ExitCode::nothing_to_do, io.inputs[0], "has no cluster to fine-tune", "see the reasons above; select keeps small clusters on the LLM");
  }

  // Work directory that survives a kill: checkpoints per job, finished adapters in done/.
  const fs::path out_dir = fs::path(io.output).lexically_normal();
  const fs::path work = out_dir.parent_path() / (out_dir.filename().string() + ".partial");
  fs::create_directories(work / "done");
  json done = json::object();
  if (fs::exists(work / "done.json")) {
    try {
      done = json::parse(read_file(work / "done.json"));
    } catch (const json::exception&) {
      done = json::object();
    }
  }
  const std::string data_digest = reader.manifest().digest;

  // Jobs: by base (loaded once) and, with multi_adapter, all of a base's tasks together.
  std::map<std::string, std::vector<size_t>> by_base;
  for (size_t i = 0; i < tasks.size(); ++i) by_base[tasks[i].base.string()].push_back(i);
  json adapters = json::array();
  json example_counts = json::object();
  std::map<std::string, json> metrics_by_name;
  int64_t trained = 0;
  for (auto& [base, idx] : by_base) {
    const FinetuneConfig& c0 = tasks[idx[0]].cfg;
    ModelOptions mo;
    mo.device = c0.device;
    mo.dtype = c0.method == "full" ? "fp32" : c0.dtype;
    std::unique_ptr<Model> model;
    auto load = [&] {
      model = model_load(base, mo);
      if (config.threads > 0 && model->device() == "cpu") backend_set_threads(int(config.threads));
    };
    load();
    const std::string bdig = base_digest(base);
    // The chat template of this base's adapters (finetune.chat_template): the model's own, unless
    // it cannot show the tools these calls offer, or the model has none.
    bool needs_tools = false;
    for (size_t i : idx)
      for (const std::vector<json>* recs : {&tasks[i].train, &tasks[i].eval})
        for (const json& r : *recs) needs_tools = needs_tools || record_uses_tools(r);
    const ChatTemplateChoice tpl = chat_template_choose(c0.chat_template, model->tokenizer().specials().chat_template,
                                                        model->config().model_type, needs_tools, &model->tokenizer());
    if (!tpl.note.empty()) log_warn("finetune: " + base + ": " + tpl.note);
    // Examples.
    struct Built {
      TrainTask task;
      json counts;
    };
    std::vector<Built> built;
    for (size_t i : idx) {
      Task& t = tasks[i];
      Built b;
      b.task.name = t.name;
      std::map<std::string, int64_t> why_count;
      std::string first_problem;
      auto convert = [&](std::vector<json>& recs, std::vector<TrainExample>& out) {
        for (json& r : recs) {
          TrainExample ex;
          std::string why;
          if (t.cfg.prompt_loss) {
            // Language-model pre-training on the whole text: a long call is cut into windows of
            // max_length tokens (each predicts all of its tokens but the first), not skipped.
            if (!example_from_record(tpl.tpl, model->tokenizer(), r, int64_t{1} << 40, ex, why)) {
              std::string key = why.rfind("unrenderable", 0) == 0 ? "unrenderable" : why;
              if (key == "unrenderable" && first_problem.empty()) first_problem = why;
              ++why_count[key];
              continue;
            }
            const size_t n = ex.ids.size(), w = static_cast<size_t>(t.cfg.max_length);
            for (size_t at = 0; at + 1 < n; at += w) {
              TrainExample piece;
              piece.ids.assign(ex.ids.begin() + long(at), ex.ids.begin() + long(std::min(n, at + w)));
              piece.mask.assign(piece.ids.size(), uint8_t{1});
              piece.mask[0] = 0;
              if (piece.ids.size() >= 2) out.push_back(std::move(piece));
            }
            continue;
          }
          if (example_from_record(tpl.tpl, model->tokenizer(), r, t.cfg.max_length, ex, why)) {
            out.push_back(std::move(ex));
          } else {
            std::string key = why.rfind("unrenderable", 0) == 0 ? "unrenderable" : why;
            if (key == "unrenderable" && first_problem.empty()) first_problem = why;
            ++why_count[key];
          }
        }
        recs.clear();
      };
      convert(t.train, b.task.train);
      convert(t.eval, b.task.eval);
      b.counts = {{"train", b.task.train.size()}, {"eval", b.task.eval.size()}};
      for (auto& [k, n] : why_count) b.counts["skipped_" + k] = n;
      if (why_count.count("too_long"))
        log_warn("finetune " + t.name + ": " + std::to_string(why_count["too_long"]) + " calls are longer than max_length " +
                 std::to_string(t.cfg.max_length) + " tokens and are not trained on (raise finetune.max_length to use them)");
      if (!first_problem.empty()) log_warn("finetune " + t.name + ": " + std::to_string(why_count["unrenderable"]) + " calls cannot be rendered: " + first_problem);
      example_counts[t.name] = b.counts;
      if (int64_t(b.task.train.size()) < t.cfg.min_examples) {
        skipped.push_back({{"cluster", t.cluster < -1 ? json(nullptr) : json(t.cluster)},
                           {"reason", "only " + std::to_string(b.task.train.size()) + " usable training examples (finetune.min_examples is " +
                                          std::to_string(t.cfg.min_examples) + ")"},
                           {"examples", b.counts}});
        continue;
      }
      b.task.info = {{"cluster", t.cluster < -1 ? json(nullptr) : json(t.cluster)}, {"label", t.label}, {"examples", b.counts}};
      if (!t.init_adapter.empty()) {
        b.task.init_adapter = t.init_adapter.string();
        b.task.info["init_from"] = t.init_adapter.string();
      }
      built.push_back(std::move(b));
    }
    // Group into jobs.
    std::vector<std::vector<size_t>> jobs;
    if (c0.multi_adapter && c0.method == "lora" && built.size() > 1) {
      std::map<std::string, std::vector<size_t>> same;
      for (size_t k = 0; k < built.size(); ++k) {
        const Task& t = *std::find_if(tasks.begin(), tasks.end(), [&](const Task& x) { return x.name == built[k].task.name; });
        // max_length only bounds which calls a cluster keeps: clusters that differ in it alone
        // still train in one job, whose rows may be as long as the longest allows.
        json key = finetune_config_json(t.cfg);
        key.erase("max_length");
        same[key.dump()].push_back(k);
      }
      for (auto& [key, v] : same) jobs.push_back(v);
    } else {
      for (size_t k = 0; k < built.size(); ++k) jobs.push_back({k});
    }
    for (const auto& job_idx : jobs) {
      const Task& t0 = *std::find_if(tasks.begin(), tasks.end(), [&](const Task& x) { return x.name == built[job_idx[0]].task.name; });
      TrainJob job;
      job.cfg = t0.cfg;
      for (size_t k : job_idx) {
        const Task& t = *std::find_if(tasks.begin(), tasks.end(), [&](const Task& x) { return x.name == built[k].task.name; });
        job.cfg.max_length = std::max(job.cfg.max_length, t.cfg.max_length);
      }
      job.base_name = t0.base_name;
      std::string names, names_init;
      for (size_t k : job_idx) {
        names += (names.empty() ? "" : "+") + built[k].task.name;
        job.tasks.push_back(built[k].task);
        if (!built[k].task.init_adapter.empty())
          names_init += built[k].task.init_adapter + " " + file_input_digest(built[k].task.init_adapter + "/adapter_model.safetensors") + "\n";
      }
      job.fingerprint = sha256_hex(std::string(SLMIFY_VERSION) + "\n" + finetune_config_json(job.cfg).dump() + "\n" + data_digest + "\n" + bdig + "\n" + names + "\n" + names_init +
                                   "\nchat template " + tpl.tpl.name);
      bool finished = true;
      for (size_t k : job_idx)
        finished = finished && done.value(built[k].task.name, "") == job.fingerprint && fs::exists(work / "done" / built[k].task.name / "metrics.json");
      if (finished) {
        log_info("finetune " + names + ": already trained in " + work.string() + " (kept from the interrupted run)");
        for (size_t k : job_idx) metrics_by_name[built[k].task.name] = json::parse(read_file(work / "done" / built[k].task.name / "metrics.json"));
        continue;
      }
      job.work = work / ("job-" + names);
      job.out = work / "done";
      if (t0.cfg.method == "full" && trained > 0) load();  // full fine-tuning changed the weights
      log_info("finetune " + names + ": training on " + base + " (" + model->device() + ", " + model->dtype() + ")");
      std::vector<json> ms = train_job(*model, job);
      ++trained;
      for (size_t k = 0; k < job_idx.size(); ++k) {
        chat_template_write(job.out / job.tasks[k].name, tpl);
        ms[k]["chat_template"] = tpl.tpl.name;
        write_file_atomic(job.out / job.tasks[k].name / "metrics.json", ms[k].dump(2) + "\n");
        metrics_by_name[job.tasks[k].name] = ms[k];
        done[job.tasks[k].name] = job.fingerprint;
      }
      write_file_atomic(work / "done.json", done.dump(2) + "\n");
      std::error_code ec;
      fs::remove_all(job.work, ec);
    }
  }

  // The output: every finished adapter, adapters.json, committed at once.
  const fs::path stage_dir = writer.staging_dir();
  std::string first_base;
  for (const Task& t : tasks) {
    auto it = metrics_by_name.find(t.name);
    if (it == metrics_by_name.end()) continue;
    fs::copy(work / "done" / t.name, stage_dir / t.name, fs::copy_options::recursive);
    if (first_base.empty()) first_base = t.base.string();
    adapters.push_back({{"cluster", t.cluster < -1 ? json(nullptr) : json(t.cluster)},
                        {"name", t.name},
                        {"dir", t.name},
                        {"method", t.cfg.method},
                        {"base", t.base.string()},
                        {"base_model", t.base_name},
                        {"label", t.label},
                        {"metrics", it->second}});
  }
  for (const json& sk : skipped)
    log_warn("finetune: " + (sk["cluster"].is_null() ? std::string("all calls") : "cluster " + sk["cluster"].dump()) + " not trained: " + sk["reason"].get<std::string>());
  if (adapters.empty())
    throw Error(ExitCode::nothing_to_do, io.inputs[0], "no cluster had enough usable training examples",
                "see the reasons above; lower finetune.min_examples or raise finetune.max_length");
  json index = {{"version", 1}, {"base", first_base}, {"adapters", adapters}, {"skipped", skipped}};
  write_file_atomic(stage_dir / "adapters.json", index.dump(2) + "\n");
  writer.stats() = {{"adapters", adapters.size()}, {"skipped", skipped.size()}, {"examples", example_counts}};
  writer.commit();
  std::error_code ec;
  fs::remove_all(work, ec);
  json summary = {{"stage", "finetune"}, {"output", io.output}, {"adapters", json::array()}, {"skipped", skipped}};
  for (const json& a : adapters) {
    const json& m = a["metrics"];
    summary["adapters"].push_back({{"name", a["name"]}, {"cluster", a["cluster"]}, {"steps", m["steps"]},
                                   {"final_train_loss", m["final_train_loss"]}, {"final_eval_loss", m["final_eval_loss"]},
                                   {"tokens_per_s", m["tokens_per_s"]}, {"train_seconds", m["train_seconds"]}});
    char buf[200];
    auto loss = [](const json& x) { return x.is_null() ? std::string("-") : std::to_string(x.get<double>()); };
    std::snprintf(buf, sizeof buf, "finetune: %s  steps %lld  train loss %s  eval loss %s", a["name"].get<std::string>().c_str(),
                  (long long)m["steps"].get<int64_t>(), loss(m["final_train_loss"]).c_str(), loss(m["final_eval_loss"]).c_str());
    log_info(buf);
  }
  log_info("finetune: wrote " + std::to_string(adapters.size()) + " adapter(s) to " + io.output + (skipped.empty() ? "" : "; " + std::to_string(skipped.size()) + " cluster(s) skipped"));
  return summary;
}

}  // namespace slmify
