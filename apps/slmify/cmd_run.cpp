// slmify run PIPELINE [--dry-run]: validates the pipeline file and shows or runs the plan.
#include <iostream>

#include "command.h"
#include "core/error.h"
#include "pipeline/pipeline.h"

namespace slmify::cli {

namespace {
struct RunState {
  CommandOptions opts;
  std::string file, from, until;
  bool dry_run = false, force = false;
};

std::vector<std::string> restrict_stages(const PipelineConfig& c, const RunState& st) {
  const auto& s = c.stages;
  auto find = [&](const std::string& name, const char* flag) {
    auto it = std::find(s.begin(), s.end(), name);
    if (it == s.end())
      throw_usage(std::string(flag) + " " + name, "is not one of this pipeline's stages",
                  "choose one of the stages listed under `stages:` in the pipeline file");
    return it;
  };
  auto b = st.from.empty() ? s.begin() : find(st.from, "--from");
  auto e = st.until.empty() ? s.end() : find(st.until, "--until") + 1;
  if (b >= e) throw_usage("--from " + st.from + " --until " + st.until, "selects no stage", "--from must come before --until");
  return {b, e};
}
}  // namespace

void register_run(CLI::App& app, Store& store) {
  RunState& st = keep<RunState>(store);
  CLI::App* cmd = app.add_subcommand("run", "run the whole pipeline from one file, skipping what is up to date");
  cmd->add_option("PIPELINE", st.file, "pipeline.yaml")->required()->check(CLI::ExistingFile);
  cmd->add_flag("--dry-run", st.dry_run, "validate and print the plan: what would run and why");
  cmd->add_flag("--force", st.force, "run every stage even when its output is up to date");
  cmd->add_option("--from", st.from, "start at this stage")->type_name("STAGE");
  cmd->add_option("--until", st.until, "stop after this stage")->type_name("STAGE");
  add_common_options(cmd, st.opts);
  cmd->callback([&st]() {
    st.opts.config = st.file;
    PipelineConfig c = load_config(st.opts);
    if (print_config_if_asked(c, st.opts)) return;
    check_config_deeply(c);
    c.stages = restrict_stages(c, st);
    std::vector<PlannedStage> plan = pipeline_plan(c);
    if (st.force)
      for (auto& s : plan) s.up_to_date = false, s.reason = "--force; " + s.reason;
    if (st.dry_run) {
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
    Context ctx;
    ctx.json = st.opts.json;
    json summary = pipeline_run(c, ctx);
    if (st.opts.json) print_json(summary);
  });
}

}  // namespace slmify::cli
