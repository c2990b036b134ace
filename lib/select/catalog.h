// The model catalog select chooses from: the built-in catalog.yaml (compiled into the binary),
// user catalog files that extend or override entries by id, and local model directories matched
// to entries (or made candidates of their own). Memory needs come from params, dtype and shape.
// Schema and rules: docs/select.md. Tested by tests/select/test_select.cpp.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace slmify {

/// The shape of a decoder (what config.json says); enough for the memory formulas.
struct ModelShape {
  int64_t layers = 0, hidden = 0, intermediate = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  int64_t kv_dim() const { return kv_heads * (head_dim ? head_dim : (heads ? hidden / heads : 0)); }
};

struct CatalogEntry {
  std::string id;            ///< Hugging Face id ("Qwen/Qwen2.5-0.5B-Instruct"), or "local:NAME"
  std::string family;
  std::string architecture;  ///< config.json architectures[0], e.g. LlamaForCausalLM
  double params_b = 0;       ///< parameters, billions
  int64_t context = 0;       ///< longest sequence the model takes, tokens
  std::string license;       ///< licence id as on the Hub (apache-2.0, mit, llama3.2, ...); "unknown" for local models
  std::string tokenizer;     ///< bpe, sentencepiece (or unknown)
  std::string dtype = "bf16";  ///< weights dtype: bf16, fp16 or fp32
  std::optional<ModelShape> shape;
  std::map<std::string, double> scores;  ///< benchmark -> published score, 0..100
  std::vector<std::string> sources;
  std::string notes;
  std::string origin;  ///< "built-in", or the catalog file (and line) the entry last came from
  // Derived:
  bool trainable = false;  ///< its architecture is one the model core runs (hf_config)
  std::string path;        ///< absolute local model directory, "" when it would have to be downloaded
  std::vector<std::string> warnings;  ///< local config.json disagreeing with the catalog
};

/// Memory estimates in GiB (docs/select.md): serving in the entry's dtype with a 4096-token KV
/// cache; LoRA r=16 training on all linear layers with 2048 tokens per micro-batch.
struct MemoryNeed {
  double serve_gb = 0;
  double train_gb = 0;
  std::string formula;  ///< "shape" (the `slmify model info` formulas) or "params" (params and dtype only)
};
MemoryNeed catalog_memory(const CatalogEntry& e);

/// The benchmarks a catalog may name, and the skill each measures (instruction, tools, code, math, knowledge).
const std::map<std::string, std::string>& catalog_benchmarks();

/// HF architecture -> model_type for the architectures the model core runs ("" when it does not).
std::string catalog_model_type(const std::string& architecture);

/// Parses catalog YAML; `source` names it in errors ("file.yaml:12:5 models[3].params_b: ...").
/// Every problem is reported at once in one usage Error.
std::vector<CatalogEntry> catalog_parse(const std::string& yaml_text, const std::string& source);
/// The built-in catalog.
std::vector<CatalogEntry> catalog_builtin();
/// The built-in catalog with each file applied in order, by id: the fields a file's entry gives
/// replace the earlier ones, new ids are appended. Missing files and bad YAML are usage Errors
/// that name the file (and line:col), all problems at once.
std::vector<CatalogEntry> catalog_load(const std::vector<std::string>& files);

/// Matches local model directories to entries (config.json `_name_or_path` or the directory name
/// equal to an id or its last part, else a unique architecture + shape match) and checks their
/// facts; unmatched directories become entries of their own ("local:DIR"). Sets `path`.
void catalog_add_local(std::vector<CatalogEntry>& entries, const std::vector<std::string>& dirs,
                       std::vector<std::string>& warnings);

}  // namespace slmify
