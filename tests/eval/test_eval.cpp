// The eval stage without models: clusters of a labelled mixture (tests/cluster/mixture.h), a
// finetune directory written by hand, and a backend that answers like the LLM for some clusters'
// adapters and wrongly for the others. Checks the decisions, totals and files, that the router
// (in process and `slmify route`) decides as eval predicted, that ClusterAssigner places calls as
// the cluster stage and `cluster --assign` do, the HTML escaping, and the errors.
#include <catch2/catch.hpp>
#include <set>

#include "../cluster/mixture.h"
#include "../core/test_util.h"
#include "cluster/cluster.h"
#include "core/artifact.h"
#include "core/dataset.h"
#include "core/fsutil.h"
#include "eval/eval.h"
#include "eval/report.h"
#include "eval/router.h"

using namespace slmify;
using slmify_test::TempDir;
using slmify_test::read_all;
using slmify_test::write_dataset;
namespace fs = std::filesystem;

namespace {


std::vector<json> read_lines(const fs::path& file) {
  std::vector<json> out;
  std::istringstream in(read_file(file));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(json::parse(line));
  return out;
}

// Decisions agree: the same route, cluster and adapter; distances may differ in the last bits
// (the embedding is computed in batches of different sizes).
bool same_route(json a, json b) {
  if (std::abs(a["dist"].get<double>() - b["dist"].get<double>()) > 1e-3) return false;
  a.erase("dist");
  b.erase("dist");
  return a == b;
}

PipelineConfig cluster_config() {
  PipelineConfig c;
  c.cluster.k = AutoInt{false, 6};
  c.cluster.dim = 64;
  c.cluster.min_cluster_size = 10;
  return c;
}

// A finetune output with an adapter for each cluster in `with`, and `skipped` listed as skipped.
void write_finetune(const fs::path& dir, const std::vector<int>& with, int skipped, const std::string& stage = "finetune") {
  ArtifactWriter w(dir, stage, json::object());
  json adapters = json::array();
  for (int id : with) {
    std::string name = "cluster-" + std::to_string(id);
    fs::create_directories(w.staging_dir() / name);
    slmify_test::write_bytes(w.staging_dir() / name / "adapter_config.json", R"({"peft_type": "LORA"})");
    adapters.push_back({{"cluster", id}, {"name", name}, {"dir", name}, {"method", "lora"}, {"base", "/models/tiny"}, {"metrics", json::object()}});
  }
  json doc = {{"version", 1}, {"base", "/models/tiny"}, {"adapters", adapters},
              {"skipped", json::array({{{"cluster", skipped}, {"reason", "too few training examples"}}})}};
  slmify_test::write_bytes(w.staging_dir() / "adapters.json", doc.dump(2));
  w.commit();
}

// The LLM's answer as a ChatML/Qwen2.5 model writes it.
std::string as_generated(const json& response) {
  std::string s = response.value("content", json()).is_string() ? response["content"].get<std::string>() : "";
  for (const json& tc : response.value("tool_calls", json::array()))
    s += (s.empty() ? "" : "\n") + std::string("<tool_call>\n") +
         json{{"name", tc["function"]["name"]}, {"arguments", json::parse(tc["function"]["arguments"].get<std::string>())}}.dump() +
         "\n</tool_call>";
  return s;
}

// Answers like the LLM with the adapters of clusters in `good`, wrongly otherwise and without an
// adapter; fails the test if it is ever shown a call of the training split.
struct FakeBackend : EvalBackend {
  std::set<int> good;
  std::string adapter;
  std::vector<std::string> loads;
  size_t answered = 0;
  void load(const EvalModelSpec& spec) override {
    adapter = spec.adapter_dir;
    loads.push_back(adapter.empty() ? "base" : fs::path(adapter).filename().string());
  }
  ToolCallFormat tool_call_format() const override { return ToolCallFormat::tags; }
  std::string device() const override { return "fake"; }
  std::map<int, std::set<int64_t>> caps;  // max_new_tokens asked for, per cluster
  std::vector<EvalGeneration> generate(const std::vector<const json*>& records, int64_t max_new_tokens) override {
    std::vector<EvalGeneration> out;
    for (const json* r : records) {
      CHECK((*r)["ann"]["split"] == "eval");
      int cluster = (*r)["ann"]["cluster"]["id"];
      caps[cluster].insert(max_new_tokens);
      bool right = !adapter.empty() && good.count(cluster) && fs::path(adapter).filename() == "cluster-" + std::to_string(cluster);
      EvalGeneration g;
      g.text = right ? as_generated((*r)["response"]) : "I cannot help with that.";
      g.finish_reason = "stop";
      g.seconds = 0.05;
      out.push_back(g);
      ++answered;
    }
    return out;
  }
};

struct Fixture {
  TempDir tmp;
  std::vector<int> labels;
  std::vector<json> records;
  Fixture() {
    write_dataset(tmp / "in", slmify_test::mixture(600, 3, labels));
    cluster_run(cluster_config(), {{(tmp / "in").string()}, (tmp / "clusters").string()}, {});
    records = read_all(tmp / "clusters");
    write_finetune(tmp / "finetune", {0, 1, 2, 3, 4}, 5);
  }
  json run(PipelineConfig c, FakeBackend& b, const std::string& out = "eval") {
    return eval_run_with(c, {{(tmp / "clusters").string(), (tmp / "finetune").string()}, (tmp / out).string()}, {}, b);
  }
};

}  // namespace

TEST_CASE("eval: exactly the clusters whose SLM answers like the LLM are replaceable, with totals and files", "[eval]") {
  Fixture f;
  FakeBackend b;
  b.good = {0, 2, 4};
  PipelineConfig c;
  json summary = f.run(c, b);
  CHECK(summary["replaceable"] == json::array({0, 2, 4}));
  json report = json::parse(read_file(f.tmp / "eval" / "report.json"));
  std::map<int, json> rows;
  for (const json& r : report["clusters"]) rows[r["id"].get<int>()] = r;
  REQUIRE(rows.size() == 7);  // six clusters and other (empty here)
  for (int id : {0, 2, 4}) {
    INFO("cluster " << id);
    CHECK(rows[id]["decision"] == "slm");
    CHECK(rows[id]["slm"][rows[id]["primary_metric"].get<std::string>()] == 1.0);
    CHECK(rows[id]["base"][rows[id]["primary_metric"].get<std::string>()].get<double>() < 0.5);
    CHECK(rows[id]["gain"].get<double>() > 0.5);
    CHECK(rows[id]["examples"].size() >= 1);
  }
  CHECK(rows[1]["decision"] == "llm");
  CHECK(rows[3]["decision"] == "llm");
  CHECK_THAT(rows[3]["reason"].get<std::string>(), Catch::Contains(" < "));
  CHECK(rows[5]["adapter"].is_null());
  CHECK_THAT(rows[5]["reason"].get<std::string>(), Catch::Contains("too few training examples"));
  CHECK(rows[5]["slm"].is_null());

  // Every held-out call of an adapted cluster answered twice (adapter, base), no training call.
  size_t held_out = 0, adapted_held_out = 0;
  double moved_calls = 0, moved_cost = 0, moved_tokens = 0, all_cost = 0;
  for (const json& r : f.records) {
    int id = r["ann"]["cluster"]["id"];
    bool eval = r["ann"]["split"] == "eval";
    held_out += eval;
    adapted_held_out += eval && id >= 0 && id <= 4;
    all_cost += r["cost_usd"].get<double>();
    if (id == 0 || id == 2 || id == 4)
      moved_calls += 1, moved_cost += r["cost_usd"].get<double>(),
          moved_tokens += r["usage"]["prompt_tokens"].get<double>() + r["usage"]["completion_tokens"].get<double>();
  }
  CHECK(b.answered == 2 * adapted_held_out);
  // Each cluster's answers stop at twice its longest training answer + 32 tokens, at most 256.
  std::map<int, int64_t> longest;
  for (const json& r : f.records)
    if (r["ann"]["split"] != "eval")
      longest[r["ann"]["cluster"]["id"].get<int>()] = std::max(longest[r["ann"]["cluster"]["id"].get<int>()],
                                                                  r["usage"]["completion_tokens"].get<int64_t>());
  for (int id = 0; id <= 4; ++id) {
    INFO("cluster " << id << ", longest training answer " << longest[id]);
    CHECK(b.caps[id] == std::set<int64_t>{std::min<int64_t>(256, 2 * longest[id] + 32)});
  }
  CHECK(b.loads.size() == 6);
  CHECK(b.loads.back() == "base");
  const json& t = report["totals"];
  CHECK(t["calls"] == 600);
  CHECK(t["share_calls"].get<double>() == Approx(moved_calls / 600));
  CHECK(t["share_cost"].get<double>() == Approx(moved_cost / all_cost));
  CHECK(t["savings"]["saved_usd"].get<double>() == Approx(moved_cost - moved_tokens * c.eval.slm_cost_per_mtok / 1e6));
  CHECK(t["savings"]["slm_latency_ms_mean"] == 50);
  CHECK(t["savings"]["saved_ms_per_call"].get<double>() > 0);

  // The files, in one artifact.
  ArtifactManifest m = artifact_read(f.tmp / "eval");
  CHECK(m.stage == "eval");
  CHECK(m.inputs.size() == 2);
  CHECK(artifact_verify(f.tmp / "eval", m).empty());
  std::set<std::string> files;
  for (const ArtifactFile& file : m.files) files.insert(file.file);
  for (const char* want : {"report.json", "report.html", "samples.jsonl", "routes.jsonl", "router/router.json", "router/centroids.faiss",
                           "router/embedder.bin", "router/clusters.json"})
    CHECK(files.count(want));
  CHECK(read_lines(f.tmp / "eval" / "samples.jsonl").size() == adapted_held_out);
  CHECK(read_lines(f.tmp / "eval" / "routes.jsonl").size() == held_out);
  std::string html = read_file(f.tmp / "eval" / "report.html");
  CHECK_THAT(html, Catch::Contains("<svg"));
  CHECK_THAT(html, Catch::Contains("failure"));
  CHECK_THAT(html, !Catch::Contains("<script") && !Catch::Contains("src=") && !Catch::Contains("<link"));

  // Routing held-out calls by their requests alone: almost all reach their own cluster's SLM.
  for (int id : {0, 2, 4}) {
    const json& rt = rows[id]["routing"];
    INFO("cluster " << id << ": " << rt.dump());
    CHECK(rt["to_own_slm"].get<double>() >= 0.8 * rt["held_out"].get<double>());
  }
  CHECK(t["routing"]["to_wrong_slm"].get<double>() <= 0.02);
}

TEST_CASE("eval: the router decides every held-out request as eval predicted, in process and by `slmify route`", "[eval]") {
  Fixture f;
  FakeBackend b;
  b.good = {0, 2, 3};
  f.run(PipelineConfig{}, b);
  std::map<std::string, json> predicted;
  for (const json& r : read_lines(f.tmp / "eval" / "routes.jsonl")) predicted[r["id"]] = r["predicted"];
  std::vector<json> requests;
  std::vector<std::string> ids;
  std::string lines;
  for (const json& r : f.records)
    if (r["ann"]["split"] == "eval") requests.push_back(r["request"]), ids.push_back(r["id"]), lines += r["request"].dump() + "\n";
  REQUIRE(requests.size() == predicted.size());
  slmify_test::write_bytes(f.tmp / "requests.jsonl", lines);

  Router router = Router::load(f.tmp / "eval" / "router");
  std::vector<RouteDecision> ds = router.route(requests);
  size_t to_slm = 0;
  for (size_t i = 0; i < ds.size(); ++i) {
    INFO(ids[i] << ": " << route_decision_to_json(ds[i]).dump() << " vs " << predicted[ids[i]].dump());
    CHECK(same_route(route_decision_to_json(ds[i]), predicted[ids[i]]));
    to_slm += ds[i].route == "slm";
  }
  CHECK(to_slm > 0);

  auto r = slmify_test::run_command(std::string(SLMIFY_BINARY) + " route --router " + (f.tmp / "eval" / "router").string() + " --json " +
                                    (f.tmp / "requests.jsonl").string());
  REQUIRE(r.status == 0);
  std::istringstream out(r.out);
  size_t n = 0;
  for (std::string line; std::getline(out, line); ++n) {
    json j = json::parse(line);
    INFO(line);
    CHECK(j["line"] == n + 1);
    j.erase("line");
    CHECK(same_route(j, predicted[ids[n]]));
  }
  CHECK(n == requests.size());
  // The text form names the route and why.
  auto text = slmify_test::run_command(std::string(SLMIFY_BINARY) + " route --router " + (f.tmp / "eval" / "router").string() + " - < " +
                                       (f.tmp / "requests.jsonl").string());
  CHECK(text.status == 0);
  CHECK_THAT(text.out, Catch::Contains("1: ") && Catch::Contains("slm cluster-") && Catch::Contains("is replaceable"));

  // A line that is not a request is refused with its place.
  slmify_test::write_bytes(f.tmp / "bad.jsonl", requests[0].dump() + "\n{\"model\": \"x\"}\n");
  auto bad = slmify_test::run_command(std::string(SLMIFY_BINARY) + " route --router " + (f.tmp / "eval" / "router").string() + " " +
                                      (f.tmp / "bad.jsonl").string() + " 2>&1");
  CHECK(bad.status == 3);
  CHECK_THAT(bad.out, Catch::Contains("bad.jsonl:2") && Catch::Contains("messages"));

  // A changed router file is refused.
  slmify_test::flip_byte(f.tmp / "eval" / "router" / "centroids.faiss", 40);
  Error e = slmify_test::expect_error([&] { Router::load(f.tmp / "eval" / "router"); });
  CHECK(e.code() == ExitCode::bad_data);
  CHECK_THAT(e.problems()[0].where, Catch::Contains("centroids.faiss"));
}

TEST_CASE("eval: --limit bounds the calls per cluster, and too few calls are never judged replaceable", "[eval]") {
  Fixture f;
  FakeBackend b;
  b.good = {0, 1, 2, 3, 4};
  PipelineConfig c;
  c.eval.limit = 3;
  c.eval.compare_base = false;
  json s = f.run(c, b);
  CHECK(b.answered == 15);
  CHECK(s["replaceable"].empty());
  json report = json::parse(read_file(f.tmp / "eval" / "report.json"));
  CHECK_THAT(report["clusters"][1]["reason"].get<std::string>(), Catch::Contains("eval.min_calls"));
  CHECK(report["clusters"][1]["base"].is_null());
  c.eval.min_calls = 3;
  FakeBackend b2;
  b2.good = {0, 1, 2, 3, 4};
  CHECK(f.run(c, b2)["replaceable"] == json::array({0, 1, 2, 3, 4}));
}

TEST_CASE("ClusterAssigner places calls as the cluster stage and `cluster --assign` do", "[eval][cluster]") {
  Fixture f;
  ClusterAssigner a = ClusterAssigner::load(f.tmp / "clusters", true, "clusters");
  std::vector<ClusterAssignment> placed = a.assign(f.records);
  for (size_t i = 0; i < f.records.size(); ++i) {
    INFO(i);
    CHECK(placed[i].nearest == f.records[i]["ann"]["cluster"]["id"]);
    CHECK(std::round(placed[i].dist * 1e4) / 1e4 == Approx(f.records[i]["ann"]["cluster"]["dist"].get<double>()).margin(1.1e-4));
  }
  std::vector<int> labels;
  std::vector<json> fresh = slmify_test::mixture(120, 77, labels, "new");
  json odd = slmify_test::make_record(1, "Bitte schreibe ein Gedicht über Vulkane und Quallen");
  odd["id"] = "odd-1";
  fresh.push_back(odd);
  write_dataset(f.tmp / "new", fresh);
  cluster_assign(cluster_config(), {{(f.tmp / "new").string()}, (f.tmp / "assigned").string()}, (f.tmp / "clusters").string(), {});
  std::vector<json> assigned = read_all(f.tmp / "assigned");
  std::vector<ClusterAssignment> mine = a.assign(fresh);
  size_t outliers = 0;
  for (size_t i = 0; i < fresh.size(); ++i) {
    const json& ann = assigned[i]["ann"]["cluster"];
    INFO(i << " " << ann.dump());
    CHECK(mine[i].id == ann["id"]);
    CHECK(mine[i].outlier == ann.value("outlier", false));
    outliers += mine[i].outlier;
  }
  CHECK(mine.back().outlier);
  CHECK(outliers <= 5);
  // One at a time gives the same as the batch.
  CHECK(a.assign(fresh[3]).row == mine[3].row);
  // A request alone is embedded without the answer's parts.
  json request_only = {{"request", fresh[3]["request"]}};
  CHECK(a.assign(request_only).nearest == mine[3].nearest);
  Error e = slmify_test::expect_error([&] { a.assign(json{{"request", {{"messages", "hi"}}}}); });
  CHECK(e.code() == ExitCode::bad_data);
}

TEST_CASE("eval: report.html escapes everything it shows", "[eval]") {
  CHECK(html_escape("<a href=\"x\">&'</a>") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;&lt;/a&gt;");
  json report = {{"clusters_dir", "<d>"}, {"finetune_dir", "f"}, {"base", "b"},
                 {"totals", {{"calls", 1}, {"clusters", 1}, {"clusters_replaceable", 0}, {"share_calls", 0.0}, {"share_tokens", 0.0},
                             {"share_cost", nullptr}, {"savings", {{"saved_usd", nullptr}, {"llm_cost_usd", nullptr}, {"slm_cost_usd", 0.0},
                                                                   {"slm_cost_per_mtok", 0.05}, {"llm_latency_ms_mean", nullptr},
                                                                   {"slm_latency_ms_mean", nullptr}, {"slm_measured_on", nullptr}}},
                             {"routing", {{"to_slm", 0.0}, {"to_right_slm", 0.0}, {"to_wrong_slm", 0.0}, {"outliers", 0.0}}}}},
                 {"clusters", json::array({{{"id", 0}, {"label", "<script>alert(1)</script>"}, {"output_kind", "text"}, {"share_calls", 1.0},
                                            {"share_tokens", 1.0}, {"eval_calls", 1}, {"evaluated", 1}, {"primary_metric", "rouge_l"},
                                            {"threshold", 0.5}, {"decision", "llm"}, {"reason", "a < b"},
                                            {"routing", {{"to_own_slm", 0}, {"to_another_slm", 0}, {"to_llm", 1}}},
                                            {"examples", json::array({{{"prompt", "<img src=x onerror=alert(1)>"}, {"llm", "</pre><script>"},
                                                                       {"slm", "&amp;"}, {"slm_score", 0.1}}})}}})}};
  std::string html = eval_report_html(report);
  CHECK_THAT(html, !Catch::Contains("<script") && !Catch::Contains("<img"));
  CHECK_THAT(html, Catch::Contains("&lt;script&gt;alert(1)&lt;/script&gt;") && Catch::Contains("&amp;amp;") && Catch::Contains("&lt;d&gt;"));
}

TEST_CASE("eval: wrong inputs are refused before any work, with what to do", "[eval]") {
  Fixture f;
  FakeBackend b;
  PipelineConfig c;
  auto run = [&](std::vector<std::string> in, std::string out) { return eval_run_with(c, {in, out}, {}, b); };
  const std::string clusters = (f.tmp / "clusters").string(), finetune = (f.tmp / "finetune").string(), out = (f.tmp / "e").string();
  Error one = slmify_test::expect_error([&] { run({clusters}, out); });
  CHECK(one.code() == ExitCode::usage);
  CHECK_THAT(one.problems()[0].hint, Catch::Contains("CLUSTER_DIR FINETUNE_DIR"));
  CHECK(slmify_test::expect_error([&] { run({clusters, finetune}, clusters); }).code() == ExitCode::usage);
  Error not_clusters = slmify_test::expect_error([&] { run({(f.tmp / "in").string(), finetune}, out); });
  CHECK(not_clusters.code() == ExitCode::usage);
  CHECK_THAT(not_clusters.problems()[0].where, Catch::Contains("CLUSTER_DIR"));
  CHECK(slmify_test::expect_error([&] { run({clusters, clusters}, out); }).code() == ExitCode::bad_data);
  write_finetune(f.tmp / "plan", {0}, 1, "select");
  Error stage = slmify_test::expect_error([&] { run({clusters, (f.tmp / "plan").string()}, out); });
  CHECK(stage.code() == ExitCode::usage);
  CHECK_THAT(stage.problems()[0].what, Catch::Contains("not of `slmify finetune`"));
  fs::remove_all(f.tmp / "finetune" / "cluster-2");
  Error missing = slmify_test::expect_error([&] { run({clusters, finetune}, out); });
  CHECK(missing.code() == ExitCode::bad_data);  // the manifest lists the adapter's files
  CHECK_FALSE(fs::exists(f.tmp / "e"));
  CHECK(b.answered == 0);
}
