// The tokenizer.json loaders (byte-level BPE, WordPiece) on any text, then encode and decode of a
// fixed text with whatever loaded. Seeds: fuzz/make_seeds.py writes tokenizers with the HF
// `tokenizers` package.
#include <filesystem>

#include "core/error.h"
#include "fuzz_util.h"
#include "model/tokenizer.h"

using namespace slmify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto dir = slmify_fuzz::scratch() / "tok";
  std::filesystem::create_directories(dir);
  std::filesystem::rename(slmify_fuzz::write("tokenizer.json", data, size), dir / "tokenizer.json");
  try {
    auto tok = tokenizer_load(dir);
    auto ids = tok->encode("Hello, world! 123 <|im_start|>user\ncafé 東京", true);
    (void)tok->decode(ids);
  } catch (const Error&) {
  }
  return 0;
}
