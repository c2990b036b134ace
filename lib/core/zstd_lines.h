// Streaming JSON-Lines over zstd: a writer that compresses line by line into a FileSink, and a
// reader that decompresses with a bounded buffer, counts lines and checksums the compressed bytes.
// Memory is bounded by the longest line, never by the file. Tested by tests/core/test_zstd_lines.cpp.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "core/crypto.h"

namespace slmify {

struct ZstdFileInfo {
  uint64_t lines = 0;
  uint64_t raw_bytes = 0;   ///< uncompressed
  uint64_t bytes = 0;       ///< on disk
  std::string sha256;       ///< of the bytes on disk
};

class ZstdLineWriter {
 public:
  /// With `key`, the compressed stream is encrypted (crypto.h) before it reaches the file.
  ZstdLineWriter(const std::filesystem::path& path, int level = 3, unsigned mode = 0644, const DataKey* key = nullptr);
  ~ZstdLineWriter();
  /// Appends `line` and a '\n'. The line must not contain '\n' (JSON from nlohmann never does).
  void write_line(std::string_view line);
  uint64_t raw_bytes() const { return info_.raw_bytes; }
  uint64_t lines() const { return info_.lines; }
  /// Ends the zstd frame, fsyncs and closes.
  ZstdFileInfo finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  ZstdFileInfo info_;
};

class ZstdLineReader {
 public:
  /// With `key`, the file is decrypted before it is decompressed.
  explicit ZstdLineReader(const std::filesystem::path& path, const DataKey* key = nullptr);
  ~ZstdLineReader();
  /// Reads the next line without its '\n'; false at the end of the file. Throws a bad-data Error
  /// naming the file and line when the zstd stream is corrupt or truncated.
  bool next(std::string& line);
  uint64_t line_number() const { return line_no_; }  ///< 1-based number of the last line returned
  /// sha256 of the compressed bytes read so far (the whole file once next() returned false).
  std::string sha256();
  uint64_t bytes_read() const;
  const std::filesystem::path& path() const { return path_; }

 private:
  bool fill();
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::filesystem::path path_;
  uint64_t line_no_ = 0;
};

}  // namespace slmify
