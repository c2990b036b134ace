// slmify model backend|info|init|import: parses flags and calls lib/model.
#include <cstdio>
#include <iostream>

#include "command.h"
#include "core/dataset.h"
#include "core/error.h"
#include "model/backend.h"
#include "model/gguf.h"
#include "model/model_info.h"
#include "model/model_init.h"

namespace slmify::cli {

namespace {
struct ModelState {
  bool json = false;
  std::string dir;
  ModelInitOptions init;
  std::string from, output;
  CommandOptions cfg;  // --config/--set for the encryption key of the dataset model init reads
  GgufImportOptions import;
};

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  char buf[32];
  std::snprintf(buf, sizeof buf, u ? "%.1f %s" : "%.0f %s", b, units[u]);
  return buf;
}

std::string human_count(double n) {
  char buf[32];
  if (n >= 1e9) std::snprintf(buf, sizeof buf, "%.2fB", n / 1e9);
  else if (n >= 1e6) std::snprintf(buf, sizeof buf, "%.1fM", n / 1e6);
  else if (n >= 1e3) std::snprintf(buf, sizeof buf, "%.1fK", n / 1e3);
  else std::snprintf(buf, sizeof buf, "%.0f", n);
  return buf;
}

void print_info(const json& j) {
  const json& mem = j["memory"];
  std::cout << "model:          " << j["dir"].get<std::string>() << "\n"
            << "architecture:   " << j["model_type"].get<std::string>() << " (" << j["architecture"].get<std::string>() << ")\n"
            << "parameters:     " << human_count(j["parameters"].get<double>()) << " (" << j["parameters"].get<int64_t>() << ")\n"
            << "weights:        " << j["dtype"].get<std::string>() << ", " << human_bytes(j["weights_bytes"].get<double>()) << "\n"
            << "shape:          " << j["layers"] << " layers, hidden " << j["hidden_size"] << ", intermediate " << j["intermediate_size"]
            << ", " << j["heads"] << " heads (" << j["kv_heads"] << " KV) of " << j["head_dim"] << "\n"
            << "vocabulary:     " << j["vocab_size"] << (j["tie_word_embeddings"].get<bool>() ? " (tied embeddings)" : "") << "\n"
            << "context:        " << j["max_position_embeddings"] << " positions, RoPE theta " << j["rope_theta"]
            << (j["rope_scaling"] == "default" ? "" : ", " + j["rope_scaling"].get<std::string>() + " scaling") << "\n"
            << "inference:      ~" << human_bytes(mem["inference_bf16_bytes"].get<double>()) << " (bf16, " << mem["inference_context"]
            << "-token KV cache)\n"
            << "LoRA training:  ~" << human_bytes(mem["lora_training_bytes"].get<double>()) << " (r=" << mem["lora_rank"]
            << " on all linear layers, " << mem["train_tokens_per_batch"] << " tokens per batch)\n";
  const json& t = j["tokenizer"];
  if (t.contains("error")) std::cout << "tokenizer:      none (" << t["error"].get<std::string>() << ")\n";
  else
    std::cout << "tokenizer:      " << t["kind"].get<std::string>() << ", " << t["vocab_size"] << " tokens"
              << (t.contains("bos") ? ", BOS " + t["bos"].get<std::string>() : "") << (t.contains("eos") ? ", EOS " + t["eos"].get<std::string>() : "")
              << "\n";
  std::cout << "chat template:  " << (j["chat_template"].is_null() ? std::string("none") : j["chat_template"].get<std::string>()) << "\n";
}
}  // namespace

void register_model(CLI::App& app, Store& store) {
  ModelState& st = keep<ModelState>(store);
  CLI::App* model = app.add_subcommand("model", "inspect and make models");
  model->require_subcommand(1);

  CLI::App* backend = model->add_subcommand("backend", "what the libtorch backend offers here (version, CUDA, threads)");
  backend->add_flag("--json", st.json, "print as JSON");
  backend->callback([&st]() {
    backend_set_threads(0);  // one per core, set explicitly (libtorch may default to one)
    BackendInfo b = backend_info();
    json j = {{"torch", b.torch},           {"torch_version", b.torch_version}, {"cuda_built", b.cuda_built},
              {"cuda_runtime", b.cuda_runtime}, {"cuda_available", b.cuda_available}, {"cuda_devices", b.cuda_devices},
              {"cpu_threads", b.cpu_threads}, {"cpu_bf16", b.cpu_bf16}};
    if (st.json) return print_json(j);
    if (!b.torch) {
      std::cout << "libtorch: not built in\n";
      return;
    }
    std::cout << "libtorch " << b.torch_version << "\n"
              << "CUDA path: " << (b.cuda_built ? "built (runtime " + b.cuda_runtime + ")" : "not built") << "\n"
              << "CUDA devices: " << b.cuda_devices << (b.cuda_available ? "" : " (CPU only here)") << "\n"
              << "CPU threads: " << b.cpu_threads << ", native bf16: " << (b.cpu_bf16 ? "yes" : "no") << "\n";
  });

  CLI::App* info = model->add_subcommand("info", "architecture, parameters, memory, tokenizer and chat template of a model");
  info->add_option("DIR", st.dir, "Hugging Face model directory, or a .gguf file (imported once into the cache)")->required();
  info->add_flag("--json", st.json, "print as JSON");
  info->callback([&st]() {
    json j = model_info(resolve_model_path(st.dir));
    if (st.json) print_json(j);
    else print_info(j);
  });

  CLI::App* init = model->add_subcommand("init", "make a small Llama-architecture checkpoint and tokenizer from a dataset");
  init->add_option("-o,--output", st.output, "model directory to create")->required();
  init->add_option("--from", st.from, "dataset whose text trains the tokenizer (e.g. scrub's output)")->required();
  init->add_option("--size", st.init.size, "tiny (~0.2M parameters) or small (~5M)")
      ->check(CLI::IsMember({"tiny", "small"}))
      ->capture_default_str();
  init->add_option("--seed", st.init.seed, "seed of the tokenizer order and the random weights")->capture_default_str();
  init->add_flag("--force", st.init.force, "replace the output directory if it exists");
  add_common_options(init, st.cfg);
  init->callback([&st]() {
    PipelineConfig c = load_config(st.cfg);
    if (print_config_if_asked(c, st.cfg)) return;
    stage_read_options(c, st.init.read);
    st.init.output = st.output;
    st.init.dataset = st.from;
    json j = model_init(st.init);
    if (st.cfg.json) print_json(j);
    else
      std::cout << "made " << j["output"].get<std::string>() << ": Llama, " << j["parameters"] << " parameters, sentencepiece vocabulary of "
                << j["vocab_size"] << " trained on " << j["records"] << " calls\n";
  });

  CLI::App* import = model->add_subcommand("import", "turn a GGUF file (llama.cpp, Ollama, LM Studio) into a Hugging Face model directory");
  import->add_option("GGUF", st.import.input, "the .gguf file (llama or qwen2 architecture)")->required();
  import->add_option("-o,--output", st.import.output, "model directory to create")->required();
  import->add_option("--dtype", st.import.dtype, "dtype of model.safetensors: fp32 (the dequantised values exactly) or bf16")
      ->check(CLI::IsMember({"fp32", "bf16"}))
      ->capture_default_str();
  import->add_flag("--force", st.import.force, "replace the output directory if it exists");
  import->add_flag("--json", st.json, "print the summary as JSON");
  import->callback([&st]() {
    json j = gguf_import(st.import);
    if (st.json) return print_json(j);
    std::string types;
    for (const auto& [t, n] : j["tensor_types"].items()) types += (types.empty() ? "" : ", ") + std::to_string(n.get<int>()) + " " + t;
    std::cout << "imported " << j["output"].get<std::string>() << ": " << j["architecture"].get<std::string>() << ", "
              << human_count(j["parameters"].get<double>()) << " parameters (" << types << " tensors) as " << j["dtype"].get<std::string>()
              << ", tokenizer " << j["tokenizer"].get<std::string>() << "\n";
  });
}

}  // namespace slmify::cli
