// One retrain cycle (step six): new calls in, drift measured, adapters retrained where there is
// enough new data, compared with the serving ones on the same held-out calls, promoted per cluster
// only when better, registered with a refreshed router. See retrain.h and docs/retrain.md.
#include "retrain/retrain.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <set>

#include "cluster/cluster.h"
#include "core/artifact.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "core/lock.h"
#include "core/log.h"
#include "retrain/registry.h"

namespace slmify {
namespace fs = std::filesystem;

namespace {

std::string cycle_name(int64_t n) {
  char b[32];
  std::snprintf(b, sizeof b, "cycle-%04lld", static_cast<long long>(n));
  return b;
}

bool committed(const fs::path& dir) {
  std::error_code ec;
  return fs::exists(dir / "manifest.json", ec);
}

json read_json(const fs::path& p) {
  try {
    return json::parse(read_file(p));
  } catch (const json::exception& e) {
    throw_bad_data(p.string(), std::string("is not valid JSON: ") + e.what(), "remove the cycle directory and run retrain again");
  }
}

uint64_t records_of(const fs::path& dataset) { return manifest_read(dataset).records(); }

std::set<std::string> ids_of(const fs::path& dataset, const ReadOptions& ro) {
  std::set<std::string> ids;
  DatasetReader r(dataset, ro);
  json rec;
  while (r.next(rec)) ids.insert(rec.value("id", std::string()));
  return ids;
}

int64_t cluster_of(const json& rec) {
  if (!rec.contains("ann") || !rec["ann"].contains("cluster") || !rec["ann"]["cluster"].is_object()) return -1;
  return rec["ann"]["cluster"].value("id", int64_t{-1});
}

// The primary metric of cluster `id` in an eval report (null when it was not evaluated).
json metric_of(const json& report, int64_t id) {
  for (const json& r : report.value("clusters", json::array())) {
    if (r.value("id", int64_t{-99}) != id) continue;
    if (!r.contains("primary_metric") || !r.contains("slm") || !r["slm"].is_object()) return nullptr;
    const std::string k = r["primary_metric"].get<std::string>();
    json out = {{"metric", k}, {"value", r["slm"].value(k, json(nullptr))}, {"replaceable", r.value("replaceable", false)},
                {"evaluated", r.value("evaluated", json(0))}, {"threshold", r.value("threshold", json(nullptr))}};
    if (!out["value"].is_number()) return nullptr;
    return out;
  }
  return nullptr;
}

// A cluster dataset: the records of `sources` in order, each passed through `edit` (false drops
// it), with the reference files of `clusters_dir` (clusters.json, centroids, embedder) that eval,
// the router and assignment need, recorded the way the cluster stage records them.
void write_data(const PipelineConfig& config, const std::vector<fs::path>& sources, const fs::path& clusters_dir, const fs::path& out,
                const ReadOptions& ro, const std::function<bool(json&)>& edit = nullptr) {
  WriterOptions wo;
  stage_writer_options(config, "cluster", "cluster", wo);
  wo.file_mode = 0600;
  for (const fs::path& src : sources) wo.inputs.push_back(DatasetReader(src, ro).input_ref());
  DatasetWriter w(out, wo);
  json rec;
  for (const fs::path& src : sources) {
    DatasetReader r(src, ro);
    while (r.next(rec))
      if (!edit || edit(rec)) w.write(rec);
  }
  Manifest ref = manifest_read(clusters_dir);
  json files = json::object();
  const json ref_files = ref.stats.value("files", json::object());
  for (const auto& [name, sum] : ref_files.items()) {
    if (name == "report.html" || name == "assignment.json") continue;
    fs::copy_file(clusters_dir / name, w.staging_dir() / name);
    files[name] = sha256_file(w.staging_dir() / name);
  }
  w.stats() = ref.stats;
  w.stats()["files"] = files;
  w.commit();
}

// Drift: outliers, change in cluster shares, and whether the outliers hold a new recurring task
// (a group of at least min_cluster_size calls most of which share one prompt template or system prompt).
json measure_drift(const PipelineConfig& config, const RetrainStageFn& cluster, const json& assignment, const fs::path& assigned, const fs::path& cycle,
                   const ReadOptions& ro, const Context& ctx) {
  const RetrainConfig& rc = config.retrain;
  json d = {{"outlier_share", assignment.value("outlier_share", 0.0)}, {"outliers", assignment.value("outliers", 0)}};
  double max_change = 0;
  json changes = json::array();
  for (const json& c : assignment.value("clusters", json::array())) {
    double ch = c.value("share_change", 0.0);
    changes.push_back({{"id", c["id"]}, {"label", c.value("label", "")}, {"share", c.value("share_calls", 0.0)},
                       {"reference_share", c.value("reference_share_calls", 0.0)}, {"change", ch}});
    max_change = std::max(max_change, std::abs(ch));
  }
  d["max_share_change"] = max_change;
  d["clusters"] = changes;
  json groups = json::array();
  const int64_t outliers = assignment.value("outliers", int64_t{0});
  const int64_t min_size = config.cluster.min_cluster_size;
  if (outliers >= min_size) {
    const fs::path odir = cycle / "outliers", gdir = cycle / "outlier-groups";
    if (!committed(odir)) {
      WriterOptions wo;
      stage_writer_options(config, "retrain", "retrain", wo);
      wo.file_mode = 0600;
      DatasetReader r(assigned, ro);
      wo.inputs = {r.input_ref()};
      DatasetWriter w(odir, wo);
      json rec;
      while (r.next(rec)) {
        bool is_out = rec.contains("ann") && rec["ann"].contains("cluster") && rec["ann"]["cluster"].value("outlier", false);
        if (!is_out) {
          w.drop("not an outlier");
          continue;
        }
        rec["ann"].erase("cluster");
        rec["ann"].erase("split");
        w.write(rec);
      }
      w.commit();
    }
    if (!committed(gdir)) {
      PipelineConfig gc = config;
      gc.cluster.k.is_auto = outliers >= 2 * min_size;
      gc.cluster.k.value = 1;
      gc.cluster.k_min = 2;
      gc.cluster.k_max = std::max<int64_t>(2, std::min<int64_t>(8, outliers / min_size));
      gc.cluster.eval_fraction = 0;
      gc.cluster.eval_min = 0;
      cluster(gc, StageIO{{odir.string()}, gdir.string()}, ctx);
    }
    json cj = read_json(gdir / "clusters.json");
    for (const json& g : cj.value("clusters", json::array())) {
      const int64_t size = g.value("size", int64_t{0});
      if (size < min_size) continue;
      int64_t top_template = 0, top_system = 0;
      for (const json& t : g.value("templates", json::array())) top_template = std::max(top_template, t.value("calls", int64_t{0}));
      for (const json& s : g.value("system_prompts", json::array())) top_system = std::max(top_system, s.value("calls", int64_t{0}));
      const double shared = static_cast<double>(std::max(top_template, top_system)) / static_cast<double>(size);
      json row = {{"calls", size}, {"label", g.value("label", "")}, {"shared_prompt_share", shared}, {"new_task", shared >= 0.5}};
      if (!g.value("system_prompts", json::array()).empty()) row["system"] = g["system_prompts"][0].value("system", "");
      groups.push_back(row);
    }
  }
  d["outlier_groups"] = groups;
  json reasons = json::array();
  if (d["outlier_share"].get<double>() > rc.drift_outlier_share)
    reasons.push_back("outlier share " + std::to_string(d["outlier_share"].get<double>()).substr(0, 5) + " > retrain.drift_outlier_share " +
                      std::to_string(rc.drift_outlier_share).substr(0, 5));
  if (max_change > rc.drift_share_change)
    reasons.push_back("a cluster's share changed by " + std::to_string(max_change).substr(0, 5) + " > retrain.drift_share_change " +
                      std::to_string(rc.drift_share_change).substr(0, 5));
  for (const json& g : groups)
    if (g["new_task"].get<bool>())
      reasons.push_back("the outliers hold a new recurring task (" + std::to_string(g["calls"].get<int64_t>()) + " calls: " +
                        g["label"].get<std::string>() + ")");
  d["drift"] = !reasons.empty();
  d["reasons"] = reasons;
  return d;
}

// The files of a version: adapters.json, the adapter directories, router/ with router.json
// pointing at the adapters where the version will live, and the eval report they were judged by.
std::vector<std::pair<fs::path, std::string>> version_entries(const json& adapters, const std::map<std::string, fs::path>& dirs,
                                                              const json& router, const fs::path& router_files,
                                                              const fs::path& report, const fs::path& staging) {
  fs::create_directories(staging / "router");
  write_file_atomic(staging / "adapters.json", adapters.dump(2) + "\n");
  write_file_atomic(staging / "router" / "router.json", router.dump(2) + "\n");
  std::vector<std::pair<fs::path, std::string>> e = {{staging / "adapters.json", "adapters.json"},
                                                     {staging / "router" / "router.json", "router/router.json"},
                                                     {report, "eval-report.json"}};
  for (const char* f : {"centroids.faiss", "embedder.bin", "clusters.json"}) {
    std::error_code ec;
    if (fs::exists(router_files / f, ec)) e.push_back({router_files / f, std::string("router/") + f});
  }
  for (const auto& [name, dir] : dirs) e.push_back({dir, name});
  return e;
}

// Rewrites a router's adapter paths to where a version's adapters live.
void point_router(json& router, const fs::path& version_dir) {
  router["finetune_dir"] = version_dir.string();
  for (json& c : router["clusters"])
    if (c.contains("adapter") && c["adapter"].is_string()) c["adapter_dir"] = (version_dir / c["adapter"].get<std::string>()).string();
}

json version_info(int64_t cycle, const std::string& source, const json& report, const json& extra) {
  json t = report.value("totals", json::object());
  json on_slm = json::array();
  for (const json& r : report.value("clusters", json::array()))
    if (r.value("replaceable", false)) on_slm.push_back(r["id"]);
  json info = {{"cycle", cycle}, {"source", source}, {"replaceable_share", t.value("share_calls", 0.0)}, {"clusters_on_slm", on_slm}};
  info.update(extra);
  return info;
}

}  // namespace

json retrain_run(const PipelineConfig& config, const Context& ctx, const RetrainOptions& o) {
  const RetrainConfig& rc = config.retrain;
  const fs::path W = fs::path(config.workdir), R = W / "retrain";
  for (const char* d : {"cluster", "finetune", "eval"})  // checked before the lock, which creates WORK
    if (!committed(W / d))
      throw_usage((W / d).string(), "is missing: retrain starts from a pipeline that has run through eval",
                  "run `slmify run PIPELINE` first (stages collect .. eval)");
  WorkdirLock lock = WorkdirLock::acquire(W, o.command, o.lock_wait_s);
  const auto t0 = std::chrono::steady_clock::now();
  ReadOptions ro;
  stage_read_options(config, ro);
  fs::create_directories(R);
  json st = fs::exists(R / "state.json") ? read_json(R / "state.json")
                                         : json{{"completed", 0}, {"data", (W / "cluster").string()}, {"clusters_dir", (W / "cluster").string()}};
  fs::path data = st["data"].get<std::string>(), clusters_dir = st["clusters_dir"].get<std::string>();
  Registry reg(W / "registry");

  // The first cycle registers what `slmify run` made as version 1, serving.
  if (!reg.serving()) {
    const fs::path ft = W / "finetune", ev = W / "eval";
    json adapters = read_json(ft / "adapters.json"), router = read_json(ev / "router" / "router.json");
    const std::string id = reg.next_id();
    point_router(router, reg.version_dir(id));
    std::map<std::string, fs::path> dirs;
    for (const json& a : adapters.value("adapters", json::array())) dirs[a.value("dir", "")] = ft / a.value("dir", "");
    auto entries = version_entries(adapters, dirs, router, ev / "router", ev / "report.json", R / "bootstrap.tmp");
    json info = version_info(0, "slmify run", read_json(ev / "report.json"),
                             {{"data", (W / "cluster").string()}, {"clusters_dir", (W / "cluster").string()}});
    info["reason"] = "the adapters and router of `slmify run`";
    reg.add(entries, info, Actor{o.who, info["reason"]});
    reg.promote(id, Actor{o.who, "initial version: what `slmify run` evaluated"});
    std::error_code ec;
    fs::remove_all(R / "bootstrap.tmp", ec);
  }
  const std::string serving = *reg.serving();
  const fs::path serving_dir = reg.version_dir(serving);
  // A version promoted or rolled back to by hand may have been made on another clustering (a
  // re-clustered cycle): new calls are then placed in that version's clusters, on its data.
  for (const json& v : reg.list()) {
    if (v.value("id", "") != serving) continue;
    const json info = v.value("info", json::object());
    const fs::path vc = info.value("clusters_dir", std::string()), vd = info.value("data", std::string());
    std::error_code ec;
    if (!vc.empty() && vc != clusters_dir && committed(vc) && committed(vd)) {
      log_warn("retrain: " + serving + " serves the clusters of " + vc.string() + "; new calls are placed in those (data " + vd.string() + ")");
      clusters_dir = vc, data = vd;
      st["clusters_dir"] = vc.string(), st["data"] = vd.string();
    }
  }

  const int64_t n = st.value("completed", int64_t{0}) + 1;
  const fs::path C = R / cycle_name(n);
  fs::create_directories(C);
  json report = {{"format", "slmify-retrain-cycle"}, {"version", 1}, {"cycle", n}, {"serving_before", serving}, {"data_before", data.string()}};
  log_info("retrain: cycle " + std::to_string(n) + " in " + C.string() + " (serving " + serving + ")");

  // Ends the cycle: the report, the collect state and the data become the next cycle's start.
  auto finish = [&](const std::string& outcome, const std::string& why, const fs::path& new_data, const fs::path& new_clusters = {}) {
    report["outcome"] = outcome;
    report["why"] = why;
    report["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    report["serving_after"] = reg.serving() ? json(*reg.serving()) : json(nullptr);
    write_file_atomic(C / "report.json", report.dump(2) + "\n");
    std::error_code ec;
    if (fs::exists(C / "collect-state.json", ec)) write_file_atomic(R / "collect-state.json", read_file(C / "collect-state.json"));
    json next = st;
    next["completed"] = n;
    next["data"] = new_data.string();
    if (!new_clusters.empty()) next["clusters_dir"] = new_clusters.string();
    next["last"] = {{"cycle", n}, {"outcome", outcome}, {"why", why}};
    write_file_atomic(R / "state.json", next.dump(2) + "\n");
    // Intermediate datasets go; the report and the data the next cycle starts from stay.
    for (const char* d : {"collect", "scrub", "new", "assigned", "outliers", "all", "cluster"}) fs::remove_all(C / d, ec);
    if (new_data != C / "data") fs::remove_all(C / "data", ec);
    // An earlier cycle's data, unless it still holds the clustering new calls are placed in.
    if (new_data != data && data.parent_path().parent_path() == R && fs::path(next["clusters_dir"].get<std::string>()) != data)
      fs::remove_all(data, ec);
    std::vector<std::string> pruned = reg.prune(rc.keep_versions, Actor{o.who, "retrain.keep_versions is " + std::to_string(rc.keep_versions)});
    if (!pruned.empty()) report["pruned"] = pruned;
    log_info("retrain: cycle " + std::to_string(n) + ": " + outcome + " (" + why + ")");
    return report;
  };

  // 1. Collect what is new since the last cycle, into this cycle's copy of the collect state.
  PipelineConfig cc = config;
  cc.collect.state = (C / "collect-state.json").string();
  {
    std::error_code ec;
    if (!fs::exists(C / "collect-state.json", ec) && fs::exists(R / "collect-state.json", ec))
      write_file_atomic(C / "collect-state.json", read_file(R / "collect-state.json"));
  }
  if (!committed(C / "collect")) {
    try {
      o.collect(cc, StageIO{config.collect.inputs, (C / "collect").string()}, ctx);
    } catch (const Error& e) {
      if (e.code() != ExitCode::nothing_to_do) throw;
    }
  }
  if (!committed(C / "collect") || records_of(C / "collect") == 0) return finish("nothing_new", "no new calls in the logs since the last cycle", data);
  report["collected"] = records_of(C / "collect");

  // 2. Scrub with the same settings (its report goes to the cycle, not over the pipeline's).
  PipelineConfig sc = config;
  if (!sc.scrub.report.empty()) sc.scrub.report = (C / "scrub-report.txt").string();
  if (!committed(C / "scrub")) {
    try {
      o.scrub(sc, StageIO{{(C / "collect").string()}, (C / "scrub").string()}, ctx);
    } catch (const Error& e) {
      if (e.code() != ExitCode::nothing_to_do) throw;
    }
  }
  if (!committed(C / "scrub") || records_of(C / "scrub") == 0) return finish("nothing_new", "every new call was dropped by scrub", data);

  // 3. Only calls the data does not hold yet (the first cycle re-reads the logs `slmify run` read).
  if (!committed(C / "new")) {
    std::set<std::string> known = ids_of(data, ro);
    WriterOptions wo;
    stage_writer_options(config, "retrain", "retrain", wo);
    wo.file_mode = 0600;
    DatasetReader r(C / "scrub", ro);
    wo.inputs = {r.input_ref()};
    DatasetWriter w(C / "new", wo);
    json rec;
    while (r.next(rec)) {
      if (known.count(rec.value("id", std::string()))) w.drop("already in the data");
      else w.write(rec);
    }
    w.commit();
  }
  report["new_calls"] = records_of(C / "new");
  if (records_of(C / "new") == 0) return finish("nothing_new", "the new log lines hold only calls already in the data", data);

  // 4. Place the new calls in the existing clusters; 5. drift.
  if (!committed(C / "assigned")) cluster_assign(config, StageIO{{(C / "new").string()}, (C / "assigned").string()}, clusters_dir.string(), ctx);
  json assignment = read_json(C / "assigned" / "assignment.json");
  json drift = measure_drift(config, o.cluster, assignment, C / "assigned", C, ro, ctx);
  const bool recluster = drift["drift"].get<bool>() && rc.recluster == "auto";
  if (drift["drift"].get<bool>()) {
    drift["action"] = rc.recluster == "never" ? "none (retrain.recluster: never)"
                      : recluster             ? "re-clustering every call (retrain.recluster: auto)"
                                              : "re-clustering proposed (retrain.recluster: propose): run `slmify retrain PIPELINE --recluster auto`, "
                                                "or `slmify run PIPELINE --from cluster --force` to start over";
    for (const json& r : drift["reasons"]) log_warn("retrain: drift: " + r.get<std::string>());
  }
  report["drift"] = drift;

  // 6. The data grows by the new calls; held-out calls of earlier cycles stay held out.
  if (!committed(C / "data")) write_data(config, {data, C / "assigned"}, clusters_dir, C / "data", ro);

  // 6b. retrain.recluster: auto, on drift: every call so far clustered afresh, new clusters and
  // splits (a call held out before stays held out, one trained on stays in training), select and
  // fine-tune from scratch, and the new version judged as a whole (cluster ids changed, so there
  // is no per-cluster comparison): promoted when it moves a larger share of calls to small models.
  if (recluster) {
    std::map<std::string, std::string> prior;
    {
      DatasetReader r(data, ro);
      json rec;
      while (r.next(rec)) prior[rec.value("id", std::string())] = rec.contains("ann") ? rec["ann"].value("split", std::string("train")) : "train";
    }
    if (!committed(C / "all")) {
      WriterOptions wo;
      stage_writer_options(config, "retrain", "retrain", wo);
      wo.file_mode = 0600;
      for (const fs::path& src : {data, C / "new"}) wo.inputs.push_back(DatasetReader(src, ro).input_ref());
      DatasetWriter w(C / "all", wo);
      json rec;
      for (const fs::path& src : {data, C / "new"}) {
        DatasetReader r(src, ro);
        while (r.next(rec)) {
          if (rec.contains("ann")) rec["ann"].erase("cluster"), rec["ann"].erase("split");
          w.write(rec);
        }
      }
      w.commit();
    }
    if (!committed(C / "cluster")) o.cluster(config, StageIO{{(C / "all").string()}, (C / "cluster").string()}, ctx);
    if (!committed(C / "redata"))
      write_data(config, {C / "cluster"}, C / "cluster", C / "redata", ro, [&](json& rec) {
        auto it = prior.find(rec.value("id", std::string()));
        if (it != prior.end()) rec["ann"]["split"] = it->second;
        return true;
      });
    const json cj = read_json(C / "redata" / "clusters.json");
    StageIO fio{{(C / "redata").string()}, (C / "finetune").string()};
    if (committed(W / "select") && o.select) {
      if (!committed(C / "select")) o.select(config, StageIO{{(C / "redata").string()}, (C / "select").string()}, ctx);
      fio.inputs.push_back((C / "select" / "plan.yaml").string());
    }
    PipelineConfig nc = config;
    nc.finetune.init_from.clear();
    nc.finetune.clusters.clear();
    if (!committed(C / "finetune")) {
      try {
        o.finetune(nc, fio, ctx);
      } catch (const Error& e) {
        if (e.code() != ExitCode::nothing_to_do) throw;
        return finish("kept", "after re-clustering no cluster could be trained (see the warnings above)", C / "data");
      }
    }
    if (!committed(C / "eval-new")) o.eval(config, StageIO{{(C / "redata").string(), (C / "finetune").string()}, (C / "eval-new").string()}, ctx);
    // The serving version on the same grown traffic, in its own clusters (the new task's calls are
    // outliers there and stay on the LLM): both shares are over the same calls.
    if (!committed(C / "eval-serving")) o.eval(config, StageIO{{(C / "data").string(), serving_dir.string()}, (C / "eval-serving").string()}, ctx);
    const json rn = read_json(C / "eval-new" / "report.json"), rs = read_json(C / "eval-serving" / "report.json");
    const double serving_share = rs["totals"].value("share_calls", 0.0), new_share = rn["totals"].value("share_calls", 0.0);
    const bool better = new_share > serving_share && new_share - serving_share >= rc.promote_margin;
    report["recluster"] = {{"clusters", cj.value("clusters", json::array()).size()}, {"k", cj.value("k", json(nullptr))},
                           {"replaceable_share", new_share}, {"serving_replaceable_share", serving_share}, {"promote", better}};
    json registered;
    if (fs::exists(C / "registered.json")) registered = read_json(C / "registered.json");
    if (registered.is_null()) {
      const std::string id = reg.next_id();
      json adapters = read_json(C / "finetune" / "adapters.json");
      json router = read_json(C / "eval-new" / "router" / "router.json");
      std::map<std::string, fs::path> dirs;
      for (json& a : adapters["adapters"]) a["trained_in_cycle"] = n, dirs[a.value("dir", "")] = C / "finetune" / a.value("dir", "");
      point_router(router, reg.version_dir(id));
      auto entries = version_entries(adapters, dirs, router, C / "eval-new" / "router", C / "eval-new" / "report.json", C / "version.tmp");
      json info = version_info(n, "retrain, re-clustered", rn,
                               {{"reclustered", true}, {"data", (C / "redata").string()}, {"clusters_dir", (C / "redata").string()}});
      char b[160];
      std::snprintf(b, sizeof b, "cycle %lld re-clustered into %zu tasks: %.1f%% of calls move to small models (serving %s: %.1f%%)",
                    static_cast<long long>(n), cj.value("clusters", json::array()).size(), 100 * new_share, serving.c_str(), 100 * serving_share);
      info["reason"] = b;
      reg.add(entries, info, Actor{o.who, b});
      registered = {{"version", id}, {"promote", better}, {"why", b}};
      write_file_atomic(C / "registered.json", registered.dump() + "\n");
      std::error_code ec;
      fs::remove_all(C / "version.tmp", ec);
    }
    const std::string vid = registered["version"].get<std::string>();
    report["registered"] = vid;
    if (!registered["promote"].get<bool>())
      return finish("kept", registered["why"].get<std::string>() + "; not better by retrain.promote_margin, " + vid + " is registered as a candidate",
                    C / "data");
    if (reg.serving() != vid) reg.promote(vid, Actor{o.who, registered["why"].get<std::string>()});
    return finish("promoted", registered["why"].get<std::string>() + "; " + vid + " now serves", C / "redata", C / "redata");
  }
  std::map<int64_t, int64_t> fresh;
  {
    DatasetReader r(C / "assigned", ro);
    json rec;
    while (r.next(rec)) ++fresh[cluster_of(rec)];
  }
  json per_cluster = json::object();
  for (auto& [id, k] : fresh) per_cluster[std::to_string(id)] = k;
  report["new_calls_by_cluster"] = per_cluster;

  // 7. Which clusters have enough new calls (and are fine-tuned at all: an adapter serves or the plan trains them).
  json serving_adapters = read_json(serving_dir / "adapters.json");
  std::map<int64_t, json> serving_by_cluster;
  for (const json& a : serving_adapters.value("adapters", json::array()))
    if (a.contains("cluster") && a["cluster"].is_number_integer()) serving_by_cluster[a["cluster"].get<int64_t>()] = a;
  std::vector<std::string> chosen;
  json not_chosen = json::array();
  for (auto& [id, k] : fresh) {
    if (id < 0) continue;
    if (k < rc.min_new_calls) {
      not_chosen.push_back({{"cluster", id}, {"new_calls", k}, {"reason", "fewer new calls than retrain.min_new_calls"}});
      continue;
    }
    chosen.push_back(std::to_string(id));
  }
  report["retrain_clusters"] = chosen;
  report["not_retrained"] = not_chosen;
  if (chosen.empty()) return finish("kept", "no cluster has retrain.min_new_calls (" + std::to_string(rc.min_new_calls) + ") new calls; the data grew, the serving version stays", C / "data");

  // 8. Fine-tune again, from the serving adapters or from scratch.
  PipelineConfig fc = config;
  fc.finetune.clusters = chosen;
  if (rc.init_from == "serving") fc.finetune.init_from = serving_dir.string();
  StageIO fio{{(C / "data").string()}, (C / "finetune").string()};
  if (committed(W / "select")) fio.inputs.push_back((W / "select" / "plan.yaml").string());
  if (!committed(C / "finetune")) {
    try {
      o.finetune(fc, fio, ctx);
    } catch (const Error& e) {
      if (e.code() != ExitCode::nothing_to_do) throw;
      return finish("kept", "no chosen cluster could be trained (see the warnings above)", C / "data");
    }
  }

  // 9. The new adapters and the serving ones on the same held-out calls.
  if (!committed(C / "eval-serving")) o.eval(config, StageIO{{(C / "data").string(), serving_dir.string()}, (C / "eval-serving").string()}, ctx);
  if (!committed(C / "eval-new")) o.eval(config, StageIO{{(C / "data").string(), (C / "finetune").string()}, (C / "eval-new").string()}, ctx);
  const json rs = read_json(C / "eval-serving" / "report.json"), rn = read_json(C / "eval-new" / "report.json");

  // 10. Promote per cluster only what beats the serving adapter by the margin.
  json new_adapters = read_json(C / "finetune" / "adapters.json");
  json comparison = json::array();
  std::set<int64_t> promoted;
  std::map<int64_t, json> new_by_cluster;
  for (const json& a : new_adapters.value("adapters", json::array()))
    if (a.contains("cluster") && a["cluster"].is_number_integer()) new_by_cluster[a["cluster"].get<int64_t>()] = a;
  for (auto& [id, a] : new_by_cluster) {
    json s = metric_of(rs, id), m = metric_of(rn, id);
    json row = {{"cluster", id}, {"serving", s}, {"new", m}};
    bool better = false;
    if (!m.is_object()) {
      row["reason"] = "the new adapter was not evaluated (no held-out calls)";
    } else if (!serving_by_cluster.count(id) || !s.is_object()) {
      better = m["replaceable"].get<bool>();
      row["reason"] = better ? "no serving adapter, and the new one reaches the threshold" : "no serving adapter, and the new one stays below the threshold";
    } else {
      const double dv = m["value"].get<double>() - s["value"].get<double>();
      row["gain"] = dv;
      better = dv >= rc.promote_margin && dv > 0;
      row["reason"] = (better ? "better by " : "not better by retrain.promote_margin: ") + std::to_string(dv).substr(0, 6);
    }
    row["promote"] = better;
    if (better) promoted.insert(id);
    comparison.push_back(row);
  }
  report["comparison"] = comparison;

  // 11. Register: the best of both when anything improved (promoted), else the challenger (a candidate).
  json registered;
  if (fs::exists(C / "registered.json")) registered = read_json(C / "registered.json");
  if (registered.is_null()) {
    const std::string id = reg.next_id();
    const fs::path vdir = reg.version_dir(id);
    json router = read_json(C / "eval-serving" / "router" / "router.json");
    const json router_new = read_json(C / "eval-new" / "router" / "router.json");
    json adapters = serving_adapters;
    adapters["adapters"] = json::array();
    std::map<std::string, fs::path> dirs;
    std::set<int64_t> take_new = promoted.empty() ? [&] {
      std::set<int64_t> all;
      for (auto& [cid, a] : new_by_cluster) all.insert(cid);
      return all;
    }()
                                                  : promoted;
    for (const json& a : serving_adapters.value("adapters", json::array())) {
      int64_t cid = a.contains("cluster") && a["cluster"].is_number_integer() ? a["cluster"].get<int64_t>() : -2;
      if (take_new.count(cid)) continue;
      adapters["adapters"].push_back(a);
      dirs[a.value("dir", "")] = serving_dir / a.value("dir", "");
    }
    for (int64_t cid : take_new) {
      json a = new_by_cluster[cid];
      a["trained_in_cycle"] = n;
      adapters["adapters"].push_back(a);
      dirs[a.value("dir", "")] = C / "finetune" / a.value("dir", "");
      for (json& rcl : router["clusters"])
        if (rcl.value("id", int64_t{-99}) == cid)
          for (const json& nc : router_new["clusters"])
            if (nc.value("id", int64_t{-99}) == cid) rcl = nc;
    }
    point_router(router, vdir);
    auto entries = version_entries(adapters, dirs, router, C / "eval-serving" / "router", C / "eval-new" / "report.json", C / "version.tmp");
    // What the version moves: the serving report's rows, with the new rows of the clusters it takes new.
    json composed = rs;
    double moved = 0, all = 0;
    json on_slm = json::array();
    for (json& row : composed["clusters"]) {
      const int64_t cid = row.value("id", int64_t{-99});
      if (take_new.count(cid))
        for (const json& nr : rn.value("clusters", json::array()))
          if (nr.value("id", int64_t{-99}) == cid) row = nr;
      all += row.value("calls", 0.0);
      if (row.value("replaceable", false)) moved += row.value("calls", 0.0), on_slm.push_back(cid);
    }
    json info = version_info(n, "retrain", rs, {{"promoted_clusters", json(promoted)}, {"new_adapters", json(take_new)},
                                                {"data", (C / "data").string()}, {"clusters_dir", clusters_dir.string()},
                                                {"replaceable_share", all > 0 ? moved / all : 0.0}, {"clusters_on_slm", on_slm}});
    // The share of calls the version moves: the serving report's, with promoted clusters' rows from the new one.
    const std::string why = promoted.empty() ? "challenger of cycle " + std::to_string(n) + ": no new adapter beat the serving one"
                                             : "cycle " + std::to_string(n) + ": " + std::to_string(promoted.size()) + " adapter(s) better than " + serving;
    info["reason"] = why;
    reg.add(entries, info, Actor{o.who, why});
    registered = {{"version", id}, {"promote", !promoted.empty()}, {"why", why}};
    write_file_atomic(C / "registered.json", registered.dump() + "\n");
    std::error_code ec;
    fs::remove_all(C / "version.tmp", ec);
  }
  const std::string vid = registered["version"].get<std::string>();
  report["registered"] = vid;
  if (!registered["promote"].get<bool>()) return finish("kept", registered["why"].get<std::string>() + "; " + vid + " is registered as a candidate", C / "data");
  if (reg.serving() != vid) reg.promote(vid, Actor{o.who, registered["why"].get<std::string>()});
  return finish("promoted", registered["why"].get<std::string>() + "; " + vid + " now serves", C / "data");
}

}  // namespace slmify
