// The plan of `slmify run` (lib/pipeline/pipeline.h): stages in order with their inputs and outputs
// under the work directory, and the up-to-date check against a committed output's manifest; then
// pipeline_run with stand-in stages: skipping what is up to date, rerunning what changed and
// everything after it, resuming after a failure or a kill, the work directory's lock, --from and
// --until, and the summary and eval table texts.
#include <catch2/catch.hpp>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "test_util.h"
#include "collect/input.h"
#include "core/artifact.h"
#include "core/config.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/lock.h"
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
    CHECK(s.available);  // every pipeline stage is built
    CHECK_FALSE(s.up_to_date);
    CHECK(s.reason == "no output yet");
  }
  for (const std::string& s : kStageNames) CHECK(stage_available(s));
  CHECK(stage_available("pretrain"));        // optional: not in the default list, but a stage
  CHECK_FALSE(stage_available("retrain"));  // a command, not a pipeline stage
  CHECK_FALSE(stage_available("merge"));
}

TEST_CASE("pipeline_plan places the optional pretrain stage between cluster and select", "[core][pipeline]") {
  PlanTempDir tmp;
  PipelineConfig c = plan_config(tmp.path);
  CHECK(c.stages == kDefaultStages);
  CHECK(std::find(c.stages.begin(), c.stages.end(), "pretrain") == c.stages.end());
  c.stages = {"collect", "scrub", "cluster", "pretrain", "select", "finetune", "eval"};
  std::vector<PlannedStage> plan = pipeline_plan(c);
  REQUIRE(plan.size() == 7);
  CHECK(stage_of(plan, "pretrain").io.inputs == std::vector<std::string>{(tmp.path / "cluster").string()});
  CHECK(stage_of(plan, "pretrain").io.output == (tmp.path / "pretrain").string());
  CHECK(stage_of(plan, "pretrain").available);
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

// ---- pipeline_run with stand-in stages ----------------------------------------------------------
// Each stand-in stage writes a real artifact at its output, with its inputs' digests and its
// config digest in a file (so that its output changes when either does) and its inputs as lineage,
// exactly as the up-to-date check expects. The children are fork()ed copies of this test.

namespace {

struct Calls {
  std::map<std::string, int> n;
  int operator[](const std::string& s) const { return n.count(s) ? n.at(s) : 0; }
};

// What a stand-in stage does between writing its file and committing (may throw or kill).
using Middle = std::function<void(const std::string& stage, ArtifactWriter& w)>;

StageRunner fake_stage(const std::string& stage, Calls& calls, Middle middle = {}) {
  return [stage, &calls, middle](const PipelineConfig& c, const StageIO& io, const Context&) -> json {
    ++calls.n[stage];
    WriterOptions wo;
    stage_writer_options(c, stage, stage, wo);
    ArtifactWriter w(io.output, stage, wo.config);
    std::vector<std::string> inputs = io.inputs;
    if (stage == "collect") {  // collect records the files its inputs expand to
      inputs.clear();
      for (const InputFile& f : input_expand(io.inputs)) inputs.push_back(f.path);
    }
    std::string text = stage + " " + config_digest(wo.config) + "\n";
    for (const std::string& in : inputs) {
      InputRef ref = input_ref(in);
      w.add_input(ref);
      text += ref.path + " " + ref.digest + "\n";
    }
    std::ofstream(w.staging_dir() / "out.txt") << text;
    if (middle) middle(stage, w);
    w.stats()["calls"] = calls[stage];
    w.commit();
    return {{"calls", calls[stage]}};
  };
}

struct RunFixture {
  slmify_test::TempDir tmp;
  PipelineConfig config;
  Calls calls;
  RunOptions options;
  Context ctx;

  RunFixture() {
    config.name = "fake";
    config.workdir = (tmp / "work").string();
    config.stages = {"collect", "scrub", "cluster"};
    config.collect.inputs = {(tmp / "logs" / "calls.jsonl").string()};
    fs::create_directories(tmp / "logs");
    std::ofstream(tmp / "logs" / "calls.jsonl") << "{\"n\": 1}\n";
    for (const char* s : {"collect", "scrub", "cluster"}) options.runners[s] = fake_stage(s, calls);
  }
  json run() { return pipeline_run(config, ctx, options); }
  fs::path work() const { return config.workdir; }
};

// The actions of a summary, stage by stage ("collect:skip scrub:run ...").
std::string actions(const json& summary) {
  std::string out;
  for (const json& r : summary["stages"]) out += (out.empty() ? "" : " ") + r["stage"].get<std::string>() + ":" + r["action"].get<std::string>();
  return out;
}

std::string calls_text(const Calls& c) {
  return "collect=" + std::to_string(c["collect"]) + " scrub=" + std::to_string(c["scrub"]) + " cluster=" + std::to_string(c["cluster"]);
}

// Waits for `pid`; returns its exit status, or 128 + the signal that ended it.
int wait_for(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) REQUIRE(errno == EINTR);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("pipeline_run runs every stage once, then skips them all, and force reruns them", "[core][pipeline]") {
  RunFixture f;
  json first = f.run();
  CHECK(actions(first) == "collect:run scrub:run cluster:run");
  CHECK(calls_text(f.calls) == "collect=1 scrub=1 cluster=1");
  CHECK(first["pipeline"] == "fake");
  CHECK(first["workdir"] == f.config.workdir);
  CHECK_FALSE(first.contains("stale_lock_cleared"));
  CHECK(first["stages"][0]["reason"] == "no output yet");
  CHECK(first["stages"][0]["output"] == (f.work() / "collect").string());
  CHECK(first["stages"][0]["result"]["calls"] == 1);
  CHECK(first["stages"][0]["seconds"].is_number());
  for (const char* s : {"collect", "scrub", "cluster"}) CHECK(fs::exists(f.work() / s / "manifest.json"));
  // The lock is released when the run ends.
  CHECK(fs::exists(f.work() / ".slmify.lock"));
  CHECK(fs::file_size(f.work() / ".slmify.lock") == 0);

  json second = f.run();
  CHECK(actions(second) == "collect:skip scrub:skip cluster:skip");
  CHECK(calls_text(f.calls) == "collect=1 scrub=1 cluster=1");
  for (const json& r : second["stages"]) {
    CHECK(r["reason"] == "up to date");
    CHECK_FALSE(r.contains("seconds"));
    CHECK(r["result"]["calls"] == 1);  // the figures its manifest recorded
  }
  CHECK(pipeline_plan_json(pipeline_plan(f.config))[2]["action"] == "skip");

  f.options.force = true;
  json forced = f.run();
  CHECK(actions(forced) == "collect:run scrub:run cluster:run");
  for (const json& r : forced["stages"]) CHECK(r["reason"] == "--force");
  CHECK(calls_text(f.calls) == "collect=2 scrub=2 cluster=2");
}

TEST_CASE("pipeline_run reruns a stage whose input or config changed and every stage after it", "[core][pipeline]") {
  RunFixture f;
  f.run();
  REQUIRE(calls_text(f.calls) == "collect=1 scrub=1 cluster=1");

  SECTION("the first stage's input changed") {
    std::ofstream(f.config.collect.inputs[0], std::ios::app) << "{\"n\": 2}\n";
    json s = f.run();
    CHECK(actions(s) == "collect:run scrub:run cluster:run");
    CHECK_THAT(s["stages"][0]["reason"].get<std::string>(), Catch::StartsWith("input ") && Catch::EndsWith(" changed"));
    // scrub was out of date only once collect had rewritten its input: checked when its turn came.
    CHECK(s["stages"][1]["reason"] == "input " + (f.work() / "collect").string() + " changed");
    CHECK(calls_text(f.calls) == "collect=2 scrub=2 cluster=2");
  }
  SECTION("a new log file appeared in a directory input") {
    f.config.collect.inputs = {(f.tmp / "logs").string()};
    f.run();  // the input list changed from the file to the directory's listing (the same file)
    const Calls before = f.calls;
    std::ofstream(f.tmp / "logs" / "more.jsonl") << "{}\n";
    json s = f.run();
    CHECK(actions(s) == "collect:run scrub:run cluster:run");
    CHECK(s["stages"][0]["reason"] == "the input files changed");
    CHECK(f.calls["collect"] == before["collect"] + 1);
  }
  SECTION("a middle stage's config changed") {
    f.config.scrub.replacement = "mask";
    json s = f.run();
    CHECK(actions(s) == "collect:skip scrub:run cluster:run");
    CHECK(s["stages"][1]["reason"] == "config changed");
    CHECK(calls_text(f.calls) == "collect=1 scrub=2 cluster=2");
  }
  SECTION("the last stage's config changed") {
    f.config.cluster.k = AutoInt{false, 5};
    json s = f.run();
    CHECK(actions(s) == "collect:skip scrub:skip cluster:run");
    CHECK(calls_text(f.calls) == "collect=1 scrub=1 cluster=2");
  }
  SECTION("a stage's output was damaged") {
    std::ofstream(f.work() / "scrub" / "out.txt", std::ios::app) << "tampered\n";
    json s = f.run();
    CHECK(actions(s) == "collect:skip scrub:run cluster:skip");  // the same content again: cluster's input is as it was
    CHECK(s["stages"][1]["reason"] == "output files changed since they were written");
  }
  SECTION("a stage's output was removed") {
    fs::remove_all(f.work() / "collect");
    json s = f.run();
    CHECK(actions(s) == "collect:run scrub:skip cluster:skip");  // rewritten identically
    CHECK(calls_text(f.calls) == "collect=2 scrub=1 cluster=1");
  }
}

TEST_CASE("pipeline_run stops at a failing stage and the next run resumes there", "[core][pipeline]") {
  RunFixture f;
  bool fail = true;
  f.options.runners["scrub"] = fake_stage("scrub", f.calls, [&](const std::string&, ArtifactWriter& w) {
    std::ofstream(w.staging_dir() / "half.txt") << "half written\n";
    if (fail) throw Error(ExitCode::bad_data, "calls.jsonl:3", "is not a call");
  });
  Error e = slmify_test::expect_error([&] { f.run(); });
  CHECK(e.code() == ExitCode::bad_data);
  REQUIRE(e.problems().size() == 2);
  CHECK(e.problems()[0].where == "calls.jsonl:3");  // the stage's own problem comes first
  const Problem& p = e.problems().back();
  CHECK_THAT(p.what, Catch::Contains("stage scrub") && Catch::Contains("2 of 3"));
  CHECK_THAT(p.hint, Catch::Contains("resumes at scrub"));
  CHECK(calls_text(f.calls) == "collect=1 scrub=1 cluster=0");
  CHECK(fs::exists(f.work() / "collect" / "manifest.json"));
  CHECK_FALSE(fs::exists(f.work() / "scrub"));  // nothing half-written is left
  for (const auto& entry : fs::directory_iterator(f.work())) CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
  CHECK(fs::file_size(f.work() / ".slmify.lock") == 0);  // released on the way out

  fail = false;
  json s = f.run();
  CHECK(actions(s) == "collect:skip scrub:run cluster:run");
  CHECK(s["stages"][1]["reason"] == "no output yet");
  CHECK(calls_text(f.calls) == "collect=1 scrub=2 cluster=1");
  CHECK_FALSE(s.contains("stale_lock_cleared"));
}

TEST_CASE("pipeline_run resumes after the run was killed in the middle of a stage", "[core][pipeline]") {
  RunFixture f;
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child: collect commits, then scrub is killed with files in its staging directory.
    f.options.runners["scrub"] = fake_stage("scrub", f.calls, [](const std::string&, ArtifactWriter& w) {
      std::ofstream(w.staging_dir() / "partial.txt") << "written before the kill\n";
      ::raise(SIGKILL);
    });
    try {
      f.run();
    } catch (...) {
    }
    ::_exit(3);  // not reached when the kill happened
  }
  REQUIRE(wait_for(pid) == 128 + SIGKILL);
  CHECK(fs::exists(f.work() / "collect" / "manifest.json"));
  CHECK_FALSE(fs::exists(f.work() / "scrub"));
  bool staging_left = false;
  for (const auto& entry : fs::directory_iterator(f.work()))
    staging_left |= entry.path().filename().string().rfind(".scrub.tmp-" + std::to_string(pid), 0) == 0;
  CHECK(staging_left);  // what the killed stage had written so far, never swapped into place
  CHECK(fs::file_size(f.work() / ".slmify.lock") > 0);  // the dead run's identity is still there

  json s = f.run();
  CHECK(actions(s) == "collect:skip scrub:run cluster:run");
  CHECK(calls_text(f.calls) == "collect=0 scrub=1 cluster=1");  // collect ran in the child
  REQUIRE(s.contains("stale_lock_cleared"));
  CHECK(s["stale_lock_cleared"]["pid"] == pid);
  CHECK(s["stale_lock_cleared"]["command"] == "slmify run");
  for (const auto& entry : fs::directory_iterator(f.work())) {
    INFO(entry.path());
    CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);  // the dead writer's staging is gone
  }
  CHECK(fs::exists(f.work() / "scrub" / "out.txt"));
  CHECK_FALSE(fs::exists(f.work() / "scrub" / "partial.txt"));
}

TEST_CASE("pipeline_run refuses a work directory another process holds, or waits for it", "[core][pipeline]") {
  RunFixture f;
  fs::create_directories(f.work());
  int ready[2], go[2];
  REQUIRE(::pipe(ready) == 0);
  REQUIRE(::pipe(go) == 0);
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 0;
    try {
      WorkdirLock lock = WorkdirLock::acquire(f.work(), "slmify retrain other.yaml");
      char c = 'x';
      if (::write(ready[1], &c, 1) != 1) ::_exit(98);
      if (::read(go[0], &c, 1) != 1) ::_exit(97);
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
    } catch (...) {
      rc = 96;
    }
    ::_exit(rc);  // the lock was released above, cleanly
  }
  char c;
  REQUIRE(::read(ready[0], &c, 1) == 1);

  Error e = slmify_test::expect_error([&] { f.run(); });
  CHECK(e.code() == ExitCode::busy);
  std::string all;
  for (const Problem& p : e.problems()) all += p.where + " " + p.what + " " + p.hint + "\n";
  CHECK_THAT(all, Catch::Contains("slmify retrain other.yaml") && Catch::Contains("pid " + std::to_string(pid)));
  CHECK(calls_text(f.calls) == "collect=0 scrub=0 cluster=0");
  CHECK_FALSE(fs::exists(f.work() / "collect"));

  f.options.lock_wait_s = 600;
  const auto t0 = std::chrono::steady_clock::now();  // before the go: the holder sleeps 300 ms after it
  REQUIRE(::write(go[1], "x", 1) == 1);
  json s = f.run();
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  CHECK(waited >= 0.25);
  CHECK(actions(s) == "collect:run scrub:run cluster:run");
  CHECK_FALSE(s.contains("stale_lock_cleared"));  // the holder released it cleanly
  CHECK(wait_for(pid) == 0);
  for (int fd : {ready[0], ready[1], go[0], go[1]}) ::close(fd);
}

TEST_CASE("pipeline_run with from and until runs only the stages in range", "[core][pipeline]") {
  RunFixture f;
  f.options.range = {"", "scrub"};
  json a = f.run();
  CHECK(actions(a) == "collect:run scrub:run");
  CHECK_FALSE(fs::exists(f.work() / "cluster"));

  f.options.range = {"cluster", ""};
  json b = f.run();
  CHECK(actions(b) == "cluster:run");

  f.options.range = {"scrub", "scrub"};
  f.options.force = true;
  json c = f.run();
  CHECK(actions(c) == "scrub:run");
  CHECK(calls_text(f.calls) == "collect=1 scrub=2 cluster=1");

  // A stage outside the range needs no runner; one inside it does.
  f.options.runners.erase("collect");
  CHECK_NOTHROW(f.run());
  f.options.range = {};
  CHECK(slmify_test::expect_error([&] { f.run(); }).code() == ExitCode::unavailable);

  for (StageRange bad : {StageRange{"scrubb", ""}, StageRange{"", "pretrain"}}) {
    f.options.range = bad;
    Error e = slmify_test::expect_error([&] { f.run(); });
    CHECK(e.code() == ExitCode::usage);
    CHECK_THAT(e.problems().front().what, Catch::Contains("is not one of this pipeline's stages"));
    CHECK(e.problems().front().hint == "choose one of: collect, scrub, cluster");
    CHECK(slmify_test::expect_error([&] { pipeline_plan(f.config, bad); }).code() == ExitCode::usage);
  }
  f.options.range = {"cluster", "collect"};
  Error e = slmify_test::expect_error([&] { f.run(); });
  CHECK(e.code() == ExitCode::usage);
  CHECK_THAT(e.problems().front().what, Catch::Contains("selects no stage"));
}

TEST_CASE("pipeline_summary_text lists each stage with its action", "[core][pipeline]") {
  RunFixture f;
  f.options.range = {"", "scrub"};
  f.run();
  f.options.range = {};
  json s = f.run();
  std::string text = pipeline_summary_text(s);
  INFO(text);
  CHECK_THAT(text, Catch::StartsWith("pipeline fake in " + f.config.workdir + "\n"));
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  REQUIRE(lines.size() >= 5);
  CHECK_THAT(lines[1], Catch::StartsWith("  collect") && Catch::Contains(" skip "));
  CHECK_THAT(lines[2], Catch::StartsWith("  scrub") && Catch::Contains(" skip "));
  CHECK_THAT(lines[3], Catch::StartsWith("  cluster") && Catch::Contains(" run ") && Catch::Contains(" s "));
  CHECK_THAT(lines[4], Catch::StartsWith("  total "));
  CHECK(text.find("which tasks") == std::string::npos);  // no eval stage, no table
}

TEST_CASE("eval_table_text prints a row per cluster with calls and the totals line", "[core][pipeline]") {
  json report = {
      {"clusters",
       json::array({
           {{"id", 0}, {"label", "route tickets to a queue"}, {"output_kind", "label"}, {"calls", 120}, {"primary_metric", "exact_match"},
            {"slm", {{"exact_match", 0.94}}}, {"base", {{"exact_match", 0.41}}}, {"threshold", 0.9}, {"decision", "slm"}},
           {{"id", 1}, {"label", "summarise a thread"}, {"output_kind", "free_text"}, {"calls", 40}, {"primary_metric", "rouge_l"},
            {"slm", {{"rouge_l", 0.31}}}, {"base", nullptr}, {"threshold", 0.5}, {"decision", "llm"}},
           {{"id", 2}, {"label", "an empty cluster"}, {"output_kind", "json"}, {"calls", 0}, {"primary_metric", "json_match"},
            {"decision", "llm"}},
           {{"id", -1}, {"label", "other"}, {"output_kind", "mixed"}, {"calls", 7}, {"decision", "llm"}},
       })},
      {"totals", {{"clusters", 3}, {"clusters_replaceable", 1}, {"share_calls", 120.0 / 167}, {"share_tokens", 0.5}, {"share_cost", nullptr}}}};
  std::string text = eval_table_text(report);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("cluster") && Catch::Contains("decision"));
  CHECK_THAT(text, Catch::Contains("route tickets to a queue"));
  CHECK_THAT(text, Catch::Contains("0.940") && Catch::Contains("0.410") && Catch::Contains("exact_match"));
  CHECK_THAT(text, Catch::Contains("summarise a thread") && Catch::Contains("0.310"));
  CHECK_THAT(text, !Catch::Contains("an empty cluster"));  // no calls: no row
  CHECK_THAT(text, Catch::Contains("other"));
  CHECK_THAT(text, Catch::Contains("1 of 3 clusters replaceable: 71.9% of calls, 50.0% of tokens can move to small models\n"));
  CHECK_THAT(text, !Catch::Contains("of LLM cost"));

  report["totals"]["share_cost"] = 0.25;
  CHECK_THAT(eval_table_text(report), Catch::Contains(", 25.0% of LLM cost can move"));
}
