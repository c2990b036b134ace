// collect throughput against a baseline measured in the same run: reading the same files and
// parsing every line with nlohmann::json on one core, converting and writing nothing. Inputs are
// the quick-start logs, made unique and repeated to the requested size. Run by scripts/bench.
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>

#include "collect/collect.h"
#include "collect/input.h"
#include "core/fsutil.h"

using namespace slmify;
namespace fs = std::filesystem;
using clk = std::chrono::steady_clock;

static double seconds(clk::time_point t) { return std::chrono::duration<double>(clk::now() - t).count(); }

int main(int argc, char** argv) {
  double target_mb = argc > 1 ? std::stod(argv[1]) : 100;
  fs::path src = fs::path(SLMIFY_SOURCE_DIR) / "examples" / "quickstart" / "logs";
  fs::path dir = fs::temp_directory_path() / ("slmify-bench-collect-" + random_suffix());
  fs::create_directories(dir / "in");
  // Uncompressed lines of the quick-start logs, each copy made a new call by a changed first message.
  std::vector<std::string> lines;
  for (const InputFile& f : input_expand({src.string()})) {
    LineReader r(f, 64u << 20);
    std::string line;
    while (r.next(line) == LineReader::Status::line)
      if (line.find("\"content\":\"") != std::string::npos && json::accept(line)) lines.push_back(line);
  }
  uint64_t bytes = 0;
  for (int copy = 0, file = 0; bytes < target_mb * 1e6; ++copy) {
    std::ofstream out(dir / "in" / ("part-" + std::to_string(file++) + ".jsonl"));
    for (const std::string& l : lines) {
      std::string u = l;
      size_t p = u.find("\"content\":\"");  // the first message: a new call for every copy
      u.insert(p + 11, "[copy " + std::to_string(copy) + "] ");
      out << u << '\n';
      bytes += u.size() + 1;
    }
  }
  double mb = bytes / 1e6;
  std::printf("input: %.1f MB of JSON Lines (the quick-start gateway and planner logs, %zu lines a copy)\n", mb, lines.size());

  auto t = clk::now();
  size_t parsed = 0;
  for (const InputFile& f : input_expand({(dir / "in").string()})) {
    LineReader r(f, 64u << 20);
    std::string line;
    while (r.next(line) == LineReader::Status::line) parsed += json::parse(line).size();
  }
  double base = seconds(t);

  PipelineConfig c;
  t = clk::now();
  c.threads = 1;
  collect_run(c, StageIO{{(dir / "in").string()}, (dir / "out1").string()}, Context{});
  double one = seconds(t);
  t = clk::now();
  c.threads = 2;
  collect_run(c, StageIO{{(dir / "in").string()}, (dir / "out2").string()}, Context{});
  double two = seconds(t);
  fs::remove_all(dir);

  std::printf("%-52s %8.1f MB/s\n", "baseline: read + json::parse every line, one core", mb / base);
  std::printf("%-52s %8.1f MB/s  %.2fx of baseline\n", "collect, one reader thread (+ the writer)", mb / one, base / one);
  std::printf("%-52s %8.1f MB/s  %.2fx of baseline\n", "collect, two reader threads (+ the writer)", mb / two, base / two);
  return parsed > 0 ? 0 : 1;
}
