// `slmify model init`: a small Llama-architecture checkpoint in exactly the Hugging Face format
// (config.json, generation_config.json, model.safetensors, sentencepiece tokenizer trained on a
// dataset's text, ChatML chat template), randomly initialised like transformers does. Tests and the
// quick start use it because no real weights can be downloaded here. No torch needed.
// Tested by tests/cli/test_cli_model.cpp (transformers loads what it writes).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "core/dataset.h"

namespace slmify {

struct ModelInitOptions {
  std::filesystem::path output;   ///< model directory to create
  std::filesystem::path dataset;  ///< dataset whose text trains the tokenizer
  std::string size = "tiny";      ///< tiny (≈0.2M parameters) or small (≈5M)
  uint64_t seed = 0;
  bool force = false;             ///< replace an existing output directory
  ReadOptions read;               ///< key for an encrypted dataset
};

/// Writes the model atomically (temporary sibling directory, then rename); returns a summary.
nlohmann::json model_init(const ModelInitOptions& o);

/// The ChatML Jinja template slmify writes into tokenizer_config.json (recognised as "chatml").
const std::string& model_init_chat_template();

}  // namespace slmify
