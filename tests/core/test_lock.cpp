// WorkdirLock (lib/core/lock.h) between real processes: a second holder is refused with the
// first one's pid, a SIGKILLed holder's lock is taken over and reported stale, a clean release is
// not, and wait_s waits for the holder to finish. The children are fork()ed copies of this test.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "core/error.h"
#include "core/lock.h"
#include "test_util.h"

using namespace slmify;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {

// Runs `child` in a forked process and returns its exit status (-1 when it did not exit normally).
template <class F>
int run_child(F&& child) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int rc = 99;
    try {
      rc = child();
    } catch (...) {
    }
    ::_exit(rc);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) REQUIRE(errno == EINTR);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

struct Pipe {
  int fd[2] = {-1, -1};
  Pipe() { REQUIRE(::pipe(fd) == 0); }
  ~Pipe() {
    ::close(fd[0]);
    ::close(fd[1]);
  }
};

// A child that takes the lock, writes one byte to the pipe `ready`, then runs `then`; returns its pid.
template <class F>
pid_t spawn_holder(const fs::path& dir, Pipe& ready, F&& then) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    try {
      WorkdirLock lock = WorkdirLock::acquire(dir, "holder");
      if (::write(ready.fd[1], "x", 1) != 1) ::_exit(98);
      then();
    } catch (...) {
      ::_exit(97);
    }
    ::_exit(0);
  }
  char c;
  REQUIRE(::read(ready.fd[0], &c, 1) == 1);
  return pid;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) REQUIRE(errno == EINTR);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("lock: a second process is refused with exit code busy naming the holder", "[core][lock]") {
  TempDir tmp;
  WorkdirLock lock = WorkdirLock::acquire(tmp / "work", "slmify retrain p.yaml");
  const std::string pid = "pid " + std::to_string(::getpid());
  int rc = run_child([&]() {
    try {
      WorkdirLock again = WorkdirLock::acquire(tmp / "work", "second");
    } catch (const Error& e) {
      const std::string what = e.problems().at(0).what;
      if (e.code() != ExitCode::busy) return 1;
      if (what.find(pid) == std::string::npos || what.find("slmify retrain p.yaml") == std::string::npos) return 2;
      return 0;
    }
    return 3;  // took a lock another process holds
  });
  CHECK(rc == 0);
}

TEST_CASE("lock: the lock of a SIGKILLed holder is taken over and reported stale", "[core][lock]") {
  TempDir tmp;
  Pipe p;
  pid_t holder = spawn_holder(tmp / "work", p, []() {
    for (;;) ::pause();
  });
  CHECK_THROWS_AS(WorkdirLock::acquire(tmp / "work", "while it runs"), Error);
  REQUIRE(::kill(holder, SIGKILL) == 0);
  CHECK(wait_exit(holder) == 128 + SIGKILL);
  WorkdirLock lock = WorkdirLock::acquire(tmp / "work", "after the kill");
  REQUIRE(lock.stale().is_object());
  CHECK(lock.stale().value("pid", 0) == holder);
  CHECK(lock.stale().value("command", "") == "holder");
}

TEST_CASE("lock: a clean release leaves nothing stale, also after a move assignment", "[core][lock]") {
  TempDir tmp;
  { WorkdirLock first = WorkdirLock::acquire(tmp / "a", "first"); }
  WorkdirLock again = WorkdirLock::acquire(tmp / "a", "again");
  CHECK(again.stale().is_null());
  // Assigning over a held lock releases it at once.
  again = WorkdirLock::acquire(tmp / "b", "b");
  int rc = run_child([&]() {
    WorkdirLock l = WorkdirLock::acquire(tmp / "a", "child");
    return l.stale().is_null() ? 0 : 1;
  });
  CHECK(rc == 0);
  CHECK(run_child([&]() {
          try {
            WorkdirLock l = WorkdirLock::acquire(tmp / "b", "child");
          } catch (const Error& e) {
            return e.code() == ExitCode::busy ? 0 : 1;
          }
          return 2;
        }) == 0);
}

TEST_CASE("lock: wait_s waits for the holder to release", "[core][lock]") {
  // No clock: the holder holds the lock until the test tells it to let go (a pipe), and the
  // waiter is started first, so it can only succeed by waiting for that release.
  TempDir tmp;
  Pipe ready, go;
  pid_t holder = spawn_holder(tmp / "work", ready, [&]() {
    char c;
    if (::read(go.fd[0], &c, 1) != 1) ::_exit(96);
  });
  CHECK_THROWS_AS(WorkdirLock::acquire(tmp / "work", "no wait"), Error);  // held: busy at once
  pid_t releaser = ::fork();
  REQUIRE(releaser >= 0);
  if (releaser == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // let the waiter block first
    ::_exit(::write(go.fd[1], "x", 1) == 1 ? 0 : 1);
  }
  WorkdirLock lock = WorkdirLock::acquire(tmp / "work", "waiter", 600);
  CHECK(lock.stale().is_null());  // released cleanly, not taken over from a dead holder
  CHECK(wait_exit(holder) == 0);
  CHECK(wait_exit(releaser) == 0);
}
