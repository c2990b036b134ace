// slmify model backend|info|init: the model core's commands.
#include <iostream>

#include "command.h"
#include "core/error.h"
#include "model/backend.h"

namespace slmify::cli {

namespace {
struct ModelState {
  bool json = false;
  std::string dir;
};
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
  info->add_option("DIR", st.dir, "HF model directory")->required();
  info->callback([]() { stage_unavailable("model info", "reading Hugging Face checkpoints"); });

  CLI::App* init = model->add_subcommand("init", "make a small Llama-architecture checkpoint and tokenizer from a dataset");
  init->add_option("-o,--output", st.dir, "output model directory")->required();
  init->callback([]() { stage_unavailable("model init", "making models"); });
}

}  // namespace slmify::cli
