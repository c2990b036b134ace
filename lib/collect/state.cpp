// Incremental state file (JSON); see state.h.
#include "collect/state.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/hash.h"
#include "core/record.h"

namespace slmify {
namespace fs = std::filesystem;

static const char* kStateFormat = "slmify-collect-state";

CollectState collect_state_read(const fs::path& path) {
  CollectState st;
  std::error_code ec;
  if (!fs::exists(path, ec)) return st;
  json j;
  try {
    j = json::parse(read_file(path));
  } catch (const json::parse_error& e) {
    throw_bad_data(path.string(), std::string("is not a valid state file: ") + e.what(),
                   "restore it, or delete it to collect everything again");
  }
  if (!j.is_object() || j.value("format", "") != kStateFormat || j.value("version", 0) != 1)
    throw_bad_data(path.string(), "is not a slmify collect state file (version 1)",
                   "point --state at the file an earlier collect wrote, or at a new path");
  try {
    for (auto it = j["files"].begin(); it != j["files"].end(); ++it) {
      const json& f = it.value();
      FileState s;
      s.dev = f.at("dev").get<uint64_t>();
      s.ino = f.at("ino").get<uint64_t>();
      s.size = f.at("size").get<uint64_t>();
      s.offset = f.at("offset").get<uint64_t>();
      s.lines = f.at("lines").get<uint64_t>();
      s.head_sha256 = f.at("head_sha256").get<std::string>();
      st.files[it.key()] = s;
    }
  } catch (const json::exception& e) {
    throw_bad_data(path.string(), std::string("has a damaged entry: ") + e.what(),
                   "restore it, or delete it to collect everything again");
  }
  return st;
}

void collect_state_write(const fs::path& path, const CollectState& st) {
  json files = json::object();
  for (const auto& [p, s] : st.files)
    files[p] = {{"dev", s.dev}, {"ino", s.ino}, {"size", s.size}, {"offset", s.offset}, {"lines", s.lines},
                {"head_sha256", s.head_sha256}};
  json j = {{"format", kStateFormat}, {"version", 1}, {"updated", utc_now_iso8601()}, {"files", files}};
  std::error_code ec;
  if (!path.parent_path().empty()) fs::create_directories(path.parent_path(), ec);
  write_file_atomic(path, j.dump(2) + "\n", 0600);
}

static std::string head_sha256(const fs::path& path, size_t n) {
  FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw_errno("opening", path.string(), errno);
  char buf[4096];
  size_t got = std::fread(buf, 1, std::min(n, sizeof buf), f);
  std::fclose(f);
  return sha256_hex(std::string_view(buf, got));
}

FileState file_identity(const fs::path& path) {
  FileState s;
  struct stat sb{};
  if (::stat(path.c_str(), &sb) != 0) throw_errno("reading the status of", path.string(), errno);
  s.dev = static_cast<uint64_t>(sb.st_dev);
  s.ino = static_cast<uint64_t>(sb.st_ino);
  s.size = static_cast<uint64_t>(sb.st_size);
  s.head_sha256 = head_sha256(path, 4096);
  return s;
}

bool file_resumable(const fs::path& path, const FileState& before, const FileState& now) {
  if (before.dev != now.dev || before.ino != now.ino) return false;  // another file at this path (rotated)
  if (now.size < before.size) return false;                          // truncated or rewritten
  // The bytes the stored hash covered must be unchanged.
  if (before.size >= 4096) return before.head_sha256 == now.head_sha256;
  return before.head_sha256 == head_sha256(path, before.size);
}

}  // namespace slmify
