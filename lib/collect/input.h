// collect's input side: expanding INPUT arguments into files, and reading lines from plain, gzip
// or zstd files (recognised by their magic bytes) with a cap on line length, byte offsets and
// line numbers, so that incremental runs can resume where the last one stopped.
// Tested by tests/collect/test_input.cpp.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace slmify {

struct InputFile {
  std::string path;  ///< as given, or found in a directory; "-" is stdin
};

/// Files, directories (recursively, sorted, hidden entries skipped, only files whose name
/// contains .json, .jsonl, .ndjson or .log), glob patterns and "-". The same file named twice is
/// read once. Throws a usage Error for inputs that match nothing.
std::vector<InputFile> input_expand(const std::vector<std::string>& inputs);
bool input_looks_like_log(const std::string& file_name);

enum class Compression { none, gzip, zstd };

/// Reads a file line by line. Lines longer than `max_line` bytes are skipped (read through
/// without being kept) and reported as oversized with their first bytes. A compressed file that
/// is damaged or cut off ends where the damage starts: the lines before it are returned, and
/// damage() then says what is wrong and at which byte of the compressed file.
class LineReader {
 public:
  enum class Status { line, oversized, end };
  /// `start_offset` and `start_line` resume a plain file where an earlier run stopped.
  LineReader(const InputFile& file, uint64_t max_line, uint64_t start_offset = 0, uint64_t start_line = 0);
  ~LineReader();
  /// Next line without its '\n' (and without a trailing '\r').
  Status next(std::string& line);
  /// When true, a last line without '\n' is not returned (a writer may still be appending to it).
  void set_hold_partial(bool hold) { hold_partial_ = hold; }
  uint64_t line_number() const { return line_no_; }  ///< 1-based number of the last line returned
  /// Offset in the (uncompressed) stream just after the last complete line returned.
  uint64_t offset() const { return offset_; }
  /// True when the last returned line had no '\n' (the file ended without one).
  bool last_line_unterminated() const { return unterminated_; }
  Compression compression() const { return compression_; }
  /// After Status::end: empty when the file ended cleanly, else what stopped the decompression.
  const std::string& damage() const;
  const std::string& path() const { return path_; }

 private:
  bool fill();
  struct Source;
  std::unique_ptr<Source> src_;
  std::string path_;
  std::string buf_;
  size_t pos_ = 0;
  bool eof_ = false, hold_partial_ = false, unterminated_ = false;
  uint64_t max_line_, line_no_, offset_;
  Compression compression_ = Compression::none;
};

}  // namespace slmify
