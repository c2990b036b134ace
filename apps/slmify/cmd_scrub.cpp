// slmify scrub IN -o OUT: parses flags and calls scrub_run() in lib/scrub.
#include "scrub/scrub.h"
#include "command.h"

namespace slmify::cli {

void register_scrub(CLI::App& app, Store& store) {
  add_stage_command(app, store, "scrub", "remove PII and secrets, drop bad calls, de-duplicate (stage 2)", "IN", false, &scrub_run);
}

}  // namespace slmify::cli
