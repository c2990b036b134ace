// The training loop shared by `slmify finetune`, retrain and the benchmark (torch-free header).
// One job trains one adapter, or with multi_adapter several tasks' adapters in the same steps
// over one frozen base; method full trains every weight of a tiny model instead. Checkpoints
// make a killed job resume to the same weights and losses. Behaviour: docs/finetune.md.
// Tested by tests/train/test_trainer.cpp.
#pragma once

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "core/config.h"
#include "train/examples.h"

namespace slmify {

class Model;

struct TrainTask {
  std::string name;                    ///< adapter name, e.g. cluster-3 (a directory name)
  std::vector<TrainExample> train, eval;
  std::string init_adapter;            ///< start from this PEFT adapter ("" = fresh LoRA)
  json info = json::object();          ///< copied into metrics.json (cluster id, label, counts)
};

struct TrainJob {
  FinetuneConfig cfg;
  std::vector<TrainTask> tasks;        ///< more than one only with cfg.multi_adapter (LoRA)
  std::filesystem::path work;          ///< checkpoints and logs (kept across a kill)
  std::filesystem::path out;           ///< finished adapters go to out/<task name>/
  std::string base_name;               ///< base_model_name_or_path written into adapter_config.json
  std::string fingerprint;             ///< a checkpoint with another fingerprint is not resumed
  /// Called after every optimiser step with the JSONL log line (tests, progress).
  std::function<void(const json&)> on_step;
};

/// Trains the job on `model` (loaded by the caller; method full changes its weights) and writes
/// each task's adapter (or full checkpoint), metrics.json and train_log.jsonl to out/<name>/.
/// Returns each task's metrics.
std::vector<json> train_job(Model& model, const TrainJob& job);

}  // namespace slmify
