// eval end to end through the command line, with real models: two tasks, one learnable (every
// answer is the same JSON object) and one not (each answer is random words, unrelated to the
// prompt). cluster -> model init -> finetune (LoRA) -> eval must mark exactly the first cluster
// replaceable, and `slmify route` must send the held-out requests as eval predicted.
// [torch][slow]: trains and generates on the CPU.
#include <catch2/catch.hpp>
#include <random>

#include "../core/test_util.h"
#include "core/dataset.h"
#include "core/fsutil.h"

using namespace slmify;
using slmify_test::TempDir;
namespace fs = std::filesystem;

namespace {

json learnable_call(std::mt19937_64& rng, int i) {
  static const char* items[] = {"jacket", "tent", "boots", "charger", "screen", "parcel", "invoice", "battery"};
  std::string ticket = std::string("Ticket ") + std::to_string(1000 + i) + ": my " + items[rng() % 8] + " is " + (rng() % 2 ? "late" : "broken");
  return {{"id", "learn-" + std::to_string(i)},
          {"source", {{"format", "openai-chat"}, {"agent", "intake"}}},
          {"hci", false},
          {"status", "ok"},
          {"request", {{"model", "gpt-4o-mini"},
                       {"messages", json::array({{{"role", "system"}, {"content", "Acknowledge the ticket. Reply with one JSON object."}},
                                                 {{"role", "user"}, {"content", ticket}}})}}},
          {"response", {{"content", R"({"status": "received", "queue": "support"})"}, {"finish_reason", "stop"}}},
          {"usage", {{"prompt_tokens", 30}, {"completion_tokens", 12}}},
          {"latency_ms", 800},
          {"cost_usd", 0.0004}};
}

json random_call(std::mt19937_64& rng, int i) {
  // 64 made-up words: two random sequences of twelve have a mean ROUGE-L of 0.12 (rouge-score, 2,000 pairs).
  static const char* head[] = {"ka", "lo", "mi", "nu", "pe", "ra", "si", "to"};
  static const char* tail[] = {"bar", "den", "fis", "gol", "han", "jek", "mur", "zon"};
  auto words = [&](int n) {
    std::string s;
    for (int k = 0; k < n; ++k) s += (k ? " " : "") + std::string(head[rng() % 8]) + tail[rng() % 8];
    return s;
  };
  return {{"id", "rand-" + std::to_string(i)},
          {"source", {{"format", "openai-chat"}, {"agent", "muse"}}},
          {"hci", false},
          {"status", "ok"},
          {"request", {{"model", "gpt-4o-mini"},
                       {"messages", json::array({{{"role", "system"}, {"content", "Free-associate twelve words."}},
                                                 {{"role", "user"}, {"content", "Begin with " + words(2) + "."}}})}}},
          {"response", {{"content", words(12)}, {"finish_reason", "stop"}}},
          {"usage", {{"prompt_tokens", 20}, {"completion_tokens", 16}}},
          {"latency_ms", 1500},
          {"cost_usd", 0.0006}};
}

slmify_test::CommandResult slmify_cli(const std::string& args) {
  slmify_test::CommandResult r = slmify_test::run_command(std::string(SLMIFY_BINARY) + " " + args + " 2>&1");
  INFO("slmify " << args << "\n" << r.out);
  REQUIRE(r.status == 0);
  return r;
}

}  // namespace

TEST_CASE("eval end to end: of a learnable and an unlearnable task only the first is replaceable", "[eval][torch][slow]") {
  TempDir tmp;
  std::mt19937_64 rng(11);
  {
    WriterOptions wo;
    wo.stage = "import";
    DatasetWriter w(tmp / "calls", wo);
    for (int i = 0; i < 160; ++i) REQUIRE(w.write(i % 2 ? learnable_call(rng, i) : random_call(rng, i)));
    w.commit();
  }
  const std::string d = tmp.path().string();
  slmify_cli("cluster " + d + "/calls -o " + d + "/clusters --k 2 --min-cluster-size 10 --dim 16 -q");
  slmify_cli("model init -o " + d + "/model --from " + d + "/calls --size tiny");
  slmify_cli("finetune " + d + "/clusters --base " + d + "/model -o " + d + "/finetune --device cpu --dtype fp32 --multi-adapter --lr 0.005 --max-steps 60 "
             "--batch-size 8 --eval-every 100 -q");
  slmify_cli("eval " + d + "/clusters " + d + "/finetune -o " + d + "/eval --device cpu --max-new-tokens 24 --batch-size 16 -q");

  json report = json::parse(read_file(tmp / "eval" / "report.json"));
  int learnable = -2, unlearnable = -2;
  for (const json& c : report["clusters"]) {
    INFO(c.dump(1));
    if (c["output_kind"] == "json") learnable = c["id"];
    if (c["output_kind"] == "text" && c["id"] != -1) unlearnable = c["id"];
  }
  REQUIRE(learnable >= 0);
  REQUIRE(unlearnable >= 0);
  for (const json& c : report["clusters"]) {
    INFO(c.dump(1));
    if (c["id"] == learnable) CHECK(c["replaceable"] == true);
    if (c["id"] == unlearnable) CHECK(c["replaceable"] == false);
    if (c["id"] == learnable && c["base"].is_object()) CHECK(c["gain"].get<double>() > 0);
  }
  CHECK(report["totals"]["share_calls"].get<double>() == Approx(0.5));

  // `slmify route` decides the held-out requests as eval predicted.
  std::string requests;
  std::vector<json> predicted;
  std::istringstream routes(read_file(tmp / "eval" / "routes.jsonl"));
  std::map<std::string, json> by_id;
  for (std::string line; std::getline(routes, line);) by_id[json::parse(line)["id"]] = json::parse(line)["predicted"];
  DatasetReader r(tmp / "clusters");
  json rec;
  while (r.next(rec))
    if (rec["ann"]["split"] == "eval") requests += rec["request"].dump() + "\n", predicted.push_back(by_id[rec["id"]]);
  slmify_test::write_bytes(tmp / "requests.jsonl", requests);
  std::istringstream out(slmify_test::run_command(std::string(SLMIFY_BINARY) + " route --json --router " + d + "/eval/router " + d +
                                                  "/requests.jsonl").out);
  size_t n = 0;
  for (std::string line; std::getline(out, line); ++n) {
    json j = json::parse(line);
    j.erase("line");
    CHECK(j["route"] == predicted[n]["route"]);
    CHECK(j["nearest"] == predicted[n]["nearest"]);
    CHECK(j.value("model", "") == predicted[n].value("model", ""));
  }
  CHECK(n == predicted.size());
}
