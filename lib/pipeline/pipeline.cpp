// Plan of a pipeline run: inputs and outputs per stage, and up-to-date checks against manifests.
#include "pipeline/pipeline.h"

#include <filesystem>

#include "collect/input.h"
#include "core/artifact.h"
#include "core/dataset.h"
#include "core/fsutil.h"
#include "core/error.h"
#include "slmify/version.h"

namespace slmify {
namespace fs = std::filesystem;

bool stage_available(const std::string& stage) { return stage == "collect" || stage == "scrub" || stage == "cluster" || stage == "select" || stage == "finetune" || stage == "eval"; }  // stages land one by one (docs/cli.md)

static StageIO stage_io(const PipelineConfig& c, const std::string& stage) {
  fs::path w = c.workdir;
  StageIO io;
  if (stage == "collect") {
    io.inputs = c.collect.inputs;
    io.output = (w / "collect").string();
  } else if (stage == "scrub") {
    io.inputs = {(w / "collect").string()};
    io.output = (w / "scrub").string();
  } else if (stage == "cluster") {
    io.inputs = {(w / "scrub").string()};
    io.output = (w / "cluster").string();
  } else if (stage == "select") {
    io.inputs = {(w / "cluster").string()};
    io.output = (w / "select").string();
  } else if (stage == "finetune") {
    io.inputs = {(w / "cluster").string(), (w / "select" / "plan.yaml").string()};
    io.output = (w / "finetune").string();
  } else if (stage == "eval") {
    io.inputs = {(w / "cluster").string(), (w / "finetune").string()};
    io.output = (w / "eval").string();
  }
  return io;
}

// A dataset output is up to date when its manifest records this version, the same config digest
// and, for dataset inputs, the digests the inputs have now.
static std::string check_up_to_date(const PipelineConfig& c, const PlannedStage& s, bool& ok) {
  ok = false;
  std::error_code ec;
  if (!fs::exists(fs::path(s.io.output) / "manifest.json", ec)) return "no output yet";
  // Datasets (collect, scrub, cluster) and artifacts (select, finetune, eval) record the same
  // provenance: slmify version, config digest and input digests.
  std::string version, digest;
  std::vector<InputRef> inputs;
  try {
    json head = json::parse(read_file(fs::path(s.io.output) / "manifest.json"));
    if (head.value("format", "") == kArtifactFormat) {
      ArtifactManifest a = artifact_read(s.io.output);
      if (!artifact_verify(s.io.output, a).empty()) return "output files changed since they were written";
      version = a.slmify_version;
      digest = a.config_digest;
      inputs = a.inputs;
    } else {
      Manifest m = manifest_read(s.io.output);
      version = m.slmify_version;
      digest = m.config_digest;
      inputs = m.inputs;
    }
  } catch (const Error& e) {
    return "output unreadable (" + e.problems().front().what + ")";
  } catch (const json::exception&) {
    return "output unreadable (manifest.json is not valid JSON)";
  }
  if (version != SLMIFY_VERSION) return "output made by slmify " + version;
  WriterOptions wo;
  stage_writer_options(c, s.stage, s.stage, wo);
  if (digest != config_digest(wo.config)) return "config changed";
  for (const InputRef& in : inputs) {
    std::string now = input_digest_now(in.path);
    if (now.empty()) return "input " + in.path + " missing or unreadable";
    if (now != in.digest) return "input " + in.path + " changed";
  }
  // A directory of logs may also have gained files since.
  if (s.stage == "collect") {
    std::vector<std::string> listed;
    for (const InputRef& in : inputs) listed.push_back(in.path);
    try {
      std::vector<std::string> now;
      for (const InputFile& f : input_expand(s.io.inputs)) now.push_back(f.path);
      if (now != listed) return "the input files changed";
    } catch (const Error&) {
      return "inputs missing";
    }
  }
  ok = true;
  return "up to date";
}

std::vector<PlannedStage> pipeline_plan(const PipelineConfig& config) {
  std::vector<PlannedStage> plan;
  for (const std::string& stage : config.stages) {
    PlannedStage s;
    s.stage = stage;
    s.io = stage_io(config, stage);
    s.available = stage_available(stage);
    s.reason = check_up_to_date(config, s, s.up_to_date);
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

json pipeline_run(const PipelineConfig&, const Context&) {
  stage_unavailable("run", "running the pipeline (use --dry-run to see the plan)");
}

}  // namespace slmify
