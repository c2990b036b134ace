// slmify config validate|show|reference: the pipeline file on its own.
#include <iostream>

#include "command.h"
#include "core/error.h"

namespace slmify::cli {

namespace {
struct ConfigState {
  std::string file, section;
  bool json = false;
};
}  // namespace

void register_config(CLI::App& app, Store& store) {
  ConfigState& st = keep<ConfigState>(store);
  CLI::App* cfg = app.add_subcommand("config", "validate and show pipeline files; print the key reference");
  cfg->require_subcommand(1);

  CLI::App* validate = cfg->add_subcommand("validate", "check a pipeline file and report every problem at once");
  validate->add_option("FILE", st.file, "pipeline.yaml")->required();
  validate->callback([&st]() {
    check_config_deeply(config_load(std::filesystem::path(st.file)));
    std::cout << st.file << ": ok\n";
  });

  CLI::App* show = cfg->add_subcommand("show", "print the effective config (defaults filled in) of a file, or the defaults");
  show->add_option("FILE", st.file, "pipeline.yaml (omit for the defaults)");
  show->add_option("--section", st.section, "only this top-level section");
  show->add_flag("--json", st.json, "print as JSON");
  show->callback([&st]() {
    std::optional<std::filesystem::path> f;
    if (!st.file.empty()) f = st.file;
    PipelineConfig c = config_load(f);
    if (!st.section.empty() && !config_to_json(c).contains(st.section))
      throw_usage("--section " + st.section, "is not a section of the pipeline file", "see docs/pipeline.md");
    if (st.json) print_json(config_to_json(c, st.section));
    else std::cout << config_to_yaml(c, st.section);
  });

  CLI::App* ref = cfg->add_subcommand("reference", "print every key with type, default and meaning (Markdown)");
  ref->callback([]() { std::cout << config_reference_markdown(); });
}

}  // namespace slmify::cli
