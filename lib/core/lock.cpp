// WorkdirLock: flock(2) on WORKDIR/.slmify.lock with the holder's identity written inside.
#include "core/lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "core/error.h"
#include "core/fsutil.h"
#include "core/log.h"

namespace slmify {
namespace fs = std::filesystem;

namespace {
std::string now_utc() {
  auto t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string host_name() {
  char buf[256] = {0};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

nlohmann::json read_holder(int fd) {
  std::string text;
  char buf[4096];
  ssize_t n;
  if (::lseek(fd, 0, SEEK_SET) < 0) return nullptr;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) text.append(buf, static_cast<size_t>(n));
  if (text.empty()) return nullptr;
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception&) {
    return {{"unreadable", text.substr(0, 200)}};
  }
}

// Empties the lock file, then unlocks and closes it (a file with content at acquire time means its
// holder died holding it); sets fd to -1.
void release(int& fd) {
  if (fd < 0) return;
  if (::ftruncate(fd, 0) != 0) { /* the next holder then reports a stale lock; harmless */ }
  ::flock(fd, LOCK_UN);
  ::close(fd);
  fd = -1;
}

std::string describe(const nlohmann::json& h) {
  if (!h.is_object()) return "another process";
  if (h.contains("unreadable")) return "another process (the lock file does not say which)";
  return "`" + h.value("command", std::string("slmify")) + "` (pid " + std::to_string(h.value("pid", 0)) + " on " +
         h.value("host", std::string("?")) + ", since " + h.value("started", std::string("?")) + ")";
}
}  // namespace

fs::path WorkdirLock::path_for(const fs::path& dir) { return dir / ".slmify.lock"; }

WorkdirLock WorkdirLock::acquire(const fs::path& dir, const std::string& command, double wait_s) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw_io(dir.string(), "cannot create the work directory: " + ec.message(), "check the path and its permissions");
  const fs::path path = path_for(dir);
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw_io(path.string(), std::string("cannot open the lock file: ") + std::strerror(errno), "check the permissions of the work directory");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_s);
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) {
      int e = errno;
      ::close(fd);
      throw_io(path.string(), std::string("cannot lock: ") + std::strerror(e), "keep the work directory on a local file system");
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      nlohmann::json h = read_holder(fd);
      ::close(fd);
      throw Error(ExitCode::busy, dir.string(), "is in use by " + describe(h),
                  "wait for it to finish (cron: let this run be skipped); the lock is released when that process exits, also when it is killed");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  WorkdirLock lock;
  lock.fd_ = fd;
  // The previous holder left its identity behind when it did not exit through the destructor.
  nlohmann::json before = read_holder(fd);
  if (before.is_object() && !before.empty()) {
    lock.stale_ = before;
    log_warn("took over the lock of " + dir.string() + " left by " + describe(before) +
             (process_alive(before.value("pid", 0)) && before.value("host", "") == host_name() ? "" : ", which is no longer running"));
  }
  nlohmann::json me = {{"pid", ::getpid()}, {"host", host_name()}, {"command", command}, {"started", now_utc()}};
  std::string text = me.dump() + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, text.data(), text.size(), 0) != static_cast<ssize_t>(text.size()))
    log_warn("could not record the lock holder in " + path.string());
  return lock;
}

WorkdirLock::WorkdirLock(WorkdirLock&& o) noexcept : fd_(o.fd_), stale_(std::move(o.stale_)) { o.fd_ = -1; }
WorkdirLock& WorkdirLock::operator=(WorkdirLock&& o) noexcept {
  if (this != &o) {
    release(fd_);  // not this->~WorkdirLock(): that would end the lifetime of stale_ before assigning it
    fd_ = o.fd_;
    stale_ = std::move(o.stale_);
    o.fd_ = -1;
  }
  return *this;
}

WorkdirLock::~WorkdirLock() { release(fd_); }

}  // namespace slmify
