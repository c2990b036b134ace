// slmify finetune CLUSTER_DATASET --base MODEL_DIR -o OUT: parses flags and calls finetune_run() in lib/train.
#include "command.h"
#include "train/train.h"

namespace slmify::cli {

void register_finetune(CLI::App& app, Store& store) {
  add_stage_command(app, store, "finetune", "LoRA fine-tune a small model per task (stage 5)", "CLUSTER_DATASET", false,
                    &finetune_run);
}

}  // namespace slmify::cli
