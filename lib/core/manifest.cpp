// Manifest (de)serialisation and checks; see manifest.h.
#include "core/manifest.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "slmify/version.h"

namespace slmify {
namespace fs = std::filesystem;

uint64_t Accounting::dropped_total() const {
  uint64_t n = 0;
  for (auto& [_, c] : dropped) n += c;
  return n;
}

std::string Manifest::compute_digest() const {
  Sha256 h;
  h.update(std::string(kDatasetFormat) + "/" + std::to_string(version) + "\n");
  for (const ShardInfo& s : shards) h.update(s.file + " " + std::to_string(s.records) + " " + s.sha256 + "\n");
  if (quarantine) h.update("quarantine " + std::to_string(quarantine->records) + " " + quarantine->sha256 + "\n");
  return "sha256:" + h.hex();
}

std::string config_digest(const json& config) { return "sha256:" + sha256_hex(config.dump()); }

std::string file_input_digest(const std::string& path) {
  if (path == "-") return "stdin";
  // A pipe, FIFO or device has no size, and reading its head would take bytes from the stream.
  struct stat sb{};
  if (::stat(path.c_str(), &sb) == 0 && !S_ISREG(sb.st_mode)) return "stream";
  std::error_code ec;
  auto size = fs::file_size(path, ec);
  if (ec) throw_errno("reading the size of", path, ec.value());
  auto mtime = fs::last_write_time(path, ec).time_since_epoch().count();
  std::string head(1 << 16, '\0');
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw_errno("opening", path, errno);
  head.resize(std::fread(head.data(), 1, head.size(), f));
  std::fclose(f);
  return "stat:" + sha256_hex(std::to_string(size) + " " + std::to_string(mtime) + "\n" + head);
}

static json shard_to_json(const ShardInfo& s) {
  return {{"file", s.file}, {"records", s.records}, {"bytes", s.bytes}, {"raw_bytes", s.raw_bytes}, {"sha256", s.sha256}};
}

json manifest_to_json(const Manifest& m) {
  json j;
  j["format"] = m.format;
  j["version"] = m.version;
  j["stage"] = m.stage;
  j["slmify_version"] = m.slmify_version;
  j["created"] = m.created;
  j["config"] = m.config;
  j["config_digest"] = m.config_digest;
  j["inputs"] = json::array();
  for (const InputRef& in : m.inputs) j["inputs"].push_back({{"kind", in.kind}, {"path", in.path}, {"digest", in.digest}});
  j["shards"] = json::array();
  for (const ShardInfo& s : m.shards) j["shards"].push_back(shard_to_json(s));
  j["quarantine"] = m.quarantine ? shard_to_json(*m.quarantine) : json();
  j["accounting"] = {{"in", m.accounting.in},
                     {"out", m.accounting.out},
                     {"dropped", m.accounting.dropped},
                     {"quarantined", m.accounting.quarantined}};
  j["stats"] = m.stats;
  j["encryption"] = m.encryption_key_check
                        ? json{{"cipher", "xchacha20poly1305-secretstream"}, {"key_check", *m.encryption_key_check}}
                        : json();
  j["digest"] = m.digest;
  return j;
}

namespace {
struct Getter {
  const std::string& where;
  [[noreturn]] void bad(const std::string& path, const std::string& what) const {
    throw_bad_data(where, "field " + path + " " + what,
                   "manifest.json was edited or damaged; re-run the stage that produced the dataset");
  }
  const json& at(const json& j, const std::string& key, const std::string& path) const {
    if (!j.is_object() || !j.contains(key)) bad(path, "is missing");
    return j.at(key);
  }
  std::string str(const json& j, const std::string& key, const std::string& path) const {
    const json& v = at(j, key, path);
    if (!v.is_string()) bad(path, std::string("must be a string (got ") + v.type_name() + ")");
    return v.get<std::string>();
  }
  uint64_t u64(const json& j, const std::string& key, const std::string& path) const {
    const json& v = at(j, key, path);
    if (!v.is_number_unsigned() && !(v.is_number_integer() && v.get<int64_t>() >= 0))
      bad(path, "must be a non-negative integer (got " + v.dump() + ")");
    return v.get<uint64_t>();
  }
  ShardInfo shard(const json& j, const std::string& path) const {
    ShardInfo s;
    s.file = str(j, "file", path + ".file");
    if (s.file.empty() || s.file.find('/') != std::string::npos || s.file[0] == '.')
      bad(path + ".file", "must be a plain file name inside the dataset directory (got \"" + s.file + "\")");
    s.records = u64(j, "records", path + ".records");
    s.bytes = u64(j, "bytes", path + ".bytes");
    s.raw_bytes = j.contains("raw_bytes") ? u64(j, "raw_bytes", path + ".raw_bytes") : 0;
    s.sha256 = str(j, "sha256", path + ".sha256");
    if (s.sha256.size() != 64) bad(path + ".sha256", "must be 64 hex digits");
    return s;
  }
};
}  // namespace

Manifest manifest_from_json(const json& j, const std::string& where) {
  Getter g{where};
  if (!j.is_object()) throw_bad_data(where, "is not a JSON object", "this is not a slmify dataset manifest");
  Manifest m;
  m.format = j.contains("format") && j["format"].is_string() ? j["format"].get<std::string>() : "";
  if (m.format != kDatasetFormat)
    throw_bad_data(where, "format is \"" + m.format + "\", expected \"" + kDatasetFormat + "\"",
                   "this directory is not a slmify dataset; point the command at a stage's output directory");
  const json& v = g.at(j, "version", "version");
  if (!v.is_number_integer()) g.bad("version", "must be an integer");
  int64_t version = v.is_number_unsigned() && v.get<uint64_t>() > uint64_t(INT64_MAX) ? INT64_MAX : v.get<int64_t>();
  m.version = version > kDatasetVersion ? kDatasetVersion + 1 : static_cast<int>(std::max<int64_t>(version, 0));
  if (version > kDatasetVersion)
    throw_bad_data(where,
                   "dataset format version " + v.dump() + " is newer than this slmify (" +
                       SLMIFY_VERSION + ") reads (version " + std::to_string(kDatasetVersion) + ")",
                   "upgrade slmify to read it, or re-run the stage with this slmify");
  if (m.version < 1) g.bad("version", "must be >= 1 (got " + std::to_string(m.version) + ")");
  m.stage = g.str(j, "stage", "stage");
  m.slmify_version = g.str(j, "slmify_version", "slmify_version");
  m.created = g.str(j, "created", "created");
  m.config = g.at(j, "config", "config");
  m.config_digest = g.str(j, "config_digest", "config_digest");
  const json& ins = g.at(j, "inputs", "inputs");
  if (!ins.is_array()) g.bad("inputs", "must be an array");
  for (size_t i = 0; i < ins.size(); ++i) {
    std::string p = "inputs[" + std::to_string(i) + "]";
    m.inputs.push_back({g.str(ins[i], "kind", p + ".kind"), g.str(ins[i], "path", p + ".path"),
                        g.str(ins[i], "digest", p + ".digest")});
  }
  const json& sh = g.at(j, "shards", "shards");
  if (!sh.is_array()) g.bad("shards", "must be an array");
  for (size_t i = 0; i < sh.size(); ++i) m.shards.push_back(g.shard(sh[i], "shards[" + std::to_string(i) + "]"));
  if (j.contains("quarantine") && !j["quarantine"].is_null()) m.quarantine = g.shard(j["quarantine"], "quarantine");
  const json& a = g.at(j, "accounting", "accounting");
  m.accounting.in = g.u64(a, "in", "accounting.in");
  m.accounting.out = g.u64(a, "out", "accounting.out");
  m.accounting.quarantined = g.u64(a, "quarantined", "accounting.quarantined");
  const json& d = g.at(a, "dropped", "accounting.dropped");
  if (!d.is_object()) g.bad("accounting.dropped", "must be an object of reason: count");
  for (auto it = d.begin(); it != d.end(); ++it) m.accounting.dropped[it.key()] = g.u64(d, it.key(), "accounting.dropped." + it.key());
  m.stats = j.value("stats", json::object());
  if (j.contains("encryption") && !j["encryption"].is_null()) {
    const json& e = j["encryption"];
    if (g.str(e, "cipher", "encryption.cipher") != "xchacha20poly1305-secretstream")
      g.bad("encryption.cipher", "names a cipher this slmify does not know");
    m.encryption_key_check = g.str(e, "key_check", "encryption.key_check");
  }
  m.digest = g.str(j, "digest", "digest");

  uint64_t shard_records = 0;
  for (const ShardInfo& s : m.shards) shard_records += s.records;
  if (shard_records != m.accounting.out)
    g.bad("accounting.out", "is " + std::to_string(m.accounting.out) + " but the shards hold " +
                                std::to_string(shard_records) + " records");
  uint64_t q = m.quarantine ? m.quarantine->records : 0;
  if (q != m.accounting.quarantined)
    g.bad("accounting.quarantined", "is " + std::to_string(m.accounting.quarantined) + " but the quarantine shard holds " +
                                        std::to_string(q));
  if (!m.accounting.balanced())
    g.bad("accounting", "does not balance: in " + std::to_string(m.accounting.in) + " != out " +
                            std::to_string(m.accounting.out) + " + dropped " + std::to_string(m.accounting.dropped_total()) +
                            " + quarantined " + std::to_string(m.accounting.quarantined));
  if (m.digest != m.compute_digest()) g.bad("digest", "does not match the shards listed in the manifest");
  return m;
}

Manifest manifest_read(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw_io(dir.string(), "no such dataset directory", "check the path; a stage's output is the directory given to -o");
  if (!fs::is_directory(dir, ec))
    throw_bad_data(dir.string(), "is a file, not a dataset directory", "pass the directory that holds manifest.json");
  fs::path mp = dir / "manifest.json";
  if (!fs::exists(mp, ec))
    throw_bad_data(dir.string(), "has no manifest.json, so it is not a committed slmify dataset",
                   "point the command at a stage's output directory, or re-run the stage that should have written it");
  std::string text = read_file(mp);
  json j;
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    throw_bad_data(mp.string(),
                   "is truncated or not valid JSON (at byte " + std::to_string(e.byte) + " of " +
                       std::to_string(text.size()) + ")",
                   "the manifest was damaged after the dataset was written; re-run the stage that produced it");
  }
  return manifest_from_json(j, mp.string());
}

}  // namespace slmify
