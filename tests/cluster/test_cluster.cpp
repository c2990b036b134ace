// The cluster stage end to end on a labelled mixture of six task types (tests/cluster/mixture.h):
// NMI against the labels, stability across seeds (ARI), accounting and annotations on every
// record, the eval split, clusters.json and report.html, --assign with outliers, and errors.
#include <catch2/catch.hpp>
#include <set>

#include "../core/test_util.h"
#include "cluster/cluster.h"
#include "core/dataset.h"
#include "core/error.h"
#include "core/fsutil.h"
#include "mixture.h"

using namespace slmify;
using slmify_test::TempDir;
using slmify_test::read_all;
using slmify_test::write_dataset;
namespace fs = std::filesystem;

namespace {


PipelineConfig base_config(int64_t seed) {
  PipelineConfig c;
  c.cluster.k = AutoInt{true, 0};
  c.cluster.k_min = 3;
  c.cluster.k_max = 10;
  c.cluster.dim = 64;
  c.cluster.min_cluster_size = 10;
  c.cluster.seed = seed;
  return c;
}

std::vector<int> cluster_ids(const std::vector<json>& recs) {
  std::vector<int> ids;
  for (const json& r : recs) ids.push_back(r["ann"]["cluster"]["id"].get<int>());
  return ids;
}

}  // namespace

TEST_CASE("cluster finds the six task types of a mixture (NMI >= 0.9) and is stable across seeds", "[cluster]") {
  TempDir tmp;
  std::vector<int> labels;
  write_dataset(tmp / "in", slmify_test::mixture(1200, 42, labels));
  std::vector<std::vector<int>> runs;
  for (int64_t seed : {0, 1, 2}) {
    PipelineConfig c = base_config(seed);
    fs::path out = tmp / ("out" + std::to_string(seed));
    json summary = cluster_run(c, {{(tmp / "in").string()}, out.string()}, {});
    std::vector<json> recs = read_all(out);
    REQUIRE(recs.size() == 1200);
    runs.push_back(cluster_ids(recs));
    double score = slmify_test::nmi(runs.back(), labels);
    INFO("seed " << seed << " summary " << summary.dump());
    CHECK(score >= 0.9);
    // Over-splitting a task is allowed (k: auto may see sub-tasks), merging two is not: every
    // cluster is at least 95% one task.
    CHECK(summary["k"] >= 6);
    std::map<int, std::map<int, int>> by_cluster;
    for (size_t i = 0; i < labels.size(); ++i) ++by_cluster[runs.back()[i]][labels[i]];
    for (auto& [cl, tasks] : by_cluster) {
      int total = 0, top = 0;
      for (auto& [t, count] : tasks) total += count, top = std::max(top, count);
      INFO("cluster " << cl);
      CHECK(top >= 0.95 * total);
    }
    CHECK(summary["in"] == 1200);
    CHECK(summary["out"] == 1200);
  }
  CHECK(slmify_test::ari(runs[0], runs[1]) >= 0.9);
  CHECK(slmify_test::ari(runs[0], runs[2]) >= 0.9);
}

TEST_CASE("every record gets ann.cluster and ann.split and clusters.json and report.html describe the clusters", "[cluster]") {
  TempDir tmp;
  std::vector<int> labels;
  std::vector<json> calls = slmify_test::mixture(600, 7, labels);
  // Seven calls of a seventh kind: too few for a cluster of their own (min_cluster_size 10).
  for (int i = 0; i < 7; ++i) {
    json odd = slmify_test::make_record(i, "Compose a haiku about the number " + std::to_string(i) + " and the sea at night");
    odd["id"] = "odd-" + std::to_string(i);
    odd["ann"] = {{"scrub", {{"redactions", {{"EMAIL", 1}}}}}};
    calls.push_back(odd);
  }
  write_dataset(tmp / "in", calls);
  PipelineConfig c = base_config(0);
  c.cluster.k = AutoInt{false, 7};
  json summary = cluster_run(c, {{(tmp / "in").string()}, (tmp / "out").string()}, {});
  Manifest m = manifest_read(tmp / "out");
  CHECK(m.stage == "cluster");
  CHECK(m.accounting.in == 607);
  CHECK(m.accounting.out == 607);
  CHECK(m.accounting.quarantined == 0);
  CHECK(m.accounting.dropped.empty());
  std::vector<json> recs = read_all(tmp / "out");
  std::map<int, std::pair<int, int>> split;  // id -> (train, eval)
  for (const json& r : recs) {
    REQUIRE(r["ann"]["cluster"]["id"].is_number_integer());
    double dist = r["ann"]["cluster"]["dist"].get<double>();
    CHECK(dist >= -1e-4);
    CHECK(dist <= 2.0001);
    std::string s = r["ann"]["split"];
    REQUIRE((s == "train" || s == "eval"));
    (s == "eval" ? split[r["ann"]["cluster"]["id"]].second : split[r["ann"]["cluster"]["id"]].first)++;
    if (r["id"].get<std::string>().rfind("odd-", 0) == 0)
      CHECK(r["ann"]["scrub"]["redactions"]["EMAIL"] == 1);  // earlier annotations stay
  }
  for (auto& [id, te] : split) {
    INFO("cluster " << id << ": " << te.first << " train, " << te.second << " eval");
    size_t size = size_t(te.first + te.second);
    size_t want = size_t(std::llround(0.1 * double(size)));
    if (want < 5) want = size >= 10 ? 5 : size / 2;
    CHECK(size_t(te.second) == want);
  }
  // The split is seeded by record id: the same calls are held out on a second run.
  cluster_run(c, {{(tmp / "in").string()}, (tmp / "again").string()}, {});
  std::vector<json> again = read_all(tmp / "again");
  for (size_t i = 0; i < recs.size(); ++i) REQUIRE(again[i]["ann"] == recs[i]["ann"]);

  json doc = json::parse(slmify::read_file(tmp / "out" / "clusters.json"));
  CHECK(doc["format"] == "slmify-clusters");
  CHECK(doc["k"] == 7);
  // Clusters smaller than min_cluster_size (10) are `other` (-1), the rest numbered by size.
  size_t kept = 0, in_other = 0;
  for (const json& cen : doc["centroids"]) {
    bool small = cen["size"].get<size_t>() < 10;
    CHECK((cen["cluster"] == -1) == small);
    if (small) in_other += cen["size"].get<size_t>();
    else ++kept;
  }
  CHECK(doc["clusters_kept"] == kept);
  REQUIRE(doc["clusters"].size() == kept + (in_other > 0 ? 1 : 0));
  if (in_other > 0) CHECK(doc["clusters"].back()["size"] == in_other);
  for (size_t i = 1; i < kept; ++i) CHECK(doc["clusters"][i - 1]["size"] >= doc["clusters"][i]["size"]);
  double share = 0;
  for (const json& cl : doc["clusters"]) {
    for (const char* key : {"id", "label", "terms", "templates", "size", "share_calls", "share_tokens", "share_cost", "output_kind",
                            "mean_prompt_tokens", "mean_completion_tokens", "mean_latency_ms", "representatives", "eval_calls"})
      CHECK(cl.contains(key));
    share += cl["share_calls"].get<double>();
    CHECK(cl["representatives"].size() >= 1);
    CHECK_FALSE(cl["label"].get<std::string>().empty());
  }
  CHECK(share == Approx(1.0));
  // The routing task is the only one answering with tool calls; its cluster says so and names its tool.
  bool routing = false;
  for (const json& cl : doc["clusters"])
    if (cl["output_kind"] == "tool_call") {
      routing = true;
      CHECK_THAT(cl["label"].get<std::string>() + " " + cl["terms"].dump(), Catch::Contains("route_ticket"));
      CHECK_THAT(cl["templates"][0]["template"].get<std::string>(), Catch::StartsWith("Ticket #<NUM> from"));
    }
  CHECK(routing);
  std::string html = slmify::read_file(tmp / "out" / "report.html");
  CHECK_THAT(html, Catch::StartsWith("<!DOCTYPE html>"));
  CHECK_THAT(html, !Catch::Contains("<script"));
  CHECK_THAT(html, !Catch::Contains("http://") || Catch::Contains("xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(std::count(html.begin(), html.end(), '\n') > 600);  // one circle per call, and the table
  for (const json& cl : doc["clusters"]) CHECK_THAT(html, Catch::Contains(cl["label"].get<std::string>().substr(0, 10)));
  // The side files are recorded with their checksums.
  for (const char* f : {"clusters.json", "report.html", "centroids.faiss", "embedder.bin"})
    CHECK(m.stats["files"][f] == slmify_test::sha256sum_cmd(tmp / "out" / f));
}

TEST_CASE("assign puts new calls of known tasks into their clusters and flags foreign calls as outliers", "[cluster]") {
  TempDir tmp;
  std::vector<int> labels, new_labels;
  write_dataset(tmp / "in", slmify_test::mixture(900, 5, labels));
  PipelineConfig c = base_config(0);
  c.cluster.k = AutoInt{false, 6};
  cluster_run(c, {{(tmp / "in").string()}, (tmp / "clusters").string()}, {});
  std::vector<int> first = cluster_ids(read_all(tmp / "clusters"));
  std::map<int, int> task_to_cluster;
  for (size_t i = 0; i < first.size(); ++i) task_to_cluster[labels[i]] = first[i];

  std::vector<json> fresh = slmify_test::mixture(300, 99, new_labels, "new");
  for (int i = 0; i < 20; ++i) {  // calls unlike any cluster
    json odd = slmify_test::make_record(i, "Bitte schreibe ein Gedicht über Vulkane, Kometen und Quallen Nummer " + std::to_string(i));
    odd["id"] = "odd-" + std::to_string(i);
    odd["request"]["messages"][0]["content"] = "Du bist ein Dichter aus Hamburg.";
    fresh.push_back(odd);
  }
  write_dataset(tmp / "new", fresh);
  json s = cluster_assign(c, {{(tmp / "new").string()}, (tmp / "assigned").string()}, (tmp / "clusters").string(), {});
  std::vector<json> recs = read_all(tmp / "assigned");
  REQUIRE(recs.size() == 320);
  size_t agree = 0, odd_outliers = 0, known_outliers = 0;
  for (size_t i = 0; i < recs.size(); ++i) {
    const json& a = recs[i]["ann"]["cluster"];
    if (i < 300) {
      agree += a["id"] == task_to_cluster[new_labels[i]];
      known_outliers += a.value("outlier", false);
    } else {
      odd_outliers += a.value("outlier", false) && a["id"] == -1;
    }
  }
  CHECK(agree >= 290);          // known tasks land in their clusters (a few may be outliers: quantile 0.99)
  CHECK(known_outliers <= 10);
  CHECK(odd_outliers == 20);    // the foreign calls are all outliers
  json doc = json::parse(slmify::read_file(tmp / "assigned" / "assignment.json"));
  CHECK(doc["outliers"].get<size_t>() == known_outliers + odd_outliers);
  CHECK(s["mode"] == "assign");
  Manifest m = manifest_read(tmp / "assigned");
  CHECK(m.inputs.size() == 2);
  CHECK(m.inputs[1].digest == manifest_read(tmp / "clusters").digest);

  // --assign needs a cluster directory, intact.
  Error e1 = slmify_test::expect_error([&] { cluster_assign(c, {{(tmp / "new").string()}, (tmp / "x").string()}, (tmp / "in").string(), {}); });
  CHECK(e1.code() == ExitCode::usage);
  CHECK_THAT(e1.problems()[0].what, Catch::Contains("not the clusters"));
  slmify_test::flip_byte(tmp / "clusters" / "centroids.faiss", 40);
  Error e2 = slmify_test::expect_error([&] { cluster_assign(c, {{(tmp / "new").string()}, (tmp / "x").string()}, (tmp / "clusters").string(), {}); });
  CHECK(e2.code() == ExitCode::bad_data);
  CHECK_THAT(e2.problems()[0].where, Catch::Contains("centroids.faiss"));
  CHECK_FALSE(fs::exists(tmp / "x"));
}

TEST_CASE("cluster: clear errors and a failed run leaves the previous output as it was", "[cluster]") {
  TempDir tmp;
  std::vector<int> labels;
  write_dataset(tmp / "in", slmify_test::mixture(40, 1, labels));
  PipelineConfig c = base_config(0);
  c.cluster.embedding = "model";
  c.cluster.embedding_model = "/nowhere";
  Error e = slmify_test::expect_error([&] { cluster_run(c, {{(tmp / "in").string()}, (tmp / "out").string()}, {}); });
#ifdef SLMIFY_HAVE_TORCH
  CHECK(e.code() == ExitCode::io);  // the model directory is named; nothing is written
  CHECK(e.problems()[0].where.find("/nowhere") != std::string::npos);
#else
  CHECK(e.code() == ExitCode::unavailable);  // built without libtorch: no encoder at all
#endif
  CHECK_FALSE(fs::exists(tmp / "out"));
  c.cluster.embedding_model = "";
  e = slmify_test::expect_error([&] { cluster_run(c, {{(tmp / "in").string()}, (tmp / "out").string()}, {}); });
  CHECK(e.code() == ExitCode::usage);
  CHECK(e.problems()[0].where == "cluster.embedding_model");
  CHECK_FALSE(e.problems()[0].hint.empty());

  c = base_config(0);
  c.cluster.k = AutoInt{false, 41};
  e = slmify_test::expect_error([&] { cluster_run(c, {{(tmp / "in").string()}, (tmp / "out").string()}, {}); });
  CHECK(e.code() == ExitCode::usage);
  CHECK(e.problems()[0].where == "cluster.k");
  CHECK_THAT(e.problems()[0].what, Catch::Contains("only 40 calls"));

  write_dataset(tmp / "empty", {});
  e = slmify_test::expect_error([&] { cluster_run(base_config(0), {{(tmp / "empty").string()}, (tmp / "out").string()}, {}); });
  CHECK(e.code() == ExitCode::nothing_to_do);

  // An output that is a directory but not a dataset is refused before any work.
  fs::create_directories(tmp / "notes");
  slmify_test::write_bytes(tmp / "notes" / "keep.txt", "mine");
  e = slmify_test::expect_error([&] { cluster_run(base_config(0), {{(tmp / "in").string()}, (tmp / "notes").string()}, {}); });
  CHECK(e.code() == ExitCode::io);
  CHECK(slmify_test::read_bytes(tmp / "notes" / "keep.txt") == "mine");

  // A run that fails part-way (here: the input changes under it) leaves the old output intact and no temporary directory.
  cluster_run(base_config(0), {{(tmp / "in").string()}, (tmp / "out").string()}, {});
  std::string digest = manifest_read(tmp / "out").digest;
  PipelineConfig bad = base_config(0);
  bad.cluster.k = AutoInt{false, 3};
  bad.dataset.shard_records = 1;
  fs::rename(tmp / "in", tmp / "in-moved");
  e = slmify_test::expect_error([&] { cluster_run(bad, {{(tmp / "in").string()}, (tmp / "out").string()}, {}); });
  CHECK(e.code() == ExitCode::io);
  CHECK(manifest_read(tmp / "out").digest == digest);
  CHECK(fs::exists(tmp / "out" / "clusters.json"));
  for (const auto& entry : fs::directory_iterator(tmp.path())) CHECK(entry.path().filename().string().find(".tmp-") == std::string::npos);
}
