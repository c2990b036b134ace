// The slmify command line, run as a real process (SLMIFY_BINARY): exit codes of docs/cli.md,
// error messages, --print-config, `run` (plan, up-to-date skips, --from/--force, the lock) and the
// dataset tools end to end.
// Each start of the binary costs about 0.7 s (it links libtorch), so tests that start it more than
// once are tagged [slow].
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <stdlib.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "../core/test_util.h"
#include "core/config.h"

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

using CliTempDir = slmify_test::TempPath;  // a fresh directory under /tmp, removed afterwards

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& text) {
  fs::create_directories(p.parent_path());
  std::ofstream out(p, std::ios::binary);
  out << text;
  REQUIRE(out.good());
}

struct Result {
  int rc = -1;
  std::string out, err;
  std::string command;
};

std::ostream& operator<<(std::ostream& os, const Result& r) {
  return os << "$ " << r.command << "\nexit " << r.rc << "\n--- stdout:\n" << r.out << "--- stderr:\n" << r.err;
}

// Runs slmify with `args` in `cwd` (the source directory by default); stdin is /dev/null and
// stdout and stderr are captured through files, so neither pipe can fill up and block.
Result run_slmify(const std::vector<std::string>& args, const fs::path& cwd = SLMIFY_SOURCE_DIR) {
  Result r;
  r.command = "slmify";
  for (const auto& a : args) r.command += " " + a;
  char out_tmpl[] = "/tmp/slmify-cli-out-XXXXXX";
  char err_tmpl[] = "/tmp/slmify-cli-err-XXXXXX";
  int out_fd = mkstemp(out_tmpl);
  int err_fd = mkstemp(err_tmpl);
  REQUIRE(out_fd >= 0);
  REQUIRE(err_fd >= 0);
  std::vector<std::string> argv_s = {SLMIFY_BINARY};
  argv_s.insert(argv_s.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  argv.push_back(nullptr);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull < 0 || dup2(devnull, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(err_fd, 2) < 0) _exit(126);
    if (chdir(cwd.c_str()) != 0) _exit(126);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) FAIL("waitpid failed");
  }
  close(out_fd);
  close(err_fd);
  r.out = slurp(out_tmpl);
  r.err = slurp(err_tmpl);
  unlink(out_tmpl);
  unlink(err_tmpl);
  r.rc = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return r;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) out.push_back(line);
  return out;
}

// A valid record of dataset format v1 (lib/core/record.cpp).
json make_record(int i, bool tool_call) {
  json rec = {{"id", "cli-" + std::to_string(i)},
              {"source", {{"format", "openai-chat"}, {"file", "calls.jsonl"}, {"line", i + 1}}},
              {"hci", false},
              {"status", "ok"},
              {"request",
               {{"model", "gpt-4o"},
                {"messages", json::array({{{"role", "system"}, {"content", "You route tickets."}},
                                          {{"role", "user"}, {"content", "Ticket " + std::to_string(i)}}})}}},
              {"response", {{"content", "queue " + std::to_string(i % 3)}, {"finish_reason", "stop"}}}};
  if (tool_call) {
    rec["request"]["tools"] = json::array(
        {{{"type", "function"},
          {"function", {{"name", "route"}, {"parameters", {{"type", "object"}, {"properties", json::object()}}}}}}});
    rec["response"]["content"] = nullptr;
    rec["response"]["tool_calls"] = json::array(
        {{{"id", "call_" + std::to_string(i)},
          {"type", "function"},
          {"function", {{"name", "route"}, {"arguments", "{\"queue\": " + std::to_string(i) + "}"}}}}});
    rec["response"]["finish_reason"] = "tool_calls";
  }
  return rec;
}

// Whether a --help text lists `flag` as an option of its own ("--k" is not found in "--k-min").
bool lists_flag(const std::string& help, const std::string& flag) {
  for (size_t at = help.find(flag); at != std::string::npos; at = help.find(flag, at + 1)) {
    bool starts = at > 0 && (help[at - 1] == ' ' || help[at - 1] == ',');
    char next = at + flag.size() < help.size() ? help[at + flag.size()] : ' ';
    bool ends = !(std::isalnum(static_cast<unsigned char>(next)) || next == '-' || next == '_');
    if (starts && ends) return true;
  }
  return false;
}

const fs::path kQuickstart = fs::path(SLMIFY_SOURCE_DIR) / "pipelines" / "quickstart.yaml";

}  // namespace

// ---- the top level ------------------------------------------------------------------------------

TEST_CASE("slmify --version", "[cli]") {
  Result r = run_slmify({"--version"});
  INFO(r);
  CHECK(r.rc == 0);
  CHECK(r.out == "slmify 0.1.0\n");
}

TEST_CASE("slmify --help lists the subcommands in pipeline order", "[cli]") {
  Result r = run_slmify({"--help"});
  INFO(r);
  REQUIRE(r.rc == 0);
  std::vector<std::string> listed;
  bool in_subcommands = false;
  for (const std::string& line : lines_of(r.out)) {
    if (line.rfind("Subcommands:", 0) == 0) {
      in_subcommands = true;
      continue;
    }
    if (!in_subcommands || line.size() < 3 || line[0] != ' ' || line[2] == ' ') continue;
    std::istringstream words(line);
    std::string name;
    words >> name;
    listed.push_back(name);
  }
  CHECK(listed == std::vector<std::string>{"collect", "scrub", "cluster", "select", "finetune", "pretrain", "merge", "retrain", "registry",
                                           "eval", "route", "run", "dataset", "generate", "model", "config"});
}

TEST_CASE("slmify without a subcommand is a usage error", "[cli]") {
  Result r = run_slmify({});
  INFO(r);
  CHECK(r.rc == 2);
}

TEST_CASE("every subcommand's --help exits 0", "[cli][slow]") {
  const std::vector<std::vector<std::string>> commands = {
      {"collect"},          {"scrub"},           {"cluster"},          {"select"},          {"finetune"}, {"merge"},
      {"retrain"},          {"eval"},            {"run"},              {"dataset"},         {"model"},       {"pretrain"},
      {"registry"},         {"registry", "list"}, {"registry", "promote"}, {"registry", "rollback"}, {"registry", "log"},
      {"config"},           {"dataset", "inspect"}, {"dataset", "head"}, {"dataset", "validate"},
      {"dataset", "export"}, {"dataset", "import"}, {"model", "backend"}, {"model", "info"}, {"model", "init"},
      {"config", "validate"}, {"config", "show"}, {"config", "reference"}};
  for (auto args : commands) {
    std::string name;
    for (const auto& a : args) name += (name.empty() ? "" : " ") + a;
    args.push_back("--help");
    Result r = run_slmify(args);
    INFO(r);
    CHECK(r.rc == 0);
    CHECK_THAT(r.out, Catch::Contains("Usage:"));
    CHECK_THAT(r.out, Catch::Contains(args[args.size() - 2]));
    // A stage command offers one flag per settable key of its config section.
    if (args.size() == 2 && args[0] != "run" && args[0] != "dataset" && args[0] != "model" && args[0] != "config" && args[0] != "merge" && args[0] != "registry") {
      auto flags = slmify::config_section_flags(args[0]);
      CHECK_FALSE(flags.empty());
      for (const slmify::ConfigKey& k : flags) {
        INFO("flag " << k.flag);
        CHECK(lists_flag(r.out, k.flag));
      }
    }
  }
}

// ---- stage subcommands --------------------------------------------------------------------------

TEST_CASE("retrain before the pipeline has run exits 2 and says what to run", "[cli]") {
  CliTempDir tmp;
  write_file(tmp.path / "pipeline.yaml", "version: 1\nworkdir: " + (tmp.path / "run").string() + "\n");
  Result r = run_slmify({"retrain", (tmp.path / "pipeline.yaml").string()}, tmp.path);
  INFO(r);
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("run `slmify run PIPELINE` first"));
  CHECK_THAT(r.err, Catch::Contains("hint:"));
  CHECK_FALSE(fs::exists(tmp.path / "run"));
}

TEST_CASE("a bad flag value exits 2 and names the flag", "[cli]") {
  CliTempDir tmp;
  Result r = run_slmify({"cluster", "x", "-o", "y", "--k", "0"}, tmp.path);
  INFO(r);
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("--k"));
  CHECK_THAT(r.err, Catch::Contains("cluster.k"));
  CHECK_THAT(r.err, Catch::Contains("must be >= 1 (got 0)"));
}

TEST_CASE("several bad values are reported together", "[cli]") {
  CliTempDir tmp;
  Result r = run_slmify({"scrub", "x", "-o", "y", "--dedup", "nearr", "--near-threshold", "2", "--set", "scrub.sed=1"},
                    tmp.path);
  INFO(r);
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("--dedup scrub.dedup"));
  CHECK_THAT(r.err, Catch::Contains("did you mean `near`?"));
  CHECK_THAT(r.err, Catch::Contains("--near-threshold scrub.near_threshold: must be <= 1 (got 2)"));
  CHECK_THAT(r.err, Catch::Contains("did you mean `scrub.seed`?"));
}

TEST_CASE("a stage's --print-config prints the stage's section with flags applied", "[cli]") {
  Result r = run_slmify({"cluster", "--k", "7", "--no-templates", "--view", "system,tools", "--print-config"});
  INFO(r);
  REQUIRE(r.rc == 0);
  CHECK_THAT(r.out, Catch::StartsWith("cluster:"));
  CHECK_THAT(r.out, Catch::Contains("\n  k: 7"));
  CHECK_THAT(r.out, Catch::Contains("\n  templates: false"));
  CHECK_THAT(r.out, Catch::Contains("\n  view: [system, tools]"));
  CHECK_THAT(r.out, Catch::Contains("\n  min_cluster_size: 20"));
  CHECK_THAT(r.out, !Catch::Contains("scrub:"));
}

TEST_CASE("a stage's --json --print-config prints the section as JSON", "[cli]") {
  Result r = run_slmify({"cluster", "--min-cluster-size", "4", "--json", "--print-config"});
  INFO(r);
  REQUIRE(r.rc == 0);
  json j = json::parse(r.out);  // throws (and fails the test) when not JSON
  CHECK(j["min_cluster_size"] == 4);
  CHECK(j["k"] == "auto");
  CHECK_FALSE(j.contains("cluster"));
}

TEST_CASE("a stage's --config with an unknown key exits 2 with file:line:col", "[cli]") {
  CliTempDir tmp;
  fs::path f = tmp.path / "pipeline.yaml";
  write_file(f, "name: t\ncluster:\n  k: 4\n  min_clustr_size: 3\n");
  Result r = run_slmify({"cluster", "in", "-o", "out", "--config", f.string()}, tmp.path);
  INFO(r);
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains(f.string() + ":4:3 cluster.min_clustr_size"));
  CHECK_THAT(r.err, Catch::Contains("did you mean `min_cluster_size`?"));
}

TEST_CASE("flags override the --config file", "[cli]") {
  CliTempDir tmp;
  fs::path f = tmp.path / "pipeline.yaml";
  write_file(f, "cluster:\n  k: 4\n  dim: 64\n");
  Result r = run_slmify({"cluster", "--config", f.string(), "--k", "9", "--json", "--print-config"}, tmp.path);
  INFO(r);
  REQUIRE(r.rc == 0);
  json j = json::parse(r.out);
  CHECK(j["k"] == 9);
  CHECK(j["dim"] == 64);
}

TEST_CASE("collect inputs given on the command line are kept whole", "[cli]") {
  // A file name may hold a comma. See the report: today add_stage_command joins the positional
  // inputs with "," into one override and config_load splits them again, so "a,b.jsonl" becomes
  // two inputs "a" and "b.jsonl".
  CliTempDir tmp;
  Result r = run_slmify({"collect", "logs/a,b.jsonl", "c.jsonl", "--json", "--print-config"}, tmp.path);
  INFO(r);
  REQUIRE(r.rc == 0);
  json j = json::parse(r.out);
  CHECK(j["inputs"] == json::array({"logs/a,b.jsonl", "c.jsonl"}));
}

// ---- run ----------------------------------------------------------------------------------------

TEST_CASE("run pipelines/quickstart.yaml --dry-run lists the stages", "[cli][slow]") {
  if (!fs::exists(kQuickstart)) FAIL("pipelines/quickstart.yaml is missing; the quick start pipeline must be shipped");
  const std::vector<std::string> stages = slmify::config_load(kQuickstart).stages;
  REQUIRE_FALSE(stages.empty());

  Result r = run_slmify({"run", "pipelines/quickstart.yaml", "--dry-run"});
  INFO(r);
  REQUIRE(r.rc == 0);
  size_t last = 0;
  for (size_t i = 0; i < stages.size(); ++i) {
    size_t at = r.out.find(std::to_string(i + 1) + ". " + stages[i] + ":");
    INFO("stage " << stages[i]);
    CHECK(at != std::string::npos);
    CHECK(at >= last);
    if (at != std::string::npos) last = at;
  }

  Result j = run_slmify({"run", "pipelines/quickstart.yaml", "--dry-run", "--json"});
  INFO(j);
  REQUIRE(j.rc == 0);
  json plan = json::parse(j.out);
  REQUIRE(plan.contains("stages"));
  REQUIRE(plan["stages"].is_array());
  REQUIRE(plan["stages"].size() == stages.size());
  for (size_t i = 0; i < stages.size(); ++i) {
    const json& s = plan["stages"][i];
    CHECK(s["stage"] == stages[i]);
    CHECK(s["output"].is_string());
    CHECK(s["reason"].is_string());
    CHECK(s["inputs"].is_array());
  }
}

TEST_CASE("run --dry-run --json on a temporary pipeline, restricted with --from and --until", "[cli][slow]") {
  CliTempDir tmp;
  fs::path f = tmp.path / "p.yaml";
  write_file(f, "name: t\nworkdir: w\ncollect:\n  inputs: [logs/a.jsonl]\n");
  Result r = run_slmify({"run", f.string(), "--dry-run", "--json"}, tmp.path);
  INFO(r);
  REQUIRE(r.rc == 0);
  json all = json::parse(r.out);
  REQUIRE(all["stages"].size() == 6);
  CHECK(all["workdir"] == (tmp.path / "w").string());
  CHECK(all["stages"][0]["stage"] == "collect");
  CHECK(all["stages"][0]["inputs"] == json::array({(tmp.path / "logs/a.jsonl").string()}));
  CHECK(all["stages"][0]["action"] == "run");

  Result part = run_slmify({"run", f.string(), "--dry-run", "--json", "--from", "scrub", "--until", "cluster"}, tmp.path);
  INFO(part);
  REQUIRE(part.rc == 0);
  json p = json::parse(part.out);
  REQUIRE(p["stages"].size() == 2);
  CHECK(p["stages"][0]["stage"] == "scrub");
  CHECK(p["stages"][1]["stage"] == "cluster");
  CHECK(p["stages"][1]["output"] == (tmp.path / "w/cluster").string());

  Result bad = run_slmify({"run", f.string(), "--dry-run", "--from", "cluster", "--until", "scrub"}, tmp.path);
  INFO(bad);
  CHECK(bad.rc == 2);
  CHECK_THAT(bad.err, Catch::Contains("selects no stage"));
}

TEST_CASE("run of a missing pipeline file exits 2", "[cli]") {
  CliTempDir tmp;
  Result r = run_slmify({"run", "missing.yaml"}, tmp.path);
  INFO(r);
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains("missing.yaml"));
}

namespace {

// A pipeline of the torch-free stages (collect, scrub, cluster) over a small generated log of two
// kinds of calls, in DIR/p.yaml with its work directory at DIR/w.
fs::path write_small_pipeline(const fs::path& dir) {
  std::string log;
  for (int i = 0; i < 24; ++i) {
    const bool review = i % 2 == 0;
    const std::string n = std::to_string(i);
    json system = {{"role", "system"},
                   {"content", review ? "You classify the sentiment of a product review as positive or negative."
                                      : "You translate the user's sentence into French."}};
    json user = {{"role", "user"},
                 {"content", review ? "Review " + n + ": the boots arrived after " + n + " days but fit well."
                                    : "Sentence " + n + ": where is platform " + n + " of the train station?"}};
    json reply = {{"index", 0},
                  {"message", {{"role", "assistant"}, {"content", review ? "positive" : "Où est le quai " + n + " de la gare ?"}}},
                  {"finish_reason", "stop"}};
    json line = {{"request", {{"model", "gpt-4o-mini"}, {"messages", json::array({system, user})}}},
                 {"response", {{"id", "chatcmpl-" + n}, {"object", "chat.completion"}, {"choices", json::array({reply})}}}};
    log += line.dump() + "\n";
  }
  write_file(dir / "logs" / "calls.jsonl", log);
  write_file(dir / "p.yaml",
             "name: small\nworkdir: w\nstages: [collect, scrub, cluster]\n"
             "collect:\n  inputs: [logs]\n"
             "scrub:\n  replacement: mask\n  dedup: none\n"
             "cluster:\n  k: 2\n  min_cluster_size: 2\n  dim: 8\n  hash_bits: 12\n");
  return dir / "p.yaml";
}

// "collect:run scrub:skip ..." from a plan or a summary printed with --json.
std::string actions_of(const json& j) {
  std::string out;
  for (const json& s : j["stages"]) out += (out.empty() ? "" : " ") + s["stage"].get<std::string>() + ":" + s["action"].get<std::string>();
  return out;
}

}  // namespace

TEST_CASE("run plans, runs the torch-free stages, skips them when up to date and reruns from a stage", "[cli][slow]") {
  CliTempDir tmp;
  const fs::path f = write_small_pipeline(tmp.path);
  const fs::path w = tmp.path / "w";

  Result plan = run_slmify({"run", f.string(), "--dry-run", "--json"}, tmp.path);
  INFO(plan);
  REQUIRE(plan.rc == 0);
  json p = json::parse(plan.out);
  CHECK(actions_of(p) == "collect:run scrub:run cluster:run");
  CHECK(p["stages"][0]["reason"] == "no output yet");
  CHECK(p["stages"][0]["inputs"] == json::array({(tmp.path / "logs").string()}));
  CHECK_FALSE(fs::exists(w / "collect"));  // a dry run writes nothing

  Result run = run_slmify({"run", f.string(), "--json"}, tmp.path);
  INFO(run);
  REQUIRE(run.rc == 0);
  json s = json::parse(run.out);
  CHECK(actions_of(s) == "collect:run scrub:run cluster:run");
  CHECK(s["pipeline"] == "small");
  CHECK(s["stages"][0]["result"]["out"] == 24);
  CHECK(s["stages"][1]["figures"] == "24 in, 24 out, 0 dropped, 0 quarantined");
  for (const char* stage : {"collect", "scrub", "cluster"}) CHECK(fs::exists(w / stage / "manifest.json"));
  const std::string collect_manifest = slurp(w / "collect" / "manifest.json");

  Result again = run_slmify({"run", f.string()}, tmp.path);
  INFO(again);
  REQUIRE(again.rc == 0);
  CHECK_THAT(again.out, Catch::StartsWith("pipeline small in " + w.string() + "\n"));
  const std::vector<std::string> lines = lines_of(again.out);
  for (const char* stage : {"collect", "scrub", "cluster"}) {
    INFO("stage " << stage);
    CHECK(std::any_of(lines.begin(), lines.end(), [&](const std::string& l) {
      return l.rfind(std::string("  ") + stage + " ", 0) == 0 && l.find(" skip ") != std::string::npos;
    }));
  }

  Result dry = run_slmify({"run", f.string(), "--dry-run", "--json"}, tmp.path);
  INFO(dry);
  REQUIRE(dry.rc == 0);
  json d = json::parse(dry.out);
  CHECK(actions_of(d) == "collect:skip scrub:skip cluster:skip");
  for (const json& st : d["stages"]) CHECK(st["reason"] == "up to date");

  Result from = run_slmify({"run", f.string(), "--from", "scrub", "--force", "--json"}, tmp.path);
  INFO(from);
  REQUIRE(from.rc == 0);
  json fr = json::parse(from.out);
  CHECK(actions_of(fr) == "scrub:run cluster:run");
  for (const json& st : fr["stages"]) CHECK(st["reason"] == "--force");
  CHECK(slurp(w / "collect" / "manifest.json") == collect_manifest);  // collect was not touched

  Result after = run_slmify({"run", f.string(), "--dry-run", "--json"}, tmp.path);
  INFO(after);
  REQUIRE(after.rc == 0);
  CHECK(actions_of(json::parse(after.out)) == "collect:skip scrub:skip cluster:skip");

  // A changed key of cluster makes only cluster out of date.
  write_file(f, slurp(f) + "  seed: 3\n");
  Result changed = run_slmify({"run", f.string(), "--dry-run", "--json"}, tmp.path);
  INFO(changed);
  REQUIRE(changed.rc == 0);
  json c = json::parse(changed.out);
  CHECK(actions_of(c) == "collect:skip scrub:skip cluster:run");
  CHECK(c["stages"][2]["reason"] == "config changed");

  Result bad = run_slmify({"run", f.string(), "--from", "select"}, tmp.path);
  INFO(bad);
  CHECK(bad.rc == 2);
  CHECK_THAT(bad.err, Catch::Contains("--from select") && Catch::Contains("collect, scrub, cluster"));
}

TEST_CASE("run exits 8 while another process holds the work directory's lock, and --wait waits for it", "[cli][slow]") {
  CliTempDir tmp;
  const fs::path f = write_small_pipeline(tmp.path);
  const fs::path lock = tmp.path / "w" / ".slmify.lock";
  fs::create_directories(lock.parent_path());
  int ready[2], go[2];
  REQUIRE(pipe(ready) == 0);
  REQUIRE(pipe(go) == 0);
  pid_t holder = fork();
  REQUIRE(holder >= 0);
  if (holder == 0) {  // holds the lock as flock(1) would, until told to let go
    int fd = open(lock.c_str(), O_RDWR | O_CREAT, 0644);
    if (fd < 0 || flock(fd, LOCK_EX) != 0) _exit(90);
    char c = 'x';
    if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) != 1) _exit(91);
    usleep(500 * 1000);
    _exit(0);  // the kernel releases the lock
  }
  char c;
  REQUIRE(read(ready[0], &c, 1) == 1);

  Result busy = run_slmify({"run", f.string()}, tmp.path);
  INFO(busy);
  CHECK(busy.rc == 8);
  CHECK_THAT(busy.err, Catch::Contains("is in use by"));
  CHECK_FALSE(fs::exists(tmp.path / "w" / "collect"));

  Result dry = run_slmify({"run", f.string(), "--dry-run"}, tmp.path);  // a dry run takes no lock
  INFO(dry);
  CHECK(dry.rc == 0);

  REQUIRE(write(go[1], "x", 1) == 1);
  Result waited = run_slmify({"run", f.string(), "--wait", "60", "--json"}, tmp.path);
  INFO(waited);
  CHECK(waited.rc == 0);
  int status = 0;
  while (waitpid(holder, &status, 0) < 0) REQUIRE(errno == EINTR);
  CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  for (int fd : {ready[0], ready[1], go[0], go[1]}) close(fd);
  if (waited.rc == 0) CHECK(actions_of(json::parse(waited.out)) == "collect:run scrub:run cluster:run");
}

// ---- config -------------------------------------------------------------------------------------

TEST_CASE("config validate of a bad file exits 2 and lists every problem", "[cli]") {
  CliTempDir tmp;
  fs::path f = tmp.path / "bad.yaml";
  write_file(f, "cluster:\n  k: 0\n  dim: lots\n");
  Result r = run_slmify({"config", "validate", f.string()}, tmp.path);
  INFO(r);
  CHECK(r.rc == 2);
  CHECK_THAT(r.err, Catch::Contains(f.string() + ":2:6 cluster.k: must be >= 1 (got 0)"));
  CHECK_THAT(r.err, Catch::Contains(f.string() + ":3:8 cluster.dim"));
}

TEST_CASE("config validate of a good file and config show", "[cli][slow]") {
  CliTempDir tmp;
  fs::path f = tmp.path / "good.yaml";
  write_file(f, "cluster:\n  k: 6\n");
  Result r = run_slmify({"config", "validate", f.string()}, tmp.path);
  INFO(r);
  CHECK(r.rc == 0);
  CHECK_THAT(r.out, Catch::Contains("ok"));

  Result s = run_slmify({"config", "show", f.string(), "--section", "cluster", "--json"}, tmp.path);
  INFO(s);
  REQUIRE(s.rc == 0);
  CHECK(json::parse(s.out)["k"] == 6);

  Result bad = run_slmify({"config", "show", "--section", "clustr"}, tmp.path);
  INFO(bad);
  CHECK(bad.rc == 2);
}

// ---- dataset ------------------------------------------------------------------------------------

TEST_CASE("dataset import, validate, inspect, head and export", "[cli][slow]") {
  CliTempDir tmp;
  fs::path in = tmp.path / "calls.jsonl";
  std::string text;
  std::vector<json> records;
  for (int i = 0; i < 4; ++i) {
    records.push_back(make_record(i, i % 2 == 1));
    text += records.back().dump() + "\n";
  }
  write_file(in, text);
  fs::path ds = tmp.path / "ds";

  Result imp = run_slmify({"dataset", "import", in.string(), "-o", ds.string()}, tmp.path);
  INFO(imp);
  REQUIRE(imp.rc == 0);
  REQUIRE(fs::exists(ds / "manifest.json"));

  Result val = run_slmify({"dataset", "validate", ds.string()}, tmp.path);
  INFO(val);
  CHECK(val.rc == 0);
  CHECK_THAT(val.out, Catch::Contains("4 records"));

  Result ins = run_slmify({"dataset", "inspect", ds.string(), "--json"}, tmp.path);
  INFO(ins);
  REQUIRE(ins.rc == 0);
  json info = json::parse(ins.out);
  CHECK(info["records"] == 4);
  CHECK(info["stage"] == "import");
  CHECK(info["accounting"]["quarantined"] == 0);

  Result head = run_slmify({"dataset", "head", ds.string(), "-n", "1"}, tmp.path);
  INFO(head);
  REQUIRE(head.rc == 0);
  std::vector<std::string> lines = lines_of(head.out);
  REQUIRE(lines.size() == 1);
  json first = json::parse(lines[0]);
  CHECK(first["id"] == records[0]["id"]);
  CHECK(first["request"] == records[0]["request"]);
  CHECK(first["response"] == records[0]["response"]);

  fs::path out = tmp.path / "ft.jsonl";
  Result exp = run_slmify({"dataset", "export", ds.string(), "--format", "openai-ft", "-o", out.string()}, tmp.path);
  INFO(exp);
  REQUIRE(exp.rc == 0);
  REQUIRE(fs::exists(out));
  std::vector<std::string> ft = lines_of(slurp(out));
  REQUIRE(ft.size() == 4);
  for (size_t i = 0; i < ft.size(); ++i) {
    json ex = json::parse(ft[i]);
    REQUIRE(ex["messages"].is_array());
    CHECK(ex["messages"].size() == 3);  // system, user, assistant
    CHECK(ex["messages"].back()["role"] == "assistant");
    if (i % 2 == 1) {
      CHECK(ex["messages"].back()["tool_calls"][0]["function"]["name"] == "route");
      CHECK(ex["tools"][0]["function"]["name"] == "route");
    } else {
      CHECK(ex["messages"].back()["content"] == records[i]["response"]["content"]);
    }
  }
}

TEST_CASE("dataset validate of a damaged shard exits 3 and names the shard", "[cli][slow]") {
  CliTempDir tmp;
  fs::path in = tmp.path / "calls.jsonl";
  std::string text;
  for (int i = 0; i < 3; ++i) text += make_record(i, false).dump() + "\n";
  write_file(in, text);
  fs::path ds = tmp.path / "ds";
  Result imp = run_slmify({"dataset", "import", in.string(), "-o", ds.string()}, tmp.path);
  INFO(imp);
  REQUIRE(imp.rc == 0);

  fs::path shard;
  for (const auto& e : fs::directory_iterator(ds))
    if (e.path().filename().string().rfind("part-", 0) == 0) shard = e.path();
  REQUIRE_FALSE(shard.empty());
  {
    std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
    REQUIRE(f.good());
    f.seekg(0, std::ios::end);
    auto size = static_cast<std::streamoff>(f.tellg());
    REQUIRE(size > 8);
    std::streamoff at = size / 2;
    f.seekg(at);
    char c = 0;
    f.read(&c, 1);
    c = static_cast<char>(c ^ 0x5a);
    f.seekp(at);
    f.write(&c, 1);
    REQUIRE(f.good());
  }
  Result val = run_slmify({"dataset", "validate", ds.string()}, tmp.path);
  INFO(val);
  CHECK(val.rc == 3);
  CHECK_THAT(val.err, Catch::Contains(shard.filename().string()));
}

TEST_CASE("dataset inspect of a missing directory exits 4", "[cli]") {
  CliTempDir tmp;
  Result r = run_slmify({"dataset", "inspect", (tmp.path / "nope").string()}, tmp.path);
  INFO(r);
  CHECK(r.rc == 4);
  CHECK_THAT(r.err, Catch::Contains((tmp.path / "nope").string()));
  CHECK_THAT(r.err, Catch::Contains("hint:"));
}

// ---- model --------------------------------------------------------------------------------------

TEST_CASE("model backend --json prints what the backend offers", "[cli]") {
  Result r = run_slmify({"model", "backend", "--json"});
  INFO(r);
  REQUIRE(r.rc == 0);
  json j = json::parse(r.out);
  REQUIRE(j.contains("torch"));
  REQUIRE(j["torch"].is_boolean());
  for (const char* k : {"torch_version", "cuda_built", "cuda_available", "cuda_devices", "cpu_threads"})
    CHECK(j.contains(k));
  if (j["torch"].get<bool>()) {
    CHECK_THAT(j["torch_version"].get<std::string>(), Catch::StartsWith("2."));
    CHECK(j["cpu_threads"].get<int>() >= 1);
  }
}
