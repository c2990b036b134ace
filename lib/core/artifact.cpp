// Artifact directories (non-dataset stage outputs); see artifact.h.
#include "core/artifact.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "core/record.h"
#include "slmify/version.h"

namespace slmify {
namespace fs = std::filesystem;

static std::string artifact_digest(const std::vector<ArtifactFile>& files) {
  Sha256 h;
  h.update(std::string(kArtifactFormat) + "/" + std::to_string(kArtifactVersion) + "\n");
  for (const ArtifactFile& f : files) h.update(f.file + " " + std::to_string(f.bytes) + " " + f.sha256 + "\n");
  return "sha256:" + h.hex();
}

json artifact_manifest_to_json(const ArtifactManifest& m) {
  json ins = json::array();
  for (const InputRef& in : m.inputs) ins.push_back({{"kind", in.kind}, {"path", in.path}, {"digest", in.digest}});
  json files = json::array();
  for (const ArtifactFile& f : m.files) files.push_back({{"file", f.file}, {"bytes", f.bytes}, {"sha256", f.sha256}});
  return {{"format", kArtifactFormat}, {"version", kArtifactVersion}, {"stage", m.stage},
          {"slmify_version", m.slmify_version}, {"created", m.created}, {"config", m.config},
          {"config_digest", m.config_digest}, {"inputs", ins}, {"files", files}, {"stats", m.stats},
          {"digest", m.digest}};
}

ArtifactManifest artifact_manifest_from_json(const json& j, const std::string& where) {
  auto bad = [&](const std::string& what) -> void {
    throw_bad_data(where, what, "manifest.json was edited or damaged; re-run the stage that produced this directory");
  };
  auto str = [&](const json& o, const char* key, const std::string& path) {
    if (!o.is_object() || !o.contains(key) || !o[key].is_string()) bad("field " + path + " is missing or not a string");
    return o[key].get<std::string>();
  };
  if (!j.is_object()) bad("is not a JSON object");
  std::string format = j.value("format", "");
  if (format != kArtifactFormat)
    throw_bad_data(where, "format is \"" + format + "\", expected \"" + kArtifactFormat + "\"",
                   "point the command at the output directory of select, finetune or eval");
  if (!j.contains("version") || !j["version"].is_number_integer()) bad("field version is missing or not an integer");
  if (j["version"].get<int64_t>() > kArtifactVersion)
    throw_bad_data(where, "artifact format version " + j["version"].dump() + " is newer than this slmify reads",
                   "upgrade slmify, or re-run the stage with this slmify");
  ArtifactManifest m;
  m.stage = str(j, "stage", "stage");
  m.slmify_version = str(j, "slmify_version", "slmify_version");
  m.created = str(j, "created", "created");
  m.config = j.value("config", json::object());
  m.config_digest = str(j, "config_digest", "config_digest");
  if (!j.contains("inputs") || !j["inputs"].is_array()) bad("field inputs is missing or not an array");
  for (size_t i = 0; i < j["inputs"].size(); ++i) {
    const json& in = j["inputs"][i];
    std::string p = "inputs[" + std::to_string(i) + "]";
    m.inputs.push_back({str(in, "kind", p + ".kind"), str(in, "path", p + ".path"), str(in, "digest", p + ".digest")});
  }
  if (!j.contains("files") || !j["files"].is_array()) bad("field files is missing or not an array");
  for (size_t i = 0; i < j["files"].size(); ++i) {
    const json& f = j["files"][i];
    std::string p = "files[" + std::to_string(i) + "]";
    ArtifactFile af{str(f, "file", p + ".file"), 0, str(f, "sha256", p + ".sha256")};
    if (!f.contains("bytes") || !f["bytes"].is_number_unsigned()) bad("field " + p + ".bytes must be a non-negative integer");
    af.bytes = f["bytes"].get<uint64_t>();
    if (af.file.empty() || af.file[0] == '/' || af.file.find("..") != std::string::npos)
      bad("field " + p + ".file must be a relative path inside the directory (got \"" + af.file + "\")");
    m.files.push_back(af);
  }
  m.stats = j.value("stats", json::object());
  m.digest = str(j, "digest", "digest");
  if (m.digest != artifact_digest(m.files)) bad("digest does not match its file list");
  return m;
}

ArtifactManifest artifact_read(const fs::path& dir) {
  std::error_code ec;
  fs::path mp = dir / "manifest.json";
  if (!fs::is_directory(dir, ec))
    throw_io(dir.string(), "no such directory", "check the path; it is the -o directory of select, finetune or eval");
  if (!fs::exists(mp, ec))
    throw_bad_data(dir.string(), "has no manifest.json, so it is not a committed slmify stage output",
                   "re-run the stage that should have written it");
  std::string text = read_file(mp);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw_bad_data(mp.string(), "is truncated or not valid JSON (at byte " + std::to_string(e.byte) + ")",
                   "re-run the stage that produced it");
  }
  return artifact_manifest_from_json(j, mp.string());
}

std::vector<std::string> artifact_verify(const fs::path& dir, const ArtifactManifest& m) {
  std::vector<std::string> problems;
  std::error_code ec;
  for (const ArtifactFile& f : m.files) {
    fs::path p = dir / f.file;
    if (!fs::is_regular_file(p, ec)) {
      problems.push_back(f.file + ": missing");
      continue;
    }
    if (sha256_file(p) != f.sha256) problems.push_back(f.file + ": checksum differs from manifest.json");
  }
  return problems;
}

InputRef input_ref(const std::string& path) {
  std::error_code ec;
  if (path != "-" && !fs::exists(path, ec)) throw_io(path, "no such file or directory", "check the path, or run the stage that writes it");
  if (fs::is_directory(path, ec)) {
    fs::path mp = fs::path(path) / "manifest.json";
    if (!fs::exists(mp, ec) && fs::exists(fs::path(path) / "config.json", ec)) {
      // A Hugging Face model directory: the identity of its config, weights and tokenizer files.
      std::string text;
      for (const char* f : {"config.json", "model.safetensors", "model.safetensors.index.json", "tokenizer.json",
                            "tokenizer.model", "tokenizer_config.json", "adapter_config.json", "adapter_model.safetensors"})
        if (fs::exists(fs::path(path) / f, ec)) text += std::string(f) + " " + file_input_digest((fs::path(path) / f).string()) + "\n";
      return {"model", path, "sha256:" + sha256_hex(text)};
    }
    if (!fs::exists(mp, ec))
      throw_bad_data(path, "has no manifest.json", "pass a stage's committed output directory, or a model directory with config.json");
    json j;
    try {
      j = json::parse(read_file(mp));
    } catch (const json::parse_error&) {
      throw_bad_data(mp.string(), "is not valid JSON", "re-run the stage that produced it");
    }
    if (j.value("format", "") == kArtifactFormat) return {"artifact", path, artifact_read(path).digest};
    return {"dataset", path, manifest_read(path).digest};
  }
  return {"file", path, file_input_digest(path)};
}

std::string input_digest_now(const std::string& path) {
  try {
    return input_ref(path).digest;
  } catch (const Error&) {
    return "";
  }
}

struct ArtifactWriter::Impl {
  fs::path dir, tmp;
  ArtifactManifest m;
  bool done = false;
};

ArtifactWriter::ArtifactWriter(const fs::path& dir_in, std::string stage, json config) : impl_(new Impl) {
  fs::path dir = dir_in.lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();
  impl_->dir = dir;
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) throw_io(dir.string(), "exists and is a file", "choose another output path with -o");
    if (!fs::is_empty(dir, ec) && !fs::exists(dir / "manifest.json", ec))
      throw_io(dir.string(), "exists and is not a slmify stage output, so slmify will not replace it",
               "choose another output path with -o, or remove the directory");
  }
  fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  fs::create_directories(parent, ec);
  if (ec) throw_errno("creating directory", parent.string(), ec.value());
  dataset_clean_stale(dir);
  impl_->tmp = parent / ("." + dir.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" + random_suffix());
  if (::mkdir(impl_->tmp.c_str(), 0755) != 0) throw_errno("creating directory", impl_->tmp.string(), errno);
  impl_->m.stage = std::move(stage);
  impl_->m.slmify_version = SLMIFY_VERSION;
  impl_->m.config = std::move(config);
}

ArtifactWriter::~ArtifactWriter() {
  try {
    abort();
  } catch (...) {
  }
}

const fs::path& ArtifactWriter::staging_dir() const { return impl_->tmp; }
void ArtifactWriter::add_input(const InputRef& in) { impl_->m.inputs.push_back(in); }
json& ArtifactWriter::stats() { return impl_->m.stats; }

ArtifactManifest ArtifactWriter::commit() {
  SLMIFY_ASSERT(!impl_->done, "commit twice");
  Impl& s = *impl_;
  ArtifactManifest& m = s.m;
  m.files.clear();
  for (auto it = fs::recursive_directory_iterator(s.tmp); it != fs::recursive_directory_iterator(); ++it) {
    if (!it->is_regular_file()) continue;
    std::string rel = fs::relative(it->path(), s.tmp).generic_string();
    if (rel == "manifest.json") continue;
    fsync_path(it->path());
    m.files.push_back({rel, static_cast<uint64_t>(it->file_size()), sha256_file(it->path())});
  }
  std::sort(m.files.begin(), m.files.end(), [](const ArtifactFile& a, const ArtifactFile& b) { return a.file < b.file; });
  m.created = utc_now_iso8601();
  m.config_digest = config_digest(m.config);
  m.digest = artifact_digest(m.files);
  {
    FileSink ms(s.tmp / "manifest.json");
    ms.write(artifact_manifest_to_json(m).dump(2));
    ms.write("\n");
    ms.finish();
  }
  for (auto it = fs::recursive_directory_iterator(s.tmp); it != fs::recursive_directory_iterator(); ++it)
    if (it->is_directory()) fsync_path(it->path());
  fsync_path(s.tmp);
  std::error_code ec;
  if (fs::exists(s.dir, ec)) {
    if (::renameat2(AT_FDCWD, s.tmp.c_str(), AT_FDCWD, s.dir.c_str(), RENAME_EXCHANGE) != 0)
      throw_errno("swapping the new output into place", s.dir.string(), errno);
    fs::path grave = s.tmp.parent_path() / ("." + s.dir.filename().string() + ".old-" + std::to_string(::getpid()) + "-" + random_suffix());
    fs::rename(s.tmp, grave, ec);
    fs::remove_all(ec ? s.tmp : grave, ec);
  } else if (::rename(s.tmp.c_str(), s.dir.c_str()) != 0) {
    throw_errno("moving the new output into place", s.dir.string(), errno);
  }
  fsync_path(s.dir.parent_path().empty() ? fs::path(".") : s.dir.parent_path());
  s.done = true;
  return m;
}

void ArtifactWriter::abort() {
  if (impl_->done) return;
  impl_->done = true;
  std::error_code ec;
  fs::remove_all(impl_->tmp, ec);
}

}  // namespace slmify
