// The dataset reader on a damaged dataset: the input is manifest.json, then (after a NUL byte)
// the bytes of its first shard, written under the name the seed manifests use. validate must
// report problems, the reader must throw slmify::Error, neither may crash or read out of bounds.
// Seeds: fuzz/make_seeds.py writes a real dataset in this form.
#include <cstring>
#include <filesystem>

#include "core/dataset.h"
#include "core/dataset_tools.h"
#include "core/error.h"
#include "fuzz_util.h"

using namespace slmify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto dir = slmify_fuzz::scratch() / "ds";
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  const uint8_t* nul = static_cast<const uint8_t*>(std::memchr(data, 0, size));
  size_t msize = nul ? static_cast<size_t>(nul - data) : size;
  std::filesystem::rename(slmify_fuzz::write("manifest.json", data, msize), dir / "manifest.json");
  if (nul) std::filesystem::rename(slmify_fuzz::write("shard", nul + 1, size - msize - 1), dir / "part-00000.jsonl.zst");
  try {
    dataset_validate(dir, 10);
  } catch (const Error&) {
  }
  try {
    DatasetReader r(dir);
    json rec;
    while (r.next(rec)) {
    }
    r.for_each_quarantined([](const json&) {});
  } catch (const Error&) {
  }
  return 0;
}
