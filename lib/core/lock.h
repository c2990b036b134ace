// An exclusive lock on a work directory, so that two runs (slmify run, retrain, registry changes)
// never write the same outputs at once. The lock is flock(2) on WORKDIR/.slmify.lock: the kernel
// releases it when the holder exits or is killed, so a lock left by a dead process is stale by
// construction and the next run takes it over (and says so). The file also records who holds it
// (pid, host, command, start time) for the message the second run prints. flock is not reliable
// on some network file systems: keep work directories on local disks (docs/pipeline.md).
// Tested by tests/core/test_lock.cpp (contention between processes, a SIGKILLed holder).
#pragma once

#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace slmify {

class WorkdirLock {
 public:
  /// Takes the lock of `dir` (created when absent) for `command`. When another live process holds
  /// it, waits up to `wait_s` seconds, then throws Error(ExitCode::busy) naming the holder.
  static WorkdirLock acquire(const std::filesystem::path& dir, const std::string& command, double wait_s = 0);
  WorkdirLock(WorkdirLock&& o) noexcept;
  WorkdirLock& operator=(WorkdirLock&& o) noexcept;
  WorkdirLock(const WorkdirLock&) = delete;
  WorkdirLock& operator=(const WorkdirLock&) = delete;
  ~WorkdirLock();  ///< releases the lock

  /// What the lock file said before this process took it, when a holder died without releasing
  /// it cleanly (pid, host, command, started); null otherwise.
  const nlohmann::json& stale() const { return stale_; }
  static std::filesystem::path path_for(const std::filesystem::path& dir);

 private:
  WorkdirLock() = default;
  int fd_ = -1;
  nlohmann::json stale_;
};

}  // namespace slmify
