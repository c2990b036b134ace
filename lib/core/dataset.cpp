// Dataset writer (temporary sibling directory, fsync, atomic swap) and reader (format, version,
// checksum and schema checks). See dataset.h and docs/dataset-format.md.
#include "core/dataset.h"

#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"
#include "core/zstd_lines.h"
#include "slmify/version.h"

namespace slmify {
namespace fs = std::filesystem;

static std::string quarantine_name(bool encrypted) {
  return encrypted ? "quarantine.jsonl.zst.enc" : "quarantine.jsonl.zst";
}

static std::string shard_name(size_t i, bool encrypted) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "part-%05zu.jsonl.zst%s", i, encrypted ? ".enc" : "");
  return buf;
}

// Hidden siblings a writer uses: ".NAME.tmp-PID-RAND" (being written) and ".NAME.old-PID-RAND".
static std::string sibling_prefix(const fs::path& dir) { return "." + dir.filename().string() + "."; }

void dataset_clean_stale(const fs::path& dir) {
  fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  std::string prefix = sibling_prefix(dir);
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind(prefix, 0) != 0) continue;
    std::string rest = name.substr(prefix.size());
    if (rest.rfind("tmp-", 0) != 0 && rest.rfind("old-", 0) != 0) continue;
    pid_t pid = static_cast<pid_t>(std::atol(rest.c_str() + 4));
    if (pid > 0 && !process_alive(pid)) {
      log_debug("removing " + e.path().string() + " left by an interrupted writer (process " + std::to_string(pid) + ")");
      fs::remove_all(e.path(), ec);
    }
  }
}

struct DatasetWriter::Impl {
  fs::path dir, tmp;
  WriterOptions opts;
  std::unique_ptr<ZstdLineWriter> shard, quarantine;
  bool done = false;
};

const fs::path& DatasetWriter::staging_dir() const { return impl_->tmp; }

DatasetWriter::DatasetWriter(const fs::path& dir_in, WriterOptions opts) : impl_(new Impl) {
  fs::path dir = dir_in.lexically_normal();
  if (dir.filename().empty()) dir = dir.parent_path();  // "out/" -> "out"
  impl_->dir = dir;
  impl_->opts = std::move(opts);
  std::error_code ec;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec))
      throw_io(dir.string(), "exists and is a file, not a dataset directory", "choose another output path with -o");
    bool empty = fs::is_empty(dir, ec);
    if (!empty && !fs::exists(dir / "manifest.json", ec))
      throw_io(dir.string(), "exists and is not a slmify dataset, so slmify will not replace it",
               "choose another output path with -o, or remove the directory");
  }
  fs::path parent = dir.parent_path().empty() ? fs::path(".") : dir.parent_path();
  fs::create_directories(parent, ec);
  if (ec) throw_errno("creating directory", parent.string(), ec.value());
  dataset_clean_stale(dir);
  impl_->tmp = parent / (sibling_prefix(dir) + "tmp-" + std::to_string(::getpid()) + "-" + random_suffix());
  // The directory is searchable by whoever may read the files (0644 -> 0755, 0600 -> 0700).
  mode_t dir_mode = static_cast<mode_t>(impl_->opts.file_mode | ((impl_->opts.file_mode & 0444) >> 2));
  if (::mkdir(impl_->tmp.c_str(), dir_mode) != 0) throw_errno("creating directory", impl_->tmp.string(), errno);
  ::chmod(impl_->tmp.c_str(), dir_mode);  // mkdir applies the umask
  manifest_.stage = impl_->opts.stage;
  manifest_.slmify_version = SLMIFY_VERSION;
  manifest_.config = impl_->opts.config;
  manifest_.inputs = impl_->opts.inputs;
  if (impl_->opts.key) manifest_.encryption_key_check = data_key_check(*impl_->opts.key);
}

DatasetWriter::~DatasetWriter() {
  if (!impl_->done) {
    try {
      abort();
    } catch (...) {
    }
  }
}

void DatasetWriter::phase(std::string_view name) {
  if (impl_->opts.on_phase) impl_->opts.on_phase(name);
}

void DatasetWriter::open_shard() {
  const DataKey* key = impl_->opts.key ? &*impl_->opts.key : nullptr;
  std::string name = shard_name(manifest_.shards.size(), key != nullptr);
  impl_->shard = std::make_unique<ZstdLineWriter>(impl_->tmp / name, impl_->opts.zstd_level, impl_->opts.file_mode, key);
  manifest_.shards.push_back(ShardInfo{name, 0, 0, 0, ""});
}

void DatasetWriter::close_shard() {
  if (!impl_->shard) return;
  ZstdFileInfo info = impl_->shard->finish();
  impl_->shard.reset();
  ShardInfo& s = manifest_.shards.back();
  s.records = info.lines;
  s.bytes = info.bytes;
  s.raw_bytes = info.raw_bytes;
  s.sha256 = info.sha256;
  phase("shard_closed");
}

bool DatasetWriter::write(const json& rec, const SourceLoc& where_in) {
  SLMIFY_ASSERT(!impl_->done, "write after commit/abort");
  std::string problem = record_check(rec);
  std::string line;
  if (problem.empty()) {
    try {
      line = rec.dump();
    } catch (const json::type_error& e) {
      problem = std::string("cannot be serialised: ") + e.what();
    }
  }
  if (!problem.empty()) {
    SourceLoc where = where_in;
    if (where.file.empty() && rec.is_object() && rec.contains("source") && rec["source"].is_object()) {
      const json& src = rec["source"];
      if (src.contains("file") && src["file"].is_string()) where.file = src["file"].get<std::string>();
      if (src.contains("line") && src["line"].is_number_integer() && src["line"].get<int64_t>() >= 0)
        where.line = src["line"].get<uint64_t>();
    }
    quarantine_record("invalid record: " + problem, where, rec);
    return false;
  }
  if (!impl_->shard) open_shard();
  impl_->shard->write_line(line);
  ++manifest_.accounting.in;
  ++manifest_.accounting.out;
  if (impl_->shard->lines() >= impl_->opts.shard_records || impl_->shard->raw_bytes() >= impl_->opts.shard_bytes)
    close_shard();
  return true;
}

bool DatasetWriter::write(const PreparedRecord& prepared, const json& rec, const SourceLoc& where) {
  SLMIFY_ASSERT(!impl_->done, "write after commit/abort");
  if (!prepared.problem.empty()) return write(rec, where);  // quarantines it with the problem
  if (!impl_->shard) open_shard();
  impl_->shard->write_line(prepared.line);
  ++manifest_.accounting.in;
  ++manifest_.accounting.out;
  if (impl_->shard->lines() >= impl_->opts.shard_records || impl_->shard->raw_bytes() >= impl_->opts.shard_bytes)
    close_shard();
  return true;
}

void DatasetWriter::drop(std::string_view reason, uint64_t n) {
  manifest_.accounting.dropped[std::string(reason)] += n;
  manifest_.accounting.in += n;
}

static json quarantine_entry(std::string_view reason, const std::string& stage, const SourceLoc& where) {
  json e;
  e["reason"] = std::string(reason);
  e["stage"] = stage;
  e["source"] = {{"file", where.file}, {"line", where.line}};
  return e;
}

void DatasetWriter::write_quarantine(json& entry) {
  Impl& m = *impl_;
  if (!m.quarantine)
    m.quarantine = std::make_unique<ZstdLineWriter>(m.tmp / quarantine_name(m.opts.key.has_value()), m.opts.zstd_level,
                                                    m.opts.file_mode, m.opts.key ? &*m.opts.key : nullptr);
  m.quarantine->write_line(entry.dump(-1, ' ', false, json::error_handler_t::replace));
}

void DatasetWriter::quarantine(std::string_view reason, const SourceLoc& where, std::string_view raw) {
  SLMIFY_ASSERT(!impl_->done, "quarantine after commit/abort");
  json e = quarantine_entry(reason, impl_->opts.stage, where);
  if (utf8_valid(raw)) {
    e["raw"] = std::string(raw);
  } else {
    std::string b64(sodium_base64_encoded_len(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
    sodium_bin2base64(b64.data(), b64.size(), reinterpret_cast<const unsigned char*>(raw.data()), raw.size(),
                      sodium_base64_VARIANT_ORIGINAL);
    b64.resize(std::strlen(b64.c_str()));
    e["raw_base64"] = b64;
  }
  write_quarantine(e);
  ++manifest_.accounting.in;
  ++manifest_.accounting.quarantined;
}

void DatasetWriter::quarantine_record(std::string_view reason, const SourceLoc& where, const json& rec) {
  SLMIFY_ASSERT(!impl_->done, "quarantine after commit/abort");
  json e = quarantine_entry(reason, impl_->opts.stage, where);
  e["record"] = rec;
  write_quarantine(e);
  ++manifest_.accounting.in;
  ++manifest_.accounting.quarantined;
}

Manifest DatasetWriter::commit() {
  SLMIFY_ASSERT(!impl_->done, "commit twice");
  Impl& m = *impl_;
  close_shard();
  if (m.quarantine) {
    ZstdFileInfo q = m.quarantine->finish();
    m.quarantine.reset();
    manifest_.quarantine = ShardInfo{quarantine_name(m.opts.key.has_value()), q.lines, q.bytes, q.raw_bytes, q.sha256};
  }
  SLMIFY_ASSERT(manifest_.accounting.balanced(), "accounting does not balance");
  manifest_.created = utc_now_iso8601();
  manifest_.config_digest = config_digest(manifest_.config);
  manifest_.digest = manifest_.compute_digest();
  {
    FileSink ms(m.tmp / "manifest.json", m.opts.file_mode);
    ms.write(manifest_to_json(manifest_).dump(2));
    ms.write("\n");
    ms.finish();
  }
  phase("manifest_written");
  fsync_path(m.tmp);
  phase("before_swap");
  std::error_code ec;
  bool replace = fs::exists(m.dir, ec);
  if (replace) {
    // Atomic exchange: at every instant DIR is either the old dataset or the new one.
    if (::renameat2(AT_FDCWD, m.tmp.c_str(), AT_FDCWD, m.dir.c_str(), RENAME_EXCHANGE) != 0)
      throw_errno("swapping the new dataset into place", m.dir.string(), errno);
    fs::path old = m.tmp;  // now holds the previous dataset
    fs::path graveyard = old.parent_path() / (sibling_prefix(m.dir) + "old-" + std::to_string(::getpid()) + "-" + random_suffix());
    fs::rename(old, graveyard, ec);
    fs::remove_all(ec ? old : graveyard, ec);
  } else {
    if (::rename(m.tmp.c_str(), m.dir.c_str()) != 0) throw_errno("moving the new dataset into place", m.dir.string(), errno);
  }
  fs::path parent = m.dir.parent_path().empty() ? fs::path(".") : m.dir.parent_path();
  fsync_path(parent);
  m.done = true;
  phase("committed");
  return manifest_;
}

void DatasetWriter::abort() {
  if (impl_->done) return;
  impl_->done = true;
  impl_->shard.reset();
  impl_->quarantine.reset();
  std::error_code ec;
  fs::remove_all(impl_->tmp, ec);
}

// ---------------------------------------------------------------------------------------------
// Reader

struct DatasetReader::Impl {
  size_t shard_index = 0;
  std::unique_ptr<ZstdLineReader> cur;
  std::string line;
  std::string last_location;
};

DatasetReader::DatasetReader(const fs::path& dir, ReadOptions opts)
    : impl_(new Impl), dir_(dir), manifest_(manifest_read(dir)), opts_(opts) {
  shard_key(manifest_, opts_, dir_);  // a missing or wrong key is reported before anything is read
  std::error_code ec;
  std::vector<const ShardInfo*> files;
  for (const ShardInfo& s : manifest_.shards) files.push_back(&s);
  if (manifest_.quarantine) files.push_back(&*manifest_.quarantine);  // its calls are part of the accounting too
  for (const ShardInfo* s : files)
    if (!fs::exists(dir_ / s->file, ec))
      throw_bad_data((dir_ / s->file).string(), "is listed in manifest.json but missing",
                     "the dataset is incomplete; restore the file or re-run the stage that produced it");
}

DatasetReader::~DatasetReader() = default;

const DataKey* DatasetReader::shard_key(const Manifest& m, const ReadOptions& opts, const fs::path& dir) {
  if (!m.encryption_key_check) return nullptr;
  if (!opts.key)
    throw_usage(dir.string(), "the dataset is encrypted and no key was given",
                "give the key it was written with: encryption.key_file or the variable named by encryption.key_env "
                "(default SLMIFY_DATA_KEY), with --config pipeline.yaml");
  if (data_key_check(*opts.key) != *m.encryption_key_check)
    throw_usage(dir.string(), "the key given is not the one the dataset was encrypted with",
                "check encryption.key_file / encryption.key_env (key check " + m.encryption_key_check->substr(0, 8) + "...)");
  return &*opts.key;
}

InputRef DatasetReader::input_ref() const { return InputRef{"dataset", dir_.string(), manifest_.digest}; }

std::string DatasetReader::location() const { return impl_->last_location; }

static void finish_shard_checks(ZstdLineReader& r, const ShardInfo& s, const ReadOptions& opts) {
  if (!opts.verify_checksums) return;
  std::string where = r.path().string();
  if (r.line_number() != s.records)
    throw_bad_data(where,
                   "holds " + std::to_string(r.line_number()) + " records but manifest.json lists " +
                       std::to_string(s.records),
                   "the shard was replaced or damaged; re-run the stage that produced the dataset");
  std::string sha = r.sha256();
  if (sha != s.sha256)
    throw_bad_data(where, "sha256 " + sha + " does not match manifest.json (" + s.sha256 + ")",
                   "the shard was modified or damaged after it was written; re-run the stage that produced it");
}

// A record that fails to parse in a shard whose checksum will not match is damage, not a bad
// record: read the rest of the shard and report the checksum mismatch, which says what happened.
[[noreturn]] static void rethrow_as_damage(ZstdLineReader& r, const ShardInfo& s, const ReadOptions& opts) {
  if (opts.verify_checksums) {
    std::string line;
    while (r.next(line)) {
    }
    finish_shard_checks(r, s, opts);  // throws when the checksum or count differs
  }
  throw;
}

static void parse_record(const std::string& line, const std::string& where, const ReadOptions& opts, json& rec) {
  std::string err;
  if (json_parse_guarded(line, rec, err) != JsonFault::none)
    throw_bad_data(where, "record is not valid JSON: " + err,
                   "the shard was damaged; run `slmify dataset validate` and re-run the stage that produced it");
  if (opts.check_records) {
    std::string problem = record_check(rec);
    if (!problem.empty())
      throw_bad_data(where, "record does not match the dataset schema v1: " + problem,
                     "the shard was edited by hand or written by another tool; fix the record or re-run the stage");
  }
}

bool DatasetReader::next(json& rec) {
  Impl& m = *impl_;
  for (;;) {
    if (!m.cur) {
      if (m.shard_index >= manifest_.shards.size()) return false;
      m.cur = std::make_unique<ZstdLineReader>(dir_ / manifest_.shards[m.shard_index].file, shard_key(manifest_, opts_, dir_));
    }
    if (m.cur->next(m.line)) {
      m.last_location = m.cur->path().string() + ":" + std::to_string(m.cur->line_number());
      try {
        parse_record(m.line, m.last_location, opts_, rec);
      } catch (const Error&) {
        rethrow_as_damage(*m.cur, manifest_.shards[m.shard_index], opts_);
      }
      return true;
    }
    finish_shard_checks(*m.cur, manifest_.shards[m.shard_index], opts_);
    m.cur.reset();
    ++m.shard_index;
  }
}

void DatasetReader::read_shard(const fs::path& dir, const ShardInfo& shard, ReadOptions opts,
                               const std::function<void(json& rec, uint64_t line)>& fn) {
  Manifest m = manifest_read(dir);
  ZstdLineReader r(dir / shard.file, shard_key(m, opts, dir));
  std::string line;
  json rec;
  while (r.next(line)) {
    try {
      parse_record(line, r.path().string() + ":" + std::to_string(r.line_number()), opts, rec);
    } catch (const Error&) {
      rethrow_as_damage(r, shard, opts);
    }
    fn(rec, r.line_number());
  }
  finish_shard_checks(r, shard, opts);
}

void DatasetReader::for_each_quarantined(const std::function<void(const json& entry)>& fn) const {
  if (!manifest_.quarantine) return;
  ZstdLineReader r(dir_ / manifest_.quarantine->file, shard_key(manifest_, opts_, dir_));
  std::string line;
  while (r.next(line)) {
    json e;
    std::string err;
    if (json_parse_guarded(line, e, err) != JsonFault::none)
      throw_bad_data(r.path().string() + ":" + std::to_string(r.line_number()), "quarantine entry is not valid JSON: " + err,
                     "the quarantine shard was damaged; re-run the stage that produced the dataset");
    fn(e);
  }
  finish_shard_checks(r, *manifest_.quarantine, opts_);
}

}  // namespace slmify
