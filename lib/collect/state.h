// Incremental collection state: per input file, how far it was read, and how to recognise that
// it is still the same file (inode, size, hash of its first bytes). Written atomically after the
// dataset is committed. Tested by tests/collect/test_collect.cpp (appended lines, rotation).
#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace slmify {

struct FileState {
  uint64_t dev = 0, ino = 0;
  uint64_t size = 0;       ///< bytes on disk when last read
  uint64_t offset = 0;     ///< decompressed bytes consumed (just after the last complete line)
  uint64_t lines = 0;      ///< lines consumed
  std::string head_sha256; ///< sha256 of the first min(4 KiB, size) bytes on disk
};

struct CollectState {
  std::map<std::string, FileState> files;  ///< by canonical path
};

/// Reads a state file; a missing file is an empty state. Throws bad-data naming the file when it
/// is not a state file this version understands.
CollectState collect_state_read(const std::filesystem::path& path);
void collect_state_write(const std::filesystem::path& path, const CollectState& state);

/// The identity of `path` now (dev, ino, size, hash of the first 4 KiB); offset and lines are zero.
FileState file_identity(const std::filesystem::path& path);
/// True when `path` (whose identity is `now`) is the file `before` describes, grown or unchanged,
/// so reading can resume at before.offset; false when it was rotated, truncated or rewritten.
bool file_resumable(const std::filesystem::path& path, const FileState& before, const FileState& now);

}  // namespace slmify
