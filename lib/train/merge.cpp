// `slmify merge`: base + PEFT LoRA adapter -> a merged Hugging Face checkpoint. See train.h.
#include <torch/types.h>

#include <unistd.h>

#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "model/model.h"
#include "model/transformer.h"
#include "train/lora.h"
#include "train/train.h"

namespace slmify {
namespace fs = std::filesystem;

json merge_run(const std::string& base, const std::string& adapter, const std::string& out_in, const std::string& dtype) {
  if (base.empty() || adapter.empty() || out_in.empty())
    throw_usage("merge", "needs --base, --adapter and -o", "slmify merge --base MODEL_DIR --adapter ADAPTER_DIR -o OUT_DIR");
  if (dtype != "auto" && dtype != "fp32" && dtype != "bf16")
    throw_usage("--dtype", "must be auto, fp32 or bf16 (got " + dtype + ")");
  fs::path out = fs::path(out_in).lexically_normal();
  if (out.filename().empty()) out = out.parent_path();
  std::error_code ec;
  if (fs::exists(out, ec) && !(fs::is_directory(out, ec) && (fs::is_empty(out, ec) || fs::exists(out / "config.json", ec))))
    throw_io(out.string(), "exists and is not a model directory, so slmify will not replace it", "choose another -o");
  ModelOptions mo;
  mo.device = "cpu";
  mo.dtype = "fp32";  // merge in fp32, then store
  mo.adapter = adapter;
  mo.merge_adapter = true;
  mo.tokenizer = false;
  std::unique_ptr<Model> m = model_load(base, mo);
  torch::ScalarType st = torch::kFloat32;
  const std::string stored = m->config().torch_dtype;
  if (dtype == "bf16" || (dtype == "auto" && (stored == "bfloat16" || stored == "float16"))) st = torch::kBFloat16;
  if (dtype == "auto" && stored == "float16") st = torch::kFloat16;

  fs::path parent = out.parent_path().empty() ? fs::path(".") : out.parent_path();
  fs::create_directories(parent);
  dataset_clean_stale(out);
  fs::path tmp = parent / ("." + out.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" + random_suffix());
  fs::create_directories(tmp);
  try {
    NamedTensors named;
    for (auto& [name, t] : transformer_named_weights(m->weights())) named.emplace_back(name, t.to(st));
    tensors_save(tmp / "model.safetensors", named);
    for (const char* f : {"config.json", "generation_config.json", "tokenizer.json", "tokenizer.model", "tokenizer_config.json",
                          "special_tokens_map.json"})
      if (fs::exists(fs::path(base) / f, ec)) fs::copy_file(fs::path(base) / f, tmp / f, fs::copy_options::overwrite_existing);
    // The template the adapter was trained with travels with the merged weights.
    for (const char* f : {kChatTemplateFile, "chat_template.jinja"})
      if (fs::exists(fs::path(adapter) / f, ec)) fs::copy_file(fs::path(adapter) / f, tmp / f, fs::copy_options::overwrite_existing);
    // config.json states the dtype the weights are stored in.
    json cfg = json::parse(read_file(tmp / "config.json"));
    cfg["torch_dtype"] = st == torch::kFloat32 ? "float32" : st == torch::kBFloat16 ? "bfloat16" : "float16";
    write_file_atomic(tmp / "config.json", cfg.dump(2) + "\n");
    fsync_path(tmp);
    if (fs::exists(out, ec)) {
      fs::path old = parent / ("." + out.filename().string() + ".old-" + std::to_string(::getpid()) + "-" + random_suffix());
      fs::rename(out, old);
      fs::rename(tmp, out);
      fs::remove_all(old, ec);
    } else {
      fs::rename(tmp, out);
    }
    fsync_path(parent);
  } catch (...) {
    fs::remove_all(tmp, ec);
    throw;
  }
  log_info("merge: wrote " + out.string() + " (" + std::string(st == torch::kFloat32 ? "fp32" : st == torch::kBFloat16 ? "bf16" : "fp16") + ")");
  return {{"base", base}, {"adapter", adapter}, {"output", out.string()},
          {"dtype", st == torch::kFloat32 ? "fp32" : st == torch::kBFloat16 ? "bf16" : "fp16"}};
}

}  // namespace slmify
