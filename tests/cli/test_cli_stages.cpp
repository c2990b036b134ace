// The data stages as users and cron run them: collect from stdin with a --json summary; the exit
// codes of --strict (3), a missing input (4) and an incremental run with nothing new (5); scrub
// without its key; a bad scrub pattern caught by config validate and run --dry-run.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <filesystem>

#include "../core/test_util.h"

using slmify_test::run_command;
using slmify_test::shell_quote;
using slmify_test::TempDir;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {
const std::string kBin = SLMIFY_BINARY;
const std::string kFormats = std::string(SLMIFY_SOURCE_DIR) + "/examples/formats";

// Runs a shell command line with slmify; returns its exit status and stdout (stderr discarded).
slmify_test::CommandResult sh(const std::string& args) { return run_command(shell_quote(kBin) + " " + args + " 2>/dev/null"); }
}  // namespace

TEST_CASE("slmify collect reads stdin and prints its accounting with --json", "[cli][collect][slow]") {
  TempDir t;
  auto r = sh("collect - -o " + shell_quote((t / "out").string()) + " --json < " + shell_quote(kFormats + "/openai-chat.jsonl"));
  REQUIRE(r.status == 0);
  json s = json::parse(r.out);
  CHECK(s["out"] == 9);
  CHECK(s["records_by_format"]["openai-chat"] == 9);
  auto head = sh("dataset head " + shell_quote((t / "out").string()) + " -n 1");
  REQUIRE(head.status == 0);
  CHECK(json::parse(head.out)["source"]["file"] == "<stdin>");
}

TEST_CASE("slmify collect exit codes: --strict 3, missing input 4, nothing new 5", "[cli][collect][slow]") {
  TempDir t;
  std::string out = shell_quote((t / "out").string());
  CHECK(sh("collect " + shell_quote(kFormats) + " -o " + out + " --strict").status == 3);
  CHECK(sh("collect " + shell_quote((t / "missing.jsonl").string()) + " -o " + out).status == 4);
  std::string state = shell_quote((t / "state.json").string());
  std::string log = shell_quote(kFormats + "/anthropic.jsonl");
  CHECK(sh("collect " + log + " -o " + out + " --state " + state).status == 0);
  CHECK(sh("collect " + log + " -o " + out + " --state " + state).status == 5);
}

TEST_CASE("slmify scrub without its key says how to make one, and writes nothing", "[cli][scrub][slow]") {
  TempDir t;
  std::string calls = shell_quote((t / "calls").string());
  REQUIRE(sh("collect " + shell_quote(kFormats) + " -o " + calls).status == 0);
  auto r = run_command("env -u SLMIFY_SCRUB_KEY " + shell_quote(kBin) + " scrub " + calls + " -o " + shell_quote((t / "s").string()) + " 2>&1");
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("slmify dataset keygen"));
  CHECK(sh("scrub " + calls + " -o " + shell_quote((t / "m").string()) + " --replacement mask").status == 0);
}

TEST_CASE("config validate and run --dry-run report a bad scrub pattern with its rule", "[cli][scrub][slow]") {
  TempDir t;
  slmify_test::write_bytes(t / "p.yaml", "scrub:\n  custom_detectors:\n    - name: employee-id\n      regex: \"EMP-(\\\\d{5\"\n      entity: EMPLOYEE\n");
  for (const char* cmd : {"config validate ", "run --dry-run "}) {
    auto r = run_command(shell_quote(kBin) + " " + cmd + shell_quote((t / "p.yaml").string()) + " 2>&1");
    INFO(cmd << r.out);
    CHECK(r.status == 2);
    CHECK_THAT(r.out, Catch::Contains("employee-id") && Catch::Contains("missing )"));
    CHECK_THAT(r.out, Catch::Contains("p.yaml:4:14 scrub.custom_detectors[0].regex"));
  }
}

TEST_CASE("config validate and run --dry-run report files the run would miss, at their keys", "[cli][slow]") {
  TempDir t;
  slmify_test::write_bytes(t / "p.yaml", "version: 1\nencryption:\n  enabled: true\n  key_file: no.key\ncollect:\n"
                                         "  inputs: [logs/missing.jsonl, \"logs/*.jsonl\"]\n");
  for (const char* cmd : {"config validate ", "run --dry-run ", "run "}) {
    auto r = run_command(shell_quote(kBin) + " " + cmd + shell_quote((t / "p.yaml").string()) + " 2>&1");
    INFO(cmd << r.out);
    CHECK(r.status == (std::string(cmd) == "run --dry-run " ? 0 : 2));  // a dry run warns: the files may come before the run
    CHECK_FALSE(fs::exists(t / "runs"));                                 // the real run stopped before any stage
    CHECK_THAT(r.out, Catch::Contains("p.yaml:4:13 encryption.key_file: no such file"));
    CHECK_THAT(r.out, Catch::Contains("p.yaml:6:11 collect.inputs: no such file") && Catch::Contains("missing.jsonl"));
    CHECK_THAT(r.out, !Catch::Contains("no such file: " + (t / "logs" / "*.jsonl").string()));  // a pattern may match later
  }
}

TEST_CASE("files slmify writes are owner-only, keygen -o writes a private key, and a report of an encrypted dataset shows no excerpts", "[cli][scrub][slow]") {
  TempDir t;
  auto mode = [](const fs::path& p) {
    struct stat sb{};
    REQUIRE(::stat(p.c_str(), &sb) == 0);
    return sb.st_mode & 0777;
  };
  fs::path key = t / "data.key";
  // Under a permissive umask too.
  REQUIRE(run_command("umask 022 && " + shell_quote(kBin) + " dataset keygen -o " + shell_quote(key.string()) + " 2>/dev/null").status == 0);
  CHECK(mode(key) == 0600);
  CHECK(slmify_test::read_bytes(key).size() == 65);  // 64 hex digits and a newline
  CHECK(sh("dataset keygen -o " + shell_quote(key.string())).status == 2);  // never over an existing key
  slmify_test::write_bytes(t / "enc.yaml", "version: 1\nencryption:\n  enabled: true\n  key_file: data.key\n");
  std::string cfg = " --config " + shell_quote((t / "enc.yaml").string());
  std::string calls = shell_quote((t / "calls").string());
  REQUIRE(run_command("umask 022 && " + shell_quote(kBin) + " collect " + shell_quote(kFormats) + " -o " + calls + cfg + " 2>/dev/null").status == 0);
  fs::path report = t / "r.txt";
  REQUIRE(run_command("umask 022 && " + shell_quote(kBin) + " scrub " + calls + " -o " + shell_quote((t / "s").string()) +
                      " --replacement mask --report " + shell_quote(report.string()) + cfg + " 2>/dev/null")
              .status == 0);
  CHECK(mode(report) == 0600);
  CHECK(mode(t / "s") == 0700);
  std::string text = slmify_test::read_bytes(report);
  CHECK_THAT(text, Catch::Contains("examples are left out: the dataset is encrypted"));
  CHECK_THAT(text, !Catch::Contains("..."));
  // Without encryption the report shows excerpts after replacement.
  REQUIRE(sh("collect " + shell_quote(kFormats) + " -o " + shell_quote((t / "plain").string())).status == 0);
  REQUIRE(sh("scrub " + shell_quote((t / "plain").string()) + " -o " + shell_quote((t / "ps").string()) + " --replacement mask --report " +
             shell_quote((t / "p.txt").string()))
              .status == 0);
  CHECK_THAT(slmify_test::read_bytes(t / "p.txt"), Catch::Contains("examples, as they look after replacement"));
}
