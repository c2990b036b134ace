// slmify cluster IN -o OUT: parses flags and calls cluster_run() in lib/cluster.
#include "cluster/cluster.h"
#include "command.h"

namespace slmify::cli {

void register_cluster(CLI::App& app, Store& store) {
  add_stage_command(app, store, "cluster", "discover the recurring tasks without labels (stage 3)", "IN", false, &cluster_run);
}

}  // namespace slmify::cli
