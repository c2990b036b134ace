// `slmify finetune` end to end on a small structured task made here: a tiny model (made by
// `slmify model init`, then briefly pre-trained with method full to classify requests) learns
// with LoRA a changed keyword -> intent mapping on held-out calls (exact match from 0 to high); a run killed with SIGKILL and
// resumed ends with the same adapter bytes and losses as an uninterrupted one; several clusters
// train in one multi-adapter job; skipped calls and clusters are counted and explained.
#include <catch2/catch.hpp>

#ifdef SLMIFY_HAVE_TORCH
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <random>
#include <thread>

#include "../core/test_util.h"
#include "model/chat_template.h"
#include "model/model.h"

using namespace slmify;
using namespace slmify_test;

namespace {

const char* kSystem = "Classify the request.";
const std::vector<std::string> kIntents = {"refund", "cancel", "track", "upgrade"};

struct Call {
  std::string user;
  int intent = 0;
};

std::vector<Call> make_calls(int n, uint64_t seed) {
  const std::vector<std::string> filler = {"please", "hello", "order", "my", "the", "account", "today", "thanks", "quick",
                                           "question", "about", "item", "help", "need", "soon", "again", "store", "box"};
  std::mt19937_64 r(seed);
  std::vector<Call> v;
  for (int i = 0; i < n; ++i) {
    Call c;
    c.intent = int(r() % kIntents.size());
    c.user = kIntents[size_t(c.intent)];
    for (int k = 0; k < 4; ++k) c.user += " " + filler[r() % filler.size()];
    v.push_back(c);
  }
  return v;
}

// OpenAI chat log lines: `answer(c)` is the logged LLM reply; `cluster` tags the agent.
void write_log(const fs::path& file, const std::vector<Call>& calls, const std::function<std::string(const Call&)>& answer,
               const std::string& agent = "router") {
  std::ofstream out(file, std::ios::app);
  int i = 0;
  for (const Call& c : calls) {
    json line = {{"request", {{"model", "gpt-4o-mini"}, {"messages", json::array({{{"role", "system"}, {"content", kSystem}}, {{"role", "user"}, {"content", c.user}}})}}},
                 {"response", {{"id", "c" + std::to_string(i++)}, {"object", "chat.completion"}, {"model", "gpt-4o-mini"},
                               {"choices", json::array({{{"index", 0}, {"message", {{"role", "assistant"}, {"content", answer(c)}}}, {"finish_reason", "stop"}}})},
                               {"usage", {{"prompt_tokens", 20}, {"completion_tokens", 5}}}}},
                 {"timestamp", "2026-11-28T10:00:00Z"}, {"latency_ms", 400}, {"agent", agent}};
    out << line.dump() << "\n";
  }
}

std::string cli(const std::string& args) { return shell_quote(SLMIFY_BINARY) + " " + args; }
std::string q(const fs::path& p) { return shell_quote(p.string()); }

// Exact-match share of greedy answers on held-out calls.
double exact_match(const fs::path& model, const std::string& adapter, const std::vector<Call>& calls,
                   const std::function<std::string(const Call&)>& answer) {
  ModelOptions mo;
  mo.device = "cpu";
  mo.dtype = "fp32";
  mo.adapter = adapter;
  std::unique_ptr<Model> m = model_load(model, mo);
  std::vector<TokenIds> prompts;
  for (const Call& c : calls) {
    json msgs = json::array({{{"role", "system"}, {"content", kSystem}}, {{"role", "user"}, {"content", c.user}}});
    prompts.push_back(chat_encode(m->tokenizer(), chat_render(m->chat_template(), msgs, nullptr, true)).ids);
  }
  GenerateOptions g;
  g.max_new_tokens = 12;
  std::vector<GenerateResult> out = model_generate_batch(*m, prompts, g);
  int ok = 0;
  for (size_t i = 0; i < calls.size(); ++i) ok += out[i].text == answer(calls[i]);
  return double(ok) / double(calls.size());
}

std::string intent_answer(const Call& c) { return "intent: " + kIntents[size_t(c.intent)]; }
// The new task: the agent's policy changed and every keyword now maps to the next intent.
std::string remap_answer(const Call& c) { return "intent: " + kIntents[size_t(c.intent + 1) % kIntents.size()]; }

// The base of these tests: model init on the calls, then 150 steps of full fine-tuning on the
// intent task (what the quick start calls brief pre-training). Made once per test process.
struct Base {
  TempDir tmp;
  fs::path model;
  Base() {
    write_log(tmp / "pre.jsonl", make_calls(200, 1), intent_answer);
    REQUIRE(run_command(cli("-q collect " + q(tmp / "pre.jsonl") + " -o " + q(tmp / "pre"))).status == 0);
    REQUIRE(run_command(cli("-q model init -o " + q(tmp / "init") + " --from " + q(tmp / "pre"))).status == 0);
    REQUIRE(run_command(cli("-q finetune " + q(tmp / "pre") + " --all --base " + q(tmp / "init") + " -o " + q(tmp / "pt") +
                            " --method full --dtype fp32 --max-steps 150 --lr 5e-3 --eval-every 1000 --set threads=2"))
                .status == 0);
    model = tmp / "pt" / "all";
  }
};

Base& base() {
  static Base b;
  return b;
}

}  // namespace

TEST_CASE("finetune: LoRA teaches a tiny model a changed mapping, and held-out exact match rises from 0 to high",
          "[train][torch][slow]") {
  Base& b = base();
  TempDir tmp;
  std::vector<Call> held = make_calls(40, 99);
  CHECK(exact_match(b.model, "", held, intent_answer) > 0.9);  // the pre-trained task
  double before = exact_match(b.model, "", held, remap_answer);
  write_log(tmp / "q.jsonl", make_calls(200, 3), remap_answer);
  REQUIRE(run_command(cli("-q collect " + q(tmp / "q.jsonl") + " -o " + q(tmp / "calls"))).status == 0);
  auto t0 = std::chrono::steady_clock::now();
  REQUIRE(run_command(cli("-q finetune " + q(tmp / "calls") + " --base " + q(b.model) + " -o " + q(tmp / "ft") +
                             " --dtype fp32 --max-steps 40 --lr 1e-2 --lora-rank 16 --lora-dropout 0 --eval-every 1000 --set threads=2"))
              .status == 0);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double after = exact_match(b.model, (tmp / "ft" / "all").string(), held, remap_answer);
  INFO("exact match before " << before << ", after " << after << ", LoRA training " << seconds << " s");
  CHECK(before < 0.05);
  CHECK(after >= 0.9);
  json idx = json::parse(read_bytes(tmp / "ft" / "adapters.json"));
  REQUIRE(idx["adapters"].size() == 1);
  CHECK(idx["adapters"][0]["cluster"].is_null());
  json m = json::parse(read_bytes(tmp / "ft" / "all" / "metrics.json"));
  CHECK(m["steps"] == 40);
  CHECK(m["final_train_loss"].get<double>() < 0.2);
  CHECK(m["tokens_per_s"].get<double>() > 0);
  CHECK(m["peak_memory_mb"].get<double>() > 0);
  CHECK_FALSE(fs::exists(tmp / "ft.partial"));
  // One log line per step.
  std::ifstream log(tmp / "ft" / "all" / "train_log.jsonl");
  int lines = 0;
  for (std::string l; std::getline(log, l);) ++lines;
  CHECK(lines == 40);
}

TEST_CASE("finetune: a run killed with SIGKILL and resumed ends with the same adapter and losses", "[train][torch][slow]") {
  Base& b = base();
  TempDir tmp;
  write_log(tmp / "q.jsonl", make_calls(120, 5), remap_answer);
  REQUIRE(run_command(cli("-q collect " + q(tmp / "q.jsonl") + " -o " + q(tmp / "calls"))).status == 0);
  // Byte-identical resume holds for a given thread count (reductions split by thread): set it
  // explicitly (the top-level `threads` key), so the two runs agree on any machine.
  const std::string args = " --base " + q(b.model) + " --dtype fp32 --max-steps 24 --save-every 4 --eval-every 6 --lora-dropout 0.1 --batch-size 2 --no-packing --set threads=2";
  REQUIRE(run_command(cli("-q finetune " + q(tmp / "calls") + " -o " + q(tmp / "a") + args)).status == 0);

  CommandResult bg = run_command("(" + cli("-q finetune " + q(tmp / "calls") + " -o " + q(tmp / "b") + args) + " >/dev/null 2>&1 & echo $!)");
  pid_t pid = pid_t(std::stol(bg.out));
  fs::path ckpt = tmp / "b.partial" / "job-all" / "checkpoint.safetensors";
  bool killed = false;
  for (int i = 0; i < 6000 && !killed; ++i) {
    if (fs::exists(ckpt)) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  REQUIRE(killed);
  for (int i = 0; i < 500 && ::kill(pid, 0) == 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  CHECK_FALSE(fs::exists(tmp / "b" / "adapters.json"));  // nothing half-written in place
  REQUIRE(run_command(cli("-q finetune " + q(tmp / "calls") + " -o " + q(tmp / "b") + args)).status == 0);
  json ma = json::parse(read_bytes(tmp / "a" / "all" / "metrics.json"));
  json mb = json::parse(read_bytes(tmp / "b" / "all" / "metrics.json"));
  INFO("resumed from step " << mb["resumed_from_step"]);
  CHECK(mb["resumed_from_step"].get<int64_t>() >= 4);
  CHECK(ma["resumed_from_step"] == 0);
  CHECK(read_bytes(tmp / "a" / "all" / "adapter_model.safetensors") == read_bytes(tmp / "b" / "all" / "adapter_model.safetensors"));
  CHECK(ma["final_train_loss"] == mb["final_train_loss"]);
  CHECK(ma["final_eval_loss"] == mb["final_eval_loss"]);
  CHECK(ma["best_step"] == mb["best_step"]);
  // The logs agree line for line on the losses.
  auto losses = [](const fs::path& p) {
    std::vector<double> v;
    std::ifstream in(p);
    for (std::string l; std::getline(in, l);) v.push_back(json::parse(l)["loss"].get<double>());
    return v;
  };
  CHECK(losses(tmp / "a" / "all" / "train_log.jsonl") == losses(tmp / "b" / "all" / "train_log.jsonl"));
}

TEST_CASE("finetune: tool calls train on a model whose template has no tools, and serving uses the template trained with",
          "[train][torch][slow]") {
  // SmolLM2's own template cannot show tools: finetune.chat_template auto falls back to
  // chatml-tools, says so once, writes that template into the adapter, and model_load with the
  // adapter renders with it (eval, generate and route load adapters this way).
  TempDir tmp;
  {
    std::ofstream out(tmp / "tools.jsonl");
    const json tools = json::parse(R"([{"type":"function","function":{"name":"route_ticket","description":"send a ticket to a queue",
        "parameters":{"type":"object","properties":{"queue":{"type":"string"}},"required":["queue"]}}}])");
    std::mt19937_64 r(21);
    for (int i = 0; i < 60; ++i) {
      const std::string queue = kIntents[r() % kIntents.size()];
      json call = {{"id", "t" + std::to_string(i)}, {"type", "function"},
                   {"function", {{"name", "route_ticket"}, {"arguments", json({{"queue", queue}}).dump()}}}};
      json line = {{"request", {{"model", "gpt-4o-mini"}, {"tools", tools},
                                {"messages", json::array({{{"role", "system"}, {"content", "Route the ticket."}},
                                                          {{"role", "user"}, {"content", queue + " request number " + std::to_string(i)}}})}}},
                   {"response", {{"id", "c" + std::to_string(i)}, {"object", "chat.completion"}, {"model", "gpt-4o-mini"},
                                 {"choices", json::array({{{"index", 0}, {"message", {{"role", "assistant"}, {"content", nullptr}, {"tool_calls", json::array({call})}}},
                                                           {"finish_reason", "tool_calls"}}})},
                                 {"usage", {{"prompt_tokens", 40}, {"completion_tokens", 9}}}}},
                   {"timestamp", "2026-11-28T10:00:00Z"}, {"latency_ms", 600}, {"agent", "router"}};
      out << line.dump() << "\n";
    }
  }
  REQUIRE(run_command(cli("-q collect " + q(tmp / "tools.jsonl") + " -o " + q(tmp / "calls"))).status == 0);
  REQUIRE(run_command(cli("-q model init -o " + q(tmp / "base") + " --from " + q(tmp / "calls"))).status == 0);
  json tc = json::parse(read_bytes(tmp / "base" / "tokenizer_config.json"));
  tc["chat_template"] = read_bytes(fs::path(SLMIFY_SOURCE_DIR) / "tests/fixtures/chat_templates/HuggingFaceTB-SmolLM2-135M-Instruct.jinja");
  write_bytes(tmp / "base" / "tokenizer_config.json", tc.dump(2));
  fs::remove(tmp / "base" / "chat_template.jinja");
  ModelOptions plain;
  plain.device = "cpu";
  plain.tokenizer = true;
  REQUIRE(model_load(tmp / "base", plain)->chat_template().name == "smollm2");

  const std::string args = " --base " + q(tmp / "base") + " --dtype fp32 --max-steps 2 --all --set threads=2";
  CommandResult r = run_command(cli("finetune " + q(tmp / "calls") + " -o " + q(tmp / "ft") + args + " 2>" + q(tmp / "err.txt")));
  std::string err = read_bytes(tmp / "err.txt");
  INFO(err);
  REQUIRE(r.status == 0);
  CHECK_THAT(err, Catch::Contains("smollm2") && Catch::Contains("chatml-tools"));
  const fs::path ad = tmp / "ft" / "all";
  json m = json::parse(read_bytes(ad / "metrics.json"));
  CHECK(m["chat_template"] == "chatml-tools");
  CHECK(m["examples"]["train"].get<int64_t>() + m["examples"]["eval"].get<int64_t>() == 60);  // none refused
  CHECK_FALSE(m["examples"].contains("skipped_unrenderable"));
  CHECK(json::parse(read_bytes(ad / kChatTemplateFile))["name"] == "chatml-tools");
  CHECK(chat_template_detect(read_bytes(ad / "chat_template.jinja"), "llama").name == "chatml-tools");
  ModelOptions with = plain;
  with.adapter = ad.string();
  CHECK(model_load(tmp / "base", with)->chat_template().name == "chatml-tools");
  CHECK(model_load(tmp / "base", plain)->chat_template().name == "smollm2");  // the base itself is unchanged

  // Named explicitly, the tool-less template refuses every call, and the run says why.
  r = run_command(cli("finetune " + q(tmp / "calls") + " -o " + q(tmp / "named") + args + " --set finetune.chat_template=smollm2 2>" + q(tmp / "err2.txt")));
  CHECK_THAT(read_bytes(tmp / "err2.txt"), Catch::Contains("cannot show the tools"));
}

TEST_CASE("finetune: clusters train together in one multi-adapter job, skips are counted and explained",
          "[train][torch][slow]") {
  Base& b = base();
  TempDir tmp;
  write_log(tmp / "q.jsonl", make_calls(100, 11), remap_answer);
  REQUIRE(run_command(cli("-q collect " + q(tmp / "q.jsonl") + " -o " + q(tmp / "calls"))).status == 0);
  // Two clusters by hand (the cluster stage's annotations), one too small to train, one call too long.
  {
    REQUIRE(run_command(cli("-q dataset head " + q(tmp / "calls") + " -n 100000 > " + q(tmp / "recs.jsonl"))).status == 0);
    std::ifstream in(tmp / "recs.jsonl");
    std::ofstream out(tmp / "annotated.jsonl");
    int i = 0;
    for (std::string l; std::getline(in, l); ++i) {
      json r = json::parse(l);
      int cluster = i < 3 ? 2 : i % 2;
      r["ann"]["cluster"] = {{"id", cluster}, {"dist", 0.1}};
      r["ann"]["split"] = i % 10 == 0 ? "eval" : "train";
      if (i == 5) r["request"]["messages"][1]["content"] = std::string(3000, 'x');
      out << r.dump() << "\n";
    }
  }
  REQUIRE(run_command(cli("-q dataset import " + q(tmp / "annotated.jsonl") + " -o " + q(tmp / "clustered"))).status == 0);
  CommandResult r = run_command(cli("finetune " + q(tmp / "clustered") + " --base " + q(b.model) + " -o " + q(tmp / "ft") +
                                       " --dtype fp32 --max-steps 6 --multi-adapter --max-length 256 --json 2>" + q(tmp / "err.txt")));
  std::string err = read_bytes(tmp / "err.txt");
  INFO(err);
  REQUIRE(r.status == 0);
  json summary = json::parse(r.out);
  REQUIRE(summary["adapters"].size() == 2);
  json idx = json::parse(read_bytes(tmp / "ft" / "adapters.json"));
  CHECK(idx["adapters"][0]["name"] == "cluster-0");
  CHECK(idx["adapters"][1]["name"] == "cluster-1");
  REQUIRE(idx["skipped"].size() == 1);
  CHECK(idx["skipped"][0]["cluster"] == 2);
  CHECK(idx["skipped"][0]["reason"].get<std::string>().find("min_examples") != std::string::npos);
  CHECK(err.find("longer than max_length 256") != std::string::npos);
  json m0 = json::parse(read_bytes(tmp / "ft" / "cluster-0" / "metrics.json"));
  json m1 = json::parse(read_bytes(tmp / "ft" / "cluster-1" / "metrics.json"));
  CHECK(m0["lora"]["multi_adapter"] == true);
  CHECK(m0["examples"].value("skipped_too_long", 0) + m1["examples"].value("skipped_too_long", 0) == 1);
  CHECK(m0["eval_examples"].get<int64_t>() > 0);
  CHECK(m0["final_eval_loss"].is_number());
  // Each adapter loads on its own and differs from the other.
  CHECK(read_bytes(tmp / "ft" / "cluster-0" / "adapter_model.safetensors") != read_bytes(tmp / "ft" / "cluster-1" / "adapter_model.safetensors"));
  ModelOptions mo;
  mo.adapter = (tmp / "ft" / "cluster-1").string();
  CHECK_NOTHROW(model_load(b.model, mo));

  json acfg = json::parse(read_bytes(tmp / "ft" / "cluster-0" / "adapter_config.json"));
  CHECK(acfg["base_model_name_or_path"] == b.model.string());

  // select's plan decides which clusters train, on which base.
  write_bytes(tmp / "plan.yaml", "version: 1\nclusters:\n"
              "  - {id: 0, decision: finetune, reason: fits, chosen: {model: 'local:pt', path: '" + b.model.string() + "'},"
              " finetune: {lora_rank: 4}}\n"
              "  - {id: 1, decision: llm, reason: too few calls, chosen: {model: '', path: ''}}\n");
  r = run_command(cli("finetune " + q(tmp / "clustered") + " --plan " + q(tmp / "plan.yaml") + " -o " + q(tmp / "fp") +
                      " --dtype fp32 --max-steps 2 --json 2>/dev/null"));
  REQUIRE(r.status == 0);
  json pidx = json::parse(read_bytes(tmp / "fp" / "adapters.json"));
  REQUIRE(pidx["adapters"].size() == 1);
  CHECK(pidx["adapters"][0]["cluster"] == 0);
  CHECK(json::parse(read_bytes(tmp / "fp" / "cluster-0" / "adapter_config.json"))["r"] == 4);
  bool llm_reason = false;
  for (const json& sk : pidx["skipped"]) llm_reason = llm_reason || (sk["cluster"] == 1 && sk["reason"].get<std::string>().find("too few calls") != std::string::npos);
  CHECK(llm_reason);

  // Errors say what and where.
  CommandResult bad = run_command(cli("finetune " + q(tmp / "clustered") + " --base " + q(b.model) + " -o " + q(tmp / "x") + " --clusters 7 2>&1"));
  CHECK(bad.status == 2);
  CHECK(bad.out.find("cluster 7 is not in") != std::string::npos);
  bad = run_command(cli("finetune " + q(tmp / "clustered") + " -o " + q(tmp / "x") + " 2>&1"));
  CHECK(bad.status == 2);
  CHECK(bad.out.find("--base") != std::string::npos);
  bad = run_command(cli("finetune " + q(tmp / "clustered") + " --base " + q(b.model) + " -o " + q(tmp / "x") + " --target-modules lm_head 2>&1"));
  CHECK(bad.status == 2);
  CHECK(bad.out.find("not supported") != std::string::npos);
}

#endif
