// Durable file output: a buffered file sink that checksums what it writes, fsync of files and
// directories, atomic replacement of a single file, and small process helpers.
// Tested by tests/core/test_dataset.cpp (atomic commit, SIGKILL) and tests/core/test_fsutil.cpp.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "core/hash.h"

namespace slmify {

/// Writes a new file through a 1 MiB buffer, counting bytes and hashing them (sha256) on the way.
/// Throws an I/O Error naming the file on any failure (disk full included).
class FileSink {
 public:
  FileSink(const std::filesystem::path& path, mode_t mode = 0644);
  ~FileSink();
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  /// Flushes, fsyncs and closes. Returns the sha256 of every byte written.
  std::string finish();
  uint64_t bytes() const { return bytes_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void flush();
  std::filesystem::path path_;
  int fd_ = -1;
  std::string buf_;
  uint64_t bytes_ = 0;
  Sha256 sha_;
};

void fsync_path(const std::filesystem::path& path);  ///< fsync a file or a directory
/// Writes `content` to `path` atomically: sibling temporary file, fsync, rename, fsync of the dir.
void write_file_atomic(const std::filesystem::path& path, std::string_view content, mode_t mode = 0600);
std::string read_file(const std::filesystem::path& path);

bool process_alive(pid_t pid);
/// A short random hex string for temporary names (not for secrets).
std::string random_suffix();

}  // namespace slmify
