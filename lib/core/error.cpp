// Error formatting and the exit-code table. Tested by tests/core/test_error.cpp.
#include "core/error.h"

#include <cstring>

namespace slmify {

const std::vector<ExitCodeRow>& exit_code_table() {
  static const std::vector<ExitCodeRow> table = {
      {ExitCode::ok, "ok", "success"},
      {ExitCode::internal, "internal", "a bug in slmify; please report it with the command and its output"},
      {ExitCode::usage, "usage", "bad command line or pipeline file; nothing was read or written"},
      {ExitCode::bad_data, "bad_data", "input data is invalid (a dataset fails validation, or unreadable input under --strict)"},
      {ExitCode::io, "io", "a file is missing, unreadable or unwritable, or the disk is full"},
      {ExitCode::nothing_to_do, "nothing_to_do", "the stage found no work (for example no new calls since the last run)"},
      {ExitCode::unavailable, "unavailable", "the command or feature is not built into this version of slmify"},
      {ExitCode::kept, "kept", "retrain: the cycle ran, but no new adapter beat the serving one by the margin; the serving version stays"},
      {ExitCode::busy, "busy", "another slmify process holds the work directory's lock; nothing was changed, try again later"},
      {ExitCode::interrupted, "interrupted", "stopped by SIGINT or SIGTERM; outputs are as they were before the run"},
  };
  return table;
}

std::string format_problem(const Problem& p) {
  std::string s;
  if (!p.where.empty()) s += p.where + ": ";
  s += p.what;
  if (!p.hint.empty()) s += "\n  hint: " + p.hint;
  return s;
}

static std::string join_problems(const std::vector<Problem>& ps) {
  std::string s;
  for (size_t i = 0; i < ps.size(); ++i) {
    if (i) s += "\n";
    s += format_problem(ps[i]);
  }
  return s;
}

Error::Error(ExitCode code, std::vector<Problem> problems)
    : std::runtime_error(join_problems(problems)), code_(code), problems_(std::move(problems)) {}

Error::Error(ExitCode code, std::string where, std::string what, std::string hint)
    : Error(code, std::vector<Problem>{{std::move(where), std::move(what), std::move(hint)}}) {}

void throw_usage(std::string where, std::string what, std::string hint) {
  throw Error(ExitCode::usage, std::move(where), std::move(what), std::move(hint));
}
void throw_bad_data(std::string where, std::string what, std::string hint) {
  throw Error(ExitCode::bad_data, std::move(where), std::move(what), std::move(hint));
}
void throw_io(std::string where, std::string what, std::string hint) {
  throw Error(ExitCode::io, std::move(where), std::move(what), std::move(hint));
}

void throw_errno(const std::string& op, const std::string& path, int errnum) {
  std::string hint;
  if (errnum == ENOENT) hint = "check that the path exists and is spelled correctly";
  else if (errnum == EACCES || errnum == EPERM) hint = "check the permissions of the path and of its directory";
  else if (errnum == ENOSPC) hint = "free disk space (or choose another output directory) and run again";
  else if (errnum == EROFS) hint = "the file system is read-only; write the output elsewhere";
  throw Error(ExitCode::io, path, op + " failed: " + std::strerror(errnum), hint);
}

void assert_fail(const char* expr, const char* file, int line, const std::string& msg) {
  throw Error(ExitCode::internal, std::string(file) + ":" + std::to_string(line),
              "internal error: " + msg + " (assertion `" + expr + "` failed)",
              "this is a bug in slmify; please report it with the command you ran");
}

}  // namespace slmify
