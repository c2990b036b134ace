// What every stage's run() receives besides its config: inputs, output and how to report.
// Both a stage's subcommand and `slmify run` call the same run(), so the two cannot drift.
#pragma once

#include <string>
#include <vector>

#include "core/config.h"

namespace slmify {

struct StageIO {
  std::vector<std::string> inputs;  ///< input paths (datasets, log files, directories)
  std::string output;               ///< output directory
};

struct Context {
  bool json = false;         ///< the caller prints the returned summary as JSON on stdout
  std::string command_line;  ///< recorded in manifests for provenance
};

/// Throws ExitCode::unavailable for a stage or command this version does not have yet.
[[noreturn]] void stage_unavailable(const std::string& stage, const std::string& what);

/// Dataset writer settings from the `dataset` and `encryption` sections of the config; with
/// encryption.enabled the key must be available (usage Error otherwise).
struct WriterOptions;
void stage_writer_options(const PipelineConfig& c, const std::string& stage, const std::string& section,
                          WriterOptions& out);
/// Reader settings: the data key from the `encryption` section when one is available (encrypted
/// datasets need it whether or not encryption.enabled is set for writing).
struct ReadOptions;
void stage_read_options(const PipelineConfig& c, ReadOptions& out);

}  // namespace slmify
