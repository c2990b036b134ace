// slmify dataset inspect|head|validate|export|import: parses flags and calls lib/core/dataset_tools.
#include <iostream>
#include <filesystem>

#include "command.h"
#include "core/crypto.h"
#include "core/dataset_tools.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"

namespace slmify::cli {
namespace fs = std::filesystem;

namespace {
struct DatasetState {
  std::string dir, out, format = "openai-ft", split;
  std::vector<std::string> inputs;
  int64_t n = 5, cluster = -1;
  bool scan = false, quarantine = false, pretty = false;
  CommandOptions cfg;  // --config, --set, --print-config, --json on every dataset subcommand
  PipelineConfig config;
  ReadOptions read;  // the data key, for encrypted datasets
};

// Loads and validates the effective config (dataset settings, later the encryption key); true
// when --print-config asked only for it.
bool configured(DatasetState& st) {
  st.config = load_config(st.cfg);
  if (print_config_if_asked(st.config, st.cfg)) return true;
  stage_read_options(st.config, st.read);
  return false;
}
}  // namespace

void register_dataset(CLI::App& app, Store& store) {
  DatasetState& st = keep<DatasetState>(store);
  CLI::App* ds = app.add_subcommand("dataset", "look into, check, export and import datasets");
  ds->require_subcommand(1);

  CLI::App* inspect = ds->add_subcommand("inspect", "manifest summary and statistics");
  inspect->add_option("DIR", st.dir, "dataset directory")->required();
  inspect->add_flag("--scan", st.scan, "also read every record for statistics (status, agents, models, tokens, cost)");
  add_common_options(inspect, st.cfg);
  inspect->callback([&st]() {
    if (configured(st)) return;
    json info = dataset_inspect(st.dir, st.scan, st.read);
    if (st.cfg.json) print_json(info);
    else std::cout << dataset_inspect_text(info);
  });

  CLI::App* head = ds->add_subcommand("head", "print the first records as JSON Lines");
  head->add_option("DIR", st.dir, "dataset directory")->required();
  head->add_option("-n", st.n, "number of records (0: all)")->capture_default_str();
  head->add_flag("--quarantine", st.quarantine, "print quarantined entries instead of records");
  head->add_flag("--pretty", st.pretty, "indent the JSON");
  add_common_options(head, st.cfg);
  head->callback([&st]() {
    if (configured(st)) return;
    DatasetReader r(st.dir, st.read);
    int64_t shown = 0;
    auto show = [&](const json& j) { std::cout << (st.pretty ? j.dump(2) : j.dump()) << "\n"; };
    if (st.quarantine) {
      r.for_each_quarantined([&](const json& e) {
        if (st.n == 0 || shown < st.n) show(e), ++shown;
      });
      return;
    }
    json rec;
    while ((st.n == 0 || shown < st.n) && r.next(rec)) show(rec), ++shown;
  });

  CLI::App* validate = ds->add_subcommand("validate", "check every checksum and every record");
  validate->add_option("DIR", st.dir, "dataset directory")->required();
  add_common_options(validate, st.cfg);
  validate->callback([&st]() {
    if (configured(st)) return;
    ValidateReport rep = dataset_validate(st.dir, 50, st.read);
    if (st.cfg.json) {
      json problems = json::array();
      for (const Problem& p : rep.problems) problems.push_back({{"where", p.where}, {"what", p.what}, {"hint", p.hint}});
      print_json({{"ok", rep.ok()}, {"records", rep.records}, {"shards", rep.shards}, {"problems", problems}});
    }
    if (!rep.ok()) throw Error(ExitCode::bad_data, rep.problems);
    if (!st.cfg.json)
      std::cout << st.dir << ": ok, " << rep.records << " records in " << rep.shards << " shard(s), all checksums match\n";
  });

  CLI::App* exp = ds->add_subcommand("export", "write OpenAI chat logs or fine-tuning JSONL (tools and tool calls intact)");
  exp->add_option("DIR", st.dir, "dataset directory")->required();
  exp->add_option("--format", st.format, "openai-ft (fine-tuning examples) or openai-chat (request/response logs)")
      ->check(CLI::IsMember({"openai-ft", "openai-chat"}))
      ->capture_default_str();
  exp->add_option("-o,--output", st.out, "output file (- for stdout)")->required();
  exp->add_option("--split", st.split, "only records of this split (ann.split: train or eval)");
  exp->add_option("--cluster", st.cluster, "only records of this cluster (ann.cluster.id)");
  add_common_options(exp, st.cfg);
  exp->callback([&st, exp]() {
    if (configured(st)) return;
    ExportOptions o;
    o.format = st.format;
    if (!st.split.empty()) o.split = st.split;
    if (exp->count("--cluster")) o.cluster = st.cluster;
    json summary = dataset_export(st.dir, st.out, o, st.read);
    if (st.cfg.json) print_json(summary);
    else if (st.out != "-")
      log_info("wrote " + summary["written"].dump() + " examples to " + st.out +
               (summary["skipped"].empty() ? "" : ", skipped " + summary["skipped"].dump()));
  });

  CLI::App* keygen = ds->add_subcommand("keygen", "print a new random data key (64 hex digits) for encryption at rest");
  keygen->add_option("-o,--output", st.out, "write the key to FILE (mode 0600, never over an existing file) instead of stdout");
  keygen->callback([&st]() {
    if (st.out.empty() || st.out == "-") {
      std::cout << data_key_generate_hex() << "\n";
      return;
    }
    std::error_code ec;
    if (fs::exists(st.out, ec))
      throw_usage(st.out, "already exists: a key is not overwritten (data encrypted with it would be lost)",
                  "choose another file name, or remove the old key first if nothing uses it");
    write_file_atomic(st.out, data_key_generate_hex() + "\n", 0600);
    log_info("wrote a new data key to " + st.out + " (mode 0600); set encryption.key_file to it");
  });

  CLI::App* imp = ds->add_subcommand("import", "make a dataset from JSON Lines of records in slmify's own shape");
  imp->add_option("FILE", st.inputs, "JSONL files (plain or .zst), or - for stdin")->required();
  imp->add_option("-o,--output", st.out, "output dataset directory (written atomically)")->required();
  add_common_options(imp, st.cfg);
  imp->callback([&st]() {
    if (configured(st)) return;
    WriterOptions wo;
    stage_writer_options(st.config, "import", "", wo);
    json summary = dataset_import(st.inputs, st.out, wo);
    if (st.cfg.json) print_json(summary);
    else
      log_info("imported " + summary["out"].dump() + " records into " + st.out + " (" + summary["quarantined"].dump() +
               " quarantined)");
  });
}

}  // namespace slmify::cli
