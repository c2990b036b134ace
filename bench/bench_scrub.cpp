// scrub's detection pass against a naive baseline measured in the same run: every built-in
// pattern searched on its own over every string (what one would write without RE2::Set), versus
// Detector::find (one RE2::Set pass, then only the rules that can match, validated), on one core
// and on two. Strings are those of the quick-start calls. Run by scripts/bench.
#include <re2/re2.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <thread>

#include "collect/collect.h"
#include "core/dataset.h"
#include "core/fsutil.h"
#include "scrub/detect.h"
#include "scrub/rules.h"

using namespace slmify;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

static double seconds(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

static void strings_of(const json& j, std::vector<std::string>& out) {
  if (j.is_string()) out.push_back(j.get<std::string>());
  else if (j.is_structured())
    for (const json& x : j) strings_of(x, out);
}

int main(int argc, char** argv) {
  double target_mb = argc > 1 ? std::stod(argv[1]) : 50;
  fs::path dir = fs::temp_directory_path() / ("slmify-bench-scrub-" + random_suffix());
  PipelineConfig c;
  collect_run(c, StageIO{{(fs::path(SLMIFY_SOURCE_DIR) / "examples" / "quickstart" / "logs").string()}, (dir / "calls").string()}, Context{});
  std::vector<std::string> base;
  {
    DatasetReader r(dir / "calls");
    json rec;
    while (r.next(rec)) {
      strings_of(rec["request"], base);
      strings_of(rec["response"], base);
    }
  }
  fs::remove_all(dir);
  std::vector<std::string> texts;
  uint64_t bytes = 0;
  while (bytes < target_mb * 1e6)
    for (const std::string& s : base) texts.push_back(s), bytes += s.size();
  double mb = bytes / 1e6;
  std::printf("input: %.1f MB of record text in %zu strings (the quick-start calls, repeated)\n", mb, texts.size());

  // Baseline: each built-in pattern on its own over every string, all matches, no validation.
  std::vector<std::unique_ptr<RE2>> patterns;
  for (const auto& rule : scrub_rules::builtin_rules(scrub_rules::builtin_detector_names()))
    patterns.push_back(std::make_unique<RE2>("(" + rule.pattern + ")"));  // group 1: the whole match
  auto t = clk::now();
  size_t naive_hits = 0;
  for (const std::string& s : texts)
    for (const auto& re : patterns) {
      re2::StringPiece in(s), m;
      while (RE2::FindAndConsume(&in, *re, &m)) {
        ++naive_hits;
        if (m.empty()) {  // an empty match: step over one byte
          if (in.empty()) break;
          in.remove_prefix(1);
        }
      }
    }
  double naive = seconds(t);

  Detector det(c.scrub);
  auto run = [&](unsigned threads) {
    std::vector<size_t> found(threads, 0);
    auto work = [&](unsigned w) {
      for (size_t i = w; i < texts.size(); i += threads) found[w] += det.find(texts[i]).size();
    };
    auto t0 = clk::now();
    std::vector<std::thread> ts;
    for (unsigned w = 1; w < threads; ++w) ts.emplace_back(work, w);
    work(0);
    for (auto& th : ts) th.join();
    size_t n = 0;
    for (size_t f : found) n += f;
    return std::make_pair(seconds(t0), n);
  };
  run(2);  // warm-up: RE2 builds its DFAs lazily, on first use
  auto [one, hits1] = run(1);
  auto [two, hits2] = run(2);
  std::printf("%-58s %8.1f MB/s  (%zu raw matches, %zu patterns)\n", "baseline: each pattern separately, every string, one core",
              mb / naive, naive_hits, patterns.size());
  std::printf("%-58s %8.1f MB/s  %.1fx the baseline  (%zu detections)\n", "Detector::find (RE2::Set, then validated rules), one core",
              mb / one, naive / one, hits1);
  std::printf("%-58s %8.1f MB/s  %.1fx the baseline\n", "Detector::find, two cores", mb / two, naive / two);
  return hits1 == hits2 ? 0 : 1;
}
