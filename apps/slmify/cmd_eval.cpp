// slmify eval CLUSTER_DIR -o OUT: parses flags and calls eval_run() in lib/eval.
#include "eval/eval.h"
#include "command.h"

namespace slmify::cli {

void register_eval(CLI::App& app, Store& store) {
  add_stage_command(app, store, "eval", "measure which tasks the small models can take over", "CLUSTER_DIR", false, &eval_run);
}

}  // namespace slmify::cli
