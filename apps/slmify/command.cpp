// Common options and config loading for all subcommands; see command.h.
#include <algorithm>
#include "command.h"

#include <cstdio>
#include <iostream>

#include "core/error.h"
#include "scrub/detect.h"

namespace slmify::cli {

void add_common_options(CLI::App* cmd, CommandOptions& o) {
  cmd->add_option("--config", o.config, "pipeline.yaml to take settings from (defaults < file < flags)")
      ->type_name("FILE");
  cmd->add_option("--set", o.sets, "override any config key, e.g. --set cluster.k=12 (repeatable)")
      ->type_name("KEY=VALUE");
  cmd->add_flag("--print-config", o.print_config, "print the effective config and exit");
  cmd->add_flag("--json", o.json, "print a machine-readable summary on stdout");
}

void add_section_flags(CLI::App* cmd, CommandOptions& o) {
  if (o.section.empty()) return;
  for (const ConfigKey& k : config_section_flags(o.section)) {
    std::string help = k.doc + " [" + o.section + "." + k.key + ", default " + k.default_value + "]";
    CLI::Option* opt;
    if (k.type == "bool") {
      std::string neg = "--no-" + k.flag.substr(2);
      opt = cmd->add_flag(k.flag + ",!" + neg, o.bools[k.key], help);
    } else if (k.type == "list") {
      opt = cmd->add_option(k.flag, o.values[k.key], help + "; comma-separated")->type_name("LIST");
    } else {
      std::string tn = k.type == "int" ? "INT" : k.type == "number" ? "NUM" : k.type == "int|auto" ? "INT|auto" : "TEXT";
      opt = cmd->add_option(k.flag, o.values[k.key], help)->type_name(tn);
    }
    opt->group(o.section + " settings");
    o.options[k.key] = opt;
  }
}

PipelineConfig load_config(const CommandOptions& o, const std::vector<ConfigOverride>& extra) {
  std::vector<ConfigOverride> ov;
  for (const std::string& s : o.sets) {
    size_t eq = s.find('=');
    if (eq == std::string::npos || eq == 0)
      throw_usage("--set " + s, "expected KEY=VALUE, e.g. --set cluster.k=12");
    ov.push_back({s.substr(0, eq), s.substr(eq + 1), "--set " + s});
  }
  for (const auto& e : extra) ov.push_back(e);
  for (const auto& [key, opt] : o.options) {
    if (opt->count() == 0) continue;
    std::string value = o.bools.count(key) ? (o.bools.at(key) ? "true" : "false") : o.values.at(key);
    ov.push_back({o.section + "." + key, value, opt->get_name()});
  }
  std::optional<std::filesystem::path> file;
  if (!o.config.empty()) file = o.config;
  return config_load(file, ov);
}

bool print_config_if_asked(const PipelineConfig& c, const CommandOptions& o) {
  if (!o.print_config) return false;
  if (o.json) print_json(o.section.empty() ? config_to_json(c) : config_to_json(c, o.section));
  else std::cout << config_to_yaml(c, o.section);
  return true;
}

void print_json(const json& j) { std::cout << j.dump(2) << std::endl; }

std::vector<Problem> missing_files(const PipelineConfig& c, const std::vector<std::string>& stages) {
  std::vector<Problem> problems;
  std::error_code ec;
  auto runs = [&](const char* stage) { return std::find(stages.begin(), stages.end(), stage) != stages.end(); };
  auto need = [&](const std::string& key, const std::string& path, const std::string& hint) {
    if (!path.empty() && !std::filesystem::exists(path, ec)) problems.push_back({c.where(key), "no such file: " + path, hint});
  };
  if (c.encryption.enabled && !stages.empty())
    need("encryption.key_file", c.encryption.key_file, "make the key with `slmify dataset keygen -o FILE`, or fix the path");
  if (runs("scrub")) need("scrub.key_file", c.scrub.key_file, "make the key with `slmify dataset keygen -o FILE`, or fix the path");
  if (runs("collect"))
    for (const std::string& in : c.collect.inputs)
      if (in != "-" && in.find_first_of("*?[") == std::string::npos)
        need("collect.inputs", in, "check the path (relative paths are taken from the pipeline file's directory)");
  return problems;
}

void check_config_deeply(const PipelineConfig& c, bool files) {
  std::vector<Problem> problems = detector_check(c.scrub);
  for (Problem& p : problems) p.where = c.where(p.where);  // the pattern's file:line:col
  // Files the run will read: a missing one is reported now, at its key, not halfway through the run.
  if (files)
    for (Problem& p : missing_files(c, c.stages)) problems.push_back(std::move(p));
  if (!problems.empty()) throw Error(ExitCode::usage, problems);
}

}  // namespace slmify::cli

namespace slmify::cli {

namespace {
struct StageState {
  CommandOptions opts;
  std::vector<std::string> inputs;
  std::string output;
};
}  // namespace

CLI::App* add_stage_command(CLI::App& app, Store& store, const std::string& name, const std::string& description,
                            const std::string& input_name, bool many_inputs, StageFn run,
                            const std::string& inputs_key) {
  StageState& st = keep<StageState>(store);
  st.opts.section = name;
  CLI::App* cmd = app.add_subcommand(name, description);
  CLI::Option* in = cmd->add_option(input_name, st.inputs, many_inputs ? "inputs (files, directories, globs, -)" : "input dataset directory");
  if (!many_inputs) in->expected(0, 1);
  cmd->add_option("-o,--output", st.output, "output directory (written atomically)")->type_name("DIR");
  add_common_options(cmd, st.opts);
  add_section_flags(cmd, st.opts);
  cmd->callback([&st, run, name, inputs_key, cmd]() {
    std::vector<ConfigOverride> extra;
    if (!inputs_key.empty() && !st.inputs.empty()) extra.push_back({inputs_key, "", "command-line inputs", st.inputs});
    PipelineConfig c = load_config(st.opts, extra);
    if (print_config_if_asked(c, st.opts)) return;
    StageIO io{st.inputs, st.output};
    if (!inputs_key.empty() && io.inputs.empty()) io.inputs = c.collect.inputs;
    Context ctx;
    ctx.json = st.opts.json;
    json summary = run(c, io, ctx);
    if (st.opts.json) print_json(summary);
    (void)cmd;
  });
  return cmd;
}

}  // namespace slmify::cli
