// The pipeline-config loader on any text: YAML errors, wrong types, ranges and unknown keys all
// end in one usage Error with file:line:col; nothing else may escape. Seeds: pipelines/*.yaml.
#include "core/config.h"
#include "core/error.h"
#include "fuzz_util.h"

using namespace slmify;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto p = slmify_fuzz::write("pipeline.yaml", data, size);
  try {
    PipelineConfig c = config_load(p);
    (void)config_to_yaml(c);
    (void)config_to_json(c).dump();
  } catch (const Error&) {
  }
  return 0;
}
