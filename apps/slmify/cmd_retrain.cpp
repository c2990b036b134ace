// slmify retrain PIPELINE: one periodic retraining cycle (stage 6). Exit codes for cron and CI:
// 0 promoted, 5 nothing new, 7 kept, 8 busy, anything else failed (docs/retrain.md).
#include <iostream>

#include "cluster/cluster.h"
#include "collect/collect.h"
#include "command.h"
#include "core/error.h"
#include "eval/eval.h"
#include "retrain/retrain.h"
#include "scrub/scrub.h"
#include "select/select.h"
#include "train/train.h"

namespace slmify::cli {

namespace {
struct RetrainState {
  CommandOptions opts;
  std::string file, who;
  double wait_s = 0;
};

void print_cycle(const json& r) {
  std::cout << "retrain cycle " << r.value("cycle", 0) << ": " << r.value("outcome", "") << " (" << r.value("why", "") << ")\n";
  if (r.contains("collected")) std::cout << "  new calls: " << r.value("new_calls", json(0)).dump() << " of " << r["collected"].dump() << " collected\n";
  if (r.contains("drift")) {
    const json& d = r["drift"];
    std::cout << "  drift: " << (d.value("drift", false) ? "yes" : "no") << ", outlier share " << d.value("outlier_share", 0.0)
              << ", largest share change " << d.value("max_share_change", 0.0) << "\n";
    for (const json& x : d.value("reasons", json::array())) std::cout << "    " << x.get<std::string>() << "\n";
    if (d.contains("action")) std::cout << "    " << d["action"].get<std::string>() << "\n";
  }
  for (const json& c : r.value("comparison", json::array())) {
    auto v = [](const json& m) { return m.is_object() ? m["value"].dump() : std::string("-"); };
    std::cout << "  cluster " << c["cluster"].dump() << ": serving " << v(c["serving"]) << ", new " << v(c["new"]) << " -> "
              << (c.value("promote", false) ? "promote" : "keep") << " (" << c.value("reason", "") << ")\n";
  }
  std::cout << "  serving: " << r.value("serving_after", json(nullptr)).dump() << "\n";
}
}  // namespace

void register_retrain(CLI::App& app, Store& store) {
  RetrainState& st = keep<RetrainState>(store);
  st.opts.section = "retrain";
  CLI::App* cmd = app.add_subcommand("retrain", "fold in new calls, retrain, promote only what is better (stage 6)");
  cmd->add_option("PIPELINE", st.file, "pipeline.yaml")->required()->check(CLI::ExistingFile);
  cmd->add_option("--by", st.who, "who runs the cycle, for the registry log (default: $SLMIFY_USER, $USER)");
  cmd->add_option("--wait", st.wait_s, "wait up to this many seconds for another run on the same work directory")->type_name("SECONDS");
  cmd->footer("Exit codes: 0 promoted, 5 nothing new, 7 kept (the serving version stays), 8 busy (another run holds the\n"
              "work directory), others failed. examples/cron/ runs it from cron, systemd and Kubernetes.");
  add_common_options(cmd, st.opts);
  add_section_flags(cmd, st.opts);
  cmd->callback([&st]() {
    st.opts.config = st.file;
    PipelineConfig c = load_config(st.opts);
    if (print_config_if_asked(c, st.opts)) return;
    check_config_deeply(c);
    RetrainOptions o;
    o.command = "slmify retrain " + st.file;
    o.lock_wait_s = st.wait_s;
    o.who = st.who;
    o.collect = collect_run;
    o.scrub = scrub_run;
    o.cluster = cluster_run;
    o.select = select_run;
    o.finetune = finetune_run;
    o.eval = eval_run;
    Context ctx;
    ctx.json = st.opts.json;
    json r = retrain_run(c, ctx, o);
    if (st.opts.json) print_json(r);
    else print_cycle(r);
    const std::string outcome = r.value("outcome", "");
    if (outcome == "nothing_new") throw Error(ExitCode::nothing_to_do, "retrain", "nothing new since the last cycle", "");
    if (outcome == "kept") throw Error(ExitCode::kept, "retrain", "kept the serving version: " + r.value("why", std::string()), "");
  });
}

}  // namespace slmify::cli
