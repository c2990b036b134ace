// User-facing errors and the one exit-code table (docs/cli.md).
// A user error says what is wrong, where (file:line or key path with line:col) and what to do;
// only apps/slmify/main.cpp turns an Error into a message and an exit code. Bugs use SLMIFY_ASSERT.
// Tested by tests/core/test_error.cpp and tests/cli/test_cli.cpp.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace slmify {

/// Process exit codes; the table in docs/cli.md is generated from exit_code_table().
enum class ExitCode : int {
  ok = 0,             ///< success
  internal = 1,       ///< a bug in slmify: please report it
  usage = 2,          ///< bad command line or pipeline file
  bad_data = 3,       ///< input data is invalid (dataset fails validation, unreadable input in --strict)
  io = 4,             ///< a file is missing, unreadable or unwritable; disk full
  nothing_to_do = 5,  ///< the stage found no work (e.g. no new calls); not a failure for cron
  unavailable = 6,    ///< the feature is not built into this version of slmify
  kept = 7,           ///< retrain: a cycle trained new adapters but none beat the serving ones
  busy = 8,           ///< another slmify process holds the work directory's lock; try again later
  interrupted = 130,  ///< stopped by SIGINT or SIGTERM; outputs are left as they were before
};

struct ExitCodeRow {
  ExitCode code;
  const char* name;
  const char* meaning;
};
const std::vector<ExitCodeRow>& exit_code_table();

/// One problem at one place; an Error holds one or more of them (config validation reports all).
struct Problem {
  std::string where;  ///< "pipeline.yaml:14:5 cluster.k", "data/part-00001.jsonl.zst:17", or empty
  std::string what;   ///< what is wrong, with the offending value
  std::string hint;   ///< what to do about it; may be empty when `what` says it all
};

std::string format_problem(const Problem& p);

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, std::vector<Problem> problems);
  Error(ExitCode code, std::string where, std::string what, std::string hint = {});
  ExitCode code() const { return code_; }
  const std::vector<Problem>& problems() const { return problems_; }

 private:
  ExitCode code_;
  std::vector<Problem> problems_;
};

[[noreturn]] void throw_usage(std::string where, std::string what, std::string hint = {});
[[noreturn]] void throw_bad_data(std::string where, std::string what, std::string hint = {});
[[noreturn]] void throw_io(std::string where, std::string what, std::string hint = {});
/// An I/O failure from errno: names the operation, the path and strerror(errnum).
[[noreturn]] void throw_errno(const std::string& op, const std::string& path, int errnum);

[[noreturn]] void assert_fail(const char* expr, const char* file, int line, const std::string& msg);

}  // namespace slmify

/// Internal invariant; a failure is a bug and exits with ExitCode::internal.
#define SLMIFY_ASSERT(cond, msg)                                        \
  do {                                                                  \
    if (!(cond)) ::slmify::assert_fail(#cond, __FILE__, __LINE__, msg); \
  } while (0)
