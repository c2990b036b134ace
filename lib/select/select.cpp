// The select stage (see select.h): read the clusters and their calls, load the catalog and the
// local models, evaluate every model for every cluster, probe the local ones, rank, decide, and
// write plan.yaml atomically with a manifest (ArtifactWriter).
#include "select/select.h"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/artifact.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "select/select_internal.h"

namespace slmify {

namespace fs = std::filesystem;

namespace {

std::vector<ClusterCalls> read_clusters(const PipelineConfig& config, const std::string& dir) {
  const SelectConfig& sc = config.select;
  fs::path cj = fs::path(dir) / "clusters.json";
  std::error_code ec;
  if (!fs::exists(cj, ec))
    throw_usage(dir, "is not the output of `slmify cluster` (it has no clusters.json)", "run select on the cluster stage's output directory");
  json doc;
  try {
    doc = json::parse(read_file(cj));
  } catch (const json::exception& ex) {
    throw_bad_data(cj.string(), std::string("is not valid JSON: ") + ex.what(), "run `slmify cluster` again");
  }
  if (doc.value("format", "") != "slmify-clusters" || !doc.contains("clusters") || !doc["clusters"].is_array())
    throw_bad_data(cj.string(), "is not a slmify-clusters file", "run `slmify cluster` again");
  std::map<int64_t, ClusterCalls> by_id;
  for (const json& c : doc["clusters"]) {
    ClusterCalls cl;
    cl.id = c.value("id", int64_t(0));
    cl.label = c.value("label", std::string());
    cl.kind = c.value("output_kind", std::string("text"));
    by_id[cl.id] = cl;
  }
  ReadOptions ro;
  stage_read_options(config, ro);
  DatasetReader reader(dir, ro);
  json rec;
  while (reader.next(rec)) {
    const json& ann = rec.contains("ann") ? rec["ann"] : json();
    if (!ann.is_object() || !ann.contains("cluster") || !ann["cluster"].contains("id"))
      throw_bad_data(reader.location(), "record has no ann.cluster.id", "run select on the cluster stage's output");
    int64_t id = ann["cluster"]["id"].get<int64_t>();
    ClusterCalls& cl = by_id[id];  // a cluster missing from clusters.json still counts
    cl.id = id;
    ++cl.calls;
    cl.longest_tokens = std::max(cl.longest_tokens, select_call_tokens(rec));
    if (ann.value("split", std::string()) == "eval") {
      ++cl.eval_calls;
      if (static_cast<int64_t>(cl.probe_calls.size()) < sc.probe_samples)
        cl.probe_calls.push_back({{"request", rec["request"]}, {"response", rec["response"]}});
    }
  }
  std::vector<ClusterCalls> out;
  for (auto& [id, cl] : by_id)
    if (id >= 0) out.push_back(std::move(cl));
  if (by_id.count(-1)) out.push_back(std::move(by_id[-1]));  // other last
  return out;
}

std::string n_calls(int64_t n) { return std::to_string(n) + (n == 1 ? " call" : " calls"); }

// Why no candidate fits: how many models each constraint excluded.
std::string none_fit(const std::vector<PlanCandidate>& all) {
  std::map<std::string, int> counts;
  for (const PlanCandidate& c : all)
    for (const std::string& f : c.failed) ++counts[f];
  std::string s;
  for (const auto& [what, n] : counts) s += (s.empty() ? "" : ", ") + what + " " + std::to_string(n);
  return "no candidate fits the constraints (" + std::to_string(all.size()) + " models checked; failing " + s +
         "); loosen select.* or add a catalog entry or model_paths directory that fits";
}

PlanFinetune finetune_settings(const PipelineConfig& c, const PlanCluster& cl, int64_t context) {
  PlanFinetune f;
  f.method = c.finetune.method;
  f.lora_rank = c.finetune.lora_rank;
  f.lora_alpha = c.finetune.lora_alpha;
  // Long enough for the cluster's longest call with headroom, in steps of 256, within the model's context.
  int64_t need = std::max<int64_t>(256, (cl.required_context + 255) / 256 * 256);
  f.max_length = context > 0 ? std::min(need, context) : need;
  return f;
}

}  // namespace

json select_run(const PipelineConfig& config, const StageIO& io, const Context& ctx) {
  const SelectConfig& sc = config.select;
  auto t0 = std::chrono::steady_clock::now();
  if (io.inputs.size() != 1) throw_usage("slmify select", "needs exactly one input: the cluster stage's output directory", "slmify select CLUSTER_DIR -o OUT");
  if (io.output.empty()) throw_usage("slmify select", "no output directory", "give one with -o DIR");
  std::error_code ec;
  if (fs::weakly_canonical(io.output, ec) == fs::weakly_canonical(io.inputs[0], ec))
    throw_usage("-o " + io.output, "is the input directory; the plan would replace the clusters", "write the plan to its own directory, e.g. -o runs/NAME/select");
  // Everything the user gave is checked before any work.
  std::vector<CatalogEntry> entries = catalog_load(sc.catalogs);
  std::vector<std::string> warnings;
  catalog_add_local(entries, sc.model_paths, warnings);
  for (const std::string& w : warnings) log_warn("select: " + w);
  std::vector<ClusterCalls> clusters = read_clusters(config, io.inputs[0]);
  WriterOptions wo;  // the same config record as every stage's, for `slmify run`'s up-to-date check
  stage_writer_options(config, "select", "select", wo);
  ArtifactWriter writer(io.output, "select", wo.config);
  writer.add_input(input_ref(io.inputs[0]));
  for (const std::string& f : sc.catalogs) writer.add_input(input_ref(f));
  for (const CatalogEntry& e : entries)
    if (!e.path.empty()) writer.add_input(input_ref(e.path));  // the model's files: `slmify run` re-selects when it changes

  Plan plan;
  plan.clusters = io.inputs[0];
  plan.warnings = warnings;
  std::vector<std::vector<PlanCandidate>> fitting(clusters.size()), excluded(clusters.size());
  for (size_t i = 0; i < clusters.size(); ++i) {
    const ClusterCalls& cl = clusters[i];
    PlanCluster pc;
    pc.id = cl.id;
    pc.label = cl.label;
    pc.kind = cl.kind;
    pc.calls = cl.calls;
    pc.eval_calls = cl.eval_calls;
    pc.longest_tokens = cl.longest_tokens;
    pc.required_context = static_cast<int64_t>(std::ceil(double(cl.longest_tokens) * sc.context_headroom));
    if (cl.id < 0) {
      pc.decision = "llm";
      pc.reason = "`other`: calls that belong to no recurring task stay on the LLM";
    } else if (cl.calls < sc.min_cluster_calls) {
      pc.decision = "llm";
      pc.reason = "only " + n_calls(cl.calls) + " (select.min_cluster_calls is " + std::to_string(sc.min_cluster_calls) +
                  "): too few to fine-tune on and to evaluate";
    } else {
      for (const CatalogEntry& e : entries) {
        PlanCandidate c = select_evaluate(e, sc, cl);
        (c.fits ? fitting[i] : excluded[i]).push_back(std::move(c));
      }
    }
    plan.clusters_list.push_back(std::move(pc));
  }

  // The probe: each local, trainable model that fits some cluster is loaded once.
  int probes_run = 0, probes_skipped = 0;
  for (const CatalogEntry& e : entries) {
    if (e.path.empty() || !e.trainable) continue;
    std::vector<ProbeTarget> targets;
    for (size_t i = 0; i < clusters.size(); ++i)
      for (PlanCandidate& c : fitting[i])
        if (c.model == e.id) targets.push_back({&clusters[i], &c});
    select_probe(sc, e, targets);
    for (const ProbeTarget& t : targets) (t.candidate->probe.ran ? probes_run : probes_skipped)++;
  }
  for (size_t i = 0; i < clusters.size(); ++i)
    for (PlanCandidate& c : fitting[i])
      if (!c.probe.ran && c.probe.skipped.empty())
        c.probe.skipped = c.path.empty() ? "not available locally (list its directory in select.model_paths to probe it)"
                                         : "slmify cannot run this architecture";

  int finetune = 0;
  for (size_t i = 0; i < clusters.size(); ++i) {
    PlanCluster& pc = plan.clusters_list[i];
    if (!pc.decision.empty()) continue;
    select_rank(fitting[i], sc);
    std::stable_sort(excluded[i].begin(), excluded[i].end(), [](const PlanCandidate& a, const PlanCandidate& b) { return a.params_b < b.params_b; });
    if (fitting[i].empty()) {
      pc.decision = "llm";
      pc.reason = none_fit(excluded[i]);
    } else {
      const PlanCandidate& best = fitting[i].front();
      pc.decision = "finetune";
      pc.chosen_model = best.model;
      pc.chosen_path = best.path;
      std::string why = best.probe.ran ? "the lowest zero-shot loss on the cluster's calls among the probed ("
                                             + std::to_string(best.probe.loss_per_token).substr(0, 6) + " nats/token)"
                                       : "score " + std::to_string(best.score).substr(0, 6) + " from its prior " + std::to_string(best.prior).substr(0, 5) +
                                             " and size (no candidate of this cluster was probed)";
      pc.reason = best.model + " ranks first of " + std::to_string(fitting[i].size()) + " fitting candidates: " + why +
                  (best.path.empty() ? "; it is not local: download it and list its directory in select.model_paths"
                                     : sc.prefer_local ? "; available locally (select.prefer_local)" : "; available locally");
      const CatalogEntry& e = *std::find_if(entries.begin(), entries.end(), [&](const CatalogEntry& x) { return x.id == best.model; });
      pc.finetune = finetune_settings(config, pc, e.context);
      ++finetune;
    }
    size_t keep = std::min<size_t>(fitting[i].size(), static_cast<size_t>(sc.candidates));
    pc.candidates.assign(fitting[i].begin(), fitting[i].begin() + static_cast<long>(keep));
    pc.others.assign(fitting[i].begin() + static_cast<long>(keep), fitting[i].end());
    pc.others.insert(pc.others.end(), excluded[i].begin(), excluded[i].end());
  }

  write_file_atomic(writer.staging_dir() / "plan.yaml", plan_to_yaml(plan));
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int llm = static_cast<int>(plan.clusters_list.size()) - finetune;
  writer.stats() = {{"clusters", plan.clusters_list.size()}, {"finetune", finetune}, {"llm", llm}, {"catalog_models", entries.size()},
                    {"probes_run", probes_run}, {"probes_skipped", probes_skipped}, {"warnings", warnings.size()}, {"seconds", seconds}};
  ArtifactManifest m = writer.commit();
  for (const PlanCluster& c : plan.clusters_list)
    log_info("select: cluster " + std::to_string(c.id) + " (" + c.kind + ", " + n_calls(c.calls) + "): " + c.decision +
             (c.chosen_model.empty() ? "" : " with " + c.chosen_model) + (c.decision == "llm" ? " (" + c.reason + ")" : ""));
  (void)ctx;
  json out = plan_to_json(plan);
  out["stage"] = "select";
  out["output"] = io.output;
  out["plan"] = (fs::path(io.output) / "plan.yaml").string();
  out["finetune_clusters"] = finetune;
  out["llm_clusters"] = llm;
  out["probes_run"] = probes_run;
  out["probes_skipped"] = probes_skipped;
  out["seconds"] = seconds;
  out["digest"] = m.digest;
  return out;
}

std::string select_explain(const fs::path& select_dir, int64_t cluster) {
  fs::path p = select_dir / "plan.yaml";
  std::error_code ec;
  if (!fs::exists(p, ec)) throw_io(p.string(), "no plan.yaml", "run `slmify select CLUSTER_DIR -o " + select_dir.string() + "` first");
  return plan_explain(plan_from_yaml(read_file(p), p.string()), cluster);
}

}  // namespace slmify
