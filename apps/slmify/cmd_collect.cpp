// slmify collect INPUT... -o OUT: parses flags and calls collect_run() in lib/collect.
#include "collect/collect.h"
#include "command.h"

namespace slmify::cli {

void register_collect(CLI::App& app, Store& store) {
  add_stage_command(app, store, "collect", "ingest logged agent LLM calls into a dataset (stage 1)", "INPUT", true,
                    &collect_run, "collect.inputs");
}

}  // namespace slmify::cli
