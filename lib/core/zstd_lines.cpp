// zstd streaming compression (ZSTD_compressStream2) and decompression (ZSTD_decompressStream).
#include "core/zstd_lines.h"

#include <zstd.h>

#include <cerrno>
#include <cstdio>
#include <vector>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"

namespace slmify {

struct ZstdLineWriter::Impl {
  std::unique_ptr<FileSink> sink;
  std::unique_ptr<Encryptor> enc;  // between zstd and the file when a key is given
  ZSTD_CCtx* cctx = nullptr;
  std::vector<char> out;
  std::string pending;  // lines gathered before a compress call (fewer, larger calls)
  ~Impl() { ZSTD_freeCCtx(cctx); }
};

ZstdLineWriter::ZstdLineWriter(const std::filesystem::path& path, int level, unsigned mode, const DataKey* key)
    : impl_(new Impl) {
  impl_->sink = std::make_unique<FileSink>(path, static_cast<mode_t>(mode));
  if (key) {
    FileSink* sink = impl_->sink.get();
    impl_->enc = std::make_unique<Encryptor>(*key, [sink](const void* p, size_t n) { sink->write(p, n); });
  }
  impl_->cctx = ZSTD_createCCtx();
  SLMIFY_ASSERT(impl_->cctx != nullptr, "ZSTD_createCCtx failed");
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_compressionLevel, level);
  ZSTD_CCtx_setParameter(impl_->cctx, ZSTD_c_checksumFlag, 1);
  impl_->out.resize(ZSTD_CStreamOutSize());
}

ZstdLineWriter::~ZstdLineWriter() = default;

static void compress_some(Encryptor* enc, ZSTD_CCtx* cctx, FileSink& sink, std::vector<char>& out,
                          std::string_view data, ZSTD_EndDirective mode) {
  ZSTD_inBuffer in{data.data(), data.size(), 0};
  for (;;) {
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    size_t rem = ZSTD_compressStream2(cctx, &ob, &in, mode);
    if (ZSTD_isError(rem))
      throw_io(sink.path().string(), std::string("zstd compression failed: ") + ZSTD_getErrorName(rem));
    if (enc) enc->write(out.data(), ob.pos);
    else sink.write(out.data(), ob.pos);
    bool done = mode == ZSTD_e_end ? rem == 0 : in.pos == in.size;
    if (done) break;
  }
}

void ZstdLineWriter::write_line(std::string_view line) {
  impl_->pending.append(line);
  impl_->pending.push_back('\n');
  info_.raw_bytes += line.size() + 1;
  ++info_.lines;
  if (impl_->pending.size() >= (1 << 17)) {
    compress_some(impl_->enc.get(), impl_->cctx, *impl_->sink, impl_->out, impl_->pending, ZSTD_e_continue);
    impl_->pending.clear();
  }
}

ZstdFileInfo ZstdLineWriter::finish() {
  compress_some(impl_->enc.get(), impl_->cctx, *impl_->sink, impl_->out, impl_->pending, ZSTD_e_end);
  if (impl_->enc) impl_->enc->finish();
  impl_->pending.clear();
  info_.bytes = impl_->sink->bytes();
  info_.sha256 = impl_->sink->finish();
  return info_;
}

struct ZstdLineReader::Impl {
  FILE* f = nullptr;
  ZSTD_DCtx* dctx = nullptr;
  std::vector<char> in;
  ZSTD_inBuffer ib{nullptr, 0, 0};
  std::string buf;      // decompressed bytes not yet returned
  size_t buf_pos = 0;
  bool eof = false;     // no more compressed input
  size_t last_ret = 0;  // last ZSTD_decompressStream return; 0 = frame complete
  uint64_t bytes = 0;
  Sha256 sha;
  std::unique_ptr<Decryptor> dec;  // between the file and zstd when a key is given
  ~Impl() {
    if (f) std::fclose(f);
    ZSTD_freeDCtx(dctx);
  }
};

ZstdLineReader::ZstdLineReader(const std::filesystem::path& path, const DataKey* key) : impl_(new Impl), path_(path) {
  impl_->f = std::fopen(path.c_str(), "rb");
  if (!impl_->f) throw_errno("opening", path.string(), errno);
  if (key) {
    Impl* m = impl_.get();
    impl_->dec = std::make_unique<Decryptor>(
        *key,
        [m, path](void* dst, size_t n) {
          size_t r = std::fread(dst, 1, n, m->f);
          if (r == 0 && std::ferror(m->f)) throw_errno("reading", path.string(), errno);
          m->sha.update(dst, r);
          m->bytes += r;
          return r;
        },
        path.string());
  }
  impl_->dctx = ZSTD_createDCtx();
  SLMIFY_ASSERT(impl_->dctx != nullptr, "ZSTD_createDCtx failed");
  impl_->in.resize(ZSTD_DStreamInSize());
}

ZstdLineReader::~ZstdLineReader() = default;

uint64_t ZstdLineReader::bytes_read() const { return impl_->bytes; }

std::string ZstdLineReader::sha256() { return impl_->sha.peek_hex(); }

// Decompresses more data into buf; false when the input is exhausted and nothing was added.
bool ZstdLineReader::fill() {
  Impl& m = *impl_;
  if (m.buf_pos > 0) {
    m.buf.erase(0, m.buf_pos);
    m.buf_pos = 0;
  }
  size_t before = m.buf.size();
  std::vector<char> out(ZSTD_DStreamOutSize());
  while (m.buf.size() == before) {
    if (m.ib.pos == m.ib.size) {
      if (m.eof) break;
      size_t n;
      if (m.dec) {
        n = m.dec->read(m.in.data(), m.in.size());  // hashes and counts the file bytes itself
      } else {
        n = std::fread(m.in.data(), 1, m.in.size(), m.f);
        if (n == 0 && std::ferror(m.f)) throw_errno("reading", path_.string(), errno);
        m.sha.update(m.in.data(), n);
        m.bytes += n;
      }
      if (n == 0) {
        m.eof = true;
        break;
      }
      m.ib = ZSTD_inBuffer{m.in.data(), n, 0};
    }
    ZSTD_outBuffer ob{out.data(), out.size(), 0};
    size_t ret = ZSTD_decompressStream(m.dctx, &ob, &m.ib);
    if (ZSTD_isError(ret))
      throw_bad_data(path_.string() + ":" + std::to_string(line_no_ + 1),
                     std::string("corrupt zstd data: ") + ZSTD_getErrorName(ret),
                     "the shard is damaged; restore it or re-run the stage that wrote the dataset");
    m.last_ret = ret;
    m.buf.append(out.data(), ob.pos);
  }
  if (m.eof && m.bytes == 0)
    throw_bad_data(path_.string(), "is empty, not a zstd stream (the file is truncated)",
                   "the file was cut off or never written; restore it or re-run the stage that wrote it");
  if (m.buf.size() == before && m.eof && m.last_ret != 0)
    throw_bad_data(path_.string() + ":" + std::to_string(line_no_ + 1),
                   "the zstd stream ends in the middle of a frame (the file is truncated)",
                   "the shard is incomplete; restore it or re-run the stage that wrote the dataset");
  return m.buf.size() > before;
}

bool ZstdLineReader::next(std::string& line) {
  Impl& m = *impl_;
  size_t scan_from = m.buf_pos;
  for (;;) {
    size_t nl = m.buf.find('\n', scan_from);
    if (nl != std::string::npos) {
      line.assign(m.buf, m.buf_pos, nl - m.buf_pos);
      m.buf_pos = nl + 1;
      ++line_no_;
      return true;
    }
    size_t consumed = m.buf_pos;
    size_t scanned = m.buf.size();
    if (!fill()) {
      if (m.buf_pos < m.buf.size()) {  // last line without '\n'
        line.assign(m.buf, m.buf_pos, std::string::npos);
        m.buf_pos = m.buf.size();
        ++line_no_;
        return true;
      }
      return false;
    }
    scan_from = scanned - consumed;  // fill() dropped the consumed prefix
  }
}

}  // namespace slmify
