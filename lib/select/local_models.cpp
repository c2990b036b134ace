// Local model directories (select.model_paths) matched to catalog entries, their config.json
// checked against the catalog's facts; unmatched directories become candidates of their own.
// The matching rule is in docs/select.md ("Local models").
#include <algorithm>
#include <cctype>
#include <cmath>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/fsutil.h"
#include "model/gguf.h"
#include "model/hf_config.h"
#include "model/tokenizer.h"
#include "select/catalog.h"

namespace slmify {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string last_part(const std::string& id) {
  size_t slash = id.find_last_of('/');
  return slash == std::string::npos ? id : id.substr(slash + 1);
}

// Names a directory may go by: config.json `_name_or_path`, the Hub cache's models--Org--Name
// component, and the directory's own name.
std::vector<std::string> local_names(const fs::path& dir, const json& cfg) {
  std::vector<std::string> names;
  if (dir.extension() == ".gguf") {  // SmolLM2-135M-Instruct.Q4_1.gguf goes by SmolLM2-135M-Instruct
    std::string stem = dir.stem().string();
    names.push_back(stem.substr(0, stem.find('.')));
    names.push_back(stem);
    return names;
  }
  if (cfg.contains("_name_or_path") && cfg["_name_or_path"].is_string() && !cfg["_name_or_path"].get<std::string>().empty())
    names.push_back(cfg["_name_or_path"].get<std::string>());
  for (const fs::path& part : dir) {
    std::string p = part.string();
    if (p.rfind("models--", 0) == 0) {
      std::string id = p.substr(8);
      size_t sep = id.find("--");
      if (sep != std::string::npos) id.replace(sep, 2, "/");
      names.push_back(id);
    }
  }
  names.push_back(dir.filename().string());
  return names;
}

bool name_matches(const std::string& name, const std::string& id) {
  std::string n = lower(name), i = lower(id);
  return n == i || lower(last_part(name)) == lower(last_part(id));
}

std::string dtype_of(const std::string& torch_dtype) {
  if (torch_dtype == "float32") return "fp32";
  if (torch_dtype == "float16") return "fp16";
  return "bf16";
}

bool same_shape(const ModelShape& a, const ModelShape& b) {
  return a.layers == b.layers && a.hidden == b.hidden && a.intermediate == b.intermediate && a.heads == b.heads &&
         a.kv_heads == b.kv_heads && a.vocab == b.vocab;
}

std::string fmt_b(double params_b) {
  char buf[32];
  std::snprintf(buf, sizeof buf, params_b < 0.01 ? "%.6f" : "%.3f", params_b);
  return buf;
}

// What config.json says, as a catalog entry (no licence, no scores).
CatalogEntry entry_from_config(const fs::path& dir, const json& raw) {
  CatalogEntry e;
  e.id = "local:" + dir.filename().string();
  e.path = dir.string();
  e.origin = (dir / "config.json").string();
  e.license = "unknown";
  if (raw.contains("architectures") && raw["architectures"].is_array() && !raw["architectures"].empty() && raw["architectures"][0].is_string())
    e.architecture = raw["architectures"][0].get<std::string>();
  e.family = raw.value("model_type", std::string("local"));
  e.context = raw.contains("max_position_embeddings") && raw["max_position_embeddings"].is_number_integer()
                  ? raw["max_position_embeddings"].get<int64_t>() : 0;
  std::string td = raw.contains("torch_dtype") && raw["torch_dtype"].is_string() ? raw["torch_dtype"].get<std::string>()
                   : raw.contains("dtype") && raw["dtype"].is_string() ? raw["dtype"].get<std::string>() : "bfloat16";
  e.dtype = dtype_of(td);
  try {
    ModelConfig c = model_config_parse(raw, e.origin);
    e.shape = ModelShape{c.num_layers, c.hidden_size, c.intermediate_size, c.num_heads, c.num_kv_heads, c.head_dim, c.vocab_size};
    e.params_b = static_cast<double>(model_param_count(c)) / 1e9;
  } catch (const Error& ex) {
    e.notes = "config.json: " + (ex.problems().empty() ? std::string("unsupported") : ex.problems()[0].what);
  }
  e.trainable = e.shape.has_value() && !catalog_model_type(e.architecture).empty();
  try {
    e.tokenizer = tokenizer_load(dir)->kind();
  } catch (const Error&) {
    e.tokenizer = "unknown";
  }
  return e;
}

}  // namespace

void catalog_add_local(std::vector<CatalogEntry>& entries, const std::vector<std::string>& dirs, std::vector<std::string>& warnings) {
  std::vector<Problem> problems;
  struct Found {
    fs::path source;  // what model_paths lists: a model directory or a .gguf file
    fs::path dir;     // the directory holding config.json (a .gguf's import in the cache)
    json raw;
  };
  std::vector<Found> found;
  for (const std::string& d : dirs) {
    fs::path dir = fs::absolute(d).lexically_normal();
    if (!dir.empty() && dir.filename().empty()) dir = dir.parent_path();  // a trailing slash
    std::error_code ec;
    fs::path source = dir;
    if (dir.extension() == ".gguf" && fs::is_regular_file(dir, ec)) {
      dir = resolve_model_path(dir);  // imported once, keyed by the file's digest
    } else if (!fs::is_directory(dir, ec)) {
      problems.push_back({"select.model_paths", d + " is not a directory or a .gguf file",
                          "list Hugging Face model directories (config.json, model.safetensors, tokenizer) or GGUF files"});
      continue;
    }
    if (!fs::exists(dir / "config.json", ec)) {
      problems.push_back({"select.model_paths", d + " has no config.json", "list Hugging Face model directories, not their parents"});
      continue;
    }
    try {
      found.push_back({source, dir, json::parse(read_file(dir / "config.json"))});
    } catch (const json::exception& ex) {
      problems.push_back({(dir / "config.json").string(), std::string("is not valid JSON: ") + ex.what(), "restore it from the original checkpoint"});
    }
  }
  if (!problems.empty()) throw Error(ExitCode::usage, problems);

  for (const auto& [source, model_dir, raw] : found) {
    const fs::path& dir = source;
    CatalogEntry local = entry_from_config(model_dir, raw);
    local.path = source.string();
    if (source != model_dir) local.id = "local:" + source.filename().string();
    // 1. by name; 2. by architecture and shape when exactly one entry has them.
    CatalogEntry* match = nullptr;
    std::string how;
    for (const std::string& name : local_names(dir, raw)) {
      for (CatalogEntry& e : entries)
        if (e.id.rfind("local:", 0) != 0 && name_matches(name, e.id)) {
          match = &e, how = "by name (" + name + ")";
          break;
        }
      if (match) break;
    }
    if (!match && local.shape) {
      std::vector<CatalogEntry*> same;
      for (CatalogEntry& e : entries)
        if (e.id.rfind("local:", 0) != 0 && e.shape && e.architecture == local.architecture && same_shape(*e.shape, *local.shape))
          same.push_back(&e);
      if (same.size() == 1) match = same[0], how = "by architecture and shape";
      if (same.size() > 1) {
        std::string ids;
        for (CatalogEntry* e : same) ids += (ids.empty() ? "" : ", ") + e->id;
        warnings.push_back(dir.string() + ": architecture and shape fit several catalog entries (" + ids +
                           "); treated as a model of its own. Name the directory after the model, or set _name_or_path in its config.json");
      }
    }
    if (match && !match->path.empty()) {
      warnings.push_back(dir.string() + " and " + match->path + " both match " + match->id + "; the first is used");
      continue;
    }
    if (!match) {
      entries.push_back(local);
      continue;
    }
    match->path = dir.string();
    match->origin += "; local " + dir.string() + " matched " + how;
    auto warn = [&](const std::string& w) {
      match->warnings.push_back(w);
      warnings.push_back(dir.string() + " (" + match->id + "): " + w);
    };
    if (!local.architecture.empty() && local.architecture != match->architecture)
      warn("config.json says architecture " + local.architecture + ", the catalog " + match->architecture);
    if (local.params_b > 0 && std::abs(local.params_b - match->params_b) > 0.05 * match->params_b)
      warn("config.json implies " + fmt_b(local.params_b) + "B parameters, the catalog says " + fmt_b(match->params_b) + "B");
    if (local.context > 0 && local.context != match->context)
      warn("config.json max_position_embeddings is " + std::to_string(local.context) + ", the catalog's context " + std::to_string(match->context));
    if (local.shape && match->shape && !same_shape(*local.shape, *match->shape))
      warn("config.json's shape (layers, hidden, intermediate, heads, kv_heads, vocab) differs from the catalog's");
    if (local.shape) match->shape = local.shape;  // the real directory's shape sizes its memory
    if (!local.notes.empty()) warn(local.notes);
  }
}

}  // namespace slmify
