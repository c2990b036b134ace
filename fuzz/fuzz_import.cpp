// One log line through everything collect does with it in memory: the guarded JSON parse, format
// detection, each importer (OpenAI chat and fine-tuning, Anthropic, OTLP) and the record schema
// check with the content id. Seeds: examples/formats/, one line per file.
#include "collect/importers.h"
#include "core/record.h"
#include "fuzz_util.h"

using namespace slmify;

static void take(Imported&& im) {
  PreparedRecord p = record_prepare(im.record);
  if (p.problem.empty() && p.line.empty()) __builtin_trap();  // a valid record is always serialised
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  json v;
  std::string err;
  if (!utf8_valid(text) || json_parse_guarded(text, v, err, 256) != JsonFault::none) return 0;
  record_check(v);  // any JSON value: the checker must say what is wrong, never fail itself
  InputFormat fmt;
  try {
    if (!input_format_detect(v, fmt)) return 0;
  } catch (const json::exception&) {  // collect quarantines these ("unknown shape")
    return 0;
  }
  try {
    if (fmt == InputFormat::otel) {
      std::map<std::string, std::pair<std::string, std::string>> parents;
      otel_collect_parents(v, parents);
      OtelSkipped skipped;
      import_otel(v, parents, take, [](const std::string&, const std::string&) {}, skipped);
    } else {
      for (auto importer : {&import_openai_chat, &import_openai_ft, &import_anthropic}) {
        try {
          take(importer(v));
        } catch (const ImportError&) {
        }
      }
    }
  } catch (const ImportError&) {
  } catch (const json::exception&) {  // collect's handle_otel quarantines these
  }
  return 0;
}
