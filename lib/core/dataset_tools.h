// What `slmify dataset` does: inspect, validate, export to OpenAI formats, import records.
// Tested by tests/core/test_dataset_tools.cpp and tests/cli/test_cli.cpp.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "core/dataset.h"
#include "core/error.h"

namespace slmify {

/// Manifest summary; with `scan`, also statistics computed from every record (status, hci, source
/// formats, agents, models, response kinds, token usage, annotations present).
json dataset_inspect(const std::filesystem::path& dir, bool scan, const ReadOptions& read = {});
/// Human-readable form of dataset_inspect()'s result.
std::string dataset_inspect_text(const json& info);

/// Checks everything: manifest, every shard's checksum and count, every record's schema, the
/// quarantine shard. Collects up to `max_problems` problems instead of stopping at the first.
struct ValidateReport {
  uint64_t records = 0;
  uint64_t shards = 0;
  std::vector<Problem> problems;
  bool ok() const { return problems.empty(); }
};
ValidateReport dataset_validate(const std::filesystem::path& dir, size_t max_problems = 50, const ReadOptions& read = {});

/// One record as an OpenAI fine-tuning example {"messages": [..., assistant], "tools": [...]};
/// nullopt when the record has no usable response (status error, or neither text nor tool calls).
std::optional<json> record_to_openai_ft(const json& rec);
/// One record as a logged Chat Completions call {"request": {...}, "response": chat.completion}.
json record_to_openai_chat(const json& rec);

struct ExportOptions {
  std::string format = "openai-ft";    ///< openai-ft | openai-chat
  std::optional<std::string> split;    ///< only records with ann.split == this
  std::optional<int64_t> cluster;      ///< only records with ann.cluster.id == this
};
/// Writes `out` atomically ("-" writes to stdout). Returns {"written", "skipped": {reason: n}}.
json dataset_export(const std::filesystem::path& dir, const std::filesystem::path& out, const ExportOptions& opts,
                    const ReadOptions& read = {});

/// Reads JSON Lines of records in the dataset's own shape (as `dataset head` prints them) into a
/// new dataset; lines that are not valid JSON or not valid records are quarantined with file:line.
/// A missing "id" is filled with the content id. Returns the writer's accounting.
json dataset_import(const std::vector<std::string>& inputs, const std::filesystem::path& out, WriterOptions opts);

}  // namespace slmify
