// Input expansion and line reading for collect; see input.h.
#include "collect/input.h"

#include <glob.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <set>

#include "core/error.h"

namespace slmify {
namespace fs = std::filesystem;

static bool has_glob_chars(const std::string& s) { return s.find_first_of("*?[") != std::string::npos; }

// Files found in a directory are read when their name says they are logs (app.jsonl, x.json.gz,
// agent.log.1, traces.ndjson.zst); READMEs, scripts and other files beside the logs are not.
// A file named explicitly is always read.
bool input_looks_like_log(const std::string& name) {
  for (const char* ext : {".json", ".jsonl", ".ndjson", ".log"})
    if (name.find(ext) != std::string::npos) return true;
  return false;
}

std::vector<InputFile> input_expand(const std::vector<std::string>& inputs) {
  std::vector<InputFile> out;
  std::set<std::string> seen;  // canonical paths already listed
  auto add = [&](const fs::path& p) {
    std::error_code ec;
    fs::path canon = fs::weakly_canonical(p, ec);
    if (seen.insert(ec ? p.string() : canon.string()).second) out.push_back({p.string()});
  };
  // slmify's own datasets (a manifest.json naming the format) are outputs, never inputs, even
  // when they sit inside a directory of logs.
  auto is_dataset = [](const fs::path& dir) {
    std::error_code ec;
    fs::path m = dir / "manifest.json";
    if (!fs::is_regular_file(m, ec)) return false;
    FILE* f = std::fopen(m.c_str(), "rb");
    if (!f) return false;
    std::string head(1 << 16, '\0');  // the manifest names its format after the config: read enough
    head.resize(std::fread(head.data(), 1, head.size(), f));
    std::fclose(f);
    return head.find("\"slmify-dataset\"") != std::string::npos;
  };
  auto add_dir = [&](const fs::path& dir) {
    std::vector<fs::path> files;
    std::error_code ec;
    if (is_dataset(dir)) return;
    fs::recursive_directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec), end;
    if (ec) throw_errno("listing directory", dir.string(), ec.value());
    for (; it != end; it.increment(ec)) {
      if (ec) throw_errno("listing directory", dir.string(), ec.value());
      std::string name = it->path().filename().string();
      if (!name.empty() && name[0] == '.') {  // hidden files and directories (.git, editor swap files)
        if (it->is_directory(ec)) it.disable_recursion_pending();
        continue;
      }
      if (it->is_directory(ec)) {
        if (is_dataset(it->path())) it.disable_recursion_pending();
        continue;
      }
      if (it->is_regular_file(ec) && input_looks_like_log(name)) files.push_back(it->path());
    }
    std::sort(files.begin(), files.end());
    for (const auto& f : files) add(f);
  };
  for (const std::string& in : inputs) {
    if (in == "-") {
      if (seen.insert("-").second) out.push_back({"-"});
      continue;
    }
    std::error_code ec;
    if (fs::is_directory(in, ec)) {
      add_dir(in);
    } else if (fs::exists(in, ec)) {
      add(in);
    } else if (has_glob_chars(in)) {
      glob_t g{};
      int rc = ::glob(in.c_str(), GLOB_BRACE | GLOB_TILDE, nullptr, &g);
      if (rc == GLOB_NOMATCH)
        throw_usage(in, "the pattern matches no file", "check the pattern (quote it so that the shell does not expand it first)");
      for (size_t i = 0; i < g.gl_pathc; ++i) {
        if (fs::is_directory(g.gl_pathv[i], ec)) add_dir(g.gl_pathv[i]);
        else add(g.gl_pathv[i]);
      }
      globfree(&g);
    } else {
      throw_io(in, "no such file or directory", "check the path given as input");
    }
  }
  return out;
}

// ---- byte sources: plain, gzip, zstd ------------------------------------------------------

struct LineReader::Source {
  std::string path;
  FILE* f = nullptr;
  bool own = false;
  std::string head;  // bytes read to sniff the format, not yet handed out
  Compression kind = Compression::none;
  z_stream zs{};
  bool z_init = false;
  ZSTD_DCtx* zd = nullptr;
  std::vector<char> in;
  size_t in_pos = 0, in_len = 0;
  uint64_t in_base = 0;     // bytes of the compressed file before in[0]
  std::string damage;       // set when decompression stopped at damage; reading then ends
  bool raw_eof = false;
  bool frame_open = false;  // inside an unfinished gzip member or zstd frame

  ~Source() {
    if (own && f) std::fclose(f);
    if (z_init) inflateEnd(&zs);
    ZSTD_freeDCtx(zd);
  }

  size_t read_raw(char* dst, size_t n) {
    size_t got = 0;
    if (!head.empty()) {
      got = std::min(n, head.size());
      std::memcpy(dst, head.data(), got);
      head.erase(0, got);
      if (got == n) return got;
    }
    size_t r = std::fread(dst + got, 1, n - got, f);
    if (r == 0 && std::ferror(f)) throw_errno("reading", path, errno);
    return got + r;
  }

  bool refill_in() {
    if (in_pos < in_len) return true;
    if (raw_eof) return false;
    in_base += in_len;
    in_len = read_raw(in.data(), in.size());
    in_pos = 0;
    if (in_len == 0) raw_eof = true;
    return in_len > 0;
  }

  // Decompression cannot go on: remember why and where, and end the stream there.
  size_t corrupt(const std::string& what) {
    damage = what + " at byte " + std::to_string(in_base + in_pos) + " of the compressed file";
    return 0;
  }

  // Decompressed bytes into dst; 0 at the end of the input (or at damage).
  size_t read(char* dst, size_t n) {
    if (kind == Compression::none) return read_raw(dst, n);
    if (!damage.empty()) return 0;
    for (;;) {
      if (!refill_in()) {
        if (frame_open) return corrupt(std::string(kind == Compression::gzip ? "gzip" : "zstd") + " stream ends in the middle (truncated file)");
        return 0;
      }
      if (kind == Compression::gzip) {
        if (!frame_open) {  // a new gzip member (files may hold several, e.g. from cat a.gz b.gz)
          if (z_init) inflateReset(&zs);
          frame_open = true;
        }
        zs.next_in = reinterpret_cast<Bytef*>(in.data() + in_pos);
        zs.avail_in = static_cast<uInt>(in_len - in_pos);
        zs.next_out = reinterpret_cast<Bytef*>(dst);
        zs.avail_out = static_cast<uInt>(n);
        int rc = inflate(&zs, Z_NO_FLUSH);
        in_pos = in_len - zs.avail_in;
        if (rc == Z_STREAM_END) frame_open = false;
        else if (rc != Z_OK && rc != Z_BUF_ERROR) return corrupt(std::string("corrupt gzip data: ") + (zs.msg ? zs.msg : "error"));
        size_t produced = n - zs.avail_out;
        if (produced) return produced;
      } else {
        ZSTD_inBuffer ib{in.data(), in_len, in_pos};
        ZSTD_outBuffer ob{dst, n, 0};
        size_t rc = ZSTD_decompressStream(zd, &ob, &ib);
        if (ZSTD_isError(rc)) return corrupt(std::string("corrupt zstd data: ") + ZSTD_getErrorName(rc));
        in_pos = ib.pos;
        frame_open = rc != 0;
        if (ob.pos) return ob.pos;
      }
    }
  }
};

LineReader::LineReader(const InputFile& file, uint64_t max_line, uint64_t start_offset, uint64_t start_line)
    : src_(new Source), path_(file.path), max_line_(max_line), line_no_(start_line), offset_(start_offset) {
  Source& s = *src_;
  s.path = file.path == "-" ? "<stdin>" : file.path;
  if (file.path == "-") {
    s.f = stdin;
  } else {
    s.f = std::fopen(file.path.c_str(), "rb");
    if (!s.f) throw_errno("opening", file.path, errno);
    s.own = true;
  }
  char magic[4] = {0, 0, 0, 0};
  size_t m = std::fread(magic, 1, 4, s.f);
  s.head.assign(magic, m);
  if (m >= 2 && static_cast<unsigned char>(magic[0]) == 0x1f && static_cast<unsigned char>(magic[1]) == 0x8b) {
    s.kind = Compression::gzip;
    if (inflateInit2(&s.zs, 16 + MAX_WBITS) != Z_OK) throw_io(s.path, "cannot initialise gzip decompression");
    s.z_init = true;
  } else if (m == 4 && std::memcmp(magic, "\x28\xb5\x2f\xfd", 4) == 0) {
    s.kind = Compression::zstd;
    s.zd = ZSTD_createDCtx();
  }
  compression_ = s.kind;
  if (s.kind != Compression::none) s.in.resize(1 << 17);
  if (start_offset > 0) {
    if (s.kind == Compression::none && s.own) {
      s.head.clear();
      if (::fseeko(s.f, static_cast<off_t>(start_offset), SEEK_SET) != 0) throw_errno("seeking", s.path, errno);
    } else {  // compressed or stdin: read through to the offset
      std::vector<char> skip(1 << 16);
      uint64_t left = start_offset;
      while (left > 0) {
        size_t r = s.read(skip.data(), std::min<uint64_t>(left, skip.size()));
        if (r == 0) break;
        left -= r;
      }
    }
  }
}

LineReader::~LineReader() = default;

const std::string& LineReader::damage() const { return src_->damage; }

bool LineReader::fill() {
  if (eof_) return false;
  if (pos_ > 0) {
    buf_.erase(0, pos_);
    pos_ = 0;
  }
  size_t old = buf_.size();
  buf_.resize(old + (1 << 16));
  size_t r = src_->read(buf_.data() + old, 1 << 16);
  buf_.resize(old + r);
  if (r == 0) eof_ = true;
  return r > 0;
}

LineReader::Status LineReader::next(std::string& line) {
  unterminated_ = false;
  size_t scan = pos_;
  bool oversized = false;
  std::string preview;
  uint64_t skipped = 0;  // bytes of an oversized line already thrown away
  for (;;) {
    size_t nl = buf_.find('\n', scan);
    if (nl != std::string::npos) {
      size_t len = nl - pos_;
      uint64_t total = skipped + len;
      if (oversized || total > max_line_) {
        if (!oversized) preview = buf_.substr(pos_, std::min<size_t>(len, 1024));
        line = preview;
        pos_ = nl + 1;
        offset_ += total + 1;
        ++line_no_;
        return Status::oversized;
      }
      line.assign(buf_, pos_, len);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      pos_ = nl + 1;
      offset_ += len + 1;
      ++line_no_;
      return Status::line;
    }
    size_t pending = buf_.size() - pos_;
    if (!oversized && skipped + pending > max_line_) {  // too long: keep a preview, drop the rest as it comes
      oversized = true;
      preview = buf_.substr(pos_, 1024);
    }
    if (oversized) {
      skipped += pending;
      pos_ = buf_.size();
    }
    if (!fill()) {
      size_t rest = buf_.size() - pos_;
      if (rest == 0 && !oversized) return Status::end;
      if (hold_partial_) return Status::end;  // an unfinished last line: leave it for the next run
      unterminated_ = true;
      ++line_no_;
      offset_ += skipped + rest;
      if (oversized) {
        line = preview;
        pos_ = buf_.size();
        return Status::oversized;
      }
      line.assign(buf_, pos_, rest);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      pos_ = buf_.size();
      return Status::line;
    }
    scan = oversized ? 0 : pending;  // fill() moved the unread bytes (no '\n' among them) to the front
  }
}

}  // namespace slmify
