// The collect stage on one input file: compression sniffing (gzip, zstd), line reading with its
// limits, multi-line documents and arrays, importers, quarantine and the dataset writer. The
// accounting identity must hold for every input. Seeds: examples/formats/ (and gzip/zstd copies).
#include <filesystem>

#include "collect/collect.h"
#include "core/dataset.h"
#include "core/error.h"
#include "fuzz_util.h"

using namespace slmify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto in = slmify_fuzz::write("in.jsonl", data, size);
  auto out = slmify_fuzz::scratch() / "out";
  std::filesystem::remove_all(out);
  PipelineConfig c;
  c.collect.max_line_mb = 1;
  c.threads = 1;
  try {
    json s = collect_run(c, StageIO{{in.string()}, out.string()}, Context{});
    uint64_t dropped = 0, by_reason = 0;
    for (auto& [k, n] : s["dropped"].items()) dropped += n.get<uint64_t>();
    for (auto& [k, n] : s["quarantined_by_reason"].items()) by_reason += n.get<uint64_t>();
    if (s["in"].get<uint64_t>() != s["out"].get<uint64_t>() + dropped + s["quarantined"].get<uint64_t>()) __builtin_trap();
    if (by_reason != s["quarantined"].get<uint64_t>()) __builtin_trap();
    DatasetReader r(out);  // what was written reads back, records and quarantine
    json rec;
    uint64_t n = 0;
    while (r.next(rec)) ++n;
    if (n != s["out"].get<uint64_t>()) __builtin_trap();
    r.for_each_quarantined([](const json&) {});
  } catch (const Error&) {
  }
  return 0;
}
