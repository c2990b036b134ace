// slmify select CLUSTER_DIR -o OUT [--explain CLUSTER_ID]: parses flags and calls select_run() in
// lib/select; --explain then prints why each candidate of that cluster was or was not chosen.
#include <iostream>

#include "command.h"
#include "select/select.h"

namespace slmify::cli {

namespace {
std::optional<int64_t> explain_cluster;  // --explain, set while the command line is parsed

json run_select(const PipelineConfig& c, const StageIO& io, const Context& ctx) {
  json summary = select_run(c, io, ctx);
  if (explain_cluster) {
    std::string text = select_explain(io.output, *explain_cluster);
    if (ctx.json) summary["explain"] = text;  // stdout carries the JSON summary
    else std::cout << text << std::flush;
  }
  return summary;
}
}  // namespace

void register_select(CLI::App& app, Store& store) {
  CLI::App* cmd = add_stage_command(app, store, "select", "choose candidate small models for each task (stage 4)", "CLUSTER_DIR",
                                    false, &run_select);
  cmd->add_option("--explain", explain_cluster,
                  "after writing the plan, print why each candidate of this cluster was or was not chosen (with --json: the "
                  "summary's explain field)")
      ->type_name("CLUSTER_ID");
}

}  // namespace slmify::cli
