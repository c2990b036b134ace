// manifest.json of a dataset directory: format and version, producing stage, effective config and
// its digest, lineage (input digests), shards with counts and sha256, accounting and statistics.
// Field reference: docs/dataset-format.md. Tested by tests/core/test_dataset.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/record.h"

namespace slmify {

inline constexpr const char* kDatasetFormat = "slmify-dataset";
inline constexpr int kDatasetVersion = 1;  ///< bump on any change to records or manifest (docs/dataset-format.md)

struct ShardInfo {
  std::string file;        ///< relative to the dataset directory
  uint64_t records = 0;    ///< lines in the shard
  uint64_t bytes = 0;      ///< compressed size on disk
  uint64_t raw_bytes = 0;  ///< uncompressed size
  std::string sha256;      ///< of the bytes on disk
};

struct InputRef {
  std::string kind;    ///< "dataset" (digest = its manifest digest) or "file" (digest = file_input_digest)
  std::string path;    ///< as given to the stage
  std::string digest;  ///< "sha256:<hex>"
};

/// in = out + sum(dropped) + quarantined, always.
struct Accounting {
  uint64_t in = 0;
  uint64_t out = 0;
  std::map<std::string, uint64_t> dropped;  ///< reason -> count
  uint64_t quarantined = 0;
  uint64_t dropped_total() const;
  bool balanced() const { return in == out + dropped_total() + quarantined; }
};

struct Manifest {
  std::string format = kDatasetFormat;
  int version = kDatasetVersion;
  std::string stage;           ///< producing stage: collect, scrub, cluster, import, ...
  std::string slmify_version;  ///< of the binary that wrote it
  std::string created;         ///< ISO-8601 UTC
  json config = json::object();  ///< effective config of the producing stage
  std::string config_digest;     ///< "sha256:<hex>" of config.dump()
  std::vector<InputRef> inputs;
  std::vector<ShardInfo> shards;
  std::optional<ShardInfo> quarantine;
  Accounting accounting;
  json stats = json::object();  ///< stage-specific figures
  /// Set when the shards are encrypted: the key check of the key they need (crypto.h).
  std::optional<std::string> encryption_key_check;
  std::string digest;           ///< "sha256:<hex>" over version, shards and quarantine checksums

  uint64_t records() const { return accounting.out; }
  /// The digest this manifest's shards imply (compare with `digest`).
  std::string compute_digest() const;
};

json manifest_to_json(const Manifest& m);
/// Parses and checks a manifest; `where` names the file in errors. Throws a bad-data Error.
Manifest manifest_from_json(const json& j, const std::string& where);
/// Reads DIR/manifest.json with precise errors: missing directory, uncommitted or interrupted
/// write, truncated JSON, another format, a newer version.
Manifest manifest_read(const std::filesystem::path& dir);

std::string config_digest(const json& config);
/// Identifies the current content of an input file cheaply, for lineage and up-to-date checks
/// (logs can be large): "stat:" + sha256 of its size, modification time and first 64 KiB.
/// "-" (stdin) is "stdin", which never matches.
std::string file_input_digest(const std::string& path);

}  // namespace slmify
