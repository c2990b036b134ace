// retrain end to end through the command line, with real training on the CPU: `slmify run` on
// logs of one learnable task (a deliberately under-trained adapter serves), then cycles of
// `slmify retrain` as the logs grow:
//   cycle 1 has new calls but a learning rate of 0, so the challenger equals the serving adapter
//           and is kept (exit 7);
//   cycle 2 folds in more calls plus a task never seen before, reports the drift, retrains with
//           more steps from the serving adapter and promotes (exit 0);
//   cycle 3 finds nothing new in the logs (exit 5) and changes nothing;
// then `registry rollback` returns to the first version. A second case re-clusters on drift
// (retrain.recluster: auto). [torch][slow].
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>

#include "../core/test_util.h"
#include "core/dataset.h"
#include "core/fsutil.h"

using namespace slmify;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {

// One logged Chat Completions call (docs/collect.md, openai-chat).
json log_line(const std::string& system, const std::string& user, const std::string& answer, int i) {
  return {{"request", {{"model", "gpt-4o-mini"},
                       {"messages", json::array({{{"role", "system"}, {"content", system}}, {{"role", "user"}, {"content", user}}})}}},
          {"response", {{"id", "chatcmpl-" + std::to_string(i)},
                        {"object", "chat.completion"},
                        {"model", "gpt-4o-mini"},
                        {"choices", json::array({{{"index", 0}, {"message", {{"role", "assistant"}, {"content", answer}}}, {"finish_reason", "stop"}}})},
                        {"usage", {{"prompt_tokens", 30}, {"completion_tokens", 12}}}}},
          {"latency_ms", 800},
          {"agent", "intake"},
          {"cost_usd", 0.0004}};
}

// The learnable task: every answer is the same JSON object (LoRA learns it in tens of steps).
std::string intake_lines(std::mt19937_64& rng, int from, int n) {
  static const char* items[] = {"jacket", "tent", "boots", "charger", "screen", "parcel", "invoice", "battery"};
  std::string s;
  for (int i = from; i < from + n; ++i) {
    std::string ticket = "Ticket " + std::to_string(1000 + i) + ": my " + items[rng() % 8] + " is " + (rng() % 2 ? "late" : "broken");
    s += log_line("Acknowledge the ticket. Reply with one JSON object.", ticket, R"({"status": "received", "queue": "support"})", i).dump() + "\n";
  }
  return s;
}

// A task the agent starts doing later: translating product names, with its own system prompt.
std::string new_task_lines(std::mt19937_64& rng, int from, int n) {
  static const char* names[] = {"Trail Shell", "Summit Pack", "River Sandal", "Alpine Mitt", "Canyon Tarp", "Delta Lamp"};
  std::string s;
  for (int i = from; i < from + n; ++i) {
    std::string name = names[rng() % 6];
    s += log_line("Translate the product name into French, German and Spanish, one per line, nothing else.",
                  "Product " + std::to_string(i) + ": " + name, "fr: " + name + "\nde: " + name + "\nes: " + name, 100000 + i)
             .dump() +
         "\n";
  }
  return s;
}

slmify_test::CommandResult slmify_cli(const std::string& args, int expect) {
  slmify_test::CommandResult r = slmify_test::run_command(std::string(SLMIFY_BINARY) + " " + args + " 2>&1");
  INFO("slmify " << args << "\n" << r.out);
  REQUIRE(r.status == expect);
  return r;
}

// The JSON report on stdout, without the log lines around it.
json report_of(const std::string& out) { return json::parse(out.substr(out.find("{\n"), out.rfind("\n}") + 2 - out.find("{\n"))); }

// The ids of the calls held out in a cluster dataset.
std::set<std::string> held_out_ids(const fs::path& data) {
  std::set<std::string> held;
  DatasetReader r(data);
  json rec;
  while (r.next(rec))
    if (rec["ann"]["split"] == "eval") held.insert(rec["id"]);
  return held;
}

// Held out for ever: every call in `held` is in `data` and still held out there.
void check_still_held_out(const fs::path& data, const std::set<std::string>& held) {
  DatasetReader r(data);
  json rec;
  size_t seen = 0;
  while (r.next(rec))
    if (held.count(rec["id"])) {
      CHECK(rec["ann"]["split"] == "eval");
      ++seen;
    }
  CHECK(seen == held.size());
}

void append(const fs::path& p, const std::string& s) {
  std::string before = fs::exists(p) ? read_file(p) : std::string();
  slmify_test::write_bytes(p, before + s);
}

}  // namespace

TEST_CASE("retrain end to end: kept, promoted on growing data, nothing new, rollback", "[retrain][torch][slow]") {
  TempDir tmp;
  const std::string d = tmp.path().string();
  std::mt19937_64 rng(5);
  fs::create_directories(tmp / "logs");
  append(tmp / "logs" / "calls.jsonl", intake_lines(rng, 0, 120));
  // The base model: `model init` on the first calls (a tiny Llama with its own tokenizer).
  slmify_cli("collect " + d + "/logs -o " + d + "/seed -q", 0);
  slmify_cli("model init -o " + d + "/model --from " + d + "/seed --size tiny", 0);
  slmify_test::write_bytes(tmp / "pipeline.yaml",
                           "version: 1\nname: retrain-test\nworkdir: work\n"
                           "collect:\n  inputs: [logs]\n"
                           "scrub:\n  dedup: none\n  replacement: mask\n"
                           "cluster:\n  k: 1\n  min_cluster_size: 10\n  dim: 16\n  outlier_quantile: 0.95\n"
                           "select:\n  model_paths: [model]\n  probe: false\n  min_cluster_calls: 10\n  context_headroom: 1.0\n"
                           "finetune:\n  device: cpu\n  dtype: fp32\n  lr: 0.005\n  max_steps: 2\n  batch_size: 8\n  eval_every: 100\n  lora_dropout: 0\n"
                           "eval:\n  device: cpu\n  max_new_tokens: 24\n  batch_size: 16\n  compare_base: false\n"
                           "retrain:\n  min_new_calls: 20\n  promote_margin: 0.05\n  drift_outlier_share: 0.2\n  drift_share_change: 0.3\n");
  const std::string pipeline = d + "/pipeline.yaml";
  slmify_cli("run " + pipeline + " -q", 0);
  json first = json::parse(read_file(tmp / "work" / "eval" / "report.json"));
  INFO(first["clusters"].dump(1));

  // Held out for ever: every call held out in the first data stays held out in every cycle.
  const std::set<std::string> held = held_out_ids(tmp / "work" / "cluster");
  auto check_held = [&](const fs::path& data) { check_still_held_out(data, held); };

  // Cycle 1: 40 new calls, but nothing learnt (lr 0): the challenger ties, it is registered as a
  // candidate and the serving version stays (exit 7).
  append(tmp / "logs" / "calls.jsonl", intake_lines(rng, 120, 40));
  slmify_test::CommandResult c1 = slmify_cli("retrain " + pipeline + " --json --by test --set finetune.lr=0", 7);
  json r1 = report_of(c1.out);
  INFO(r1.dump(1));
  CHECK(r1["outcome"] == "kept");
  CHECK(r1["new_calls"] == 40);
  CHECK(r1["drift"]["drift"] == false);
  CHECK(r1["serving_after"] == "v0001");
  CHECK(r1["registered"] == "v0002");
  check_held(tmp / "work" / "retrain" / "cycle-0001" / "data");

  // Cycle 2: 80 more calls of the known task and 40 of a new one; retrain with enough steps from
  // the serving adapter: the drift is reported and the better adapter is promoted (exit 0).
  append(tmp / "logs" / "calls.jsonl", intake_lines(rng, 160, 80) + new_task_lines(rng, 0, 40));
  slmify_test::CommandResult c2 = slmify_cli("retrain " + pipeline + " --json --by test --set finetune.max_steps=40", 0);
  json r2 = report_of(c2.out);
  INFO(r2.dump(1));
  CHECK(r2["outcome"] == "promoted");
  CHECK(r2["new_calls"] == 120);
  CHECK(r2["drift"]["drift"] == true);
  CHECK(r2["drift"]["outlier_share"].get<double>() >= 0.3);
  bool new_task = false;
  for (const json& g : r2["drift"]["outlier_groups"]) new_task = new_task || (g["new_task"] == true && g["calls"].get<int>() >= 30);
  CHECK(new_task);
  REQUIRE(r2["comparison"].size() == 1);
  CHECK(r2["comparison"][0]["promote"] == true);
  CHECK(r2["comparison"][0]["new"]["value"].get<double>() >= r2["comparison"][0]["serving"]["value"].get<double>() + 0.05);
  CHECK(r2["serving_after"] == "v0003");
  // The promoted version is complete: its router serves from its own adapters.
  json router = json::parse(read_file(tmp / "work" / "registry" / "serving" / "router" / "router.json"));
  for (const json& c : router["clusters"])
    if (c.contains("adapter_dir")) CHECK(fs::exists(fs::path(c["adapter_dir"].get<std::string>()) / "adapter_model.safetensors"));
  CHECK(fs::canonical(tmp / "work" / "registry" / "serving") == fs::canonical(tmp / "work" / "registry" / "versions" / "v0003"));
  check_held(tmp / "work" / "retrain" / "cycle-0002" / "data");

  // Cycle 3: nothing new in the logs (exit 5); nothing changes.
  const std::string log_before = read_file(tmp / "work" / "registry" / "log.jsonl");
  const std::string state_before = read_file(tmp / "work" / "retrain" / "state.json");
  slmify_cli("retrain " + pipeline + " -q", 5);
  CHECK(read_file(tmp / "work" / "registry" / "log.jsonl") == log_before);
  CHECK(json::parse(read_file(tmp / "work" / "retrain" / "state.json"))["data"] == json::parse(state_before)["data"]);

  // Rollback returns to the first version, and the log says who, when and why.
  slmify_cli("registry rollback " + pipeline + " --reason 'test rollback' --by tester", 0);
  json list = json::parse(slmify_cli("registry list " + pipeline + " --json", 0).out);
  std::map<std::string, std::string> status;
  for (const json& v : list) status[v["id"]] = v["status"];
  CHECK(status["v0001"] == "serving");
  CHECK(status["v0002"] == "candidate");
  CHECK(status["v0003"] == "retired");
  json log = json::parse(slmify_cli("registry log " + pipeline + " --json", 0).out);
  REQUIRE(!log.empty());
  CHECK(log.back()["action"] == "rollback");
  CHECK(log.back()["who"] == "tester");
  CHECK(log.back()["reason"] == "test rollback");
}

// A base pre-trained on the first task's calls (the pretrain stage) answers it already; the new
// task needs the re-clustered version's own adapter, so only that version moves its calls.
TEST_CASE("retrain with recluster auto: a new task gets its own cluster and adapter, and the version is promoted", "[retrain][torch][slow]") {
  TempDir tmp;
  const std::string d = tmp.path().string();
  std::mt19937_64 rng(7);
  fs::create_directories(tmp / "logs");
  append(tmp / "logs" / "calls.jsonl", intake_lines(rng, 0, 100));
  slmify_test::write_bytes(tmp / "pipeline.yaml",
                           "version: 1\nname: recluster-test\nworkdir: work\n"
                           "stages: [collect, scrub, cluster, pretrain, select, finetune, eval]\n"
                           "pretrain:\n  max_steps: 150\n  max_length: 128\n  batch_size: 8\n  device: cpu\n"
                           "collect:\n  inputs: [logs]\n"
                           "scrub:\n  dedup: none\n  replacement: mask\n"
                           "cluster:\n  k: 1\n  min_cluster_size: 10\n  dim: 16\n  outlier_quantile: 0.95\n"
                           "select:\n  model_paths: [work/pretrain]\n  probe: false\n  min_cluster_calls: 10\n  context_headroom: 1.0\n"
                           "finetune:\n  device: cpu\n  dtype: fp32\n  lr: 0.01\n  max_steps: 2\n  batch_size: 8\n  eval_every: 100\n  lora_dropout: 0\n  multi_adapter: true\n"
                           "eval:\n  device: cpu\n  max_new_tokens: 24\n  batch_size: 16\n  compare_base: false\n"
                           "retrain:\n  min_new_calls: 20\n  promote_margin: 0.05\n  drift_outlier_share: 0.2\n  recluster: auto\n");
  const std::string pipeline = d + "/pipeline.yaml";
  slmify_cli("run " + pipeline + " -q", 0);
  const std::set<std::string> held = held_out_ids(tmp / "work" / "cluster");

  // A new task in the same words (the tiny tokenizer was trained on the first task's calls): routing
  // invoice questions, always to the billing queue, which the base never answers.
  static const char* items[] = {"jacket", "tent", "boots", "charger", "screen", "parcel", "invoice", "battery"};
  std::string lines;
  for (int i = 0; i < 60; ++i)
    lines += log_line("Route the invoice question to a queue. Reply with one JSON object.",
                      "Invoice " + std::to_string(5000 + i) + " for my " + items[rng() % 8] + " is wrong",
                      R"({"status": "received", "queue": "billing"})", 200000 + i)
                 .dump() +
             "\n";
  append(tmp / "logs" / "calls.jsonl", intake_lines(rng, 100, 40) + lines);
  slmify_test::CommandResult c1 = slmify_cli("retrain " + pipeline + " --json --set cluster.k=2 --set finetune.max_steps=60", 0);
  json r1 = report_of(c1.out);
  INFO(r1.dump(1));
  CHECK(r1["outcome"] == "promoted");
  CHECK(r1["drift"]["drift"] == true);
  REQUIRE(r1.contains("recluster"));
  CHECK(r1["recluster"]["clusters"] == 2);
  CHECK(r1["recluster"]["replaceable_share"].get<double>() > r1["recluster"]["serving_replaceable_share"].get<double>());
  json adapters = json::parse(read_file(tmp / "work" / "registry" / "serving" / "adapters.json"));
  CHECK(adapters["adapters"].size() == 2);
  json router = json::parse(read_file(tmp / "work" / "registry" / "serving" / "router" / "router.json"));
  int on_slm = 0;
  for (const json& c : router["clusters"]) on_slm += c.value("route", "") == "slm";
  CHECK(on_slm == 2);
  // Held out for ever, also across a re-clustering; and the next cycle places calls in the new clusters.
  json state = json::parse(read_file(tmp / "work" / "retrain" / "state.json"));
  CHECK(state["clusters_dir"].get<std::string>().find("cycle-0001/redata") != std::string::npos);
  check_still_held_out(state["data"].get<std::string>(), held);
}
