// The version registry (lib/retrain/registry.h) and `slmify registry`: statuses through promote
// and rollback, the who/when/why log (a torn last line tolerated), checksums that coreutils'
// sha256sum agrees with, prune never touching what serves or what rollback needs, the serving
// symlink, and the CLI's exit codes (0, 2 unknown version, 5 nothing to roll back, 8 busy).
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <regex>
#include <sstream>

#include "../core/test_util.h"
#include "core/artifact.h"
#include "core/error.h"
#include "core/lock.h"
#include "retrain/registry.h"

using namespace slmify;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {


// What retrain registers: adapters.json, one adapter directory per cluster, the router.
std::vector<std::pair<fs::path, std::string>> make_outputs(const fs::path& dir, const std::string& tag) {
  slmify_test::write_bytes(dir / "adapters.json", "{\"clusters\": [1], \"tag\": \"" + tag + "\"}\n");
  slmify_test::write_bytes(dir / "c1" / "adapter_config.json", "{\"r\": 8}\n");
  slmify_test::write_bytes(dir / "c1" / "adapter_model.safetensors", std::string(4096, 'w') + tag);
  slmify_test::write_bytes(dir / "router" / "router.json", "{\"routes\": {}}\n");
  return {{dir / "adapters.json", "adapters.json"}, {dir / "c1", "cluster-1"}, {dir / "router", "router"}};
}

std::map<std::string, std::string> statuses(const Registry& reg) {
  std::map<std::string, std::string> out;
  for (const json& v : reg.list()) out[v["id"]] = v["status"];
  return out;
}

std::vector<std::string> log_lines(const Registry& reg) {
  std::vector<std::string> out;
  std::istringstream in(slmify_test::read_bytes(reg.root() / "log.jsonl"));
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

}  // namespace

TEST_CASE("registry: promote and rollback change the statuses and log who, when and why", "[retrain]") {
  TempDir tmp;
  Registry reg(tmp / "work" / "registry");
  CHECK(reg.next_id() == "v0001");
  CHECK(reg.list().empty());
  CHECK(reg.log().empty());
  CHECK_FALSE(reg.serving());
  CHECK_FALSE(fs::exists(reg.root()));

  std::string v1 = reg.add(make_outputs(tmp / "out1", "one"), {{"cycle", 1}, {"replaceable_share", 0.42}}, {"alice", "cycle 1"});
  std::string v2 = reg.add(make_outputs(tmp / "out2", "two"), {{"cycle", 2}}, {"alice", "cycle 2"});
  CHECK(v1 == "v0001");
  CHECK(v2 == "v0002");
  CHECK(reg.next_id() == "v0003");
  CHECK(statuses(reg) == std::map<std::string, std::string>{{v1, "candidate"}, {v2, "candidate"}});
  json listed = reg.list();
  CHECK(listed[0]["info"]["replaceable_share"] == 0.42);
  CHECK(listed[1]["digest"].get<std::string>().rfind("sha256:", 0) == 0);
  CHECK(fs::is_regular_file(reg.version_dir(v1) / "cluster-1" / "adapter_config.json"));
  CHECK(fs::is_regular_file(reg.version_dir(v1) / "router" / "router.json"));

  reg.promote(v1, {"bob", "first serving version"});
  CHECK(reg.serving() == v1);
  CHECK(statuses(reg) == std::map<std::string, std::string>{{v1, "serving"}, {v2, "candidate"}});
  reg.promote(v2, {"bob", "beats v1"});
  CHECK(statuses(reg) == std::map<std::string, std::string>{{v1, "previous"}, {v2, "serving"}});
  CHECK(fs::read_symlink(reg.root() / "serving") == fs::path("versions") / v2);
  CHECK(fs::equivalent(reg.root() / "serving", reg.version_dir(v2)));

  CHECK(reg.rollback({"carol", "v2 regressed on tickets"}) == v1);
  CHECK(reg.serving() == v1);
  CHECK(statuses(reg) == std::map<std::string, std::string>{{v1, "serving"}, {v2, "retired"}});
  CHECK(fs::equivalent(reg.root() / "serving", reg.version_dir(v1)));
  CHECK(slmify_test::read_bytes(reg.root() / "serving" / "adapters.json").find("one") != std::string::npos);

  json log = reg.log();
  REQUIRE(log.size() == 5);
  const std::vector<std::string> actions = {"register", "register", "promote", "promote", "rollback"};
  const std::regex iso(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)");
  for (size_t i = 0; i < log.size(); ++i) {
    CHECK(log[i]["action"] == actions[i]);
    CHECK(std::regex_match(log[i]["time"].get<std::string>(), iso));
    CHECK_FALSE(log[i]["host"].get<std::string>().empty());
  }
  CHECK(log[2]["serving_before"].is_null());
  CHECK(log[3]["who"] == "bob");
  CHECK(log[3]["reason"] == "beats v1");
  CHECK(log[4]["who"] == "carol");
  CHECK(log[4]["reason"] == "v2 regressed on tickets");
  CHECK(log[4]["version"] == v1);
  CHECK(log[4]["serving_before"] == v2);
  CHECK(log[4]["serving_after"] == v1);

  Error none = slmify_test::expect_error([&] { reg.rollback({"carol", "again"}); });
  CHECK(none.code() == ExitCode::nothing_to_do);
  Error again = slmify_test::expect_error([&] { reg.promote(v1, {"bob", "twice"}); });
  CHECK(again.code() == ExitCode::nothing_to_do);
  Error unknown = slmify_test::expect_error([&] { reg.promote("v0042", {"bob", "typo"}); });
  CHECK(unknown.code() == ExitCode::usage);
  CHECK(unknown.problems()[0].hint.find("v0001, v0002") != std::string::npos);
  CHECK(reg.log().size() == 5);  // refused changes are not logged
}

TEST_CASE("registry: every file of a version has the checksum sha256sum computes", "[retrain]") {
  TempDir tmp;
  Registry reg(tmp / "registry");
  json info = {{"cycle", 3}, {"clusters_on_slm", 2}};
  std::string id = reg.add(make_outputs(tmp / "out", "x"), info, {"", "checksums"});
  ArtifactManifest m = artifact_read(reg.version_dir(id));
  CHECK(m.stage == "registry");
  CHECK(m.config == info);
  CHECK(artifact_verify(reg.version_dir(id), m).empty());
  std::map<std::string, std::string> sums;
  for (const ArtifactFile& f : m.files) sums[f.file] = f.sha256;
  CHECK(sums.size() == 5);  // adapters.json, two adapter files, router.json, version.json
  const fs::path weights = reg.version_dir(id) / "cluster-1" / "adapter_model.safetensors";
  CHECK(sums["cluster-1/adapter_model.safetensors"] == slmify_test::sha256sum_cmd(weights));
  CHECK(json::parse(slmify_test::read_bytes(reg.version_dir(id) / "version.json")) == info);
  CHECK_FALSE(reg.log()[0]["who"].get<std::string>().empty());  // from the environment

  // A damaged version is not promoted.
  slmify_test::flip_byte(weights, 10);
  Error e = slmify_test::expect_error([&] { reg.promote(id, {"x", "damaged"}); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_FALSE(reg.serving());

  // Destinations stay inside the version.
  CHECK(slmify_test::expect_error([&] { reg.add({{tmp / "out" / "adapters.json", "../x"}}, {}, {}); }).code() == ExitCode::usage);
  CHECK(slmify_test::expect_error([&] { reg.add({{tmp / "out" / "adapters.json", "version.json"}}, {}, {}); }).code() ==
        ExitCode::usage);
  CHECK(slmify_test::expect_error([&] { reg.add({{tmp / "absent", "a"}}, {}, {}); }).code() == ExitCode::io);
}

TEST_CASE("registry: a torn last line of log.jsonl is skipped, and later entries still count", "[retrain]") {
  TempDir tmp;
  Registry reg(tmp / "registry");
  std::string v1 = reg.add(make_outputs(tmp / "o1", "1"), {}, {"a", "r"});
  std::string v2 = reg.add(make_outputs(tmp / "o2", "2"), {}, {"a", "r"});
  reg.promote(v1, {"a", "r"});
  {
    std::ofstream out(reg.root() / "log.jsonl", std::ios::app | std::ios::binary);
    out << R"({"time": "2026-01-01T00:00:00.000Z", "action": "promote", "vers)";  // killed mid-write
  }
  CHECK(reg.serving() == v1);
  CHECK(reg.log().size() == 3);
  reg.promote(v2, {"a", "after the tear"});
  CHECK(reg.serving() == v2);
  CHECK(reg.log().size() == 4);
  std::vector<std::string> lines = log_lines(reg);
  REQUIRE(lines.size() == 5);
  CHECK(json::parse(lines[4])["reason"] == "after the tear");  // on its own line, not glued to the torn one
  CHECK(reg.rollback({"a", "r"}) == v1);
}

TEST_CASE("registry: prune keeps the serving and previous versions and never reuses an id", "[retrain]") {
  TempDir tmp;
  Registry reg(tmp / "registry");
  std::vector<std::string> ids;
  for (int i = 1; i <= 5; ++i) ids.push_back(reg.add(make_outputs(tmp / ("o" + std::to_string(i)), std::to_string(i)), {}, {"a", "r"}));
  reg.promote(ids[0], {"a", "r"});
  reg.promote(ids[1], {"a", "r"});
  reg.promote(ids[2], {"a", "r"});  // stack v1 v2 v3: v3 serves, v2 is previous

  std::vector<std::string> removed = reg.prune(1, {"a", "keep one"});
  CHECK(removed == std::vector<std::string>{ids[0], ids[3]});  // v5 is the newest; v2, v3 are protected
  CHECK(statuses(reg) == std::map<std::string, std::string>{{ids[1], "previous"}, {ids[2], "serving"}, {ids[4], "candidate"}});
  CHECK_FALSE(fs::exists(reg.version_dir(ids[0])));
  CHECK(reg.next_id() == "v0006");
  CHECK(reg.log().back()["action"] == "prune");

  CHECK(reg.prune(0, {"a", "keep none"}) == std::vector<std::string>{ids[4]});
  CHECK(reg.rollback({"a", "r"}) == ids[1]);
  // v1 was pruned, so there is nothing further back.
  CHECK(slmify_test::expect_error([&] { reg.rollback({"a", "r"}); }).code() == ExitCode::nothing_to_do);
  CHECK(fs::equivalent(reg.root() / "serving", reg.version_dir(ids[1])));
  CHECK(reg.prune(0, {"a", "r"}) == std::vector<std::string>{ids[2]});  // rolled back from: retired
  CHECK(reg.prune(0, {"a", "r"}).empty());
  CHECK(statuses(reg) == std::map<std::string, std::string>{{ids[1], "serving"}});
}

// ---- slmify registry, run as a process ----------------------------------------------------------

namespace {
struct Cli {
  int rc;
  std::string out;
};

Cli run_cli(const std::string& args) {
  slmify_test::CommandResult r = slmify_test::run_command(slmify_test::shell_quote(SLMIFY_BINARY) + " " + args + " 2>/dev/null");
  return {r.status, r.out};
}
}  // namespace

TEST_CASE("registry CLI: list, promote, rollback and log with their exit codes", "[retrain][cli]") {
  TempDir tmp;
  const std::string p = slmify_test::shell_quote((tmp / "pipeline.yaml").string());
  slmify_test::write_bytes(tmp / "pipeline.yaml", "name: reg\nworkdir: work\n");

  Cli empty = run_cli("registry list " + p);
  CHECK(empty.rc == 0);
  CHECK(empty.out.find("no versions") != std::string::npos);
  CHECK(json::parse(run_cli("registry list --json " + p).out) == json::array());

  Registry reg(tmp / "work" / "registry");
  reg.add(make_outputs(tmp / "o1", "1"), {{"cycle", 1}, {"replaceable_share", 0.42}, {"clusters_on_slm", 3}}, {"a", "r"});
  reg.add(make_outputs(tmp / "o2", "2"), {{"cycle", 2}, {"replaceable_share", 0.5}}, {"a", "r"});

  Cli list = run_cli("registry list " + p);
  CHECK(list.rc == 0);
  CHECK(list.out.find("v0002") != std::string::npos);
  CHECK(list.out.find("42.0%") != std::string::npos);
  CHECK(list.out.find("candidate") != std::string::npos);

  CHECK(run_cli("registry promote " + p + " v0001 --reason first --by dave").rc == 0);
  CHECK(run_cli("registry promote " + p + " v0002 --reason 'better on tickets' --by dave").rc == 0);
  CHECK(run_cli("registry promote " + p + " v0042 --reason typo").rc == 2);
  CHECK(run_cli("registry promote " + p + " v0001").rc == 2);  // --reason is required
  CHECK(reg.serving() == "v0002");

  Cli back = run_cli("registry rollback " + p + " --reason 'v0002 regressed' --by erin --json");
  CHECK(back.rc == 0);
  CHECK(json::parse(back.out)["serving"] == "v0001");
  CHECK(reg.serving() == "v0001");
  CHECK(run_cli("registry rollback " + p + " --reason again").rc == 5);

  json listed = json::parse(run_cli("registry list " + p + " --json").out);
  REQUIRE(listed.size() == 2);
  CHECK(listed[0]["status"] == "serving");
  CHECK(listed[1]["status"] == "retired");

  Cli log = run_cli("registry log " + p + " --json");
  CHECK(log.rc == 0);
  json entries = json::parse(log.out);
  REQUIRE(entries.size() == 5);
  CHECK(entries[3]["who"] == "dave");
  CHECK(entries[3]["reason"] == "better on tickets");
  CHECK(entries[4]["who"] == "erin");
  Cli text = run_cli("registry log " + p);
  CHECK(text.rc == 0);
  CHECK(text.out.find("v0002 regressed") != std::string::npos);

  // A change waits for no one: while another process holds the work directory, it is refused.
  WorkdirLock held = WorkdirLock::acquire(tmp / "work", "test holder");
  CHECK(run_cli("registry promote " + p + " v0002 --reason busy").rc == 8);
  CHECK(run_cli("registry list " + p).rc == 0);  // reading needs no lock
}
