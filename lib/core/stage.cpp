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
}

}  // namespace slmify
