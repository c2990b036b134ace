// slmify finetune CLUSTER_DATASET --base MODEL_DIR -o OUT [--clusters 3,5 | --plan plan.yaml | --all],
// and slmify merge --base DIR --adapter DIR -o DIR: parse flags and call lib/train.
#include "command.h"
#include "train/train.h"

namespace slmify::cli {

namespace {
struct MergeState {
  std::string base, adapter, out, dtype = "auto";
  bool json = false;
};
}  // namespace

void register_finetune(CLI::App& app, Store& store) {
  CLI::App* f = add_stage_command(app, store, "finetune", "LoRA fine-tune a small model per task (stage 5)", "CLUSTER_DATASET", false,
                                  &finetune_run);
  f->footer("Trains one PEFT LoRA adapter per cluster over one base model (see docs/finetune.md).\n"
            "Examples:\n"
            "  slmify finetune runs/x/cluster --base models/SmolLM2-135M-Instruct -o runs/x/finetune\n"
            "  slmify finetune runs/x/cluster --plan runs/x/select/plan.yaml -o runs/x/finetune\n"
            "  slmify finetune runs/x/scrub --all --base MODEL -o OUT      (one adapter on every call)");

  CLI::App* p = add_stage_command(app, store, "pretrain", "make a small model and pre-train it on the calls (optional stage, before select)",
                                  "CLUSTER_DATASET", false, &pretrain_run);
  p->footer("For machines that cannot download a base model: `slmify model init` plus a brief full pre-training\n"
            "on the training split (never on held-out calls). List the output in select.model_paths.\n"
            "Example:\n"
            "  slmify pretrain runs/x/cluster --max-steps 300 -o runs/x/pretrain");

  MergeState& st = keep<MergeState>(store);
  CLI::App* m = app.add_subcommand("merge", "merge a LoRA adapter into its base: a standalone Hugging Face checkpoint");
  m->add_option("--base", st.base, "Hugging Face model directory the adapter was trained on")->required();
  m->add_option("--adapter", st.adapter, "PEFT LoRA adapter directory")->required();
  m->add_option("-o,--output", st.out, "output model directory (written atomically)")->required();
  m->add_option("--dtype", st.dtype, "stored dtype: auto (the base's), fp32 or bf16")->check(CLI::IsMember({"auto", "fp32", "bf16"}))->capture_default_str();
  m->add_flag("--json", st.json, "print the result as JSON");
  m->callback([&st]() {
    json r = merge_run(st.base, st.adapter, st.out, st.dtype);
    if (st.json) print_json(r);
  });
}

}  // namespace slmify::cli
