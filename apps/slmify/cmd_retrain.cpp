// slmify retrain PIPELINE: one periodic retraining cycle (stage 6).
#include "command.h"
#include "core/error.h"

namespace slmify::cli {

namespace {
struct RetrainState {
  CommandOptions opts;
  std::string file;
};
}  // namespace

void register_retrain(CLI::App& app, Store& store) {
  RetrainState& st = keep<RetrainState>(store);
  st.opts.section = "retrain";
  CLI::App* cmd = app.add_subcommand("retrain", "fold in new calls, retrain, promote only what is better (stage 6)");
  cmd->add_option("PIPELINE", st.file, "pipeline.yaml")->required()->check(CLI::ExistingFile);
  add_common_options(cmd, st.opts);
  add_section_flags(cmd, st.opts);
  cmd->callback([&st]() {
    st.opts.config = st.file;
    PipelineConfig c = load_config(st.opts);
    if (print_config_if_asked(c, st.opts)) return;
    stage_unavailable("retrain", "the retrain stage");
  });
}

}  // namespace slmify::cli
