// Helpers every subcommand shares: the common options (--config, --set, --print-config, --json),
// one flag per key of the stage's config section, loading the effective config
// (defaults < pipeline.yaml < flags), and printing results.
#pragma once

#include <CLI/CLI.hpp>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "core/stage.h"

namespace slmify::cli {

struct CommandOptions {
  std::string section;  ///< config section of this command ("" for none)
  std::string config;   ///< --config FILE
  std::vector<std::string> sets;  ///< --set KEY=VALUE
  bool print_config = false;
  bool json = false;
  // Per-key flags, by key; addresses stay stable in std::map.
  std::map<std::string, std::string> values;
  std::map<std::string, bool> bools;
  std::map<std::string, CLI::Option*> options;
};

/// Adds --config, --set, --print-config and --json.
void add_common_options(CLI::App* cmd, CommandOptions& o);
/// Adds one flag per settable key of `o.section` (e.g. --min-cluster-size for cluster.min_cluster_size).
void add_section_flags(CLI::App* cmd, CommandOptions& o);
/// Effective config; `extra` are overrides from positional arguments (e.g. collect inputs).
PipelineConfig load_config(const CommandOptions& o, const std::vector<ConfigOverride>& extra = {});
/// Checks what needs the stages' own libraries (the scrub patterns, compiled with RE2) and throws
/// one usage Error listing every problem, so that `config validate` and `run --dry-run` catch them.
/// Checks what loading alone cannot: scrub's patterns compile, and (when `files`) the files the
/// pipeline's stages read exist (missing_files). Throws one usage Error listing every problem.
void check_config_deeply(const PipelineConfig& c, bool files = true);
/// The key files and collect inputs (glob patterns aside) that `stages` would read and that do
/// not exist, each at its key's file:line:col.
std::vector<Problem> missing_files(const PipelineConfig& c, const std::vector<std::string>& stages);
/// Prints the effective config of the command's section (or all) and returns true when asked to.
bool print_config_if_asked(const PipelineConfig& c, const CommandOptions& o);

void print_json(const json& j);

/// Keeps per-command option state alive for the whole program.
template <class T>
T& keep(std::vector<std::shared_ptr<void>>& store) {
  auto p = std::make_shared<T>();
  store.push_back(p);
  return *p;
}

using Store = std::vector<std::shared_ptr<void>>;

// One registration function per subcommand, in pipeline order (main.cpp calls them).
void register_collect(CLI::App& app, Store& store);
void register_scrub(CLI::App& app, Store& store);
void register_cluster(CLI::App& app, Store& store);
void register_select(CLI::App& app, Store& store);
void register_finetune(CLI::App& app, Store& store);
void register_retrain(CLI::App& app, Store& store);
void register_registry(CLI::App& app, Store& store);
void register_eval(CLI::App& app, Store& store);
void register_route(CLI::App& app, Store& store);
void register_run(CLI::App& app, Store& store);
void register_dataset(CLI::App& app, Store& store);
void register_generate(CLI::App& app, Store& store);
void register_model(CLI::App& app, Store& store);
void register_config(CLI::App& app, Store& store);

}  // namespace slmify::cli

namespace slmify::cli {

using StageFn = json (*)(const PipelineConfig&, const StageIO&, const Context&);

/// Registers a stage subcommand: its positional input(s), -o/--output, the common options and one
/// flag per key of its config section; the callback loads the config and calls `run`.
/// `inputs_key` (e.g. "collect.inputs") makes positional inputs override that config key.
CLI::App* add_stage_command(CLI::App& app, Store& store, const std::string& name, const std::string& description,
                            const std::string& input_name, bool many_inputs, StageFn run,
                            const std::string& inputs_key = {});

}  // namespace slmify::cli
