// finetune's output as eval reads it: adapters.json (per adapter its cluster, or none for one
// trained on every cluster, directory, method and base model; the clusters skipped and why),
// checked against finetune's manifest. Format: docs/eval.md ("Inputs"). Tested by tests/eval/test_eval.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/record.h"

namespace slmify {

struct AdapterEntry {
  std::optional<int32_t> cluster;  ///< none: one adapter for every cluster ("all")
  std::string name;                ///< e.g. "cluster-3": the name it is served under
  std::string dir;                 ///< absolute: a PEFT adapter, or a full checkpoint (method full)
  std::string method;              ///< lora or full
  std::string base;                ///< the base model's directory
  json metrics;
};

struct FinetuneIndex {
  std::string base;
  std::vector<AdapterEntry> adapters;
  std::map<int32_t, std::string> skipped;  ///< cluster -> reason
};

/// Reads FINETUNE_DIR: an artifact of stage finetune whose files match its manifest, with a
/// well-formed adapters.json whose adapters exist. Errors name the file and say to rerun finetune.
FinetuneIndex finetune_index_read(const std::string& dir);

}  // namespace slmify
