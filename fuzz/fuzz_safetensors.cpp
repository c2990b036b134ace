// The safetensors reader: the 8-byte header length, the JSON header, dtypes, shapes and data
// offsets against the file. Seeds: fuzz/make_seeds.py writes files with the `safetensors` package.
#include "core/error.h"
#include "fuzz_util.h"
#include "model/safetensors.h"

using namespace slmify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = slmify_fuzz::write("model.safetensors", data, size);
  try {
    SafetensorsFile f(p);
    for (auto& [name, t] : f.tensors()) (void)t.numel();
  } catch (const Error&) {
  }
  return 0;
}
