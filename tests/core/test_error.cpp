// The exit-code table, problem formatting and errno errors of lib/core/error.h.
#include <catch2/catch.hpp>

#include <cerrno>
#include <cstring>
#include <set>
#include <string>

#include "core/error.h"

using namespace slmify;

namespace {

int code_of(const ExitCodeRow& r) { return static_cast<int>(r.code); }

const ExitCodeRow* find_row(const std::string& name) {
  for (const ExitCodeRow& r : exit_code_table())
    if (name == r.name) return &r;
  return nullptr;
}

}  // namespace

TEST_CASE("exit_code_table has unique codes and names", "[core][error]") {
  const auto& table = exit_code_table();
  REQUIRE(table.size() >= 7);
  std::set<int> codes;
  std::set<std::string> names;
  for (const ExitCodeRow& r : table) {
    INFO("row " << r.name);
    CHECK(codes.insert(code_of(r)).second);
    CHECK(names.insert(r.name).second);
    CHECK(std::strlen(r.meaning) > 0);
  }
}

TEST_CASE("exit_code_table holds the documented codes", "[core][error]") {
  const std::pair<const char*, int> expected[] = {{"ok", 0},          {"usage", 2},       {"bad_data", 3},
                                                  {"io", 4},          {"nothing_to_do", 5}, {"unavailable", 6},
                                                  {"interrupted", 130}};
  for (const auto& [name, code] : expected) {
    INFO("exit code " << name);
    const ExitCodeRow* r = find_row(name);
    REQUIRE(r != nullptr);
    CHECK(code_of(*r) == code);
  }
  // The enum agrees with the table.
  CHECK(static_cast<int>(ExitCode::ok) == 0);
  CHECK(static_cast<int>(ExitCode::usage) == 2);
  CHECK(static_cast<int>(ExitCode::bad_data) == 3);
  CHECK(static_cast<int>(ExitCode::io) == 4);
  CHECK(static_cast<int>(ExitCode::nothing_to_do) == 5);
  CHECK(static_cast<int>(ExitCode::unavailable) == 6);
  CHECK(static_cast<int>(ExitCode::interrupted) == 130);
}

TEST_CASE("format_problem puts where first and the hint on its own line", "[core][error]") {
  CHECK(format_problem({"p.yaml:3:5 cluster.k", "must be >= 1 (got 0)", "use a positive k"}) ==
        "p.yaml:3:5 cluster.k: must be >= 1 (got 0)\n  hint: use a positive k");
  CHECK(format_problem({"", "something is wrong", ""}) == "something is wrong");
  CHECK(format_problem({"f.jsonl:2", "bad line", ""}) == "f.jsonl:2: bad line");
  std::string s = format_problem({"", "what", "do this"});
  CHECK(s == "what\n  hint: do this");
}

TEST_CASE("Error keeps every problem and its code", "[core][error]") {
  Error e(ExitCode::usage, {{"a:1:1 x", "first", "fix one"}, {"a:2:1 y", "second", ""}});
  CHECK(e.code() == ExitCode::usage);
  REQUIRE(e.problems().size() == 2);
  CHECK(e.problems()[1].what == "second");
  std::string w = e.what();
  CHECK(w == "a:1:1 x: first\n  hint: fix one\na:2:1 y: second");
}

TEST_CASE("throw helpers set their exit codes", "[core][error]") {
  auto code = [](auto fn) {
    try {
      fn();
    } catch (const Error& e) {
      return static_cast<int>(e.code());
    }
    return -1;
  };
  CHECK(code([] { throw_usage("w", "x"); }) == 2);
  CHECK(code([] { throw_bad_data("w", "x"); }) == 3);
  CHECK(code([] { throw_io("w", "x"); }) == 4);
  CHECK(code([] { SLMIFY_ASSERT(1 + 1 == 3, "arithmetic"); }) == 1);
  CHECK(code([] { SLMIFY_ASSERT(1 + 1 == 2, "arithmetic"); }) == -1);
}

TEST_CASE("throw_errno ENOENT is an io error with the path, strerror and a hint", "[core][error]") {
  try {
    throw_errno("opening", "/no/such/file", ENOENT);
    FAIL("throw_errno returned");
  } catch (const Error& e) {
    CHECK(e.code() == ExitCode::io);
    REQUIRE(e.problems().size() == 1);
    const Problem& p = e.problems()[0];
    CHECK(p.where == "/no/such/file");
    CHECK_THAT(p.what, Catch::Contains("opening"));
    CHECK_THAT(p.what, Catch::Contains(std::strerror(ENOENT)));
    CHECK_FALSE(p.hint.empty());
    CHECK_THAT(std::string(e.what()), Catch::Contains("\n  hint: "));
  }
}

TEST_CASE("throw_errno gives hints for permissions and a full disk", "[core][error]") {
  for (int err : {EACCES, ENOSPC}) {
    try {
      throw_errno("writing", "/x", err);
    } catch (const Error& e) {
      CHECK(e.code() == ExitCode::io);
      CHECK_FALSE(e.problems().at(0).hint.empty());
    }
  }
}
