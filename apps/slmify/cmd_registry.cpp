// slmify registry list|log|promote|rollback PIPELINE: look at and change which version of the
// retrained adapters serves, in <workdir>/registry. The work is lib/retrain/registry.cpp; changes
// take the work directory's lock first. Reference: docs/registry.md.
#include <cstdio>
#include <iostream>

#include "command.h"
#include "core/error.h"
#include "core/lock.h"
#include "retrain/registry.h"

namespace slmify::cli {

namespace {
struct RegistryState {
  CommandOptions opts;
  std::string file, version, reason, by;
};

std::string text_of(const json& j) {
  if (j.is_null()) return "-";
  if (j.is_string()) return j.get<std::string>();
  if (j.is_array()) return std::to_string(j.size());
  return j.dump();
}

std::string percent(const json& j) {
  if (!j.is_number()) return "-";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f%%", 100.0 * j.get<double>());
  return buf;
}

std::string pad(const std::string& s, size_t w) { return s.size() >= w ? s + " " : s + std::string(w - s.size(), ' '); }

// The effective config of PIPELINE (like `slmify run`) and its registry, or nothing with --print-config.
std::optional<std::pair<PipelineConfig, Registry>> open_registry(RegistryState& st) {
  st.opts.config = st.file;
  PipelineConfig c = load_config(st.opts);
  if (print_config_if_asked(c, st.opts)) return std::nullopt;
  Registry reg(std::filesystem::path(c.workdir) / "registry");
  return std::make_pair(std::move(c), std::move(reg));
}

void print_list(const Registry& reg) {
  json versions = reg.list();
  if (versions.empty()) {
    std::cout << "no versions yet in " << reg.root().string()
              << "; `slmify retrain PIPELINE` registers one each time it trains adapters\n";
    return;
  }
  const std::vector<std::pair<std::string, size_t>> cols = {{"version", 8}, {"created", 25}, {"status", 10}, {"cycle", 6},
                                                            {"replaceable", 12}, {"clusters_on_slm", 16}, {"reason", 0}};
  for (const auto& [name, w] : cols) std::cout << pad(name, w);
  std::cout << "\n";
  for (const json& v : versions) {
    const json info = v.value("info", json::object()).is_object() ? v["info"] : json::object();
    auto field = [&](const char* key) { return info.contains(key) ? info[key] : json(nullptr); };
    std::vector<std::string> cells = {v["id"].get<std::string>(), v.value("created", std::string("-")), v["status"].get<std::string>(), text_of(field("cycle")),
                                      percent(field("replaceable_share")),
                                      field("clusters_on_slm").is_array() ? std::to_string(field("clusters_on_slm").size()) : text_of(field("clusters_on_slm")),
                                      v.contains("problem") ? "damaged: " + v["problem"].get<std::string>() : text_of(field("reason"))};
    for (size_t i = 0; i < cols.size(); ++i) std::cout << pad(cells[i], cols[i].second);
    std::cout << "\n";
  }
}

void print_log(const Registry& reg) {
  json entries = reg.log();
  if (entries.empty()) {
    std::cout << "the log of " << reg.root().string() << " is empty; `slmify retrain PIPELINE` starts it\n";
    return;
  }
  for (const json& e : entries) {
    std::string change = text_of(e.value("serving_before", json())) + " -> " + text_of(e.value("serving_after", json()));
    std::cout << pad(e.value("time", std::string("?")), 25) << pad(e.value("action", std::string("?")), 9)
              << pad(e.value("version", std::string("?")), 7) << pad("serving " + change, 24)
              << e.value("who", std::string("?")) << "@" << e.value("host", std::string("?")) << ": "
              << e.value("reason", std::string()) << "\n";
  }
}

CLI::App* add_sub(CLI::App* parent, RegistryState& st, const std::string& name, const std::string& help) {
  CLI::App* cmd = parent->add_subcommand(name, help);
  cmd->add_option("PIPELINE", st.file, "pipeline.yaml; the registry is <workdir>/registry")->required()->check(CLI::ExistingFile);
  add_common_options(cmd, st.opts);
  return cmd;
}

void add_change_options(CLI::App* cmd, RegistryState& st) {
  cmd->add_option("--reason", st.reason, "why (recorded in the registry's log with who and when)")->required();
  cmd->add_option("--by", st.by, "who, for the log (default $SLMIFY_USER, else $USER)")->type_name("NAME");
}
}  // namespace

void register_registry(CLI::App& app, Store& store) {
  CLI::App* reg = app.add_subcommand("registry", "the versions retrain registered: list, log, promote, roll back");
  reg->require_subcommand(1);

  RegistryState& ls = keep<RegistryState>(store);
  add_sub(reg, ls, "list", "every version with its status (serving, previous, candidate, retired)")->callback([&ls]() {
    auto r = open_registry(ls);
    if (!r) return;
    if (ls.opts.json) return print_json(r->second.list());
    print_list(r->second);
  });

  RegistryState& lg = keep<RegistryState>(store);
  add_sub(reg, lg, "log", "who changed what serves, when and why")->callback([&lg]() {
    auto r = open_registry(lg);
    if (!r) return;
    if (lg.opts.json) return print_json(r->second.log());
    print_log(r->second);
  });

  RegistryState& pr = keep<RegistryState>(store);
  CLI::App* promote = add_sub(reg, pr, "promote", "make VERSION the serving one");
  promote->add_option("VERSION", pr.version, "a version id from `slmify registry list`, e.g. v0003")->required();
  add_change_options(promote, pr);
  promote->callback([&pr]() {
    auto r = open_registry(pr);
    if (!r) return;
    auto& [c, registry] = *r;
    WorkdirLock lock = WorkdirLock::acquire(c.workdir, "slmify registry promote " + pr.version);
    std::optional<std::string> before = registry.serving();
    registry.promote(pr.version, {pr.by, pr.reason});
    if (pr.opts.json) return print_json({{"serving", pr.version}, {"serving_before", before ? json(*before) : json()}});
    std::cout << pr.version << " serves now" << (before ? " (was " + *before + ")" : std::string()) << "; "
              << (registry.root() / "serving").string() << " -> versions/" << pr.version << "\n";
  });

  RegistryState& rb = keep<RegistryState>(store);
  CLI::App* rollback = add_sub(reg, rb, "rollback", "go back to the version that served before the current one");
  add_change_options(rollback, rb);
  rollback->callback([&rb]() {
    auto r = open_registry(rb);
    if (!r) return;
    auto& [c, registry] = *r;
    WorkdirLock lock = WorkdirLock::acquire(c.workdir, "slmify registry rollback");
    std::optional<std::string> before = registry.serving();
    std::string now = registry.rollback({rb.by, rb.reason});
    if (rb.opts.json) return print_json({{"serving", now}, {"serving_before", before ? json(*before) : json()}});
    std::cout << now << " serves again (was " << before.value_or("-") << "); " << (registry.root() / "serving").string()
              << " -> versions/" << now << "\n";
  });
}

}  // namespace slmify::cli
