// Shared helpers of the stage entry points.
#include "core/stage.h"

#include "core/dataset.h"
#include "core/error.h"
#include "slmify/version.h"

namespace slmify {

void stage_unavailable(const std::string& stage, const std::string& what) {
  throw Error(ExitCode::unavailable, "slmify " + stage,
              what + " is not built into this version of slmify (" + SLMIFY_VERSION + ")",
              "`slmify --help` lists what this version can do; docs/cli.md says which commands are still to come");
}

void stage_writer_options(const PipelineConfig& c, const std::string& stage, const std::string& section,
                          WriterOptions& out) {
  out.stage = stage;
  out.shard_records = static_cast<uint64_t>(c.dataset.shard_records);
  out.shard_bytes = static_cast<uint64_t>(c.dataset.shard_mb) << 20;
  out.zstd_level = static_cast<int>(c.dataset.zstd_level);
  json cfg = json::object();
  if (!section.empty()) cfg[section] = config_to_json(c, section);
  cfg["dataset"] = config_to_json(c, "dataset");
  out.config = cfg;
  if (c.encryption.enabled) {
    out.key = data_key_load(c.encryption);
    if (!out.key)
      throw_usage("encryption.enabled", "is true but no key is available",
                  "set encryption.key_file, or export " + (c.encryption.key_env.empty() ? std::string("the key variable") : c.encryption.key_env) +
                      " (make a key with `slmify dataset keygen`)");
  }
}

void stage_read_options(const PipelineConfig& c, ReadOptions& out) { out.key = data_key_load(c.encryption); }

}  // namespace slmify
