// slmify select CLUSTER_DIR -o OUT: parses flags and calls select_run() in lib/select.
#include "select/select.h"
#include "command.h"

namespace slmify::cli {

void register_select(CLI::App& app, Store& store) {
  add_stage_command(app, store, "select", "choose candidate small models for each task (stage 4)", "CLUSTER_DIR", false, &select_run);
}

}  // namespace slmify::cli
