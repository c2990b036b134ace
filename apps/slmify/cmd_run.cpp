// slmify run PIPELINE [--dry-run] [--force] [--from STAGE] [--until STAGE]: runs the pipeline's
// stages in order, skipping those whose outputs are up to date (lib/pipeline).
#include <iostream>

#include "cluster/cluster.h"
#include "collect/collect.h"
#include "core/log.h"
#include "command.h"
#include "core/error.h"
#include "eval/eval.h"
#include "pipeline/pipeline.h"
#include "scrub/scrub.h"
#include "select/select.h"
#include "train/train.h"

namespace slmify::cli {

namespace {
struct RunState {
  CommandOptions opts;
  std::string file, from, until;
  bool dry_run = false, force = false;
  double wait_s = 0;
};
}  // namespace

std::map<std::string, StageRunner> stage_runners() {
  return {{"collect", collect_run}, {"scrub", scrub_run},       {"cluster", cluster_run}, {"pretrain", pretrain_run},
          {"select", select_run},   {"finetune", finetune_run}, {"eval", eval_run}};
}

void register_run(CLI::App& app, Store& store) {
  RunState& st = keep<RunState>(store);
  CLI::App* cmd = app.add_subcommand("run", "run the whole pipeline from one file, skipping what is up to date");
  cmd->add_option("PIPELINE", st.file, "pipeline.yaml")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--dry-run", st.dry_run, "validate and print the plan: what would run and why");
  cmd->add_flag("--force", st.force, "run every stage even when its output is up to date");
  cmd->add_option("--from", st.from, "start at this stage")->type_name("STAGE");
  cmd->add_option("--until", st.until, "stop after this stage")->type_name("STAGE");
  cmd->add_option("--wait", st.wait_s, "wait up to this many seconds for another run on the same work directory to finish")->type_name("SECONDS");
  add_common_options(cmd, st.opts);
  cmd->callback([&st]() {
    st.opts.config = st.file;
    PipelineConfig c = load_config(st.opts);
    if (print_config_if_asked(c, st.opts)) return;
    check_config_deeply(c, false);
    StageRange range{st.from, st.until};
    // A file that a stage about to run needs and that is missing: an error before anything runs;
    // in a dry run, a warning (the key may be made, the logs copied, before the real run).
    auto check_files = [&](const std::vector<PlannedStage>& plan) {
      std::vector<std::string> to_run;
      for (const PlannedStage& s : plan)
        if (!s.up_to_date) to_run.push_back(s.stage);
      std::vector<Problem> missing = missing_files(c, to_run);
      if (missing.empty()) return;
      if (!st.dry_run) throw Error(ExitCode::usage, missing);
      for (const Problem& p : missing) log_warn(p.where + ": " + p.what + " (the run would stop here; " + p.hint + ")");
    };
    if (st.dry_run) {
      std::vector<PlannedStage> plan = pipeline_plan(c, range);
      if (st.force)
        for (auto& s : plan) s.up_to_date = false, s.reason = "--force; " + s.reason;
      check_files(plan);
      if (st.opts.json) {
        print_json({{"pipeline", st.file}, {"name", c.name}, {"workdir", c.workdir}, {"stages", pipeline_plan_json(plan)}});
        return;
      }
      std::cout << "pipeline " << c.name << " (" << st.file << "), workdir " << c.workdir << "\n";
      int i = 0;
      for (const PlannedStage& s : plan) {
        std::string ins;
        for (const auto& in : s.io.inputs) ins += (ins.empty() ? "" : " ") + in;
        std::cout << "  " << ++i << ". " << s.stage << ": " << (s.up_to_date ? "skip" : "run") << " (" << s.reason << ")\n"
                  << "     in:  " << (ins.empty() ? "-" : ins) << "\n     out: " << s.io.output << "\n";
      }
      return;
    }
    {
      std::vector<PlannedStage> plan = pipeline_plan(c, range);
      if (st.force)
        for (auto& s : plan) s.up_to_date = false;
      check_files(plan);
    }
    RunOptions o;
    o.range = range;
    o.force = st.force;
    o.runners = stage_runners();
    o.command = "slmify run " + st.file;
    o.lock_wait_s = st.wait_s;
    Context ctx;
    ctx.json = st.opts.json;
    json summary = pipeline_run(c, ctx, o);
    if (st.opts.json) print_json(summary);
    else std::cout << pipeline_summary_text(summary) << std::flush;
  });
}

}  // namespace slmify::cli
