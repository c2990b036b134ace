// The dataset API every stage uses: a streaming writer with atomic commit and a streaming reader
// that checks format, version, checksums and record schema. Memory is bounded by one line, not by
// the dataset. Layout and rules: docs/dataset-format.md. Tested by tests/core/test_dataset.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/crypto.h"
#include "core/manifest.h"

namespace slmify {

struct WriterOptions {
  std::string stage = "unknown";          ///< producing stage, recorded in the manifest
  uint64_t shard_records = 50000;         ///< records per shard before starting the next
  uint64_t shard_bytes = 256ull << 20;    ///< uncompressed bytes per shard before starting the next
  int zstd_level = 3;                     ///< 1 (fast) .. 19 (small)
  unsigned file_mode = 0600;              ///< permissions of the files written: logged calls are private data
  json config = json::object();           ///< effective config of the stage (digest computed at commit)
  std::vector<InputRef> inputs;           ///< lineage
  std::optional<DataKey> key;             ///< encrypt shards and quarantine with this key (crypto.h)
  /// Test hook: called with "shard_closed", "manifest_written", "before_swap", "committed".
  std::function<void(std::string_view phase)> on_phase;
};

/// Where a quarantined input came from.
struct SourceLoc {
  std::string file;
  uint64_t line = 0;  ///< 1-based; 0 when not line-oriented
};

/// Writes a dataset into a hidden sibling temporary directory; commit() makes it visible at once
/// (renameat2 RENAME_EXCHANGE over an existing dataset). Destroyed without commit(), it removes the
/// temporary directory and the previous dataset stays as it was. Not thread-safe.
class DatasetWriter {
 public:
  DatasetWriter(const std::filesystem::path& dir, WriterOptions opts);
  ~DatasetWriter();
  DatasetWriter(const DatasetWriter&) = delete;
  DatasetWriter& operator=(const DatasetWriter&) = delete;

  /// Writes one record (one input -> one output). A record that fails the v1 schema check is
  /// quarantined with the reason instead (at `where`, or the record's own source when empty), and
  /// false is returned.
  bool write(const json& rec, const SourceLoc& where = {});
  /// Writes a record prepared by record_prepare (on any thread); one with a problem is
  /// quarantined as write() would. `rec` is the record it was prepared from.
  bool write(const PreparedRecord& prepared, const json& rec, const SourceLoc& where = {});
  /// Counts `n` inputs dropped for `reason` (e.g. "duplicate", "hci").
  void drop(std::string_view reason, uint64_t n = 1);
  /// Quarantines one input that cannot be used: the raw text as read (kept base64 when not UTF-8).
  void quarantine(std::string_view reason, const SourceLoc& where, std::string_view raw);
  /// Quarantines a parsed but unusable record.
  void quarantine_record(std::string_view reason, const SourceLoc& where, const json& rec);
  /// The temporary directory the dataset is written into. A stage may add its own files there
  /// (e.g. cluster's clusters.json) before commit(); they appear atomically with the dataset.
  const std::filesystem::path& staging_dir() const;
  /// Stage statistics recorded in the manifest ("stats").
  json& stats() { return manifest_.stats; }
  const Accounting& accounting() const { return manifest_.accounting; }

  /// Closes the shards, writes the manifest, fsyncs and swaps the dataset into place.
  Manifest commit();
  /// Discards everything written; the previous dataset (if any) is untouched.
  void abort();

 private:
  void open_shard();
  void close_shard();
  void phase(std::string_view name);
  void write_quarantine(json& entry);
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Manifest manifest_;
};

struct ReadOptions {
  bool verify_checksums = true;  ///< compare every shard's sha256 and record count with the manifest
  bool check_records = true;     ///< check every record against the v1 schema
  std::optional<DataKey> key;    ///< needed for encrypted datasets
};

/// Reads the records of a dataset in order, shard by shard. A failed check throws a bad-data Error
/// naming the shard file and line and what to do.
class DatasetReader {
 public:
  explicit DatasetReader(const std::filesystem::path& dir, ReadOptions opts = {});
  ~DatasetReader();
  const Manifest& manifest() const { return manifest_; }
  const std::filesystem::path& dir() const { return dir_; }
  /// Input reference to record as lineage in a stage's output.
  InputRef input_ref() const;

  /// Next record; false after the last one (when all checks have passed).
  bool next(json& rec);
  /// "DIR/part-00002.jsonl.zst:17" for the record last returned.
  std::string location() const;

  /// Reads one shard alone (for shard-parallel stages), checking it like next() does.
  static void read_shard(const std::filesystem::path& dir, const ShardInfo& shard, ReadOptions opts,
                         const std::function<void(json& rec, uint64_t line)>& fn);
  /// Reads the quarantine entries ({reason, stage, source, raw|raw_base64|record}).
  void for_each_quarantined(const std::function<void(const json& entry)>& fn) const;
  /// The key to read shards with (null for a plain dataset), after checking it against the
  /// manifest: a usage Error when the dataset is encrypted and the key is missing or wrong.
  static const DataKey* shard_key(const Manifest& m, const ReadOptions& opts, const std::filesystem::path& dir);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::filesystem::path dir_;
  Manifest manifest_;
  ReadOptions opts_;
};

/// Removes temporary directories left by writers that were killed (their process is gone).
void dataset_clean_stale(const std::filesystem::path& dir);

}  // namespace slmify
