// The plan of `slmify run` (lib/pipeline/pipeline.h): stages in order with their inputs and outputs
// under the work directory, and the up-to-date check against a committed output's manifest.
#include <catch2/catch.hpp>

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "test_util.h"
#include "core/config.h"
#include "core/dataset.h"
#include "core/stage.h"
#include "pipeline/pipeline.h"

using namespace slmify;
namespace fs = std::filesystem;

namespace {

using PlanTempDir = slmify_test::TempPath;  // a fresh directory under /tmp, removed afterwards

json plan_record(int i) {
  return {{"id", "rec-" + std::to_string(i)},
          {"source", {{"format", "openai-chat"}, {"file", "calls.jsonl"}, {"line", i + 1}}},
          {"hci", false},
          {"status", "ok"},
          {"request", {{"messages", json::array({{{"role", "user"}, {"content", "question " + std::to_string(i)}}})}}},
          {"response", {{"content", "answer " + std::to_string(i)}, {"finish_reason", "stop"}}}};
}

// Commits a small dataset at WORKDIR/collect as the collect stage of `c` would write it, with
// its log files (made when missing) as lineage.
void write_collect_output(const PipelineConfig& c) {
  WriterOptions opts;
  stage_writer_options(c, "collect", "collect", opts);
  for (const std::string& in : c.collect.inputs) {
    fs::create_directories(fs::path(in).parent_path());
    if (!fs::exists(in)) std::ofstream(in) << "{}\n";
    opts.inputs.push_back({"file", in, file_input_digest(in)});
  }
  DatasetWriter w(fs::path(c.workdir) / "collect", opts);
  for (int i = 0; i < 3; ++i) REQUIRE(w.write(plan_record(i)));
  w.commit();
}

PipelineConfig plan_config(const fs::path& workdir) {
  PipelineConfig c;
  c.workdir = workdir.string();
  c.collect.inputs = {(workdir / "logs" / "calls.jsonl").string()};
  return c;
}

const PlannedStage& stage_of(const std::vector<PlannedStage>& plan, const std::string& name) {
  for (const PlannedStage& s : plan)
    if (s.stage == name) return s;
  FAIL("no stage " << name << " in the plan");
  throw;
}

}  // namespace

TEST_CASE("pipeline_plan lists the stages in order with inputs and outputs under the workdir", "[core][pipeline]") {
  PlanTempDir tmp;
  fs::path w = tmp.path;
  PipelineConfig c = plan_config(w);
  std::vector<PlannedStage> plan = pipeline_plan(c);

  std::vector<std::string> names;
  for (const PlannedStage& s : plan) names.push_back(s.stage);
  CHECK(names == std::vector<std::string>{"collect", "scrub", "cluster", "select", "finetune", "eval"});

  auto p = [&](const fs::path& rel) { return (w / rel).string(); };
  CHECK(stage_of(plan, "collect").io.inputs == c.collect.inputs);
  CHECK(stage_of(plan, "collect").io.output == p("collect"));
  CHECK(stage_of(plan, "scrub").io.inputs == std::vector<std::string>{p("collect")});
  CHECK(stage_of(plan, "scrub").io.output == p("scrub"));
  CHECK(stage_of(plan, "cluster").io.inputs == std::vector<std::string>{p("scrub")});
  CHECK(stage_of(plan, "cluster").io.output == p("cluster"));
  CHECK(stage_of(plan, "select").io.inputs == std::vector<std::string>{p("cluster")});
  CHECK(stage_of(plan, "select").io.output == p("select"));
  CHECK(stage_of(plan, "finetune").io.inputs == std::vector<std::string>{p("cluster"), p("select/plan.yaml")});
  CHECK(stage_of(plan, "finetune").io.output == p("finetune"));
  CHECK(stage_of(plan, "eval").io.inputs == std::vector<std::string>{p("cluster"), p("finetune")});
  CHECK(stage_of(plan, "eval").io.output == p("eval"));

  for (const PlannedStage& s : plan) {
    INFO("stage " << s.stage << ": " << s.reason);
    bool built = s.stage == "collect" || s.stage == "scrub" || s.stage == "cluster" || s.stage == "select" || s.stage == "finetune" || s.stage == "eval";  // the stages built so far
    CHECK(s.available == built);
    CHECK_FALSE(s.up_to_date);
    CHECK_THAT(s.reason, Catch::StartsWith("no output yet"));
    CHECK((s.reason.find("not built") != std::string::npos) == !built);
  }
  CHECK(stage_available("collect"));
  CHECK(stage_available("scrub"));
  CHECK(stage_available("cluster"));
  CHECK(stage_available("select"));
  CHECK(stage_available("finetune"));
  CHECK_FALSE(stage_available("retrain"));  // not a pipeline stage, and not built
}

TEST_CASE("pipeline_plan follows config.stages", "[core][pipeline]") {
  PlanTempDir tmp;
  PipelineConfig c = plan_config(tmp.path);
  c.stages = {"scrub", "cluster"};
  std::vector<PlannedStage> plan = pipeline_plan(c);
  REQUIRE(plan.size() == 2);
  CHECK(plan[0].stage == "scrub");
  CHECK(plan[1].stage == "cluster");
  CHECK(plan[1].io.inputs == std::vector<std::string>{(tmp.path / "scrub").string()});
}

TEST_CASE("pipeline_plan: a committed output with the same config is up to date", "[core][pipeline]") {
  PlanTempDir tmp;
  PipelineConfig c = plan_config(tmp.path);
  write_collect_output(c);

  std::vector<PlannedStage> plan = pipeline_plan(c);
  const PlannedStage& collect = stage_of(plan, "collect");
  INFO(collect.reason);
  CHECK(collect.up_to_date);
  CHECK_THAT(collect.reason, Catch::StartsWith("up to date"));
  CHECK_THAT(stage_of(plan, "scrub").reason, Catch::StartsWith("no output yet"));
  CHECK_FALSE(stage_of(plan, "scrub").up_to_date);

  json j = pipeline_plan_json(plan);
  REQUIRE(j.is_array());
  REQUIRE(j.size() == 6);
  CHECK(j[0]["stage"] == "collect");
  CHECK(j[0]["action"] == "skip");
  CHECK(j[0]["available"] == true);
  CHECK(j[1]["available"] == true);
  CHECK(j[2]["available"] == true);
  CHECK(j[3]["available"] == true);  // select
  CHECK(j[0]["output"] == (tmp.path / "collect").string());
  CHECK(j[0]["inputs"] == json(c.collect.inputs));
  CHECK(j[1]["action"] == "run");
  CHECK_THAT(j[1]["reason"].get<std::string>(), Catch::StartsWith("no output yet"));

  // Another stage's keys do not touch collect.
  PipelineConfig other = c;
  other.cluster.min_cluster_size = 3;
  auto plan_other = pipeline_plan(other);
  CHECK(stage_of(plan_other, "collect").up_to_date);
}

TEST_CASE("pipeline_plan: changing a collect or dataset key makes collect out of date", "[core][pipeline]") {
  PlanTempDir tmp;
  PipelineConfig c = plan_config(tmp.path);
  write_collect_output(c);

  PipelineConfig changed = c;
  changed.collect.max_line_mb = 32;
  auto plan1 = pipeline_plan(changed);
  const PlannedStage& s = stage_of(plan1, "collect");
  CHECK_FALSE(s.up_to_date);
  CHECK_THAT(s.reason, Catch::StartsWith("config changed"));

  PipelineConfig shards = c;
  shards.dataset.zstd_level = 9;
  auto plan2 = pipeline_plan(shards);
  const PlannedStage& s2 = stage_of(plan2, "collect");
  CHECK_FALSE(s2.up_to_date);
  CHECK_THAT(s2.reason, Catch::StartsWith("config changed"));
}

TEST_CASE("pipeline_plan: a stage whose input dataset changed is out of date", "[core][pipeline]") {
  PlanTempDir tmp;
  PipelineConfig c = plan_config(tmp.path);
  write_collect_output(c);
  auto write_scrub = [&]() {
    WriterOptions opts;
    stage_writer_options(c, "scrub", "scrub", opts);
    opts.inputs = {DatasetReader(tmp.path / "collect").input_ref()};
    DatasetWriter w(tmp.path / "scrub", opts);
    REQUIRE(w.write(plan_record(0)));
    w.commit();
  };
  write_scrub();
  auto plan = pipeline_plan(c);
  CHECK(stage_of(plan, "scrub").up_to_date);
  CHECK_THAT(stage_of(plan, "scrub").reason, Catch::StartsWith("up to date"));

  // collect is written again with other records: scrub must run again.
  {
    WriterOptions opts;
    stage_writer_options(c, "collect", "collect", opts);
    opts.inputs.push_back({"file", c.collect.inputs[0], file_input_digest(c.collect.inputs[0])});
    DatasetWriter w(tmp.path / "collect", opts);
    REQUIRE(w.write(plan_record(7)));
    w.commit();
  }
  auto again = pipeline_plan(c);
  CHECK(stage_of(again, "collect").up_to_date);
  CHECK_FALSE(stage_of(again, "scrub").up_to_date);
  CHECK_THAT(stage_of(again, "scrub").reason, Catch::StartsWith("input " + (tmp.path / "collect").string() + " changed"));

  // And a missing input.
  fs::remove_all(tmp.path / "collect");
  auto gone = pipeline_plan(c);
  CHECK_FALSE(stage_of(gone, "scrub").up_to_date);
  CHECK_THAT(stage_of(gone, "scrub").reason, Catch::Contains("missing or unreadable"));
}

TEST_CASE("pipeline_plan: an output written by another slmify version is out of date", "[core][pipeline]") {
  PlanTempDir tmp;
  PipelineConfig c = plan_config(tmp.path);
  write_collect_output(c);
  fs::path mf = tmp.path / "collect" / "manifest.json";
  json m;
  {
    std::ifstream in(mf);
    in >> m;
  }
  m["slmify_version"] = "0.0.1";
  {
    std::ofstream out(mf, std::ios::trunc);
    out << m.dump(2);
  }
  auto plan = pipeline_plan(c);
  const PlannedStage& s = stage_of(plan, "collect");
  CHECK_FALSE(s.up_to_date);
  CHECK_THAT(s.reason, Catch::Contains("0.0.1"));
}

TEST_CASE("pipeline_plan: collect is out of date when a log grows or a log directory gains a file", "[core][pipeline]") {
  PlanTempDir tmp;
  PipelineConfig c = plan_config(tmp.path);
  write_collect_output(c);
  REQUIRE(stage_of(pipeline_plan(c), "collect").up_to_date);
  std::ofstream(c.collect.inputs[0], std::ios::app) << "{\"more\": 1}\n";
  const PlannedStage grown = stage_of(pipeline_plan(c), "collect");
  CHECK_FALSE(grown.up_to_date);
  CHECK_THAT(grown.reason, Catch::StartsWith("input ") && Catch::Contains("changed"));

  // A directory input: the lineage lists the files found in it, as collect records them.
  fs::path logs = fs::path(c.collect.inputs[0]).parent_path();
  c.collect.inputs = {logs.string()};
  WriterOptions opts;
  stage_writer_options(c, "collect", "collect", opts);
  opts.inputs.push_back({"file", (logs / "calls.jsonl").string(), file_input_digest((logs / "calls.jsonl").string())});
  DatasetWriter w(fs::path(c.workdir) / "collect", opts);
  w.commit();
  REQUIRE(stage_of(pipeline_plan(c), "collect").up_to_date);
  std::ofstream(logs / "new.jsonl") << "{}\n";
  const PlannedStage more = stage_of(pipeline_plan(c), "collect");
  CHECK_FALSE(more.up_to_date);
  CHECK(more.reason == "the input files changed");
}
