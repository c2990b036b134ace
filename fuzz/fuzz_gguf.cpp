// The GGUF reader: header, metadata of every type (arrays of arrays included), tensor infos,
// offsets and sizes against the file, and dequantisation of every small tensor. Seeds:
// fuzz/make_seeds.py writes tiny files with llama.cpp's own `gguf` package.
#include "core/error.h"
#include "fuzz_util.h"
#include "model/gguf.h"

using namespace slmify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = slmify_fuzz::write("model.gguf", data, size);
  try {
    GgufFile g(p);
    for (auto& [k, v] : g.metadata()) (void)v.to_json().dump();
    for (const GgufTensorInfo& t : g.tensors()) {
      (void)t.shape();
      if (t.numel() <= (1 << 16)) {
        try {
          (void)g.dequantize(t);
        } catch (const Error&) {  // a type it does not dequantise
        }
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
