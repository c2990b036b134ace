// cluster with `embedding: model` (all-MiniLM-L6-v2 through lib/model's encoder) on the labelled
// mixture: the tasks are found (NMI >= 0.9), the figures next to `hashing` on the same calls are
// printed for docs/cluster.md, and --assign embeds new calls with the same model.
#include <catch2/catch.hpp>

#include <chrono>
#include <cstdio>

#include "../core/test_util.h"
#include "../model/minilm_dir.h"
#include "cluster/cluster.h"
#include "core/dataset.h"
#include "core/fsutil.h"
#include "mixture.h"

using namespace slmify;
using slmify_test::TempDir;
namespace fs = std::filesystem;

#ifdef SLMIFY_HAVE_TORCH

namespace {

std::vector<int> ids_of(const fs::path& dir) {
  std::vector<int> ids;
  DatasetReader r(dir);
  json rec;
  while (r.next(rec)) ids.push_back(rec["ann"]["cluster"]["id"].get<int>());
  return ids;
}

}  // namespace

TEST_CASE("embedding model finds the tasks of the mixture and assigns new calls with the same model", "[cluster][torch][python][slow]") {
  TempDir tmp;
  std::vector<int> labels;
  {
    WriterOptions wo;
    wo.stage = "import";
    DatasetWriter w(tmp / "in", wo);
    for (const json& c : slmify_test::mixture(300, 42, labels)) REQUIRE(w.write(c));
    w.commit();
  }
  PipelineConfig c;
  c.cluster.k = AutoInt{true, 0};
  c.cluster.k_min = 3;
  c.cluster.k_max = 10;
  c.cluster.dim = 64;
  c.cluster.min_cluster_size = 5;
  double nmi[2] = {0, 0}, secs[2] = {0, 0};
  for (int with_model = 0; with_model < 2; ++with_model) {
    c.cluster.embedding = with_model ? "model" : "hashing";
    c.cluster.embedding_model = with_model ? slmify_test::minilm_dir().string() : "";
    fs::path out = tmp / c.cluster.embedding;
    auto t = std::chrono::steady_clock::now();
    json summary = cluster_run(c, {{(tmp / "in").string()}, out.string()}, {});
    secs[with_model] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    nmi[with_model] = slmify_test::nmi(ids_of(out), labels);
    INFO(c.cluster.embedding << ": " << summary.dump());
    CHECK(nmi[with_model] >= 0.9);
  }
  std::fprintf(stderr, "mixture of 300 calls: NMI hashing %.3f in %.1f s, model %.3f in %.1f s\n", nmi[0], secs[0], nmi[1], secs[1]);
  json doc = json::parse(slmify::read_file(tmp / "model" / "clusters.json"));
  CHECK(doc["embedding"]["kind"] == "model");
  CHECK_FALSE(fs::exists(tmp / "model" / "embedder.bin"));
  // The same calls assigned to the model's clusters land where the cluster run put them, but for
  // the farthest few of each cluster (beyond its outlier_quantile), which are flagged instead.
  json a = cluster_assign(c, {{(tmp / "in").string()}, (tmp / "assigned").string()}, (tmp / "model").string(), {});
  std::vector<int> assigned = ids_of(tmp / "assigned"), original = ids_of(tmp / "model");
  REQUIRE(assigned.size() == original.size());
  for (size_t i = 0; i < assigned.size(); ++i)
    if (assigned[i] != -1) CHECK(assigned[i] == original[i]);
  CHECK(a["outliers"].get<int>() <= 15);
}

#endif  // SLMIFY_HAVE_TORCH
