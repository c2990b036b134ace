// POSIX file output with fsync; see fsutil.h.
#include "core/fsutil.h"

#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace slmify {
namespace fs = std::filesystem;

FileSink::FileSink(const fs::path& path, mode_t mode) : path_(path) {
  fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd_ < 0) throw_errno("creating file", path.string(), errno);
  buf_.reserve(1 << 20);
}

FileSink::~FileSink() {
  if (fd_ >= 0) ::close(fd_);
}

void FileSink::write(const void* data, size_t n) {
  sha_.update(data, n);
  bytes_ += n;
  if (buf_.size() + n > buf_.capacity()) flush();
  if (n >= buf_.capacity()) {
    const char* p = static_cast<const char*>(data);
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        throw_errno("writing", path_.string(), errno);
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return;
  }
  buf_.append(static_cast<const char*>(data), n);
}

void FileSink::flush() {
  size_t off = 0;
  while (off < buf_.size()) {
    ssize_t w = ::write(fd_, buf_.data() + off, buf_.size() - off);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw_errno("writing", path_.string(), errno);
    }
    off += static_cast<size_t>(w);
  }
  buf_.clear();
}

std::string FileSink::finish() {
  flush();
  if (::fsync(fd_) != 0) throw_errno("fsync", path_.string(), errno);
  int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) throw_errno("closing", path_.string(), errno);
  return sha_.hex();
}

void fsync_path(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw_errno("opening for fsync", path.string(), errno);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0 && err != EINVAL) throw_errno("fsync", path.string(), err);
}

void write_file_atomic(const fs::path& path, std::string_view content, mode_t mode) {
  fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  fs::path tmp = dir / ("." + path.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" + random_suffix());
  try {
    FileSink sink(tmp, mode);
    sink.write(content);
    sink.finish();
    if (::rename(tmp.c_str(), path.c_str()) != 0) throw_errno("renaming into place", path.string(), errno);
  } catch (...) {
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  fsync_path(dir);
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_errno("opening", path.string(), errno ? errno : ENOENT);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) throw_errno("reading", path.string(), errno);
  return ss.str();
}

bool process_alive(pid_t pid) {
  if (pid <= 0) return false;
  return ::kill(pid, 0) == 0 || errno == EPERM;
}

std::string random_suffix() {
  static const int init = sodium_init();
  (void)init;
  unsigned char b[6];
  randombytes_buf(b, sizeof b);
  static const char* digits = "0123456789abcdef";
  std::string s;
  for (unsigned char c : b) {
    s += digits[c >> 4];
    s += digits[c & 15];
  }
  return s;
}

}  // namespace slmify
