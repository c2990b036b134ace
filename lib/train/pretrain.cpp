// The optional pretrain stage: `slmify model init` (a small Llama checkpoint whose tokenizer is
// trained on the calls), then a brief full pre-training of every weight on the training split of
// the cluster dataset, written as a Hugging Face model directory that select and finetune use
// like any local model. Held-out calls are never trained on, so eval stays honest. Without
// libtorch it reports ExitCode::unavailable (through finetune_run). Behaviour: docs/finetune.md.
#include <filesystem>

#include "core/artifact.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "model/model_init.h"
#include "slmify/version.h"
#include "train/train.h"

namespace slmify {
namespace fs = std::filesystem;

json pretrain_run(const PipelineConfig& config, const StageIO& io, const Context& ctx) {
  const PretrainConfig& pc = config.pretrain;
  if (io.inputs.size() != 1)
    throw_usage("pretrain", "needs exactly one input dataset", "pass the cluster stage's output: slmify pretrain CLUSTER_DIR -o OUT");
  if (io.output.empty()) throw_usage("pretrain", "no output directory", "pass -o OUT");
  WriterOptions wo;
  stage_writer_options(config, "pretrain", "pretrain", wo);
  ArtifactWriter writer(io.output, "pretrain", wo.config);
  const InputRef in = input_ref(io.inputs[0]);
  writer.add_input(in);
  ReadOptions ro;
  stage_read_options(config, ro);

  // A work directory beside the output keeps the initial model and the training checkpoints
  // across a kill; it is removed once the model is committed.
  const fs::path out_dir = fs::path(io.output).lexically_normal();
  const fs::path work = out_dir.parent_path() / (out_dir.filename().string() + ".work");
  fs::create_directories(work);
  const json recipe = {{"slmify", SLMIFY_VERSION}, {"size", pc.size}, {"seed", pc.seed}, {"input", in.digest}};
  const fs::path init = work / "init";
  bool have_init = false;
  try {
    have_init = fs::exists(init / "config.json") && json::parse(read_file(work / "init.json")) == recipe;
  } catch (const std::exception&) {
    have_init = false;
  }
  if (!have_init) {
    ModelInitOptions mo;
    mo.output = init;
    mo.dataset = io.inputs[0];
    mo.size = pc.size;
    mo.seed = static_cast<uint64_t>(pc.seed);
    mo.force = true;
    mo.read = ro;
    json made = model_init(mo);
    write_file_atomic(work / "init.json", recipe.dump() + "\n");
    log_info("pretrain: made a " + pc.size + " model with a tokenizer trained on " + io.inputs[0]);
    (void)made;
  }

  // Pre-training is full fine-tuning of every weight on all calls of the training split.
  PipelineConfig c = config;
  FinetuneConfig f;
  f.base = init.string();
  f.all = true;
  f.method = "full";
  f.dtype = "fp32";
  f.device = pc.device;
  f.max_steps = pc.max_steps;
  f.epochs = 1000;  // max_steps ends it
  f.max_length = pc.max_length;
  f.batch_size = pc.batch_size;
  f.lr = pc.lr;
  f.warmup_ratio = 0.05;
  f.weight_decay = 0.0;
  f.prompt_loss = pc.prompt_loss;
  f.seed = pc.seed;
  f.eval_every = std::max<int64_t>(1, pc.max_steps / 4);
  f.save_every = std::max<int64_t>(10, pc.max_steps / 4);
  f.early_stopping_patience = 0;
  f.min_examples = 1;
  c.finetune = f;
  const fs::path trained = work / "train";
  json ft = finetune_run(c, StageIO{{io.inputs[0]}, trained.string()}, ctx);

  // The output is the model directory itself, plus how it was made.
  const fs::path stage = writer.staging_dir();
  const fs::path model = trained / "all";
  for (const auto& e : fs::directory_iterator(model))
    if (e.is_regular_file()) fs::copy_file(e.path(), stage / e.path().filename());
  json metrics;
  try {
    metrics = json::parse(read_file(model / "metrics.json"));
  } catch (const std::exception&) {
    metrics = json::object();
  }
  writer.stats() = {{"size", pc.size},
                    {"steps", metrics.value("steps", 0)},
                    {"final_train_loss", metrics.value("final_train_loss", json(nullptr))},
                    {"final_eval_loss", metrics.value("final_eval_loss", json(nullptr))},
                    {"tokens_per_s", metrics.value("tokens_per_s", json(nullptr))},
                    {"examples", metrics.value("examples", json::object())}};
  ArtifactManifest m = writer.commit();
  std::error_code ec;
  fs::remove_all(work, ec);
  log_info("pretrain: wrote the model to " + io.output + " (" + std::to_string(metrics.value("steps", 0)) + " steps, eval loss " +
           metrics.value("final_eval_loss", json(nullptr)).dump() + "); list it in select.model_paths");
  return {{"stage", "pretrain"}, {"output", io.output}, {"steps", metrics.value("steps", 0)},
          {"final_train_loss", metrics.value("final_train_loss", json(nullptr))},
          {"final_eval_loss", metrics.value("final_eval_loss", json(nullptr))}, {"digest", m.digest}};
}

}  // namespace slmify
