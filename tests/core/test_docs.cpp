// The documentation tables that mirror code: docs/cli.md must list every exit code of
// exit_code_table() with its number and name, so the page cannot drift from main.cpp's behaviour.
#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace {
std::string read_doc(const std::string& rel) {
  std::ifstream in(std::string(SLMIFY_SOURCE_DIR) + "/" + rel);
  REQUIRE(in.good());
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

TEST_CASE("docs/cli.md lists every exit code with its number and name", "[core][docs]") {
  std::string doc = read_doc("docs/cli.md");
  for (const auto& row : slmify::exit_code_table()) {
    std::string line = "| " + std::to_string(static_cast<int>(row.code)) + " | `" + row.name + "` | " + row.meaning;
    INFO("missing table row starting with: " << line);
    CHECK(doc.find(line) != std::string::npos);
  }
}
