// Embedding and clustering throughput of the cluster stage on N calls of the labelled mixture
// (tests/cluster/mixture.h), with the time of each phase next to two baselines measured in the
// same run: reading the dataset alone, and a dense float GEMM of the embedding's size.
// Usage: bench_cluster [CALLS] [k|auto]   (default 100000 auto)
#include <Eigen/Dense>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "../tests/cluster/mixture.h"
#include "cluster/cluster.h"
#include "core/dataset.h"
#include "core/log.h"

using namespace slmify;
namespace fs = std::filesystem;

static double now_s() { return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count(); }

int main(int argc, char** argv) {
  const size_t n = argc > 1 ? std::stoul(argv[1]) : 100000;
  const std::string k = argc > 2 ? argv[2] : "auto";
  log_set_level(LogLevel::warn);
  fs::path dir = fs::temp_directory_path() / ("slmify-bench-cluster-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  std::vector<int> labels;
  {
    WriterOptions wo;
    wo.stage = "import";
    DatasetWriter w(dir / "in", wo);
    for (const json& c : slmify_test::mixture(n, 2026, labels)) w.write(c);
    w.commit();
  }
  double t = now_s();
  size_t read = 0;
  {
    DatasetReader r(dir / "in");
    json rec;
    while (r.next(rec)) ++read;
  }
  double read_s = now_s() - t;
  Eigen::MatrixXf a = Eigen::MatrixXf::Random(static_cast<Eigen::Index>(n), 266), b = Eigen::MatrixXf::Random(266, 266);
  t = now_s();
  Eigen::MatrixXf c = a * b;
  double gemm_s = now_s() - t;
  double gflops = 2.0 * double(n) * 266 * 266 / gemm_s / 1e9;

  PipelineConfig cfg;
  cfg.cluster.k = k == "auto" ? AutoInt{true, 0} : AutoInt{false, std::stol(k)};
  cfg.cluster.k_min = 2;
  cfg.cluster.k_max = 16;
  t = now_s();
  json s = cluster_run(cfg, {{(dir / "in").string()}, (dir / "out").string()}, {});
  double total = now_s() - t;
  std::vector<int> got;
  {
    DatasetReader r(dir / "out");
    json rec;
    while (r.next(rec)) got.push_back(rec["ann"]["cluster"]["id"].get<int>());
  }
  std::printf("calls %zu, k %s -> %d clusters\n", n, k.c_str(), s["clusters"].get<int>());
  std::printf("baseline: read the dataset      %7.2f s  (%.0f calls/s)\n", read_s, double(read) / read_s);
  std::printf("baseline: dense GEMM %zux266x266 %6.2f s  (%.1f GFLOP/s, Eigen without BLAS)\n", n, gemm_s, gflops);
  for (auto it = s["seconds"].begin(); it != s["seconds"].end(); ++it)
    std::printf("phase %-22s %7.2f s  (%.2fx the read)\n", it.key().c_str(), it.value().get<double>(), it.value().get<double>() / read_s);
  std::printf("total                          %7.2f s  (%.2fx the read)\n", total, total / read_s);
  std::printf("NMI against the task labels    %7.3f\n", slmify_test::nmi(got, labels));
  (void)c;
  fs::remove_all(dir);
  return 0;
}
