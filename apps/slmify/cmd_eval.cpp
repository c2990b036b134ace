// slmify eval CLUSTER_DIR FINETUNE_DIR -o OUT: parses flags and calls eval_run() in lib/eval.
#include "command.h"
#include "eval/eval.h"

namespace slmify::cli {

namespace {
struct EvalState {
  CommandOptions opts;
  std::string clusters, finetune, output;
};
}  // namespace

void register_eval(CLI::App& app, Store& store) {
  EvalState& st = keep<EvalState>(store);
  st.opts.section = "eval";
  CLI::App* cmd = app.add_subcommand("eval", "measure which tasks the small models can take over, and write the router");
  cmd->add_option("CLUSTER_DIR", st.clusters, "output of `slmify cluster` (calls with ann.cluster and ann.split, clusters.json)");
  cmd->add_option("FINETUNE_DIR", st.finetune, "output of `slmify finetune` (adapters.json and the adapters)");
  cmd->add_option("-o,--output", st.output, "output directory: report.json, report.html, router/ (written atomically)")->type_name("DIR");
  add_common_options(cmd, st.opts);
  add_section_flags(cmd, st.opts);
  cmd->callback([&st]() {
    PipelineConfig c = load_config(st.opts);
    if (print_config_if_asked(c, st.opts)) return;
    StageIO io;
    for (const std::string* in : {&st.clusters, &st.finetune})
      if (!in->empty()) io.inputs.push_back(*in);
    io.output = st.output;
    Context ctx;
    ctx.json = st.opts.json;
    json summary = eval_run(c, io, ctx);
    if (st.opts.json) print_json(summary);
  });
}

}  // namespace slmify::cli
