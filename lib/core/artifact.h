// Stage outputs that are not datasets (select's plan, finetune's adapters, eval's report): a
// directory of files with a manifest.json of format "slmify-artifact" that records the producing
// stage, slmify version, effective config and digest, input digests and every file with its
// sha256. Written the same way as datasets: into a hidden sibling, fsynced, then swapped into
// place, so a kill leaves the previous output intact. Reference: docs/dataset-format.md
// ("Artifacts"). Tested by tests/core/test_artifact.cpp.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "core/manifest.h"

namespace slmify {

inline constexpr const char* kArtifactFormat = "slmify-artifact";
inline constexpr int kArtifactVersion = 1;

struct ArtifactFile {
  std::string file;  ///< relative to the artifact directory, '/'-separated
  uint64_t bytes = 0;
  std::string sha256;
};

struct ArtifactManifest {
  std::string stage;
  std::string slmify_version;
  std::string created;
  json config = json::object();
  std::string config_digest;
  std::vector<InputRef> inputs;
  std::vector<ArtifactFile> files;
  json stats = json::object();
  std::string digest;  ///< "sha256:<hex>" over the files' names and checksums
};

json artifact_manifest_to_json(const ArtifactManifest& m);
ArtifactManifest artifact_manifest_from_json(const json& j, const std::string& where);
/// Reads DIR/manifest.json of an artifact directory (bad-data Error naming what is wrong).
ArtifactManifest artifact_read(const std::filesystem::path& dir);
/// Re-hashes every listed file; returns the problems ("file: missing", "file: checksum differs").
std::vector<std::string> artifact_verify(const std::filesystem::path& dir, const ArtifactManifest& m);

/// A lineage reference for any input path: a dataset or artifact directory (digest of its
/// manifest) or a plain file (file_input_digest). Throws an I/O Error when the path is missing.
InputRef input_ref(const std::string& path);
/// The digest an input has now (as input_ref(path).digest), or "" when it cannot be read.
std::string input_digest_now(const std::string& path);

class ArtifactWriter {
 public:
  /// Starts writing the artifact that will replace `dir` (created when absent).
  ArtifactWriter(const std::filesystem::path& dir, std::string stage, json config);
  ~ArtifactWriter();  ///< aborts when not committed
  ArtifactWriter(const ArtifactWriter&) = delete;
  ArtifactWriter& operator=(const ArtifactWriter&) = delete;

  /// Where to write the files; every regular file under it is listed in the manifest.
  const std::filesystem::path& staging_dir() const;
  void add_input(const InputRef& in);
  json& stats();
  /// Hashes the files, writes manifest.json, fsyncs and swaps the directory into place.
  ArtifactManifest commit();
  void abort();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace slmify
