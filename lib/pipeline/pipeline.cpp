// `slmify run`: the plan (inputs and outputs per stage, up-to-date checks against manifests) and
// running it under the work directory's lock.
#include "pipeline/pipeline.h"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "collect/input.h"
#include "core/artifact.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/lock.h"
#include "core/log.h"
#include "slmify/version.h"

namespace slmify {
namespace fs = std::filesystem;

bool stage_available(const std::string& stage) {
  return std::find(kStageNames.begin(), kStageNames.end(), stage) != kStageNames.end();
}

StageIO pipeline_stage_io(const PipelineConfig& c, const std::string& stage) {
  fs::path w = c.workdir;
  StageIO io;
  if (stage == "collect") {
    io.inputs = c.collect.inputs;
  } else if (stage == "scrub") {
    io.inputs = {(w / "collect").string()};
  } else if (stage == "cluster") {
    io.inputs = {(w / "scrub").string()};
  } else if (stage == "pretrain" || stage == "select") {
    io.inputs = {(w / "cluster").string()};
  } else if (stage == "finetune") {
    io.inputs = {(w / "cluster").string(), (w / "select" / "plan.yaml").string()};
  } else if (stage == "eval") {
    io.inputs = {(w / "cluster").string(), (w / "finetune").string()};
  }
  io.output = (w / stage).string();
  return io;
}

// An output is up to date when its manifest records this version, the same config digest and,
// for every input it recorded, the digest that input has now.
bool pipeline_stage_up_to_date(const PipelineConfig& c, const std::string& stage, std::string& reason) {
  const StageIO io = pipeline_stage_io(c, stage);
  std::error_code ec;
  if (!fs::exists(fs::path(io.output) / "manifest.json", ec)) return reason = "no output yet", false;
  // Datasets (collect, scrub, cluster) and artifacts (the others) record the same provenance.
  std::string version, digest;
  std::vector<InputRef> inputs;
  try {
    json head = json::parse(read_file(fs::path(io.output) / "manifest.json"));
    if (head.value("format", "") == kArtifactFormat) {
      ArtifactManifest a = artifact_read(io.output);
      if (!artifact_verify(io.output, a).empty()) return reason = "output files changed since they were written", false;
      version = a.slmify_version;
      digest = a.config_digest;
      inputs = a.inputs;
    } else {
      Manifest m = manifest_read(io.output);
      version = m.slmify_version;
      digest = m.config_digest;
      inputs = m.inputs;
    }
  } catch (const Error& e) {
    return reason = "output unreadable (" + e.problems().front().what + ")", false;
  } catch (const json::exception&) {
    return reason = "output unreadable (manifest.json is not valid JSON)", false;
  }
  if (version != SLMIFY_VERSION) return reason = "output made by slmify " + version, false;
  WriterOptions wo;
  stage_writer_options(c, stage, stage, wo);
  if (digest != config_digest(wo.config)) return reason = "config changed", false;
  for (const InputRef& in : inputs) {
    std::string now = input_digest_now(in.path);
    if (now.empty()) return reason = "input " + in.path + " missing or unreadable", false;
    if (now != in.digest) return reason = "input " + in.path + " changed", false;
  }
  // A directory of logs may also have gained files since.
  if (stage == "collect") {
    std::vector<std::string> listed;
    for (const InputRef& in : inputs) listed.push_back(in.path);
    try {
      std::vector<std::string> now;
      for (const InputFile& f : input_expand(io.inputs)) now.push_back(f.path);
      if (now != listed) return reason = "the input files changed", false;
    } catch (const Error&) {
      return reason = "inputs missing", false;
    }
  }
  reason = "up to date";
  return true;
}

static std::vector<std::string> stages_in_range(const PipelineConfig& c, const StageRange& r) {
  const auto& s = c.stages;
  auto find = [&](const std::string& name, const char* flag) {
    auto it = std::find(s.begin(), s.end(), name);
    if (it == s.end()) {
      std::string have;
      for (const auto& x : s) have += (have.empty() ? "" : ", ") + x;
      throw_usage(std::string(flag) + " " + name, "is not one of this pipeline's stages", "choose one of: " + have);
    }
    return it;
  };
  auto b = r.from.empty() ? s.begin() : find(r.from, "--from");
  auto e = r.until.empty() ? s.end() : find(r.until, "--until") + 1;
  if (b >= e) throw_usage("--from " + r.from + " --until " + r.until, "selects no stage", "--from must not come after --until");
  return {b, e};
}

std::vector<PlannedStage> pipeline_plan(const PipelineConfig& config, const StageRange& range) {
  std::vector<PlannedStage> plan;
  for (const std::string& stage : stages_in_range(config, range)) {
    PlannedStage s;
    s.stage = stage;
    s.io = pipeline_stage_io(config, stage);
    s.available = stage_available(stage);
    s.up_to_date = pipeline_stage_up_to_date(config, stage, s.reason);
    if (!s.available) s.reason += "; not built into this version";
    plan.push_back(std::move(s));
  }
  return plan;
}

json pipeline_plan_json(const std::vector<PlannedStage>& plan) {
  json arr = json::array();
  for (const PlannedStage& s : plan)
    arr.push_back({{"stage", s.stage},
                   {"inputs", s.io.inputs},
                   {"output", s.io.output},
                   {"available", s.available},
                   {"action", s.up_to_date ? "skip" : "run"},
                   {"reason", s.reason}});
  return arr;
}

namespace {

// The stage's summary figures as its manifest recorded them (for a skipped stage).
json recorded_stats(const std::string& output) {
  try {
    json head = json::parse(read_file(fs::path(output) / "manifest.json"));
    if (head.value("format", "") == kArtifactFormat) return artifact_read(output).stats;
    Manifest m = manifest_read(output);
    json s = m.stats;
    s["in"] = m.accounting.in, s["out"] = m.accounting.out, s["dropped"] = m.accounting.dropped,
    s["quarantined"] = m.accounting.quarantined;
    return s;
  } catch (const std::exception&) {
    return json::object();
  }
}

// A few figures per stage for the summary line, from what its run() returned or its manifest.
std::string figures_of(const std::string& stage, const json& s) {
  auto num = [&](const char* k) -> std::string {
    if (s.contains(k) && s[k].is_object()) {  // counts by reason
      int64_t n = 0;
      for (const auto& [r, v] : s[k].items()) n += v.is_number() ? v.get<int64_t>() : 0;
      return std::to_string(n);
    }
    if (!s.contains(k) || !s[k].is_number()) return "?";
    return s[k].is_number_integer() ? std::to_string(s[k].get<int64_t>()) : s[k].dump();
  };
  auto pct = [](double x) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f%%", 100 * x);
    return std::string(b);
  };
  if (stage == "collect" || stage == "scrub")
    return num("in") + " in, " + num("out") + " out, " + num("dropped") + " dropped, " + num("quarantined") + " quarantined";
  if (stage == "cluster") {
    std::string k = s.contains("k") ? s["k"].dump() : s.contains("clusters") && s["clusters"].is_number() ? s["clusters"].dump() : "?";
    return k + " clusters of " + num("out") + " calls";
  }
  if (stage == "pretrain") {
    json loss = s.value("final_eval_loss", json(nullptr));
    return num("steps") + " steps, eval loss " + (loss.is_number() ? std::to_string(loss.get<double>()).substr(0, 6) : std::string("-"));
  }
  if (stage == "select") {
    auto count = [&](const char* k) -> std::string {
      if (!s.contains(k)) return "?";
      return s[k].is_array() ? std::to_string(s[k].size()) : s[k].dump();
    };
    if (s.contains("finetune_clusters")) return s["finetune_clusters"].dump() + " clusters to fine-tune, " + s.value("llm_clusters", json(0)).dump() + " stay on the LLM";
    return count("finetune") + " clusters to fine-tune, " + count("llm") + " stay on the LLM";
  }
  if (stage == "finetune") {
    size_t a = s.contains("adapters") ? (s["adapters"].is_array() ? s["adapters"].size() : s["adapters"].get<size_t>()) : 0;
    size_t k = s.contains("skipped") ? (s["skipped"].is_array() ? s["skipped"].size() : s["skipped"].get<size_t>()) : 0;
    return std::to_string(a) + " adapters, " + std::to_string(k) + " skipped";
  }
  if (stage == "eval" && s.contains("totals")) {
    const json& t = s["totals"];
    return std::to_string(t.value("clusters_replaceable", 0)) + " of " + std::to_string(t.value("clusters", 0)) +
           " clusters replaceable, " + pct(t.value("share_calls", 0.0)) + " of calls";
  }
  return "";
}

std::vector<std::string> reports_of(const std::string& stage, const PipelineConfig& c, const std::string& output) {
  std::vector<std::string> r;
  auto add = [&](const fs::path& p) {
    std::error_code ec;
    if (fs::exists(p, ec)) r.push_back(p.string());
  };
  if (stage == "scrub" && !c.scrub.report.empty()) add(c.scrub.report);
  if (stage == "cluster") add(fs::path(output) / "report.html");
  if (stage == "select") add(fs::path(output) / "plan.yaml");
  if (stage == "finetune") add(fs::path(output) / "adapters.json");
  if (stage == "eval") add(fs::path(output) / "report.html"), add(fs::path(output) / "router");
  return r;
}

}  // namespace

json pipeline_run(const PipelineConfig& config, const Context& ctx, const RunOptions& o) {
  const std::vector<std::string> stages = stages_in_range(config, o.range);
  for (const std::string& s : stages)
    if (!o.runners.count(s)) stage_unavailable(s, "the " + s + " stage");
  WorkdirLock lock = WorkdirLock::acquire(config.workdir, o.command, o.lock_wait_s);
  const auto t0 = std::chrono::steady_clock::now();
  json out = {{"pipeline", config.name}, {"workdir", config.workdir}, {"stages", json::array()}};
  if (!lock.stale().is_null()) out["stale_lock_cleared"] = lock.stale();
  size_t i = 0;
  for (const std::string& stage : stages) {
    ++i;
    const StageIO io = pipeline_stage_io(config, stage);
    std::string reason;
    // Checked when its turn comes: an earlier stage may just have rewritten its inputs.
    const bool fresh = pipeline_stage_up_to_date(config, stage, reason);
    json row = {{"stage", stage}, {"output", io.output}};
    if (fresh && !o.force) {
      log_info("run: " + std::to_string(i) + "/" + std::to_string(stages.size()) + " " + stage + ": skipped (up to date)");
      row["action"] = "skip";
      row["reason"] = reason;
      row["result"] = recorded_stats(io.output);
    } else {
      row["action"] = "run";
      row["reason"] = o.force ? "--force" : reason;
      log_info("run: " + std::to_string(i) + "/" + std::to_string(stages.size()) + " " + stage + ": running (" + row["reason"].get<std::string>() + ")");
      const auto ts = std::chrono::steady_clock::now();
      Context sctx = ctx;
      try {
        row["result"] = o.runners.at(stage)(config, io, sctx);
      } catch (const Error& e) {
        std::vector<Problem> ps = e.problems();
        ps.push_back({"slmify run", "stopped at stage " + stage + " (" + std::to_string(i) + " of " + std::to_string(stages.size()) + ")",
                      "fix the problem above and run again: finished stages are kept and the run resumes at " + stage});
        throw Error(e.code(), ps);
      } catch (const std::bad_alloc&) {
        throw;
      } catch (const std::exception& e) {  // a file system or JSON error the stage did not wrap
        log_error("run: stopped at stage " + stage + ": " + e.what() + "; finished stages are kept and the next run resumes at " + stage);
        throw;
      }
      row["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - ts).count();
    }
    row["figures"] = figures_of(stage, row["result"]);
    row["reports"] = reports_of(stage, config, io.output);
    out["stages"].push_back(row);
  }
  out["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // The headline: the eval report's table, when the pipeline has one.
  std::error_code ec;
  const fs::path report = fs::path(config.workdir) / "eval" / "report.json";
  if (std::find(stages.begin(), stages.end(), "eval") != stages.end() && fs::exists(report, ec)) {
    try {
      out["eval_report"] = json::parse(read_file(report));
    } catch (const std::exception&) {
    }
  }
  return out;
}

std::string pipeline_summary_text(const json& s) {
  std::ostringstream o;
  char buf[512];
  o << "pipeline " << s.value("pipeline", "") << " in " << s.value("workdir", "") << "\n";
  for (const json& r : s["stages"]) {
    std::string t = r.contains("seconds") ? std::to_string(static_cast<int64_t>(r["seconds"].get<double>() + 0.5)) + " s" : "-";
    std::snprintf(buf, sizeof buf, "  %-9s %-5s %7s  %s\n", r.value("stage", "").c_str(), r.value("action", "").c_str(), t.c_str(),
                  r.value("figures", "").c_str());
    o << buf;
  }
  std::snprintf(buf, sizeof buf, "  total %.0f s\n", s.value("seconds", 0.0));
  o << buf;
  bool any = false;
  for (const json& r : s["stages"])
    for (const json& p : r.value("reports", json::array())) {
      if (!any) o << "reports:\n", any = true;
      o << "  " << r.value("stage", "") << ": " << p.get<std::string>() << "\n";
    }
  if (s.contains("eval_report")) o << "\n" << eval_table_text(s["eval_report"]);
  return o.str();
}

std::string eval_table_text(const json& report) {
  std::ostringstream o;
  char buf[512];
  auto metric = [](const json& row, const char* side) -> std::string {
    if (!row.contains(side) || !row[side].is_object() || !row.contains("primary_metric")) return "-";
    const json& m = row[side];
    const std::string k = row["primary_metric"].get<std::string>();
    if (!m.contains(k) || !m[k].is_number()) return "-";
    char b[32];
    std::snprintf(b, sizeof b, "%.3f", m[k].get<double>());
    return b;
  };
  o << "which tasks the small models can take over (held-out calls):\n";
  std::snprintf(buf, sizeof buf, "  %7s %6s  %-9s %-14s %6s %6s %6s  %-8s %s\n", "cluster", "calls", "kind", "metric", "slm", "base", "needs",
                "decision", "label");
  o << buf;
  for (const json& r : report.value("clusters", json::array())) {
    if (r.value("calls", 0.0) <= 0) continue;
    std::string id = r.contains("id") && r["id"].is_number() && r["id"].get<int64_t>() >= 0 ? std::to_string(r["id"].get<int64_t>()) : "other";
    std::string thr = r.contains("threshold") && r["threshold"].is_number() ? std::to_string(r["threshold"].get<double>()).substr(0, 4) : "-";
    std::string label = r.value("label", std::string());
    if (label.size() > 40) label = label.substr(0, 39) + "~";
    std::snprintf(buf, sizeof buf, "  %7s %6lld  %-9s %-14s %6s %6s %6s  %-8s %s\n", id.c_str(),
                  static_cast<long long>(std::llround(r.value("calls", 0.0))), r.value("output_kind", std::string("-")).c_str(),
                  r.value("primary_metric", std::string("-")).c_str(), metric(r, "slm").c_str(), metric(r, "base").c_str(), thr.c_str(),
                  r.value("decision", std::string("-")).c_str(), label.c_str());
    o << buf;
  }
  const json t = report.value("totals", json::object());
  std::snprintf(buf, sizeof buf, "  %lld of %lld clusters replaceable: %.1f%% of calls, %.1f%% of tokens", static_cast<long long>(t.value("clusters_replaceable", int64_t{0})),
                static_cast<long long>(t.value("clusters", int64_t{0})), 100 * t.value("share_calls", 0.0), 100 * t.value("share_tokens", 0.0));
  o << buf;
  if (t.contains("share_cost") && t["share_cost"].is_number()) {
    std::snprintf(buf, sizeof buf, ", %.1f%% of LLM cost", 100 * t["share_cost"].get<double>());
    o << buf;
  }
  o << " can move to small models\n";
  return o.str();
}

}  // namespace slmify
