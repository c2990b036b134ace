// What `slmify model info` reports about an HF model directory without loading its weights:
// architecture, parameters, stored dtype, memory for inference and for LoRA training (estimates,
// formulas in docs/models.md), tokenizer and chat template. No torch: reads headers only.
// Tested by tests/cli/test_cli_model.cpp.
#pragma once

#include <filesystem>

#include <nlohmann/json.hpp>

namespace slmify {

struct MemoryEstimate {
  int64_t context = 4096;     ///< tokens of KV cache for inference
  int64_t lora_rank = 16;     ///< LoRA on every linear layer of every block
  int64_t train_tokens = 2048;  ///< tokens per training micro-batch
};

nlohmann::json model_info(const std::filesystem::path& dir, const MemoryEstimate& est = {});

}  // namespace slmify
