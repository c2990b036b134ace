// lib/model without libtorch (-DSLMIFY_WITH_TORCH=OFF): loading and running models report that
// the backend is missing; configs, tokenizers and chat templates (slmify_hf) still work.
#include "core/error.h"
#include "model/model.h"

namespace slmify {

struct TransformerWeights {};

namespace {
[[noreturn]] void no_torch() {
  throw Error(ExitCode::unavailable, "", "this slmify was built without libtorch, so it cannot run models",
              "rebuild with -DSLMIFY_WITH_TORCH=ON (scripts/bootstrap installs libtorch)");
}
}  // namespace

Model::Model() = default;
Model::~Model() = default;
const Tokenizer& Model::tokenizer() const { no_torch(); }
const ChatTemplate& Model::chat_template() const { no_torch(); }
std::string Model::device() const { no_torch(); }
std::string Model::dtype() const { no_torch(); }
std::vector<int32_t> Model::stop_ids() const { no_torch(); }
std::unique_ptr<Model> model_load(const std::filesystem::path&, const ModelOptions&) { no_torch(); }
std::vector<float> model_logits(Model&, const TokenIds&) { no_torch(); }
MaskedNll model_masked_nll(Model&, const TokenIds&, const std::vector<uint8_t>&) { no_torch(); }
GenerateResult model_generate(Model&, const TokenIds&, const GenerateOptions&, const std::function<void(std::string_view)>&) { no_torch(); }
std::vector<GenerateResult> model_generate_batch(Model&, const std::vector<TokenIds>&, const GenerateOptions&) { no_torch(); }

}  // namespace slmify
