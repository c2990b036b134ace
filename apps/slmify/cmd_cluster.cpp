// slmify cluster IN -o OUT [--assign CLUSTERS_DIR]: parses flags and calls cluster_run() (or
// cluster_assign() with --assign) in lib/cluster.
#include "cluster/cluster.h"
#include "command.h"

namespace slmify::cli {

namespace {
std::string assign_dir;  // --assign, set while the command line is parsed

json run_cluster(const PipelineConfig& c, const StageIO& io, const Context& ctx) {
  return assign_dir.empty() ? cluster_run(c, io, ctx) : cluster_assign(c, io, assign_dir, ctx);
}
}  // namespace

void register_cluster(CLI::App& app, Store& store) {
  CLI::App* cmd = add_stage_command(app, store, "cluster", "discover the recurring tasks without labels (stage 3)", "IN",
                                    false, &run_cluster);
  cmd->add_option("--assign", assign_dir,
                  "assign the calls of IN to the clusters in this directory (written by `slmify cluster`) instead of "
                  "clustering them anew; far calls are flagged as outliers")
      ->type_name("CLUSTERS_DIR");
}

}  // namespace slmify::cli
